"""Argos packages on disk: list, install from a file or folder (offline) or from the Argos index (online).

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
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from .pairs import PackageInfo, Pair, pairs_for_languages

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


def _info(path: Path, package: Any) -> PackageInfo:
    return PackageInfo(
        from_code=package.from_code,
        to_code=package.to_code,
        name=f"translate-{package.from_code}_{package.to_code}",
        version=str(package.package_version or "unknown"),
        path=path,
        target_prefix=str(getattr(package, "target_prefix", "") or ""),
    )


def installed_packages(models_dir: Path) -> dict[Pair, PackageInfo]:
    """Read every installed translation package's metadata; a broken one is logged and skipped."""
    if not models_dir.is_dir():
        return {}
    found: dict[Pair, PackageInfo] = {}
    with argos_at(models_dir) as argos:
        for path in sorted(models_dir.iterdir()):
            if not path.is_dir() or path.name.startswith(".") or not (path / "metadata.json").exists():
                continue
            try:
                package = argos.Package(path)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("unreadable package skipped", extra={"path": str(path), "error": str(exc)})
                continue
            if package.type != "translate" or not package.from_code or not package.to_code:
                continue
            if not (path / "model").is_dir() or not (path / "sentencepiece.model").exists():
                log.warning(
                    "package without model/ or sentencepiece.model skipped", extra={"path": str(path)}
                )
                continue
            found[(package.from_code, package.to_code)] = _info(path, package)
    return found


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


def _top_dir(archive: Path) -> str:
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) != 1 or not any(n.endswith("/metadata.json") for n in names):
            msg = f"{archive} is not an Argos package: one top folder with metadata.json expected"
            raise ModelError(msg)
        top = tops.pop()
        meta = json.loads(zf.read(f"{top}/metadata.json"))
    if meta.get("type", "translate") != "translate":
        msg = f"{archive} is a {meta.get('type')!r} package, not a translation package"
        raise ModelError(msg)
    return top


def install_from_path(models_dir: Path, source: Path) -> list[PackageInfo]:
    """Install `.argosmodel` files (one file, or every one in a folder) through argostranslate's installer."""
    archives = _archives(source)
    tops = []
    for archive in archives:
        if not zipfile.is_zipfile(archive):
            msg = f"{archive} is not a zip archive (an .argosmodel file)"
            raise ModelError(msg)
        tops.append(_top_dir(archive))
    with argos_at(models_dir) as argos:
        for archive in archives:
            argos.install_from_path(archive)
            log.info("package installed", extra={"archive": str(archive), "models_dir": str(models_dir)})
    installed = installed_packages(models_dir)
    return [info for info in installed.values() if info.path.name in tops]


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
