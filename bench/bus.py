"""Throughput of the bus layer next to raw kafka-python, for ~2 KB JSON stories, in one run.

What is compared, and why: `wirewatch_common.bus` wraps kafka-python. Its producer waits for
every confirmation, records a `Delivery` per message and counts deliveries per topic; its consumer
detaches every record into a `Message`, hands batches to a handler, counts them and commits
after each batch. The goal is that this costs at most 15%: layer throughput / raw throughput
must stay at or above 0.85 for producing and for consuming.

Both sides run against one embedded tansu broker with the same client settings
(`PRODUCER_DEFAULTS`: acks=all, idempotence, gzip, linger; the consumer group settings of
`Consumer.from_settings`) and move the same pre-serialised bytes with the same keys and headers,
so the ratio measures the layer and nothing else:

- produce, raw:   `KafkaProducer.send` for every message, then wait for every future.
- produce, layer: `Producer.publish_many(Outgoing(...))`.
- produce, layer incl. serialisation: `Producer.publish_stories` (serialises each `Story`); for
  information only, not part of the ratio.
- consume, raw:   `KafkaConsumer.poll` batches, count and sum value sizes, synchronous commit
  per batch.
- consume, layer: `Consumer.poll_once` with a handler that counts and sums value sizes (it
  commits per batch).

Both consumers read the same topic, each in a fresh group. A group join on tansu takes seconds,
so the consume clock starts after the first non-empty batch (join + first batch + commit) on
both sides. The machine is noisy, so the paths run in alternating order for several rounds and
each path's best round counts. Rates count message values only (1 MB = 10^6 bytes).

Usage: `uv run python bench/bus.py [--messages 20000] [--rounds 3]`. A readable table goes to
stdout and, as the last line, one JSON object with the figures; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata

from wirewatch_common.broker import EmbeddedBroker
from wirewatch_common.bus import (
    PRODUCER_DEFAULTS,
    Admin,
    Consumer,
    Message,
    Outgoing,
    Producer,
    client_config,
    group_timing,
)
from wirewatch_common.settings import Settings
from wirewatch_common.story import Dateline, Party, Place, Story, Subject
from wirewatch_common.topics import Headers, story_headers

PARTITIONS = 6
GOAL_RATIO_MIN = 0.85
TARGET_PAYLOAD_BYTES = 2000
POLL_TIMEOUT_MS = 1000  # the layer's default
PASS_TIMEOUT_S = 120.0  # the most one produce or consume pass may take
MIN_MESSAGES = 2000  # the consume clock skips the first batch (up to 500), so keep N well above it

PRODUCE_RAW = "produce_raw"
PRODUCE_LAYER = "produce_layer"
PRODUCE_STORIES = "produce_layer_serialising"
CONSUME_RAW = "consume_raw"
CONSUME_LAYER = "consume_layer"


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# Made-up local news, assembled per message so batches compress roughly like real copy.
_HEADLINES = (
    "Harbour council approves flood barrier after stormy night session",
    "Port Alder flood barrier wins approval as repair bill climbs",
    "Councillors back Port Alder sea wall despite cost concerns",
    "Port Alder votes for flood defences after winter of high tides",
)
_SENTENCES = (
    "The harbour council of Port Alder voted {a} to {b} late on Tuesday to build a movable flood "
    "barrier across the mouth of the old dock.",
    "The project is expected to cost {m} million crowns and to take about {y} years to complete.",
    "Engineers told the meeting that the tide gauge at the ferry pier had recorded its {n} highest "
    "readings in the past two winters.",
    "Shop owners on Quay Street, where water reached the doorsteps {k} times last year, filled the "
    "public gallery and applauded the result.",
    "Mayor Elin Varga said the town could no longer rely on sandbags and luck, adding that it had "
    "spent {s} thousand crowns on pumps and clean-up since October alone.",
    "Opposition councillors argued that the estimate left out the cost of dredging the channel "
    "every {d} years.",
    "A study published in March found that {p} percent of homes in the lower town sit less than "
    "two metres above the spring high-water mark.",
    "The fishing cooperative welcomed the decision but asked for a second gate so that boats can "
    "leave during repairs.",
    "Work on the foundations could begin next spring if the regional water board releases its "
    "share of the money by the end of the year.",
    "The board's chair, Tomas Brandt, said a decision was due at its meeting on {day} {month}.",
    "Residents will be invited to {v} public sessions to comment on the design before it is final.",
    "The barrier would stay open most of the year and close only when forecasts show a surge of "
    "more than {h} centimetres.",
    "Similar gates in two neighbouring towns have closed on average {c} times a year since they were built.",
    "Insurance brokers in the region said premiums in the lower town had risen by about {r} "
    "percent over three years.",
    "The council will also ask the national roads agency to raise the coast road near the "
    "lighthouse, which flooded {f} times in January.",
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "September", "October")


@dataclass(frozen=True)
class Payload:
    """One message as both sides send it: the story id as key, the JSON bytes, the contract headers."""

    key: str
    value: bytes
    headers: Headers


@dataclass(frozen=True)
class Rate:
    """Messages and value bytes moved in some seconds."""

    messages: int
    nbytes: int
    seconds: float

    @property
    def msgs_s(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds

    @property
    def mb_s(self) -> float:
        """Megabytes (10^6 bytes) of message values per second."""
        return self.nbytes / self.seconds / 1e6


@dataclass
class Tally:
    """What a consume handler has seen so far."""

    messages: int = 0
    nbytes: int = 0


@dataclass
class Results:
    """Every round's rate for every path."""

    rates: dict[str, list[Rate]] = field(default_factory=dict)

    def add(self, path: str, rate: Rate) -> None:
        """Record one round of one path."""
        self.rates.setdefault(path, []).append(rate)

    def best(self, path: str) -> Rate:
        """The fastest round of a path."""
        return max(self.rates[path], key=lambda r: r.msgs_s)

    def ratio(self, layer: str, raw: str) -> float:
        """Best layer rate over best raw rate."""
        return self.best(layer).msgs_s / self.best(raw).msgs_s

    def round_ratios(self, layer: str, raw: str) -> list[float]:
        """Layer over raw within each round, to show how noisy the run was."""
        return [
            lay.msgs_s / raw_.msgs_s for lay, raw_ in zip(self.rates[layer], self.rates[raw], strict=True)
        ]


# --- payloads -----------------------------------------------------------------------------------


def _paragraphs(rng: random.Random, budget: int) -> list[str]:
    """Fill about `budget` characters with shuffled sentences in paragraphs of two or three."""
    figures = {
        "a": rng.randint(9, 14), "b": rng.randint(2, 8), "m": rng.randint(40, 190), "y": rng.randint(3, 7),
        "n": rng.choice(("three", "four", "five", "six")), "k": rng.randint(4, 19), "s": rng.randint(120, 900),
        "d": rng.randint(3, 9), "p": rng.randint(20, 60), "day": rng.randint(1, 28), "month": rng.choice(_MONTHS),
        "v": rng.choice(("two", "three", "four")), "h": rng.randint(40, 90), "c": rng.randint(2, 12),
        "r": rng.randint(15, 45), "f": rng.randint(2, 9),
    }  # fmt: skip
    sentences = [s.format(**figures) for s in _SENTENCES]
    first, rest = sentences[0], sentences[1:]
    rng.shuffle(rest)
    paragraphs: list[str] = []
    current = [first]
    used = len(first)
    for sentence in rest:
        if used >= budget:
            break
        if len(current) >= rng.choice((2, 3)):
            paragraphs.append(" ".join(current))
            current = []
        current.append(sentence)
        used += len(sentence) + 1
    paragraphs.append(" ".join(current))
    return paragraphs


def _story(index: int, body_budget: int) -> Story:
    rng = random.Random(index)
    created = datetime(2025, 11, 4, 21, 30, tzinfo=UTC)
    return Story(
        id=f"bench-{index:07d}",
        uri=f"urn:wirewatch:bench:{index:07d}",
        version=1 + index % 3,
        firstcreated=created,
        versioncreated=created,
        language="en",
        headline=rng.choice(_HEADLINES),
        body=_paragraphs(rng, body_budget),
        byline="By Mara Lindqvist",
        dateline=Dateline(text="PORT ALDER, Nov 4", places=[Place(name="Port Alder", code="XA")]),
        provider=Party(name="Wirewatch Bench Wire", uri="https://example.invalid/wire"),
        urgency=4,
        subjects=[
            Subject(name="flooding", code="medtop:20000148", scheme="medtop"),
            Subject(name="local government", code="medtop:20000574", scheme="medtop"),
        ],
        keywords=["flood barrier", "harbour", "council"],
    )


def make_stories(count: int) -> list[Story]:
    """Build `count` distinct stories whose JSON is about TARGET_PAYLOAD_BYTES long."""
    empty = len(_story(0, 0).model_copy(update={"body": []}).to_json())
    budget = TARGET_PAYLOAD_BYTES - empty - 60  # the last sentence overshoots the budget by ~60 on average
    return [_story(i, budget) for i in range(count)]


def to_payloads(stories: Sequence[Story]) -> list[Payload]:
    """Serialise once, so that both produce paths send identical bytes."""
    return [Payload(s.id, s.to_json(), story_headers(s)) for s in stories]


# --- produce --------------------------------------------------------------------------------------


def produce_raw(producer: KafkaProducer, topic: str, payloads: Sequence[Payload]) -> Rate:
    """Send everything with kafka-python, then wait for every confirmation (what publish_many does)."""
    started = time.perf_counter()
    futures = [producer.send(topic, key=p.key.encode(), value=p.value, headers=p.headers) for p in payloads]
    deadline = time.monotonic() + PASS_TIMEOUT_S
    for future in futures:
        future.get(timeout=max(0.0, deadline - time.monotonic()))
    return Rate(len(payloads), sum(len(p.value) for p in payloads), time.perf_counter() - started)


def produce_layer(producer: Producer, topic: str, payloads: Sequence[Payload]) -> Rate:
    """Publish the same bytes through the layer."""
    started = time.perf_counter()
    producer.publish_many(
        (Outgoing(topic, p.key, p.value, p.headers) for p in payloads), timeout=PASS_TIMEOUT_S
    )
    return Rate(len(payloads), sum(len(p.value) for p in payloads), time.perf_counter() - started)


def produce_stories(producer: Producer, topic: str, stories: Sequence[Story], nbytes: int) -> Rate:
    """Publish `Story` objects through the layer, serialising each one on the way."""
    started = time.perf_counter()
    producer.publish_stories(topic, stories, timeout=PASS_TIMEOUT_S)
    return Rate(len(stories), nbytes, time.perf_counter() - started)


# --- consume --------------------------------------------------------------------------------------

Step = Callable[[], tuple[int, int]]
"""Poll, handle and commit one batch; return (messages, value bytes) committed."""


def drain(step: Step, expected: int) -> Rate:
    """Run `step` until `expected` messages are in; time everything after the first non-empty batch."""
    deadline = time.monotonic() + PASS_TIMEOUT_S
    first = 0
    while first == 0:  # joins the group, then reads and commits the first batch: not timed
        if time.monotonic() > deadline:
            msg = f"no message arrived within {PASS_TIMEOUT_S:.0f}s"
            raise TimeoutError(msg)
        first, _ = step()
    started = time.perf_counter()
    messages = nbytes = 0
    while first + messages < expected:
        if time.monotonic() > deadline:
            msg = f"only {first + messages} of {expected} messages arrived within {PASS_TIMEOUT_S:.0f}s"
            raise TimeoutError(msg)
        count, size = step()
        messages += count
        nbytes += size
    return Rate(messages, nbytes, time.perf_counter() - started)


def _group(path: str) -> str:
    return f"bench-bus-{path}-{uuid.uuid4().hex[:8]}"


def consume_raw(settings: Settings, topic: str, expected: int) -> Rate:
    """Read the topic with a bare KafkaConsumer configured and committing exactly as the layer does."""
    consumer = KafkaConsumer(
        topic,
        group_id=_group("raw"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.kafka_batch_size,
        **group_timing(settings),
        **client_config(settings),
    )

    def step() -> tuple[int, int]:
        polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=settings.kafka_batch_size)
        if not polled:
            return 0, 0
        messages = nbytes = 0
        for records in polled.values():
            messages += len(records)
            nbytes += sum(len(r.value) for r in records)
        consumer.commit(
            {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in polled.items()}
        )
        return messages, nbytes

    try:
        return drain(step, expected)
    finally:
        consumer.close(autocommit=False)


def consume_layer(settings: Settings, producer: Producer, topic: str, expected: int) -> Rate:
    """Read the topic with the layer's Consumer; the handler only counts."""
    tally = Tally()

    def handler(batch: Sequence[Message]) -> None:
        tally.messages += len(batch)
        tally.nbytes += sum(len(m.value) for m in batch)

    consumer = Consumer.from_settings(
        settings, [topic], _group("layer"), handler, producer=producer, dead_letter_topic=f"{topic}-dead"
    )

    def step() -> tuple[int, int]:
        before = tally.nbytes
        committed = consumer.poll_once()
        return committed, tally.nbytes - before

    try:
        return drain(step, expected)
    finally:
        consumer.close()


# --- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clients:
    """The long-lived clients of one run: both producers are warmed up before any timing."""

    settings: Settings
    raw: KafkaProducer
    layer: Producer


def warm_up(clients: Clients, topic: str) -> None:
    """Connect, fetch metadata and get a producer id for both producers, outside the clock."""
    clients.raw.send(topic, key=b"warm-up", value=b"warm-up").get(timeout=30)
    clients.layer.publish(Outgoing(topic, "warm-up", b"warm-up"), timeout=30)


def run_round(
    clients: Clients,
    topics: dict[str, str],
    stories: Sequence[Story],
    payloads: Sequence[Payload],
    flip: bool,
) -> dict[str, Rate]:
    """Produce through every path, then consume one topic both ways; `flip` swaps who goes first."""
    nbytes = sum(len(p.value) for p in payloads)
    produce: list[tuple[str, Callable[[], Rate]]] = [
        (PRODUCE_RAW, lambda: produce_raw(clients.raw, topics[PRODUCE_RAW], payloads)),
        (PRODUCE_LAYER, lambda: produce_layer(clients.layer, topics[PRODUCE_LAYER], payloads)),
    ]
    source = topics[PRODUCE_RAW]
    consume: list[tuple[str, Callable[[], Rate]]] = [
        (CONSUME_RAW, lambda: consume_raw(clients.settings, source, len(payloads))),
        (CONSUME_LAYER, lambda: consume_layer(clients.settings, clients.layer, source, len(payloads))),
    ]
    if flip:
        produce.reverse()
        consume.reverse()
    produce.append(
        (PRODUCE_STORIES, lambda: produce_stories(clients.layer, topics[PRODUCE_STORIES], stories, nbytes))
    )
    rates = {}
    for path, measure in [*produce, *consume]:
        rates[path] = measure()
        _progress(f"  {path:<26} {rates[path].msgs_s:>10,.0f} msg/s {rates[path].mb_s:>7.1f} MB/s")
    return rates


def run(bootstrap: str, messages: int, rounds: int) -> Results:
    """Create the topics, warm the producers up and run the rounds."""
    settings = Settings(_env_file=None, kafka_bootstrap_servers=bootstrap)
    _progress(f"building {messages} stories")
    stories = make_stories(messages)
    payloads = to_payloads(stories)
    run_id = uuid.uuid4().hex[:6]
    round_topics = [
        {path: f"bench-bus-{run_id}-r{i}-{path}" for path in (PRODUCE_RAW, PRODUCE_LAYER, PRODUCE_STORIES)}
        for i in range(rounds)
    ]
    warm_topic = f"bench-bus-{run_id}-warm-up"
    admin = Admin.from_settings(settings)
    try:  # all topics up front, so that no timed pass waits for a topic to appear
        for name in [warm_topic, *(t for topics in round_topics for t in topics.values())]:
            admin.create_topic(name, PARTITIONS)
    finally:
        admin.close()
    results = Results()
    raw = KafkaProducer(**(PRODUCER_DEFAULTS | client_config(settings)))
    try:
        layer = Producer.from_settings(settings)
        try:
            clients = Clients(settings, raw, layer)
            warm_up(clients, warm_topic)
            for i, topics in enumerate(round_topics):
                _progress(f"round {i + 1}/{rounds}")
                for path, rate in run_round(clients, topics, stories, payloads, flip=i % 2 == 1).items():
                    results.add(path, rate)
        finally:
            layer.close()
    finally:
        raw.close(timeout=10)
    return results


# --- report ---------------------------------------------------------------------------------------


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def report(
    results: Results, messages: int, payload_bytes: int, rounds: int, broker_rss_mb: float
) -> dict[str, Any]:
    """Print the table and return the figures for the JSON line."""
    produce_ratio = results.ratio(PRODUCE_LAYER, PRODUCE_RAW)
    consume_ratio = results.ratio(CONSUME_LAYER, CONSUME_RAW)
    goal_met = min(produce_ratio, consume_ratio) >= GOAL_RATIO_MIN
    peak_rss = _rss_mb(resource.RUSAGE_SELF)
    rows = (
        ("produce", "raw kafka-python", PRODUCE_RAW),
        ("produce", "bus layer", PRODUCE_LAYER),
        ("produce", "layer incl. serialisation", PRODUCE_STORIES),
        ("consume", "raw kafka-python", CONSUME_RAW),
        ("consume", "bus layer", CONSUME_LAYER),
    )
    print(
        f"bus throughput: {messages} messages of ~{payload_bytes} B JSON stories, {PARTITIONS} partitions, "
        f"best of {rounds} round(s), {os.cpu_count()} cores"
    )
    print()
    print(f"{'':8}{'path':<28}{'messages/s':>12}{'MB/s':>9}")
    for phase, label, path in rows:
        best = results.best(path)
        print(f"{phase:<8}{label:<28}{best.msgs_s:>12,.0f}{best.mb_s:>9.1f}")
    print()
    for phase, ratio, layer, raw in (
        ("produce", produce_ratio, PRODUCE_LAYER, PRODUCE_RAW),
        ("consume", consume_ratio, CONSUME_LAYER, CONSUME_RAW),
    ):
        per_round = ", ".join(f"{r:.3f}" for r in results.round_ratios(layer, raw))
        print(
            f"{phase} ratio layer/raw: {ratio:.3f}  (overhead {100 * (1 - ratio):+.1f}%; rounds: {per_round})"
        )
    verdict = "met" if goal_met else "NOT met"
    print(f"goal: layer/raw >= {GOAL_RATIO_MIN} for both (at most 15% cost): {verdict}")
    print(f"peak RSS: bench {peak_rss:.0f} MB, broker {broker_rss_mb:.0f} MB")
    figures: dict[str, Any] = {
        "bench": "bus",
        "messages": messages,
        "payload_bytes": payload_bytes,
        "rounds": rounds,
    }
    for _, _, path in rows:
        figures[f"{path}_msgs_s"] = round(results.best(path).msgs_s, 1)
        figures[f"{path}_mb_s"] = round(results.best(path).mb_s, 2)
    figures |= {
        "produce_ratio": round(produce_ratio, 4),
        "consume_ratio": round(consume_ratio, 4),
        "produce_round_ratios": [round(r, 4) for r in results.round_ratios(PRODUCE_LAYER, PRODUCE_RAW)],
        "consume_round_ratios": [round(r, 4) for r in results.round_ratios(CONSUME_LAYER, CONSUME_RAW)],
        "goal_ratio_min": GOAL_RATIO_MIN,
        "goal_met": goal_met,
        "peak_rss_mb": round(peak_rss, 1),
        "broker_peak_rss_mb": round(broker_rss_mb, 1),
        "cores": os.cpu_count(),
    }
    return figures


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            msg = f"must be at least {minimum}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    """Start a broker, run the benchmark, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=_at_least(MIN_MESSAGES), default=20_000, help="messages per pass")
    parser.add_argument("--rounds", type=_at_least(1), default=3, help="alternating rounds; the best counts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    with EmbeddedBroker() as broker:
        results = run(broker.bootstrap_servers, args.messages, args.rounds)
    payload_bytes = round(results.best(PRODUCE_RAW).nbytes / args.messages)
    figures = report(results, args.messages, payload_bytes, args.rounds, _rss_mb(resource.RUSAGE_CHILDREN))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
