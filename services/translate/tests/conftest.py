"""Fixtures: the tiny Argos TEST packages (meaningless output), built once and installed per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirewatch_translate.models import install_from_path
from wirewatch_translate.testpackages import build_test_packages


@pytest.fixture(scope="session")
def test_archives(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """Build en→ar, en→tr, ar→en, tr→en test packages once per session."""
    folder = tmp_path_factory.mktemp("argos-test-packages")
    paths = build_test_packages(folder)
    return {(p.name.split("-")[1].split("_")[0], p.name.split("_")[1].split("-")[0]): p for p in paths}


@pytest.fixture
def install(test_archives, tmp_path):
    """Install some test packages into a fresh models dir through the user-facing offline path."""

    def do(*pairs: tuple[str, str], models_dir: Path | None = None) -> Path:
        target = models_dir or tmp_path / "models"
        for pair in pairs:
            install_from_path(target, test_archives[pair])
        return target

    return do


@pytest.fixture
def models_dir(install) -> Path:
    """A models dir with all four test packages."""
    return install(("en", "ar"), ("en", "tr"), ("ar", "en"), ("tr", "en"))
