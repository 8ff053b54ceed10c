"""A consumer that commits only after its handler succeeded, and keeps a partition flowing.

Delivery is at least once: a handler may see a message again after a crash or rebalance, so
handlers write idempotently (the story id is the key and part of every document id).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Counter_
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Histogram

from ..errors import brief
from ..pacing import PollPacer
from ..settings import Settings
from ..stalls import Stall, StallTracker
from .config import client_config, group_timing
from .errors import DeliveryError, Stopping, TransientError
from .messages import Handler, Message, Outgoing
from .producer import Producer

log = logging.getLogger(__name__)

CONSUMED = Counter("wirewatch_messages_handled_total", "Messages handled successfully.", ["topic", "group"])
FAILED = Counter(
    "wirewatch_handler_failures_total", "Handler attempts that raised.", ["topic", "group", "kind"]
)
DEAD_LETTERED = Counter(
    "wirewatch_messages_dead_lettered_total", "Messages sent to the dead-letter topic.", ["topic", "group"]
)
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
    A handler whose work on a batch runs longer calls `between` between its own slices of work:
    that keeps this member in its group, commits the messages it reports done, takes newly arrived
    messages into the batch, and ends the batch (`Stopping`) once a stop was asked.
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
        self._open: list[Message] | None = None  # the batch a first handler call may still grow
        self._last_poll = 0.0
        self._longest_gap = 0.0  # between two polls while the current batch was handled
        self._head: tuple[tuple[str, int], int] | None = None
        self._stop = threading.Event()
        self._batch: list[Message] = []  # the batch being handled (it may grow)
        self._early: set[Message] = set()  # its messages the handler reported done through `between`
        self._progress: dict[TopicPartition, int] = {}  # offsets committed while it was handled
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
        stop = self._stop = stop or threading.Event()
        size = self.pacer.next_size()
        if self._transient_failures >= self._probe_after:
            size = max(size, min(8, self.pacer.most))  # enough messages to tell an outage from one message
        polled = self._consumer.poll(timeout_ms=self._poll_timeout_ms, max_records=size)
        self.tracker.keep_only(self.assignment())
        batch = [_detach(r) for records in polled.values() for r in records]
        if not batch:
            return 0
        started = self._last_poll = time.monotonic()
        self._longest_gap = 0.0
        self._head = ((batch[0].topic, batch[0].partition), batch[0].offset)
        self._batch, self._early, self._progress = batch, set(), {}
        self.tracker.handling(*self._head)
        try:
            done = self._handle(batch, stop)  # `batch` may grow while its first handler call runs
        finally:
            self.tracker.handling(None)
            self._head = None
            self._batch = []
        committed = self._commit(batch, done)
        ended = time.monotonic()
        elapsed = ended - started
        gap = max(self._longest_gap, ended - self._last_poll)
        BATCH_SECONDS.labels(self.group_id).observe(elapsed)
        if committed:
            self.pacer.observe(committed, elapsed)
        if gap > 2 * self._slice:
            log.warning(
                "a poll's work outlasted its slice",
                extra={"group": self.group_id, "size": len(batch), "seconds": round(gap, 1)},
            )
            self.pacer.overran()
        if committed < len(batch) and not stop.is_set():
            self._sleep_backoff(stop)
        return committed

    def between(self, done: Iterable[Message] = ()) -> list[Message]:
        """Poll between two slices of a handler's work on one batch; return the messages taken into it.

        Call it from the handler, on this consumer's thread, at least once per slice: Kafka drops
        a member that does not poll within its poll interval, and the stall tracker takes the call
        as progress. `done` are messages of the batch the handler has finished with (their output
        published): each partition's unbroken run of them from the batch's start is committed now,
        so a crash or a stop later in a long batch does not hand them out again. Once a stop was
        asked this raises `Stopping`, and the consumer commits only what was reported done.

        During the first handler call of a polled batch, up to `batch_size` messages in all,
        messages that arrived since join the batch: they are returned for the handler to take on
        (it decides how to interleave them with its work), and committed with the batch or when
        reported done. Otherwise (a full batch, or while a rejected batch is narrowed down) the
        assigned partitions are paused for the poll, so it delivers nothing and only keeps the
        membership.
        """
        self._early.update(done)
        self._commit_progress()
        if self._stop.is_set() and self._open is not None:  # not while a rejected batch is narrowed down
            msg = "a stop was asked while a batch was handled"
            raise Stopping(msg)
        now = time.monotonic()
        self._longest_gap = max(self._longest_gap, now - self._last_poll)
        self._last_poll = now
        if self._head is not None:
            self.tracker.handling(*self._head)
        batch = self._open
        room = 0 if batch is None else self.pacer.most - len(batch)
        if batch is not None and room > 0:
            # The first poll may return only what a fetch sent at the previous poll brought: poll on
            # until nothing more comes, so what arrived since then joins now, not a slice later.
            taken: list[Message] = []
            while room > 0 and time.monotonic() - now < 1.0:
                polled = self._consumer.poll(timeout_ms=100, max_records=room)
                got = [_detach(r) for records in polled.values() for r in records]
                if not got:
                    break
                taken += got
                room -= len(got)
            batch.extend(taken)
            return taken
        self._consumer.pause(*self._consumer.assignment())
        try:
            polled = self._consumer.poll(timeout_ms=0)
        finally:
            self._consumer.resume(*self._consumer.paused())
        # A rebalance during the poll can assign partitions that were never paused: hand theirs back.
        heads = {(tp.topic, tp.partition): min(r.offset for r in rs) for tp, rs in polled.items() if rs}
        if heads:
            self._rewind(heads)
        return []

    # -- handling ------------------------------------------------------------------------------

    def _handle(self, batch: list[Message], stop: threading.Event) -> set[Message]:
        self._open = batch
        try:
            self._handler(batch)
        except Stopping:
            self._open = None
            self._handled(list(self._early))
            return set(self._early)
        except Exception as exc:  # noqa: BLE001 - any handler error triggers isolation, never a silent pass
            error: Exception | None = exc
        else:
            error = None
        finally:
            self._open = None  # only the first call may grow the batch, not those narrowing it down
        if error is None:
            self._handled(batch)
            return set(batch)
        early = set(self._early)
        if early:  # what the handler finished before it failed is kept; the rest is narrowed down
            self._handled(list(early))
            rest = [m for m in batch if m not in early]
            return early | (self._retry(rest, error, stop) if rest else set())
        return self._retry(batch, error, stop)

    def _retry(self, batch: list[Message], error: Exception, stop: threading.Event) -> set[Message]:
        """Find what can be handled of a batch whose handler call raised `error`."""
        if isinstance(error, TransientError):
            self._note_transient(batch[0], error)
            if len(batch) == 1 or self._transient_failures < self._probe_after:
                return set()
            return self._probe(batch, stop)
        if len(batch) == 1:
            return {batch[0]} if self._handle_alone(batch[0], stop, [False], failed=error) else set()
        FAILED.labels(batch[0].topic, self.group_id, "batch").inc()
        log.warning(
            "batch rejected, splitting it to find the message at fault",
            extra={"group": self.group_id, "size": len(batch), "error": brief(error, 500)},
        )
        return self._isolate(batch, stop, progress=[False])

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

    def _handle_alone(
        self, message: Message, stop: threading.Event, progress: list[bool], failed: Exception | None = None
    ) -> bool:
        """Try one message up to `max_attempts` times; dead-letter it when it keeps failing.

        A transient error on a message alone is the backend's, unless other messages went through
        meanwhile: then it counts as a strike, and a message that collects `max_attempts` strikes
        over successive polls is dead-lettered too, so it cannot hold its partition forever.
        `failed` is the error of a first attempt already made (a polled batch of this one message).
        """
        last: Exception | None = failed
        if failed is not None and self._failed_attempt(message, failed, 1, stop):
            return False
        for attempt in range(1 if failed is None else 2, self._max_attempts + 1):
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
                if self._failed_attempt(message, exc, attempt, stop):
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

    def _failed_attempt(self, message: Message, exc: Exception, attempt: int, stop: threading.Event) -> bool:
        """Count and log a failed attempt, then back off before the next; return whether a stop came."""
        FAILED.labels(message.topic, self.group_id, "message").inc()
        log.warning(
            "handler failed",
            extra={**message.fields, "group": self.group_id, "attempt": attempt, "error": brief(exc, 500)},
        )
        return attempt < self._max_attempts and stop.wait(self._backoff_min * attempt)

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

    def _commit_progress(self) -> None:
        """Commit each partition's unbroken run of early-done messages from the batch's start.

        A failed commit here is only logged: the batch's own commit at its end settles it.
        """
        if not self._early:
            return
        offsets: dict[TopicPartition, int] = {}
        blocked: set[tuple[str, int]] = set()
        for m in self._batch:
            position = (m.topic, m.partition)
            if position in blocked:
                continue
            if m in self._early:
                offsets[TopicPartition(m.topic, m.partition)] = m.offset + 1
            else:
                blocked.add(position)
        fresh = {tp: o for tp, o in offsets.items() if self._progress.get(tp, -1) < o}
        if not fresh:
            return
        try:
            self._consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in fresh.items()})
        except KafkaError as exc:
            log.warning(
                "commit of finished messages failed; the batch commits them at its end",
                extra={"group": self.group_id, "error": str(exc)[:500]},
            )
            return
        self._progress.update(fresh)
        self.tracker.committed({(tp.topic, tp.partition): o for tp, o in fresh.items()})

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
