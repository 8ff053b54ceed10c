"""Token buckets: bursts pass, the sustained rate holds, each caller has its own bucket."""

from __future__ import annotations

import pytest

from wirewatch_common.ratelimit import RateLimit, TokenBuckets, parse_rate_limit

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "rate", "burst"),
    [
        ("50:200", 50, 200),
        ("0.5:3", 0.5, 3),
        ("10", 10, 10),
        ("0.2", 0.2, 1),
        ("0", 0, 0),
        ("off", 0, 0),
        (" ", 0, 0),
    ],
)
def test_parse_rate_limit(text, rate, burst):
    limit = parse_rate_limit(text)
    assert (limit.rate, limit.burst) == (rate, burst)


@pytest.mark.parametrize("text", ["fast", "10:x", "-1:5", "10:0", "inf:3", "nan"])
def test_bad_rate_limits_are_refused_clearly(text):
    with pytest.raises(ValueError, match="rate"):
        parse_rate_limit(text)


def test_limit_reads_back_as_written():
    assert str(parse_rate_limit("50:200")) == "50:200"
    assert str(parse_rate_limit("0.5:3")) == "0.5:3"
    assert str(parse_rate_limit("off")) == "0"


def test_a_burst_passes_then_the_rate_holds():
    clock = Clock()
    buckets = TokenBuckets(RateLimit(rate=2, burst=3), clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back every half second
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 60  # idle: the bucket refills to the burst, never beyond
    assert [buckets.take("a") for _ in range(4)][-1] == pytest.approx(0.5)


def test_refused_requests_spend_nothing():
    clock = Clock()
    buckets = TokenBuckets(RateLimit(rate=1, burst=1), clock=clock)
    assert buckets.take("a") == 0.0
    for _ in range(10):
        assert buckets.take("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.take("a") == 0.0, "hammering while refused does not push the next token further away"


def test_callers_have_their_own_buckets():
    buckets = TokenBuckets(RateLimit(rate=1, burst=1), clock=Clock())
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_memory_is_bounded_by_forgetting_the_least_recent_caller():
    buckets = TokenBuckets(RateLimit(rate=1, burst=1), clock=Clock(), max_callers=3)
    for caller in "abcd":
        buckets.take(caller)
    assert len(buckets) == 3
    assert buckets.take("a") == 0.0, "a was forgotten, so it starts with a full bucket"
    assert buckets.take("d") > 0, "d is still remembered"


def test_off_never_limits():
    buckets = TokenBuckets(RateLimit(rate=0, burst=0), clock=Clock())
    assert all(buckets.take("a") == 0.0 for _ in range(1000))
    assert len(buckets) == 0
