"""English for every story, nothing for a canceled one, embargoed ones ahead of time: real tiny TEST packages."""

import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from wirewatch_common.story import QualityFlag, RenditionStatus, Story
from wirewatch_translate.bootstrap import make_engine, make_translator
from wirewatch_translate.engine import Engine
from wirewatch_translate.pending import PendingStore
from wirewatch_translate.settings import TranslateSettings
from wirewatch_translate.translator import CANCELED, StoryTranslator
from wirewatch_translate.worker import record

pytestmark = pytest.mark.integration

WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def _story(**fields):
    base = {
        "id": "ww-ar-1",
        "uri": "urn:test:ar:1",
        "version": 1,
        "firstcreated": WHEN,
        "versioncreated": WHEN,
        "language": "ar",
        "headline": "إضراب في الميناء",
        "summary": "توقفت الصادرات.",
        "body": ["قالت الهيئة إن الصادرات ستستأنف. وتستأنف المحادثات.", "ارتفعت الأسعار."],
    }
    return Story.model_validate(base | fields)


def _turkish(**fields):
    return _story(
        **{
            "id": "ww-tr-1",
            "uri": "urn:test:tr:1",
            "language": "tr",
            "headline": "Limanda grev",
            "summary": None,
            "body": ["Bakan, 2. Dünya Savaşı anmasında konuştu.", "Fiyatlar yükseldi."],
        }
        | fields
    )


def _by(renditions):
    return {(r.id, r.language): r for r in renditions}


def _add_pair(models_dir, like, source, target):
    """Install a copy of a test package under another pair's name (its output stays meaningless)."""
    (original,) = [p for p in models_dir.iterdir() if p.name == f"translate-{like}-test"]
    copy = models_dir / f"translate-{source}_{target}-test"
    shutil.copytree(original, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    (copy / "metadata.json").write_text(json.dumps(meta | {"from_code": source, "to_code": target}))


def test_an_arabic_original_gets_the_english_its_pivot_made(models_dir):
    engine = Engine(models_dir)
    translator = StoryTranslator(engine, ["ar", "tr"], clock=lambda: WHEN)
    done = _by(translator.translate([_story()]))
    assert set(done) == {("ww-ar-1", "tr"), ("ww-ar-1", "en")}
    english, turkish = done[("ww-ar-1", "en")], done[("ww-ar-1", "tr")]
    t = english.translation
    assert t.status is RenditionStatus.TRANSLATED and t.kept_pivot and t.pivot == []
    assert (t.source_language, t.target_language) == ("ar", "en") and english.language == "en"
    assert (t.package, t.package_version, t.test_package) == ("translate-ar_en", "0.0.1-test", True)
    assert t.of_id == "ww-ar-1" and t.of_version == 1 and t.translated_at == WHEN
    assert english.headline and english.summary and len(english.body) == 2
    assert QualityFlag.PIVOT not in t.quality.flags and t.quality.sentences == 5
    assert turkish.translation.pivot == ["en"] and not turkish.translation.kept_pivot
    assert QualityFlag.PIVOT in turkish.translation.quality.flags
    assert Story.from_json(english.to_json()) == english

    # The same text and quality as the first hop alone: the ar→en package asked for English directly.
    direct = StoryTranslator(engine, ["en"], clock=lambda: WHEN).translate([_story()])[0]
    assert (direct.headline, direct.summary, direct.body) == (english.headline, english.summary, english.body)
    assert direct.translation.quality == t.quality and not direct.translation.kept_pivot
    assert {i.pair for i in engine.loaded()} == {("ar", "en"), ("en", "tr")}, "no model time for English"


def test_kept_once_per_story_version_however_many_targets_pivot(models_dir):
    _add_pair(models_dir, "en_tr", "en", "fr")  # a second pivoting target for an Arabic original
    translator = StoryTranslator(Engine(models_dir), ["tr", "fr"], clock=lambda: WHEN)
    stories = [_story(), _story(version=2), _story(id="ww-ar-2"), _turkish()]
    done = translator.translate(stories)
    kept = sorted((r.id, r.version) for r in done if r.language == "en")
    assert kept == [("ww-ar-1", 1), ("ww-ar-1", 2), ("ww-ar-2", 1), ("ww-tr-1", 1)]
    assert all(r.translation.kept_pivot for r in done if r.language == "en")
    assert sorted((r.id, r.version, r.language) for r in done if r.language != "en") == [
        ("ww-ar-1", 1, "fr"),
        ("ww-ar-1", 1, "tr"),
        ("ww-ar-1", 2, "fr"),
        ("ww-ar-1", 2, "tr"),
        ("ww-ar-2", 1, "fr"),
        ("ww-ar-2", 1, "tr"),
        ("ww-tr-1", 1, "fr"),
    ]


def test_a_turkish_original_gets_english_from_its_arabic_route(models_dir):
    translator = StoryTranslator(Engine(models_dir), ["ar", "tr"], clock=lambda: WHEN)
    done = _by(translator.translate([_turkish()]))
    assert set(done) == {("ww-tr-1", "ar"), ("ww-tr-1", "en")}
    kept = done[("ww-tr-1", "en")].translation
    assert kept.kept_pivot and kept.package == "translate-tr_en" and kept.source_language == "tr"


def test_no_kept_english_when_english_is_a_target_the_original_or_the_setting_is_off(models_dir):
    engine = Engine(models_dir)
    with_english = StoryTranslator(engine, ["en", "tr"], clock=lambda: WHEN).translate([_story()])
    assert sorted(r.language for r in with_english) == ["en", "tr"]
    assert not any(r.translation.kept_pivot for r in with_english), "the target's own rendition serves"
    english = _story(
        id="ww-en-1", language="en", headline="Port strike", summary=None, body=["Talks resume."]
    )
    assert sorted(r.language for r in StoryTranslator(engine, ["ar", "tr"]).translate([english])) == [
        "ar",
        "tr",
    ]

    settings = TranslateSettings(_env_file=None, model_dir=models_dir, translate_keep_pivot=False)
    off = make_translator(settings, make_engine(settings))
    assert [r.language for r in off.translate([_story()])] == ["tr"]
    assert make_translator(TranslateSettings(_env_file=None, model_dir=models_dir), engine).keep_pivot


def test_english_is_kept_when_the_second_hop_fails(install):
    models = install(("ar", "en"), ("en", "tr"))
    (model_bin,) = [p for p in models.rglob("model.bin") if "en_tr" in str(p)]
    model_bin.write_bytes(b"not a CTranslate2 model")
    done = StoryTranslator(Engine(models), ["tr"], clock=lambda: WHEN).render([_story()])
    by = _by(done.stories)
    assert by[("ww-ar-1", "tr")].translation.status is RenditionStatus.FAILED
    assert done.waits_for_package(by[("ww-ar-1", "tr")])
    assert by[("ww-ar-1", "en")].translation.status is RenditionStatus.TRANSLATED, "its English was made"


def test_a_canceled_story_is_not_translated_and_its_renditions_are_emptied(models_dir, tmp_path):
    engine = Engine(models_dir)
    translator = StoryTranslator(engine, ["ar", "tr"], clock=lambda: WHEN)
    store = PendingStore(tmp_path / "pending.sqlite3")
    try:
        store.add(_story(), "tr", "no model installed for en→tr")  # an older version waiting
        canceled = _story(version=2, pubstatus="canceled")
        done = translator.render([canceled])
        by = _by(done.stories)
        assert set(by) == {("ww-ar-1", "tr"), ("ww-ar-1", "en")}, "the kept English is withdrawn too"
        for rendition in by.values():
            t = rendition.translation
            assert rendition.pubstatus == "canceled" and rendition.version == 2
            assert t.status is RenditionStatus.UNAVAILABLE and t.error == CANCELED
            assert (rendition.headline, rendition.summary, rendition.body) == ("", None, [])
            assert t.quality is None and t.package is None and not t.kept_pivot
        assert engine.loaded() == [], "no model time for a canceled story"
        record(store, {(canceled.id, canceled.version): canceled}, done)
        assert store.count() == 0, "never pending, and no older version waits to be translated either"
    finally:
        store.close()


def test_an_embargoed_story_is_translated_before_its_release(models_dir):
    release = datetime.now(tz=UTC) + timedelta(days=2)
    translator = StoryTranslator(Engine(models_dir), ["ar", "tr"])
    done = translator.translate([_story(embargoed=release)])
    assert sorted(r.language for r in done) == ["en", "tr"]
    for rendition in done:
        assert rendition.translation.status is RenditionStatus.TRANSLATED and rendition.headline
        assert rendition.embargoed == release and rendition.embargoed_at(datetime.now(tz=UTC))
