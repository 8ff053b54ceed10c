"""The end-to-end harness's stop: whatever state the stack is in, nothing it started outlives `stop()`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wirewatch_common.processes import kill_process_group
from wirewatch_stack.supervisor import write_pid_file
from wirewatch_testkit.harness import SERVICES, RunningStack
from wirewatch_testkit.processes import process_alive

pytestmark = pytest.mark.integration


def _parent_of(pid: int) -> int:
    """The parent pid from /proc (field 4 of stat, after the command name in parentheses)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _wait_gone(pids: dict[str, int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while alive := [name for name, pid in pids.items() if process_alive(pid)]:
        assert time.monotonic() < deadline, f"still running {timeout:.0f} s after stop(): {alive}"
        time.sleep(0.1)


def test_stop_kills_the_process_group_of_a_service_left_on_file(tmp_path):
    stack = RunningStack(tmp_path)
    # A "service" with a child of its own, in its own process group, as the supervisor starts them.
    script = (
        "import subprocess, time; print(subprocess.Popen(['sleep', '600']).pid, flush=True); time.sleep(600)"
    )
    leftover = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert leftover.stdout is not None
        grandchild = int(leftover.stdout.readline())
        write_pid_file(stack.data_dir / "run" / "index.pid", leftover.pid)
        assert stack.stop() is None, "never started: no exit code"
        assert leftover.wait(10) == -signal.SIGKILL
        _wait_gone({"sleep": grandchild}, 10)
    finally:
        if leftover.poll() is None:
            kill_process_group(leftover)
        if leftover.stdout is not None:
            leftover.stdout.close()


@pytest.mark.slow
def test_stop_kills_a_hung_stack_then_every_service_it_could_not_stop(tmp_path):
    stack = RunningStack(tmp_path, inherit_settings=False)
    with stack:
        stack.start(timeout=180)
        pids = {name: stack.pid(name) for name in SERVICES}
        assert all(pid is not None and process_alive(pid) for pid in pids.values()), (pids, stack.output())
        known = {name: pid for name, pid in pids.items() if pid is not None}
        up = _parent_of(known["ingest"])
        assert up == _parent_of(known["index"]) != os.getpid(), "the services are children of `wirewatch up`"
        os.kill(up, signal.SIGSTOP)  # hung: SIGTERM stays pending, only SIGKILL ends it
        started = time.monotonic()
        code = stack.stop(timeout=3)
        took = time.monotonic() - started
    assert code == -signal.SIGKILL, stack.output()
    assert took < 20, f"stop() took {took:.0f} s with a 3 s timeout"
    assert not process_alive(up)
    _wait_gone(known, 15)
