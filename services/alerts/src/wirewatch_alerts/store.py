"""Where watchlists live: the `WatchlistStore` port and its SQLite adapter under DATA_DIR.

Watchlists are configuration a desk wrote by hand, so they live on disk, not in the broker: the
embedded broker keeps everything in memory and losing it must lose no watchlist. The SQLite file
(WAL, a busy timeout, synchronous commits) is shared by every process on one host that opens it,
so API replicas and, later, matching workers on that host read and write one set; each change also
bumps `revision()`, which a matcher polls to know when to reload its watchlists.

With Elasticsearch, matching will keep the watchlists' queries in a percolator index (queries stored
as documents, each story percolated against them); that store comes with matching, behind this same
port, so replicas on several hosts share one set too.

The file holds webhook secrets in the clear (deliveries are signed with them), so it is created
readable by its owner only; feed tokens are kept only as SHA-256 digests.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from wirewatch_common.errors import brief
from wirewatch_common.sqlite import open_shared, write_transaction

from .errors import DuplicateName, StoreUnavailable, TooManyWatchlists, WatchlistNotFound
from .watchlists import Watchlist

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
"""How long a write waits for another process's transaction before the store reports itself unavailable."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watchlists (
    id TEXT PRIMARY KEY,
    name_key TEXT NOT NULL UNIQUE,
    created_us INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS watchlists_by_age ON watchlists (created_us, id);
CREATE TABLE IF NOT EXISTS revision (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO revision (one, value) VALUES (1, 0);
"""


class WatchlistStore(Protocol):
    """Every watchlist, shared by the processes that serve and match them."""

    def add(self, watchlist: Watchlist) -> None:
        """Store a new watchlist; raise DuplicateName or TooManyWatchlists."""
        ...

    def get(self, watchlist_id: str) -> Watchlist:
        """Return one watchlist; raise WatchlistNotFound."""
        ...

    def page(self, limit: int, offset: int = 0) -> list[Watchlist]:
        """Watchlists oldest first, `limit` of them after skipping `offset`."""
        ...

    def count(self) -> int:
        """How many watchlists there are."""
        ...

    def all(self) -> list[Watchlist]:
        """Every watchlist, oldest first (what a matcher loads)."""
        ...

    def update(self, watchlist_id: str, change: Callable[[Watchlist], Watchlist]) -> Watchlist:
        """Replace a watchlist by `change(current)` atomically; raise WatchlistNotFound or DuplicateName."""
        ...

    def remove(self, watchlist_id: str) -> None:
        """Delete a watchlist; raise WatchlistNotFound."""
        ...

    def revision(self) -> int:
        """A number that grows with every change, whichever process made it."""
        ...

    def health(self) -> bool:
        """Tell whether the store can be read."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


def _micros(watchlist: Watchlist) -> int:
    created = watchlist.created_at
    return int(created.timestamp()) * 1_000_000 + created.microsecond


class SqliteWatchlistStore:
    """Watchlists in one SQLite file; safe to share between threads and between processes on a host."""

    def __init__(self, path: Path, *, max_watchlists: int = 50_000) -> None:
        """Open (or create) the store at `path`; `max_watchlists` bounds what `add` accepts."""
        self.path = path
        self.max_watchlists = max_watchlists
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Created owner-only before SQLite opens it: the file holds webhook secrets.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self._db = open_shared(path, _SCHEMA, BUSY_TIMEOUT_MS)
        except sqlite3.Error as exc:
            msg = f"cannot open the watchlist store at {path}: {brief(exc)}"
            raise StoreUnavailable(msg) from exc

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction, taken at once, so a read-modify-write is never lost."""
        return write_transaction(self._db, self._lock)

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn an SQLite failure into StoreUnavailable, logging the cause it hides from callers."""
        try:
            yield
        except sqlite3.Error as exc:
            log.error("watchlist store failed", extra={"action": action, "error": brief(exc)})
            msg = f"the watchlist store failed to {action}: {brief(exc)}"
            raise StoreUnavailable(msg) from exc

    @staticmethod
    def _bump(db: sqlite3.Connection) -> None:
        db.execute("UPDATE revision SET value = value + 1 WHERE one = 1")

    @staticmethod
    def _taken(db: sqlite3.Connection, watchlist: Watchlist) -> None:
        row = db.execute(
            "SELECT id FROM watchlists WHERE name_key = ? AND id != ?", (watchlist.name_key, watchlist.id)
        ).fetchone()
        if row is not None:
            msg = f"another watchlist ({row[0]}) is already named {watchlist.name!r}; choose another name"
            raise DuplicateName(msg, where={"in": "body", "field": "name"})

    def add(self, watchlist: Watchlist) -> None:
        """Store a new watchlist; raise DuplicateName or TooManyWatchlists."""
        with self._guard("add a watchlist"), self._tx() as db:
            (count,) = db.execute("SELECT count(*) FROM watchlists").fetchone()
            if count >= self.max_watchlists:
                msg = (
                    f"the store holds {count} watchlists, its limit; delete some or raise "
                    "WIREWATCH_ALERTS_MAX_WATCHLISTS"
                )
                raise TooManyWatchlists(msg)
            self._taken(db, watchlist)
            db.execute(
                "INSERT INTO watchlists (id, name_key, created_us, body) VALUES (?, ?, ?, ?)",
                (watchlist.id, watchlist.name_key, _micros(watchlist), watchlist.stored()),
            )
            self._bump(db)

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[Watchlist]:
        with self._guard("read watchlists"), self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [Watchlist.model_validate_json(row[0]) for row in rows]

    def get(self, watchlist_id: str) -> Watchlist:
        """Return one watchlist; raise WatchlistNotFound."""
        found = self._read("SELECT body FROM watchlists WHERE id = ?", (watchlist_id,))
        if not found:
            raise WatchlistNotFound(_missing(watchlist_id), where={"in": "path", "field": "watchlist_id"})
        return found[0]

    def page(self, limit: int, offset: int = 0) -> list[Watchlist]:
        """Watchlists oldest first, `limit` of them after skipping `offset`."""
        return self._read(
            "SELECT body FROM watchlists ORDER BY created_us, id LIMIT ? OFFSET ?", (limit, offset)
        )

    def all(self) -> list[Watchlist]:
        """Every watchlist, oldest first."""
        return self._read("SELECT body FROM watchlists ORDER BY created_us, id")

    def count(self) -> int:
        """How many watchlists there are."""
        with self._guard("count watchlists"), self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM watchlists").fetchone()
        return int(count)

    def update(self, watchlist_id: str, change: Callable[[Watchlist], Watchlist]) -> Watchlist:
        """Replace a watchlist by `change(current)` in one transaction; raise WatchlistNotFound or DuplicateName.

        `change` runs while the write lock is held, so two processes changing one watchlist at once
        each see the other's result, never the same old version.
        """
        with self._guard("change a watchlist"), self._tx() as db:
            row = db.execute("SELECT body FROM watchlists WHERE id = ?", (watchlist_id,)).fetchone()
            if row is None:
                raise WatchlistNotFound(_missing(watchlist_id), where={"in": "path", "field": "watchlist_id"})
            current = Watchlist.model_validate_json(row[0])
            changed = change(current)
            if changed is current or changed == current:
                return current
            if changed.id != current.id:
                msg = f"a change may not alter a watchlist's id ({current.id} → {changed.id})"
                raise ValueError(msg)
            self._taken(db, changed)
            db.execute(
                "UPDATE watchlists SET name_key = ?, body = ? WHERE id = ?",
                (changed.name_key, changed.stored(), changed.id),
            )
            self._bump(db)
        return changed

    def remove(self, watchlist_id: str) -> None:
        """Delete a watchlist; raise WatchlistNotFound."""
        with self._guard("delete a watchlist"), self._tx() as db:
            if db.execute("DELETE FROM watchlists WHERE id = ?", (watchlist_id,)).rowcount == 0:
                raise WatchlistNotFound(_missing(watchlist_id), where={"in": "path", "field": "watchlist_id"})
            self._bump(db)

    def revision(self) -> int:
        """A number that grows with every change, whichever process made it."""
        with self._guard("read the revision"), self._lock:
            (value,) = self._db.execute("SELECT value FROM revision WHERE one = 1").fetchone()
        return int(value)

    def health(self) -> bool:
        """Tell whether the store answers a read."""
        self.revision()
        return True

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


def _missing(watchlist_id: str) -> str:
    return f"no watchlist {watchlist_id!r}; `GET /v1/watchlists` lists them"
