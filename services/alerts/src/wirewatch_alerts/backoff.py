"""When a failed delivery is tried again, and when it is given up: exponential backoff with jitter.

Pure (no clock, no randomness of its own: the caller passes `now` and a jitter draw), so the
schedule is tested exactly. The wait after the n-th failed try is drawn from the upper half of
`base * 2**(n-1)`, capped at `cap`: it still grows, but lanes that failed together (one receiver
down for all of them) do not all knock again at the same instant. A delivery is given up after
`max_attempts` tries (0: no count limit) or once it has been failing for `max_age` since it was due;
the last try is moved to that deadline rather than skipped. An endpoint's own Retry-After is
honoured when it asks for more than the backoff, up to the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MAX_DOUBLINGS = 60
"""2**60 times any base passes every sensible cap; bounding the exponent keeps the float finite."""


@dataclass(frozen=True)
class Backoff:
    """The retry schedule of deliveries (settings `alerts_retry_*`)."""

    base_s: float = 2.0
    cap_s: float = 600.0
    max_attempts: int = 0
    max_age_s: float = 86_400.0

    def __post_init__(self) -> None:
        """Refuse a schedule that would retry at once forever or never."""
        if not (self.base_s > 0 and self.cap_s > 0 and self.max_age_s > 0):
            msg = (
                f"a retry schedule needs base_s, cap_s and max_age_s above 0, not {self.base_s}, "
                f"{self.cap_s} and {self.max_age_s}"
            )
            raise ValueError(msg)
        if self.max_attempts < 0:
            msg = f"max_attempts is 0 (no limit) or more, not {self.max_attempts}"
            raise ValueError(msg)

    def step(self, attempts: int) -> float:
        """The full wait after the `attempts`-th failed try (1 = the first), before jitter."""
        doublings = min(max(attempts, 1) - 1, _MAX_DOUBLINGS)
        return min(self.cap_s, self.base_s * 2.0**doublings)

    def delay(self, attempts: int, jitter: float) -> float:
        """Seconds to wait after the `attempts`-th failed try; `jitter` in [0, 1) picks a point in the upper half."""
        step = self.step(attempts)
        return step / 2 + step / 2 * min(max(jitter, 0.0), 1.0)

    def next_try(
        self,
        *,
        attempts: int,
        due_at: datetime,
        now: datetime,
        jitter: float,
        retry_after_s: float | None = None,
    ) -> datetime | None:
        """When to try a delivery again after `attempts` failed tries; None gives it up.

        `due_at` is when it was first due (its age counts from there); `retry_after_s` is what the
        endpoint asked for, honoured up to the cap.
        """
        if self.max_attempts and attempts >= self.max_attempts:
            return None
        deadline = due_at + timedelta(seconds=self.max_age_s)
        if now >= deadline:
            return None
        wait = self.delay(attempts, jitter)
        if retry_after_s is not None and retry_after_s > wait:
            wait = min(retry_after_s, self.cap_s)
        return min(now + timedelta(seconds=wait), deadline)
