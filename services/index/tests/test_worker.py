"""The index worker: batches to the backend, receipts after durable writes, retries when the backend is down,
dead letters for what the backend refuses."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from wirewatch_common.bus import Admin, Consumer, Message, Outgoing, Producer, TransientError
from wirewatch_common.query import parse
from wirewatch_common.story import Receipt, Story
from wirewatch_common.topics import story_headers
from wirewatch_index.backends.base import DocumentRejected
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.search import SearchRequest
from wirewatch_index.worker import IndexHandler
from wirewatch_testkit.stories import CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, STRIKE, original, rendition


def as_message(story, offset: int) -> Message:
    return Message(
        topic="stories",
        partition=0,
        offset=offset,
        key=story.id,
        value=story.to_json(),
        headers=dict(story_headers(story)),
        timestamp_ms=0,
    )


@pytest.fixture
def tantivy_backend(tmp_path):
    b = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    try:
        yield b
    finally:
        b.close()


@pytest.mark.integration
def test_handler_writes_the_batch_then_publishes_one_receipt_per_version_and_language(tantivy_backend):
    sent: list[Outgoing] = []
    handler = IndexHandler(tantivy_backend, sent.extend, "receipts")
    v2 = STRIKE.model_copy(update={"version": 2})
    handler([as_message(s, i) for i, s in enumerate([CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, v2])])
    receipts = [Receipt.model_validate_json(m.value) for m in sent]
    assert {(r.story_id, r.version, r.language) for r in receipts} == {
        ("ww-ceasefire", 1, "en"),
        ("ww-ceasefire", 1, "ar"),
        ("ww-ceasefire", 1, "tr"),
        ("ww-strike", 2, "en"),
    }
    assert all(m.topic == "receipts" and m.key == r.story_id for m, r in zip(sent, receipts, strict=True))
    assert {r.status for r in receipts if r.language != "en"} == {"translated"}
    assert all(r.backend == "tantivy" for r in receipts)
    sent.clear()
    handler([as_message(STRIKE, 9)])  # the older version, redelivered late: not written, no receipt
    assert sent == []
    assert tantivy_backend.search(SearchRequest(query=parse("strike"))).hits[0].version == 2


@pytest.mark.integration
def test_a_partial_rendition_is_indexed_without_a_receipt_so_the_ledger_waits_for_the_full_one(
    tantivy_backend,
):
    sent: list[Outgoing] = []
    handler = IndexHandler(tantivy_backend, sent.extend, "receipts")
    partial = rendition(CEASEFIRE, "tr", CEASEFIRE_TR.headline, [], "partial")
    handler([as_message(CEASEFIRE, 0), as_message(partial, 1)])
    assert [Receipt.model_validate_json(m.value).language for m in sent] == ["en"]
    (hit,) = tantivy_backend.search(SearchRequest(query=parse("ateşkes"))).hits
    assert hit.partial, "searchable at once, without confirming the version"
    sent.clear()
    handler([as_message(CEASEFIRE_TR, 2)])
    (receipt,) = [Receipt.model_validate_json(m.value) for m in sent]
    assert (receipt.language, receipt.status) == ("tr", "translated")


@pytest.mark.integration
def test_handler_turns_a_locked_index_into_a_transient_error(tantivy_backend, tmp_path):
    holder = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    holder.write([STRIKE])  # takes the one writer lock on the directory
    try:
        sent: list[Outgoing] = []
        handler = IndexHandler(tantivy_backend, sent.extend, "receipts")
        with pytest.raises(TransientError, match="writer lock"):
            handler([as_message(CEASEFIRE, 0)])
        assert sent == []
    finally:
        holder.close()
        del holder


@pytest.mark.integration
@pytest.mark.slow
def test_worker_on_tansu_commits_after_writes_and_resumes_after_an_outage(
    broker, broker_settings, new_topic, tmp_path
):
    stories_topic = new_topic(partitions=2, suffix="-stories")
    renditions_topic = new_topic(partitions=2, suffix="-renditions")
    receipts_topic = new_topic(partitions=1, suffix="-receipts")
    dlq = new_topic(suffix="-dlq")
    group = f"index-{uuid.uuid4().hex[:6]}"
    index_dir = tmp_path / "idx"
    producer = Producer.from_settings(broker_settings)
    admin = Admin.from_settings(broker_settings)
    backend = TantivyBackend(index_dir, writer_heap_bytes=15_000_000, writer_threads=1)
    holder: TantivyBackend | None = TantivyBackend(index_dir, writer_heap_bytes=15_000_000, writer_threads=1)
    stop = threading.Event()
    consumer = Consumer.from_settings(
        broker_settings,
        [stories_topic, renditions_topic],
        group,
        IndexHandler(backend, producer.publish_many, receipts_topic),
        producer=producer,
        dead_letter_topic=dlq,
        retry_backoff=(0.1, 0.5),
    )
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    receipts: list[Receipt] = []
    stop_receipts = threading.Event()
    receipt_consumer = Consumer.from_settings(
        broker_settings,
        [receipts_topic],
        f"{group}-receipts",
        lambda batch: receipts.extend(Receipt.model_validate_json(m.value) for m in batch),
        producer=producer,
        dead_letter_topic=dlq,
    )
    receipt_thread = threading.Thread(target=receipt_consumer.run, args=(stop_receipts,), daemon=True)
    receipt_thread.start()
    try:
        producer.publish_stories(stories_topic, [CEASEFIRE, STRIKE])
        producer.publish_stories(renditions_topic, [CEASEFIRE_AR, CEASEFIRE_TR])
        producer.publish_stories(stories_topic, [CEASEFIRE])  # a redelivery
        deadline = time.monotonic() + 60
        while len({(r.story_id, r.language) for r in receipts}) < 4:
            assert time.monotonic() < deadline, receipts
            time.sleep(0.2)
        page = backend.search(SearchRequest(query=parse("Idlib")))
        assert [h.story_id for h in page.hits] == ["ww-ceasefire"] and page.hits[0].languages == [
            "ar",
            "en",
            "tr",
        ]
        while sum(admin.committed_offsets(group).values()) < 5:
            assert time.monotonic() < deadline
            time.sleep(0.2)

        # Outage: the worker's writer is dropped and another process-like writer takes the lock.
        backend.close()
        holder._get_writer()
        committed = admin.committed_offsets(group)
        update = CEASEFIRE.model_copy(update={"version": 2, "headline": "Ceasefire collapses in Idlib"})
        producer.publish_stories(stories_topic, [update])
        time.sleep(3)
        assert admin.committed_offsets(group) == committed
        assert backend.search(SearchRequest(query=parse("collapses"))).hits == []
        holder.close()
        holder = None
        while not backend.search(SearchRequest(query=parse("collapses"))).hits:
            assert time.monotonic() < deadline + 30
            time.sleep(0.2)
        while not any(r.version == 2 for r in receipts):
            assert time.monotonic() < deadline + 30
            time.sleep(0.2)
        assert sum(admin.committed_offsets(group).values()) == sum(committed.values()) + 1
        assert thread.is_alive()
    finally:
        stop.set()
        stop_receipts.set()
        thread.join(30)
        receipt_thread.join(30)
        if holder is not None:
            holder.close()
        backend.close()
        producer.close()
        admin.close()


@pytest.mark.integration
def test_a_malformed_message_is_not_transient_so_the_consumer_can_dead_letter_it(tantivy_backend):
    from pydantic import ValidationError

    sent: list[Outgoing] = []
    handler = IndexHandler(tantivy_backend, sent.extend, "receipts")
    bad = Message("stories", 0, 1, "ww-bad", b'{"id": "ww-bad"}', {}, 0)
    with pytest.raises(ValidationError):
        handler([as_message(CEASEFIRE, 0), bad])
    assert sent == []
    assert tantivy_backend.search(SearchRequest(query=parse("Idlib"))).hits == []  # nothing half-written


@pytest.mark.integration
def test_receipts_validate_against_the_published_schema(tantivy_backend):
    import json
    from pathlib import Path

    import jsonschema

    schema = json.loads(
        (Path(__file__).resolve().parents[3] / "deploy/schemas/receipt.schema.json").read_text()
    )
    sent: list[Outgoing] = []
    IndexHandler(tantivy_backend, sent.extend, "receipts")(
        [as_message(CEASEFIRE, 0), as_message(CEASEFIRE_AR, 1)]
    )
    assert len(sent) == 2
    for message in sent:
        jsonschema.validate(json.loads(message.value), schema)
        headers = dict(message.headers)
        assert headers["wirewatch-language"] in (b"en", b"ar") and headers["wirewatch-schema-version"] == b"1"


@pytest.mark.integration
def test_handler_lets_a_refused_document_through_as_non_transient(tantivy_backend):
    sent: list[Outgoing] = []
    handler = IndexHandler(tantivy_backend, sent.extend, "receipts")
    far = original("ww-far", "Dated 2900", ["x"], versioncreated=datetime(2900, 1, 1, tzinfo=UTC))
    with pytest.raises(DocumentRejected, match=r"ww-far \(en, v1\)"):
        handler([as_message(CEASEFIRE, 0), as_message(far, 1)])
    assert sent == []


@pytest.mark.integration
@pytest.mark.slow
def test_worker_on_tansu_dead_letters_the_story_tantivy_refuses_and_indexes_its_neighbours(
    broker, broker_settings, new_topic, tmp_path
):
    stories_topic = new_topic(partitions=1, suffix="-stories")
    receipts_topic = new_topic(partitions=1, suffix="-receipts")
    dlq = new_topic(partitions=1, suffix="-dlq")
    group = f"index-{uuid.uuid4().hex[:6]}"
    good = [original(f"ww-good-{i}", f"Harbour report {i}", ["Ships sailed."]) for i in range(4)]
    # Valid for the contract, refused by tantivy (dates end in 2262); built as ingest would not.
    far = Story.model_validate(
        original("ww-far", "Harbour report from the future", ["Dated 2900."]).model_dump()
        | {"versioncreated": datetime(2900, 1, 1, tzinfo=UTC)}
    )
    producer = Producer.from_settings(broker_settings)
    admin = Admin.from_settings(broker_settings)
    backend = TantivyBackend(tmp_path / "idx", writer_heap_bytes=15_000_000, writer_threads=1)
    stop = threading.Event()
    consumer = Consumer.from_settings(
        broker_settings,
        [stories_topic],
        group,
        IndexHandler(backend, producer.publish_many, receipts_topic),
        producer=producer,
        dead_letter_topic=dlq,
        retry_backoff=(0.05, 0.5),
    )
    letters: list[Message] = []
    letter_consumer = Consumer.from_settings(
        broker_settings, [dlq], f"{group}-dlq", letters.extend, producer=producer, dead_letter_topic="unused"
    )
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in (consumer, letter_consumer)]
    for t in threads:
        t.start()
    try:
        producer.publish_stories(stories_topic, [good[0], good[1], far, good[2], good[3]])
        deadline = time.monotonic() + 60
        while admin.committed_offsets(group).get((stories_topic, 0)) != 5 or not letters:
            assert time.monotonic() < deadline, (admin.committed_offsets(group), letters)
            assert threads[0].is_alive()
            time.sleep(0.2)
        page = backend.search(SearchRequest(query=parse("harbour")))
        assert sorted(h.story_id for h in page.hits) == [s.id for s in good]
        assert backend.get_story("ww-far", embargoed=True) is None
        (letter,) = letters
        assert letter.key == "ww-far" and letter.story() == far
        assert letter.header("wirewatch-error-type") == "wirewatch_index.backends.base.DocumentRejected"
        reason = letter.header("wirewatch-error") or ""
        assert (
            "ww-far (en, v1)" in reason and "versioncreated 2900-01-01" in reason and "out of range" in reason
        )
        assert letter.header("wirewatch-original-offset") == "2"
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        backend.close()
        producer.close()
        admin.close()
