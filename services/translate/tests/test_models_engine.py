"""Real Argos test packages (meaningless output) through the real install, CTranslate2 and SentencePiece."""

import json
import logging
import re
import zipfile
from datetime import UTC, datetime

import pytest

from wirewatch_common.story import RenditionStatus, Story
from wirewatch_translate.cli import main as cli_main
from wirewatch_translate.engine import DecodeOptions, Engine, split_for_model
from wirewatch_translate.errors import UntranslatableText
from wirewatch_translate.models import ModelError, install_from_index, install_from_path, installed_packages
from wirewatch_translate.testpackages import TEST_LABEL, TEST_VERSION
from wirewatch_translate.translator import PackageFailed, StoryTranslator

pytestmark = pytest.mark.integration

ARABIC = re.compile(r"[\u0600-\u06FF]")
LATIN = re.compile(r"[A-Za-zçğıöşüÇĞİÖŞÜ]")
WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def _story(**fields):
    base = {
        "id": "ww-1",
        "uri": "urn:test:1",
        "version": 1,
        "firstcreated": WHEN,
        "versioncreated": WHEN,
        "language": "en",
        "headline": "Port strike halts grain exports",
        "body": [
            "Dockworkers walked out on Tuesday. Dr. Smith said talks resume.",
            "Prices rose 3.5 percent.",
        ],
    }
    return Story.model_validate(base | fields)


def test_test_packages_are_labelled_real_argos_archives(test_archives):
    archive = test_archives[("en", "ar")]
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        meta = json.loads(zf.read("translate-en_ar-test/metadata.json"))
        readme = zf.read("translate-en_ar-test/README.md").decode()
    assert {"translate-en_ar-test/sentencepiece.model", "translate-en_ar-test/model/model.bin"} <= set(names)
    assert meta["from_code"] == "en" and meta["to_code"] == "ar" and meta["package_version"] == TEST_VERSION
    assert TEST_LABEL in readme and meta["description"] == TEST_LABEL


def test_install_from_folder_lists_pairs_and_touches_no_home(test_archives, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    models = tmp_path / "models"
    installed = install_from_path(models, test_archives[("en", "ar")].parent)
    assert sorted(i.pair for i in installed) == [("ar", "en"), ("en", "ar"), ("en", "tr"), ("tr", "en")]
    assert set(installed_packages(models)) == {i.pair for i in installed}
    assert all(i.version == TEST_VERSION and i.name.startswith("translate-") for i in installed)
    assert not home.exists(), "argostranslate must not write under the home directory"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no \.argosmodel"):
        install_from_path(models, tmp_path / "empty")


def test_install_rejects_what_is_not_a_package(tmp_path):
    bogus = tmp_path / "bogus.argosmodel"
    bogus.write_text("not a zip")
    with pytest.raises(ModelError, match="not a zip"):
        install_from_path(tmp_path / "models", bogus)
    with pytest.raises(ModelError, match="does not exist"):
        install_from_path(tmp_path / "models", tmp_path / "missing.argosmodel")


def test_cli_list_and_install(test_archives, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WIREWATCH_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("WIREWATCH_DATA_DIR", str(tmp_path / "data"))
    assert cli_main(["list"]) == 0
    assert "no translation packages" in capsys.readouterr().out
    assert cli_main(["install", "--from-path", str(test_archives[("tr", "en")])]) == 0
    said = capsys.readouterr().out
    assert "installed translate-tr_en-test (tr→en 0.0.1-test, test)" in said
    assert "warning: tr→en is translated by the TEST package translate-tr_en-test" in said
    assert cli_main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.match(r"tr→en\tactive +translate-tr_en-test +0\.0\.1-test +test +only package", out)
    assert cli_main(["install", "--from-path", str(tmp_path / "nothing")]) == 2


def test_engine_translates_into_the_target_script_and_pivots(models_dir):
    engine = Engine(models_dir)
    translator = StoryTranslator(engine, ["ar", "tr"], clock=lambda: WHEN)
    renditions = {
        (r.id, r.language): r
        for r in translator.translate(
            [
                _story(),
                _story(
                    id="ww-2",
                    language="ar",
                    headline="إضراب في الميناء",
                    body=["قالت الهيئة إن الصادرات ستستأنف. وتستأنف المحادثات."],
                ),
            ]
        )
    }
    assert set(renditions) == {("ww-1", "ar"), ("ww-1", "tr"), ("ww-2", "tr"), ("ww-2", "en")}, (
        "no ar rendition of an ar story; its English pivot kept"
    )
    ar = renditions[("ww-1", "ar")]
    assert ARABIC.search(ar.headline) and not LATIN.search(ar.headline + " ".join(ar.body))
    assert len(ar.body) == 2, "paragraph structure preserved"
    tr = renditions[("ww-1", "tr")]
    assert LATIN.search(tr.headline) and not ARABIC.search(tr.headline)
    t = tr.translation
    assert t.status is RenditionStatus.TRANSLATED and t.engine == "argos-translate"
    assert (t.source_language, t.target_language, t.package, t.package_version) == (
        "en",
        "tr",
        "translate-en_tr",
        TEST_VERSION,
    )
    assert t.of_id == "ww-1" and t.of_version == 1 and t.duration_ms is not None and t.translated_at == WHEN
    pivoted = renditions[("ww-2", "tr")].translation
    assert pivoted.pivot == ["en"] and pivoted.package == "translate-ar_en + translate-en_tr"
    kept = renditions[("ww-2", "en")].translation
    assert kept.kept_pivot and kept.pivot == [] and kept.package == "translate-ar_en"
    assert {i.pair for i in engine.loaded()} == {("en", "ar"), ("en", "tr"), ("ar", "en")}, "loaded lazily"


def test_missing_pair_is_unavailable_and_found_after_refresh(install):
    models = install(("en", "ar"))
    engine = Engine(models)
    translator = StoryTranslator(engine, ["ar", "tr"], clock=lambda: WHEN)
    statuses = {r.language: r.translation.status for r in translator.translate([_story()])}
    assert statuses == {"ar": RenditionStatus.TRANSLATED, "tr": RenditionStatus.UNAVAILABLE}
    install(("en", "tr"), models_dir=models)
    assert engine.route("en", "tr") is None, "the scan is cached until refresh"
    engine.refresh()
    assert engine.route("en", "tr") is not None


def _long_text_total(outcome):
    from prometheus_client import REGISTRY

    labels = {"pair": "en-ar", "outcome": outcome}
    return REGISTRY.get_sample_value("wirewatch_translate_long_text_total", labels) or 0.0


def test_piece_limit_respects_the_encoder_and_the_decoder():
    assert DecodeOptions().max_piece_tokens == 170, "256 target tokens / 1.5"
    assert DecodeOptions(max_sentence_tokens=40).max_piece_tokens == 40
    assert DecodeOptions(max_decoding_length=30).max_piece_tokens == 20
    fixed = DecodeOptions(max_decoding_length=48, min_decoding_length=48)
    assert fixed.max_piece_tokens == 1024, "fixed-length decoding: the source does not set the output length"


def test_a_sentence_over_the_limit_is_split_and_translated_piece_by_piece(models_dir):
    decode = DecodeOptions(max_sentence_tokens=40)
    engine = Engine(models_dir, decode=decode)
    info = engine.route("en", "ar")[0]
    model = engine.model(info)
    long = "; ".join(f"talks resume on day {i}, prices rose in early trading" for i in range(30))
    pieces = split_for_model(model, long, decode)
    assert len(pieces) > 3 and "".join(p.text + p.sep for p in pieces) == long
    sizes = [len(t) for t in model.encode([p.text for p in pieces])]
    assert all(p.fits for p in pieces) and max(sizes) <= 40
    assert all(p.text.endswith((";", ",")) for p in pieces[:-1]), "cut at separators before words"
    split_before = _long_text_total("split")
    out, lengths = engine.translate(info, ["Fine.", long])
    assert ARABIC.search(out[1]) and not LATIN.search(out[1])
    assert lengths[1] == len(model.encode([long])[0]) > 40
    assert _long_text_total("split") == split_before + 1


def test_the_decoding_limit_sets_the_piece_size(models_dir):
    engine = Engine(models_dir, decode=DecodeOptions(max_decoding_length=30))
    info = engine.route("en", "tr")[0]
    model = engine.model(info)
    sentence = "Dockworkers walked out on Tuesday and said talks would resume after the holiday weekend"
    assert 20 < len(model.encode([sentence])[0]) < 1024, "fits the encoder, not the decoder's margin"
    pieces = split_for_model(model, sentence, engine.decode)
    assert len(pieces) > 1 and all(len(t) <= 20 for t in model.encode([p.text for p in pieces]))
    assert engine.translate(info, [sentence])[0][0]


def test_a_run_without_spaces_is_copied_or_refused_and_spaceless_scripts_are_windowed(models_dir):
    blob = "https://example.com/" + "a1b2c3d4" * 625  # 5,020 characters, no whitespace
    engine = Engine(models_dir)
    info = engine.route("en", "ar")[0]
    copied_before = _long_text_total("copied")
    out, _ = engine.translate(info, [f"The full list is at {blob} for readers."])
    assert blob in out[0], "a URL or hash is copied unchanged"
    assert ARABIC.search(out[0].replace(blob, "")), "the words around it are translated"
    assert _long_text_total("copied") == copied_before + 1
    strict = Engine(models_dir, decode=DecodeOptions(unsplittable="fail"))
    with pytest.raises(UntranslatableText, match="5020 characters without spaces"):
        strict.translate(info, [blob])
    chinese = "港口工人周二罢工谈判将在周五恢复" * 200  # no spaces: cut at the tokenizer's pieces
    out, _ = strict.translate(info, [chinese])
    assert ARABIC.search(out[0])


def test_identical_sentences_translate_once_and_batches_match_single_calls(models_dir):
    engine = Engine(models_dir, decode=DecodeOptions(max_batch_tokens=64))
    info = engine.route("en", "ar")[0]
    sentences = [
        "Talks resume on Friday.",
        "Prices rose 3.5 percent in early trading.",
        "Talks resume on Friday.",
    ]
    batched, lengths = engine.translate(info, sentences)
    assert batched[0] == batched[2] and lengths[0] == lengths[2]
    singles = [engine.translate(info, [s])[0][0] for s in sentences]
    assert batched == singles


def test_install_by_language_from_an_index_over_http_and_offline_error(test_archives, tmp_path):
    import functools
    import http.server
    import threading

    folder = test_archives[("en", "ar")].parent
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    )
    base = f"http://127.0.0.1:{server.server_address[1]}"
    index = [
        {
            "type": "translate",
            "from_code": src,
            "to_code": tgt,
            "package_version": TEST_VERSION,
            "links": [f"{base}/{path.name}"],
        }
        for (src, tgt), path in test_archives.items()
    ]
    (folder / "index.json").write_text(json.dumps(index))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        installed = install_from_index(tmp_path / "models", ["tr"], index_url=base)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert sorted(i.pair for i in installed) == [("en", "tr"), ("tr", "en")], "the pair and its reverse"
    assert set(installed_packages(tmp_path / "models")) == {("en", "tr"), ("tr", "en")}
    with pytest.raises(ModelError, match="could not be downloaded"):
        install_from_index(tmp_path / "models", ["tr"], index_url=base)  # server gone: offline


def test_parallel_batches_give_the_same_text(models_dir):
    from wirewatch_translate.engine import EngineOptions

    sentences = [f"Talks resume on day {i}. Prices rose {i}.5 percent." for i in range(12)]
    decode = DecodeOptions(max_batch_tokens=48)
    serial = Engine(models_dir, decode=decode)
    parallel = Engine(models_dir, EngineOptions(inter_threads=2, intra_threads=1), decode)
    info = serial.route("en", "tr")[0]
    assert serial.translate(info, sentences) == parallel.translate(info, sentences)


def test_a_package_that_fails_to_load_fails_its_own_renditions_only(install, caplog):
    models = install(("en", "ar"), ("en", "tr"))
    (model_bin,) = [p for p in models.rglob("model.bin") if "en_tr" in str(p)]
    good = model_bin.read_bytes()
    model_bin.write_bytes(b"not a CTranslate2 model")
    caplog.set_level(logging.INFO)
    translator = StoryTranslator(Engine(models), ["ar", "tr"], clock=lambda: WHEN)
    done = translator.render([_story()])
    renditions = {r.language: r for r in done.stories}
    assert renditions["ar"].translation.status is RenditionStatus.TRANSLATED
    assert not done.waits_for_package(renditions["ar"])
    broken = renditions["tr"].translation
    assert broken.status is RenditionStatus.FAILED and done.waits_for_package(renditions["tr"])
    assert (broken.error or "").startswith("PackageFailed: package translate-en_tr 0.0.1-test could not")
    assert "model" in broken.error
    assert renditions["tr"].headline == "" and renditions["tr"].body == []
    # No story is the cause: with several stories too, each fails its own tr rendition, nothing raises.
    several = translator.render([_story(), _story(id="ww-2")])
    assert sorted((r.id, r.language, r.translation.status.value) for r in several.stories) == [
        ("ww-1", "ar", "translated"),
        ("ww-1", "tr", "failed"),
        ("ww-2", "ar", "translated"),
        ("ww-2", "tr", "failed"),
    ]
    assert several.package_failed == {("ww-1", 1, "tr"), ("ww-2", 1, "tr")}
    with pytest.raises(PackageFailed, match="translate-en_tr"):
        Engine(models).translate(Engine(models).route("en", "tr")[0], ["Talks resume."])
    said = [r.getMessage() for r in caplog.records if r.name.endswith("translator")]
    assert said.count("translation package cannot be used; its renditions wait until it works") == 1

    model_bin.write_bytes(good)  # repaired: the same engine loads it on the next call, nothing cached
    assert all(r.translation.status is RenditionStatus.TRANSLATED for r in translator.translate([_story()]))
    assert "translation package works again" in [r.getMessage() for r in caplog.records]


def test_a_failure_caused_by_a_storys_text_is_not_the_packages(install):
    models = install(("en", "ar"))
    engine = Engine(models, decode=DecodeOptions(unsplittable="fail"))
    translator = StoryTranslator(engine, ["ar"], clock=lambda: WHEN)
    poison = _story(id="ww-poison", body=["Checksum " + "x" * 5000])
    with pytest.raises(UntranslatableText):  # several stories: one may be the cause, the caller isolates it
        translator.render([poison, _story(id="ww-fine")])
    with pytest.raises(UntranslatableText):  # nothing translated: raised for the caller to retry
        translator.render([poison])
