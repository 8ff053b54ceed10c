"""Publishing that survives a broker restart, the re-publisher, and the receipts handler.

A producer that talked to a broker which died keeps a producer id and sequence numbers the new
broker has never heard of; after a failed delivery the producer is replaced and the send retried once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter

from wirewatch_common.bus import Delivery, DeliveryError, Message, Outgoing, Producer
from wirewatch_common.story import Receipt, Story
from wirewatch_common.topics import story_headers

from .ledger import Ledger

log = logging.getLogger(__name__)

REPUBLISHED = Counter(
    "wirewatch_ingest_republished_total", "Story versions re-published for want of a receipt."
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


class Republisher:
    """Worker: on start-up and every `interval`, re-publish ledger entries with no receipt after `grace`."""

    name = "republisher"

    def __init__(
        self,
        ledger: Ledger,
        publisher: ResilientPublisher,
        topic: str,
        *,
        grace: timedelta,
        interval: float,
        keep: timedelta | None = None,
        timeout: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._topic = topic
        self._grace = grace
        self._interval = interval
        self._keep = keep
        self._timeout = timeout
        self._clock = clock

    def run_once(self) -> int:
        """Re-publish one round of unconfirmed stories; return how many the broker confirmed."""
        total = 0
        started = self._clock()  # fixed, so what this round delivers is not picked again in it
        while True:
            stories = self._ledger.unconfirmed(started, self._grace)
            if not stories:
                return total
            self._publisher.publish_stories(self._topic, stories, timeout=self._timeout)
            self._ledger.delivered(stories, self._clock())
            REPUBLISHED.inc(len(stories))
            total += len(stories)
            log.info(
                "re-published stories without a receipt", extra={"count": len(stories), "topic": self._topic}
            )

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
