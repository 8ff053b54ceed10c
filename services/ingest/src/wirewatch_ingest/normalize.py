"""Turn what a parser read (a `Draft`) into a contract `Story`: clean text, stable id, version, language.

Pure functions only: no I/O beyond loading the language model shipped in the py3langid wheel.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from pydantic import ValidationError

from wirewatch_common.story import (
    Repair,
    RepairKind,
    Story,
    Subject,
    normalize_language,
    primary_language,
)

from .dates import DateValue, read_date
from .errors import InvalidStory, LimitExceeded
from .language import detect_language
from .tables import render_rows, table_lines


@dataclass(frozen=True)
class Limits:
    """Size and plausibility limits.

    A document or a text field (headline, summary, body) over its limit is refused with the field
    named, never truncated. Dates later than `max_future_date_s` after receipt are implausible, and
    embargoes later than `max_embargo_ahead_days`: `finish` says what it does with them.
    """

    max_document_bytes: int = 5_000_000
    max_headline_chars: int = 2000
    max_summary_chars: int = 10_000
    max_paragraphs: int = 5000
    max_paragraph_chars: int = 100_000
    max_body_chars: int = 1_000_000
    max_stories: int = 1000
    max_future_date_s: int = 86_400
    max_embargo_ahead_days: int = 366
    max_story_bytes: int = 419_430
    """A story's JSON on Kafka: 40% of a 1 MiB message, since a rendition in Arabic script can take
    up to twice the bytes of Latin text and carries the same metadata."""


@dataclass(frozen=True)
class SubjectDraft:
    """A subject as a parser found it, any length: `finish` cuts it to the contract's lengths with a repair."""

    name: str
    code: str | None = None
    scheme: str | None = None
    uri: str | None = None


@dataclass
class Draft:
    """Fields as a parser found them, before cleaning; `uri` is the source's own identifier, if any.

    Dates are datetimes, or the source's text when the parser could not read it (`finish` keeps
    that text in a repair). `repairs` holds changes a parser already made (an encoding repaired).
    """

    format: str
    headline: str = ""
    body: list[str] = field(default_factory=list)
    uri: str | None = None
    provider: str | None = None
    source: str | None = None
    version: int | None = None
    firstcreated: DateValue = None
    versioncreated: DateValue = None
    embargoed: DateValue = None
    language: str | None = None
    summary: str | None = None
    byline: str | None = None
    credit: str | None = None
    dateline: str | None = None
    places: list[str] = field(default_factory=list)
    urgency: int | None = None
    subjects: list[Subject | SubjectDraft] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    copyrightnotice: str | None = None
    usageterms: str | None = None
    pubstatus: str = "usable"
    html_body: bool = False
    repairs: list[Repair] = field(default_factory=list)


# Control characters other than tab and newline; C1 controls included (0x80-0x9f).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n")


def clean_inline(text: str | None, *, entities: bool = True) -> str:
    """Clean text: entities decoded, control characters removed, NFC, whitespace collapsed to one line.

    Lines that read as a table (`tables.table_lines`: columns set off by tabs, runs of spaces, `;`
    or `|`, or mostly figures) keep one line per row instead, each row trimmed and its columns kept:
    joined, a 100-row weather table is one "sentence" no translation model accepts.
    """
    if not text:
        return ""
    if entities and "&" in text:
        text = html.unescape(text)
    if not text.isprintable():  # printable text holds no control character or line break: skip both
        text = _CONTROL.sub(" ", text)
        if "\n" in text and (rows := table_lines(text)) is not None:
            text = "\n".join(rows)
            return text if text.isascii() else unicodedata.normalize("NFC", text)
    text = " ".join(text.split())  # str.split() splits on exactly what `\s` matches, U+00A0 included
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def text_to_paragraphs(text: str, *, entities: bool = True) -> list[str]:
    """Split plain text on blank lines; a paragraph's lines are joined by a space, a table's kept as rows."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = (clean_inline(p, entities=entities) for p in _BLANK_LINE.split(text))
    return [p for p in paragraphs if p]


_BLOCKS = frozenset(
    (
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "hr",
        "dd",
        "dt",
    )
)
_SKIP = frozenset(("script", "style", "noscript", "iframe", "object", "template", "head"))


_CELLS = frozenset(("td", "th"))


class _Paragraphs(HTMLParser):
    """Collect text between block boundaries; script and style content is dropped, never kept as text.

    Whitespace is HTML's (any run is one space) except in `<pre>`. A `<pre>` or a `<table>` is one
    paragraph: a table's rows are its lines, its cells separated by tabs, and a nested table's text
    stays in its cell; `clean_inline` keeps the lines when they read as a table.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._skip = 0
        self._pre = 0
        self._tables = 0  # depth: only the outermost table's rows and cells make lines
        self._rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def _flush(self) -> None:
        raw = "".join(self._current)
        self._current = []
        text = clean_inline(raw if self._pre else " ".join(raw.split()), entities=False)
        if text:
            self.paragraphs.append(text)

    def _end_cell(self) -> None:
        if self._cell is not None:
            self._row = [*(self._row or []), "".join(self._cell)]
            self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self._row is not None:
            self._rows.append(self._row)
            self._row = None

    def _end_table(self) -> None:
        self._end_row()
        text = clean_inline(render_rows(self._rows), entities=False)
        self._rows = []
        if text:
            self.paragraphs.append(text)

    def _table_text(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif data.strip():  # text in a table but in no cell: a row of its own, never dropped
            self._end_row()
            self._rows.append([data])

    def _table_tag(self, tag: str, *, start: bool) -> None:
        if tag == "table":
            self._tables += 1 if start else -1
            if not self._tables:
                self._end_table()
            else:
                self._table_text(" ")
        elif self._tables > 1 or tag not in ("tr", "caption", *_CELLS):
            if tag in _BLOCKS or tag in _CELLS:
                self._table_text(" ")  # a paragraph or line break inside a cell, or a nested table's cell
        elif tag == "tr" or (tag == "caption" and not start):
            self._end_row()
        elif start:  # a cell, or a caption (a row of one cell)
            if tag == "caption":
                self._end_row()
            self._end_cell()
            self._cell = []
        else:
            self._end_cell()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif self._tables or tag == "table":
            if not self._tables:
                self._flush()
            self._table_tag(tag, start=True)
        elif self._pre and tag == "br":
            self._current.append("\n")
        elif tag in _BLOCKS or tag in _CELLS:
            self._flush()
            if tag == "pre":
                self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif self._tables:
            self._table_tag(tag, start=False)
        elif tag in _BLOCKS or tag in _CELLS:
            self._flush()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._tables:
            self._table_text(data)
        else:
            self._current.append(data)

    def close(self) -> None:
        super().close()
        if self._tables:
            self._tables = 0
            self._end_table()
        self._flush()


def html_to_paragraphs(markup: str) -> list[str]:
    """Render HTML as plain paragraphs (block elements split, entities decoded, tags and scripts dropped)."""
    if "<" not in markup:
        return text_to_paragraphs(markup)
    parser = _Paragraphs()
    parser.feed(markup)
    parser.close()
    return parser.paragraphs


def story_id(*parts: str) -> str:
    """Hash identifying parts into the contract's id pattern; the same parts always give the same id."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
    return f"ww-{digest}"


_UPDATE = re.compile(
    r"^\s*(?:(?:UPDATE|UPDATED|WRITETHRU|CORRECTED|CORRECTION|REFILE|RPT|REPEAT)(?:\s*(\d+))?\s*[-:–—]\s*)+",
    re.IGNORECASE,
)
_BY = re.compile(r"^By\s+", re.IGNORECASE)
_WRITETHRU = re.compile(r"(\d+)(?:st|nd|rd|th)\s*Ld-Writethru", re.IGNORECASE)


def update_number(headline: str) -> int | None:
    """Version implied by a headline prefix: `UPDATE 2-...` is the third version; None when there is none."""
    match = _UPDATE.match(headline)
    if not match:
        return None
    numbers = [int(n) for n in re.findall(r"UPDATE\w*\s*(\d+)", match.group(0), re.IGNORECASE)]
    return max(numbers) + 1 if numbers else 2


def writethru_number(slug: str) -> int | None:
    """Version implied by an AP selector such as `1stLd-Writethru` (the second version)."""
    match = _WRITETHRU.search(slug)
    return int(match.group(1)) + 1 if match else None


def normalized_headline(headline: str) -> str:
    """Headline without update prefixes, case or punctuation, for ids of stories the source gave none."""
    text = _UPDATE.sub("", headline)
    return " ".join(re.findall(r"\w+", text.casefold()))


def declared_language(tag: str | None) -> str | None:
    """Return the declared tag in canonical case, or None when absent or not BCP 47."""
    if not tag:
        return None
    try:
        return normalize_language(tag)
    except ValueError:
        return None


def check_story_count(count: int, limits: Limits, what: str) -> None:
    """Refuse a document holding more stories than the limit, before any of them is built."""
    if count > limits.max_stories:
        msg = f"the document holds {count} {what}; the limit is {limits.max_stories} per document"
        raise LimitExceeded(msg, field=what)


def _check(name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        msg = f"{name} has {len(value)} characters; the limit is {limit}"
        raise LimitExceeded(msg, field=name)


def _check_body(body: list[str], limits: Limits) -> None:
    if len(body) > limits.max_paragraphs:
        msg = f"body has {len(body)} paragraphs; the limit is {limits.max_paragraphs}"
        raise LimitExceeded(msg, field="body")
    total = 0
    for index, paragraph in enumerate(body):
        _check(f"body[{index}]", paragraph, limits.max_paragraph_chars)
        total += len(paragraph)
    if total > limits.max_body_chars:
        msg = f"body has {total} characters; the limit is {limits.max_body_chars}"
        raise LimitExceeded(msg, field="body")


_PUBSTATUS = {"usable": "usable", "withheld": "withheld", "canceled": "canceled", "cancelled": "canceled"}


def _aware(when: datetime | None) -> datetime | None:
    if when is not None and when.tzinfo is None:
        return when.replace(tzinfo=UTC)  # a source without a zone is read as UTC
    return when


_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_MAX_REPAIRS = 50
_MAX_KEYWORD_CHARS = 500  # as a subject name: a keyword is a keyword term in Elasticsearch and tantivy


class _Mends:
    """The repairs `finish` makes to one story, each with the value as the source sent it."""

    def __init__(self, found: list[Repair]) -> None:
        self.repairs = list(found)

    def add(self, kind: RepairKind, field: str, original: str | None, detail: str) -> None:
        self.repairs.append(
            Repair(
                kind=kind, field=field, original=original[:2000] if original else None, detail=detail[:500]
            )
        )

    def cut(self, field: str, value: str | None, limit: int, *, mark: bool = True) -> str | None:
        """Cut a metadata value to `limit` characters (an ellipsis marks the cut in human text)."""
        if value is None or len(value) <= limit:
            return value
        detail = f"{len(value)} characters cut to {limit}, the most the story contract and search index take"
        self.add(RepairKind.TRUNCATED, field, value, detail)
        return value[: limit - 1].rstrip() + "\u2026" if mark else value[:limit]

    def date(
        self, field: str, value: DateValue, received: datetime, limits: Limits, stand_in: str
    ) -> datetime | None:
        """Return a plausible date, or None after recording why the source's value was set aside."""
        when = read_date(value) if isinstance(value, str) else value
        if when is None:
            return None
        if isinstance(when, str):
            self.add(
                RepairKind.IMPLAUSIBLE_DATE,
                field,
                when,
                f"not a readable date; treated as missing, {stand_in}",
            )
            return None
        when = _aware(when)
        assert when is not None
        if when < _EARLIEST:
            why = "before 1900"
        elif when > received + timedelta(seconds=limits.max_future_date_s):
            why = f"more than {limits.max_future_date_s} s after ingest received it"
        else:
            return when
        self.add(
            RepairKind.IMPLAUSIBLE_DATE, field, when.isoformat(), f"{why}; treated as missing, {stand_in}"
        )
        return None

    def embargo(self, value: DateValue, received: datetime, limits: Limits) -> datetime | None:
        """Return the embargo in UTC; one before 1900 is dropped, an unreadable or far one holds the story."""
        when = read_date(value) if isinstance(value, str) else value
        if when is None:
            return None
        days = limits.max_embargo_ahead_days
        horizon = received + timedelta(days=days)
        held = f"the story is held {days} days, the longest plausible embargo, rather than released early"
        if isinstance(when, str):
            self.add(RepairKind.IMPLAUSIBLE_DATE, "embargoed", when, f"not a readable date; {held}")
            return horizon
        when = _aware(when)
        assert when is not None
        if when < _EARLIEST:
            detail = "before 1900; dropped, as such an embargo lifted long ago"
            self.add(RepairKind.IMPLAUSIBLE_DATE, "embargoed", when.isoformat(), detail)
            return None
        if when > horizon:
            detail = f"more than {days} days after ingest received it; {held}"
            self.add(RepairKind.IMPLAUSIBLE_DATE, "embargoed", when.isoformat(), detail)
            return horizon
        return when.astimezone(UTC)

    def listed(self) -> list[Repair]:
        """The repairs, bounded so that a story with thousands of over-long keywords stays a small message."""
        if len(self.repairs) <= _MAX_REPAIRS:
            return self.repairs
        rest = self.repairs[_MAX_REPAIRS - 1 :]
        summary = Repair(
            kind=rest[0].kind, field="*", detail=f"{len(rest)} more repairs of the same story not listed"
        )
        return [*self.repairs[: _MAX_REPAIRS - 1], summary]


def _subject(mends: _Mends, index: int, subject: Subject | SubjectDraft) -> dict[str, Any] | None:
    if isinstance(subject, Subject):
        return subject.model_dump(exclude_none=True)
    name = clean_inline(subject.name)
    if not name:
        return None
    where = f"subjects[{index}]"
    out: dict[str, Any] = {"name": mends.cut(f"{where}.name", name, 500)}
    for key, limit in (("code", 200), ("scheme", 200), ("uri", 2000)):
        if value := clean_inline(getattr(subject, key)):
            out[key] = mends.cut(f"{where}.{key}", value, limit, mark=False)
    return out


def finish(draft: Draft, *, received: datetime, limits: Limits) -> Story:
    """Clean a draft and build the contract story; raise InvalidStory or LimitExceeded naming the field.

    Text over its limit is refused (LimitExceeded); metadata over the contract's lengths is cut,
    and dates that cannot be right are set aside, each with a repair in `story.repairs`.
    """
    mends = _Mends(draft.repairs)
    headline = clean_inline(draft.headline)
    body = [p for p in (clean_inline(p) for p in draft.body) if p]
    summary = clean_inline(draft.summary) or None
    _check("headline", headline, limits.max_headline_chars)
    _check("summary", summary, limits.max_summary_chars)
    _check_body(body, limits)
    if not headline and not body:
        if summary:
            body = [summary]
        else:
            msg = "the document has neither a headline nor body text"
            raise InvalidStory(msg, field="headline")
    provider = mends.cut("provider.name", clean_inline(draft.provider) or None, 500)
    if draft.uri and clean_inline(draft.uri):
        uri = clean_inline(draft.uri)
        sid = story_id("uri", uri)  # from the whole identifier, before any cut
        uri = mends.cut("uri", uri, 2000, mark=False) or uri
    else:
        sid = story_id("text", provider or "", normalized_headline(headline), body[0] if body else "")
        uri = f"urn:wirewatch:story:{sid}"
    version = draft.version or update_number(headline) or 1
    set_aside = len(mends.repairs)
    source_version = mends.date(
        "versioncreated", draft.versioncreated, received, limits, "the received time stands in"
    )
    if len(mends.repairs) > set_aside:
        source_version = received  # an impossible version time: the version is as recent as its arrival
    source_first = mends.date(
        "firstcreated", draft.firstcreated, received, limits, "versioncreated stands in"
    )
    versioncreated = source_version or source_first or received
    firstcreated = min(source_first or versioncreated, versioncreated)
    embargoed = mends.embargo(draft.embargoed, received, limits)
    declared = declared_language(draft.language) if draft.language and len(draft.language) <= 64 else None
    detected = detect_language(" ".join([headline, *body[:4]]))
    language = declared or detected or "und"
    disagreement = None
    if declared and detected and primary_language(detected) != primary_language(declared):
        disagreement = detected
    places = [
        {"name": mends.cut(f"dateline.places[{i}].name", p, 500)}
        for i, p in enumerate(p for p in (clean_inline(p) for p in draft.places) if p)
    ]
    dateline_text = mends.cut("dateline.text", clean_inline(draft.dateline).rstrip(" -–—_:"), 1000) or ""
    byline = mends.cut("byline", _BY.sub("", clean_inline(draft.byline)) or None, 1000)
    source = mends.cut("source.name", clean_inline(draft.source) or None, 500)
    keywords = [
        mends.cut(f"keywords[{i}]", k, _MAX_KEYWORD_CHARS)
        for i, k in enumerate(k for k in (clean_inline(k) for k in draft.keywords) if k)
    ]
    subjects = [s for i, subject in enumerate(draft.subjects) if (s := _subject(mends, i, subject))]
    fields: dict[str, Any] = {
        "id": sid,
        "uri": uri,
        "version": version,
        "pubstatus": _PUBSTATUS.get(draft.pubstatus.strip().lower(), "usable"),
        "firstcreated": firstcreated,
        "versioncreated": versioncreated,
        "received": received,
        "language": language,
        "language_detected": disagreement,
        "headline": headline,
        "body": body,
        "summary": summary,
        "byline": byline,
        "credit": mends.cut("credit", clean_inline(draft.credit) or None, 1000),
        "dateline": {"text": dateline_text, "places": places} if dateline_text or places else None,
        "provider": {"name": provider} if provider else None,
        "source": {"name": source} if source else None,
        "urgency": draft.urgency if draft.urgency is not None and 1 <= draft.urgency <= 9 else None,
        "subjects": subjects,
        "keywords": keywords,
        "copyrightnotice": mends.cut("copyrightnotice", clean_inline(draft.copyrightnotice) or None, 2000),
        "usageterms": mends.cut("usageterms", clean_inline(draft.usageterms) or None, 2000),
        "format": draft.format,
        "embargoed": embargoed,
        "repairs": mends.listed(),
    }
    try:
        return Story.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        msg = f"{where or 'story'}: {first['msg']}"
        raise InvalidStory(msg, field=where) from exc
