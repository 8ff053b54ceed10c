"""One path for every source: parse, admit to the ledger, publish, confirm; callers only learn ids after both.

Whatever refuses a document or keeps it from being accepted reaches the caller as a domain error
(`errors`, and `BrokerUnavailable` here): the API, the drop folder and the poller decide from it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import Counter

from wirewatch_common.bus import Delivery, DeliveryError, Outgoing
from wirewatch_common.errors import WirewatchError, brief
from wirewatch_common.story import Story
from wirewatch_common.topics import story_headers

from .errors import LedgerUnavailable, NoStories, ParseError, StoryTooLarge
from .ledger import Admission, Ledger, Outcome
from .normalize import Limits
from .repairs import count_repairs
from .sources import parse_document

log = logging.getLogger(__name__)

DOCUMENTS = Counter(
    "wirewatch_ingest_documents_total", "Documents ingested, by format and source.", ["format", "via"]
)
REJECTED = Counter("wirewatch_ingest_rejected_total", "Documents refused, by error type.", ["error", "via"])
STORIES = Counter("wirewatch_ingest_stories_total", "Story versions by outcome.", ["outcome"])
DUPLICATES = Counter("wirewatch_ingest_duplicates_total", "Identical re-deliveries dropped.")


class Publisher(Protocol):
    """What the pipeline needs of the bus: publish messages and wait for the broker's confirmation."""

    def publish_many(self, messages: Sequence[Outgoing], timeout: float = 60.0) -> list[Delivery]:
        """Publish and confirm all, or raise."""
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


DocumentOutcome = Result | Exception
"""What became of one document of a batch: its Result, or the exception that refused it."""

BROKER_MESSAGE = "the broker did not confirm delivery; nothing was accepted, retry"


class BrokerUnavailable(WirewatchError, DeliveryError):
    """The broker did not confirm the stories, so none was accepted; a retry may succeed.

    Still a bus DeliveryError, so code that knows only the bus recognises it.
    """

    code = "broker_unavailable"

    def __init__(self, message: str = BROKER_MESSAGE) -> None:
        super().__init__(message)


Unavailable = (BrokerUnavailable, LedgerUnavailable)
"""What keeps a whole chunk from being accepted, the document being fine: its sender retries later."""


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
        chunk_stories: int = 500,
    ) -> None:
        self.ledger = ledger
        self.publisher = publisher
        self.topic = topic
        self.limits = limits
        self._clock = clock
        self._publish_timeout = publish_timeout
        self._chunk_stories = max(1, chunk_stories)

    def ingest(self, data: bytes, content_type: str | None, *, via: str) -> Result:
        """Ingest one document; raise ParseError, NoStories, BrokerUnavailable or LedgerUnavailable."""
        fmt, stories = self._parse(data, content_type, via)
        result = Result(fmt, self.admit_and_publish(stories))
        DOCUMENTS.labels(fmt, via).inc()
        return result

    def ingest_many(
        self, documents: Sequence[tuple[bytes, str | None]], *, via: str
    ) -> list[DocumentOutcome]:
        """Ingest a batch (a drop-folder scan, many pushed documents) with one commit and one publish per chunk.

        Documents are parsed in turn; every `chunk_stories` stories (and at the end) the chunk is
        admitted in one synced ledger commit and its accepted stories published with one
        `publish_many` (one confirmation wait). Returns one outcome per document, in order: its
        Result, or the exception that refused it (a ParseError or NoStories for that document
        alone; BrokerUnavailable or LedgerUnavailable for every document of its chunk, none of
        which was then accepted). After a delivery failure the later chunks are not sent: they
        fail at once instead of each waiting for the publish timeout.
        """
        outcomes: list[DocumentOutcome | None] = [None] * len(documents)
        parsed: list[tuple[int, str, list[Story]]] = []
        size = 0
        broken: BrokerUnavailable | None = None
        for index, (data, content_type) in enumerate(documents):
            try:
                fmt, stories = self._parse(data, content_type, via)
            except (ParseError, NoStories) as exc:
                outcomes[index] = exc
                continue
            except Exception as exc:  # a parser bug refuses this document only, logged with its traceback
                log.exception("unexpected error while parsing a document", extra={"via": via})
                outcomes[index] = exc
                continue
            parsed.append((index, fmt, stories))
            size += len(stories)
            if size >= self._chunk_stories:
                broken = self._ingest_chunk(parsed, outcomes, via, broken)
                parsed, size = [], 0
        if parsed:
            self._ingest_chunk(parsed, outcomes, via, broken)
        done = [o for o in outcomes if o is not None]
        assert len(done) == len(documents), "every document has an outcome"
        return done

    def _ingest_chunk(
        self,
        parsed: list[tuple[int, str, list[Story]]],
        outcomes: list[DocumentOutcome | None],
        via: str,
        broken: BrokerUnavailable | None,
    ) -> BrokerUnavailable | None:
        """Admit and publish one chunk, filling in its documents' outcomes; return a delivery failure."""
        try:
            if broken is not None:
                msg = (
                    "the broker did not confirm an earlier chunk of this batch, so this one was not sent;"
                    " nothing was accepted, retry"
                )
                raise BrokerUnavailable(msg)
            groups = self._admit_and_publish_groups([stories for _, _, stories in parsed])
        except Unavailable as exc:
            for index, _, _ in parsed:
                outcomes[index] = exc
            return exc if isinstance(exc, BrokerUnavailable) else broken
        for (index, fmt, _), admissions in zip(parsed, groups, strict=True):
            outcomes[index] = Result(fmt, admissions)
            DOCUMENTS.labels(fmt, via).inc()
        return broken

    def _parse(self, data: bytes, content_type: str | None, via: str) -> tuple[str, list[Story]]:
        try:
            fmt, stories = parse_document(data, content_type, received=self._clock(), limits=self.limits)
        except Exception as exc:
            REJECTED.labels(type(exc).__name__, via).inc()
            raise
        if not stories:
            REJECTED.labels("NoStories", via).inc()
            msg = f"the {fmt} document holds no text story"
            raise NoStories(msg)
        self._check_sizes(stories, via)
        count_repairs(stories)
        return fmt, stories

    def _check_sizes(self, stories: list[Story], via: str) -> None:
        """Refuse a story whose message (or its renditions') Kafka would refuse, before anything is accepted."""
        limit = self.limits.max_story_bytes
        for story in stories:
            chars = len(story.headline) + len(story.summary or "") + sum(len(p) for p in story.body)
            if chars * 4 + 65_536 < limit:
                continue  # even at 4 bytes a character, with generous metadata, it fits
            size = len(story.to_json())
            if size > limit:
                REJECTED.labels("StoryTooLarge", via).inc()
                msg = (
                    f"story {story.id} is {size} bytes as a message; the limit is {limit} "
                    "(40% of WIREWATCH_KAFKA_MAX_MESSAGE_BYTES, so its renditions fit too)"
                )
                raise StoryTooLarge(msg, field="story")

    def admit_and_publish(self, stories: list[Story]) -> list[Admission]:
        """Admit to the ledger, publish what is new and confirm it; on a delivery failure forget it and raise.

        Raises BrokerUnavailable or LedgerUnavailable; then none of the stories was accepted.
        """
        return self._admit_and_publish_groups([stories])[0]

    def _admit_and_publish_groups(self, groups: list[list[Story]]) -> list[list[Admission]]:
        """One ledger commit and one publish for the stories of several documents; admissions per document."""
        admissions = self.ledger.admit([s for group in groups for s in group], self._clock())
        for a in admissions:
            STORIES.labels(a.outcome.value).inc()
            if a.outcome is Outcome.DUPLICATE:
                DUPLICATES.inc()
        self._publish(admissions)
        out: list[list[Admission]] = []
        start = 0
        for group in groups:
            out.append(admissions[start : start + len(group)])
            start += len(group)
        return out

    def _publish(self, admissions: list[Admission]) -> None:
        """Publish the accepted stories with one confirmation wait; on failure forget them and raise."""
        accepted = [a for a in admissions if a.outcome is Outcome.ACCEPTED]
        if not accepted:
            return
        stories = [a.story for a in accepted]
        messages = [Outgoing(self.topic, a.story.id, a.value, story_headers(a.story)) for a in accepted]
        try:
            deliveries = self.publisher.publish_many(messages, timeout=self._publish_timeout)
        except Exception as exc:
            self.ledger.forget(stories)
            if isinstance(exc, DeliveryError) and not isinstance(exc, BrokerUnavailable):
                log.warning("broker did not confirm; nothing accepted", extra={"error": brief(exc)})
                raise BrokerUnavailable from exc
            raise
        # Where each version went, so the re-publisher can ask the broker whether it still holds it.
        self.ledger.delivered(stories, self._clock(), deliveries)
        if log.isEnabledFor(logging.INFO):
            for story in stories:
                log.info(
                    "story accepted",
                    extra={"story_id": story.id, "version": story.version, "topic": self.topic},
                )
