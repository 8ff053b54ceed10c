"""Drop folder: files placed in a directory are ingested, then moved to done/ or failed/ (with a .error.txt).

A file is read only after its size and mtime stayed unchanged for the settle time, and never when
its name looks temporary (dot files, `.tmp`, `.part`, `~`). Names holding `..` or a path separator,
symlinks and special files (FIFO, socket, device) are never opened or followed: they are moved to
failed/ (the link or special file itself, renamed, never read) with the reason in a .error.txt. A
file is opened with O_NOFOLLOW | O_NONBLOCK and checked again after opening, so a file swapped for
a link or a FIFO between the scan and the read is refused too and never blocks the watcher.

A `.error.txt` holds the one error body, `{"error": {"code", "message", "where"?}}`, as indented
JSON: the API's answer for a refused document, or a code of the folder's own for a refused file.

Every file that settled in one scan is ingested as one batch (one ledger commit, one publish;
bounded in count and bytes). A broker outage leaves the files in place for the next scan, so a
file reaches done/ only once the broker confirmed its stories and the ledger has them.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from wirewatch_common.errors import WirewatchError, brief, error_body

from .errors import log_fields
from .pipeline import DocumentOutcome, Ingestor, Result, Unavailable

log = logging.getLogger(__name__)

TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".swp", ".filepart", "~")
CONTENT_TYPES = {
    ".json": "application/json",
    ".txt": "text/plain",
    ".tst": "text/plain",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
}


BATCH_FILES = 500
BATCH_BYTES = 64_000_000


def is_candidate(name: str) -> bool:
    """Tell a finished file's name from a temporary or hidden one (those are left alone, unread)."""
    return not (name.startswith((".", "~")) or name.lower().endswith(TEMP_SUFFIXES))


class Refusal(NamedTuple):
    """Why a directory entry is not read: a code for programs, a message for the person who dropped it."""

    code: str
    message: str

    def body(self) -> dict[str, Any]:
        """The refusal in the one error shape."""
        return error_body(self.code, self.message)


SYMLINK = Refusal("symlink_refused", "a symlink, not followed; drop plain files only")


def refusal(name: str, mode: int) -> Refusal | None:
    """Why a directory entry must not be read, or None for a plain file with a plain name."""
    if ".." in name or "/" in name or "\\" in name or "\x00" in name or os.path.isabs(name):
        return Refusal(
            "unsafe_file_name", "the name holds '..' or a path separator; drop plain file names only"
        )
    if stat.S_ISLNK(mode):
        return SYMLINK
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        return Refusal("not_a_regular_file", f"not a regular file ({kind}); drop plain files only")
    return None


class _Refused(OSError):
    """The opened file turned out not to be one to read (swapped after the scan)."""

    def __init__(self, refused: Refusal) -> None:
        super().__init__(refused.message)
        self.refused = refused


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    stable_since: float


class DropFolder:
    """Worker that scans a directory and ingests settled files."""

    name = "drop-folder"

    def __init__(
        self,
        directory: Path,
        ingestor: Ingestor,
        *,
        settle: float = 2.0,
        interval: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.done = directory / "done"
        self.failed = directory / "failed"
        self._ingestor = ingestor
        self._settle = settle
        self._interval = interval
        self._monotonic = monotonic
        self._seen: dict[str, _Seen] = {}

    def setup(self) -> None:
        """Create the folder and its done/ and failed/ subfolders."""
        for path in (self.directory, self.done, self.failed):
            path.mkdir(parents=True, exist_ok=True)

    def scan_once(self) -> dict[str, str]:
        """Handle every settled file once; return {name: 'done' | 'failed' | 'retry'} for what was handled."""
        self.setup()
        now = self._monotonic()
        handled: dict[str, str] = {}
        present: set[str] = set()
        settled: list[str] = []
        with os.scandir(self.directory) as entries:
            listing = sorted(entries, key=lambda e: e.name)
        for entry in listing:
            if not is_candidate(entry.name) or entry.name in ("done", "failed"):
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                continue  # a subfolder is left alone
            present.add(entry.name)
            if (refused := refusal(entry.name, info.st_mode)) is not None:
                handled[entry.name] = self._fail(entry.name, refused.body())
                continue
            seen = self._seen.get(entry.name)
            if seen is None or (seen.size, seen.mtime_ns) != (info.st_size, info.st_mtime_ns):
                self._seen[entry.name] = _Seen(info.st_size, info.st_mtime_ns, now)
                if self._settle > 0:
                    continue
                seen = self._seen[entry.name]
            if now - seen.stable_since >= self._settle:
                settled.append(entry.name)
        handled |= self._ingest(settled)
        self._seen = {k: v for k, v in self._seen.items() if k in present and k not in handled}
        return handled

    def _read(self, name: str) -> bytes:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(self.directory / name, flags)
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise _Refused(refusal(name, mode) or Refusal("not_a_regular_file", "not a regular file"))
            limit = self._ingestor.limits.max_document_bytes
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read(limit + 1)
        finally:
            os.close(fd)

    def _ingest(self, names: list[str]) -> dict[str, str]:
        """Read the settled files and ingest them as one batch (later files wait when it is full)."""
        handled: dict[str, str] = {}
        documents: list[tuple[bytes, str | None]] = []
        batch: list[str] = []
        size = 0
        for name in names:
            if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
                break  # the rest stay settled for the next scan
            try:
                data = self._read(name)
            except OSError as exc:  # swapped for a link (ELOOP) or a FIFO, unreadable, or gone
                if os.path.lexists(self.directory / name):
                    handled[name] = self._fail(name, _unreadable(exc))
                continue
            documents.append((data, CONTENT_TYPES.get(Path(name).suffix.lower())))
            batch.append(name)
            size += len(data)
        if not batch:
            return handled
        outcomes = self._ingestor.ingest_many(documents, via="drop")
        for name, outcome in zip(batch, outcomes, strict=True):
            handled[name] = self._settle_file(name, outcome)
        return handled

    def _settle_file(self, name: str, outcome: DocumentOutcome) -> str:
        """Move one file by its outcome: done/, failed/ with the reason, or left for the next scan."""
        if isinstance(outcome, Result):
            target = self._free(self.done, name)
            os.replace(self.directory / name, target)
            log.info(
                "dropped file ingested", extra={"file": name, "moved_to": str(target), **outcome.to_dict()}
            )
            return "done"
        if isinstance(outcome, Unavailable):
            log.warning(
                "broker or ledger unavailable; file left for the next scan",
                extra={"file": name, **log_fields(outcome.body())},
            )
            return "retry"
        if isinstance(outcome, WirewatchError):
            return self._fail(name, outcome.body())
        # a parser bug, logged with its traceback by the pipeline
        message = f"ingest failed unexpectedly; the error was logged: {brief(outcome)}"
        return self._fail(name, error_body("internal_error", message))

    def _fail(self, name: str, body: dict[str, Any]) -> str:
        """Move a file to failed/ and write its error body beside it."""
        target = self._free(self.failed, name)
        os.replace(self.directory / name, target)
        # never write through a link someone placed under the report's name
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(target.with_name(target.name + ".error.txt"), flags, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as report:
                report.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
        except OSError as exc:  # e.g. ELOOP: a link sits where the report goes; the log still says why
            log.error("could not write the error report", extra={"file": name, "error": brief(exc)})
        log.warning("dropped file failed", extra={"file": name, **log_fields(body)})
        return "failed"

    @staticmethod
    def _free(folder: Path, name: str) -> Path:
        target = folder / name
        counter = 1
        while target.exists() or target.is_symlink():
            target = folder / f"{name}.{counter}"
            counter += 1
        return target

    def run(self, stop: threading.Event) -> None:
        """Scan until stopped."""
        self.setup()
        while not stop.is_set():
            try:
                self.scan_once()
            except OSError as exc:
                log.error("drop folder scan failed", extra={"dir": str(self.directory), "error": brief(exc)})
            stop.wait(self._interval)


def _unreadable(exc: OSError) -> dict[str, Any]:
    """The error body for a settled file that could not be read: refused after opening, or unreadable."""
    if isinstance(exc, _Refused):
        return exc.refused.body()
    if exc.errno == errno.ELOOP:  # swapped for a symlink after the scan; O_NOFOLLOW refused it
        return SYMLINK.body()
    return error_body("unreadable_file", f"the file could not be read: {exc.strerror or exc}")
