"""The README is the operator's manual: its settings table must match the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirewatch_common.settings import settings_table
from wirewatch_stack.cli import all_settings_classes

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_settings_table_matches_every_settings_model():
    classes = all_settings_classes()
    assert len(classes) == 5, "the shared settings and the four services' own"
    assert settings_table(classes) in README.read_text(encoding="utf-8"), (
        "README's settings table is stale: paste the output of `wirewatch settings`"
    )


def test_readme_shows_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text
    assert "make test" in text
