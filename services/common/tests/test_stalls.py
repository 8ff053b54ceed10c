"""Stall bookkeeping, poll pacing, and /healthz saying `degraded` where a consumer is stuck."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from wirewatch_common.pacing import PollPacer
from wirewatch_common.service import create_app
from wirewatch_common.stalls import Stall, StallTracker

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_position_retried_past_the_limit_is_a_stall_until_it_moves() -> None:
    clock = Clock()
    tracker = StallTracker("g", stall_after=60, clock=clock)
    tracker.undone({("t", 2): 17}, "backend down")
    clock.now += 30
    tracker.undone({("t", 2): 17}, "backend still down")  # same offset: the clock keeps running
    assert tracker.stalls() == []
    clock.now += 31
    (stall,) = tracker.stalls()
    assert (stall.topic, stall.partition, stall.offset, stall.error) == ("t", 2, 17, "backend still down")
    assert stall.seconds == pytest.approx(61)
    tracker.committed({("t", 2): 18})
    assert tracker.stalls() == []


def test_moving_to_another_offset_restarts_the_clock_and_revoked_partitions_are_forgotten() -> None:
    clock = Clock()
    tracker = StallTracker("g", stall_after=10, clock=clock)
    tracker.undone({("t", 0): 5, ("t", 1): 9}, "x")
    clock.now += 8
    tracker.undone({("t", 0): 6}, "x")
    clock.now += 3
    assert [(s.partition, s.offset) for s in tracker.stalls()] == [(1, 9)]
    tracker.keep_only([("t", 0)])
    assert tracker.stalls() == []


def test_a_handler_call_running_too_long_is_a_stall() -> None:
    clock = Clock()
    tracker = StallTracker("g", stall_after=10, clock=clock)
    tracker.handling(("t", 3), 40)
    clock.now += 11
    (stall,) = tracker.stalls()
    assert (stall.kind, stall.partition, stall.offset) == ("handling", 3, 40)
    tracker.handling(None)
    assert tracker.stalls() == []


def test_stalls_are_a_prometheus_gauge() -> None:
    clock = Clock()
    tracker = StallTracker("gauge-group", stall_after=1, clock=clock)
    tracker.undone({("wirewatch.stories", 4): 3}, "x")
    clock.now += 5
    text = generate_latest().decode()
    assert (
        'wirewatch_consumer_stalled_seconds{group="gauge-group",kind="retrying",partition="4",'
        'topic="wirewatch.stories"} 5.0' in text
    )


def test_the_pacer_grows_with_measured_speed_and_shrinks_after_an_overrun() -> None:
    pacer = PollPacer(slice_seconds=10, most=500)
    assert pacer.next_size() == 1
    pacer.observe(1, 0.5)  # 2 messages a second: 20 fit a slice, growth is at most twofold
    assert pacer.next_size() == 2
    pacer.observe(2, 1.0)
    assert pacer.next_size() == 4
    for _ in range(10):
        pacer.observe(pacer.next_size(), pacer.last / 2)
    assert pacer.next_size() == 20
    pacer.overran()
    assert pacer.next_size() <= 10
    fast = PollPacer(slice_seconds=10, most=500, rate=10_000)
    fast.last = 400
    assert fast.next_size() == 500, "never more than the batch size"


class StuckWorker:
    name = "consumer:stuck"

    def run(self, stop: threading.Event) -> None:
        stop.wait()

    def stalls(self) -> list[Stall]:
        return [Stall("grp", "wirewatch.stories", 1, 42, 130.0, "tantivy write failed", "retrying")]


def test_healthz_is_degraded_with_the_stalled_position_and_stays_200() -> None:
    app = create_app("demo", workers=[StuckWorker()])
    with TestClient(app) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200, "a restart would not move a stuck position"
    body = answer.json()
    assert body["status"] == "degraded"
    assert body["stalls"] == [
        {
            "group": "grp",
            "topic": "wirewatch.stories",
            "partition": 1,
            "offset": 42,
            "seconds": 130.0,
            "error": "tantivy write failed",
            "kind": "retrying",
        }
    ]
