"""The re-publisher against the session broker: it sends again only what the pipeline lost.

A version without a receipt that still waits in the stories topic, or whose renditions or
receipts are still on their way, is left alone however long it takes; what the broker no longer
holds, and what every stage read past without a receipt coming back, is sent again. The stages
are stood in for by consumer groups with the translate and index groups' names that read to the
end and produce nothing, as a stage that lost its output would.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from wirewatch_common.bus import Admin, Consumer, Message, Outgoing, Producer
from wirewatch_common.story import Receipt, RenditionStatus
from wirewatch_ingest.bootstrap import republish_probe
from wirewatch_ingest.ledger import Ledger
from wirewatch_ingest.loss import idle
from wirewatch_ingest.receipts import receipts_handler
from wirewatch_ingest.republisher import Republisher
from wirewatch_ingest.settings import IngestSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _groups() -> dict[str, str]:
    """Stage group names private to one test (the session broker is shared)."""
    tag = uuid.uuid4().hex[:8]
    return {
        "translate_group_id": f"test-translate-{tag}",
        "index_group_id": f"test-index-{tag}",
        "ingest_receipts_group": f"test-receipts-{tag}",
    }


def read_to_end(settings: IngestSettings, group: str, topics: Sequence[str], timeout: float = 90.0) -> None:
    """Join `group`, read `topics` to their current end and commit, handling nothing (a stage that lost its output)."""
    producer = Producer.from_settings(settings)
    consumer = Consumer.from_settings(
        settings, list(topics), group, lambda batch: None, producer=producer, dead_letter_topic="unused"
    )
    admin = Admin.from_settings(settings)
    deadline = time.monotonic() + timeout
    try:
        ends = admin.end_offsets(topics)
        while not idle(admin.committed_offsets(group), ends, topics):
            assert time.monotonic() < deadline, f"{group} did not read {topics} to the end in {timeout}s"
            consumer.poll_once()
    finally:
        consumer.close()
        producer.close()
        admin.close()


def republished(reason: str) -> float:
    return REGISTRY.get_sample_value("wirewatch_ingest_republished_reasons_total", {"reason": reason}) or 0.0


def awaiting() -> float:
    return REGISTRY.get_sample_value("wirewatch_ingest_awaiting_stories") or 0.0


def test_unconfirmed_stories_are_sent_again_and_receipts_stop_that(
    make_pipeline, make_story, read_stories
) -> None:
    pipeline = make_pipeline(**_groups())
    settings, contract, ledger, publisher = (
        pipeline.settings,
        pipeline.contract,
        pipeline.ledger,
        pipeline.publisher,
    )
    stories = [make_story(id=f"ww-republish-{i}", uri=f"urn:test:{i}") for i in range(3)]
    ledger.admit(stories, datetime.now(UTC))  # accepted, never delivered (a crash before publishing)
    republisher = Republisher(
        ledger, publisher, republish_probe(settings, contract), grace=timedelta(0), interval=1
    )
    assert republisher.run_once() == 3  # and the round ends although the grace period is zero
    seen = read_stories(settings, contract.stories.name, {s.id for s in stories})
    assert seen[stories[0].id][0].story() == stories[0]
    for s in stories:
        place = ledger.position(s.id, 1)
        assert place is not None and seen[s.id][0].offset == place[2], "the re-publish's place is kept"

    receipts = [
        Receipt(
            story_id=s.id,
            version=1,
            language=lang,
            indexed_at=s.versioncreated,
            backend="tantivy",
            status=None if lang == "en" else RenditionStatus.TRANSLATED,
        )
        for s in stories[:2]
        for lang in ("en", "ar", "tr")
    ]
    receipts_handler(ledger)(
        [
            Message(contract.receipts.name, 0, i, r.story_id, r.to_json(), {}, 0)
            for i, r in enumerate(receipts)
        ]
    )
    assert republisher.run_once() == 0, "the third waits on the stories topic, unread by any stage"
    read_to_end(settings, settings.translate_group_id, [contract.stories.name])
    read_to_end(settings, settings.index_group_id, [contract.stories.name, contract.renditions.name])
    assert republisher.run_once() == 1, "read past by every stage, and no receipt: lost downstream"
    assert [s.id for s in ledger.unconfirmed(datetime.now(UTC) + timedelta(days=1), timedelta(0))] == [
        stories[2].id
    ]


def test_a_backlog_waiting_for_slow_stages_is_never_sent_again_until_it_is_lost(
    make_pipeline,
) -> None:
    pipeline = make_pipeline(**_groups())
    settings, contract, ledger, publisher = (
        pipeline.settings,
        pipeline.contract,
        pipeline.ledger,
        pipeline.publisher,
    )
    producer = Producer.from_settings(settings)
    try:
        ingestor = pipeline.ingestor
        texts = [
            f"Grain loadings at berth {i} rose\n\nODESA (Wirewatch) - Berth {i} loaded {i * 7} tonnes.\n".encode()
            for i in range(50)
        ]
        results = [ingestor.ingest(text, "text/plain", via="test") for text in texts]
        ids = [r.admissions[0].story.id for r in results]
        assert len(set(ids)) == 50 and all(ledger.position(i, 1) is not None for i in ids)
        # Something of another story is still on its way downstream: a rendition the index has
        # not read, and a receipt ingest has not read.
        producer.publish(Outgoing(contract.renditions.name, "ww-elsewhere", b"{}"))
        producer.publish(Outgoing(contract.receipts.name, "ww-elsewhere", b"{}"))

        republisher = Republisher(
            ledger, publisher, republish_probe(settings, contract), grace=timedelta(seconds=0.5), interval=0.5
        )
        sent_before = {reason: republished(reason) for reason in ("unplaced", "gone", "lost_downstream")}

        def deliveries() -> set[int]:
            return {v.deliveries for v in ledger.overdue(datetime.now(UTC), timedelta(0), limit=1000)}

        def rounds(count: int) -> int:
            total = 0
            for _ in range(count):
                time.sleep(0.6)  # past the grace every round
                total += republisher.run_once()
            return total

        assert rounds(4) == 0, "nothing consumed them yet: they wait in the stories topic"
        assert deliveries() == {1} and awaiting() == 50

        read_to_end(settings, settings.translate_group_id, [contract.stories.name])
        assert rounds(2) == 0, "translate is done, the index has not read them"
        read_to_end(settings, settings.index_group_id, [contract.stories.name])
        assert rounds(2) == 0, "a rendition still waits for the index"
        read_to_end(settings, settings.index_group_id, [contract.renditions.name])
        assert rounds(2) == 0, "a receipt still waits for ingest"
        assert deliveries() == {1} and awaiting() == 50
        assert {reason: republished(reason) for reason in sent_before} == sent_before

        read_to_end(settings, settings.ingest_receipts_group, [contract.receipts.name])
        assert rounds(1) == 50, "every stage read past them and no receipt came: lost downstream"
        assert republished("lost_downstream") - sent_before["lost_downstream"] == 50
        assert deliveries() == {2} and awaiting() == 0
        assert rounds(2) == 0, "the copies sent again wait in the stories topic in their turn"
        assert awaiting() == 50
    finally:
        producer.close()


def test_nothing_is_sent_while_the_broker_does_not_answer(
    broker, make_settings, make_contract, make_story, tmp_path: Path
) -> None:
    from wirewatch_common.broker import free_port

    settings = make_settings(broker.bootstrap_servers, **_groups())
    contract = make_contract()
    ledger = Ledger(tmp_path / "ledger.sqlite3", expect=settings.targets)
    story = make_story(id="ww-republish-down")
    ledger.admit([story], datetime.now(UTC))
    ledger.delivered([story], datetime.now(UTC) - timedelta(hours=1), [_Place(contract.stories.name, 0, 0)])
    nowhere = make_settings(f"127.0.0.1:{free_port()}", ingest_republish_check_timeout_s=1)
    publisher = Producer.from_settings(settings)
    try:
        republisher = Republisher(
            ledger, publisher, republish_probe(nowhere, contract), grace=timedelta(0), interval=1
        )
        assert republisher.run_once() == 0, "no broker to ask: nothing is taken for lost"
        assert ledger.overdue(datetime.now(UTC), timedelta(0))[0].deliveries == 1
        unprovisioned = Republisher(
            ledger, publisher, republish_probe(settings, contract), grace=timedelta(0), interval=1
        )
        assert unprovisioned.run_once() == 0, "sending would create the topic with the broker's defaults"
        admin = Admin.from_settings(settings)
        try:
            assert contract.stories.name not in admin.topic_partitions()
        finally:
            admin.close()
    finally:
        publisher.close()
        ledger.close()


class _Place:
    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset
