"""The pending store counts failed re-translations per story version, and reads files written before it did."""

import sqlite3

import pytest

from wirewatch_translate.pending import PendingStore

pytestmark = pytest.mark.unit


def test_failures_are_counted_per_version_and_reset_by_a_newer_one(tmp_path, make_story):
    store = PendingStore(tmp_path / "pending.sqlite3")
    try:
        story = make_story(id="ww-p-1")
        store.add(story, "tr", "no model installed for en→tr")
        assert store.fail("ww-p-1", "tr", 1, "RuntimeError: boom") == 1
        assert store.fail("ww-p-1", "tr", 1, "RuntimeError: boom again") == 2
        store.add(story, "tr", "unavailable again")  # the same version: its failures stand
        (entry,) = store.entries()
        assert (entry.attempts, entry.error) == (2, "RuntimeError: boom again")
        assert store.fail("ww-p-1", "tr", 7, "for a version that is not pending") == 0
        store.add(make_story(id="ww-p-1", version=2), "tr", "no model installed for en→tr")
        (entry,) = store.entries()
        assert (entry.story.version, entry.attempts, entry.error) == (2, 0, None)
        store.resolve("ww-p-1", "tr", 2)
        assert store.count() == 0 and store.fail("ww-p-1", "tr", 2, "gone") == 0
    finally:
        store.close()


def test_a_file_from_before_attempts_were_counted_is_upgraded(tmp_path, make_story):
    path = tmp_path / "pending.sqlite3"
    story = make_story(id="ww-old-1")
    db = sqlite3.connect(path)
    db.execute(
        """CREATE TABLE pending (
            story_id TEXT NOT NULL, target TEXT NOT NULL, version INTEGER NOT NULL,
            source TEXT NOT NULL, story TEXT NOT NULL, reason TEXT NOT NULL, added_at TEXT NOT NULL,
            PRIMARY KEY (story_id, target))"""
    )
    db.execute(
        "INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("ww-old-1", "ar", 1, "en", story.to_json().decode(), "unavailable", "2026-01-01T00:00:00+00:00"),
    )
    db.commit()
    db.close()
    store = PendingStore(path)
    try:
        (entry,) = store.entries()
        assert entry.story == story and entry.attempts == 0 and entry.error is None
        assert store.fail("ww-old-1", "ar", 1, "boom") == 1
        assert store.items() == [(story, "ar")]
    finally:
        store.close()
