"""Size each poll from the handler's measured speed, so the work of one poll stays within a time slice.

Kafka drops a group member that does not poll again within `max.poll.interval.ms`; a member that
takes 500 stories at once at real translation speed would work for minutes, be dropped, fail its
commit and poll the same stories again forever. Polling only as many messages as the handler has
shown it can handle within a slice keeps every poll well inside the interval and lets a stop
request be honoured within one slice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PollPacer:
    """How many messages to ask for next, from an exponentially weighted rate of messages per second."""

    slice_seconds: float
    most: int
    first: int = 1
    weight: float = 0.5
    rate: float | None = None
    last: int = 0

    def next_size(self) -> int:
        """Messages to poll next: the slice's worth at the measured rate, growing at most twofold a poll."""
        if self.rate is None:
            size = self.first
        else:
            size = int(self.rate * self.slice_seconds)
            if self.last:
                size = min(size, 2 * self.last)
        self.last = max(1, min(self.most, size))
        return self.last

    def observe(self, count: int, seconds: float) -> None:
        """Record that `count` messages took `seconds` to handle and commit."""
        if count <= 0:
            return
        rate = count / max(seconds, 1e-6)
        self.rate = rate if self.rate is None else self.weight * rate + (1 - self.weight) * self.rate

    def overran(self) -> None:
        """A poll outlived its slice badly (e.g. the group dropped us): start small again."""
        self.rate = None if self.rate is None else self.rate / 4
        self.last = max(1, self.last // 4)
