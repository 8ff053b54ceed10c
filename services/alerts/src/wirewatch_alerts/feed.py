"""A watchlist's alerts as an Atom 1.0 feed (RFC 4287), and the conditional-GET rules feed readers use.

Pure: no HTTP. Built with xml.etree.ElementTree, which escapes every text and attribute; the
characters XML 1.0 cannot carry at all (control characters a wire story may hold) are dropped
first, so the document always parses. Each alert is one entry whose id never changes
(`urn:wirewatch:alert:<alert id>`) and whose `updated` moves with every change a reader may see,
so a feed reader shows a newer version or a withdrawal as an update of the same item.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from .alerting import AlertRow
from .watchlists import Watchlist

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
STATE_SCHEME = "urn:wirewatch:alert-state"

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Feed:
    """A rendered feed: its bytes, their strong ETag, and the newest change it shows."""

    body: bytes
    etag: str
    updated: datetime


def xml_text(value: str) -> str:
    """Drop the characters XML 1.0 cannot hold (NUL and other controls, lone surrogates)."""
    return _NOT_XML.sub("", value)


def atom_time(when: datetime) -> str:
    """RFC 3339 in UTC, as Atom dates are written."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def story_link(desk_url: str, story_id: str) -> str:
    """The desk's story view of one story (the same form as the desk's "Copy link")."""
    return f"{desk_url}/#story={urllib.parse.quote(story_id, safe='')}"


def search_link(desk_url: str, watchlist: Watchlist) -> str:
    """The desk's search for what the watchlist looks for, in the desk's own hash form."""
    params = [("q", watchlist.query)] if watchlist.query else []
    params += [("lang", v) for v in watchlist.filters.languages]
    params += [("provider", v) for v in watchlist.filters.providers]
    return f"{desk_url}/#{urllib.parse.urlencode(params)}"


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        node.text = xml_text(text)
    return node


def summary_of(row: AlertRow) -> str:
    """A sentence for feed readers: which language version matched, and whether the alert stands."""
    story = row.story
    where = f"the {story.language} version (written in {story.original_language})"
    if row.state == "withdrawn":
        return (
            f"Withdrawn: the agency killed this story (version {story.version}). It had matched in {where}."
        )
    source = f"; {story.provider}" if story.provider else ""
    return f"Matched in {where}; story version {story.version}{source}."


def _entry(feed: ET.Element, row: AlertRow, desk_url: str) -> None:
    story = row.story
    entry = _add(feed, "entry")
    _add(entry, "id", f"urn:wirewatch:alert:{row.id}")
    headline = story.headline or "(no headline)"
    if row.state == "withdrawn":
        _add(entry, "title", f"Withdrawn: {headline}", type="text")
    else:
        title = _add(entry, "title", headline, type="text")
        title.set(XML_LANG, story.language)
    _add(entry, "updated", atom_time(row.visible_at))
    _add(entry, "published", atom_time(max(row.matched_at, row.release_at)))
    _add(entry, "link", rel="alternate", type="text/html", href=story_link(desk_url, story.id))
    _add(entry, "category", scheme=STATE_SCHEME, term=row.state)
    summary = _add(entry, "summary", summary_of(row), type="text")
    summary.set(XML_LANG, "en")


def render(watchlist: Watchlist, rows: Sequence[AlertRow], *, self_url: str, desk_url: str) -> Feed:
    """The feed of a watchlist's alerts, `rows` newest first; `desk_url` without a trailing slash."""
    updated = max([watchlist.updated_at, *(r.visible_at for r in rows)])
    # The default namespace is written as a plain attribute: registering a prefix would be global.
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    feed.set(XML_LANG, "en")
    _add(feed, "id", f"urn:wirewatch:watchlist:{watchlist.id}")
    _add(feed, "title", f"wirewatch alerts: {watchlist.name}", type="text")
    looks_for = f"Stories matching “{watchlist.query}”" if watchlist.query else "Stories"
    narrowed = [
        f"{name} {', '.join(values)}"
        for name, values in (
            ("in", watchlist.filters.languages),
            ("from", watchlist.filters.providers),
            ("datelined", watchlist.filters.places),
        )
        if values
    ]
    _add(feed, "subtitle", " ".join([looks_for, *narrowed]) + ", in any language version.", type="text")
    _add(feed, "updated", atom_time(updated))
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=search_link(desk_url, watchlist))
    author = _add(feed, "author")
    _add(author, "name", "wirewatch")
    _add(feed, "generator", "wirewatch alerts")
    for row in rows:
        _entry(feed, row, desk_url)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Feed(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"', updated=updated)


def validators(feed: Feed, now: datetime) -> dict[str, str]:
    """ETag always; Last-Modified only once the second of the newest change is over.

    HTTP dates count whole seconds: a feed read in the same second as its newest change could
    change again within that second, and a reader sending that date back would be told 304.
    """
    headers = {"ETag": feed.etag}
    if int(now.timestamp()) > int(feed.updated.timestamp()):
        headers["Last-Modified"] = format_datetime(feed.updated.astimezone(UTC), usegmt=True)
    return headers


def not_modified(feed: Feed, now: datetime, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether the reader's copy is current (RFC 9110 13.1: If-None-Match wins over If-Modified-Since)."""
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or feed.etag in tags
    if if_modified_since is None or "Last-Modified" not in validators(feed, now):
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False  # an unreadable date is ignored, as the RFC asks
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return int(feed.updated.timestamp()) <= int(since.timestamp())
