"""Renditions from the translate service validate against the published story JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from wirewatch_common.story import RenditionStatus, Story
from wirewatch_translate.engine import Engine
from wirewatch_translate.models import install_from_path
from wirewatch_translate.testpackages import build_test_packages
from wirewatch_translate.translator import StoryTranslator

pytestmark = pytest.mark.integration

SCHEMA = Path(__file__).resolve().parents[1] / "deploy" / "schemas" / "story.schema.json"
WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def test_translated_unavailable_and_failed_renditions_match_the_schema(tmp_path):
    build_test_packages(tmp_path / "archives", [("en", "ar")])  # TEST package: meaningless output
    install_from_path(tmp_path / "models", tmp_path / "archives")
    translator = StoryTranslator(Engine(tmp_path / "models"), ["ar", "tr"], clock=lambda: WHEN)
    story = Story.model_validate(
        {
            "id": "ww-contract-1",
            "uri": "urn:test:contract:1",
            "version": 2,
            "firstcreated": WHEN,
            "versioncreated": WHEN,
            "language": "en",
            "headline": "Port strike halts grain exports",
            "summary": "Dockworkers walked out.",
            "body": ["Talks resume on Friday.", "Prices rose 3.5 percent."],
            "subjects": [{"name": "economy", "code": "04000000", "scheme": "medtop"}],
        }
    )
    renditions = [*translator.translate([story]), translator.failed(story, "ar", "RuntimeError: boom")]
    assert sorted((r.language, r.translation.status.value) for r in renditions) == [
        ("ar", "failed"),
        ("ar", "translated"),
        ("tr", "unavailable"),
    ]
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    for rendition in renditions:
        document = json.loads(rendition.to_json())
        validator.validate(document)
        assert document["translation"]["of_version"] == 2 and document["subjects"] == [
            {"name": "economy", "code": "04000000", "scheme": "medtop"}
        ]
        assert Story.from_json(rendition.to_json()) == rendition
    translated = next(r for r in renditions if r.translation.status is RenditionStatus.TRANSLATED)
    assert translated.summary and len(translated.body) == 2
