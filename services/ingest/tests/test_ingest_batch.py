"""The batch path: many documents, one ledger commit and one publish, each document's own outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirewatch_common.broker import free_port
from wirewatch_common.bus import DeliveryError, Producer
from wirewatch_common.settings import Settings
from wirewatch_ingest.errors import MalformedDocument, NoStories
from wirewatch_ingest.ledger import Ledger, Outcome
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.pipeline import BrokerUnavailable, Ingestor, Result

pytestmark = [pytest.mark.integration]


def agency(n: int) -> tuple[bytes, str]:
    return f"Harbour {n} reopens\n\nGDANSK (PAP) - Harbour {n} reopened on Tuesday.\n".encode(), "text/plain"


def test_a_batch_is_one_commit_one_publish_and_each_document_gets_its_outcome(
    make_pipeline, read_stories
) -> None:
    pipeline = make_pipeline()
    settings, contract, ledger, ingestor = (
        pipeline.settings,
        pipeline.contract,
        pipeline.ledger,
        pipeline.ingestor,
    )
    empty_feed = b'<rss version="2.0"><channel><title>Empty</title></channel></rss>'
    documents = [agency(0), (b"{", "application/json"), agency(1), (empty_feed, None), agency(0)]
    outcomes = ingestor.ingest_many(documents, via="test")
    assert [type(o) for o in outcomes] == [Result, MalformedDocument, Result, NoStories, Result]
    first, _, second, _, again = outcomes
    assert isinstance(first, Result) and isinstance(second, Result) and isinstance(again, Result)
    assert first.admissions[0].outcome is Outcome.ACCEPTED
    assert again.admissions[0].outcome is Outcome.DUPLICATE  # the same story twice in one batch
    assert ledger.commits == 1
    assert ledger.counts() == {"versions": 2, "delivered": 2, "confirmed": 0}
    ids = {first.admissions[0].story.id, second.admissions[0].story.id}
    seen = read_stories(settings, contract.stories.name, ids)
    assert {k: len(v) for k, v in seen.items()} == dict.fromkeys(ids, 1)


def test_a_batch_with_no_broker_is_refused_whole_and_the_ledger_forgets_it(tmp_path: Path) -> None:
    dead = Settings(_env_file=None, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")  # type: ignore[call-arg]
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    publisher = Producer.from_settings(dead, bootstrap_timeout_ms=1500)
    ingestor = Ingestor(ledger, publisher, "unused", Limits(), publish_timeout=2, chunk_stories=2)
    try:
        outcomes = ingestor.ingest_many([agency(n) for n in range(5)], via="test")
        assert all(isinstance(o, DeliveryError) for o in outcomes)
        assert all(isinstance(o, BrokerUnavailable) and o.code == "broker_unavailable" for o in outcomes)
        assert "earlier chunk" in str(outcomes[-1])  # later chunks fail at once, not after a timeout each
        assert ledger.counts()["versions"] == 0  # a retry later is not taken for a duplicate
    finally:
        publisher.close()
        ledger.close()
