"""What a search asks for and what it returns, independent of the engine behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from wirewatch_common.query import ParsedQuery
from wirewatch_common.story import Quality, RenditionStatus, Story

Sort = Literal["relevance", "newest"]
QualityFilter = Literal["any", "good", "low"]
"""Renditions to search: all, only those without a low-quality flag, or only the doubtful ones (review)."""
MAX_PAGE_SIZE = 100
MAX_FACET_SIZE = 50


@dataclass(frozen=True)
class SortKey:
    """Where a page ended: the story's sort value (score or time) and its tie-breaking key.

    Stories are ordered by `value` descending, then `story_key` ascending, so every story has
    one place in the order and a cursor resumes exactly after it.
    """

    value: float
    story_key: int

    def before(self, other: SortKey) -> bool:
        """Tell whether this key comes strictly before `other` in result order."""
        return (-self.value, self.story_key) < (-other.value, other.story_key)


@dataclass(frozen=True)
class SearchRequest:
    """A parsed search with its filters; the API layer builds it from query parameters."""

    query: ParsedQuery = field(default_factory=ParsedQuery)
    languages: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None
    sort: Sort = "relevance"
    size: int = 20
    after: SortKey | None = None
    facets: bool = False
    facet_size: int = 10
    quality: QualityFilter = "any"
    visible_after: datetime | None = None
    """Only language versions that became visible after this instant, by being indexed or by their
    embargo lifting (the live stream)."""
    now: datetime | None = None
    """The instant embargoes are judged at; None: the clock when the backend runs the search."""

    @property
    def plain_browse(self) -> bool:
        """Nothing to match and no language, stream or quality filter: each story shows in its own language."""
        return (
            self.query.is_empty
            and not self.languages
            and self.visible_after is None
            and self.quality == "any"
        )


class Hit(BaseModel):
    """One story in a result list: its best-matching language version."""

    model_config = ConfigDict(frozen=True)

    story_id: str
    version: int = Field(description="Version of the matching language version.")
    language: str = Field(description="Language of the rendition that matched best.")
    original_language: str | None = Field(default=None, description="Language the story was written in.")
    languages: list[str] = Field(description="Every language version this story has in the index.")
    headline: str
    headline_html: str = Field(description="The headline HTML-escaped, matching words wrapped in <mark>.")
    snippet: str = Field(description="HTML-escaped excerpt; matches wrapped in <mark>.")
    provider: str | None = None
    places: list[str] = Field(default_factory=list)
    versioncreated: AwareDatetime
    score: float | None = Field(default=None, description="Relevance score (sort=relevance only).")
    quality: Quality | None = Field(
        default=None, description="The matching rendition's quality signals (absent for an original)."
    )
    test_package: bool = Field(
        default=False,
        description="The matching rendition was made by a test package: meaningless text, not a translation.",
    )
    partial: bool = Field(
        default=False,
        description=(
            "The matching rendition is partial: its headline and first paragraphs, published while the "
            "rest is translated (the full rendition replaces it)."
        ),
    )


class Bucket(BaseModel):
    """A facet value and how many matching stories have it."""

    model_config = ConfigDict(frozen=True)

    value: str
    count: int


class Facets(BaseModel):
    """Counts of matching stories by provider, matching language and day (UTC)."""

    model_config = ConfigDict(frozen=True)

    provider: list[Bucket] = Field(default_factory=list)
    language: list[Bucket] = Field(default_factory=list)
    day: list[Bucket] = Field(default_factory=list)


@dataclass(frozen=True)
class SearchPage:
    """One page of hits, the key to resume after, and the facets when asked for."""

    hits: list[Hit]
    total: int
    next_after: SortKey | None = None
    facets: Facets | None = None


class VersionRecord(BaseModel):
    """One version of one language version, as it was indexed."""

    model_config = ConfigDict(frozen=True)

    language: str
    version: int
    versioncreated: AwareDatetime
    indexed_at: AwareDatetime
    headline: str
    status: RenditionStatus | None = None


class StoryRecord(BaseModel):
    """A story with every language version side by side, and the versions seen so far."""

    model_config = ConfigDict(frozen=True)

    story_id: str
    original_language: str | None = Field(default=None, description="Absent while only renditions arrived.")
    renditions: list[Story] = Field(description="Original first, then renditions by language.")
    versions: list[VersionRecord] = Field(description="Every indexed version, oldest first.")

    @classmethod
    def assemble(
        cls, story_id: str, current: list[Story], versions: list[VersionRecord]
    ) -> StoryRecord | None:
        """Order what a backend found for one story (original first); None when it found nothing."""
        if not current and not versions:
            return None
        current = sorted(current, key=lambda s: (s.translation is not None, s.language))
        versions = sorted(versions, key=lambda v: (v.version, v.language))
        original = next((s.language for s in current if s.translation is None), None)
        if original is None:
            original = next((s.translation.source_language for s in current if s.translation), None)
        return cls(story_id=story_id, original_language=original, renditions=current, versions=versions)


@dataclass(frozen=True)
class WriteResult:
    """What a write did with each language version it was given."""

    written: list[Story]
    stale: list[Story] = field(default_factory=list)
