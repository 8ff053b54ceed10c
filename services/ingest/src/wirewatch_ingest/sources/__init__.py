"""Wire-format parsers: each turns one document's bytes into contract stories, or raises a ParseError.

`parse_document` picks the parser from the content type, sniffing the bytes when the type is
generic (`application/octet-stream`, `application/xml`, `text/plain`, none). It decodes the bytes
first (`encoding`: a lying declaration is not obeyed, mojibake is mended) and records in each
story's `repairs` what it changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from wirewatch_common.story import Repair, Story

from ..encoding import charset_param, mend, text_as_utf8, utf8_type, xml_as_utf8
from ..errors import (
    DocumentTooLarge,
    InvalidStory,
    LimitExceeded,
    MalformedDocument,
    ParseError,
    UnsafeDocument,
    UnsupportedFormat,
)
from ..normalize import Limits
from .agency import parse_agency
from .feeds import parse_feed
from .iptc7901 import parse_iptc7901
from .newsml import parse_newsml
from .ninjs import parse_ninjs
from .nitf import parse_nitf
from .xmlsafe import refuse_entities

__all__ = [
    "FORMATS",
    "SUPPORTED_TYPES",
    "DocumentTooLarge",
    "InvalidStory",
    "LimitExceeded",
    "MalformedDocument",
    "ParseError",
    "UnsafeDocument",
    "UnsupportedFormat",
    "parse_document",
    "sniff",
]

Parser = Callable[..., list[Story]]

FORMATS: dict[str, Parser] = {
    "agency": parse_agency,
    "iptc7901": parse_iptc7901,
    "ninjs": parse_ninjs,
    "newsml": parse_newsml,
    "nitf": parse_nitf,
    "feed": parse_feed,
}

_BY_TYPE = {
    "application/json": "ninjs",
    "application/ninjs+json": "ninjs",
    "application/vnd.iptc.ninjs+json": "ninjs",
    "application/vnd.iptc.g2.newsitem+xml": "newsml",
    "application/vnd.iptc.g2.newsmessage+xml": "newsml",
    "application/vnd.iptc.g2.packageitem+xml": "newsml",
    "application/nitf+xml": "nitf",
    "application/vnd.nitf+xml": "nitf",
    "application/rss+xml": "feed",
    "application/atom+xml": "feed",
    "application/rdf+xml": "feed",
}
_GENERIC_XML = frozenset(("application/xml", "text/xml"))
_GENERIC_TEXT = frozenset(("text/plain",))
_GENERIC = frozenset(("", "application/octet-stream"))
SUPPORTED_TYPES = (*_BY_TYPE, *_GENERIC_XML, *_GENERIC_TEXT, "application/octet-stream")

_ROOTS = {
    "newsMessage": "newsml",
    "newsItem": "newsml",
    "packageItem": "newsml",
    "NewsML": "newsml",  # NewsML 1.x
    "nitf": "nitf",
    "rss": "feed",
    "feed": "feed",
    "RDF": "feed",
    "channel": "feed",
}
_FIRST_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_DPA_HEADER = re.compile(rb"^\s*[a-z]{2,4}\d{3,4}\s+\d\s+[a-z]+\s+\d+\s")


def _xml_root(data: bytes) -> str | None:
    head = data[:20_000]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = head.decode("utf-16", "replace").encode()
    position = 0
    while True:
        match = _FIRST_TAG.search(head, position)
        if match is None:
            return None
        before = head[max(0, match.start() - 4) : match.start() + 1]
        if b"<!--" in before or b"<?" in before:
            position = match.end()
            continue
        inside_comment = head.rfind(b"<!--", 0, match.start()) > head.rfind(b"-->", 0, match.start())
        if inside_comment:
            position = match.end()
            continue
        return match.group(1).decode("ascii", "replace").rsplit(":", 1)[-1]


def _sniff_xml(data: bytes) -> str:
    refuse_entities(data)
    root = _xml_root(data)
    if root is None:
        msg = "no XML root element found"
        raise MalformedDocument(msg, line=1)
    if root not in _ROOTS:
        msg = f"XML root <{root}> is not NewsML-G2, NITF, RSS, Atom or RDF"
        raise UnsupportedFormat(msg, line=1, field=root)
    return _ROOTS[root]


def _sniff_text(data: bytes) -> str:
    head = data[:512]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _sniff_xml(data)  # XML served as text/plain, as some feed servers do
    if b"\x01" in head or b"\x16" in head or _DPA_HEADER.match(head):
        return "iptc7901"
    return "agency"


def sniff(data: bytes, content_type: str | None) -> str:
    """Name the format of a document from its content type, looking at the bytes when the type is generic."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in _BY_TYPE:
        return _BY_TYPE[media]
    if media in _GENERIC_XML:
        return _sniff_xml(data)
    if media in _GENERIC_TEXT:
        return _sniff_text(data)
    if media in _GENERIC:
        start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if start in (b"{", b"["):
            return "ninjs"
        if start == b"<" or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return _sniff_xml(data)
        return _sniff_text(data)
    msg = f"unsupported content type {media!r}; send one of {', '.join(SUPPORTED_TYPES)}"
    raise UnsupportedFormat(msg, field="content-type")


_XML_FORMATS = frozenset(("newsml", "nitf", "feed"))
_MENDED_FIELDS = ("headline", "summary", "byline", "credit")


def _as_utf8(data: bytes, fmt: str, content_type: str | None) -> tuple[bytes, list[Repair]]:
    """The document re-encoded as UTF-8 as its format's rules decide, with the repairs made."""
    if fmt in _XML_FORMATS:
        return xml_as_utf8(data, charset=charset_param(content_type))
    if fmt == "ninjs":  # JSON is UTF-8 (RFC 8259 defines no charset parameter)
        return text_as_utf8(data)
    return text_as_utf8(data, charset=charset_param(content_type))


def _mended(story: Story, found: list[Repair]) -> Story:
    """Mend mojibake the bytes did not show (JSON escapes, character references), adding all repairs."""
    repairs = list(found)
    changes: dict[str, Any] = {}
    for name in _MENDED_FIELDS:
        value = getattr(story, name)
        if value and (repair := (fixed := mend(value)).repair(name)) is not None:
            changes[name] = fixed.text
            repairs.append(repair)
    body = list(story.body)
    for index, paragraph in enumerate(body):
        if (repair := (fixed := mend(paragraph)).repair(f"body[{index}]")) is not None:
            body[index] = fixed.text
            repairs.append(repair)
            changes["body"] = body
    if not repairs:
        return story
    return Story.model_validate({**story.model_dump(), **changes, "repairs": [*story.repairs, *repairs]})


def parse_document(
    data: bytes, content_type: str | None, *, received: datetime, limits: Limits
) -> tuple[str, list[Story]]:
    """Parse one document of any supported format; return its format name and its stories."""
    if len(data) > limits.max_document_bytes:
        msg = f"the document has {len(data)} bytes; the limit is {limits.max_document_bytes}"
        raise DocumentTooLarge(msg)
    if not data.strip():
        msg = "the document is empty"
        raise MalformedDocument(msg, line=1)
    fmt = sniff(data, content_type)
    data, repairs = _as_utf8(data, fmt, content_type)
    if fmt == "feed":
        stories = parse_feed(data, received=received, limits=limits, content_type=utf8_type(content_type))
    else:
        stories = FORMATS[fmt](data, received=received, limits=limits)
    return fmt, [_mended(story, repairs) for story in stories]
