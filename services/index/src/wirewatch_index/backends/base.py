"""The port every search backend implements; the worker and the API see only this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from wirewatch_common.story import Story

from ..errors import BackendUnavailable as BackendUnavailable  # every backend raises it from here
from ..search import SearchPage, SearchRequest, StoryRecord, WriteResult


@dataclass(frozen=True)
class Refusal:
    """One language version an engine refused, and the engine's reason."""

    story_id: str
    language: str
    version: int
    reason: str

    @classmethod
    def of(cls, story: Story, reason: str) -> Refusal:
        """The refusal of `story` for `reason`."""
        return cls(story.id, story.language, story.version, reason)

    def __str__(self) -> str:
        return f"{self.story_id} ({self.language}, v{self.version}): {self.reason}"


class DocumentRejected(Exception):
    """The engine refused these documents themselves: retrying will not help.

    The consumer isolates the message and dead-letters it, while an outage (BackendUnavailable)
    is retried with nothing committed.
    """

    def __init__(self, backend: str, refusals: Sequence[Refusal]) -> None:
        self.backend = backend
        self.refusals = tuple(refusals)
        super().__init__(f"{backend} refused " + "; ".join(str(r) for r in self.refusals))


class SearchBackend(Protocol):
    """Write language versions, search them one hit per story, and read a story back whole."""

    name: str

    def write(self, stories: Sequence[Story]) -> WriteResult:
        """Index stories durably before returning; an older version never replaces a newer one.

        Raises DocumentRejected when the engine refuses a document itself, BackendUnavailable when
        it cannot write at all; an embargoed story is written now and shown when its embargo lifts.
        """
        ...

    def delete(self, story_id: str) -> int:
        """Remove every language version of a story from search; return how many were removed."""
        ...

    def search(self, request: SearchRequest) -> SearchPage:
        """Run a search: one hit per story, filters, sort, cursor, facets; nothing under embargo."""
        ...

    def get_story(self, story_id: str, *, embargoed: bool = False) -> StoryRecord | None:
        """Return a story with all its language versions and version history, or None.

        Versions still under embargo are left out (None when nothing else is left) unless `embargoed`.
        """
        ...

    def refresh(self) -> None:
        """Make the latest durable writes visible to this process's searches."""
        ...

    def health(self) -> bool:
        """Tell whether the engine answers."""
        ...

    def close(self) -> None:
        """Release the engine's resources."""
        ...
