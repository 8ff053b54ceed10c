"""Run and watch processes from tests: a command to completion, a service until it is ready, a pid's life."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from wirewatch_common.processes import stop_process_group


def wait_for_readyz(
    base_url: str, process: subprocess.Popen[Any], output: Path, timeout: float = 60.0
) -> None:
    """Wait until a service process answers 200 on /readyz; fail with its output if it dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, output.read_text()
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=5) as response:  # noqa: S310 - a local test URL
                if response.status == 200:
                    return
        except OSError:  # refused while starting, or 503 (HTTPError) until its checks pass
            pass
        assert time.monotonic() < deadline, output.read_text()
        time.sleep(0.2)


def run_command(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Run a command in its own process group, stopped by its pid whatever happens; (exit code, output)."""
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        stop_process_group(process)
    return process.returncode, output


def process_alive(pid: int) -> bool:
    """Tell whether a process still runs (a zombie awaiting its parent counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
