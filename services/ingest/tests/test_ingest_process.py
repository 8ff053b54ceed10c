"""`python -m wirewatch_ingest` as the supervisor runs it: serves, takes a POST and a dropped file, stops on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from wirewatch_common.broker import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STORY = b"Ferry service resumes\n\nHELSINKI (STT) - Ferries to Tallinn sailed again on Monday.\n"


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, b""


def test_the_service_process_serves_and_stops(broker, tmp_path: Path) -> None:
    port = free_port()
    drop = tmp_path / "drop"
    env = {
        **os.environ,
        "WIREWATCH_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "WIREWATCH_DATA_DIR": str(tmp_path / "data"),
        "WIREWATCH_INGEST_PORT": str(port),
        "WIREWATCH_INGEST_DROP_DIR": str(drop),
        "WIREWATCH_INGEST_DROP_SETTLE_S": "0.3",
        "WIREWATCH_INGEST_DROP_INTERVAL_S": "0.2",
        "WIREWATCH_LOG_FORMAT": "json",
    }
    log = (tmp_path / "ingest.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "wirewatch_ingest"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while request(f"{base}/readyz")[0] != 200:
            assert process.poll() is None, (tmp_path / "ingest.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "ingest never became ready"
            time.sleep(0.3)
        status, body = request(f"{base}/v1/stories", STORY, {"Content-Type": "text/plain"})
        assert status == 202, body
        drop.mkdir(exist_ok=True)
        (drop / "story.txt").write_bytes(STORY.replace(b"Ferry", b"Bus"))
        deadline = time.monotonic() + 60
        while not (drop / "done" / "story.txt").exists():
            assert time.monotonic() < deadline, "dropped file never reached done/"
            time.sleep(0.2)
        assert (tmp_path / "data" / "ingest" / "ledger.sqlite3").exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
    output = (tmp_path / "ingest.log").read_text()
    # uvicorn re-raises the signal it handled once shutdown is complete
    assert process.returncode in (0, -signal.SIGTERM), output[-2000:]
    assert '"msg": "service stopped"' in output
