"""Publishing that survives a broker restart, the re-publisher of lost stories, and the receipts handler.

A producer that talked to a broker which died keeps a producer id and sequence numbers the new
broker has never heard of; after a failed delivery the producer is replaced and the send retried once.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Counter_
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from prometheus_client import Counter, Gauge

from wirewatch_common.bus import Admin, Delivery, DeliveryError, Message, MessageTooLarge, Outgoing, Producer
from wirewatch_common.story import Receipt, Story
from wirewatch_common.topics import story_headers

from .ledger import Ledger, Overdue
from .loss import Place, Snapshot, Verdict, due, idle, judge, placed

log = logging.getLogger(__name__)

REPUBLISHED = Counter(
    "wirewatch_ingest_republished_total", "Story versions re-published for want of a receipt."
)
REPUBLISHED_WHY = Counter(
    "wirewatch_ingest_republished_reasons_total",
    "Story versions re-published, by why they counted as lost (unplaced, gone, lost_downstream).",
    ["reason"],
)
AWAITING = Gauge(
    "wirewatch_ingest_awaiting_stories",
    "Story versions past the re-publish grace without a receipt that are still on their way (not re-sent).",
)
RECEIPTS = Counter("wirewatch_ingest_receipts_total", "Index receipts that confirmed a ledger entry.")


PRODUCER_OPTIONS: dict[str, Any] = {"linger_ms": 0, "batch_size": 256 * 1024}
"""Producer overrides for ingest: every publish waits for its confirmation, so lingering for a fuller
batch only adds latency; batches up to 256 KB per partition let one request carry a whole drop-folder
scan or feed instead of one request per 16 KB (the client's default)."""


class ResilientPublisher:
    """A Producer that is replaced after a failed delivery, so a restarted broker is reached again."""

    def __init__(self, factory: Callable[[], Producer]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._producer: Producer | None = None

    def _current(self) -> Producer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = self._factory()
                except Exception as exc:  # the client raises several types while no broker answers
                    msg = f"no producer could connect to the broker: {exc!r}"[:500]
                    raise DeliveryError(msg) from exc
            return self._producer

    def _replace(self, failed: Producer) -> None:
        with self._lock:
            if self._producer is failed:
                self._producer = None
        try:
            failed.close(timeout=0)
        except Exception as exc:  # noqa: BLE001 - closing a broken client must not hide the delivery error
            log.warning("closing a failed producer raised", extra={"error": repr(exc)[:300]})

    def publish_stories(self, topic: str, stories: list[Story], timeout: float = 60.0) -> list[Delivery]:
        """Publish stories keyed by id with the contract's headers; confirmed, or DeliveryError."""
        return self.publish_many(
            [Outgoing(topic, s.id, s.to_json(), story_headers(s)) for s in stories], timeout=timeout
        )

    def publish_many(self, messages: Sequence[Outgoing], timeout: float = 60.0) -> list[Delivery]:
        """Publish with the broker's confirmation; after a failure retry once with a fresh producer."""
        for attempt in (1, 2):
            producer = self._current()
            try:
                return producer.publish_many(messages, timeout=timeout)
            except DeliveryError:
                self._replace(producer)
                if attempt == 2:
                    raise
                log.warning("delivery failed; retrying with a new producer", extra={"count": len(messages)})
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def close(self) -> None:
        """Close the current producer."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close()


class BrokerView(Protocol):
    """Where overdue versions stand on the broker; `Probe` asks a real one."""

    topic: str

    def snapshot(self, places: Sequence[Place]) -> Snapshot:
        """Ask the broker about these positions and the stages' progress; raise if it does not answer."""
        ...


class TopicMissing(Exception):
    """The stories topic is absent: sending would let the broker create it with the wrong partitions."""


class Probe:
    """Ask the broker, through a fresh `Admin` each round, where overdue versions stand.

    `stages` are the consumer groups that read the stories topic (translate, index); `downstream`
    the (group, topic) pairs whose lag must be zero before a version read past by every stage
    counts as lost (index on renditions, ingest's receipts group on receipts): a story whose
    renditions or receipt are still on their way is in progress, not lost.
    """

    def __init__(
        self,
        admin: Callable[[], Admin],
        topic: str,
        *,
        stages: Sequence[str],
        downstream: Sequence[tuple[str, str]],
        timeout: float = 10.0,
    ) -> None:
        self._admin = admin
        self.topic = topic
        self._stages = list(stages)
        self._downstream = list(downstream)
        self._timeout = timeout

    def snapshot(self, places: Sequence[Place]) -> Snapshot:
        """Read upstream first: stage offsets, then downstream lag, then the messages themselves.

        In this order a receipt that a stage's commit promised is already on its way when the
        downstream lag is read, and the ledger is read again after this snapshot, so a version
        confirmed meanwhile is never taken for lost.
        """
        admin = self._admin()
        try:
            if self.topic not in admin.topic_partitions():
                msg = f"the stories topic {self.topic!r} does not exist on the broker (not provisioned yet?)"
                raise TopicMissing(msg)
            stages = [admin.committed_offsets(group) for group in self._stages]
            idle_all = True
            for group, topic in self._downstream:
                ends = admin.end_offsets([topic], self._timeout)
                if not idle(admin.committed_offsets(group), ends, [topic]):
                    idle_all = False
                    break
            keys = admin.keys_at(places, self._timeout) if places else {}
        finally:
            admin.close()
        return Snapshot(self.topic, keys, stages, idle_all)


class Republisher:
    """Worker: on start-up and every `interval`, re-publish what the pipeline lost (see `loss`).

    Versions without a receipt after `grace` are weighed against the broker's state; the ones it
    no longer holds, and the ones every stage read past without a receipt coming back, are sent
    again; the rest are still on their way (a backlog at translation speed takes its time) and
    are counted in `wirewatch_ingest_awaiting_stories`. When the broker does not answer, nothing is
    sent that round: a broker that lost everything is seen as such once a new one answers.
    """

    name = "republisher"

    def __init__(
        self,
        ledger: Ledger,
        publisher: ResilientPublisher,
        broker: BrokerView,
        *,
        grace: timedelta,
        interval: float,
        keep: timedelta | None = None,
        timeout: float = 30.0,
        page: int = 500,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._broker = broker
        self._topic = broker.topic
        self._grace = grace
        self._interval = interval
        self._keep = keep
        self._timeout = timeout
        self._page = page
        self._clock = clock

    def run_once(self) -> int:
        """Weigh every overdue version once and re-publish the lost ones; return how many the broker confirmed.

        Raises DeliveryError when a re-publish is not confirmed (the rest waits for the next round).
        """
        total = 0
        waiting = 0
        started = self._clock()  # fixed, so what this round delivers is not picked again in it
        after = 0
        while True:
            page = self._ledger.overdue(started, self._grace, after=after, limit=self._page)
            if not page:
                break
            after = page[-1].row
            try:
                snapshot = self._broker.snapshot([p for v in page if (p := placed(v, self._topic))])
            except Exception as exc:  # noqa: BLE001 - the client raises many types while no broker answers
                log.warning(
                    "could not ask the broker what was lost; re-publishing nothing this round",
                    extra={"error": repr(exc)[:300], "overdue": len(page)},
                )
                return total
            confirmed = self._ledger.confirmed([(v.id, v.version) for v in page])
            lost: list[tuple[Overdue, Verdict]] = []
            for version in page:
                if (version.id, version.version) in confirmed:
                    continue
                verdict = judge(version, snapshot)
                if due(version, verdict, started, self._grace):
                    lost.append((version, verdict))
                    continue
                if not verdict.lost:  # lost downstream but backing off is not counted as on its way
                    waiting += 1
                log.debug(
                    "story without a receipt is not re-published this round",
                    extra={"story_id": version.id, "version": version.version, "verdict": verdict.value},
                )
            if lost:
                total += self._send(lost)
        AWAITING.set(waiting)
        return total

    def _send(self, lost: list[tuple[Overdue, Verdict]]) -> int:
        """Re-publish; a story Kafka refuses for its size is split out so it cannot hold back the rest."""
        try:
            return self._send_all(lost)
        except MessageTooLarge as exc:
            if len(lost) == 1:
                version = lost[0][0]
                log.error(
                    "story too large for Kafka; it stays unconfirmed in the ledger",
                    extra={"story_id": version.id, "version": version.version, "error": str(exc)[:300]},
                )
                return 0
            half = len(lost) // 2
            return self._send(lost[:half]) + self._send(lost[half:])

    def _send_all(self, lost: list[tuple[Overdue, Verdict]]) -> int:
        stories = [version.story() for version, _ in lost]
        deliveries = self._publisher.publish_stories(self._topic, stories, timeout=self._timeout)
        self._ledger.delivered(stories, self._clock(), deliveries)
        REPUBLISHED.inc(len(stories))
        reasons = Counter_(verdict.value for _, verdict in lost)
        for reason, count in reasons.items():
            REPUBLISHED_WHY.labels(reason).inc(count)
        log.info(
            "re-published stories without a receipt",
            extra={"count": len(stories), "topic": self._topic, "reasons": dict(reasons)},
        )
        return len(stories)

    def prune(self) -> int:
        """Drop confirmed old versions from the ledger (each story's newest version stays)."""
        if self._keep is None:
            return 0
        dropped = self._ledger.prune(self._clock() - self._keep)
        if dropped:
            log.info("pruned confirmed versions from the ledger", extra={"count": dropped})
        return dropped

    def run(self, stop: threading.Event) -> None:
        """Loop until stopped; a broker outage is logged and retried next round."""
        while not stop.is_set():
            try:
                self.run_once()
            except DeliveryError as exc:
                log.warning("re-publish failed; will retry", extra={"error": str(exc)[:300]})
            self.prune()
            stop.wait(self._interval)


def receipts_handler(ledger: Ledger) -> Callable[[Sequence[Message]], None]:
    """Build the receipts consumer's handler: mark the ledger; a malformed receipt raises (dead-lettered)."""

    def handle(batch: Sequence[Message]) -> None:
        receipts = [Receipt.model_validate_json(m.value) for m in batch]
        RECEIPTS.inc(ledger.mark_receipts(receipts))

    return handle
