"""The README is the operator's manual: its settings table must match the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirewatch_common.settings import settings_table

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_settings_table_matches_the_settings_model():
    assert settings_table() in README.read_text(encoding="utf-8"), (
        "README's settings table is stale: paste the output of `python -m wirewatch_common.settings`"
    )


def test_readme_shows_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text
    assert "make test" in text
