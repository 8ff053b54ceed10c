"""What counts as lost: the re-publisher's verdict on an overdue version from a snapshot of the broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wirewatch_ingest.ledger import Overdue
from wirewatch_ingest.loss import MAX_DOWNSTREAM_BACKOFF, Snapshot, Verdict, due, idle, judge

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
TOPIC = "wirewatch.stories"


def overdue(
    story_id: str = "ww-a",
    *,
    topic: str | None = TOPIC,
    partition: int | None = 2,
    offset: int | None = 40,
    deliveries: int = 1,
    delivered_at: datetime | None = T0,
) -> Overdue:
    return Overdue(
        row=1,
        id=story_id,
        version=1,
        value="{}",
        accepted_at=T0,
        delivered_at=delivered_at,
        deliveries=deliveries,
        topic=topic,
        partition=partition,
        offset=offset,
    )


def snapshot(
    key: str | None = "ww-a",
    *,
    translate: int = 0,
    index: int = 0,
    downstream_idle: bool = True,
    asked: bool = True,
) -> Snapshot:
    return Snapshot(
        TOPIC,
        {(TOPIC, 2, 40): key} if asked else {},
        [{(TOPIC, 2): translate}, {(TOPIC, 2): index, (TOPIC, 0): 999}],
        downstream_idle,
    )


def test_a_version_with_no_known_place_is_sent() -> None:
    assert judge(overdue(partition=None, offset=None, topic=None), snapshot()) is Verdict.UNPLACED
    assert judge(overdue(topic="old.stories"), snapshot()) is Verdict.UNPLACED, (
        "stored on a topic no one reads"
    )


def test_what_the_broker_no_longer_holds_is_sent() -> None:
    assert judge(overdue(), snapshot(key=None)) is Verdict.GONE, "past the end, or before the first offset"
    assert judge(overdue(), snapshot(key="ww-other")) is Verdict.GONE, "a new broker reused the offset"


def test_a_version_still_unread_or_in_progress_waits() -> None:
    assert judge(overdue(), snapshot()) is Verdict.WAITING, "no stage read it yet"
    assert judge(overdue(), snapshot(translate=41)) is Verdict.WAITING, "translate read it, index did not"
    assert judge(overdue(), snapshot(index=41)) is Verdict.WAITING, "index read it, translate did not"
    assert judge(overdue(), snapshot(translate=40, index=40)) is Verdict.WAITING, "40 is next to read"
    assert judge(overdue(), snapshot(translate=41, index=41, downstream_idle=False)) is Verdict.WAITING
    assert judge(overdue(), Snapshot(TOPIC, {(TOPIC, 2, 40): "ww-a"}, [], True)) is Verdict.WAITING


def test_read_past_by_every_stage_with_nothing_left_downstream_is_lost() -> None:
    assert judge(overdue(), snapshot(translate=41, index=41)) is Verdict.LOST_DOWNSTREAM


def test_an_unanswered_position_is_left_for_the_next_round() -> None:
    assert judge(overdue(), snapshot(asked=False, translate=99, index=99)) is Verdict.UNKNOWN


def test_idle_means_every_partition_read_to_its_end() -> None:
    ends = {("r", 0): 5, ("r", 1): 0, ("other", 0): 9}
    assert idle({("r", 0): 5}, ends, ["r"])
    assert not idle({("r", 0): 4}, ends, ["r"])
    assert not idle({}, ends, ["r"]), "a group that never committed has read nothing"
    assert idle({}, {("r", 0): 0}, ["r"]), "an empty topic has nothing waiting"


def test_what_the_broker_lost_is_sent_at_once_and_repeated_downstream_loss_backs_off() -> None:
    grace = timedelta(minutes=2)
    assert not due(overdue(), Verdict.WAITING, T0 + timedelta(days=9), grace)
    assert due(overdue(deliveries=9), Verdict.GONE, T0, grace)
    assert due(overdue(deliveries=1), Verdict.LOST_DOWNSTREAM, T0 + grace, grace)
    third = overdue(deliveries=3)  # sent three times already: waits 4 × grace
    assert not due(third, Verdict.LOST_DOWNSTREAM, T0 + 3 * grace, grace)
    assert due(third, Verdict.LOST_DOWNSTREAM, T0 + 4 * grace, grace)
    many = overdue(deliveries=60)
    assert not due(many, Verdict.LOST_DOWNSTREAM, T0 + MAX_DOWNSTREAM_BACKOFF - timedelta(seconds=1), grace)
    assert due(many, Verdict.LOST_DOWNSTREAM, T0 + MAX_DOWNSTREAM_BACKOFF, grace)
