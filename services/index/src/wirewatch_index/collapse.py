"""One hit per story from per-rendition results, with exact cursor paging.

Engines rank language versions; desks want stories. Given a way to fetch the top `limit`
renditions by sort value, this takes windows that grow until the page is certain: a story's
value is the best of its renditions, and a story is placed only when its value beats every
rendition left outside the window. Ties break on a stable integer story key, so paging with
`SortKey` cursors has no gaps and no repeats while the index is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .search import SortKey

T = TypeVar("T")


@dataclass(frozen=True)
class Candidate(Generic[T]):
    """A rendition the engine returned: its sort value, its story's key and an engine handle."""

    value: float
    story_key: int
    ref: T

    @property
    def key(self) -> SortKey:
        """Position in the result order."""
        return SortKey(self.value, self.story_key)


Fetch = Callable[[int], Sequence[Candidate[T]]]
"""Return the top `limit` renditions by value (any order); fewer than `limit` means all of them."""


def best_per_story(candidates: Sequence[Candidate[T]]) -> list[Candidate[T]]:
    """Keep each story's best rendition, in result order."""
    best: dict[int, Candidate[T]] = {}
    for c in candidates:
        seen = best.get(c.story_key)
        if seen is None or c.value > seen.value:
            best[c.story_key] = c
    return sorted(best.values(), key=lambda c: (-c.value, c.story_key))


def page(
    fetch: Fetch[T],
    *,
    size: int,
    after: SortKey | None = None,
    first_window: int = 64,
    max_window: int = 10_000,
) -> tuple[list[Candidate[T]], SortKey | None]:
    """Return up to `size` stories after `after` and the key to resume from (None at the end).

    Past `max_window` renditions the order is no longer proven; the page then ends the listing
    rather than risk repeats, which bounds how deep relevance paging goes.
    """
    window = max(first_window, size + 1)
    while True:
        found = fetch(window)
        exhaustive = len(found) < window
        stories = best_per_story(found)
        if after is not None:
            stories = [s for s in stories if after.before(s.key)]
        if not exhaustive:
            floor = min(c.value for c in found)
            stories = [s for s in stories if s.value > floor]
        if exhaustive or len(stories) > size:
            chosen = stories[:size]
            more = len(stories) > size
            return chosen, (chosen[-1].key if more and chosen else None)
        if window >= max_window:
            return stories[:size], None
        window = min(max_window, window * 4)
