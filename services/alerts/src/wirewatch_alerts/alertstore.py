"""Where alerts and their deliveries live: SQLite under DATA_DIR, next to the watchlists.

The matcher records a batch's alerts and the events channels must hear of in ONE transaction
(`record`), before its consumer acknowledges the batch: a crash between the two replays the batch,
and the rules of `alerting` make a replay change nothing. The outbox rows are what delivery lanes
work from, one lane per endpoint, so a dead webhook never holds up another channel.

Times are stored as integer microseconds since the epoch (UTC).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wirewatch_common.alert_event import AlertEvent, EventKind, StoryRef, WatchlistRef
from wirewatch_common.errors import brief
from wirewatch_common.sqlite import open_shared, write_transaction

from .alerting import AlertRow, Change, ChannelType, Hit, best_hits, channel_key, event_of, on_hit, on_kill
from .errors import StoreUnavailable
from .watchlists import Watchlist

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
MAX_ERROR_CHARS = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    watchlist_id TEXT NOT NULL,
    story_id TEXT NOT NULL,
    state TEXT NOT NULL,
    story TEXT NOT NULL,
    matched_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    release_us INTEGER NOT NULL,
    visible_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_watchlist ON alerts (watchlist_id, visible_us);
CREATE INDEX IF NOT EXISTS alerts_by_story ON alerts (story_id);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    watchlist_id TEXT NOT NULL,
    channel_key TEXT NOT NULL,
    channel_type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    due_us INTEGER NOT NULL,
    next_us INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    last_error TEXT,
    done_us INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, channel_key, next_us);
CREATE INDEX IF NOT EXISTS outbox_by_alert ON outbox (alert_id);
CREATE INDEX IF NOT EXISTS outbox_by_watchlist ON outbox (watchlist_id, state);
"""


def micros(when: datetime) -> int:
    """Microseconds since the epoch, exact (no float)."""
    delta = when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """The inverse of `micros`."""
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)


@dataclass(frozen=True)
class Delivery:
    """One event waiting to reach one endpoint."""

    id: str
    event_id: str
    event: EventKind
    alert_id: str
    watchlist_id: str
    channel_key: str
    channel_type: ChannelType
    body: bytes
    """The event as JSON (`AlertEvent.to_json()`), what a webhook posts and Kafka carries."""
    due_at: datetime
    attempts: int


@dataclass(frozen=True)
class LaneState:
    """A delivery lane's backlog and failures, for status and metrics."""

    channel_key: str
    channel_type: ChannelType
    pending: int
    failed: int
    delivered: int
    oldest_due: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Recorded:
    """What one batch changed: the alerts written and the events channels will hear of."""

    changes: list[Change]
    events: list[AlertEvent]


def _row(values: tuple[object, ...]) -> AlertRow:
    alert, watchlist_id, state, story, matched, updated, release = values
    return AlertRow(
        id=str(alert),
        watchlist_id=str(watchlist_id),
        state="withdrawn" if state == "withdrawn" else "active",
        story=StoryRef.model_validate_json(str(story)),
        matched_at=from_micros(int(str(matched))),
        updated_at=from_micros(int(str(updated))),
        release_at=from_micros(int(str(release))),
    )


_LANE_COLUMNS = (
    "SELECT channel_key, channel_type, sum(state = 'pending'), sum(state = 'failed'), sum(state = 'delivered'),"
    " min(CASE WHEN state = 'pending' THEN due_us END),"
    # The latest error, not the greatest: each error prefixed with its time, the time cut off again.
    " substr(max(printf('%020d', COALESCE(done_us, next_us)) || last_error), 21) FROM outbox"
)
_LANES = f"{_LANE_COLUMNS} GROUP BY channel_key, channel_type ORDER BY channel_key"
_LANES_OF = f"{_LANE_COLUMNS} WHERE watchlist_id = ? GROUP BY channel_key, channel_type ORDER BY channel_key"
_LANES_BY_WATCHLIST = _LANE_COLUMNS.replace("SELECT ", "SELECT watchlist_id, ", 1) + (
    " GROUP BY watchlist_id, channel_key, channel_type ORDER BY watchlist_id, channel_key"
)
_ROW_COLUMNS = "id, watchlist_id, state, story, matched_us, updated_us, release_us"


class AlertStore:
    """Alerts and the outbox in one SQLite file; safe to share between threads and processes on a host."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the store at `path`."""
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = open_shared(path, _SCHEMA, BUSY_TIMEOUT_MS)
        except sqlite3.Error as exc:
            msg = f"cannot open the alert store at {path}: {brief(exc)}"
            raise StoreUnavailable(msg) from exc

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self._lock)

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            log.error("alert store failed", extra={"action": action, "error": brief(exc)})
            msg = f"the alert store failed to {action}: {brief(exc)}"
            raise StoreUnavailable(msg) from exc

    # ------------------------------------------------------------------ recording

    def record(
        self,
        hits: Sequence[Hit],
        kills: Sequence[tuple[str, int]],
        watchlists: Mapping[str, Watchlist],
        now: datetime,
    ) -> Recorded:
        """Apply a batch's matches and kills (story id, version) in one transaction; return what changed.

        Hits of watchlists no longer in `watchlists` are ignored (deleted while the batch was matched).
        """
        changes: list[Change] = []
        events: list[AlertEvent] = []
        with self._guard("record alerts"), self._tx() as db:
            for hit in best_hits(hits):
                watchlist = watchlists.get(hit.watchlist_id)
                if watchlist is None:
                    continue
                current = self._current(db, hit.watchlist_id, hit.story.id)
                change = on_hit(current, hit, notify_updates=watchlist.notify_updates, now=now)
                if change is not None:
                    events.extend(self._apply(db, change, watchlist, now))
                    changes.append(change)
            for story_id, version in kills:
                for current in self._of_story(db, story_id):
                    change = on_kill(current, version, now)
                    watchlist = watchlists.get(current.watchlist_id)
                    if change is None or watchlist is None:
                        continue
                    events.extend(self._apply(db, change, watchlist, now))
                    changes.append(change)
        return Recorded(changes, events)

    @staticmethod
    def _current(db: sqlite3.Connection, watchlist_id: str, story_id: str) -> AlertRow | None:
        row = db.execute(
            f"SELECT {_ROW_COLUMNS} FROM alerts WHERE watchlist_id = ? AND story_id = ?",  # noqa: S608
            (watchlist_id, story_id),
        ).fetchone()
        return None if row is None else _row(row)

    @staticmethod
    def _of_story(db: sqlite3.Connection, story_id: str) -> list[AlertRow]:
        rows = db.execute(f"SELECT {_ROW_COLUMNS} FROM alerts WHERE story_id = ?", (story_id,)).fetchall()  # noqa: S608
        return [_row(r) for r in rows]

    def _apply(
        self, db: sqlite3.Connection, change: Change, watchlist: Watchlist, now: datetime
    ) -> list[AlertEvent]:
        row = change.row
        db.execute(
            "INSERT INTO alerts (id, watchlist_id, story_id, state, story, matched_us, updated_us,"
            " release_us, visible_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET state = excluded.state, story = excluded.story,"
            " updated_us = excluded.updated_us, release_us = excluded.release_us,"
            " visible_us = excluded.visible_us",
            (
                row.id,
                row.watchlist_id,
                row.story.id,
                row.state,
                row.story.model_dump_json(exclude_none=True),
                micros(row.matched_at),
                micros(row.updated_at),
                micros(row.release_at),
                micros(row.visible_at),
            ),
        )
        if change.event is None:
            return []
        event = event_of(change, WatchlistRef(id=watchlist.id, name=watchlist.name), now)
        lanes = [key for key in map(channel_key, watchlist.channels) if key is not None]
        if change.event is EventKind.WITHDRAWN:
            lanes = self._told(db, row.id, lanes, now)
        due = micros(row.release_at) if change.event is not EventKind.WITHDRAWN else micros(now)
        for key, kind in lanes:
            db.execute(
                "INSERT OR IGNORE INTO outbox (id, event_id, event, alert_id, watchlist_id, channel_key,"
                " channel_type, body, created_us, due_us, next_us, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                (
                    f"{event.event_id}|{key}",
                    event.event_id,
                    event.event.value,
                    row.id,
                    row.watchlist_id,
                    key,
                    kind,
                    event.to_json().decode(),
                    micros(now),
                    due,
                    due,
                ),
            )
        return [event]

    @staticmethod
    def _told(
        db: sqlite3.Connection, alert: str, lanes: list[tuple[str, ChannelType]], now: datetime
    ) -> list[tuple[str, ChannelType]]:
        """Lanes that delivered (or may be delivering) news of the alert; undelivered news is dropped."""
        db.execute(
            "UPDATE outbox SET state = 'dropped', done_us = ?, last_error = 'story killed before delivery'"
            " WHERE alert_id = ? AND state = 'pending' AND attempts = 0",
            (micros(now), alert),
        )
        told = {
            key
            for (key,) in db.execute(
                "SELECT DISTINCT channel_key FROM outbox WHERE alert_id = ? AND state != 'dropped'"
                " AND event != 'withdrawn'",
                (alert,),
            )
        }
        return [(key, kind) for key, kind in lanes if key in told]

    def purge(self, keep: set[str]) -> int:
        """Delete alerts and pending deliveries of watchlists not in `keep` (deleted watchlists)."""
        with self._guard("purge alerts"), self._tx() as db:
            gone = [
                wl
                for (wl,) in db.execute("SELECT DISTINCT watchlist_id FROM alerts").fetchall()
                if wl not in keep
            ]
            for wl in gone:
                db.execute("DELETE FROM alerts WHERE watchlist_id = ?", (wl,))
                db.execute("DELETE FROM outbox WHERE watchlist_id = ? AND state = 'pending'", (wl,))
        return len(gone)

    # ------------------------------------------------------------------ reading

    def alerts(
        self,
        watchlist_id: str,
        now: datetime,
        *,
        limit: int = 50,
        since: datetime | None = None,
        before: datetime | None = None,
    ) -> list[AlertRow]:
        """Released alerts of a watchlist, latest change first; `since`/`before` bound the change time."""
        low = micros(since) + 1 if since is not None else 0
        high = min(micros(now), micros(before) - 1 if before is not None else micros(now))
        with self._guard("read alerts"), self._lock:
            rows = self._db.execute(
                f"SELECT {_ROW_COLUMNS} FROM alerts WHERE watchlist_id = ? AND release_us <= ?"  # noqa: S608
                " AND visible_us BETWEEN ? AND ? ORDER BY visible_us DESC, id LIMIT ?",
                (watchlist_id, micros(now), low, high, limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def get(self, alert: str) -> AlertRow | None:
        """One alert by id, released or not."""
        with self._guard("read an alert"), self._lock:
            row = self._db.execute(f"SELECT {_ROW_COLUMNS} FROM alerts WHERE id = ?", (alert,)).fetchone()  # noqa: S608
        return None if row is None else _row(row)

    def count(self, watchlist_id: str, now: datetime, since: datetime | None = None) -> int:
        """How many released active alerts a watchlist has changed after `since` (unread counts)."""
        low = micros(since) + 1 if since is not None else 0
        with self._guard("count alerts"), self._lock:
            (n,) = self._db.execute(
                "SELECT count(*) FROM alerts WHERE watchlist_id = ? AND state = 'active' AND release_us <= ?"
                " AND visible_us BETWEEN ? AND ?",
                (watchlist_id, micros(now), low, micros(now)),
            ).fetchone()
        return int(n)

    def last_matches(self) -> dict[str, datetime]:
        """Each watchlist's latest alert change, for status."""
        with self._guard("read alerts"), self._lock:
            rows = self._db.execute("SELECT watchlist_id, max(updated_us) FROM alerts GROUP BY watchlist_id")
            return {str(wl): from_micros(int(us)) for wl, us in rows.fetchall()}

    def all_alerts(self) -> list[AlertRow]:
        """Every alert, released or not (tests and the fault drill's count)."""
        with self._guard("read alerts"), self._lock:
            rows = self._db.execute(f"SELECT {_ROW_COLUMNS} FROM alerts ORDER BY matched_us, id").fetchall()  # noqa: S608
        return [_row(r) for r in rows]

    # ------------------------------------------------------------------ outbox

    def lanes(self, now: datetime) -> list[tuple[str, ChannelType]]:
        """Endpoints with a delivery due now."""
        with self._guard("read the outbox"), self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT channel_key, channel_type FROM outbox WHERE state = 'pending' AND next_us <= ?",
                (micros(now),),
            ).fetchall()
        return [(str(k), _kind(t)) for k, t in rows]

    def due(self, key: str, now: datetime, limit: int = 100) -> list[Delivery]:
        """A lane's deliveries due now, in the order their events were made."""
        with self._guard("read the outbox"), self._lock:
            rows = self._db.execute(
                "SELECT id, event_id, event, alert_id, watchlist_id, channel_key, channel_type, body, due_us,"
                " attempts FROM outbox WHERE state = 'pending' AND channel_key = ? AND next_us <= ?"
                " ORDER BY created_us, id LIMIT ?",
                (key, micros(now), limit),
            ).fetchall()
        return [
            Delivery(
                id=str(r[0]),
                event_id=str(r[1]),
                event=EventKind(r[2]),
                alert_id=str(r[3]),
                watchlist_id=str(r[4]),
                channel_key=str(r[5]),
                channel_type=_kind(r[6]),
                body=str(r[7]).encode(),
                due_at=from_micros(int(r[8])),
                attempts=int(r[9]),
            )
            for r in rows
        ]

    def delivered(self, ids: Sequence[str], now: datetime) -> None:
        """Mark deliveries done."""
        with self._guard("mark deliveries"), self._tx() as db:
            db.executemany(
                "UPDATE outbox SET state = 'delivered', done_us = ?, attempts = attempts + 1 WHERE id = ?",
                [(micros(now), i) for i in ids],
            )

    def retry(self, delivery: str, error: str, next_at: datetime) -> None:
        """Count a failed attempt and schedule the next one."""
        with self._guard("mark a delivery"), self._tx() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_us = ?, last_error = ? WHERE id = ?",
                (micros(next_at), error[:MAX_ERROR_CHARS], delivery),
            )

    def give_up(self, delivery: str, error: str, now: datetime) -> None:
        """Stop trying a delivery; it stays visible as failed."""
        with self._guard("mark a delivery"), self._tx() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, state = 'failed', done_us = ?, last_error = ?"
                " WHERE id = ?",
                (micros(now), error[:MAX_ERROR_CHARS], delivery),
            )

    def lane_states(self, watchlist_id: str | None = None) -> list[LaneState]:
        """Backlog, failures and deliveries per endpoint (of one watchlist, or of all)."""
        sql = _LANES if watchlist_id is None else _LANES_OF
        with self._guard("read the outbox"), self._lock:
            rows = self._db.execute(sql, () if watchlist_id is None else (watchlist_id,)).fetchall()
        return [_lane_state(r) for r in rows]

    def lane_states_by_watchlist(self) -> list[tuple[str, LaneState]]:
        """Every watchlist's lanes, in one read."""
        with self._guard("read the outbox"), self._lock:
            rows = self._db.execute(_LANES_BY_WATCHLIST).fetchall()
        return [(str(r[0]), _lane_state(r[1:])) for r in rows]

    def health(self) -> bool:
        """Tell whether the store can be read."""
        try:
            with self._lock:
                self._db.execute("SELECT 1 FROM alerts LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        """Release the store."""
        with self._lock:
            self._db.close()


def _lane_state(r: Sequence[Any]) -> LaneState:
    return LaneState(
        channel_key=str(r[0]),
        channel_type=_kind(r[1]),
        pending=int(r[2] or 0),
        failed=int(r[3] or 0),
        delivered=int(r[4] or 0),
        oldest_due=None if r[5] is None else from_micros(int(r[5])),
        last_error=None if r[6] is None else str(r[6]),
    )


def _kind(value: object) -> ChannelType:
    if value == "webhook":
        return "webhook"
    if value == "email":
        return "email"
    return "kafka"
