"""Untrusted XML, read only through defusedxml: no entity expansion, no external entities, no network."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from ..encoding import xml_as_utf8
from ..errors import MalformedDocument, UnsafeDocument
from ..tables import render_rows

_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def refuse_entities(data: bytes) -> None:
    """Refuse any document that declares entities (billion laughs, external entities), before any parser sees it."""
    head = data
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = data.decode("utf-16", "replace").encode("utf-8", "replace")
    match = _ENTITY.search(head)
    if match:
        line = head.count(b"\n", 0, match.start()) + 1
        msg = "entity declarations are refused: ingest expands no entities and fetches nothing external"
        raise UnsafeDocument(msg, line=line, field="DOCTYPE")


def parse_xml(data: bytes, *, charset: str | None = None) -> Element:
    """Parse with defusedxml, mapping syntax errors (with their line) and forbidden constructs to ParseErrors.

    The bytes are decoded first as `encoding.decode_xml` decides (a byte-order mark, `charset`
    from HTTP, the declaration, checked against the bytes), so a lying declaration is not obeyed.
    """
    data, _repairs = xml_as_utf8(data, charset=charset)  # parse_document records the repairs
    refuse_entities(data)
    try:
        root: Element = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        msg = f"refused unsafe XML: {exc}"
        raise UnsafeDocument(msg, field="DOCTYPE") from exc
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        msg = f"XML is not well formed: {exc}"
        raise MalformedDocument(msg, line=line) from exc
    except (LookupError, UnicodeError, ValueError) as exc:  # unknown or lying encoding declaration
        msg = f"XML cannot be decoded: {exc}"
        raise MalformedDocument(msg, line=1, field="encoding") from exc
    return root


@lru_cache(maxsize=4096)
def local(tag: str) -> str:
    """Return an element's tag without its namespace (cached: a document repeats a few dozen tags)."""
    return tag.rsplit("}", 1)[-1]


def group(element: Element | None) -> dict[str, list[Element]]:
    """Direct children by local name, built once for an element read field by field."""
    out: dict[str, list[Element]] = {}
    if element is not None:
        for c in element:
            if isinstance(c.tag, str):
                out.setdefault(local(c.tag), []).append(c)
    return out


def children(element: Element | None, name: str) -> list[Element]:
    """Direct children with a local name."""
    if element is None:
        return []
    return [c for c in element if isinstance(c.tag, str) and local(c.tag) == name]


def child(element: Element | None, *path: str) -> Element | None:
    """First descendant along a path of local names, or None (stops at the first match of each step)."""
    current = element
    for name in path:
        if current is None:
            return None
        for candidate in current:
            if isinstance(candidate.tag, str) and local(candidate.tag) == name:
                current = candidate
                break
        else:
            return None
    return current


def descendants(element: Element | None, name: str) -> list[Element]:
    """Every descendant with a local name, in document order."""
    if element is None:
        return []
    return [e for e in element.iter() if isinstance(e.tag, str) and local(e.tag) == name]


def text_of(element: Element | None) -> str:
    """All text inside an element, as one string."""
    return "".join(element.itertext()) if element is not None else ""


def attr(element: Element | None, name: str) -> str | None:
    """An attribute by local name (xml:lang included), or None."""
    if element is None:
        return None
    for key, value in element.attrib.items():
        if key == name or local(key) == name:
            return value
    return None


_BLOCK = frozenset(("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "blockquote", "hl2", "td", "table"))
_WHOLE = frozenset(("table", "pre"))  # one paragraph each, whatever blocks they hold


def _rows(table: Element) -> list[list[str]]:
    """Rows of a table (a caption is a row of one cell); a nested table's text stays in its cell."""
    rows: list[list[str]] = []
    for node in (n for n in table if isinstance(n.tag, str)):  # comments and PIs have no str tag
        name = local(node.tag)
        if name == "tr":
            rows.append([text_of(c) for c in node if isinstance(c.tag, str) and local(c.tag) in ("td", "th")])
        elif name == "caption":
            rows.append([text_of(node)])
        elif name in ("thead", "tbody", "tfoot"):
            rows.extend(_rows(node))
    return rows


def paragraphs_of(element: Element | None) -> list[str]:
    """Paragraph texts of an XHTML or NITF body: each block element is one paragraph.

    A `<table>` is one paragraph with a line per row, cells separated by tabs; a `<pre>` keeps its
    lines. `normalize.clean_inline` keeps those lines when they read as a table.
    """
    if element is None:
        return []
    out: list[str] = []
    blocks = [e for e in element.iter() if isinstance(e.tag, str) and local(e.tag) in _BLOCK]
    if not blocks:
        text = text_of(element).strip()
        return [text] if text else []
    inside: set[int] = set()  # blocks within a table or pre: the table or pre speaks for them
    for block in blocks:
        if id(block) in inside:
            continue
        name = local(str(block.tag))
        if name in _WHOLE:
            inside.update(id(e) for e in block.iter() if e is not block)
            text = render_rows(_rows(block)) if name == "table" else text_of(block)
        elif any(isinstance(c.tag, str) and local(c.tag) in _BLOCK for c in block.iter() if c is not block):
            continue  # a container of blocks: its blocks speak for themselves
        else:
            text = text_of(block)
        if text.strip():
            out.append(text.strip())
    return out


_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})?$")


def parse_date(value: str | None) -> datetime | None:
    """Read ISO 8601, compact NITF (20171023T123000+0000) or a date alone; naive values are UTC; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    match = _COMPACT.match(value)
    if match:
        y, mo, d, h, mi, s, zone = match.groups()
        value = f"{y}-{mo}-{d}T{h}:{mi}:{s or '00'}{zone or ''}"
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
