"""Nothing lost: accept stories, kill the broker (all in memory), start a new one, and every story arrives again.

Runs its own tansu processes (not the session broker), stopped by pid in `finally`. The index
service's receipts are simulated by publishing Receipt messages: receipted stories are not re-sent.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from wirewatch_common.broker import EmbeddedBroker
from wirewatch_common.bus import Admin, Outgoing, Producer
from wirewatch_common.story import Receipt, RenditionStatus
from wirewatch_common.topics import receipt_headers
from wirewatch_ingest.bootstrap import build

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLACES = ["ODESA", "GDANSK", "IZMIR", "ALEXANDRIA", "TRIESTE", "ROTTERDAM"]


def story_text(place: str) -> bytes:
    return f"Port of {place.title()} reports record grain\n\n{place} (Wirewatch) - Loadings rose again.\n".encode()


def wait_until(condition, timeout: float = 60.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.2)


def test_every_accepted_story_arrives_after_the_broker_lost_everything(
    make_settings, make_contract, read_stories, tmp_path: Path
) -> None:
    first = EmbeddedBroker(log_file=tmp_path / "tansu-1.log").start()
    second: EmbeddedBroker | None = None
    try:
        settings = make_settings(
            first.bootstrap_servers,
            ingest_republish_grace_s=2,
            ingest_republish_interval_s=1,
            ingest_publish_timeout_s=10,
        )
        contract = make_contract()
        service = build(settings, contract=contract)
        with TestClient(service.app) as client:
            ledger = service.ledger
            ids = []
            for place in PLACES:
                response = client.post(
                    "/v1/stories", content=story_text(place), headers={"content-type": "text/plain"}
                )
                assert response.status_code == 202, response.text
                ids.append(response.json()["stories"][0]["id"])
            read_stories(settings, contract.stories.name, set(ids))

            # The index confirms the first story in every language, the second without its Turkish
            # rendition (lost with the broker, say): only the first is confirmed in the ledger.
            confirmed, partial = ids[0], ids[1]
            languages = {confirmed: ("en", "ar", "tr"), partial: ("en", "ar")}
            producer = Producer.from_settings(settings)
            try:
                for story_id, langs in languages.items():
                    for lang in langs:
                        receipt = Receipt(
                            story_id=story_id,
                            version=1,
                            language=lang,
                            indexed_at=datetime.now(UTC),
                            backend="tantivy",
                            status=None if lang == "en" else RenditionStatus.TRANSLATED,
                        )
                        producer.publish(
                            Outgoing(
                                contract.receipts.name, story_id, receipt.to_json(), receipt_headers(receipt)
                            )
                        )
            finally:
                producer.close()

            def receipts_held(story_id: str) -> int:
                with sqlite3.connect(f"file:{ledger.path}?mode=ro", uri=True) as db:
                    return int(
                        db.execute("SELECT COUNT(*) FROM receipts WHERE id = ?", (story_id,)).fetchone()[0]
                    )

            wait_until(
                lambda: ledger.get(confirmed) == [(1, True)] and receipts_held(partial) == 2,
                message="receipts in the ledger",
            )
            assert ledger.get(partial) == [(1, False)]

            first.kill()  # everything on the broker is gone
            second = EmbeddedBroker(port=first.port, log_file=tmp_path / "tansu-2.log").start()
            admin = Admin.from_settings(settings)
            try:
                admin.provision(contract)  # what `wirewatch up` does on start-up
            finally:
                admin.close()

            unconfirmed = set(ids[1:])
            seen = read_stories(settings, contract.stories.name, unconfirmed, timeout=150)
            assert unconfirmed <= seen.keys()
            assert confirmed not in seen  # a story indexed in every language is not sent again
            for story_id in unconfirmed:
                assert seen[story_id][0].story().headline.startswith("Port of ")

            # And the service keeps accepting on the new broker.
            response = client.post(
                "/v1/stories", content=story_text("VALLETTA"), headers={"content-type": "text/plain"}
            )
            assert response.status_code == 202
    finally:
        if second is not None:
            second.stop()
        first.stop()
