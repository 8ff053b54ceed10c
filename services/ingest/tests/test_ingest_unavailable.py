"""With no broker or no ledger nothing is accepted: the API answers 503, the ledger keeps nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from wirewatch_common.broker import free_port
from wirewatch_common.bus import Producer
from wirewatch_common.service import create_app
from wirewatch_common.settings import Settings
from wirewatch_ingest.api import ERRORS, router
from wirewatch_ingest.ledger import Ledger
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.pipeline import Ingestor, Publisher

pytestmark = [pytest.mark.integration]

BODY = b"Storm closes ports\n\nIZMIR (Anadolu) - Ports closed on Monday.\n"


def client_for(ledger: Ledger, publisher: Publisher) -> TestClient:
    """The ingest routes and error table alone, over this ledger and publisher."""
    app = create_app("ingest-test", errors=ERRORS)
    app.include_router(router(Ingestor(ledger, publisher, "unused", Limits(), publish_timeout=2), ()))
    return TestClient(app)


def test_no_broker_means_503_and_an_empty_ledger(tmp_path: Path) -> None:
    dead = Settings(_env_file=None, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")  # type: ignore[call-arg]
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    publisher = Producer.from_settings(dead, bootstrap_timeout_ms=1500)
    try:
        with client_for(ledger, publisher) as client:
            response = client.post("/v1/stories", content=BODY, headers={"content-type": "text/plain"})
            assert response.status_code == 503
            assert response.json()["error"] == {
                "code": "broker_unavailable",
                "message": "the broker did not confirm delivery; nothing was accepted, retry",
            }
            assert ledger.counts()["versions"] == 0  # a retry later is not taken for a duplicate
    finally:
        publisher.close()
        ledger.close()


def test_a_ledger_that_fails_means_503_ledger_unavailable_and_nothing_sent(tmp_path: Path, recorder) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.close()  # every statement now raises sqlite3.ProgrammingError
    with client_for(ledger, recorder) as client:
        response = client.post("/v1/stories", content=BODY, headers={"content-type": "text/plain"})
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "ledger_unavailable",
        "message": "the ingest ledger could not record the story; retry",
    }
    assert recorder.sent == []
