"""The retry schedule of deliveries: doubling, jitter, cap, Retry-After, and when to give up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wirewatch_alerts.backoff import Backoff
from wirewatch_alerts.settings import AlertsSettings

pytestmark = pytest.mark.unit

DUE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_the_wait_doubles_from_the_base_up_to_the_cap():
    schedule = Backoff(base_s=2, cap_s=60)
    assert [schedule.step(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert schedule.step(10_000) == 60  # no overflow however long a receiver stays down


def test_jitter_draws_from_the_upper_half_of_each_step():
    schedule = Backoff(base_s=2, cap_s=60)
    assert schedule.delay(3, 0.0) == 4 and schedule.delay(3, 0.999999) == pytest.approx(8)
    assert schedule.delay(3, 0.5) == 6
    waits = [schedule.delay(n, 0.0) for n in range(1, 6)]
    assert waits == sorted(waits)  # even the shortest draw never shrinks from one try to the next


def test_next_try_is_now_plus_the_jittered_wait():
    schedule = Backoff(base_s=2, cap_s=60, max_age_s=3600)
    now = DUE + timedelta(seconds=10)
    assert schedule.next_try(attempts=2, due_at=DUE, now=now, jitter=0.5) == now + timedelta(seconds=3)


def test_retry_after_is_honoured_up_to_the_cap_and_never_shortens_the_backoff():
    schedule = Backoff(base_s=2, cap_s=60, max_age_s=3600)

    def wait(attempts: int, asked: float) -> float:
        when = schedule.next_try(attempts=attempts, due_at=DUE, now=DUE, jitter=0, retry_after_s=asked)
        assert when is not None
        return (when - DUE).total_seconds()

    assert wait(1, 30) == 30
    assert wait(1, 86_400) == 60  # the cap
    assert wait(5, 1) == 16  # the backoff's own wait when the endpoint asks for less


def test_a_delivery_is_given_up_after_max_attempts():
    schedule = Backoff(base_s=1, cap_s=10, max_attempts=3, max_age_s=3600)
    assert schedule.next_try(attempts=2, due_at=DUE, now=DUE, jitter=0) is not None
    assert schedule.next_try(attempts=3, due_at=DUE, now=DUE, jitter=0) is None


def test_the_last_try_is_at_the_age_limit_and_none_after_it():
    schedule = Backoff(base_s=1, cap_s=600, max_age_s=100)
    deadline = DUE + timedelta(seconds=100)
    near = DUE + timedelta(seconds=90)
    assert schedule.next_try(attempts=8, due_at=DUE, now=near, jitter=0) == deadline  # 64 s would pass it
    assert schedule.next_try(attempts=9, due_at=DUE, now=deadline, jitter=0) is None
    assert Backoff(max_attempts=0).next_try(attempts=10_000, due_at=DUE, now=DUE, jitter=0) is not None


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"base_s": 0}, "above 0"),
        ({"cap_s": -1}, "above 0"),
        ({"max_age_s": 0}, "above 0"),
        ({"max_attempts": -1}, "0 \\(no limit\\) or more"),
    ],
)
def test_a_schedule_that_could_not_work_is_refused(fields, problem):
    with pytest.raises(ValueError, match=problem):
        Backoff(**fields)


def test_the_settings_make_the_schedule():
    settings = AlertsSettings(
        alerts_retry_base_s=0.5,
        alerts_retry_cap_s=30,
        alerts_retry_max_attempts=7,
        alerts_retry_max_age_s=900,
    )
    assert settings.retry_policy == Backoff(base_s=0.5, cap_s=30, max_attempts=7, max_age_s=900)
