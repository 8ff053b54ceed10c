"""What of a story version search matches: its text and the values its filters read.

Pure and shared: the index builds its documents with these functions and the alerts matcher
builds its versions with them, so a watchlist sees exactly the text (headline, body, dateline
places) and the provider and place values a search would see.
"""

from __future__ import annotations

from .story import RenditionStatus, Story

_TEXT_STATUSES = frozenset({RenditionStatus.TRANSLATED, RenditionStatus.PARTIAL})
"""Rendition statuses whose text is a translation (a partial one holds the headline and first paragraphs)."""


def providers_of(story: Story) -> tuple[str, ...]:
    """Provider and originating source names, the values the provider filter matches."""
    names = [p.name for p in (story.provider, story.source) if p is not None]
    return tuple(dict.fromkeys(names))


def places_of(story: Story) -> tuple[str, ...]:
    """Dateline place names and codes, lowercased, the values the place filter matches."""
    if story.dateline is None:
        return ()
    values = []
    for place in story.dateline.places:
        values.append(place.name.casefold())
        if place.code:
            values.append(place.code.casefold())
    return tuple(dict.fromkeys(values))


def place_text(story: Story) -> str:
    """The dateline's place names as searchable text (`place:`, and every unscoped word), one a line.

    Ingest takes the dateline off the first paragraph (`إدلب (رويترز):`), so without this field
    the place would be in no text a query reads. Names only: a country code such as `SY` stays a
    filter value, never a word a query could stumble on.
    """
    if story.dateline is None:
        return ""
    return "\n".join(dict.fromkeys(p.name for p in story.dateline.places))


def searchable_text(story: Story) -> tuple[bool, str, str]:
    """Return (searchable?, headline, body): the text queries match, empty when nothing may match.

    Only usable versions are searchable, and of renditions only those translated, fully or so
    far (`partial`): a failed or unavailable rendition carries the original's text or none, and
    must not match in its language. The body is the summary (if any) then the paragraphs, one per line.
    """
    t = story.translation
    searchable = story.pubstatus == "usable" and (t is None or t.status in _TEXT_STATUSES)
    if not searchable:
        return False, "", ""
    texts = [*story.body]
    if story.summary:
        texts.insert(0, story.summary)
    return True, story.headline, "\n".join(texts)
