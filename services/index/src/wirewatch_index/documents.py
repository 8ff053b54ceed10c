"""Search documents built from stories: one per story and language, plus one history record per version.

Pure functions shared by both backends, so tantivy and Elasticsearch index the same fields; the
searchable text and filter values come from `wirewatch_common.searchable`, which the alerts matcher
shares.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from wirewatch_common.analysis import Family, family
from wirewatch_common.searchable import places_of as places_of
from wirewatch_common.searchable import providers_of as providers_of
from wirewatch_common.searchable import searchable_text
from wirewatch_common.story import RenditionStatus, Story, primary_language

from .search import VersionRecord

KIND_CURRENT = "current"
KIND_HISTORY = "history"
KIND_DELETED = "deleted"
"""A withdrawn language version, or a story's withdrawal marker: kept so a replay cannot bring it back."""
STATUS_ORIGINAL = "original"
TAG_LOW_QUALITY = "low_quality"
"""A second value of a document's `status` on renditions with a low-quality flag: the quality filter
reads it from the field both engines already index, so it needed no new field and no rebuild."""


def story_key(story_id: str) -> int:
    """A stable 63-bit integer per story: the tie-breaker of result order and the collapse key."""
    return int.from_bytes(hashlib.sha256(story_id.encode()).digest()[:8], "big") >> 1


def micros(when: datetime) -> int:
    """Microseconds since the epoch, for integer sort and range fields."""
    return int(when.timestamp() * 1_000_000)


def history_id(story: Story) -> str:
    """Id of a version record: `@` appears in no story id or language tag, so it never collides."""
    return f"{story.document_id}@v{story.version}"


def withdrawal_id(story_id: str) -> str:
    """Id of a story's withdrawal marker: `#` appears in no story id or language tag."""
    return f"{story_id}#deleted"


MAX_VERSION = 2**63 - 1
"""The largest version both engines store (a signed 64-bit integer)."""


def withdrawn_at(version: int) -> int:
    """The version a withdrawal of `version` is stored at: one above, so `version` itself stays out."""
    return min(version + 1, MAX_VERSION)


def stale(version: int, *stored: int | None) -> bool:
    """Whether `version` must not be written over what is stored: a newer version, or a withdrawal.

    A withdrawal of version V is stored as V + 1, so a replay of V or older stays out while a
    genuinely new version (V + 1 and up) is indexed again: the agency sent new copy.
    """
    return any(s is not None and s > version for s in stored)


def is_partial(story: Story) -> bool:
    """Whether a story is a `partial` rendition (headline and first paragraphs; the full one follows)."""
    return story.translation is not None and story.translation.status is RenditionStatus.PARTIAL


def over_full(story: Story, stored: int | None, stored_partial: bool) -> bool:
    """Whether writing `story` would put a partial rendition over the full one of its own version.

    A full rendition (any status but `partial`) replaces a partial of its version; a partial
    replaces an earlier partial, never the full one, which a redelivered batch may send it after.
    """
    return is_partial(story) and stored == story.version and not stored_partial


@dataclass(frozen=True)
class IndexDoc:
    """The fields of one language version as both backends index them."""

    doc_id: str
    story_id: str
    story_key: int
    version: int
    language: str
    lang: str
    family: Family
    original_language: str | None
    status: str
    low_quality: bool
    searchable: bool
    versioncreated: datetime
    indexed_at: datetime
    visible_at: datetime
    """When readers may first see this version: when indexed, or when its embargo lifts if later."""
    providers: tuple[str, ...]
    places: tuple[str, ...]
    headline: str
    body: str
    source: Story


def status_of(story: Story) -> str:
    """`original`, or the rendition's status (`translated`, `partial`, `unavailable`, `failed`)."""
    return STATUS_ORIGINAL if story.translation is None else story.translation.status.value


def low_quality(story: Story) -> bool:
    """Whether a rendition carries a flag that should make a desk read it with care."""
    t = story.translation
    return t is not None and t.quality is not None and t.quality.low


def statuses(doc: IndexDoc) -> tuple[str, ...]:
    """The `status` values a document is indexed with: its status, and the low-quality tag if flagged."""
    return (doc.status, TAG_LOW_QUALITY) if doc.low_quality else (doc.status,)


def visible_from(story: Story, indexed_at: datetime) -> datetime:
    """The moment a version becomes visible to readers: its indexing, or its embargo if that is later.

    Both backends index this instant (`indexed_ts`) and every reader's query keeps only what is
    visible now, so an embargo lifts by itself, with no rewrite, and the live stream (which asks for
    what became visible since its last look) shows the story the moment its embargo lifts.
    """
    if story.embargoed is not None and story.embargoed > indexed_at:
        return story.embargoed
    return indexed_at


def build(story: Story, indexed_at: datetime | None = None) -> IndexDoc:
    """Describe one story version in one language for indexing."""
    indexed_at = indexed_at or datetime.now(tz=UTC)
    t = story.translation
    searchable, headline, body = searchable_text(story)
    return IndexDoc(
        doc_id=story.document_id,
        story_id=story.id,
        story_key=story_key(story.id),
        version=story.version,
        language=story.language,
        lang=primary_language(story.language),
        family=family(story.language),
        original_language=story.language if t is None else t.source_language,
        status=status_of(story),
        low_quality=low_quality(story),
        searchable=searchable,
        versioncreated=story.versioncreated,
        indexed_at=indexed_at,
        visible_at=visible_from(story, indexed_at),
        providers=providers_of(story),
        places=places_of(story),
        headline=headline,
        body=body,
        source=story,
    )


def version_record(doc: IndexDoc) -> VersionRecord:
    """The history entry for an indexed language version."""
    t = doc.source.translation
    return VersionRecord(
        language=doc.language,
        version=doc.version,
        versioncreated=doc.versioncreated,
        indexed_at=doc.indexed_at,
        headline=doc.source.headline,
        status=None if t is None else t.status,
    )


def newest_per_document(stories: list[Story]) -> list[Story]:
    """Keep the highest version of each language version in a batch (the last one on a tie).

    On a tie a full rendition wins over a partial one, whatever their order.
    """
    best: dict[str, Story] = {}
    for s in stories:
        seen = best.get(s.document_id)
        if seen is None or (s.version, not is_partial(s)) >= (seen.version, not is_partial(seen)):
            best[s.document_id] = s
    return list(best.values())
