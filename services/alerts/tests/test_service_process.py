"""`python -m wirewatch_alerts` as a real process: serves the API, shares its file, keeps watchlists over a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from wirewatch_alerts.store import SqliteWatchlistStore
from wirewatch_alerts.watchlists import WatchlistCreate, new_watchlist
from wirewatch_common.broker import free_port
from wirewatch_testkit.processes import wait_for_readyz

pytestmark = [pytest.mark.integration, pytest.mark.slow]

READER = "reader-key-for-alerts-process"
WRITER = "writer-key-for-alerts-process"
SECRET = "webhook-secret-for-alerts-process"


def start(env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    with out.open("a") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "wirewatch_alerts"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], out: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM), out.read_text()  # uvicorn re-raises SIGTERM


def test_alerts_service_serves_watchlists_shares_its_file_and_keeps_them_over_a_restart(tmp_path):
    port = free_port()
    # No broker address at all: watchlists need none, so a lost broker can lose none.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")} | {
        "WIREWATCH_ALERTS_PORT": str(port),
        "WIREWATCH_DATA_DIR": str(tmp_path / "data"),
        "WIREWATCH_API_KEYS": f"reader:{READER},writer:{WRITER}",
        "WIREWATCH_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "WIREWATCH_ALERTS_WORKER": "false",
    }
    base = f"http://127.0.0.1:{port}"
    out = tmp_path / "alerts.out"
    proc = start(env, out)
    try:
        wait_for_readyz(base, proc, out)
        assert httpx2.get(f"{base}/healthz", timeout=5).json() == {"status": "ok", "service": "alerts"}
        body = {
            "name": "Quakes",
            "query": "deprem OR earthquake",
            "channels": [{"type": "webhook", "url": "https://hooks.example.org/q", "secret": SECRET}],
        }
        r = httpx2.post(f"{base}/v1/watchlists", json=body, headers={"X-API-Key": WRITER}, timeout=5)
        assert r.status_code == 201, r.text
        made = r.json()
        assert httpx2.get(f"{base}/v1/watchlists", timeout=5).status_code == 401

        # Another process on the same host opens the same file: each sees the other's watchlists.
        neighbour = SqliteWatchlistStore(tmp_path / "data" / "alerts" / "watchlists.sqlite3")
        try:
            assert neighbour.get(made["id"]).name == "Quakes"
            spec = WatchlistCreate(name="Floods", query="flood OR sel")
            floods = new_watchlist(spec, now=neighbour.get(made["id"]).created_at, max_query_chars=500)[0]
            neighbour.add(floods)
        finally:
            neighbour.close()
        listed = httpx2.get(f"{base}/v1/watchlists", headers={"X-API-Key": READER}, timeout=5).json()
        assert {w["name"] for w in listed["watchlists"]} == {"Quakes", "Floods"}

        stop(proc, out)
        proc = start(env, out)
        wait_for_readyz(base, proc, out)
        r = httpx2.get(f"{base}/v1/watchlists/{made['id']}", headers={"X-API-Key": READER}, timeout=5)
        assert r.status_code == 200 and r.json() == {k: v for k, v in made.items() if k != "feed_token"}
        stop(proc, out)
        text = out.read_text()
        assert "service stopped" in text
        assert all(secret not in text for secret in (READER, WRITER, SECRET, made["feed_token"])), (
            "never logged"
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
