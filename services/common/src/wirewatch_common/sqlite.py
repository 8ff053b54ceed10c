"""SQLite for the services' small local stores (the ingest ledger, watchlists, translate's pending queue)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


@contextmanager
def write_transaction(
    db: sqlite3.Connection, lock: AbstractContextManager[object]
) -> Iterator[sqlite3.Connection]:
    """One write transaction taken at once (BEGIN IMMEDIATE), so a read-modify-write is never lost.

    The connection must be in autocommit mode (`isolation_level=None`); any error rolls it back.
    """
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def open_shared(path: Path, schema: str, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """Open a store file that several threads and processes on one host share, creating its tables.

    Autocommit mode (for `write_transaction`), WAL, a busy timeout so a writer waits for another
    process's transaction, and synchronous commits so what was written survives a power cut.
    Raises sqlite3.Error; the caller names its store in the error it raises.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, check_same_thread=False, isolation_level=None)
    db.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    # executescript commits any open transaction first, so the script carries its own.
    db.executescript(f"BEGIN IMMEDIATE;{schema}COMMIT;")
    return db
