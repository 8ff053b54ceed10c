"""The re-publisher against the session broker: sends what has no receipt, once per round, nothing confirmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wirewatch_common.bus import Admin, Message, Producer
from wirewatch_common.story import Receipt
from wirewatch_ingest.delivery import Republisher, ResilientPublisher, receipts_handler
from wirewatch_ingest.ledger import Ledger

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_unconfirmed_stories_are_sent_again_and_receipts_stop_that(
    broker, make_settings, make_contract, make_story, read_stories, tmp_path: Path
) -> None:
    settings = make_settings(broker.bootstrap_servers)
    contract = make_contract()
    admin = Admin.from_settings(settings)
    admin.provision(contract)
    admin.close()
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    publisher = ResilientPublisher(lambda: Producer.from_settings(settings))
    try:
        stories = [make_story(id=f"ww-republish-{i}", uri=f"urn:test:{i}") for i in range(3)]
        ledger.admit(stories, datetime.now(UTC))  # accepted, never delivered (a crash before publishing)
        republisher = Republisher(ledger, publisher, contract.stories.name, grace=timedelta(0), interval=1)
        assert republisher.run_once() == 3  # and the round ends although the grace period is zero
        seen = read_stories(settings, contract.stories.name, {s.id for s in stories})
        assert seen[stories[0].id][0].story() == stories[0]

        receipts = [
            Receipt(story_id=s.id, version=1, language="en", indexed_at=s.versioncreated, backend="tantivy")
            for s in stories[:2]
        ]
        receipts_handler(ledger)(
            [
                Message(contract.receipts.name, 0, i, r.story_id, r.to_json(), {}, 0)
                for i, r in enumerate(receipts)
            ]
        )
        assert republisher.run_once() == 1
        assert [s.id for s in ledger.unconfirmed(datetime.now(UTC) + timedelta(days=1), timedelta(0))] == [
            stories[2].id
        ]
    finally:
        publisher.close()
        ledger.close()
