"""The index worker: a bus.Consumer handler that writes each polled batch and then confirms it.

Per batch: parse every message, write the batch to the backend in one durable step, offer the
written versions to the live hub (it wakes the open streams they match), publish one receipt per
written story version and language (none for a `partial` rendition: only the full one confirms a
version), and only then return, so the consumer commits the offsets.
Two kinds of failure, told apart by the backend:

- an outage (BackendUnavailable, or receipts the broker did not confirm) raises TransientError:
  nothing is committed and the same batch is polled again after a backoff;
- a message that cannot be handled (it does not parse, or the backend refuses its document:
  DocumentRejected) propagates as it is, so the consumer isolates that message, dead-letters it
  with the reason in its headers, and writes and commits its neighbours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from wirewatch_common.bus import DeliveryError, Message, Outgoing, TransientError
from wirewatch_common.story import Receipt, Story
from wirewatch_common.topics import receipt_headers

from . import documents
from .backends.base import BackendUnavailable, SearchBackend

log = logging.getLogger(__name__)

INDEXED = Counter("wirewatch_index_documents_total", "Language versions written to the backend.", ["backend"])
STALE = Counter(
    "wirewatch_index_stale_total", "Older versions that arrived after a newer one (not written).", ["backend"]
)

Publish = Callable[[Sequence[Outgoing]], Any]
"""Publishes messages and returns only when the broker confirmed them (Producer.publish_many)."""
Offer = Callable[[Sequence[Story]], Any]
"""Told the versions a batch wrote, once searchable (LiveHub.offer); must not raise."""


def receipt_for(story: Story, backend: str, now: datetime) -> Receipt:
    """The receipt that tells ingest this version in this language is searchable."""
    return Receipt(
        story_id=story.id,
        version=story.version,
        language=story.language,
        status=None if story.translation is None else story.translation.status,
        indexed_at=now,
        backend=backend,
    )


class IndexHandler:
    """Handle one batch of story and rendition messages."""

    def __init__(
        self, backend: SearchBackend, publish: Publish, receipts_topic: str, offer: Offer | None = None
    ) -> None:
        self.backend = backend
        self._publish = publish
        self._receipts_topic = receipts_topic
        self._offer = offer

    def __call__(self, batch: Sequence[Message]) -> None:
        """Write the batch, then publish receipts; TransientError means retry without committing."""
        stories = [m.story() for m in batch]
        try:
            result = self.backend.write(stories)
        except BackendUnavailable as exc:
            raise TransientError(str(exc)) from exc
        if self._offer is not None and result.written:
            try:
                self._offer(result.written)
            except Exception:
                # Live streams then find these by their safety poll; the batch itself is fine.
                log.exception("live streams not told of the batch")
        now = datetime.now(tz=UTC)
        # A partial rendition is searchable but not done: ingest's ledger waits for the full one's receipt.
        receipts = [
            receipt_for(s, self.backend.name, now) for s in result.written if not documents.is_partial(s)
        ]
        try:
            self._publish(
                [
                    Outgoing(self._receipts_topic, r.story_id, r.to_json(), receipt_headers(r))
                    for r in receipts
                ]
            )
        except DeliveryError as exc:
            # The documents are written; redelivery rewrites them idempotently and receipts go out then.
            raise TransientError(str(exc)) from exc
        INDEXED.labels(self.backend.name).inc(len(result.written))
        STALE.labels(self.backend.name).inc(len(result.stale))
        for story in result.stale:
            log.info(
                "older version ignored",
                extra={"story_id": story.id, "version": story.version, "language": story.language},
            )
        log.info(
            "indexed batch",
            extra={"size": len(batch), "written": len(result.written), "stale": len(result.stale)},
        )
