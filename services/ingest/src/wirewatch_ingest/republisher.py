"""The re-publisher: what the ledger accepted and the pipeline lost is sent again.

Which versions count as lost is decided in `loss` (pure); this module asks the broker where the
overdue versions stand (`Probe`) and sends the lost ones through the bus's producer, which itself
survives a broker restart.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Counter_
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from prometheus_client import Counter, Gauge

from wirewatch_common.bus import Admin, DeliveryError, MessageTooLarge, story_message
from wirewatch_common.errors import brief

from .ledger import Ledger, Overdue
from .loss import Place, Snapshot, Verdict, due, idle, judge, placed
from .pipeline import Publisher

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
        publisher: Publisher,
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
                    extra={"error": brief(exc), "overdue": len(page)},
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
        messages = [story_message(self._topic, s) for s in stories]
        deliveries = self._publisher.publish_many(messages, timeout=self._timeout)
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
