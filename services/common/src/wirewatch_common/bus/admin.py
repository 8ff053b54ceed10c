"""Topic administration and broker reachability: provisioning, offsets, lag, the message at a position."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewPartitions, NewTopic, OffsetSpec
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ..clusters import TANSU_CLUSTER_IDS
from ..settings import Settings
from ..topics import TopicContract
from .config import client_config

log = logging.getLogger(__name__)


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
