"""Argos packages on disk: list, choose, check, install from a file or folder (offline) or the Argos index, remove.

Several packages may be installed for one pair (a demo test package and a real one, two versions);
`package_choice` ranks them (`pairs.rank_packages`) and `installed_packages` returns the active one
of each pair, which is what the engine uses.

argostranslate reads its directories from the environment when it is first imported and creates
them under the home directory. `_argos()` imports it with every directory pointed into a sandbox
folder (`.argos/`) inside the models directory, and each call then points `package_data_dir` at the
models directory it works on, under a lock, so nothing lands in the home directory and nothing is
downloaded unless asked.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from .pairs import PackageInfo, Pair, PairChoice, choose_packages, pair_label, pairs_for_languages

log = logging.getLogger(__name__)

_LOCK = threading.RLock()
_ARGOS_DIR = ".argos"
"""Sandbox for argostranslate's config, cache and index, inside the models directory (skipped by scans)."""


class ModelError(Exception):
    """A package could not be installed or read."""


def _sandbox_env(models_dir: Path) -> dict[str, str]:
    home = models_dir / _ARGOS_DIR
    return {
        "ARGOS_PACKAGES_DIR": str(models_dir),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "ARGOS_DEVICE_TYPE": "cpu",
        # argostranslate.translate imports minisbd -> onnxruntime, which writes a device id under $HOME
        "HOME": str(home),
    }


def _argos(models_dir: Path) -> tuple[ModuleType, ModuleType]:
    """Import argostranslate's package and settings modules with their directories in the sandbox."""
    env = _sandbox_env(models_dir)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        import argostranslate.package as package  # type: ignore[import-untyped]
        import argostranslate.settings as settings  # type: ignore[import-untyped]
        import argostranslate.translate  # type: ignore[import-untyped]  # noqa: F401 - imported here, sandboxed
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return package, settings


@contextmanager
def argos_at(models_dir: Path, index_url: str | None = None) -> Iterator[ModuleType]:
    """Yield argostranslate.package with every directory it uses pointed at this models directory."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        package, settings = _argos(models_dir)
        home = models_dir / _ARGOS_DIR
        for sub in ("data", "cache/downloads"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        saved = {
            name: getattr(settings, name)
            for name in (
                "package_data_dir",
                "package_dirs",
                "local_package_index",
                "downloads_dir",
                "remote_package_index",
            )
        }
        pointed = {
            "package_data_dir": models_dir,
            "package_dirs": [models_dir],
            "local_package_index": home / "data" / "index.json",
            "downloads_dir": home / "cache" / "downloads",
            "remote_package_index": (index_url.rstrip("/") + "/index.json")
            if index_url
            else saved["remote_package_index"],
        }
        for name, value in pointed.items():
            setattr(settings, name, value)
        try:
            yield package
        finally:
            for name, value in saved.items():
                setattr(settings, name, value)


TEST_MARKER = "wirewatch_test"
"""Key that `testpackages` sets to true in a test package's metadata.json: the package is a test package."""

TEST_LABEL = "TEST PACKAGE: random weights, produces meaningless text. Never use for real translation."
"""The description every test package carries; test packages built before TEST_MARKER existed have it."""

_TOKENIZER = "sentencepiece.model"
_BPE = "bpe.model"


def is_test_package(metadata: dict[str, Any]) -> bool:
    """Whether a package's metadata marks it as a wirewatch test package (meaningless output)."""
    return metadata.get(TEST_MARKER) is True or metadata.get("description") == TEST_LABEL


@dataclass(frozen=True)
class Unusable:
    """A folder in the models directory that looks like a package but cannot translate, and why."""

    path: Path
    reason: str
    pair: Pair | None = None
    version: str = ""

    @property
    def folder(self) -> str:
        """The folder's name."""
        return self.path.name


@dataclass(frozen=True)
class PackageChoice:
    """Every package in a models directory: per pair the usable ones ranked, and the unusable ones."""

    models_dir: Path
    pairs: dict[Pair, PairChoice]
    unusable: tuple[Unusable, ...] = ()

    def active(self) -> dict[Pair, PackageInfo]:
        """The active package of each pair."""
        return {pair: choice.active for pair, choice in self.pairs.items()}


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        metadata = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"metadata.json cannot be read: {exc}"
        raise ValueError(msg) from exc
    if not isinstance(metadata, dict):
        msg = "metadata.json is not a JSON object"
        raise ValueError(msg)
    return metadata


def read_package(path: Path) -> PackageInfo | Unusable:
    """Read one package folder as argostranslate reads it (its metadata defaults), or say why it is unusable.

    Only what is cheap is checked here (metadata, files present); whether the model loads is
    checked when a package is installed (`install_from_path`) and when it is first used.
    """
    try:
        metadata = _read_metadata(path)
    except ValueError as exc:
        return Unusable(path, str(exc))
    from_code, to_code = metadata.get("from_code"), metadata.get("to_code")
    pair = (from_code, to_code) if isinstance(from_code, str) and isinstance(to_code, str) else None
    version = str(metadata.get("package_version") or "unknown")
    kind = metadata.get("type", "translate")  # argostranslate's default: the index's packages have no type
    if kind != "translate":
        return Unusable(path, f"a {kind!r} package, not a translation package", pair, version)
    if pair is None or not all(pair):
        return Unusable(path, "metadata.json names no from_code and to_code", None, version)
    if not (path / _TOKENIZER).is_file():
        if (path / _BPE).is_file():
            reason = (
                f"uses a BPE tokenizer ({_BPE}); wirewatch reads SentencePiece packages "
                f"({_TOKENIZER}) only, as argostranslate's BPE path needs Moses tokenization it does not run"
            )
        else:
            reason = f"has no {_TOKENIZER}"
        return Unusable(path, reason, pair, version)
    if not (path / "model" / "model.bin").is_file():
        return Unusable(path, "has no model/model.bin", pair, version)
    return PackageInfo(
        from_code=pair[0],
        to_code=pair[1],
        name=f"translate-{pair[0]}_{pair[1]}",
        version=version,
        path=path,
        target_prefix=str(metadata.get("target_prefix") or ""),
        test=is_test_package(metadata),
    )


def _package_folders(models_dir: Path) -> list[Path]:
    if not models_dir.is_dir():
        return []
    return [
        p
        for p in sorted(models_dir.iterdir())
        if p.is_dir() and not p.name.startswith(".") and (p / "metadata.json").exists()
    ]


def package_choice(models_dir: Path) -> PackageChoice:
    """Read every package in the models directory: per pair which one is active and why, and what is unusable."""
    usable: list[PackageInfo] = []
    unusable: list[Unusable] = []
    for path in _package_folders(models_dir):
        found = read_package(path)
        if isinstance(found, PackageInfo):
            usable.append(found)
        else:
            unusable.append(found)
    return PackageChoice(models_dir, choose_packages(usable), tuple(unusable))


_SAID: set[tuple[object, ...]] = set()
_SAID_LOCK = threading.Lock()


def _once(key: tuple[object, ...]) -> bool:
    """True the first time this process sees `key` (so a rescan every 30 s does not repeat a warning)."""
    with _SAID_LOCK:
        if key in _SAID:
            return False
        _SAID.add(key)
        return True


def _log_choice(choice: PackageChoice) -> None:
    for bad in choice.unusable:
        if _once(("unusable", str(bad.path), bad.reason)):
            log.warning("package not usable, skipped", extra={"path": str(bad.path), "reason": bad.reason})
    for pair, pick in choice.pairs.items():
        label = pair_label(pair)
        if pick.conflict and _once(("conflict", tuple(str(i.path) for i in pick.ranked))):
            log.warning(
                "several packages for one pair; one is active",
                extra={
                    "pair": label,
                    "active": pick.active.folder,
                    "why": pick.why(pick.active),
                    "others": [f"{i.folder} {i.version} ({i.kind})" for i in pick.ranked[1:]],
                },
            )
        if pick.test_only and _once(("test-only", str(pick.active.path))):
            log.warning(
                "a TEST package is active: its output is meaningless text; install a real package",
                extra={"pair": label, "package": pick.active.folder},
            )


def installed_packages(models_dir: Path) -> dict[Pair, PackageInfo]:
    """The active package of each installed pair (see `package_choice`); conflicts are logged once."""
    choice = package_choice(models_dir)
    _log_choice(choice)
    return choice.active()


def _archives(source: Path) -> list[Path]:
    if source.is_dir():
        archives = sorted(source.glob("*.argosmodel"))
        if not archives:
            msg = f"no .argosmodel files in {source}"
            raise ModelError(msg)
        return archives
    if not source.exists():
        msg = f"{source} does not exist"
        raise ModelError(msg)
    return [source]


@dataclass(frozen=True)
class _Contents:
    """What an archive holds at its top level: package folders (with metadata.json) and anything else."""

    archive: Path
    packages: tuple[str, ...]
    skipped: tuple[str, ...]


def _contents(archive: Path) -> _Contents:
    """Sort an archive's top-level entries into package folders and the rest.

    argostranslate extracts the whole archive into its packages folder and then treats every
    top-level folder as a package, so an archive may carry several packages. The same here: every
    top-level folder with a metadata.json is installed; loose files and folders without one (e.g.
    `__MACOSX/`) are left out instead of littering the models directory.
    """
    if not zipfile.is_zipfile(archive):
        msg = f"{archive} is not a zip archive (an .argosmodel file)"
        raise ModelError(msg)
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if n.strip("/")]
    tops = sorted({n.split("/", 1)[0] for n in names} - {""})
    packages = tuple(t for t in tops if f"{t}/metadata.json" in names and not t.startswith("."))
    if not packages:
        msg = f"{archive} is not an Argos package: no top-level folder holds a metadata.json"
        raise ModelError(msg)
    skipped = tuple(t + ("/" if any(n.startswith(t + "/") for n in names) else "") for t in tops)
    return _Contents(archive, packages, tuple(s for s in skipped if s.rstrip("/") not in packages))


def _extract(contents: _Contents, into: Path) -> None:
    wanted = tuple(f"{top}/" for top in contents.packages)
    with zipfile.ZipFile(contents.archive) as zf:
        for member in zf.infolist():
            if member.filename.startswith(wanted):
                zf.extract(member, into)  # zipfile drops absolute and `..` parts of member names


def check_model_loads(info: PackageInfo) -> None:
    """Load a package's CTranslate2 model and tokenizer once on the CPU; ModelError naming the package if not."""
    import ctranslate2  # type: ignore[import-untyped]
    import sentencepiece as spm

    try:
        ctranslate2.Translator(
            str(info.path / "model"), device="cpu", compute_type="default", intra_threads=1
        )
    except (RuntimeError, ValueError, OSError) as exc:
        msg = (
            f"package {info.folder} ({pair_label(info.pair)} {info.version}): its model cannot be loaded "
            f"by CTranslate2 {ctranslate2.__version__}: {exc}"
        )
        raise ModelError(msg) from exc
    try:
        spm.SentencePieceProcessor(model_file=str(info.path / _TOKENIZER))
    except (RuntimeError, OSError) as exc:
        msg = f"package {info.folder} ({pair_label(info.pair)}): its {_TOKENIZER} cannot be loaded: {exc}"
        raise ModelError(msg) from exc


def install_from_path(models_dir: Path, source: Path) -> list[PackageInfo]:
    """Install `.argosmodel` files (one file, or every one in a folder); return the packages installed.

    Every package is unpacked into a staging folder and checked (metadata, tokenizer, the model
    loads) before any is moved into place, so a bad archive installs nothing. A package replaces
    an installed folder of the same name; other packages of its pair stay, and `package_choice`
    decides which one is active.
    """
    contents = [_contents(archive) for archive in _archives(source)]
    seen: dict[str, Path] = {}
    for item in contents:
        for top in item.packages:
            if top in seen:
                msg = (
                    f"{seen[top]} and {item.archive} both hold a package folder {top!r}; install one of them"
                )
                raise ModelError(msg)
            seen[top] = item.archive
        if item.skipped:
            log.warning(
                "archive entries that are not package folders were not extracted",
                extra={"archive": str(item.archive), "skipped": list(item.skipped)},
            )
    models_dir.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        staging = models_dir / _ARGOS_DIR / "staging" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        try:
            staged: list[PackageInfo] = []
            for item in contents:
                _extract(item, staging)
                for top in item.packages:
                    found = read_package(staging / top)
                    if isinstance(found, Unusable):
                        msg = f"{item.archive}: package {top} cannot be installed: {found.reason}"
                        raise ModelError(msg)
                    check_model_loads(found)
                    staged.append(found)
            installed = []
            for info in staged:
                target = models_dir / info.folder
                if target.exists():
                    shutil.rmtree(target)
                info.path.rename(target)
                installed.append(replace(info, path=target))
                log.info(
                    "package installed",
                    extra={"package": info.folder, "pair": pair_label(info.pair), "version": info.version},
                )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return installed


def _pair_of(key: str) -> Pair | None:
    for sep in ("-", "_"):
        source, found, target = key.partition(sep)
        if found and source and target and sep not in target:
            return (source, target)
    return None


def remove_packages(models_dir: Path, key: str) -> list[PackageInfo | Unusable]:
    """Remove the package in folder `key`, or every package of pair `key` (`en-ar`, or `en_ar` if no such folder).

    Returns what was removed; ModelError when nothing matches.
    """
    with _LOCK:
        choice = package_choice(models_dir)
        everything: list[PackageInfo | Unusable] = [
            *(i for c in choice.pairs.values() for i in c.ranked),
            *choice.unusable,
        ]
        pair: Pair | None = None
        doomed = [p for p in everything if p.folder == key]
        if not doomed:
            pair = _pair_of(key)
            doomed = [p for p in everything if pair is not None and p.pair == pair]
        if not doomed:
            have = ", ".join(sorted(p.folder for p in everything)) or "none"
            what = f"no package for {pair_label(pair)}" if pair else f"no package folder or pair {key!r}"
            msg = f"{what} in {models_dir} (installed folders: {have})"
            raise ModelError(msg)
        for package in doomed:
            shutil.rmtree(package.path)
            log.info("package removed", extra={"package": package.folder, "models_dir": str(models_dir)})
    return doomed


def install_from_index(
    models_dir: Path, languages: list[str], pivot: str = "en", index_url: str | None = None
) -> list[PackageInfo]:
    """Download and install, from the Argos index, the pairs that link `languages` through the pivot.

    `index_url` is the folder holding `index.json` (Argos's own index unless given).
    """
    wanted = pairs_for_languages(languages, pivot)
    with argos_at(models_dir, index_url) as argos:
        index_file = models_dir / _ARGOS_DIR / "data" / "index.json"
        index_file.unlink(missing_ok=True)  # a stale copy must not pass for a fresh download
        argos.update_package_index()
        if not index_file.exists():
            msg = "the Argos package index could not be downloaded; install from a file or folder instead"
            raise ModelError(msg)
        available = {(p.from_code, p.to_code): p for p in argos.get_available_packages()}
        missing = [f"{s}→{t}" for s, t in wanted if (s, t) not in available]
        if missing:
            log.warning("pairs not in the Argos index", extra={"pairs": missing})
        downloads = []
        for pair in wanted:
            if pair in available:
                try:
                    downloads.append(available[pair].download())
                except Exception as exc:
                    msg = f"download of {pair[0]}→{pair[1]} failed: {exc}"
                    raise ModelError(msg) from exc
    installed: list[PackageInfo] = []
    for path in downloads:
        installed += install_from_path(models_dir, Path(path))
        Path(path).unlink(missing_ok=True)
    return installed
