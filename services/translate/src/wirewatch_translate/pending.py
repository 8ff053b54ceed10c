"""Stories whose rendition was `unavailable`, kept in a small SQLite file so they can be re-translated.

The broker keeps nothing across restarts, so once a model is installed the service re-translates
these stories from here, without asking ingest for them again. One row per story and target
language; a newer version of a story replaces an older one.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from wirewatch_common.story import Story


class PendingStore:
    """SQLite-backed set of (story, target language) awaiting a model."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS pending (
                story_id TEXT NOT NULL, target TEXT NOT NULL, version INTEGER NOT NULL,
                source TEXT NOT NULL, story TEXT NOT NULL, reason TEXT NOT NULL, added_at TEXT NOT NULL,
                PRIMARY KEY (story_id, target))"""
        )

    def add(self, story: Story, target: str, reason: str) -> None:
        """Remember a story that could not be translated into `target` (newest version wins)."""
        with self._lock:
            self._db.execute(
                """INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (story_id, target) DO UPDATE SET version = excluded.version,
                   source = excluded.source, story = excluded.story, reason = excluded.reason,
                   added_at = excluded.added_at WHERE excluded.version >= pending.version""",
                (
                    story.id,
                    target,
                    story.version,
                    story.language,
                    story.to_json().decode(),
                    reason,
                    datetime.now(tz=UTC).isoformat(),
                ),
            )

    def resolve(self, story_id: str, target: str, version: int) -> None:
        """Forget a story once a rendition of this version (or newer) was produced."""
        with self._lock:
            self._db.execute(
                "DELETE FROM pending WHERE story_id = ? AND target = ? AND version <= ?",
                (story_id, target, version),
            )

    def items(self, limit: int = 10_000) -> list[tuple[Story, str]]:
        """Return pending (story, target) entries, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT story, target FROM pending ORDER BY added_at LIMIT ?", (limit,)
            ).fetchall()
        return [(Story.from_json(raw), target) for raw, target in rows]

    def count(self) -> int:
        """How many renditions are waiting for a model."""
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM pending").fetchone()
        return int(n)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
