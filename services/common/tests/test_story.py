from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from wirewatch_common.story import RenditionStatus, Story, Translation, normalize_language, primary_language

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("en", "en"), ("EN-gb", "en-GB"), ("tr_TR", "tr-TR"), ("zh-hant-tw", "zh-Hant-TW"), (" ar ", "ar")],
)
def test_language_tags_are_canonicalised(raw, expected):
    assert normalize_language(raw) == expected


@pytest.mark.parametrize("raw", ["", "english", "e", "en--GB", "12"])
def test_bad_language_tags_are_rejected(raw):
    with pytest.raises(ValueError, match="BCP 47"):
        normalize_language(raw)


def test_primary_language():
    assert primary_language("pt-BR") == "pt"


def test_json_round_trip_keeps_every_field(make_story):
    story = make_story(
        byline="By A. Writer",
        urgency=3,
        subjects=[{"name": "Economy", "code": "04000000", "scheme": "subj"}],
        dateline={"text": "ISTANBUL, Nov 25", "places": [{"name": "Istanbul", "code": "TR"}]},
        provider={"name": "Wirewatch Test Agency"},
    )
    again = Story.from_json(story.to_json())
    assert again == story
    assert again.dateline is not None and again.dateline.places[0].name == "Istanbul"


def test_wire_form_leaves_out_empty_optionals(make_story):
    doc = json.loads(make_story().to_json())
    assert "byline" not in doc and "translation" not in doc
    assert doc["schema_version"] == 1


def test_naive_datetimes_are_rejected(make_story):
    with pytest.raises(ValidationError, match="timezone"):
        make_story(firstcreated=datetime(2026, 1, 1, 12, 0))  # noqa: DTZ001 - the point of the test


def test_version_must_not_predate_first_creation(make_story):
    with pytest.raises(ValidationError, match="earlier than firstcreated"):
        make_story(versioncreated=datetime(2020, 1, 1, tzinfo=UTC))


def test_original_needs_text(make_story):
    with pytest.raises(ValidationError, match="headline or body"):
        make_story(headline=" ", body=[])


@pytest.mark.parametrize("bad_id", ["", "has space", "../etc/passwd", "x" * 200])
def test_story_ids_are_safe_for_urls_and_keys(make_story, bad_id):
    with pytest.raises(ValidationError):
        make_story(id=bad_id)


def _translation(**fields) -> Translation:
    base = {
        "of_id": "ww-test-0001",
        "of_version": 1,
        "source_language": "en",
        "target_language": "ar",
        "status": "translated",
        "package": "translate-en_ar",
        "package_version": "1.0",
        "translated_at": datetime(2026, 11, 25, 9, 31, tzinfo=UTC),
    }
    return Translation.model_validate(base | fields)


def test_rendition_keeps_story_id_and_gets_its_own_document_id(make_story):
    rendition = make_story(language="ar", headline="عنوان", translation=_translation())
    original = make_story()
    assert rendition.is_rendition and not original.is_rendition
    assert rendition.id == original.id
    assert rendition.document_id != original.document_id


def test_rendition_must_name_its_own_story(make_story):
    with pytest.raises(ValidationError, match="keeps its story's id"):
        make_story(language="ar", translation=_translation(of_id="another-story"))


def test_rendition_language_must_match_target(make_story):
    with pytest.raises(ValidationError, match="target_language"):
        make_story(language="tr", translation=_translation())


def test_unavailable_rendition_may_be_empty(make_story):
    rendition = make_story(
        language="tr",
        headline="",
        body=[],
        translation=_translation(target_language="tr", status="unavailable", error="no en→tr package"),
    )
    assert rendition.translation is not None
    assert rendition.translation.status is RenditionStatus.UNAVAILABLE


def test_translated_rendition_needs_a_headline(make_story):
    with pytest.raises(ValidationError, match="needs a headline"):
        make_story(language="ar", headline="", translation=_translation())


def test_unknown_fields_are_refused(make_story):
    with pytest.raises(ValidationError, match="extra"):
        Story.model_validate(json.loads(make_story().to_json()) | {"bodyy": "typo"})
