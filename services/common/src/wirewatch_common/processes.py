"""Stopping child processes by pid: each runs in its own process group, so its children go with it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any


def stop_process_group(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM the process's group, then SIGKILL it if it has not exited within `timeout`."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_process_group(process, timeout)


def kill_process_group(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGKILL the process's group at once, as a crash would, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout)
