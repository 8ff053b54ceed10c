"""A publisher that keeps what it is given, so tests of what happens before the bus need no broker."""

from __future__ import annotations

from collections.abc import Sequence

from wirewatch_common.bus import Delivery, DeliveryError, Outgoing


class RecordingPublisher:
    """A Publisher that keeps what it was given, for tests of what happens before the bus.

    Offsets rise per topic as a broker's would; `failure` makes every publish raise it.
    """

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.failure: DeliveryError | None = None

    def publish_many(self, messages: Sequence[Outgoing], timeout: float = 60.0) -> list[Delivery]:
        """Record the messages and confirm them, or raise the set failure."""
        if self.failure is not None:
            raise self.failure
        out = []
        for message in messages:
            offset = sum(1 for m in self.sent if m.topic == message.topic)
            self.sent.append(message)
            out.append(Delivery(message.topic, 0, offset))
        return out

    def close(self) -> None:
        """Nothing to release."""
