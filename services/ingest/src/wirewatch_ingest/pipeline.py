"""One path for every source: parse, admit to the ledger, publish, confirm; callers only learn ids after both."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import Counter

from wirewatch_common.bus import Delivery
from wirewatch_common.story import Story

from .ledger import Admission, Ledger, Outcome
from .normalize import Limits
from .sources import parse_document

log = logging.getLogger(__name__)

DOCUMENTS = Counter(
    "wirewatch_ingest_documents_total", "Documents ingested, by format and source.", ["format", "via"]
)
REJECTED = Counter("wirewatch_ingest_rejected_total", "Documents refused, by error type.", ["error", "via"])
STORIES = Counter("wirewatch_ingest_stories_total", "Story versions by outcome.", ["outcome"])
DUPLICATES = Counter("wirewatch_ingest_duplicates_total", "Identical re-deliveries dropped.")


class Publisher(Protocol):
    """What the pipeline needs of the bus: publish stories and wait for the broker's confirmation."""

    def publish_stories(self, topic: str, stories: list[Story], timeout: float = 60.0) -> list[Delivery]:
        """Publish and confirm, or raise."""
        ...


@dataclass(frozen=True)
class Result:
    """What became of one document: its format and each story's id, version and outcome."""

    format: str
    admissions: list[Admission]

    def to_dict(self) -> dict[str, object]:
        """JSON body for the API and the drop folder's log."""
        return {
            "format": self.format,
            "stories": [
                {"id": a.story.id, "version": a.story.version, "outcome": a.outcome.value}
                for a in self.admissions
            ],
        }


class NoStories(Exception):
    """The document parsed but held no text story (e.g. a picture item or an empty feed)."""


class Ingestor:
    """Parse a document, admit its stories to the ledger, publish the accepted ones, then confirm them."""

    def __init__(
        self,
        ledger: Ledger,
        publisher: Publisher,
        topic: str,
        limits: Limits,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
        publish_timeout: float = 30.0,
    ) -> None:
        self.ledger = ledger
        self.publisher = publisher
        self.topic = topic
        self.limits = limits
        self._clock = clock
        self._publish_timeout = publish_timeout

    def ingest(self, data: bytes, content_type: str | None, *, via: str) -> Result:
        """Ingest one document; raise ParseError, NoStories or the publisher's DeliveryError."""
        now = self._clock()
        try:
            fmt, stories = parse_document(data, content_type, received=now, limits=self.limits)
        except Exception as exc:
            REJECTED.labels(type(exc).__name__, via).inc()
            raise
        if not stories:
            REJECTED.labels("NoStories", via).inc()
            msg = f"the {fmt} document holds no text story"
            raise NoStories(msg)
        result = Result(fmt, self.admit_and_publish(stories))
        DOCUMENTS.labels(fmt, via).inc()
        return result

    def admit_and_publish(self, stories: list[Story]) -> list[Admission]:
        """Admit to the ledger, publish what is new and confirm it; on a delivery failure forget it and raise."""
        admissions = self.ledger.admit(stories, self._clock())
        accepted = [a.story for a in admissions if a.outcome is Outcome.ACCEPTED]
        for a in admissions:
            STORIES.labels(a.outcome.value).inc()
            if a.outcome is Outcome.DUPLICATE:
                DUPLICATES.inc()
        if accepted:
            try:
                self.publisher.publish_stories(self.topic, accepted, timeout=self._publish_timeout)
            except Exception:
                self.ledger.forget(accepted)
                raise
            self.ledger.delivered(accepted, self._clock())
            for story in accepted:
                log.info(
                    "story accepted",
                    extra={"story_id": story.id, "version": story.version, "topic": self.topic},
                )
        return admissions
