"""A one-line progress bar for `wirewatch ingest`, drawn only on a terminal.

Result lines go to stdout for scripts; the bar goes to stderr and only when stderr is a TTY, so a
pipe or a log file never receives carriage returns.
"""

from __future__ import annotations

from typing import IO


def bar_line(done: int, total: int, failed: int, current: str, width: int = 30, columns: int = 100) -> str:
    """Render `[#####.....] 3/10 (1 failed) name`, cut to fit `columns`."""
    filled = width if total <= 0 else min(width, width * done // total)
    text = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
    if failed:
        text += f" ({failed} failed)"
    if current:
        text += f" {current}"
    return text[: max(10, columns - 1)]


class ProgressBar:
    """Redraw one line on a terminal; does nothing when the stream is not a TTY."""

    def __init__(self, stream: IO[str], total: int, columns: int = 100) -> None:
        self._stream = stream
        self._total = total
        self._columns = columns
        self.enabled = stream.isatty()
        self._shown = False

    def show(self, done: int, failed: int, current: str = "") -> None:
        """Draw the bar for `done` of the total items."""
        if not self.enabled:
            return
        self._stream.write("\r\x1b[2K" + bar_line(done, self._total, failed, current, columns=self._columns))
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the bar so a result line can be printed in its place."""
        if self.enabled and self._shown:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._shown = False
