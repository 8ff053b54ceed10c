"""Round trips through a real tansu broker: delivery, groups, commits, restarts, dead letters."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence

import pytest

from wirewatch_common.bus import Admin, Consumer, Message, Outgoing, Producer, TransientError, group_timing

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JOIN_TIMEOUT = 60.0  # a tansu group join takes ~5 s; a rebalance with two members longer


@pytest.fixture
def producer(broker):
    p = Producer({"bootstrap_servers": [broker.bootstrap_servers]})
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def admin(broker):
    a = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
    try:
        yield a
    finally:
        a.close()


@pytest.fixture
def consumers(broker, producer):
    """Build group members; every one is closed at the end of the test."""
    made: list[Consumer] = []

    def make(
        topics: Sequence[str], group: str, handler: Callable[[Sequence[Message]], None], **options
    ) -> Consumer:
        options.setdefault("kafka", {})
        consumer = Consumer.from_settings(
            _settings(broker),
            topics,
            group,
            handler,
            producer=producer,
            dead_letter_topic=options.pop("dead_letter_topic", "unused-dead-letters"),
            **options,
        )
        made.append(consumer)
        return consumer

    try:
        yield make
    finally:
        for consumer in made:
            consumer.close()


def _settings(broker):
    from wirewatch_common.settings import Settings

    return Settings(_env_file=None, kafka_bootstrap_servers=broker.bootstrap_servers)


def _group() -> str:
    return f"group-{uuid.uuid4().hex[:8]}"


def _poll_until(consumer: Consumer, done: Callable[[], bool], timeout: float = JOIN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out waiting for messages"
        consumer.poll_once()


def test_produce_with_key_and_headers_round_trips(new_topic, producer, consumers):
    topic = new_topic(partitions=3)
    headers = [("wirewatch-schema-version", b"1"), ("content-type", b"application/json")]
    delivered = producer.publish(Outgoing(topic, "story-1", b'{"hello": "world"}', headers))
    assert delivered.topic == topic and delivered.offset == 0

    seen: list[Message] = []
    consumer = consumers([topic], _group(), seen.extend)
    _poll_until(consumer, lambda: len(seen) == 1)
    (message,) = seen
    assert message.key == "story-1"
    assert json.loads(message.value) == {"hello": "world"}
    assert message.headers == dict(headers)
    assert message.header("content-type") == "application/json"
    assert message.partition == delivered.partition


def test_same_key_always_lands_on_the_same_partition(new_topic, producer):
    topic = new_topic(partitions=4)
    deliveries = producer.publish_many(Outgoing(topic, "one-story", str(i).encode()) for i in range(5))
    assert len({d.partition for d in deliveries}) == 1
    assert [d.offset for d in deliveries] == list(range(5))


def test_two_members_of_a_group_split_the_partitions(new_topic, producer, consumers):
    topic = new_topic(partitions=4)
    group = _group()
    seen: dict[str, list[Message]] = {"a": [], "b": []}
    members = {name: consumers([topic], group, seen[name].extend) for name in seen}
    stop = threading.Event()

    def spin(member: Consumer) -> None:
        while not stop.is_set():
            member.poll_once()

    threads = [threading.Thread(target=spin, args=(m,), daemon=True) for m in members.values()]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + JOIN_TIMEOUT
        while not all(m.assignment() for m in members.values()):
            assert time.monotonic() < deadline, "the group never gave both members partitions"
            time.sleep(0.2)
        owned = {name: m.assignment() for name, m in members.items()}
        assert owned["a"].isdisjoint(owned["b"])
        assert owned["a"] | owned["b"] == {(topic, p) for p in range(4)}

        producer.publish_many(Outgoing(topic, f"story-{i}", b"{}") for i in range(40))
        deadline = time.monotonic() + JOIN_TIMEOUT
        while sum(len(v) for v in seen.values()) < 40:
            assert time.monotonic() < deadline, "not every message was consumed"
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert seen["a"] and seen["b"], "both members must have handled messages"
    for name, messages in seen.items():
        assert {(m.topic, m.partition) for m in messages} <= owned[name]
    keys = sorted(m.key or "" for v in seen.values() for m in v)
    assert keys == sorted(f"story-{i}" for i in range(40)), "each message handled exactly once"


def test_restart_resumes_at_the_committed_offset(new_topic, producer, consumers, admin):
    topic = new_topic(partitions=1)
    group = _group()
    producer.publish_many(Outgoing(topic, f"k{i}", str(i).encode()) for i in range(10))

    first_seen: list[Message] = []
    first = consumers([topic], group, first_seen.extend, batch_size=4)
    _poll_until(first, lambda: len(first_seen) >= 4)
    seen = len(first_seen)
    assert 4 <= seen <= 7, "polls grow 1, 2, 4 while the handler proves fast"
    assert [m.offset for m in first_seen] == list(range(seen))
    assert admin.committed_offsets(group) == {(topic, 0): seen}
    assert admin.end_offsets([topic]) == {(topic, 0): 10}, "lag = end 10 - committed"
    first.close()

    second_seen: list[Message] = []
    second = consumers([topic], group, second_seen.extend)
    _poll_until(second, lambda: len(second_seen) >= 10 - seen)
    assert [m.offset for m in second_seen] == list(range(seen, 10))
    assert admin.committed_offsets(group) == {(topic, 0): 10}


def test_the_embedded_broker_is_told_from_a_kafka_cluster_by_its_id(broker, new_topic, producer):
    from wirewatch_common.settings import Settings

    settings = _settings(broker)
    # Unset, the session timeout fits the broker: tansu's minimum here, Kafka's default on a cluster.
    assert group_timing(settings) == {"session_timeout_ms": 6_000, "heartbeat_interval_ms": 2_000}
    assert group_timing(settings, tansu=False)["session_timeout_ms"] == 45_000
    chosen = Settings(_env_file=None, kafka_bootstrap_servers="unused:1", kafka_session_timeout_ms=20_000)
    assert group_timing(chosen) == {"session_timeout_ms": 20_000, "heartbeat_interval_ms": 6_666}

    topic = new_topic(partitions=1)
    producer.publish_many(Outgoing(topic, "k", str(i).encode()) for i in range(10))  # one record batch
    on_tansu = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
    taken_at_its_word = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
    try:
        assert on_tansu.tansu
        assert on_tansu.end_offsets([topic]) == {(topic, 0): 10}, "the last batch is read back on tansu"
        taken_at_its_word.__dict__["tansu"] = False  # as a Kafka cluster answers: no read-back
        assert taken_at_its_word.end_offsets([topic]) == {(topic, 0): 1}, "tansu's own answer"
    finally:
        on_tansu.close()
        taken_at_its_word.close()


def test_poison_message_goes_to_dead_letters_and_the_partition_keeps_flowing(
    new_topic, producer, consumers, admin
):
    topic = new_topic(partitions=1)
    dead = new_topic(partitions=1, suffix="-dlq")
    group = _group()
    producer.publish_many(
        [
            Outgoing(topic, "good-1", b'{"n": 1}'),
            Outgoing(topic, "poison", b"{not json", [("wirewatch-schema-version", b"1")]),
            Outgoing(topic, "good-2", b'{"n": 2}'),
        ]
    )
    handled: list[int] = []
    attempts_on_poison = 0

    def handler(batch: Sequence[Message]) -> None:
        nonlocal attempts_on_poison
        decoded = []
        for message in batch:
            if message.key == "poison" and len(batch) == 1:
                attempts_on_poison += 1
            decoded.append(json.loads(message.value)["n"])
        handled.extend(decoded)

    consumer = consumers(
        [topic], group, handler, dead_letter_topic=dead, max_attempts=3, retry_backoff=(0.01, 0.1)
    )
    _poll_until(consumer, lambda: admin.committed_offsets(group).get((topic, 0)) == 3)
    assert handled == [1, 2]
    assert attempts_on_poison == 3

    dead_seen: list[Message] = []
    reader = consumers([dead], _group(), dead_seen.extend)
    _poll_until(reader, lambda: len(dead_seen) == 1)
    (letter,) = dead_seen
    assert letter.key == "poison"
    assert letter.value == b"{not json"
    assert letter.header("wirewatch-schema-version") == "1", "original headers are kept"
    assert letter.header("wirewatch-error-type") == "json.decoder.JSONDecodeError"
    assert "Expecting property name" in (letter.header("wirewatch-error") or "")
    assert letter.header("wirewatch-original-topic") == topic
    assert letter.header("wirewatch-original-offset") == "1"
    assert letter.header("wirewatch-attempts") == "3"
    assert letter.header("wirewatch-consumer-group") == group


def test_transient_failure_commits_nothing_and_retries_the_same_messages(
    new_topic, producer, consumers, admin
):
    topic = new_topic(partitions=1)
    group = _group()
    producer.publish_many(Outgoing(topic, f"k{i}", b"{}") for i in range(3))
    calls: list[list[int]] = []
    backend_up = False

    def handler(batch: Sequence[Message]) -> None:
        calls.append([m.offset for m in batch])
        if not backend_up:
            msg = "search backend unavailable"
            raise TransientError(msg)

    consumer = consumers([topic], group, handler, retry_backoff=(0.01, 0.05))
    _poll_until(consumer, lambda: len(calls) >= 2)
    assert admin.committed_offsets(group) == {}
    assert calls[0][0] == 0
    assert all(c == calls[0] for c in calls), "the same messages are offered again after each failure"

    backend_up = True
    _poll_until(consumer, lambda: admin.committed_offsets(group).get((topic, 0)) == 3)
    assert sorted({o for c in calls for o in c}) == [0, 1, 2]


def test_stop_during_a_failing_batch_abandons_it_uncommitted(new_topic, producer, consumers, admin):
    topic = new_topic(partitions=1)
    group = _group()
    producer.publish_many(Outgoing(topic, f"k{i}", b"{}") for i in range(3))
    stop = threading.Event()
    offered: list[int] = []

    def handler(batch: Sequence[Message]) -> None:
        offered.extend(m.offset for m in batch)
        stop.set()  # SIGTERM arrives while the handler is failing
        msg = "boom"
        raise RuntimeError(msg)

    consumer = consumers([topic], group, handler, max_attempts=5, retry_backoff=(1.0, 1.0))
    deadline = time.monotonic() + JOIN_TIMEOUT
    while not offered:
        assert time.monotonic() < deadline
        consumer.poll_once(stop)
    assert admin.committed_offsets(group) == {}
    consumer.close()

    again: list[int] = []
    successor = consumers([topic], group, lambda batch: again.extend(m.offset for m in batch))
    _poll_until(successor, lambda: len(again) >= 3)
    assert again == [0, 1, 2], "the abandoned batch is delivered again from the start"


def test_run_loop_stops_when_asked(new_topic, producer, consumers):
    topic = new_topic(partitions=2)
    seen: list[Message] = []
    consumer = consumers([topic], _group(), seen.extend)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    producer.publish_many(Outgoing(topic, f"k{i}", b"{}") for i in range(5))
    deadline = time.monotonic() + JOIN_TIMEOUT
    while len(seen) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    stop.set()
    thread.join(15)
    assert not thread.is_alive(), "run() must return within a poll interval of stop being set"


def test_stories_are_published_keyed_with_contract_headers(new_topic, producer, consumers, make_story):
    topic = new_topic(partitions=2)
    story = make_story(version=2)
    producer.publish_stories(topic, [story])
    seen: list[Message] = []
    consumer = consumers([topic], _group(), seen.extend)
    _poll_until(consumer, lambda: len(seen) == 1)
    assert seen[0].key == story.id
    assert seen[0].story() == story
    assert seen[0].header("wirewatch-story-version") == "2"


def _dead_letters(consumers, topic: str, count: int) -> list[Message]:
    seen: list[Message] = []
    reader = consumers([topic], _group(), seen.extend)
    _poll_until(reader, lambda: len(seen) >= count)
    return seen


def test_a_rejected_batch_is_split_until_the_poison_is_found_and_its_neighbours_are_committed(
    new_topic, producer, consumers, admin
):
    topic = new_topic(partitions=1)
    dead = new_topic(partitions=1, suffix="-dlq")
    group = _group()
    keys = [f"k{i}" for i in range(40)]
    keys[29] = "poison"
    producer.publish_many(Outgoing(topic, k, b"{}") for k in keys)
    handled: list[str] = []
    sizes: list[int] = []

    def handler(batch: Sequence[Message]) -> None:
        sizes.append(len(batch))
        if any(m.key == "poison" for m in batch):
            msg = "the backend refuses this document: date out of range"
            raise ValueError(msg)
        handled.extend(m.key or "" for m in batch)

    consumer = consumers([topic], group, handler, dead_letter_topic=dead, retry_backoff=(0.01, 0.05))
    _poll_until(consumer, lambda: admin.committed_offsets(group).get((topic, 0)) == 40)
    assert sorted(handled) == sorted(k for k in keys if k != "poison"), "every neighbour written once"
    assert len(handled) == 39
    assert sizes.count(1) <= 3 + 2, "halves narrow the batch down; only the poison is tried alone"
    (letter,) = _dead_letters(consumers, dead, 1)
    assert letter.key == "poison"
    assert "date out of range" in (letter.header("wirewatch-error") or "")
    assert letter.header("wirewatch-original-offset") == "29"


def test_a_message_failing_transiently_while_others_succeed_is_dead_lettered(
    new_topic, producer, consumers, admin
):
    topic = new_topic(partitions=1)
    dead = new_topic(partitions=1, suffix="-dlq")
    group = _group()
    keys = [f"k{i}" for i in range(12)]
    keys[0] = "sticky"  # at the head: without isolation it would hold the partition forever
    producer.publish_many(Outgoing(topic, k, b"{}") for k in keys)
    handled: list[str] = []

    def handler(batch: Sequence[Message]) -> None:
        if any(m.key == "sticky" for m in batch):
            msg = "backend answered 503 for this document"
            raise TransientError(msg)
        handled.extend(m.key or "" for m in batch)

    consumer = consumers(
        [topic], group, handler, dead_letter_topic=dead, retry_backoff=(0.01, 0.05), probe_after=2
    )
    _poll_until(consumer, lambda: admin.committed_offsets(group).get((topic, 0)) == 12)
    assert set(handled) == set(keys) - {"sticky"}
    (letter,) = _dead_letters(consumers, dead, 1)
    assert letter.key == "sticky"
    assert "kept failing while other messages went through" in (letter.header("wirewatch-error") or "")


def test_an_outage_is_never_taken_for_poison_and_is_reported_as_a_stall(
    new_topic, producer, consumers, admin
):
    topic = new_topic(partitions=1)
    group = _group()
    producer.publish_many(Outgoing(topic, f"k{i}", b"{}") for i in range(10))
    up = False
    handled: list[str] = []

    def handler(batch: Sequence[Message]) -> None:
        if not up:
            msg = "search backend unreachable"
            raise TransientError(msg)
        handled.extend(m.key or "" for m in batch)

    consumer = consumers(
        [topic], group, handler, retry_backoff=(0.01, 0.05), probe_after=2, stall_after=0.5, max_attempts=2
    )
    deadline = time.monotonic() + JOIN_TIMEOUT
    while not consumer.stalls():
        assert time.monotonic() < deadline, "an outage longer than stall_after is reported"
        consumer.poll_once()
    (stall,) = consumer.stalls()
    assert (stall.group, stall.topic, stall.partition, stall.offset) == (group, topic, 0, 0)
    assert stall.kind == "retrying"
    assert "unreachable" in stall.error
    for _ in range(10):  # many probes while the backend is out: nothing is dead-lettered or committed
        consumer.poll_once()
    assert admin.committed_offsets(group) == {}

    up = True
    _poll_until(consumer, lambda: admin.committed_offsets(group).get((topic, 0)) == 10)
    assert sorted(handled) == sorted(f"k{i}" for i in range(10))
    assert consumer.stalls() == []


def test_each_poll_is_sized_to_the_work_a_slice_can_hold(new_topic, producer, consumers, admin):
    topic = new_topic(partitions=1)
    group = _group()
    producer.publish_many(Outgoing(topic, f"k{i}", b"{}") for i in range(60))
    sizes: list[int] = []

    def slow(batch: Sequence[Message]) -> None:
        sizes.append(len(batch))
        time.sleep(0.02 * len(batch))  # 50 messages a second

    consumer = consumers([topic], group, slow, batch_size=500, slice_seconds=0.2)
    _poll_until(consumer, lambda: admin.committed_offsets(group).get((topic, 0)) == 60)
    assert sizes[0] == 1, "the first poll takes one message: nothing is known of the handler yet"
    assert max(sizes) <= 20, f"a slice of 0.2 s at 50/s holds ~10 messages, not the 500 allowed: {sizes}"


def test_a_handler_takes_in_what_arrives_while_it_works_up_to_the_batch_size_and_loses_nothing(
    new_topic, producer, consumers, admin
):
    topic = new_topic(partitions=1)
    group = _group()
    producer.publish_many([Outgoing(topic, "k0", b"{}")])
    batches: list[list[str]] = []
    full: list[list[str]] = []
    member: list[Consumer] = []

    def handler(batch: Sequence[Message]) -> None:
        keys = [m.key or "" for m in batch]
        if not batches:  # what arrives while the handler works joins the batch
            producer.publish_many(Outgoing(topic, f"k{i}", b"{}") for i in range(1, 4))
            deadline = time.monotonic() + 2.5
            while len(keys) < 4 and time.monotonic() < deadline:
                keys += [m.key or "" for m in member[0].between()]
            producer.publish_many(Outgoing(topic, f"k{i}", b"{}") for i in range(4, 6))
            time.sleep(0.5)
            full.append([m.key or "" for m in member[0].between()])  # the batch is full: nothing joins
        batches.append(keys)

    consumer = consumers([topic], group, handler, batch_size=4, slice_seconds=3.0)
    member.append(consumer)
    _poll_until(consumer, lambda: admin.committed_offsets(group).get((topic, 0)) == 4)
    assert batches == [["k0", "k1", "k2", "k3"]], "committed together, in one handler call"
    assert full == [[]]
    _poll_until(consumer, lambda: admin.committed_offsets(group).get((topic, 0)) == 6)
    assert [k for b in batches[1:] for k in b] == ["k4", "k5"], "what did not fit waits for the next poll"
    assert consumer.stalls() == []


def test_a_long_batch_commits_what_its_handler_finished_and_a_stop_ends_it_there(
    new_topic, producer, consumers, admin
):
    topic = new_topic(partitions=1)
    group = _group()
    producer.publish_many(Outgoing(topic, f"k{i}", b"{}") for i in range(6))
    stop = threading.Event()
    member: list[Consumer] = []
    committed: list[int | None] = []
    handled: list[list[str]] = []

    def handler(batch: Sequence[Message]) -> None:
        handled.append([m.key or "" for m in batch])
        if len(handled) > 1:
            return
        # k0..k5: k0 and k2 are finished first; only k0 may be committed (k1 comes before k2).
        member[0].between([batch[0], batch[2]])
        committed.append(admin.committed_offsets(group).get((topic, 0)))
        member[0].between([batch[1]])
        committed.append(admin.committed_offsets(group).get((topic, 0)))
        stop.set()
        member[0].between()  # raises: the rest of the batch is not this handler's any more
        raise AssertionError("between must raise once a stop was asked")

    consumer = consumers([topic], group, handler, batch_size=6, slice_seconds=30.0)
    member.append(consumer)
    consumer.pacer.observe(6, 0.1)  # a poll may take all six at once
    deadline = time.monotonic() + JOIN_TIMEOUT
    while not handled:
        assert time.monotonic() < deadline, "timed out waiting for messages"
        consumer.poll_once(stop)
    assert handled[0] == [f"k{i}" for i in range(6)]
    assert committed == [1, 3], "an unbroken run from the batch's start is committed while the batch goes on"
    assert admin.committed_offsets(group).get((topic, 0)) == 3, "after the stop only the finished are"
    consumer.close()

    again = consumers([topic], group, handler)
    _poll_until(again, lambda: admin.committed_offsets(group).get((topic, 0)) == 6)
    assert [k for batch in handled[1:] for k in batch] == ["k3", "k4", "k5"], "the rest, once"


def test_a_message_larger_than_kafka_accepts_is_its_own_problem_not_an_outage(new_topic, broker):
    from wirewatch_common.bus import MessageTooLarge

    topic = new_topic(partitions=1)
    small = Producer({"bootstrap_servers": [broker.bootstrap_servers]}, max_request_size=100_000)
    try:
        with pytest.raises(MessageTooLarge, match=r"200\d{3} bytes"):
            small.publish_many([Outgoing(topic, "big", b"x" * 200_000)])
        (delivery,) = small.publish_many([Outgoing(topic, "fine", b"x" * 1000)])
        assert delivery.topic == topic, "the same client keeps publishing: nothing was renewed or broken"
    finally:
        small.close()
