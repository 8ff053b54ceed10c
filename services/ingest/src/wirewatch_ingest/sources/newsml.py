"""IPTC NewsML-G2 news items (alone or in a newsMessage), read with defusedxml.

The item's `guid` is the story identity and its `version` the story version, so every version a
provider sends of one item maps to one story id. Packages and non-text items (pictures, video)
carry no story text and are skipped.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element

from wirewatch_common.story import Story

from ..dates import read_date
from ..errors import InvalidStory, UnsupportedFormat
from ..normalize import (
    Draft,
    Limits,
    SubjectDraft,
    check_story_count,
    finish,
    html_to_paragraphs,
    text_to_paragraphs,
)
from .newsml1 import parse_newsml1
from .nitf import nitf_draft
from .text import apply_conventions
from .xmlsafe import (
    attr,
    child,
    children,
    descendants,
    group,
    local,
    paragraphs_of,
    parse_xml,
    text_of,
)

_NON_TEXT = ("picture", "graphic", "video", "audio")


def _name(element: Element | None, *, code_only: bool = False) -> str | None:
    """The concept's name, else its literal, else its qcode (`nprov:REUTERS` names REUTERS when `code_only`)."""
    if element is None:
        return None
    named = child(element, "name")
    qcode = attr(element, "qcode")
    if qcode and code_only:
        qcode = qcode.split(":", 1)[-1]
    return (text_of(named) if named is not None else None) or attr(element, "literal") or qcode


def _xhtml_body(body: Element) -> Element:
    """The body without its `<header>`: dpa puts the slugline, genre and a copy of the headline there."""
    if not any(isinstance(c.tag, str) and local(c.tag) == "header" for c in body):
        return body
    kept = Element(body.tag)
    kept.extend(c for c in body if not (isinstance(c.tag, str) and local(c.tag) == "header"))
    return kept


def _int(value: str | None, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        msg = f"{field} {value!r} is not a whole number"
        raise InvalidStory(msg, field=field) from None


def _body(content_set: Element | None) -> list[str]:
    for content in children(content_set, "inlineXML"):
        xhtml = child(content, "html", "body")
        body = _xhtml_body(xhtml) if xhtml is not None else child(content, "nitf", "body", "body.content")
        if body is None:
            body = (
                descendants(content, "body.content")[0] if descendants(content, "body.content") else content
            )
        paragraphs = paragraphs_of(body)
        if paragraphs:
            return paragraphs
    for content in children(content_set, "inlineData"):
        text = text_of(content)
        ctype = (attr(content, "contenttype") or "").lower()
        paragraphs = html_to_paragraphs(text) if "html" in ctype or "<p" in text else text_to_paragraphs(text)
        if paragraphs:
            return paragraphs
    return []


def _headline(headlines: list[Element]) -> str:
    main = [h for h in headlines if (attr(h, "role") or "hlrole:main").endswith("main")]
    chosen = main or headlines
    return text_of(chosen[0]) if chosen else ""


def _first(found: dict[str, list[Element]], name: str) -> Element | None:
    elements = found.get(name)
    return elements[0] if elements else None


def _fill_from_nitf(draft: Draft, content_set: Element | None, received: datetime | None) -> None:
    """Take what the item's own metadata lacks (headline, byline, dateline, embargo) from inline NITF."""
    inline = next((n for c in children(content_set, "inlineXML") for n in children(c, "nitf")), None)
    if inline is None:
        return
    nitf = nitf_draft(inline, received)
    draft.headline = draft.headline or nitf.headline
    draft.summary = draft.summary or nitf.summary
    draft.byline = draft.byline or nitf.byline
    if not draft.dateline and not draft.places:
        draft.dateline, draft.places = nitf.dateline, nitf.places
    draft.embargoed = draft.embargoed or nitf.embargoed
    draft.source = draft.source or nitf.source


def news_item_draft(item: Element, received: datetime | None = None) -> Draft | None:
    """Read one newsItem; None for a non-text item (picture, video, graphic)."""
    top = group(item)
    item_meta = group(_first(top, "itemMeta"))  # each block's children indexed once, then read by name
    content_meta = group(_first(top, "contentMeta"))
    item_class = attr(_first(item_meta, "itemClass"), "qcode") or ""
    if any(kind in item_class for kind in _NON_TEXT):
        return None
    draft = Draft(format="newsml", uri=attr(item, "guid"))
    draft.version = _int(attr(item, "version"), "newsItem/@version")
    draft.firstcreated = read_date(text_of(_first(item_meta, "firstCreated")))
    draft.versioncreated = read_date(text_of(_first(item_meta, "versionCreated")))
    # An empty `<embargoed/>` (which some feeds send on every item) names no moment: no embargo.
    draft.embargoed = read_date(text_of(_first(item_meta, "embargoed")))
    status = (attr(_first(item_meta, "pubStatus"), "qcode") or "usable").split(":")[-1]
    draft.pubstatus = status
    draft.provider = _name(_first(item_meta, "provider"), code_only=True)
    language = attr(_first(content_meta, "language"), "tag") or attr(item, "lang")
    draft.language = language
    draft.headline = _headline(content_meta.get("headline", [])) or text_of(_first(item_meta, "title"))
    descriptions = content_meta.get("description", [])
    summaries = [d for d in descriptions if "caption" not in (attr(d, "role") or "")]
    if summaries:
        draft.summary = "\n".join(html_to_paragraphs(text_of(summaries[0])))
    draft.byline = "; ".join(t for b in content_meta.get("by", []) if (t := text_of(b).strip())) or None
    draft.credit = text_of(_first(content_meta, "creditline")) or None
    draft.dateline = text_of(_first(content_meta, "dateline")) or None
    draft.places = [n for loc in content_meta.get("located", []) if (n := _name(loc))]
    urgency = _int(text_of(_first(content_meta, "urgency")) or None, "contentMeta/urgency")
    draft.urgency = urgency
    draft.subjects = [
        SubjectDraft(name=name, code=attr(s, "qcode"), scheme=(attr(s, "qcode") or ":").split(":")[0] or None)
        for s in content_meta.get("subject", [])
        if (name := _name(s))
    ]
    draft.keywords = [text_of(k) for k in content_meta.get("keyword", [])]
    sources = [n for s in content_meta.get("infoSource", []) if (n := _name(s))]
    draft.source = sources[0] if sources else None
    rights = _first(top, "rightsInfo")
    draft.copyrightnotice = text_of(child(rights, "copyrightNotice")) or None
    draft.usageterms = text_of(child(rights, "usageTerms")) or None
    apply_conventions(draft, _body(_first(top, "contentSet")))
    _fill_from_nitf(draft, _first(top, "contentSet"), received)
    return draft


def parse_newsml(data: bytes, *, received: datetime, limits: Limits) -> list[Story]:
    """Parse a newsMessage or a single newsItem into stories, one per text item."""
    root = parse_xml(data)
    name = local(root.tag)
    if name == "newsItem":
        items = [root]
    elif name == "newsMessage":
        items = [i for s in children(root, "itemSet") for i in s if local(i.tag) == "newsItem"]
    elif name == "packageItem":
        items = []
    elif name == "NewsML":
        return parse_newsml1(root, received=received, limits=limits)
    else:
        msg = f"root element <{name}> is not a NewsML-G2 newsMessage, newsItem, packageItem or NewsML 1.x"
        raise UnsupportedFormat(msg, line=1, field=name)
    check_story_count(len(items), limits, "items")
    drafts = [d for d in (news_item_draft(item, received) for item in items) if d is not None]
    if len(drafts) > 1:  # in a message, an item with no text (a composite's shell) is skipped, not an error
        drafts = [d for d in drafts if d.headline.strip() or d.body or d.summary]
    return [finish(d, received=received, limits=limits) for d in drafts]
