"""Notice a consumer that stopped making progress, so health and status can say where and why.

A consumer is stalled when it has been retrying the same position of a partition for longer than
a set time (its messages are polled and rewound, or its commits fail), or when one handler call has
been running for longer than that. Pure bookkeeping: the consumer reports what happened, and
`/healthz`, `wirewatch status` and Prometheus read `stalls()`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

Position = tuple[str, int]
"""(topic, partition)"""


@dataclass(frozen=True)
class Stall:
    """One partition (or one handler call) that has not moved for `seconds`."""

    group: str
    topic: str
    partition: int
    offset: int
    seconds: float
    error: str
    kind: str  # "retrying": polled again and again without a commit; "handling": one call runs too long

    def to_dict(self) -> dict[str, Any]:
        """As JSON for /healthz."""
        return asdict(self) | {"seconds": round(self.seconds, 1)}


@dataclass
class _Stuck:
    offset: int
    since: float
    error: str


class StallTracker:
    """Positions a consumer keeps failing to move past, and the handler call now running."""

    def __init__(self, group: str, stall_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.group = group
        self.stall_after = stall_after
        self._clock = clock
        self._lock = threading.Lock()
        self._stuck: dict[Position, _Stuck] = {}
        self._busy: tuple[Position, int, float] | None = None
        _LIVE.add(self)

    def undone(self, heads: Mapping[Position, int], error: str) -> None:
        """Messages from these offsets on were polled but not committed; `since` stays if the offset did."""
        now = self._clock()
        with self._lock:
            for position, offset in heads.items():
                seen = self._stuck.get(position)
                if seen is not None and seen.offset == offset:
                    seen.error = error
                else:
                    self._stuck[position] = _Stuck(offset, now, error)

    def committed(self, next_offsets: Mapping[Position, int]) -> None:
        """These partitions moved: forget what was stuck before the new position."""
        with self._lock:
            for position, offset in next_offsets.items():
                seen = self._stuck.get(position)
                if seen is not None and offset > seen.offset:
                    del self._stuck[position]

    def keep_only(self, assigned: Iterable[Position]) -> None:
        """Forget partitions this member no longer owns (their new owner reports for them)."""
        keep = set(assigned)
        with self._lock:
            for position in [p for p in self._stuck if p not in keep]:
                del self._stuck[position]

    def handling(self, head: Position | None = None, offset: int = -1) -> None:
        """A handler call starts at this message (or, with no head, the call ended)."""
        with self._lock:
            self._busy = None if head is None else (head, offset, self._clock())

    def stalls(self) -> list[Stall]:
        """Everything stalled for longer than `stall_after`, longest first."""
        now = self._clock()
        out: list[Stall] = []
        with self._lock:
            for (topic, partition), seen in self._stuck.items():
                if now - seen.since >= self.stall_after:
                    out.append(
                        Stall(
                            self.group,
                            topic,
                            partition,
                            seen.offset,
                            now - seen.since,
                            seen.error,
                            "retrying",
                        )
                    )
            if self._busy is not None:
                (topic, partition), offset, since = self._busy
                if now - since >= self.stall_after:
                    error = "one handler call has been running this long"
                    out.append(Stall(self.group, topic, partition, offset, now - since, error, "handling"))
        return sorted(out, key=lambda s: -s.seconds)


_LIVE: weakref.WeakSet[StallTracker] = weakref.WeakSet()


class _StallCollector(Collector):
    """Prometheus gauge of stalled seconds per group and partition, read live at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "wirewatch_consumer_stalled_seconds",
            "How long a consumer has been stuck at one position (0 series means none is stalled).",
            labels=["group", "topic", "partition", "kind"],
        )
        for tracker in list(_LIVE):
            for stall in tracker.stalls():
                gauge.add_metric([stall.group, stall.topic, str(stall.partition), stall.kind], stall.seconds)
        yield gauge


REGISTRY.register(_StallCollector())
