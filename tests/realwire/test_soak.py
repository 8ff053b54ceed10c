"""The short real-wire soak (tests/realwire/run_soak.py --short) as part of `make test`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.long, pytest.mark.timeout(900)]

SCRIPT = Path(__file__).with_name("run_soak.py")


def test_real_wire_and_hostile_documents_flow_through_the_whole_stack(tmp_path: Path) -> None:
    out = tmp_path / "soak.out"
    with out.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--short"],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=840)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the harness stops its stack on the way out
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    text = out.read_text()
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, f"the soak printed no result:\n{text[-4000:]}"
    result = json.loads(lines[-1])
    if not result["corpus"]:
        print("the shared corpus is absent: only the team's own hostile documents were sent")  # noqa: T201
    assert result["failures"] == [], "\n".join(result["failures"][:40])
    assert code == 0, text[-4000:]
    assert result["dead_lettered"] == 0
    assert result["stories"] > 0 and all(lag == 0 for lag in result["lag"])
