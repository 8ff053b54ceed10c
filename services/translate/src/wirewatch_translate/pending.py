"""Stories whose rendition waits for a package, kept in a small SQLite file so they can be re-translated.

A rendition waits when it was `unavailable` (no package for the pair) or `failed` because its
package did not load. The broker keeps nothing across restarts, so once the package is there and
works the service re-translates these stories from here, without asking ingest for them again.
One row per story and target language; a newer version of a story replaces an older one. Each
row counts the re-translations that failed because of the story, so a story that cannot be
translated is given up on instead of retried forever; waiting for a package counts nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wirewatch_common.story import Story


@dataclass(frozen=True)
class PendingEntry:
    """A story waiting for a rendition in `target`, and how its re-translations went so far."""

    story: Story
    target: str
    attempts: int = 0
    error: str | None = None
    reason: str = ""
    """Why it waits: the `unavailable` rendition's reason, or the error of the package that failed."""


class PendingStore:
    """SQLite-backed set of (story, target language) awaiting a model."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # Replicas may share the file (one compose volume): wait for a lock rather than fail.
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS pending (
                story_id TEXT NOT NULL, target TEXT NOT NULL, version INTEGER NOT NULL,
                source TEXT NOT NULL, story TEXT NOT NULL, reason TEXT NOT NULL, added_at TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
                PRIMARY KEY (story_id, target))"""
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(pending)")}
        if "attempts" not in columns:  # a file written before attempts were counted
            self._db.execute("ALTER TABLE pending ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
            self._db.execute("ALTER TABLE pending ADD COLUMN last_error TEXT")

    def add(self, story: Story, target: str, reason: str) -> None:
        """Remember a story that could not be translated into `target` (newest version wins).

        Adding the same version again updates its reason and keeps its failed attempts.
        """
        with self._lock:
            self._db.execute(
                """INSERT INTO pending
                   (story_id, target, version, source, story, reason, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (story_id, target) DO UPDATE SET version = excluded.version,
                   source = excluded.source, story = excluded.story, reason = excluded.reason,
                   added_at = excluded.added_at,
                   attempts = CASE WHEN excluded.version > pending.version THEN 0 ELSE pending.attempts END,
                   last_error = CASE WHEN excluded.version > pending.version THEN NULL ELSE pending.last_error END
                   WHERE excluded.version >= pending.version""",
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

    def fail(self, story_id: str, target: str, version: int, error: str) -> int:
        """Count a failed re-translation of this version; return its failures so far (0: not pending)."""
        key = (story_id, target, version)
        with self._lock:
            self._db.execute(
                """UPDATE pending SET attempts = attempts + 1, last_error = ?
                   WHERE story_id = ? AND target = ? AND version = ?""",
                (error, *key),
            )
            row = self._db.execute(
                "SELECT attempts FROM pending WHERE story_id = ? AND target = ? AND version = ?", key
            ).fetchone()
        return int(row[0]) if row else 0

    def resolve(self, story_id: str, target: str, version: int) -> None:
        """Forget a story once a rendition of this version (or newer) was produced."""
        with self._lock:
            self._db.execute(
                "DELETE FROM pending WHERE story_id = ? AND target = ? AND version <= ?",
                (story_id, target, version),
            )

    def entries(self, limit: int = 10_000) -> list[PendingEntry]:
        """Return pending entries with their failed attempts, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT story, target, attempts, last_error, reason FROM pending ORDER BY added_at LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            PendingEntry(Story.from_json(raw), target, int(n), error, reason)
            for raw, target, n, error, reason in rows
        ]

    def items(self, limit: int = 10_000) -> list[tuple[Story, str]]:
        """Return pending (story, target) entries, oldest first."""
        return [(e.story, e.target) for e in self.entries(limit)]

    def count(self) -> int:
        """How many renditions are waiting for a model."""
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM pending").fetchone()
        return int(n)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
