"""A real service process: consumes from tansu, serves HTTP, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx2
import pytest

from wirewatch_common.broker import free_port
from wirewatch_common.bus import Admin, Outgoing, Producer
from wirewatch_testkit.processes import wait_for_readyz

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVICE = """
import sys, threading
from wirewatch_common.bus import Consumer, Producer
from wirewatch_common.logs import configure_logging
from wirewatch_common.service import BrokerCheck, create_app, log_settings, serve
from wirewatch_common.settings import Settings

topic, group, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = Settings()
configure_logging("probe", "INFO", "json")
log_settings(settings)
producer = Producer.from_settings(settings)

def handle(batch):
    for m in batch:
        print("handled", m.key, flush=True)

consumer = Consumer.from_settings(settings, [topic], group, handle, producer=producer, dead_letter_topic="dlq")
check = BrokerCheck(settings)
app = create_app("probe", checks={"broker": check}, workers=[consumer], on_shutdown=[check.close, producer.close])
serve(app, "127.0.0.1", port)
"""


def test_service_consumes_serves_and_stops_on_sigterm(broker, new_topic, tmp_path):
    topic = new_topic(partitions=2)
    group = f"probe-{os.urandom(3).hex()}"
    port = free_port()
    env = dict(
        os.environ,
        WIREWATCH_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
        WIREWATCH_API_KEYS="reader:never-log-this-key-123",
    )
    out = tmp_path / "service.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVICE, topic, group, str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        wait_for_readyz(f"http://127.0.0.1:{port}", proc, out)
        deadline = time.monotonic() + 60
        producer = Producer({"bootstrap_servers": [broker.bootstrap_servers]})
        try:
            producer.publish(Outgoing(topic, "story-sigterm", b"{}"))
        finally:
            producer.close()
        while "handled story-sigterm" not in out.read_text():
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        assert httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] == "ok"
        assert (
            "wirewatch_messages_handled_total"
            in httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        )

        os.kill(proc.pid, signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells why it ended
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    text = out.read_text()
    assert "consumer stopped" in text
    assert "service stopped" in text, "the lifespan shutdown ran: workers joined, clients closed"
    assert "never-log-this-key-123" not in text, "API keys must never reach the logs"
    assert '"msg": "settings"' in text
    admin = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
    try:
        assert sum(admin.committed_offsets(group).values()) == 1, "the handled message was committed"
    finally:
        admin.close()


DYING = """
import sys, threading
from wirewatch_common.logs import configure_logging
from wirewatch_common.service import create_app, serve

class Dies:
    name = "dies"

    def run(self, stop: threading.Event) -> None:
        stop.wait(0.5)
        raise RuntimeError("the broker client failed for good")

configure_logging("probe", "INFO", "json")
serve(create_app("probe", workers=[Dies()]), "127.0.0.1", int(sys.argv[1]))
"""


def test_a_process_whose_worker_dies_exits_so_its_supervisor_starts_it_again(tmp_path):
    from wirewatch_common.service import WORKER_DIED_EXIT

    out = tmp_path / "dying.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", DYING, str(free_port())],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    assert code == WORKER_DIED_EXIT, out.read_text()[-2000:]
    assert "exiting: a worker died" in out.read_text()
