"""Hostile input, as properties: any bytes, and valid documents with mutated fields, give stories or a ParseError.

Every parser and the content-sniffing entry point are fed arbitrary bytes and structured fuzz
(documents written here with every field drawn by hypothesis, then cut, flipped and spliced).
The documented outcomes are a list of contract stories or one of wirewatch_ingest.errors'
ParseError subclasses (MalformedDocument, UnsafeDocument, InvalidStory, LimitExceeded,
DocumentTooLarge, UnsupportedFormat); anything else escaping is a bug these tests find.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wirewatch_common.story import Story
from wirewatch_ingest.errors import MalformedDocument, ParseError
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.sources import FORMATS, parse_document, sniff
from wirewatch_ingest.sources.feeds import parse_feed

pytestmark = pytest.mark.unit

CODES = {
    "malformed_document",
    "unsafe_document",
    "invalid_story",
    "limit_exceeded",
    "document_too_large",
    "unsupported_format",
}
"""The codes a parser's refusal may carry (story_too_large comes later, from the pipeline)."""

RECEIVED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LIMITS = Limits(max_document_bytes=200_000)
BOUNDED = settings(
    max_examples=120,
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout; failures print their example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "",
        "application/octet-stream",
        "text/plain",
        "text/plain; charset=utf-8",
        "application/xml",
        "text/xml",
        "application/json",
        "application/nitf+xml",
        "application/vnd.iptc.g2.newsitem+xml",
        "application/rss+xml",
        "application/atom+xml",
        "image/png",
    ]
)


def outcome(parse: Callable[[], Any]) -> list[Story] | ParseError:
    """Run a parse; return its stories or the documented error, letting anything else fail the test."""
    try:
        result = parse()
    except ParseError as exc:
        error: ParseError | None = exc
    else:
        error = None
    if error is not None:
        assert error.code in CODES
        assert error.body()["error"]["message"]
        return error
    stories = result[1] if isinstance(result, tuple) else result
    assert isinstance(stories, list)
    for story in stories:
        assert isinstance(story, Story)
        assert story.headline or story.body
        Story.from_json(story.to_json())  # what would be published reads back under the contract
    return stories


# Text that stresses cleaning: controls, surrogate-free astral characters, combining marks, bidi.
NASTY_TEXT = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(
            ["\x00", "\x1b", "\u0085", "\u2028", "\u202e", "\ufeff", "e\u0301", "&amp;", "&#0;", "<"]
        ),
    ),
    max_size=60,
).map("".join)


@BOUNDED
@given(data=st.binary(max_size=3000), content_type=CONTENT_TYPES)
def test_any_bytes_through_the_sniffing_entry_point(data: bytes, content_type: str | None) -> None:
    outcome(lambda: parse_document(data, content_type, received=RECEIVED, limits=LIMITS))


@BOUNDED
@given(data=st.binary(max_size=2000), content_type=CONTENT_TYPES)
def test_sniff_names_a_format_or_raises_a_parse_error(data: bytes, content_type: str | None) -> None:
    with contextlib.suppress(ParseError):
        assert sniff(data, content_type) in FORMATS


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(BOUNDED, max_examples=60)
@given(data=st.binary(max_size=2000))
def test_any_bytes_through_each_parser(fmt: str, data: bytes) -> None:
    outcome(lambda: FORMATS[fmt](data, received=RECEIVED, limits=LIMITS))


def mutate(document: bytes, draw: st.DrawFn) -> bytes:
    """Cut, flip or splice a valid document, as a broken transfer or a hostile sender would."""
    kind = draw(st.sampled_from(["keep", "truncate", "flip", "insert", "delete"]))
    if kind == "keep" or not document:
        return document
    at = draw(st.integers(0, len(document) - 1))
    if kind == "truncate":
        return document[:at]
    if kind == "flip":
        return document[:at] + bytes([document[at] ^ draw(st.integers(1, 255))]) + document[at + 1 :]
    if kind == "insert":
        return document[:at] + draw(st.binary(min_size=1, max_size=40)) + document[at:]
    return document[:at] + document[at + draw(st.integers(1, 40)) :]


DATES = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.sampled_from(
        ["", "20171023T123000+0000", "2026-13-45", "yesterday", "9999-12-31T23:59:59Z", "0001-01-01"]
    ),
    st.text(max_size=30),
)
NUMBERS = st.one_of(st.integers(-(2**70), 2**70).map(str), st.text(max_size=8), st.just(""))


@st.composite
def nitf_documents(draw: st.DrawFn) -> bytes:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in draw(st.lists(NASTY_TEXT, max_size=5)))
    doc = (
        f"<nitf lang={quoteattr(draw(st.text(max_size=12)))}><head><title>{escape(draw(NASTY_TEXT))}</title>"
        f"<docdata><doc-id regsrc={quoteattr(draw(NASTY_TEXT))} id-string={quoteattr(draw(NASTY_TEXT))}/>"
        f"<urgency ed-urg={quoteattr(draw(NUMBERS))}/><date.issue norm={quoteattr(draw(DATES))}/>"
        f"<date.release norm={quoteattr(draw(DATES))}/></docdata>"
        f"<tobject><tobject.subject tobject.subject.refnum={quoteattr(draw(NASTY_TEXT))}"
        f" tobject.subject.matter={quoteattr(draw(NASTY_TEXT))}/></tobject></head>"
        f"<body><body.head><hedline><hl1>{escape(draw(NASTY_TEXT))}</hl1></hedline>"
        f"<byline>{escape(draw(NASTY_TEXT))}</byline>"
        f"<dateline><location>{escape(draw(NASTY_TEXT))}</location></dateline></body.head>"
        f"<body.content>{paragraphs}</body.content></body></nitf>"
    )
    return mutate(doc.encode("utf-8", "surrogatepass"), draw)


@st.composite
def newsml_documents(draw: st.DrawFn) -> bytes:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in draw(st.lists(NASTY_TEXT, max_size=5)))
    item = (
        f"<newsItem guid={quoteattr(draw(NASTY_TEXT))} version={quoteattr(draw(NUMBERS))}"
        f" xml:lang={quoteattr(draw(st.text(max_size=12)))}>"
        f"<itemMeta><itemClass qcode={quoteattr(draw(st.sampled_from(['ninat:text', 'ninat:picture', ''])))}/>"
        f"<provider literal={quoteattr(draw(NASTY_TEXT))}/>"
        f"<versionCreated>{escape(draw(DATES))}</versionCreated><firstCreated>{escape(draw(DATES))}</firstCreated>"
        f"<pubStatus qcode={quoteattr(draw(NASTY_TEXT))}/></itemMeta>"
        f"<contentMeta><urgency>{escape(draw(NUMBERS))}</urgency><headline>{escape(draw(NASTY_TEXT))}</headline>"
        f"<located qcode={quoteattr(draw(NASTY_TEXT))}><name>{escape(draw(NASTY_TEXT))}</name></located>"
        f"<subject qcode={quoteattr(draw(NASTY_TEXT))}><name>{escape(draw(NASTY_TEXT))}</name></subject>"
        f"<description role='drol:summary'>{escape(draw(NASTY_TEXT))}</description>"
        f"<language tag={quoteattr(draw(st.text(max_size=12)))}/></contentMeta>"
        f"<contentSet><inlineXML><html xmlns='http://www.w3.org/1999/xhtml'><body>{paragraphs}</body></html>"
        "</inlineXML></contentSet></newsItem>"
    )
    items = item * draw(st.integers(1, 3))
    if draw(st.booleans()):
        doc = f"<newsMessage xmlns='http://iptc.org/std/nar/2006-10-01/'><itemSet>{items}</itemSet></newsMessage>"
    else:
        doc = item.replace("<newsItem ", "<newsItem xmlns='http://iptc.org/std/nar/2006-10-01/' ", 1)
    return mutate(doc.encode("utf-8", "surrogatepass"), draw)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | NASTY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NASTY_TEXT, inner, max_size=3),
    max_leaves=8,
)
NINJS_FIELDS = [
    "uri",
    "guid",
    "version",
    "type",
    "language",
    "headline",
    "headlines",
    "body_html",
    "body_text",
    "bodies",
    "versioncreated",
    "firstcreated",
    "urgency",
    "pubstatus",
    "byline",
    "by",
    "authors",
    "located",
    "subjects",
    "subject",
    "keywords",
    "altids",
    "description_text",
    "descriptions",
    "copyrightnotice",
]


@st.composite
def ninjs_documents(draw: st.DrawFn) -> bytes:
    item: dict[str, Any] = {"uri": "urn:fuzz:1", "headline": "Fuzzed headline", "body_text": "Fuzzed body."}
    for name in draw(st.lists(st.sampled_from(NINJS_FIELDS), max_size=6)):
        item[name] = draw(JSON_VALUES)
    shape = draw(st.sampled_from(["item", "list", "bbc", "ap", "ap-items"]))
    doc: Any = {
        "item": item,
        "list": [item, item],
        "bbc": {"item": [item]},
        "ap": {"data": {"item": item}},
        "ap-items": {"data": {"items": [{"item": item}]}},
    }[shape]
    return mutate(json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass"), draw)


@st.composite
def agency_documents(draw: st.DrawFn) -> bytes:
    place = draw(st.sampled_from(["ODESA", "SAN JOSE/PARIS", "İZMİR, Nov 25", "", "x" * 200]))
    agency = draw(st.sampled_from(["Reuters", "AFP", "dpa", "", "(("]))
    lead = f"{place} ({agency}) - {draw(NASTY_TEXT)}"
    paragraphs = [lead, *draw(st.lists(NASTY_TEXT, max_size=4))]
    if draw(st.booleans()):
        paragraphs.append(f"(Reporting by {draw(NASTY_TEXT)}; Editing by {draw(NASTY_TEXT)})")
    text = draw(NASTY_TEXT) + "\n\n" + "\n\n".join(paragraphs)
    return mutate(text.encode("utf-8", "surrogatepass"), draw)


@st.composite
def iptc7901_documents(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from(["\x01eca062 4 i 211 ccccb   dpa 061\r\n", "\x16\x16\x01a0001 ", ""]))
    text = (
        f"{header}\r\n{escape(draw(NASTY_TEXT))}/\r\n\x02{draw(NASTY_TEXT)} =\r\n\r\n"
        f"   {draw(NASTY_TEXT)} (dpa) - {draw(NASTY_TEXT)}\r\n\r\n{draw(NASTY_TEXT)}\r\n\x03"
    )
    encoding = draw(st.sampled_from(["utf-8", "cp1252"]))
    return mutate(text.encode(encoding, "replace"), draw)


@st.composite
def feed_documents(draw: st.DrawFn) -> bytes:
    entries = "".join(
        f"<item><guid>{escape(draw(NASTY_TEXT))}</guid><title>{escape(draw(NASTY_TEXT))}</title>"
        f"<description>{escape(draw(NASTY_TEXT))}</description><pubDate>{escape(draw(DATES))}</pubDate>"
        f"<category domain={quoteattr(draw(NASTY_TEXT))}>{escape(draw(NASTY_TEXT))}</category></item>"
        for _ in range(draw(st.integers(0, 3)))
    )
    if draw(st.booleans()):
        doc = (
            f"<rss version='2.0'><channel><title>{escape(draw(NASTY_TEXT))}</title>{entries}</channel></rss>"
        )
    else:
        doc = (
            f"<feed xmlns='http://www.w3.org/2005/Atom' xml:lang={quoteattr(draw(st.text(max_size=12)))}>"
            f"<title>{escape(draw(NASTY_TEXT))}</title><entry><id>{escape(draw(NASTY_TEXT))}</id>"
            f"<title type='html'>{escape(draw(NASTY_TEXT))}</title><updated>{escape(draw(DATES))}</updated>"
            f"<content type='html'>{escape(draw(NASTY_TEXT))}</content></entry></feed>"
        )
    return mutate(doc.encode("utf-8", "surrogatepass"), draw)


STRUCTURED = {
    "nitf": nitf_documents(),
    "newsml": newsml_documents(),
    "ninjs": ninjs_documents(),
    "agency": agency_documents(),
    "iptc7901": iptc7901_documents(),
    "feed": feed_documents(),
}


@pytest.mark.parametrize("fmt", sorted(STRUCTURED))
@settings(BOUNDED, max_examples=80)
@given(data=st.data())
def test_valid_documents_with_mutated_fields(fmt: str, data: st.DataObject) -> None:
    document = data.draw(STRUCTURED[fmt])
    if fmt == "feed":
        outcome(lambda: parse_feed(document, received=RECEIVED, limits=LIMITS))
    else:
        outcome(lambda: FORMATS[fmt](document, received=RECEIVED, limits=LIMITS))
    outcome(lambda: parse_document(document, None, received=RECEIVED, limits=LIMITS))


@pytest.mark.parametrize(
    "document",
    [
        b"<nitf>" + b"<p>" * 5000 + b"deep" + b"</p>" * 5000 + b"</nitf>",
        b"<newsItem xmlns='http://iptc.org/std/nar/2006-10-01/'><contentSet><inlineXML>"
        + b"<div>" * 3000
        + b"x"
        + b"</div>" * 3000
        + b"</inlineXML></contentSet></newsItem>",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"headline": "' + "\ud800".encode("utf-8", "surrogatepass") + b'"}',
        b'{"headline": "\\ud800 lone surrogate", "body_text": "x"}',
        b"\xff\xfe" + "<nitf><body/></nitf>".encode("utf-16-le"),
        "<nitf><body/></nitf>".encode("utf-16-le"),  # UTF-16 without a byte-order mark
        b"<?xml version='1.0' encoding='utf-7'?><nitf/>",
        b"<?xml version='1.0' encoding='nonsense'?><nitf/>",
        b"<rss version='2.0'><channel>" + b"<item><title>t</title></item>" * 1200 + b"</channel></rss>",
    ],
    ids=[
        "deep-nitf",
        "deep-newsml",
        "deep-json",
        "utf8-surrogate",
        "json-escaped-surrogate",
        "utf16-bom",
        "utf16-no-bom",
        "utf7",
        "unknown-encoding",
        "too-many-entries",
    ],
)
def test_hostile_shapes_give_a_story_or_a_documented_error(document: bytes) -> None:
    result = outcome(lambda: parse_document(document, None, received=RECEIVED, limits=LIMITS))
    if document.startswith(b"<rss"):
        assert isinstance(result, ParseError) and result.field == "entries"


def test_a_feed_body_naming_a_server_file_is_parsed_as_text_never_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(
        b"<rss version='2.0'><channel><item><title>Server secret</title></item></channel></rss>"
    )
    body = str(secret).encode()  # feedparser alone would take these bytes for a file name and read it
    result = outcome(lambda: parse_document(body, "application/rss+xml", received=RECEIVED, limits=LIMITS))
    assert isinstance(result, MalformedDocument)
    assert "Server secret" not in result.message
