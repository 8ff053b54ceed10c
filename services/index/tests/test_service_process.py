"""`python -m wirewatch_index` as a real process: consumes from tansu, serves /v1, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import httpx2
import pytest

from wirewatch_common.broker import free_port
from wirewatch_common.bus import Admin, Producer
from wirewatch_common.topics import load_contract
from wirewatch_testkit.processes import wait_for_readyz
from wirewatch_testkit.stories import CEASEFIRE, CEASEFIRE_TR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "reader-key-for-process-test"


def test_index_service_indexes_topics_and_answers_searches(broker, broker_settings, tmp_path):
    contract = load_contract()
    admin = Admin.from_settings(broker_settings)
    try:
        admin.provision(contract)
    finally:
        admin.close()
    port = free_port()
    env = dict(
        os.environ,
        WIREWATCH_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
        WIREWATCH_INDEX_PORT=str(port),
        WIREWATCH_DATA_DIR=str(tmp_path / "data"),
        WIREWATCH_INDEX_GROUP_ID=f"index-{uuid.uuid4().hex[:8]}",
        WIREWATCH_API_KEYS=f"reader:{KEY}",
        WIREWATCH_INDEX_WRITER_HEAP_MB="20",
    )
    out = tmp_path / "index.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wirewatch_index"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    headers = {"X-API-Key": KEY}
    try:
        wait_for_readyz(base, proc, out)
        deadline = time.monotonic() + 60
        producer = Producer.from_settings(broker_settings)
        try:
            producer.publish_stories(contract.stories.name, [CEASEFIRE])
            producer.publish_stories(contract.renditions.name, [CEASEFIRE_TR])
        finally:
            producer.close()
        while True:
            r = httpx2.get(f"{base}/v1/search", params={"q": "ateşkes"}, headers=headers, timeout=5)
            assert r.status_code == 200, r.text
            if r.json()["hits"]:
                break
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.3)
        hit = r.json()["hits"][0]
        assert hit["story_id"] == CEASEFIRE.id and hit["language"] == "tr"
        assert httpx2.get(f"{base}/v1/search", timeout=5).status_code == 401
        story = httpx2.get(f"{base}/v1/stories/{CEASEFIRE.id}", headers=headers, timeout=5).json()
        assert {s["language"] for s in story["renditions"]} == {"en", "tr"}
        assert KEY not in out.read_text()  # secrets never logged
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM), out.read_text()  # uvicorn re-raises SIGTERM
        assert "service stopped" in out.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
