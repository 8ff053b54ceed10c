"""The Kafka bus: a producer that confirms delivery and a consumer that commits only after its handler succeeded.

This is the one module that imports the Kafka client. Delivery is at least once: a handler may
see a message again after a crash or rebalance, so handlers write idempotently (the story id is
the key and part of every document id).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter as Counter_
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewPartitions, NewTopic, OffsetSpec
from kafka.errors import KafkaError, MessageSizeTooLargeError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Histogram

from .broker import EMBEDDED_CLUSTER_ID
from .errors import brief
from .pacing import PollPacer
from .settings import Settings
from .stalls import Stall, StallTracker
from .story import Story
from .topics import Headers, TopicContract, story_headers

log = logging.getLogger(__name__)

CONSUMED = Counter("wirewatch_messages_handled_total", "Messages handled successfully.", ["topic", "group"])
FAILED = Counter(
    "wirewatch_handler_failures_total", "Handler attempts that raised.", ["topic", "group", "kind"]
)
DEAD_LETTERED = Counter(
    "wirewatch_messages_dead_lettered_total", "Messages sent to the dead-letter topic.", ["topic", "group"]
)
PRODUCED = Counter("wirewatch_messages_produced_total", "Messages the broker confirmed.", ["topic"])
BATCH_SECONDS = Histogram("wirewatch_batch_seconds", "Time to handle and commit one polled batch.", ["group"])

ERROR_HEADER_PREFIX = "wirewatch-error"
_DLQ_HEADERS = (
    "wirewatch-error",
    "wirewatch-error-type",
    "wirewatch-original-topic",
    "wirewatch-original-partition",
    "wirewatch-original-offset",
    "wirewatch-consumer-group",
    "wirewatch-attempts",
    "wirewatch-failed-at",
)


class TransientError(Exception):
    """Raised by a handler when the failure is not the message's fault (a backend is down).

    The consumer then rewinds and retries the batch later instead of counting attempts towards
    the dead-letter topic, and commits nothing meanwhile.
    """


class DeliveryError(Exception):
    """The broker did not confirm a message in time; nothing upstream may be told it was accepted."""


class MessageTooLarge(Exception):
    """A message is larger than Kafka accepts: the message's own problem, not the broker's (never retried)."""


def client_config(settings: Settings) -> dict[str, Any]:
    """Connection settings shared by producers, consumers and the admin client."""
    config: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()],
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            config["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(settings, f"kafka_{name}")
        if value is not None:
            config[name] = str(value)
    return config


TANSU_CLUSTER_IDS = frozenset({EMBEDDED_CLUSTER_ID, "tansu_cluster"})
"""Cluster ids of a tansu broker: the embedded one, and tansu's own default."""
EMBEDDED_SESSION_TIMEOUT_MS = 6_000
"""On tansu: a member that died is replaced within seconds (the broker's minimum by default)."""
CLUSTER_SESSION_TIMEOUT_MS = 45_000
"""On a Kafka cluster: Kafka's own default, which rides out a GC pause or a short network cut."""


def is_tansu(config: dict[str, Any], timeout_ms: int = 10_000) -> bool:
    """Ask the cluster its id: tansu (embedded or standalone) needs shorter timeouts and a lag fix."""
    admin = KafkaAdminClient(**config, request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
    try:
        return str(admin.describe_cluster().get("cluster_id")) in TANSU_CLUSTER_IDS
    finally:
        admin.close()


def group_timing(settings: Settings, *, tansu: bool | None = None) -> dict[str, int]:
    """A consumer's session timeout and heartbeat: the setting if given, else one fit for the broker."""
    session = settings.kafka_session_timeout_ms
    if session is None:
        if tansu is None:
            tansu = is_tansu(client_config(settings))
        session = EMBEDDED_SESSION_TIMEOUT_MS if tansu else CLUSTER_SESSION_TIMEOUT_MS
    return {"session_timeout_ms": session, "heartbeat_interval_ms": max(500, session // 3)}


PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "compression_type": "gzip",
    "linger_ms": 5,
    "delivery_timeout_ms": 60_000,
}
"""Durable by default: every in-sync replica confirms, retries cannot duplicate or reorder."""


@dataclass(frozen=True)
class Outgoing:
    """One message to publish."""

    topic: str
    key: str
    value: bytes
    headers: Headers = field(default_factory=list)


def story_message(topic: str, story: Story) -> Outgoing:
    """A story or rendition as a message: keyed by story id, with the contract's headers."""
    return Outgoing(topic, story.id, story.to_json(), story_headers(story))


def _size(message: Outgoing) -> int:
    return len(message.value)


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored a confirmed message."""

    topic: str
    partition: int
    offset: int


class SendFailed(DeliveryError):
    """A delivery failed on a live client: the client is replaced, and the send may be tried again."""


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


@dataclass(frozen=True, eq=False)
class Message:
    """A consumed message, detached from the client."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int

    def header(self, name: str) -> str | None:
        """Return a header as text, or None."""
        raw = self.headers.get(name)
        return None if raw is None else raw.decode("utf-8", "replace")

    def story(self) -> Story:
        """Parse the value as a story (raises pydantic's ValidationError on a bad one)."""
        return Story.from_json(self.value)

    @property
    def fields(self) -> dict[str, Any]:
        """Fields for log lines about this message."""
        return {"story_id": self.key, "topic": self.topic, "partition": self.partition, "offset": self.offset}


Handler = Callable[[Sequence[Message]], None]
"""Handles a batch; raises to reject it (TransientError: retry later; anything else: isolate and count)."""


def _detach(record: Any) -> Message:
    return Message(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=None if record.key is None else record.key.decode("utf-8", "replace"),
        value=record.value if record.value is not None else b"",
        headers={k: v for k, v in (record.headers or [])},
        timestamp_ms=record.timestamp,
    )


class Consumer:
    """Poll in slices, hand each batch to a handler, commit after success, isolate what cannot be handled.

    A batch the handler rejects is split in halves until the failing message is found: its
    neighbours are handled and committed, and the message itself costs its own `max_attempts`
    tries before it goes to the dead-letter topic with the reason in its headers. A
    `TransientError` (a backend or the broker cannot be reached) rewinds instead: nothing is
    committed and the same messages are polled again after a backoff. When a batch keeps failing
    transiently, its halves are tried apart: if one half goes through, the backend is up, and a
    message that keeps raising while others succeed is dead-lettered like any other.

    Each poll asks for as many messages as the handler has shown it can handle within
    `slice_seconds`, so no poll outlives Kafka's poll interval and a stop is honoured within a slice.
    """

    def __init__(
        self,
        consumer: KafkaConsumer,
        handler: Handler,
        *,
        group_id: str,
        producer: Producer,
        dead_letter_topic: str,
        max_attempts: int = 3,
        batch_size: int = 500,
        poll_timeout_ms: int = 1000,
        retry_backoff: tuple[float, float] = (0.1, 5.0),
        slice_seconds: float = 20.0,
        stall_after: float = 120.0,
        probe_after: int = 3,
    ) -> None:
        self._consumer = consumer
        self._handler = handler
        self.group_id = group_id
        self.name = f"consumer:{group_id}"
        self._producer = producer
        self._dead_letter_topic = dead_letter_topic
        self._max_attempts = max_attempts
        self._poll_timeout_ms = poll_timeout_ms
        self._backoff_min, self._backoff_max = retry_backoff
        self._transient_failures = 0
        self._last_error = "the handler did not finish"
        self._probe_after = probe_after
        self._strikes: dict[tuple[str, int, int], int] = {}
        self._slice = slice_seconds
        self.pacer = PollPacer(slice_seconds=slice_seconds, most=batch_size)
        self.tracker = StallTracker(group_id, stall_after)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        topics: Sequence[str],
        group_id: str,
        handler: Handler,
        *,
        producer: Producer,
        dead_letter_topic: str,
        **options: Any,
    ) -> Consumer:
        """Subscribe a new group member to `topics`; offsets are committed by this class only."""
        batch_size = options.pop("batch_size", settings.kafka_batch_size)
        kafka_options = options.pop("kafka", {})
        poll_interval_ms = kafka_options.pop("max_poll_interval_ms", settings.kafka_max_poll_interval_ms)
        consumer = KafkaConsumer(
            *topics,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_size,
            max_poll_interval_ms=poll_interval_ms,
            **group_timing(settings),
            **client_config(settings),
            **kafka_options,
        )
        options.setdefault("slice_seconds", min(settings.kafka_poll_slice_s, poll_interval_ms / 1000 / 4))
        options.setdefault("stall_after", settings.kafka_stall_after_s)
        return cls(
            consumer,
            handler,
            group_id=group_id,
            producer=producer,
            dead_letter_topic=dead_letter_topic,
            max_attempts=options.pop("max_attempts", settings.kafka_max_attempts),
            batch_size=batch_size,
            **options,
        )

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set, then leave the group; an unfinished batch is not committed."""
        log.info(
            "consumer started",
            extra={"group": self.group_id, "topics": sorted(self._consumer.subscription() or [])},
        )
        failures = 0
        try:
            while not stop.is_set():
                try:
                    self.poll_once(stop)
                    failures = 0
                except (
                    KafkaError
                ) as exc:  # a timeout or a failed join: the client recovers, the thread lives on
                    failures += 1
                    log.warning(
                        "consumer error; backing off",
                        extra={"group": self.group_id, "failures": failures, "error": brief(exc, 500)},
                    )
                    stop.wait(min(self._backoff_max * 6, self._backoff_min * 2**failures))
        finally:
            self.close()
            log.info("consumer stopped", extra={"group": self.group_id})

    def assignment(self) -> set[tuple[str, int]]:
        """Partitions this member owns now, as (topic, partition)."""
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def stalls(self) -> list[Stall]:
        """Positions this member has been stuck at for longer than its stall limit."""
        return self.tracker.stalls()

    def close(self) -> None:
        """Leave the group without committing anything further."""
        self._consumer.close(autocommit=False)

    def poll_once(self, stop: threading.Event | None = None) -> int:
        """Poll one slice, handle it and commit what succeeded; return how many messages were committed."""
        stop = stop or threading.Event()
        size = self.pacer.next_size()
        if self._transient_failures >= self._probe_after:
            size = max(size, min(8, self.pacer.most))  # enough messages to tell an outage from one message
        polled = self._consumer.poll(timeout_ms=self._poll_timeout_ms, max_records=size)
        self.tracker.keep_only(self.assignment())
        batch = [_detach(r) for records in polled.values() for r in records]
        if not batch:
            return 0
        started = time.monotonic()
        self.tracker.handling((batch[0].topic, batch[0].partition), batch[0].offset)
        try:
            done = self._handle(batch, stop)
        finally:
            self.tracker.handling(None)
        committed = self._commit(batch, done)
        elapsed = time.monotonic() - started
        BATCH_SECONDS.labels(self.group_id).observe(elapsed)
        if committed:
            self.pacer.observe(committed, elapsed)
        if elapsed > 2 * self._slice:
            log.warning(
                "a poll's work outlasted its slice",
                extra={"group": self.group_id, "size": len(batch), "seconds": round(elapsed, 1)},
            )
            self.pacer.overran()
        if committed < len(batch) and not stop.is_set():
            self._sleep_backoff(stop)
        return committed

    # -- handling ------------------------------------------------------------------------------

    def _handle(self, batch: list[Message], stop: threading.Event) -> set[Message]:
        if len(batch) == 1:
            return {batch[0]} if self._handle_alone(batch[0], stop, [False]) else set()
        try:
            self._handler(batch)
        except TransientError as exc:
            self._note_transient(batch[0], exc)
            if self._transient_failures < self._probe_after:
                return set()
            return self._probe(batch, stop)
        except Exception as exc:  # noqa: BLE001 - any handler error triggers isolation, never a silent pass
            FAILED.labels(batch[0].topic, self.group_id, "batch").inc()
            log.warning(
                "batch rejected, splitting it to find the message at fault",
                extra={"group": self.group_id, "size": len(batch), "error": brief(exc, 500)},
            )
            return self._isolate(batch, stop, progress=[False])
        self._handled(batch)
        return set(batch)

    def _handled(self, messages: Sequence[Message]) -> None:
        self._transient_failures = 0
        for m in messages:
            self._strikes.pop((m.topic, m.partition, m.offset), None)
        for topic, count in Counter_(m.topic for m in messages).items():
            CONSUMED.labels(topic, self.group_id).inc(count)

    def _probe(self, batch: list[Message], stop: threading.Event) -> set[Message]:
        """A batch keeps failing transiently: try its halves apart to tell an outage from one message."""
        half = len(batch) // 2
        progress = [False]
        done: set[Message] = set()
        failed: list[list[Message]] = []
        for part in (batch[:half], batch[half:]):
            try:
                self._handler(part)
            except Exception:  # noqa: BLE001 - narrowed down below once the other half showed the way
                failed.append(part)
                continue
            self._handled(part)
            done.update(part)
            progress[0] = True
        if not progress[0]:
            log.warning(
                "both halves of the batch failed: the backend is out, not one message",
                extra={"group": self.group_id, "size": len(batch)},
            )
            return done
        for part in failed:
            done |= self._isolate(part, stop, progress)
        return done

    def _isolate(self, batch: list[Message], stop: threading.Event, progress: list[bool]) -> set[Message]:
        """Split a rejected batch in halves until each failing message stands alone; handle the rest."""
        if len(batch) == 1:
            return {batch[0]} if self._handle_alone(batch[0], stop, progress) else set()
        half = len(batch) // 2
        done: set[Message] = set()
        for part in (batch[:half], batch[half:]):
            if stop.is_set():
                break
            if len(part) == 1:
                done |= self._isolate(part, stop, progress)
                continue
            try:
                self._handler(part)
            except Exception:  # noqa: BLE001 - this half holds a failing message: split it further
                done |= self._isolate(part, stop, progress)
                continue
            self._handled(part)
            progress[0] = True
            done.update(part)
        return done

    def _handle_alone(self, message: Message, stop: threading.Event, progress: list[bool]) -> bool:
        """Try one message up to `max_attempts` times; dead-letter it when it keeps failing.

        A transient error on a message alone is the backend's, unless other messages went through
        meanwhile: then it counts as a strike, and a message that collects `max_attempts` strikes
        over successive polls is dead-lettered too, so it cannot hold its partition forever.
        """
        last: Exception | None = None
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._handler([message])
            except TransientError as exc:
                self._note_transient(message, exc)
                if not progress[0]:
                    return False
                key = (message.topic, message.partition, message.offset)
                strikes = self._strikes[key] = self._strikes.get(key, 0) + 1
                if strikes < self._max_attempts:
                    return False
                last = exc
                break
            except Exception as exc:  # noqa: BLE001 - counted, logged, then dead-lettered
                last = exc
                FAILED.labels(message.topic, self.group_id, "message").inc()
                log.warning(
                    "handler failed",
                    extra={
                        **message.fields,
                        "group": self.group_id,
                        "attempt": attempt,
                        "error": brief(exc, 500),
                    },
                )
                if attempt < self._max_attempts and stop.wait(self._backoff_min * attempt):
                    return False
                continue
            self._handled([message])
            progress[0] = True
            return True
        assert last is not None
        try:
            self._dead_letter(message, last, self._max_attempts)
        except DeliveryError as exc:
            log.error("dead-letter publish failed; will retry", extra={**message.fields, "error": str(exc)})
            return False
        self._strikes.pop((message.topic, message.partition, message.offset), None)
        return True

    def _dead_letter(self, message: Message, error: Exception, attempts: int) -> None:
        headers = [(k, v) for k, v in message.headers.items() if k not in _DLQ_HEADERS]
        reason = str(error)[:1000] or type(error).__name__
        if isinstance(error, TransientError):
            reason = f"kept failing while other messages went through: {reason}"[:1000]
        meta = {
            "wirewatch-error": reason,
            "wirewatch-error-type": f"{type(error).__module__}.{type(error).__qualname__}",
            "wirewatch-original-topic": message.topic,
            "wirewatch-original-partition": str(message.partition),
            "wirewatch-original-offset": str(message.offset),
            "wirewatch-consumer-group": self.group_id,
            "wirewatch-attempts": str(attempts),
            "wirewatch-failed-at": datetime.now(tz=UTC).isoformat(),
        }
        headers += [(k, v.encode()) for k, v in meta.items()]
        self._producer.publish(Outgoing(self._dead_letter_topic, message.key or "", message.value, headers))
        DEAD_LETTERED.labels(message.topic, self.group_id).inc()
        log.error(
            "message dead-lettered",
            extra={
                **message.fields,
                "group": self.group_id,
                "attempts": attempts,
                "error": meta["wirewatch-error"],
            },
        )

    def _note_transient(self, message: Message, exc: Exception) -> None:
        self._transient_failures += 1
        self._last_error = str(exc)[:500]
        FAILED.labels(message.topic, self.group_id, "transient").inc()
        log.warning(
            "transient failure, will retry without committing",
            extra={"group": self.group_id, "failures": self._transient_failures, "error": str(exc)[:500]},
        )

    def _sleep_backoff(self, stop: threading.Event) -> None:
        exponent = max(0, self._transient_failures - 1)
        stop.wait(min(self._backoff_max, self._backoff_min * 2**exponent))

    # -- committing ----------------------------------------------------------------------------

    def _commit(self, batch: list[Message], done: set[Message]) -> int:
        """Commit, per partition, up to the first message not done; rewind to it; return how many committed.

        Messages after an undone one may have been handled (while a batch was narrowed down); they
        are polled and handled again, which every handler tolerates (writes are idempotent).
        """
        heads: dict[tuple[str, int], int] = {}
        firsts: dict[tuple[str, int], int] = {}
        offsets: dict[TopicPartition, int] = {}
        count = 0
        for m in batch:  # polled in offset order within each partition
            position = (m.topic, m.partition)
            firsts.setdefault(position, m.offset)
            if position in heads:
                continue
            if m in done:
                offsets[TopicPartition(m.topic, m.partition)] = m.offset + 1
                count += 1
            else:
                heads[position] = m.offset
        if heads:
            self._rewind(heads)
            self.tracker.undone(heads, self._last_error)
        if not offsets:
            return 0
        try:
            self._consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        except KafkaError as exc:  # CommitFailedError, a timeout: redelivered, handlers are idempotent
            # The group rebalanced (or dropped us) while we worked: the partitions' owners see these again.
            log.warning(
                "commit failed after a rebalance", extra={"group": self.group_id, "error": str(exc)[:500]}
            )
            failed = {(tp.topic, tp.partition): firsts[(tp.topic, tp.partition)] for tp in offsets}
            self.tracker.undone(failed, f"commit failed: {exc}"[:500])
            self.pacer.overran()
            return 0
        self.tracker.committed({(tp.topic, tp.partition): o for tp, o in offsets.items()})
        return count

    def _rewind(self, heads: dict[tuple[str, int], int]) -> None:
        for (topic, partition), offset in heads.items():
            tp = TopicPartition(topic, partition)
            try:
                self._consumer.seek(tp, offset)
            except (KafkaError, AssertionError) as exc:  # partition revoked meanwhile: its new owner resumes
                log.info(
                    "could not rewind a revoked partition",
                    extra={"topic": tp.topic, "partition": tp.partition, "error": str(exc)},
                )


class Admin:
    """Topic administration and broker reachability, for the provisioning step and `/readyz`."""

    def __init__(self, config: dict[str, Any], request_timeout_ms: int = 10_000) -> None:
        self._config = config
        self._admin = KafkaAdminClient(
            **config, request_timeout_ms=request_timeout_ms, bootstrap_timeout_ms=request_timeout_ms
        )

    @classmethod
    def from_settings(cls, settings: Settings, request_timeout_ms: int = 10_000) -> Admin:
        """Open an admin client for the configured cluster."""
        return cls(client_config(settings), request_timeout_ms)

    @functools.cached_property
    def tansu(self) -> bool:
        """Whether the cluster is a tansu broker (asked once)."""
        return str(self._admin.describe_cluster().get("cluster_id")) in TANSU_CLUSTER_IDS

    def topic_partitions(self) -> dict[str, int]:
        """Return every topic with its partition count (a metadata request)."""
        return {
            t["name"]: len(t["partitions"]) for t in self._admin.describe_topics() if not t.get("is_internal")
        }

    def committed_offsets(self, group_id: str) -> dict[tuple[str, int], int]:
        """Return a group's committed offsets as {(topic, partition): next offset to read}."""
        offsets = self._admin.list_group_offsets(group_id).get(group_id, {})
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    def end_offsets(self, topics: Iterable[str], timeout: float = 5.0) -> dict[tuple[str, int], int]:
        """Return each partition's log-end offset (the next offset written): with committed offsets, the lag.

        tansu answers a LATEST offset request with the last record batch's base offset + 1, which
        under-counts when that batch holds several records; so on tansu the last batch is read back
        and the offset after its last record wins. Kafka answers exactly and is taken at its word.
        """
        counts = self.topic_partitions()
        specs = {TopicPartition(t, p): OffsetSpec.LATEST for t in topics for p in range(counts.get(t, 0))}
        if not specs:
            return {}
        found = {tp: meta.offset for tp, meta in self._admin.list_partition_offsets(specs).items()}
        if not self.tansu:
            return {(tp.topic, tp.partition): end for tp, end in found.items()}
        return {(tp.topic, tp.partition): end for tp, end in self._read_last_batches(found, timeout).items()}

    def _read_last_batches(
        self, ends: dict[TopicPartition, int], timeout: float
    ) -> dict[TopicPartition, int]:
        """Correct reported end offsets by reading from one before each to the partition's last record."""
        pending = {tp: end for tp, end in ends.items() if end > 0}
        if not pending:
            return ends
        corrected = dict(ends)
        consumer = KafkaConsumer(enable_auto_commit=False, group_id=None, **self._config)
        try:
            consumer.assign(list(pending))
            for tp, end in pending.items():
                consumer.seek(tp, end - 1)
            deadline = time.monotonic() + timeout
            while pending and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=200).items():
                    corrected[tp] = max(corrected[tp], records[-1].offset + 1)
                    pending.pop(tp, None)
        finally:
            consumer.close()
        return corrected

    def ping(self) -> bool:
        """Tell whether the cluster answers a metadata request."""
        try:
            self._admin.list_topics()
        except KafkaError:
            return False
        return True

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        replication_factor: int = 1,
        configs: dict[str, str] | None = None,
    ) -> None:
        """Create one topic; raises kafka's TopicAlreadyExistsError when it exists."""
        self._admin.create_topics(
            [NewTopic(name, partitions, replication_factor, topic_configs=configs or {})]
        )

    def provision(self, contract: TopicContract, replication_factor: int = 1) -> dict[str, str]:
        """Create the contract's topics, or grow their partitions; safe to run at every start-up.

        Returns what happened to each topic: 'created', 'exists', or 'grown to N partitions'.
        An existing topic with more partitions than the contract asks for is left alone.
        """
        existing = self.topic_partitions()
        outcome: dict[str, str] = {}
        for spec in contract.topics.values():
            have = existing.get(spec.name)
            if have is None:
                try:
                    self.create_topic(spec.name, spec.partitions, replication_factor, spec.configs())
                    outcome[spec.name] = "created"
                except TopicAlreadyExistsError:  # another process provisioned it just now
                    outcome[spec.name] = "exists"
            elif have < spec.partitions:
                try:
                    self._admin.create_partitions({spec.name: NewPartitions(total_count=spec.partitions)})
                    outcome[spec.name] = f"grown to {spec.partitions} partitions"
                except KafkaError as exc:  # tansu, for one, cannot add partitions
                    outcome[spec.name] = f"kept {have} partitions (contract asks {spec.partitions}: {exc})"
                    log.warning(
                        "could not add partitions", extra={"topic": spec.name, "error": str(exc)[:300]}
                    )
            else:
                outcome[spec.name] = "exists"
        log.info("topics provisioned", extra={"topics": outcome})
        return outcome

    def close(self) -> None:
        """Close the connections."""
        self._admin.close()

    def keys_at(
        self, positions: Iterable[tuple[str, int, int]], timeout: float = 10.0
    ) -> dict[tuple[str, int, int], str | None]:
        """Read the key of the message at each (topic, partition, offset), to tell whether the broker still holds it.

        Returns the key (text) where a message was read; None where the broker holds no message
        at that offset (before the partition's first offset, at or past its end, on a partition
        that does not exist, or skipped by the log) or the message has no key. Positions not read
        within `timeout` are left out, so a slow or vanished broker never reads as "not held".
        Reads with an assigned consumer outside any group (no offsets are committed), one pass
        per partition from the lowest offset asked, seeking over gaps between the offsets asked.
        """
        wanted: dict[TopicPartition, set[int]] = {}
        for topic, partition, offset in positions:
            wanted.setdefault(TopicPartition(topic, partition), set()).add(offset)
        if not wanted:
            return {}
        deadline = time.monotonic() + timeout
        ends = self.end_offsets({tp.topic for tp in wanted}, timeout)
        found: dict[tuple[str, int, int], str | None] = {}
        consumer = KafkaConsumer(enable_auto_commit=False, group_id=None, **self._config)
        try:
            present = [tp for tp in wanted if (tp.topic, tp.partition) in ends]
            starts = consumer.beginning_offsets(present) if present else {}
            todo: dict[TopicPartition, list[int]] = {}
            for tp, offsets in wanted.items():
                end = ends.get((tp.topic, tp.partition))
                start = starts.get(tp, 0)
                held = sorted(o for o in offsets if end is not None and start <= o < end)
                for o in offsets.difference(held):
                    found[(tp.topic, tp.partition, o)] = None
                if held:
                    todo[tp] = held
            if todo:
                consumer.assign(list(todo))
                for tp, first in todo.items():
                    consumer.seek(tp, first[0])
            while todo and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=200).items():
                    left = todo.get(tp)
                    if left is None or not records:
                        continue
                    keys = {r.offset: r.key for r in records}
                    last = records[-1].offset
                    for o in [o for o in left if o <= last]:
                        key = keys.get(o)
                        found[(tp.topic, tp.partition, o)] = (
                            None if key is None else key.decode("utf-8", "replace")
                        )
                    left = [o for o in left if o > last]
                    if not left:
                        del todo[tp]
                        consumer.pause(tp)
                        continue
                    todo[tp] = left
                    if left[0] > last + 1:
                        consumer.seek(tp, left[0])  # skip what lies between the offsets asked
        finally:
            consumer.close()
        return found
