"""IPTC NewsML 1.x (AFP, ANA): NewsItem with Identification, NewsManagement and nested NewsComponents.

The item's identity is ProviderId + DateId + NewsItemId; RevisionId is its version, so every
revision of an item maps to one story id. An embargo is announced in NewsManagement as a
`StatusWillChange` to `Usable` at a `DateAndTime`; a `Status` of `Embargoed` with no such time
leaves the story withheld rather than released early.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element

from wirewatch_common.story import Story

from ..dates import DateValue, read_date
from ..errors import InvalidStory
from ..normalize import Draft, Limits, SubjectDraft, check_story_count, finish, html_to_paragraphs
from .text import apply_conventions
from .xmlsafe import attr, child, children, descendants, paragraphs_of, text_of


def _formal(element: Element | None) -> str | None:
    return attr(element, "FormalName")


def _int(value: str | None, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        number = int(value.strip())
    except ValueError:
        msg = f"{field} {value!r} is not a whole number"
        raise InvalidStory(msg, field=field) from None
    return number if number >= 1 else None


def _body(item: Element) -> list[str]:
    for content in descendants(item, "ContentItem"):
        media = (_formal(child(content, "MediaType")) or "text").lower()
        data = child(content, "DataContent")
        if media != "text" or data is None:
            continue
        # inline XML (NITF, XHTML), or escaped HTML / plain text in CDATA
        paragraphs = paragraphs_of(data) if len(data) else html_to_paragraphs(text_of(data))
        if paragraphs:
            return paragraphs
    return []


def _release(management: Element | None) -> DateValue:
    """When the status becomes `Usable`, from the first `StatusWillChange` that says so."""
    for change in children(management, "StatusWillChange"):
        if (_formal(child(change, "FutureStatus")) or "").strip().lower() == "usable":
            return read_date(text_of(child(change, "DateAndTime")))
    return None


def news_item_draft(item: Element) -> Draft:
    """Read one NewsML 1.x NewsItem."""
    ident = child(item, "Identification", "NewsIdentifier")
    management = child(item, "NewsManagement")
    lines = next(iter(descendants(item, "NewsLines")), None)
    meta = next(iter(descendants(item, "DescriptiveMetadata")), None)
    draft = Draft(format="newsml1")
    provider_id = text_of(child(ident, "ProviderId")).strip()
    item_id = text_of(child(ident, "NewsItemId")).strip()
    if provider_id and item_id:
        draft.uri = f"urn:newsml:{provider_id}:{text_of(child(ident, 'DateId')).strip()}:{item_id}"
    draft.version = _int(text_of(child(ident, "RevisionId")), "RevisionId")
    draft.firstcreated = read_date(text_of(child(management, "FirstCreated")))
    draft.versioncreated = read_date(text_of(child(management, "ThisRevisionCreated")))
    draft.pubstatus = (_formal(child(management, "Status")) or "usable").strip().lower()
    if draft.pubstatus in ("embargoed", "withheld"):
        # a scheduled change to Usable is an embargo; embargoed with no time stays withheld
        draft.embargoed = _release(management)
        draft.pubstatus = "usable" if draft.embargoed is not None else "withheld"
    draft.urgency = _int(_formal(child(management, "Urgency")), "Urgency")
    draft.headline = text_of(child(lines, "HeadLine"))
    draft.summary = text_of(child(lines, "SubHeadLine")) or None
    draft.byline = text_of(child(lines, "ByLine")) or None
    draft.credit = text_of(child(lines, "CreditLine")) or None
    draft.copyrightnotice = text_of(child(lines, "CopyrightLine")) or None
    draft.dateline = text_of(child(lines, "DateLine")) or None
    draft.keywords = [k for k in (text_of(s).strip() for s in children(lines, "SlugLine")) if k]
    draft.keywords += [
        v for p in children(meta, "Property") if _formal(p) == "Keyword" and (v := attr(p, "Value") or "")
    ]
    cities = [attr(p, "Value") for p in descendants(meta, "Property") if _formal(p) == "City"]
    draft.places = [c for c in cities if c]
    draft.language = _formal(child(meta, "Language")) or attr(item, "lang")
    draft.provider = _formal(next(iter(descendants(item, "Party")), None)) or provider_id or None
    draft.subjects = [
        SubjectDraft(name=code, code=code, scheme="iptc-subjectcode")
        for s in descendants(meta, "SubjectCode")
        for detail in s
        if (code := _formal(detail))
    ]
    apply_conventions(draft, _body(item), prefer_printed_places=False)
    return draft


def parse_newsml1(root: Element, *, received: datetime, limits: Limits) -> list[Story]:
    """Parse the NewsItems of a NewsML 1.x document (the root is already parsed by defusedxml)."""
    items = children(root, "NewsItem")
    check_story_count(len(items), limits, "items")
    return [finish(news_item_draft(item), received=received, limits=limits) for item in items]
