"""What travels on the bus: a message to publish, where the broker stored it, a consumed message."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..story import Story
from ..topics import Headers, story_headers


@dataclass(frozen=True)
class Outgoing:
    """One message to publish."""

    topic: str
    key: str
    value: bytes
    headers: Headers = field(default_factory=list)


def story_message(topic: str, story: Story) -> Outgoing:
    """A story or rendition as a message: keyed by story id, with the contract's headers."""
    return Outgoing(topic, story.id, story.to_json(), story_headers(story))


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored a confirmed message."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, eq=False)
class Message:
    """A consumed message, detached from the client."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int

    def header(self, name: str) -> str | None:
        """Return a header as text, or None."""
        raw = self.headers.get(name)
        return None if raw is None else raw.decode("utf-8", "replace")

    def story(self) -> Story:
        """Parse the value as a story (raises pydantic's ValidationError on a bad one)."""
        return Story.from_json(self.value)

    @property
    def fields(self) -> dict[str, Any]:
        """Fields for log lines about this message."""
        return {"story_id": self.key, "topic": self.topic, "partition": self.partition, "offset": self.offset}


Handler = Callable[[Sequence[Message]], None]
"""Handles a batch; raises to reject it (TransientError: retry later; anything else: isolate and count)."""
