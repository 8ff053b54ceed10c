"""Decide which unconfirmed story versions the pipeline lost, from a snapshot of the broker (pure logic).

A version without a receipt is re-published only when it is really gone: the broker no longer
holds it where it was stored (the broker lost its data, retention removed it, or it was never
stored anywhere known), or every stage read past it while nothing of it waits further on and
still no receipt came (lost downstream). A version still waiting in the stories topic or in a
stage's hands is left alone, however long a backlog takes to drain: sending it again would only
double the backlog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .ledger import Overdue

Place = tuple[str, int, int]
"""(topic, partition, offset) of one message."""

Offsets = Mapping[tuple[str, int], int]
"""Offsets per (topic, partition): a group's committed (next to read) or a partition's end."""

MAX_DOWNSTREAM_BACKOFF = timedelta(days=1)
"""Longest wait before a version lost downstream again and again is sent once more."""


class Verdict(StrEnum):
    """What became of an overdue version, and so whether it is sent again."""

    UNPLACED = "unplaced"
    """No recorded position (accepted before positions were kept, or its delivery note was lost): send."""
    GONE = "gone"
    """The broker no longer holds it where it was stored (restarted empty, retention): send."""
    LOST_DOWNSTREAM = "lost_downstream"
    """Every stage read past it, nothing of it waits further on, and no receipt came: send."""
    WAITING = "waiting"
    """Still in the stories topic unread by some stage, or in progress further on: leave it."""
    UNKNOWN = "unknown"
    """The broker did not say in time where it stands: leave it until the next round."""

    @property
    def lost(self) -> bool:
        """Whether a version with this verdict is sent again."""
        return self in (Verdict.UNPLACED, Verdict.GONE, Verdict.LOST_DOWNSTREAM)


@dataclass(frozen=True)
class Snapshot:
    """What the broker said this round.

    `keys`: the key of the message at each recorded position asked about; None where the broker
    holds no message there; positions it did not answer for in time are absent. `stages`: the
    committed offsets of each consumer group that reads the stories topic (translate, index).
    `downstream_idle`: every later topic (renditions, receipts) is read to its end by its group,
    so nothing of a story read past upstream is still on its way to a receipt.
    """

    topic: str
    keys: Mapping[Place, str | None]
    stages: Sequence[Offsets]
    downstream_idle: bool


def placed(version: Overdue, topic: str) -> Place | None:
    """The recorded position of a version on `topic`, or None (unknown, or another topic's)."""
    if version.topic != topic or version.partition is None or version.offset is None:
        return None
    return (version.topic, version.partition, version.offset)


def judge(version: Overdue, snapshot: Snapshot) -> Verdict:
    """Decide whether an overdue version is lost (see the module docstring)."""
    place = placed(version, snapshot.topic)
    if place is None:
        return Verdict.UNPLACED
    if place not in snapshot.keys:
        return Verdict.UNKNOWN
    if snapshot.keys[place] != version.id:
        return Verdict.GONE  # nothing there, or another story's message: the offsets were reused
    topic, partition, offset = place
    read_past = all(stage.get((topic, partition), 0) > offset for stage in snapshot.stages)
    if read_past and snapshot.stages and snapshot.downstream_idle:
        return Verdict.LOST_DOWNSTREAM
    return Verdict.WAITING


def idle(committed: Offsets, ends: Offsets, topics: Iterable[str]) -> bool:
    """Tell whether a group has read every partition of `topics` to its end (no lag anywhere)."""
    wanted = set(topics)
    return all(committed.get(tp, 0) >= end for tp, end in ends.items() if tp[0] in wanted and end > 0)


def due(version: Overdue, verdict: Verdict, now: datetime, grace: timedelta) -> bool:
    """Tell whether a lost version is sent now.

    A version lost downstream again and again (a stage that drops it every time, a target
    language no translator serves) is sent with doubling spacing, grace × 2^(deliveries − 1) up to
    a day, instead of once every round; what the broker lost is sent at once.
    """
    if not verdict.lost:
        return False
    if verdict is not Verdict.LOST_DOWNSTREAM or version.delivered_at is None:
        return True
    factor = 1 << min(max(version.deliveries - 1, 0), 20)
    wait = min(grace * factor, MAX_DOWNSTREAM_BACKOFF)
    return now - version.delivered_at >= wait
