"""NITF (News Industry Text Format) documents, read with defusedxml."""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element

from wirewatch_common.story import Story, Subject

from ..errors import UnsupportedFormat
from ..normalize import Draft, Limits, finish
from .text import apply_conventions
from .xmlsafe import attr, child, children, descendants, local, paragraphs_of, parse_date, parse_xml, text_of


def _urgency(docdata: Element | None) -> int | None:
    value = attr(child(docdata, "urgency"), "ed-urg")
    return int(value) if value and value.strip().isdigit() else None


def nitf_draft(root: Element) -> Draft:
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
    draft.byline = " ".join(text_of(b).strip() for b in children(body_head, "byline")) or None
    dateline = child(body_head, "dateline")
    draft.dateline = text_of(child(dateline, "location")) or None
    draft.places = [text_of(loc).strip() for loc in descendants(dateline, "location") if text_of(loc).strip()]
    abstract = child(body_head, "abstract")
    draft.summary = "\n".join(paragraphs_of(abstract)) or None
    draft.provider = text_of(child(body_head, "distributor")) or attr(
        child(docdata, "doc.copyright"), "holder"
    )
    draft.copyrightnotice = attr(child(docdata, "doc.copyright"), "holder")
    draft.urgency = _urgency(docdata)
    draft.versioncreated = parse_date(attr(child(docdata, "date.issue"), "norm"))
    draft.firstcreated = parse_date(attr(child(docdata, "date.release"), "norm"))
    if draft.firstcreated and draft.versioncreated and draft.firstcreated > draft.versioncreated:
        draft.firstcreated = None
    draft.keywords = [k for k in (attr(kw, "key") for kw in descendants(docdata, "keyword")) if k]
    draft.subjects = [
        Subject(name=name[:500], code=attr(tobject, "tobject.subject.refnum"), scheme="iptc-subjectcode")
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
    return [finish(nitf_draft(root), received=received, limits=limits)]
