"""Drop folder: files placed in a directory are ingested, then moved to done/ or failed/ (with a .error.txt).

A file is read only after its size and mtime stayed unchanged for the settle time, and never when
its name looks temporary (dot files, `.tmp`, `.part`, `~`). Symlinks and special files are not
opened: they are moved to failed/ with the reason. A broker outage leaves the file in place for the
next scan, so a file reaches done/ only once the broker confirmed its stories and the ledger has them.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wirewatch_common.bus import DeliveryError

from .pipeline import Ingestor, NoStories
from .sources import ParseError

log = logging.getLogger(__name__)

TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".swp", ".filepart", "~")
CONTENT_TYPES = {
    ".json": "application/json",
    ".txt": "text/plain",
    ".tst": "text/plain",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
}


def is_candidate(name: str) -> bool:
    """Tell a finished file's name from a temporary or hidden one."""
    return not (name.startswith((".", "~")) or name.lower().endswith(TEMP_SUFFIXES) or ".." in name)


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
        with os.scandir(self.directory) as entries:
            listing = sorted(entries, key=lambda e: e.name)
        for entry in listing:
            if not is_candidate(entry.name) or entry.name in ("done", "failed"):
                continue
            present.add(entry.name)
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
                kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a regular file"
                if stat.S_ISDIR(info.st_mode):
                    continue  # a subfolder is left alone
                handled[entry.name] = self._fail(entry.name, f"refused: {kind}; drop plain files only")
                continue
            seen = self._seen.get(entry.name)
            if seen is None or (seen.size, seen.mtime_ns) != (info.st_size, info.st_mtime_ns):
                self._seen[entry.name] = _Seen(info.st_size, info.st_mtime_ns, now)
                if self._settle > 0:
                    continue
                seen = self._seen[entry.name]
            if now - seen.stable_since < self._settle:
                continue
            handled[entry.name] = self._ingest(entry.name)
        self._seen = {k: v for k, v in self._seen.items() if k in present and k not in handled}
        return handled

    def _read(self, name: str) -> bytes:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(self.directory / name, flags)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                msg = "not a regular file"
                raise OSError(msg)
            limit = self._ingestor.limits.max_document_bytes
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read(limit + 1)
        finally:
            os.close(fd)

    def _ingest(self, name: str) -> str:
        content_type = CONTENT_TYPES.get(Path(name).suffix.lower())
        try:
            data = self._read(name)
            result = self._ingestor.ingest(data, content_type, via="drop")
        except DeliveryError as exc:
            log.warning(
                "broker unavailable; file left for the next scan",
                extra={"file": name, "error": str(exc)[:300]},
            )
            return "retry"
        except ParseError as exc:
            where = "".join(f", {k} {v}" for k, v in exc.to_dict().items() if k in ("line", "field"))
            return self._fail(name, f"{type(exc).__name__}: {exc.message}{where}")
        except (NoStories, OSError) as exc:
            return self._fail(name, f"{type(exc).__name__}: {exc}")
        target = self._free(self.done, name)
        os.replace(self.directory / name, target)
        log.info("dropped file ingested", extra={"file": name, "moved_to": str(target), **result.to_dict()})
        return "done"

    def _fail(self, name: str, reason: str) -> str:
        target = self._free(self.failed, name)
        os.replace(self.directory / name, target)
        stamp = datetime.now(tz=UTC).isoformat()
        target.with_name(target.name + ".error.txt").write_text(
            f"{reason}\nfailed at {stamp}\n", encoding="utf-8"
        )
        log.warning("dropped file failed", extra={"file": name, "reason": reason[:300]})
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
                log.error(
                    "drop folder scan failed", extra={"dir": str(self.directory), "error": str(exc)[:300]}
                )
            stop.wait(self._interval)
