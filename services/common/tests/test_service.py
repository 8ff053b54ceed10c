from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from wirewatch_common.service import BrokerCheck, create_app

pytestmark = pytest.mark.integration


class LoopWorker:
    name = "loop"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.stopped = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self.started.set()
        stop.wait()
        self.stopped.set()


class CrashingWorker:
    name = "crasher"

    def run(self, stop: threading.Event) -> None:
        msg = "index directory is not writable"
        raise OSError(msg)


def test_health_readiness_and_metrics_with_a_real_broker(broker_settings):
    registry = CollectorRegistry()
    Counter("wirewatch_test_events", "Events seen.", registry=registry).inc(3)
    worker = LoopWorker()
    check = BrokerCheck(broker_settings)
    app = create_app(
        "test", checks={"broker": check}, workers=[worker], on_shutdown=[check.close], registry=registry
    )
    with TestClient(app) as client:
        assert worker.started.wait(5)
        assert client.get("/healthz").json() == {"status": "ok", "service": "test"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"broker": "ok"}
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "wirewatch_test_events_total 3.0" in metrics.text
    assert worker.stopped.is_set(), "shutting the app down stops its workers"


def test_unreachable_broker_makes_the_service_not_ready(broker_settings):
    from wirewatch_common.broker import free_port

    unreachable = broker_settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})
    check = BrokerCheck(unreachable)
    app = create_app("test", checks={"broker": check, "backend": lambda: True}, on_shutdown=[check.close])
    with TestClient(app) as client:
        body = client.get("/readyz")
        assert body.status_code == 503
        assert body.json()["checks"]["backend"] == "ok"
        assert body.json()["checks"]["broker"] != "ok"


def test_check_that_raises_is_reported_not_raised():
    def broken() -> bool:
        msg = "cluster credentials rejected"
        raise PermissionError(msg)

    with TestClient(create_app("test", checks={"backend": broken})) as client:
        body = client.get("/readyz")
        assert body.status_code == 503
        assert "cluster credentials rejected" in body.json()["checks"]["backend"]


def test_crashed_worker_fails_liveness():
    with TestClient(create_app("test", workers=[CrashingWorker()])) as client:
        for _ in range(50):
            if client.get("/healthz").status_code == 503:
                break
            threading.Event().wait(0.05)
        body = client.get("/healthz")
        assert body.status_code == 503
        assert "not writable" in body.json()["workers"]["crasher"]
