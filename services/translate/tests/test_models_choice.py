"""Which package is active when a pair has several: real beats test, then the highest version.

Packages in the real Argos index layout (top folder `en_ar`, no `type` in metadata.json, a
`stanza/` folder, a README) are made from the tiny test packages by rewriting their archives, so
the model and tokenizer inside are real CTranslate2 and SentencePiece files.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import ctranslate2
import pytest

from wirewatch_translate.cli import CHECK_SENTENCES
from wirewatch_translate.cli import main as cli_main
from wirewatch_translate.engine import Engine, EngineOptions
from wirewatch_translate.models import (
    TEST_MARKER,
    ModelError,
    Unusable,
    install_from_path,
    installed_packages,
    package_choice,
    read_package,
)
from wirewatch_translate.testpackages import LANGUAGE_NAMES

pytestmark = pytest.mark.integration

ARABIC = re.compile(r"[\u0600-\u06FF]")
LATIN = re.compile(r"[A-Za-z]")


# -- archives in the real index layout, built from the test packages ---------------------------------


def _files(archive: Path) -> dict[str, bytes]:
    """The files of a one-folder archive, by path inside that folder."""
    with zipfile.ZipFile(archive) as zf:
        return {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist() if not n.endswith("/")}


def _write(archive: Path, entries: dict[str, bytes]) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return archive


def _as_real(
    source: Path, version: str = "1.0", edit: Callable[[dict[str, bytes]], None] | None = None
) -> dict[str, bytes]:
    """A test package's files laid out as the Argos index ships a package (no type, no test mark)."""
    files = _files(source)
    meta = json.loads(files["metadata.json"])
    real = {
        "package_version": version,
        "argos_version": "1.0",
        "from_code": meta["from_code"],
        "from_name": LANGUAGE_NAMES[meta["from_code"]],
        "to_code": meta["to_code"],
        "to_name": LANGUAGE_NAMES[meta["to_code"]],
    }
    files["metadata.json"] = json.dumps(real, indent=2).encode()
    files["README.md"] = f"# {real['from_name']}-{real['to_name']}\n\nTrained on OPUS data.\n".encode()
    files["stanza/en/tokenize/combined.pt"] = b"sentence splitter weights (unused by wirewatch)"
    files["stanza/resources.json"] = b"{}"
    if edit is not None:
        edit(files)
    return files


def real_archive(
    folder: Path,
    source: Path,
    *,
    top: str,
    version: str = "1.0",
    edit: Callable[[dict[str, bytes]], None] | None = None,
) -> Path:
    """Write `<top>.argosmodel` holding one package in the real index layout."""
    files = _as_real(source, version, edit)
    return _write(folder / f"{top}.argosmodel", {f"{top}/{name}": data for name, data in files.items()})


@pytest.fixture
def cli_env(tmp_path, monkeypatch) -> Path:
    models = tmp_path / "models"
    monkeypatch.setenv("WIREWATCH_MODEL_DIR", str(models))
    monkeypatch.setenv("WIREWATCH_DATA_DIR", str(tmp_path / "data"))
    return models


@pytest.mark.parametrize("real_first", [False, True], ids=["test-first", "real-first"])
def test_the_real_package_is_active_in_either_install_order(
    real_first, test_archives, tmp_path, cli_env, capsys
):
    real = real_archive(tmp_path / "real", test_archives[("en", "ar")], top="en_ar")
    demo = test_archives[("en", "ar")]
    first, second = (real, demo) if real_first else (demo, real)
    assert cli_main(["install", "--from-path", str(first)]) == 0
    said = capsys.readouterr().out
    if not real_first:
        assert "en→ar: active translate-en_ar-test 0.0.1-test (test): only package" in said
        assert "warning: en→ar is translated by the TEST package translate-en_ar-test" in said
    assert cli_main(["install", "--from-path", str(second)]) == 0
    said = capsys.readouterr().out
    assert (
        "en→ar: active en_ar 1.0 (real): a real package beats the test package translate-en_ar-test" in said
    )
    assert "also installed: translate-en_ar-test 0.0.1-test (test)" in said and "warning" not in said

    installed = cli_env / "en_ar"
    assert (installed / "stanza" / "resources.json").is_file() and (installed / "README.md").is_file()
    assert "type" not in json.loads((installed / "metadata.json").read_text())
    assert installed_packages(cli_env)[("en", "ar")].path == installed
    assert Engine(cli_env).route("en", "ar")[0].path == installed, "the engine translates with the real one"

    assert cli_main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert re.fullmatch(r"en→ar\tactive +en_ar +1\.0 +real +a real package beats .*", lines[0])
    assert re.fullmatch(
        r"en→ar\tstandby +translate-en_ar-test +0\.0\.1-test +test +test package; the real package en_ar wins",
        lines[1],
    )


def test_a_conflict_is_logged_once_per_process(test_archives, tmp_path, caplog):
    models = tmp_path / "models"
    install_from_path(models, test_archives[("en", "ar")])
    install_from_path(models, real_archive(tmp_path / "real", test_archives[("en", "ar")], top="en_ar"))
    with caplog.at_level(logging.WARNING, logger="wirewatch_translate.models"):
        for _ in range(3):
            assert installed_packages(models)[("en", "ar")].folder == "en_ar"
    conflicts = [
        r for r in caplog.records if r.getMessage() == "several packages for one pair; one is active"
    ]
    assert len(conflicts) == 1
    assert conflicts[0].active == "en_ar" and conflicts[0].others == [
        "translate-en_ar-test 0.0.1-test (test)"
    ]


def test_test_packages_carry_the_mark_and_older_builds_are_recognised(test_archives, tmp_path):
    files = _files(test_archives[("en", "tr")])
    assert json.loads(files["metadata.json"])[TEST_MARKER] is True
    models = tmp_path / "models"
    (info,) = install_from_path(models, test_archives[("en", "tr")])
    assert info.test and info.kind == "test"
    meta = json.loads((info.path / "metadata.json").read_text())
    del meta[TEST_MARKER]  # as built before the mark existed: the description still says so
    (info.path / "metadata.json").write_text(json.dumps(meta))
    assert read_package(info.path).test


def test_the_highest_version_of_two_real_packages_is_active(test_archives, tmp_path):
    models = tmp_path / "models"
    source = test_archives[("tr", "en")]
    install_from_path(models, real_archive(tmp_path / "a", source, top="tr_en_1_10", version="1.10"))
    install_from_path(models, real_archive(tmp_path / "b", source, top="tr_en", version="1.9"))
    pick = package_choice(models).pairs[("tr", "en")]
    assert [i.folder for i in pick.ranked] == ["tr_en_1_10", "tr_en"], "1.10 is newer than 1.9"


def test_remove_by_folder_or_pair_and_say_what_is_active(test_archives, tmp_path, cli_env, capsys):
    install_from_path(cli_env, test_archives[("en", "ar")])
    install_from_path(cli_env, test_archives[("en", "tr")])
    install_from_path(cli_env, real_archive(tmp_path / "real", test_archives[("en", "ar")], top="en_ar"))
    capsys.readouterr()

    assert cli_main(["remove", "en_ar"]) == 0, "a folder of that name: that folder only"
    said = capsys.readouterr().out
    assert "removed en_ar (en→ar 1.0)" in said
    assert "en→ar: active translate-en_ar-test 0.0.1-test (test): only package" in said
    assert "warning: en→ar is translated by the TEST package" in said
    assert not (cli_env / "en_ar").exists() and (cli_env / "translate-en_ar-test").is_dir()

    assert cli_main(["remove", "en-ar"]) == 0
    assert "en→ar: no usable package left" in capsys.readouterr().out
    assert cli_main(["remove", "en_tr"]) == 0, "no folder en_tr: the pair"
    assert "removed translate-en_tr-test (en→tr 0.0.1-test)" in capsys.readouterr().out
    assert package_choice(cli_env).pairs == {}

    assert cli_main(["remove", "tr-en"]) == 2
    assert "no package for tr→en in" in capsys.readouterr().err
    assert cli_main(["remove", "bogus"]) == 2
    assert "no package folder or pair 'bogus'" in capsys.readouterr().err
    (cli_env / ".argos").mkdir(exist_ok=True)
    (cli_env / ".argos" / "metadata.json").write_text("{}")
    assert cli_main(["remove", ".argos"]) == 2, "argostranslate's sandbox is never taken for a package"
    assert (cli_env / ".argos").is_dir()


# -- formats and layouts argostranslate accepts --------------------------------------------------------


def _read_model_bin(
    data: bytes,
) -> tuple[dict[str, tuple[tuple[int, ...], int, bytes]], list[tuple[str, str]]]:
    """Variables and aliases of a model.bin as CTranslate2 4.x writes it (binary version 6)."""
    at = 0

    def take(fmt: str) -> tuple[int, ...]:
        nonlocal at
        values = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize("<" + fmt)
        return values

    def text() -> str:
        nonlocal at
        (size,) = take("H")
        value = data[at : at + size - 1].decode()
        at += size
        return value

    assert take("I") == (6,) and text() == "TransformerSpec" and take("I") == (7,)
    variables = {}
    for _ in range(take("I")[0]):
        name = text()
        (rank,) = take("B")
        shape = take("I" * rank)
        dtype, size = take("BI")
        variables[name] = (shape, dtype, data[at : at + size])
        at += size
    aliases = [(text(), text()) for _ in range(take("I")[0])]
    return variables, aliases


_MOVED_TO_TOP = {
    "encoder/num_heads": "num_heads",
    "encoder/pre_norm": "pre_norm",
    "encoder/activation": "activation",
    "encoder/embeddings_merge": "embeddings_merge",
    "decoder/alignment_layer": "alignment_layer",
    "decoder/alignment_heads": "alignment_heads",
}
_ITEM_SIZE = {0: 4, 1: 1, 2: 2, 3: 4}  # float32, int8, int16, int32


def legacy_model_bin(current: bytes, binary_version: int) -> bytes:
    """Rewrite a model.bin in an older layout: spec `TransformerBase` revision 3, settings at the top level.

    Revision 3 kept `num_heads`, `pre_norm`... once for the whole model, had no aliases and named
    the source embeddings `encoder/embeddings`; binary version 3 also stored an item size and an
    item count where version 4 and later store a type id and a byte count.
    """
    variables, aliases = _read_model_bin(current)
    for alias, target in aliases:
        variables[alias] = variables[target]
    old = {}
    for name, value in variables.items():
        if name in _MOVED_TO_TOP:
            old[_MOVED_TO_TOP[name]] = value
        elif name.rsplit("/", 1)[-1] not in {
            "num_heads", "pre_norm", "activation", "alibi", "alibi_use_positive_positions", "scale_alibi",
            "scale_embeddings", "start_from_zero_embedding", "multi_query_attention", "embeddings_merge",
        }:  # fmt: skip
            old[name.replace("encoder/embeddings_0/", "encoder/embeddings/")] = value

    def text(value: str) -> bytes:
        raw = value.encode()
        return struct.pack("<H", len(raw) + 1) + raw + b"\0"

    out = [struct.pack("<I", binary_version), text("TransformerBase"), struct.pack("<II", 3, len(old))]
    for name, (shape, dtype, raw) in old.items():
        out += [text(name), struct.pack("<B", len(shape)), struct.pack("<" + "I" * len(shape), *shape)]
        if binary_version >= 4:
            out.append(struct.pack("<BI", dtype, len(raw)))
        else:
            out.append(struct.pack("<BI", _ITEM_SIZE[dtype], len(raw) // _ITEM_SIZE[dtype]))
        out.append(raw)
    out.append(struct.pack("<I", 0))
    return b"".join(out)


def _legacy(binary_version: int) -> Callable[[dict[str, bytes]], None]:
    def edit(files: dict[str, bytes]) -> None:
        files["model/model.bin"] = legacy_model_bin(files["model/model.bin"], binary_version)
        vocabulary = "".join(f"{token}\n" for token in json.loads(files.pop("model/shared_vocabulary.json")))
        files["model/source_vocabulary.txt"] = files["model/target_vocabulary.txt"] = vocabulary.encode()
        del files["model/config.json"]  # older models had none: CTranslate2's defaults apply

    return edit


@pytest.mark.parametrize("binary_version", [3, 4, 5])
def test_a_model_in_an_older_ctranslate2_format_loads_and_translates_the_same(
    binary_version, test_archives, tmp_path
):
    source = test_archives[("en", "ar")]
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    install_from_path(
        old_dir, real_archive(tmp_path / "o", source, top="en_ar", edit=_legacy(binary_version))
    )
    install_from_path(new_dir, real_archive(tmp_path / "n", source, top="en_ar"))
    assert not (old_dir / "en_ar" / "model" / "config.json").exists()
    header = (old_dir / "en_ar" / "model" / "model.bin").read_bytes()[:4]
    assert struct.unpack("<I", header) == (binary_version,)
    sentences = list(CHECK_SENTENCES["en"])

    def both(options: EngineOptions) -> tuple[object, object]:
        old, new = Engine(old_dir, options), Engine(new_dir, options)
        return (
            old.translate(old.route("en", "ar")[0], sentences),
            new.translate(new.route("en", "ar")[0], sentences),
        )

    old_text, new_text = both(EngineOptions(compute_type="float32"))
    assert old_text == new_text, "the same weights, read from either layout, give the same text"
    old_text, new_text = both(EngineOptions())  # int8, as served
    if binary_version >= 5:
        # Before version 5, CTranslate2 truncates instead of rounding when it quantizes activations
        # (Model::round_before_cast_in_quantization), as the versions that wrote such models did:
        # int8 scores then differ slightly, so only the float32 text is compared for those.
        assert old_text == new_text
    texts, _ = old_text
    assert all(ARABIC.search(t) and not LATIN.search(t) for t in texts)


def test_a_model_that_cannot_be_loaded_is_refused_naming_the_package(test_archives, tmp_path):
    source = test_archives[("en", "ar")]

    def garbage(files: dict[str, bytes]) -> None:
        files["model/model.bin"] = b"not a CTranslate2 model"

    def from_the_future(files: dict[str, bytes]) -> None:
        files["model/model.bin"] = struct.pack("<I", 99) + files["model/model.bin"][4:]

    models = tmp_path / "models"
    with pytest.raises(
        ModelError, match=r"package en_ar \(en→ar 1\.0\): its model cannot be loaded by CTranslate2"
    ):
        install_from_path(models, real_archive(tmp_path / "a", source, top="en_ar", edit=garbage))
    with pytest.raises(
        ModelError, match=rf"CTranslate2 {re.escape(ctranslate2.__version__)}: .*binary version"
    ):
        install_from_path(models, real_archive(tmp_path / "b", source, top="en_ar", edit=from_the_future))
    assert package_choice(models).pairs == {} and not (models / "en_ar").exists(), "nothing installed"


def test_a_bpe_package_is_refused_at_install_and_listed_as_not_usable(
    test_archives, tmp_path, cli_env, capsys
):
    def bpe(files: dict[str, bytes]) -> None:
        del files["sentencepiece.model"]
        files["bpe.model"] = b"#version: 0.2\nt h\nth e</w>\n"

    archive = real_archive(tmp_path / "bpe", test_archives[("ar", "en")], top="ar_en", edit=bpe)
    assert cli_main(["install", "--from-path", str(archive)]) == 2
    err = capsys.readouterr().err
    assert "package ar_en cannot be installed: uses a BPE tokenizer (bpe.model)" in err
    assert "SentencePiece packages (sentencepiece.model) only" in err
    # A folder copied in by hand is read, shown as not usable, and never used.
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(cli_env)
    choice = package_choice(cli_env)
    assert choice.pairs == {} and installed_packages(cli_env) == {}
    (bad,) = choice.unusable
    assert isinstance(bad, Unusable) and bad.pair == ("ar", "en") and "bpe.model" in bad.reason
    assert cli_main(["list"]) == 0
    out = capsys.readouterr().out
    assert "not usable: ar_en (ar→en 1.0): uses a BPE tokenizer (bpe.model)" in out
    assert "ar→en\t" not in out, "a script grepping for the pair does not count it as installed"


def test_an_archive_with_several_top_level_entries_installs_each_package_folder(
    test_archives, tmp_path, caplog
):
    entries = {
        **{f"en_ar/{n}": d for n, d in _as_real(test_archives[("en", "ar")]).items()},
        **{f"tr_en/{n}": d for n, d in _as_real(test_archives[("tr", "en")], "1.5").items()},
        "__MACOSX/en_ar/._metadata.json": b"resource fork",
        "NOTES.txt": b"packed by hand",
    }
    archive = _write(tmp_path / "bundle.argosmodel", entries)
    models = tmp_path / "models"
    with caplog.at_level(logging.WARNING, logger="wirewatch_translate.models"):
        installed = install_from_path(models, archive)
    assert sorted((i.folder, i.version) for i in installed) == [("en_ar", "1.0"), ("tr_en", "1.5")]
    assert set(installed_packages(models)) == {("en", "ar"), ("tr", "en")}
    assert not (models / "__MACOSX").exists() and not (models / "NOTES.txt").exists()
    (skipped,) = [
        r for r in caplog.records if r.getMessage().startswith("archive entries that are not package")
    ]
    assert skipped.skipped == ["NOTES.txt", "__MACOSX/"]

    nothing = _write(tmp_path / "nothing.argosmodel", {"docs/README.md": b"hi", "x.txt": b"x"})
    with pytest.raises(ModelError, match=r"no top-level folder holds a metadata\.json"):
        install_from_path(models, nothing)
    twice = tmp_path / "twice"
    real_archive(twice, test_archives[("en", "ar")], top="en_ar")
    _write(
        twice / "copy.argosmodel", {f"en_ar/{n}": d for n, d in _as_real(test_archives[("en", "ar")]).items()}
    )
    with pytest.raises(ModelError, match="both hold a package folder 'en_ar'"):
        install_from_path(models, twice)


def test_reinstalling_a_folder_replaces_it_whole(test_archives, tmp_path):
    models = tmp_path / "models"
    install_from_path(models, real_archive(tmp_path / "a", test_archives[("en", "ar")], top="en_ar"))
    (models / "en_ar" / "stale.bin").write_bytes(b"left by the old version")
    install_from_path(
        models, real_archive(tmp_path / "b", test_archives[("en", "ar")], top="en_ar", version="1.1")
    )
    assert not (models / "en_ar" / "stale.bin").exists()
    assert installed_packages(models)[("en", "ar")].version == "1.1"


# -- the operator's check ------------------------------------------------------------------------------


def test_check_translates_fixed_sentences_per_active_pair(test_archives, tmp_path, cli_env, capsys):
    install_from_path(cli_env, test_archives[("en", "ar")])
    install_from_path(cli_env, test_archives[("tr", "en")])
    install_from_path(cli_env, real_archive(tmp_path / "real", test_archives[("en", "ar")], top="en_ar"))
    assert cli_main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "en→ar  en_ar 1.0 (real)", "the active package is the one checked"
    assert (
        lines[4]
        == "tr→en  translate-tr_en-test 0.0.1-test (test) - a TEST package: meaningless text by design"
    )
    results = [line for line in lines if line.startswith("  ")]
    assert len(results) == 6 and all(line.startswith("  ok ") for line in results)
    assert CHECK_SENTENCES["en"][0] in results[0] and ARABIC.search(results[0].split("→", 1)[1])
    assert CHECK_SENTENCES["tr"][2] in results[5]

    (cli_env / "en_ar" / "model" / "model.bin").write_bytes(b"broken after install")
    assert cli_main(["check"]) == 1
    out = capsys.readouterr().out
    assert re.search(
        r"^en→ar  en_ar 1\.0 \(real\): FAILED: PackageFailed: .*could not be loaded: RuntimeError: .*model",
        out,
        re.M,
    )
    assert "tr→en  translate-tr_en-test" in out, "the other pairs are still checked"


def test_check_with_nothing_installed_fails(cli_env, capsys):
    assert cli_main(["check"]) == 1
    assert "no translation packages in" in capsys.readouterr().out
