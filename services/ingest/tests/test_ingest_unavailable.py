"""With no broker, nothing is accepted: the API answers 503, the ledger keeps nothing, the next try can succeed."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from wirewatch_common.broker import free_port
from wirewatch_common.bus import Producer
from wirewatch_common.service import create_app
from wirewatch_common.settings import Settings
from wirewatch_ingest.app import stories_router
from wirewatch_ingest.ledger import Ledger
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.pipeline import Ingestor

pytestmark = [pytest.mark.integration]


def test_no_broker_means_503_and_an_empty_ledger(tmp_path: Path) -> None:
    dead = Settings(_env_file=None, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")  # type: ignore[call-arg]
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    publisher = Producer.from_settings(dead, bootstrap_timeout_ms=1500)
    app = create_app("ingest-test")
    app.include_router(stories_router(Ingestor(ledger, publisher, "unused", Limits(), publish_timeout=2), ()))
    try:
        with TestClient(app) as client:
            body = b"Storm closes ports\n\nIZMIR (Anadolu) - Ports closed on Monday.\n"
            response = client.post("/v1/stories", content=body, headers={"content-type": "text/plain"})
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "broker_unavailable"
            assert ledger.counts()["versions"] == 0  # a retry later is not taken for a duplicate
    finally:
        publisher.close()
        ledger.close()
