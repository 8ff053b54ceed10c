"""Starting and stopping child processes by pid: each runs in its own process group, so its children go with it.

A child started with `die_with_parent` is also ended by the kernel when the process that started
it dies, however it dies (SIGKILL, the OOM killer, a crash), so nothing keeps holding ports after
its supervisor is gone. On Linux that is the parent-death signal (`prctl(PR_SET_PDEATHSIG)`),
set by a tiny Python stub that then `exec`s the real program, so the child keeps its pid and
nothing Python runs between fork and exec (where a lock held by another thread could deadlock
it). The kernel sends that signal when the *thread* that forked the child ends, not the process,
so every such child is forked by one daemon thread that lives exactly as long as the process;
callers may start children from any thread, short-lived ones included.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

PR_SET_PDEATHSIG = 1
"""prctl option: the signal this process gets when its parent thread dies (linux/prctl.h)."""

_STUB = """\
import ctypes, os, sys
parent, signum = int(sys.argv[1]), int(sys.argv[2])
if ctypes.CDLL(None, use_errno=True).prctl(1, signum, 0, 0, 0) != 0:
    sys.exit("wirewatch: prctl(PR_SET_PDEATHSIG) failed: " + os.strerror(ctypes.get_errno()))
if os.getppid() != parent:
    sys.exit(0)  # the parent died before the signal was armed: start nothing
os.execvp(sys.argv[3], sys.argv[3:])
"""
"""Arm the parent-death signal, make sure the parent is still there, then become the real program."""


def parent_death_argv(argv: Sequence[str], signum: int = signal.SIGTERM) -> list[str]:
    """Wrap `argv` so the program gets `signum` when this process dies (Linux; elsewhere `argv` as is)."""
    if not sys.platform.startswith("linux"):
        return list(argv)
    return [sys.executable, "-I", "-S", "-c", _STUB, str(os.getpid()), str(int(signum)), *argv]


class _Spawner:
    """The one thread that forks children which must die with this process; it never returns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def call(self, work: Callable[[], subprocess.Popen[Any]]) -> subprocess.Popen[Any]:
        """Run `work` on the spawner thread and return its result (or raise its error)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="wirewatch-spawner", daemon=True)
                self._thread.start()
        done: Future[subprocess.Popen[Any]] = Future()
        self._requests.put((work, done))
        return done.result()

    def _serve(self) -> None:
        while True:
            work, done = self._requests.get()
            try:
                done.set_result(work())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller waiting on it
                done.set_exception(exc)


_SPAWNER = _Spawner()


def start_child(
    argv: Sequence[str], *, die_with_parent: bool = True, signum: int = signal.SIGTERM, **options: Any
) -> subprocess.Popen[Any]:
    """Start a program in its own process group (`options` go to Popen); with `die_with_parent`, as above."""
    options.setdefault("start_new_session", True)
    if not die_with_parent:
        return subprocess.Popen(list(argv), **options)
    wrapped = parent_death_argv(argv, signum)
    return _SPAWNER.call(lambda: subprocess.Popen(wrapped, **options))


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
