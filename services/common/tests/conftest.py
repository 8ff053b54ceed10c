from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wirewatch_common.story import Story


@pytest.fixture
def make_story():
    """Build a valid original story; keyword arguments override fields."""

    def make(**fields) -> Story:
        now = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
        base = {
            "id": "ww-test-0001",
            "uri": "urn:wirewatch:test:0001",
            "version": 1,
            "firstcreated": now,
            "versioncreated": now,
            "language": "en",
            "headline": "Port strike halts grain exports",
            "body": ["Dockworkers walked out on Tuesday.", "Talks resume on Friday."],
        }
        return Story.model_validate(base | fields)

    return make
