"""A translation memory: each sentence a package translated, kept on disk and reused instead of translated again.

Agencies re-send most of a story in every update (write-throughs, corrections, `UPDATE 1`) and
repeat boilerplate (disclaimers, `(Reporting by …)`); a sentence seen before costs a look-up
instead of model time. Pure SQLite, no engine: the translator asks for a batch's sentences in one
query, translates the rest, and hands the new ones back in one transaction.

An entry is keyed by the package (`package_key`: name, version, kind, the files' sizes, and how
it decodes) and a hash of the exact source sentence, so a test package and a real one, or two
versions of a package, never share an entry. Its value is everything a rendition takes from the
engine for that sentence: the output, the source token count, the model's token scores and the
characters copied untranslated, so the quality signals judged from a remembered sentence are the
ones judged when it was translated.

The file (WAL) is shared by the replicas of one host. Its size is bounded: every entry counts its
bytes (the output plus a fixed overhead for keys and index), triggers keep the running total in
the file itself, and when a write takes it over the bound the least recently used entries are
evicted until it is a tenth under, in one statement, so eviction is rare and never per sentence.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter, Gauge

from wirewatch_common.errors import brief
from wirewatch_common.sqlite import write_transaction

from .pairs import PackageInfo
from .quality import TokenScores

log = logging.getLogger(__name__)

HITS = Counter(
    "wirewatch_translate_memory_hits_total", "Sentences taken from the translation memory.", ["pair"]
)
MISSES = Counter(
    "wirewatch_translate_memory_misses_total",
    "Sentences the translation memory did not hold (sent to the model).",
    ["pair"],
)
EVICTIONS = Counter(
    "wirewatch_translate_memory_evictions_total",
    "Entries evicted from the translation memory, least recently used first.",
)
SIZE = Gauge(
    "wirewatch_translate_memory_bytes", "Bytes the translation memory's entries count against its bound."
)
ENTRIES = Gauge("wirewatch_translate_memory_entries", "Sentences held in the translation memory.")

ROW_OVERHEAD = 96
"""Bytes counted per entry besides its output text: keys, numbers, the last-use index entry, B-tree slack."""
EVICT_SHARE = 0.1
"""Share of the bound freed by one eviction, so evictions come in batches rather than on every write."""
TOUCH_AFTER_S = 60
"""A hit moves an entry's last use forward only when it is older than this: reads rarely write."""
QUERY_CHUNK = 500
"""Sentences per SELECT (SQLite's limit on bound parameters is 32,766 in current builds, 999 in old ones)."""
BUSY_TIMEOUT_MS = 5000
"""How long a replica waits for another's write lock; past it a write is skipped, never the story."""


@dataclass(frozen=True)
class Remembered:
    """One sentence as a package translated it: what a rendition and its quality signals take from the engine."""

    output: str
    source_tokens: int
    scores: TokenScores | None
    copied_chars: int = 0


def sentence_hash(sentence: str) -> bytes:
    """128-bit hash of the exact source sentence (the key; the sentence itself is not stored)."""
    return hashlib.blake2b(sentence.encode(), digest_size=16).digest()


def _package_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def package_key(info: PackageInfo, profile: str = "") -> str:
    """Name what makes a package's output what it is: name, version, pair, kind, files, decoding.

    The sizes of the model and tokenizer tell apart builds that share a name and version; a test
    package (random weights, whose version says nothing) also counts its model's modification time,
    so rebuilding one never serves the old build's text. `profile` names the decoding options.
    """
    parts = [info.name, info.version, f"{info.from_code}>{info.to_code}", info.kind]
    for name in ("model/model.bin", "sentencepiece.model"):
        try:
            stat = (info.path / name).stat()
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{stat.st_size}:{stat.st_mtime_ns}" if info.test else str(stat.st_size))
    parts.append(profile)
    return "|".join(parts)


_COLUMNS = "source, output, source_tokens, log_prob, scored_tokens, copied_chars, last_used"
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sentences (
        package INTEGER NOT NULL, source BLOB NOT NULL, output TEXT NOT NULL,
        source_tokens INTEGER NOT NULL, log_prob REAL, scored_tokens INTEGER,
        copied_chars INTEGER NOT NULL, last_used INTEGER NOT NULL, bytes INTEGER NOT NULL,
        PRIMARY KEY (package, source)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS sentences_by_use ON sentences (last_used)",
    """CREATE TABLE IF NOT EXISTS totals (
        id INTEGER PRIMARY KEY CHECK (id = 0), entries INTEGER NOT NULL, bytes INTEGER NOT NULL)""",
    "INSERT OR IGNORE INTO totals (id, entries, bytes) VALUES (0, 0, 0)",
    """CREATE TRIGGER IF NOT EXISTS sentence_added AFTER INSERT ON sentences BEGIN
        UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.bytes WHERE id = 0; END""",
    """CREATE TRIGGER IF NOT EXISTS sentence_removed AFTER DELETE ON sentences BEGIN
        UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.bytes WHERE id = 0; END""",
)


class TranslationMemory:
    """Sentences translated before, per package, in a size-bounded SQLite file shared by processes."""

    def __init__(self, path: Path, max_bytes: int, *, clock: Callable[[], float] = time.time) -> None:
        if max_bytes < 1:
            msg = f"the translation memory needs a positive size bound, got {max_bytes} bytes"
            raise ValueError(msg)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._touch: dict[tuple[int, bytes], None] = {}  # hits whose last use is to be moved forward
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a lost last write costs a re-translation, no more
        with write_transaction(self._db, self._lock) as db:
            for statement in _SCHEMA:
                db.execute(statement)
        self._publish_size()

    def _now(self) -> int:
        return int(self._clock())

    def recall(self, package: str, sentences: Iterable[str], pair: str = "") -> dict[str, Remembered]:
        """The entries held for these sentences of a package (one query per 500); hits and misses counted.

        A database that cannot be read (locked too long, damaged) answers nothing: the sentences
        are translated instead.
        """
        unique = list(dict.fromkeys(sentences))
        if not unique:
            return {}
        pid = _package_id(package)
        hashes = {sentence_hash(s): s for s in unique}
        found: dict[str, Remembered] = {}
        stale = self._now() - TOUCH_AFTER_S
        try:
            with self._lock:
                keys = list(hashes)
                for start in range(0, len(keys), QUERY_CHUNK):
                    chunk = keys[start : start + QUERY_CHUNK]
                    marks = ",".join("?" * len(chunk))  # placeholders only: every value is bound
                    rows = self._db.execute(
                        f"SELECT {_COLUMNS} FROM sentences WHERE package = ? AND source IN ({marks})",  # noqa: S608
                        (pid, *chunk),
                    ).fetchall()
                    for source, output, tokens, log_prob, scored, copied, last_used in rows:
                        scores = None if scored is None else TokenScores(float(log_prob), int(scored))
                        found[hashes[source]] = Remembered(str(output), int(tokens), scores, int(copied))
                        if last_used < stale:
                            self._touch[(pid, source)] = None
        except sqlite3.Error as exc:
            log.warning("translation memory could not be read", extra={"error": brief(exc)})
            found = {}
        HITS.labels(pair).inc(len(found))
        MISSES.labels(pair).inc(len(unique) - len(found))
        return found

    def remember(self, package: str, entries: Mapping[str, Remembered]) -> None:
        """Store newly translated sentences and the last use of recent hits, in one transaction; evict if over.

        A write that fails (another replica held the lock too long, the disk is full) is logged and
        skipped: those sentences are translated again next time, nothing else is lost.
        """
        with self._lock:
            touch, self._touch = list(self._touch), {}
        if not entries and not touch:
            return
        pid = _package_id(package)
        now = self._now()
        rows = [
            (
                pid,
                sentence_hash(source),
                e.output,
                e.source_tokens,
                None if e.scores is None else e.scores.log_prob,
                None if e.scores is None else e.scores.tokens,
                e.copied_chars,
                now,
                len(e.output.encode()) + ROW_OVERHEAD,
            )
            for source, e in entries.items()
        ]
        try:
            with write_transaction(self._db, self._lock) as db:
                db.executemany(
                    "UPDATE sentences SET last_used = ? WHERE package = ? AND source = ?",
                    [(now, p, s) for p, s in touch],
                )
                db.executemany("INSERT OR IGNORE INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                evicted = self._evict(db)
        except sqlite3.Error as exc:
            log.warning(
                "translation memory not written; its sentences will be translated again",
                extra={"sentences": len(rows), "error": brief(exc)},
            )
            return
        if evicted:
            EVICTIONS.inc(evicted)
            log.info(
                "translation memory evicted its least recently used sentences", extra={"entries": evicted}
            )
        self._publish_size()

    def _evict(self, db: sqlite3.Connection) -> int:
        """Delete least recently used entries until the total is a tenth under the bound; return how many."""
        entries, used = self._totals(db)
        if used <= self.max_bytes:
            return 0
        target = self.max_bytes * (1 - EVICT_SHARE)
        evicted = 0
        while used > target and entries > 0:
            average = used / entries
            count = max(1, math.ceil((used - target) / average))
            cursor = db.execute(
                "DELETE FROM sentences WHERE (package, source) IN"
                " (SELECT package, source FROM sentences ORDER BY last_used LIMIT ?)",
                (count,),
            )
            evicted += cursor.rowcount
            entries, used = self._totals(db)
        return evicted

    @staticmethod
    def _totals(db: sqlite3.Connection) -> tuple[int, int]:
        entries, used = db.execute("SELECT entries, bytes FROM totals WHERE id = 0").fetchone()
        return int(entries), int(used)

    def usage(self) -> tuple[int, int]:
        """Entries held and the bytes they count against the bound."""
        with self._lock:
            return self._totals(self._db)

    def _publish_size(self) -> None:
        try:
            entries, used = self.usage()
        except sqlite3.Error:
            return
        ENTRIES.set(entries)
        SIZE.set(used)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def open_memory(path: Path, megabytes: int) -> TranslationMemory | None:
    """The memory the settings ask for, or None when its bound is 0 (turned off)."""
    if megabytes <= 0:
        return None
    return TranslationMemory(path, megabytes * 1024 * 1024)


def sizes(entries: Sequence[Remembered]) -> int:
    """Bytes a list of entries counts against the bound (for tests and estimates)."""
    return sum(len(e.output.encode()) + ROW_OVERHEAD for e in entries)
