"""`python -m wirewatch_translate` as the supervisor runs it: real tansu, real HTTP, real SIGTERM."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx2
import pytest

from wirewatch_common.broker import free_port
from wirewatch_common.bus import Admin, Consumer, Message, Producer
from wirewatch_common.settings import Settings
from wirewatch_common.story import RenditionStatus, Story
from wirewatch_common.topics import load_contract
from wirewatch_testkit.processes import wait_for_readyz

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "writer-key-for-the-test-0001"


def test_service_translates_and_picks_up_a_model_installed_while_running(
    broker, tmp_path, test_archives, make_story
):
    contract = load_contract()
    admin = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
    try:
        admin.provision(contract)
    finally:
        admin.close()
    port = free_port()
    models = tmp_path / "models"
    env = dict(
        os.environ,
        WIREWATCH_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
        WIREWATCH_DATA_DIR=str(tmp_path / "data"),
        WIREWATCH_MODEL_DIR=str(models),
        WIREWATCH_TRANSLATE_PORT=str(port),
        WIREWATCH_TRANSLATE_RESCAN_SECONDS="1",
        WIREWATCH_TRANSLATE_GROUP_ID=f"translate-{uuid.uuid4().hex[:8]}",
        WIREWATCH_API_KEYS=f"writer:{KEY}",
        HOME=str(tmp_path / "home"),
    )
    cli = [sys.executable, "-m", "wirewatch_translate.cli", "install", "--from-path"]
    subprocess.run([*cli, str(test_archives[("en", "ar")])], env=env, check=True, timeout=60)
    story_id = f"ww-proc-{uuid.uuid4().hex[:8]}"
    seen: list[Message] = []
    producer = Producer({"bootstrap_servers": [broker.bootstrap_servers]})
    collector = Consumer.from_settings(
        Settings(_env_file=None, kafka_bootstrap_servers=broker.bootstrap_servers),
        [contract.renditions.name],
        f"collect-{uuid.uuid4().hex[:8]}",
        lambda batch: seen.extend(m for m in batch if m.key == story_id),
        producer=producer,
        dead_letter_topic="unused",
    )
    stop = threading.Event()
    reader = threading.Thread(target=collector.run, args=(stop,), daemon=True)
    reader.start()
    out = tmp_path / "service.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wirewatch_translate"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        wait_for_readyz(f"http://127.0.0.1:{port}", proc, out)
        headers = {"X-API-Key": KEY}
        response = httpx2.post(
            f"http://127.0.0.1:{port}/v1/translate",
            json={"text": "Talks resume on Friday.", "source": "en", "target": "ar"},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200 and response.json()["package"] == "translate-en_ar"
        assert httpx2.post(f"http://127.0.0.1:{port}/v1/translate", json={}, timeout=5).status_code == 401

        producer.publish_stories(contract.stories.name, [make_story(id=story_id)])

        def statuses() -> dict[str, set[str]]:
            found: dict[str, set[str]] = {}
            for m in seen:
                r = Story.from_json(m.value)
                found.setdefault(r.language, set()).add(r.translation.status.value)
            return found

        deadline = time.monotonic() + 60
        while statuses() != {"ar": {"translated"}, "tr": {"unavailable"}}:
            assert time.monotonic() < deadline, (statuses(), out.read_text()[-3000:])
            time.sleep(0.3)
        # install the missing model while the service runs: it re-translates on its own
        done = subprocess.run(
            [*cli, str(test_archives[("en", "tr")])], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        while RenditionStatus.TRANSLATED.value not in statuses().get("tr", set()):
            assert time.monotonic() < deadline, (statuses(), out.read_text()[-3000:])
            time.sleep(0.3)

        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        stop.set()
        reader.join(15)
        producer.close()
    text = out.read_text()
    assert "service stopped" in text
    assert KEY not in text, "API keys never reach the logs"
    assert not (tmp_path / "home").exists(), "nothing is written under the home directory"
