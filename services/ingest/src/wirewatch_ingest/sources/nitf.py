"""NITF (News Industry Text Format) documents, read with defusedxml.

`date.release` is when the receiver may publish: later than `date.issue` (or with
`management-status="embargoed"`) it is the story's embargo; otherwise it only says when the copy
was released and stands for `firstcreated`. `date.expire` is not an embargo and is not read.
"""

from __future__ import annotations

import re
from datetime import datetime
from xml.etree.ElementTree import Element

from wirewatch_common.story import Story

from ..dates import read_date
from ..errors import UnsupportedFormat
from ..normalize import Draft, Limits, SubjectDraft, finish
from .text import apply_conventions, split_dateline
from .xmlsafe import attr, child, children, descendants, local, paragraphs_of, parse_xml, text_of


def _urgency(docdata: Element | None) -> int | None:
    value = attr(child(docdata, "urgency"), "ed-urg")
    return int(value) if value and value.strip().isdigit() else None


def _spaced_text(element: Element, *, skip: frozenset[str] = frozenset()) -> list[str]:
    """Text of an element as segments, one per element boundary, leaving out `skip` children."""
    parts = [element.text or ""]
    for item in element:
        if isinstance(item.tag, str) and local(item.tag) not in skip:
            parts.append(" ".join(_spaced_text(item, skip=skip)))
        parts.append(item.tail or "")
    return parts


def byline_text(byline: Element) -> str:
    """`By <person>X</person><byttl>Staff Writer</byttl>` reads `By X, Staff Writer`, never `XStaff Writer`."""
    parts = [byline.text or ""]
    for item in byline:
        name = local(item.tag) if isinstance(item.tag, str) else ""
        text = " ".join(" ".join(_spaced_text(item)).split()) if name else ""
        so_far = " ".join(parts).strip()
        if name == "byttl" and text and so_far and not so_far.endswith(","):
            parts.append(",")
        parts.extend((text, item.tail or ""))
    return " ".join(" ".join(parts).split()).replace(" ,", ",")


def _dateline(draft: Draft, dateline: Element | None) -> None:
    """Read `<dateline>`: structured locations (city, state, country) or printed text (`SYDNEY March 22 AAP -`)."""
    if dateline is None:
        return
    locations = descendants(dateline, "location")
    if locations:
        places: list[str] = []
        for location in locations:
            parts = [
                t for part in location if isinstance(part.tag, str) if (t := " ".join(text_of(part).split()))
            ]
            places.extend(parts or ([t] if (t := " ".join(text_of(location).split())) else []))
        draft.places = places
        draft.dateline = ", ".join(places) or None
        return
    printed = " ".join(" ".join(_spaced_text(dateline, skip=frozenset(("story.date",)))).split())
    if not printed:
        return
    found = split_dateline(printed if printed.endswith(("-", "–", "—", ":")) else f"{printed} -")
    if found is not None and not found.rest:
        draft.dateline, draft.places = found.text, found.places
        draft.source = draft.source or found.agency or None
        return
    draft.dateline = printed
    if not re.search(r"[\d()]", printed) and len(printed.split()) <= 6:
        draft.places = [p.strip() for p in printed.split(",") if p.strip()]  # a place alone: `Oslo`


def _dates(draft: Draft, docdata: Element | None, received: datetime | None) -> None:
    issued = read_date(attr(child(docdata, "date.issue"), "norm"))
    released = read_date(attr(child(docdata, "date.release"), "norm"))
    draft.versioncreated = issued
    embargo_said = (attr(docdata, "management-status") or "").strip().lower() == "embargoed"
    after = issued if isinstance(issued, datetime) else received
    if isinstance(released, datetime) and (embargo_said or (after is not None and released > after)):
        draft.embargoed = released
        return
    if embargo_said:
        draft.pubstatus = "withheld"  # embargoed with no readable release time: held, never released early
    draft.firstcreated = released


def nitf_draft(root: Element, received: datetime | None = None) -> Draft:
    """Read head (title, docdata, pubdata) and body (hedline, byline, dateline, abstract, body.content)."""
    head = child(root, "head")
    body = child(root, "body")
    body_head = child(body, "body.head")
    docdata = child(head, "docdata")
    draft = Draft(format="nitf")
    doc_id = child(docdata, "doc-id")
    id_string = attr(doc_id, "id-string")
    if id_string:
        regsrc = attr(doc_id, "regsrc")
        draft.uri = f"urn:nitf:{regsrc}:{id_string}" if regsrc else id_string
    draft.headline = text_of(child(body_head, "hedline", "hl1")) or text_of(child(head, "title"))
    bylines = (
        re.sub(r"^By\s+", "", byline_text(b), flags=re.IGNORECASE) for b in children(body_head, "byline")
    )
    draft.byline = "; ".join(b for b in bylines if b) or None
    _dateline(draft, child(body_head, "dateline"))
    abstract = child(body_head, "abstract")
    draft.summary = "\n".join(paragraphs_of(abstract)) or None
    draft.provider = text_of(child(body_head, "distributor")) or attr(
        child(docdata, "doc.copyright"), "holder"
    )
    draft.copyrightnotice = attr(child(docdata, "doc.copyright"), "holder")
    draft.urgency = _urgency(docdata)
    _dates(draft, docdata, received)
    draft.keywords = [k for k in (attr(kw, "key") for kw in descendants(docdata, "keyword")) if k]
    draft.subjects = [
        SubjectDraft(name=name, code=attr(tobject, "tobject.subject.refnum"), scheme="iptc-subjectcode")
        for tobject in descendants(head, "tobject.subject")
        if (name := attr(tobject, "tobject.subject.detail") or attr(tobject, "tobject.subject.matter"))
    ]
    draft.language = attr(root, "lang") or attr(body, "lang") or attr(child(head, "meta"), "lang")
    for meta in children(head, "meta"):
        if (attr(meta, "name") or "").lower() in ("language", "lang", "dc.language"):
            draft.language = draft.language or attr(meta, "content")
    apply_conventions(draft, paragraphs_of(child(body, "body.content")))
    return draft


def parse_nitf(data: bytes, *, received: datetime, limits: Limits) -> list[Story]:
    """Parse one NITF document into a story."""
    root = parse_xml(data)
    if local(root.tag) != "nitf":
        msg = f"root element <{local(root.tag)}> is not <nitf>"
        raise UnsupportedFormat(msg, line=1, field=local(root.tag))
    return [finish(nitf_draft(root, received), received=received, limits=limits)]
