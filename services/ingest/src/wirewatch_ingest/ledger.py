"""The durable ingest ledger (SQLite): every accepted story version, its last delivery and its index receipt.

The broker may lose everything (tansu keeps messages in memory), so what ingest accepted lives
here until the index service confirms it; the re-publisher sends again whatever has no receipt and
is no longer on its way. Each delivery records where the broker stored the version (topic,
partition, offset), so the re-publisher can ask the broker whether it still holds it.
Which versions are kept (duplicates, stale versions, version numbers) is decided by the pure rule
in `versions.py`; the ledger reads what it holds for a story and stores what the rule accepts.

Durability: the database is in WAL mode. An admission is committed with `synchronous=FULL`, so
the WAL is fsynced before `admit` returns: an accepted story survives a process crash, an OS
crash and a power cut (on a disk that honours fsync). Admissions are group-committed: callers
that arrive while a commit is under way queue up and the next commit takes all of them in one
transaction and one fsync, and none of them returns before that fsync. Delivery notes
(`delivered`) are committed with `synchronous=NORMAL` (no fsync of their own, made durable by
the next synced commit or checkpoint): losing one in a power cut only means the story is
published once more, which consumers absorb (the story id is the key and the document id).

What the pipeline calls (`admit`, `forget`, `delivered`) turns an SQLite failure into
`LedgerUnavailable` here, so nothing above the ledger needs to know it is SQLite.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from wirewatch_common.errors import brief
from wirewatch_common.sqlite import write_transaction
from wirewatch_common.story import Receipt, RenditionStatus, Story, primary_language

from .errors import LedgerUnavailable
from .versions import Outcome as Outcome
from .versions import Version, decide
from .versions import content_hash as content_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    versioncreated TEXT NOT NULL,
    language TEXT NOT NULL,
    story TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    delivered_at TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0,
    receipt_at TEXT,
    delivered_topic TEXT,
    delivered_partition INTEGER,
    delivered_offset INTEGER,
    PRIMARY KEY (id, version)
);
CREATE INDEX IF NOT EXISTS versions_hash ON versions (id, content_hash);
CREATE INDEX IF NOT EXISTS versions_pending ON versions (receipt_at, delivered_at);
CREATE TABLE IF NOT EXISTS receipts (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    language TEXT NOT NULL,
    PRIMARY KEY (id, version, language)
);
"""

_ADDED_COLUMNS = {
    "delivered_topic": "TEXT",
    "delivered_partition": "INTEGER",
    "delivered_offset": "INTEGER",
}
"""Columns a ledger written before positions were recorded lacks; added on open (empty: position unknown)."""

log = logging.getLogger(__name__)

ORIGINAL = "original"
ALERTS_PREFIX = "alerts:"
"""Receipts of the alerts service are kept per language under this prefix."""
"""How the receipts table names the original's own receipt (renditions go by their language)."""


@dataclass(frozen=True)
class Admission:
    """A story as the ledger admitted it (with its final version), or why it was not.

    `value` is the story's JSON as stored (accepted stories only), so it is serialised once for
    the ledger and the broker alike.
    """

    outcome: Outcome
    story: Story
    value: bytes = b""


@dataclass(eq=False)
class _Waiting:
    """One caller's stories waiting for the next group commit."""

    stories: list[Story]
    now: datetime
    admissions: list[Admission] = field(default_factory=list)
    error: BaseException | None = None
    done: bool = False


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


@contextmanager
def _recording(action: str) -> Iterator[None]:
    """Turn an SQLite failure while `action` into LedgerUnavailable, logging the cause it hides."""
    try:
        yield
    except sqlite3.Error as exc:
        log.error("ledger write failed; nothing accepted", extra={"action": action, "error": brief(exc)})
        raise LedgerUnavailable from exc


class Position(Protocol):
    """Where the broker stored a message (the bus's `Delivery` is one)."""

    @property
    def topic(self) -> str:
        """Topic name."""
        ...

    @property
    def partition(self) -> int:
        """Partition number."""
        ...

    @property
    def offset(self) -> int:
        """Offset within the partition."""
        ...


@dataclass(frozen=True)
class Overdue:
    """A version without a receipt past the grace period, as the re-publisher weighs it.

    `value` is the stored JSON (parsed only if the version is sent again); `topic`, `partition`
    and `offset` say where its last delivery went (all None when unknown: accepted before
    positions were recorded, never delivered, or its delivery note was lost).
    """

    row: int
    id: str
    version: int
    value: str
    accepted_at: datetime
    delivered_at: datetime | None
    deliveries: int
    topic: str | None
    partition: int | None
    offset: int | None

    def story(self) -> Story:
        """Parse the stored story."""
        return Story.from_json(self.value)


class Ledger:
    """SQLite ledger, safe to share between the API, the drop folder, the poller and the re-publisher."""

    def __init__(self, path: Path, expect: Sequence[str] = (), *, alerts: bool = False) -> None:
        """Open the ledger; `expect` is the target languages each story version must be indexed in too.

        With `alerts`, a version is confirmed only when the alerts service matched each of its
        language versions as well: a broker that loses everything then loses no alert either.
        """
        self._expect = frozenset(primary_language(t) for t in expect)
        self._alerts = alerts
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an accepted story survives a power cut
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._group = threading.Condition(threading.Lock())
        self._queue: list[_Waiting] = []
        self._committing = False
        self.commits = 0  # synced admission commits, for tests and metrics

    def _migrate(self) -> None:
        """Add the columns a ledger file from an older release lacks; its rows keep them empty."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(versions)")}
        for name, kind in _ADDED_COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE versions ADD COLUMN {name} {kind}")

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction, taken at once, so a read-modify-write is never lost."""
        return write_transaction(self._db, self._lock)

    def admit(self, stories: list[Story], now: datetime) -> list[Admission]:
        """Record new story versions (not yet delivered), as `versions.decide` rules on each.

        An identical story (same content hash) already held is a duplicate; a version created before
        the newest one held is stale; otherwise it is accepted with a version above every one held.
        Stories of one call are decided in order, each seeing the versions stored before it.
        Returns once the admissions are committed and synced, sharing the commit with concurrent callers.
        Raises LedgerUnavailable when SQLite fails (nothing of this call is then held).
        """
        with _recording("admit"):
            return self._admit(stories, now)

    def _admit(self, stories: list[Story], now: datetime) -> list[Admission]:
        waiting = _Waiting(stories, now)
        with self._group:
            self._queue.append(waiting)
            while self._committing and not waiting.done:
                self._group.wait()
            if not waiting.done:  # no commit under way: lead one for everyone queued
                self._committing = True
                batch, self._queue = self._queue, []
        if not waiting.done:
            try:
                self._commit_group(batch)
            finally:
                with self._group:
                    for w in batch:
                        w.done = True
                    self._committing = False
                    self._group.notify_all()
        if waiting.error is not None:
            raise waiting.error
        return waiting.admissions

    def _commit_group(self, batch: list[_Waiting]) -> None:
        """Admit every queued caller's stories in one transaction; a caller's own failure is kept to it."""
        try:
            with self._tx() as db:
                for waiting in batch:
                    db.execute("SAVEPOINT caller")
                    try:
                        waiting.admissions = [
                            self._admit_one(db, story, waiting.now) for story in waiting.stories
                        ]
                    except Exception as exc:  # noqa: BLE001 - handed to its caller, the others still commit
                        db.execute("ROLLBACK TO caller")
                        waiting.error = exc
                        waiting.admissions = []
                    db.execute("RELEASE caller")
            self.commits += 1
        except BaseException as exc:
            for waiting in batch:
                waiting.error = waiting.error or exc
                waiting.admissions = []
            raise

    @staticmethod
    def _admit_one(db: sqlite3.Connection, story: Story, now: datetime) -> Admission:
        incoming = Version.of(story)
        held = [
            Version(int(version), datetime.fromisoformat(created), str(digest))
            for version, created, digest in db.execute(
                "SELECT version, versioncreated, content_hash FROM versions WHERE id = ?", (story.id,)
            )
        ]
        decision = decide(incoming, held)
        if decision.outcome is not Outcome.ACCEPTED:
            return Admission(decision.outcome, story)
        version = decision.version
        final = story if version == story.version else story.model_copy(update={"version": version})
        value = final.to_json()
        db.execute(
            "INSERT INTO versions (id, version, content_hash, versioncreated, language, story, accepted_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                final.id,
                final.version,
                incoming.content_hash,
                _iso(final.versioncreated),
                final.language,
                value.decode(),
                _iso(now),
            ),
        )
        return Admission(Outcome.ACCEPTED, final, value)

    def forget(self, stories: list[Story]) -> None:
        """Remove versions whose first delivery failed, so the sender's retry is not taken for a duplicate."""
        with _recording("forget"), self._tx() as db:
            db.executemany(
                "DELETE FROM versions WHERE id = ? AND version = ? AND deliveries = 0",
                [(s.id, s.version) for s in stories],
            )

    def delivered(
        self, stories: Sequence[Story], now: datetime, positions: Sequence[Position] | None = None
    ) -> None:
        """Note that the broker confirmed these versions now, and where it stored each (same order).

        Without `positions` the stored position is cleared (unknown), so the re-publisher does not
        look for the version where an earlier delivery went. Written without waiting for the disk:
        losing this note in a power cut only means the story is published once more (at least
        once), while the acceptance itself is always synced.
        """
        if positions is not None and len(positions) != len(stories):
            msg = f"delivered() got {len(positions)} positions for {len(stories)} stories"
            raise ValueError(msg)
        places: Sequence[Position | None] = positions if positions is not None else [None] * len(stories)
        rows = [
            (
                _iso(now),
                None if p is None else p.topic,
                None if p is None else p.partition,
                None if p is None else p.offset,
                s.id,
                s.version,
            )
            for s, p in zip(stories, places, strict=True)
        ]
        with _recording("delivered"), self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._tx() as db:
                    db.executemany(
                        "UPDATE versions SET delivered_at = ?, deliveries = deliveries + 1,"
                        " delivered_topic = ?, delivered_partition = ?, delivered_offset = ?"
                        " WHERE id = ? AND version = ?",
                        rows,
                    )
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def mark_receipts(self, receipts: list[Receipt]) -> int:
        """Mark versions the index confirmed in every language: the original's and each expected target's.

        The original's receipt alone does not confirm a version: a rendition lost with the broker
        must be made again, so the version stays unconfirmed (and is re-published) until every
        language version was indexed (`failed` and `unavailable` renditions are indexed too).
        A confirmed version N confirms every older version.
        """
        with self._tx() as db:
            changed = 0
            for r in receipts:
                if r.status is RenditionStatus.PARTIAL:
                    continue  # only the full rendition confirms (its headline came first)
                language = ORIGINAL if r.status is None else primary_language(r.language)
                if r.service == "alerts":
                    language = f"{ALERTS_PREFIX}{language}"
                db.execute(
                    "INSERT OR IGNORE INTO receipts (id, version, language) VALUES (?, ?, ?)",
                    (r.story_id, r.version, language),
                )
                row = db.execute(
                    "SELECT language FROM versions WHERE id = ? AND version = ?", (r.story_id, r.version)
                ).fetchone()
                if row is None:
                    continue
                have = {
                    lang
                    for (lang,) in db.execute(
                        "SELECT language FROM receipts WHERE id = ? AND version = ?", (r.story_id, r.version)
                    )
                }
                needed = {ORIGINAL, *(self._expect - {primary_language(row[0])})}
                if self._alerts:
                    needed |= {f"{ALERTS_PREFIX}{lang}" for lang in needed}
                if not needed <= have:
                    continue
                cursor = db.execute(
                    "UPDATE versions SET receipt_at = ? WHERE id = ? AND version <= ? AND receipt_at IS NULL",
                    (_iso(r.indexed_at), r.story_id, r.version),
                )
                changed += cursor.rowcount
            return changed

    def unconfirmed(self, now: datetime, grace: timedelta, limit: int = 500) -> list[Story]:
        """Versions without a receipt whose last delivery (or acceptance) is older than the grace period."""
        cutoff = _iso(now - grace)
        with self._lock:
            rows = self._db.execute(
                "SELECT story FROM versions WHERE receipt_at IS NULL"
                " AND COALESCE(delivered_at, accepted_at) <= ? ORDER BY accepted_at LIMIT ?",
                (cutoff, limit),
            ).fetchall()
        return [Story.from_json(row[0]) for row in rows]

    def overdue(self, now: datetime, grace: timedelta, *, after: int = 0, limit: int = 500) -> list[Overdue]:
        """Like `unconfirmed`, with where each went, a page at a time: rows after `after` (an `Overdue.row`)."""
        cutoff = _iso(now - grace)
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid, id, version, story, accepted_at, delivered_at, deliveries,"
                " delivered_topic, delivered_partition, delivered_offset FROM versions"
                " WHERE receipt_at IS NULL AND COALESCE(delivered_at, accepted_at) <= ? AND rowid > ?"
                " ORDER BY rowid LIMIT ?",
                (cutoff, after, limit),
            ).fetchall()
        return [
            Overdue(
                row=int(r[0]),
                id=str(r[1]),
                version=int(r[2]),
                value=str(r[3]),
                accepted_at=datetime.fromisoformat(r[4]),
                delivered_at=None if r[5] is None else datetime.fromisoformat(r[5]),
                deliveries=int(r[6]),
                topic=r[7],
                partition=None if r[8] is None else int(r[8]),
                offset=None if r[9] is None else int(r[9]),
            )
            for r in rows
        ]

    def confirmed(self, versions: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """Which of these (id, version) pairs have a receipt by now."""
        found: set[tuple[str, int]] = set()
        with self._lock:
            for story_id, version in versions:
                row = self._db.execute(
                    "SELECT 1 FROM versions WHERE id = ? AND version = ? AND receipt_at IS NOT NULL",
                    (story_id, version),
                ).fetchone()
                if row is not None:
                    found.add((story_id, version))
        return found

    def position(self, story_id: str, version: int) -> tuple[str, int, int] | None:
        """Where the last delivery of a version went, or None (for tests and the API)."""
        with self._lock:
            row = self._db.execute(
                "SELECT delivered_topic, delivered_partition, delivered_offset FROM versions"
                " WHERE id = ? AND version = ?",
                (story_id, version),
            ).fetchone()
        if row is None or None in row:
            return None
        return str(row[0]), int(row[1]), int(row[2])

    def prune(self, before: datetime) -> int:
        """Drop confirmed versions accepted before `before`, keeping each story's newest version.

        The newest version stays so that versions keep rising and an old re-delivery is still
        recognised as stale; everything the index has not confirmed stays, whatever its age.
        """
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM versions WHERE receipt_at IS NOT NULL AND accepted_at < ?"
                " AND version < (SELECT MAX(newest.version) FROM versions AS newest WHERE newest.id = versions.id)",
                (_iso(before),),
            )
            db.execute(
                "DELETE FROM receipts WHERE NOT EXISTS (SELECT 1 FROM versions"
                " WHERE versions.id = receipts.id AND versions.version = receipts.version)"
            )
            return cursor.rowcount

    def get(self, story_id: str) -> list[tuple[int, bool]]:
        """Versions held for a story, with whether each has a receipt (for tests and the API)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT version, receipt_at IS NOT NULL FROM versions WHERE id = ? ORDER BY version",
                (story_id,),
            ).fetchall()
        return [(int(v), bool(r)) for v, r in rows]

    def counts(self) -> dict[str, int]:
        """Totals for metrics: versions held, delivered, confirmed."""
        with self._lock:
            total, delivered, confirmed = self._db.execute(
                "SELECT COUNT(*), COUNT(delivered_at), COUNT(receipt_at) FROM versions"
            ).fetchone()
        return {"versions": int(total), "delivered": int(delivered), "confirmed": int(confirmed)}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
