"""Which story versions ingest keeps: the duplicate, stale and new-version rule, free of any storage.

The ledger gathers what it holds for a story id and asks `decide`; keeping the rule here lets it
be read and tested without a database. The content hash leaves out times and version, so an
identical re-delivery is recognised whatever its arrival time or the version its source gave it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from wirewatch_common.story import Story

_NOT_CONTENT = frozenset(("received", "version", "firstcreated", "versioncreated"))


def content_hash(story: Story) -> str:
    """Hash what a reader would see: not the times or the version (copy without a date gets its arrival time)."""
    payload = story.model_dump(mode="json", exclude=set(_NOT_CONTENT), exclude_none=True)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Outcome(StrEnum):
    """What the ledger made of one incoming story."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True)
class Version:
    """One version of a story as the rule weighs it: its number, creation time and content hash."""

    version: int
    versioncreated: datetime
    content_hash: str

    @classmethod
    def of(cls, story: Story) -> Version:
        """The facts of an incoming story."""
        return cls(story.version, story.versioncreated, content_hash(story))


@dataclass(frozen=True)
class Decision:
    """The rule's answer: the outcome, and the version number to store the story under when accepted."""

    outcome: Outcome
    version: int


def decide(incoming: Version, held: Sequence[Version]) -> Decision:
    """Decide what an incoming version of a story is, given every version already held for its id.

    - a duplicate when any held version has the same content hash (whatever its number or time);
    - stale when it was created before the newest held version (the one with the highest number);
    - otherwise accepted, numbered above every held version: its own number when that is higher
      already (a source's own versioning is kept), else the newest held number plus one.
    """
    if any(h.content_hash == incoming.content_hash for h in held):
        return Decision(Outcome.DUPLICATE, incoming.version)
    if not held:
        return Decision(Outcome.ACCEPTED, incoming.version)
    newest = max(held, key=lambda h: h.version)
    if incoming.versioncreated < newest.versioncreated:
        return Decision(Outcome.STALE, incoming.version)
    return Decision(Outcome.ACCEPTED, max(incoming.version, newest.version + 1))
