"""RSS 2.0, Atom and RDF feeds via feedparser: one story per entry.

Entity declarations are refused before feedparser sees the bytes (feedparser would fetch nothing,
but an entity-expanding document has no place on a wire). feedparser sanitises entry HTML
(scripts, event handlers, iframes are dropped) before we turn it into paragraphs.
"""

from __future__ import annotations

import calendar
import io
import time
from datetime import UTC, datetime
from typing import Any

import feedparser  # type: ignore[import-untyped]

from wirewatch_common.story import Story

from ..dates import from_struct_time
from ..encoding import charset_param, utf8_type, xml_as_utf8
from ..errors import MalformedDocument
from ..normalize import Draft, Limits, SubjectDraft, check_story_count, finish, html_to_paragraphs
from .xmlsafe import refuse_entities


def _when(parsed: Any) -> datetime | None:
    if isinstance(parsed, time.struct_time):
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return None


def _text(detail: Any, fallback: Any) -> str:
    value = fallback if isinstance(fallback, str) else ""
    if isinstance(detail, dict) and "html" in str(detail.get("type", "")):
        return " ".join(html_to_paragraphs(value))
    return value


def _language(entry: Any, feed: Any) -> str | None:
    for detail in [*(entry.get("content") or []), entry.get("title_detail"), entry.get("summary_detail")]:
        if isinstance(detail, dict) and detail.get("language"):
            return str(detail["language"])
    return feed.get("language") or None


def entry_draft(entry: Any, feed: Any) -> Draft:
    """Read one feed entry; the entry id (or link) is the source identifier, scoped to its feed when not a URI."""
    draft = Draft(format="feed")
    draft.headline = _text(entry.get("title_detail"), entry.get("title"))
    contents = [c for c in (entry.get("content") or []) if isinstance(c, dict) and c.get("value")]
    summary = entry.get("summary") if isinstance(entry.get("summary"), str) else None
    if contents:
        draft.body = html_to_paragraphs(str(contents[0]["value"]))
        if summary and html_to_paragraphs(summary) != draft.body:
            draft.summary = " ".join(html_to_paragraphs(summary))
    elif summary:
        draft.body = html_to_paragraphs(summary)
    identifier = entry.get("id") or entry.get("link")
    if identifier:
        scope = feed.get("id") or feed.get("link") or feed.get("title") or ""
        draft.uri = identifier if ":" in identifier else f"{scope}#{identifier}"
    draft.provider = feed.get("title") or None
    draft.byline = entry.get("author") or None
    draft.language = _language(entry, feed)
    # Raw text next to feedparser's reading: years it cannot hold (0, 10000) reach `finish` as implausible.
    draft.firstcreated = from_struct_time(
        dict.get(entry, "published_parsed"), dict.get(entry, "published")
    ) or from_struct_time(dict.get(entry, "created_parsed"), dict.get(entry, "created"))
    # dict.get: feedparser's own .get maps a missing `updated_parsed` to `published_parsed` with a
    # DeprecationWarning; the fallback is ours to make
    draft.versioncreated = (
        from_struct_time(dict.get(entry, "updated_parsed"), dict.get(entry, "updated")) or draft.firstcreated
    )
    draft.keywords = [t["term"] for t in entry.get("tags") or [] if isinstance(t, dict) and t.get("term")]
    draft.subjects = [
        SubjectDraft(name=str(t["term"]), scheme=(str(t.get("scheme") or "") or None))
        for t in entry.get("tags") or []
        if isinstance(t, dict) and t.get("term") and t.get("scheme")
    ]
    draft.copyrightnotice = feed.get("rights") or None
    return draft


def parse_feed(
    data: bytes, *, received: datetime, limits: Limits, content_type: str | None = None
) -> list[Story]:
    """Parse a feed document; entries with neither title nor text are skipped; a non-feed is MalformedDocument.

    The bytes are decoded by the rules NewsML-G2 and NITF follow (`encoding.decode_xml`), not by
    feedparser's own: it is handed UTF-8 that declares UTF-8 (`parse_document` records the repairs).
    """
    data, _repairs = xml_as_utf8(data, charset=charset_param(content_type))
    content_type = utf8_type(content_type)
    refuse_entities(data)
    headers = {"content-type": content_type} if content_type else {}
    try:
        # A stream, never the bytes themselves: feedparser tries bytes as a local file name first,
        # so a document reading `/etc/passwd` or `/dev/zero` would be read from this server's disk.
        parsed = feedparser.parse(
            io.BytesIO(data), response_headers=headers, sanitize_html=True, resolve_relative_uris=False
        )
    except Exception as exc:
        msg = f"the feed could not be parsed: {type(exc).__name__}: {exc}"
        raise MalformedDocument(msg) from exc
    if not parsed.get("version") and not parsed.entries:
        error = parsed.get("bozo_exception")
        line = error.getLineNumber() if hasattr(error, "getLineNumber") else None
        msg = f"not an RSS, Atom or RDF feed: {error or 'no feed element found'}"
        raise MalformedDocument(msg, line=line)
    check_story_count(len(parsed.entries), limits, "entries")
    drafts = [entry_draft(e, parsed.feed) for e in parsed.entries]
    drafts = [d for d in drafts if d.headline.strip() or d.body]
    return [finish(d, received=received, limits=limits) for d in drafts]
