"""IPTC ninjs JSON, 1.x (`headline`, `body_html`) and 2.x (`headlines`, `bodies`), plus common wrappers.

Accepted shapes: one ninjs object, a list of them, `{"item": [...]}` (BBC) and the AP Media API's
`{"data": {"item": {...}}}` / `{"data": {"items": [{"item": {...}}]}}`. Non-text items are skipped.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from wirewatch_common.story import Story

from ..dates import DateValue, read_date
from ..errors import InvalidStory, MalformedDocument
from ..normalize import (
    Draft,
    Limits,
    SubjectDraft,
    check_story_count,
    finish,
    html_to_paragraphs,
    text_to_paragraphs,
)
from .text import apply_conventions, decode_utf8

_NON_TEXT = frozenset(("picture", "graphic", "video", "audio", "composite", "component"))


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return _str(value.get("name") or value.get("value") or value.get("literal"))
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _pick(entries: Any, *, role_main: str = "main") -> dict[str, Any] | None:
    found = [e for e in _list(entries) if isinstance(e, dict) and isinstance(e.get("value"), str)]
    main = [e for e in found if str(e.get("role", role_main)).endswith(role_main)]
    chosen = main or found
    return chosen[0] if chosen else None


def _int(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        msg = f"{field} {value!r} is not a whole number"
        raise InvalidStory(msg, field=field) from None
    return number if number >= 1 else None


def _body(item: dict[str, Any]) -> list[str]:
    for key in ("body_html", "body_xhtml"):
        if isinstance(item.get(key), str) and item[key].strip():
            return html_to_paragraphs(item[key])
    if isinstance(item.get("body_text"), str) and item["body_text"].strip():
        return text_to_paragraphs(item["body_text"])
    bodies = [b for b in _list(item.get("bodies")) if isinstance(b, dict) and isinstance(b.get("value"), str)]
    bodies.sort(key=lambda b: "html" not in str(b.get("contenttype", "")))
    for body in bodies:
        ctype = str(body.get("contenttype", ""))
        paragraphs = (
            html_to_paragraphs(body["value"]) if "html" in ctype else text_to_paragraphs(body["value"])
        )
        if paragraphs:
            return paragraphs
    return []


def _summary(item: dict[str, Any]) -> str | None:
    for key in ("description_text", "headline_extended", "summary"):
        if isinstance(item.get(key), str) and item[key].strip():
            return str(item[key])
    if isinstance(item.get("description_html"), str):
        return "\n".join(html_to_paragraphs(item["description_html"]))
    described = _pick(item.get("descriptions"), role_main="summary")
    return described["value"] if described else None


def _subjects(item: dict[str, Any]) -> list[SubjectDraft]:
    return [
        SubjectDraft(
            name=name, code=_str(s.get("code")), scheme=_str(s.get("scheme")), uri=_str(s.get("uri"))
        )
        for s in _list(item.get("subjects")) + _list(item.get("subject"))
        if isinstance(s, dict) and (name := _str(s.get("name")))
    ]


def _date(value: Any) -> DateValue:
    """A date as sent; a number or an object is no date, but its text is kept for the repair."""
    if value is None or isinstance(value, bool) or value in ("", [], {}):
        return None  # `"embargoed": false` says there is none
    return read_date(value) if isinstance(value, str) else str(value)[:200]


def _byline(item: dict[str, Any]) -> str | None:
    if byline := _str(item.get("byline")) or _str(item.get("by")):
        return byline
    names = [n for a in _list(item.get("authors")) if isinstance(a, dict) and (n := _str(a.get("name")))]
    return ", ".join(names) or None


def ninjs_draft(item: dict[str, Any]) -> Draft | None:
    """Read one ninjs object (1.x or 2.x); None for a non-text item."""
    if str(item.get("type", "text")).lower() in _NON_TEXT:
        return None
    altids: dict[str, Any] = item["altids"] if isinstance(item.get("altids"), dict) else {}
    draft = Draft(format="ninjs")
    draft.uri = _str(item.get("uri")) or _str(item.get("guid")) or _str(altids.get("itemid"))
    draft.version = _int(item.get("version"), "version")
    headline = _str(item.get("headline"))
    if headline is None and (picked := _pick(item.get("headlines"))):
        headline = picked["value"]
    draft.headline = headline or ""
    draft.summary = _summary(item)
    draft.language = _str(item.get("language"))
    draft.firstcreated = _date(item.get("firstcreated"))
    draft.versioncreated = _date(item.get("versioncreated"))
    draft.embargoed = _date(item.get("embargoed"))  # ninjs 1.x and 2.x name it alike
    draft.pubstatus = _str(item.get("pubstatus")) or "usable"
    draft.urgency = _int(item.get("urgency"), "urgency")
    draft.byline = _byline(item)
    located = _str(item.get("located"))
    draft.dateline = located
    draft.places = [located] if located else []
    draft.provider = (
        _str(item.get("provider")) or _str(item.get("copyrightholder")) or _str(item.get("source"))
    )
    draft.source = _str(item.get("source"))
    draft.subjects = list(_subjects(item))
    draft.keywords = [k for k in (_str(k) for k in _list(item.get("keywords"))) if k]
    draft.copyrightnotice = _str(item.get("copyrightnotice"))
    draft.usageterms = _str(item.get("usageterms"))
    apply_conventions(draft, _body(item), prefer_printed_places=False)
    return draft


def ninjs_items(doc: Any) -> list[dict[str, Any]]:
    """Unwrap the shapes ninjs arrives in into a list of items."""
    if isinstance(doc, list):
        return [d for d in doc if isinstance(d, dict)]
    if not isinstance(doc, dict):
        msg = "a ninjs document is a JSON object or a list of objects"
        raise InvalidStory(msg, line=1)
    data = doc.get("data")
    if isinstance(data, dict):
        if isinstance(data.get("item"), dict):
            return [data["item"]]
        return [
            i["item"]
            for i in _list(data.get("items"))
            if isinstance(i, dict) and isinstance(i.get("item"), dict)
        ]
    if isinstance(doc.get("item"), list):
        return [i for i in doc["item"] if isinstance(i, dict)]
    return [doc]


def parse_ninjs(data: bytes, *, received: datetime, limits: Limits) -> list[Story]:
    """Parse ninjs JSON (strict UTF-8) into stories."""
    text = decode_utf8(data)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"JSON is not well formed: {exc.msg}"
        raise MalformedDocument(msg, line=exc.lineno) from exc
    except RecursionError as exc:
        msg = "JSON is nested too deeply"
        raise MalformedDocument(msg, line=1) from exc
    items = ninjs_items(doc)
    check_story_count(len(items), limits, "items")
    drafts = [d for d in (ninjs_draft(item) for item in items) if d is not None]
    return [finish(d, received=received, limits=limits) for d in drafts]
