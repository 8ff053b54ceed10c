"""The port every search backend implements; the worker and the API see only this."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from wirewatch_common.story import Story

from ..model import SearchPage, SearchRequest, StoryRecord, WriteResult


class BackendUnavailable(Exception):
    """The engine cannot be reached or refused the write; retry later, commit nothing."""


class DocumentRejected(Exception):
    """The engine refused a document itself (a mapping error): retrying will not help, dead-letter it."""


class SearchBackend(Protocol):
    """Write language versions, search them one hit per story, and read a story back whole."""

    name: str

    def write(self, stories: Sequence[Story]) -> WriteResult:
        """Index stories durably before returning; an older version never replaces a newer one."""
        ...

    def delete(self, story_id: str) -> int:
        """Remove every language version of a story from search; return how many were removed."""
        ...

    def search(self, request: SearchRequest) -> SearchPage:
        """Run a search: one hit per story, filters, sort, cursor, facets."""
        ...

    def get_story(self, story_id: str) -> StoryRecord | None:
        """Return a story with all its language versions and version history, or None."""
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
