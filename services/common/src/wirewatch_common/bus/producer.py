"""A producer that returns only once the broker confirmed every message."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Counter_
from collections.abc import Iterable
from typing import Any, cast

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError
from prometheus_client import Counter

from ..errors import brief
from ..settings import Settings
from ..story import Story
from .config import PRODUCER_DEFAULTS, client_config
from .errors import DeliveryError, MessageTooLarge, SendFailed
from .messages import Delivery, Outgoing, story_message

log = logging.getLogger(__name__)

PRODUCED = Counter("wirewatch_messages_produced_total", "Messages the broker confirmed.", ["topic"])


def _size(message: Outgoing) -> int:
    return len(message.value)


class Producer:
    """Publish messages and wait for the broker's confirmation before returning.

    The client is made on first use and replaced after a failed delivery, which is then tried once
    more: kafka-python's idempotent producer takes a restarted broker's answer to its old producer
    id as fatal and fails every later send, and only a new client gets a new id. A producer made
    while no broker answers raises DeliveryError at its first publish, not at start-up.
    """

    def __init__(self, config: dict[str, Any], **overrides: Any) -> None:
        self._config = PRODUCER_DEFAULTS | config | overrides
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._closed = False

    def _client(self) -> KafkaProducer:
        with self._lock:
            if self._closed:
                msg = "the producer is closed"
                raise DeliveryError(msg)
            if self._producer is None:
                try:
                    self._producer = KafkaProducer(**self._config)
                except Exception as exc:  # the client raises several types while no broker answers
                    msg = f"no producer could connect to the broker: {brief(exc, 450)}"
                    raise DeliveryError(msg) from exc
            return self._producer

    def _renew(self, failed: KafkaProducer) -> None:
        """Drop a client after a failed delivery; the next publish makes a new one."""
        with self._lock:
            current = self._producer
            if current is failed:
                self._producer = None
        if current is not failed:
            return  # another thread renewed it already
        try:
            cast(KafkaProducer, failed).close(timeout=0)
        except Exception as exc:  # noqa: BLE001 - closing a broken client must not hide the delivery error
            log.warning("closing a failed producer raised", extra={"error": brief(exc)})

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Producer:
        """Open a producer for the configured cluster."""
        return cls(
            client_config(settings), **({"max_request_size": settings.kafka_max_message_bytes} | overrides)
        )

    def publish_many(self, messages: Iterable[Outgoing], timeout: float = 60.0) -> list[Delivery]:
        """Send all messages, then wait for every confirmation; raise DeliveryError if any is missing.

        After a failed delivery the client is replaced and everything sent once more (a message may
        then reach the topic twice: every consumer here is idempotent). A message larger than Kafka
        accepts raises MessageTooLarge instead: retrying cannot help it.
        """
        messages = list(messages)
        try:
            return self._publish(messages, timeout)
        except SendFailed:  # not when no client could be made: no broker answers, waiting twice won't help
            log.warning("delivery failed; retrying with a new producer", extra={"count": len(messages)})
        return self._publish(messages, timeout)

    def _publish(self, messages: list[Outgoing], timeout: float) -> list[Delivery]:
        producer = self._client()
        try:
            pending = [
                (m, producer.send(m.topic, key=m.key.encode(), value=m.value, headers=m.headers))
                for m in messages
            ]
        except MessageSizeTooLargeError as exc:
            largest = max(messages, key=_size)
            msg = f"{largest.topic}/{largest.key} has {len(largest.value)} bytes, more than Kafka accepts: {exc}"
            raise MessageTooLarge(msg) from exc
        except KafkaError as exc:
            self._renew(producer)
            msg = f"the producer could not send: {exc}"
            raise SendFailed(msg) from exc
        deadline = time.monotonic() + timeout
        deliveries = []
        for message, future in pending:
            try:
                meta = future.get(timeout=max(0.0, deadline - time.monotonic()))
            except MessageSizeTooLargeError as exc:  # the broker's own limit (max.message.bytes)
                size = len(message.value)
                msg = f"{message.topic}/{message.key} has {size} bytes, more than the broker accepts: {exc}"
                raise MessageTooLarge(msg) from exc
            except KafkaError as exc:
                self._renew(producer)
                msg = f"broker did not confirm {message.topic}/{message.key}: {exc}"
                raise SendFailed(msg) from exc
            deliveries.append(Delivery(meta.topic, meta.partition, meta.offset))
        for topic, count in Counter_(d.topic for d in deliveries).items():
            PRODUCED.labels(topic).inc(count)
        return deliveries

    def publish(self, message: Outgoing, timeout: float = 60.0) -> Delivery:
        """Send one message and wait for its confirmation."""
        return self.publish_many([message], timeout)[0]

    def publish_stories(self, topic: str, stories: Iterable[Story], timeout: float = 60.0) -> list[Delivery]:
        """Publish stories or renditions keyed by story id, with the contract's headers."""
        return self.publish_many((story_message(topic, s) for s in stories), timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is pending and close the connections."""
        with self._lock:
            producer, self._producer, self._closed = self._producer, None, True
        if producer is not None:
            producer.close(timeout=timeout)
