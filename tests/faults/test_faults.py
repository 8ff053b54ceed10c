"""The short fault drill (tests/faults/run_faults.py --short) as part of `make test`.

It starts the whole embedded stack, breaks it ten ways under a steady stream of stories and
counts what was accepted against what was indexed; see the script's docstring for the faults.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("run_faults.py")


def _run_drill(tmp_path: Path) -> tuple[int, dict, str]:
    out, err = tmp_path / "drill.out", tmp_path / "drill.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--short"],
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=540)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the drill stops its stack on SIGTERM
                try:
                    proc.wait(120)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
    lines = out.read_text().strip().splitlines()
    assert lines, err.read_text()[-5000:]
    return code, json.loads(lines[-1]), err.read_text()[-5000:]


@pytest.mark.timeout(600)
def test_short_fault_drill_loses_and_duplicates_nothing(tmp_path):
    code, summary, log = _run_drill(tmp_path)
    faults = {f["fault"]: f for f in summary["faults"]}
    assert len(faults) == 10, summary
    # Every fault must recover, the broker's included, with its evidence.
    assert all(f["recovery_s"] is not None or f.get("skipped") for f in faults.values()), summary
    outage = next(f for name, f in faults.items() if name.startswith("search backend unavailable"))
    assert not outage.get("skipped") or os.environ.get("WIREWATCH_ELASTICSEARCH_URL"), outage
    if not outage.get("skipped"):
        assert outage["stories_indexed_during_outage"] == 0 and outage["transient_retries_logged"] > 0, outage
    poison = next(f for name, f in faults.items() if name.startswith("poison"))
    assert poison["dead_letters_found"] == poison["dead_letters_expected"] > 0, poison
    alerts = summary["alerts"]
    assert alerts["lost"] == alerts["not_delivered"] == alerts["duplicated"] == 0, alerts
    assert alerts["alerted"] == alerts["delivered"] == alerts["stories"] > 0 and alerts["bad_signatures"] == 0
    hook = next(f for name, f in faults.items() if name.startswith("webhook endpoint down"))
    assert hook["deliveries_refused"] > 0 and hook["stories_during_outage"] > 0, hook
    valid = next(f for name, f in faults.items() if name.startswith("valid-looking poison"))
    assert valid["dead_letters_found"] == valid["dead_letters_expected"] > 0, valid
    model = next(f for name, f in faults.items() if name.startswith("model package"))
    assert model["tr_statuses_while_broken"].get("failed", 0) > 0, model
    assert model["recovery_after_repair_s"] is not None, model
    assert summary["duplicated"] == 0, summary
    assert summary["accepted"] > 100, summary
    # Every story accepted before the broker fault was indexed in every language: faults 1-6 lost nothing.
    assert summary["checkpoint_before_broker"]["incomplete"] == 0, summary
    assert code == 0 and summary["lost"] == 0 and not summary["not_recovered"], (summary, log)
