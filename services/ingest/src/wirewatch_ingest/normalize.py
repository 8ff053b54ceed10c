"""Turn what a parser read (a `Draft`) into a contract `Story`: clean text, stable id, version, language.

Pure functions only: no I/O beyond loading the language model shipped in the py3langid wheel.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from pydantic import ValidationError

from wirewatch_common.story import (
    Story,
    Subject,
    normalize_language,
    primary_language,
)

from .errors import InvalidStory, LimitExceeded
from .language import detect_language


@dataclass(frozen=True)
class Limits:
    """Size limits; a story over any of them is refused with the field named, never truncated."""

    max_document_bytes: int = 5_000_000
    max_headline_chars: int = 2000
    max_summary_chars: int = 10_000
    max_paragraphs: int = 5000
    max_paragraph_chars: int = 100_000
    max_body_chars: int = 1_000_000
    max_stories: int = 1000


@dataclass
class Draft:
    """Fields as a parser found them, before cleaning; `uri` is the source's own identifier, if any."""

    format: str
    headline: str = ""
    body: list[str] = field(default_factory=list)
    uri: str | None = None
    provider: str | None = None
    source: str | None = None
    version: int | None = None
    firstcreated: datetime | None = None
    versioncreated: datetime | None = None
    language: str | None = None
    summary: str | None = None
    byline: str | None = None
    credit: str | None = None
    dateline: str | None = None
    places: list[str] = field(default_factory=list)
    urgency: int | None = None
    subjects: list[Subject] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    copyrightnotice: str | None = None
    usageterms: str | None = None
    pubstatus: str = "usable"
    html_body: bool = False


# Control characters other than tab and newline; C1 controls included (0x80-0x9f).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n")


def clean_inline(text: str | None, *, entities: bool = True) -> str:
    """Clean one line of text: entities decoded, control characters removed, whitespace collapsed, NFC."""
    if not text:
        return ""
    if entities and "&" in text:
        text = html.unescape(text)
    if not text.isprintable():  # printable text holds no control character: skip the regex
        text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())  # str.split() splits on exactly what `\s` matches, U+00A0 included
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def text_to_paragraphs(text: str, *, entities: bool = True) -> list[str]:
    """Split plain text on blank lines; lines within a paragraph are joined by a space."""
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


class _Paragraphs(HTMLParser):
    """Collect text between block boundaries; script and style content is dropped, never kept as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._skip = 0

    def _flush(self) -> None:
        text = clean_inline("".join(self._current), entities=False)
        if text:
            self.paragraphs.append(text)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._current.append(data)

    def close(self) -> None:
        super().close()
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


def finish(draft: Draft, *, received: datetime, limits: Limits) -> Story:
    """Clean a draft and build the contract story; raise InvalidStory or LimitExceeded naming the field."""
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
    provider = clean_inline(draft.provider) or None
    if draft.uri and clean_inline(draft.uri):
        uri = clean_inline(draft.uri)
        sid = story_id("uri", uri)
    else:
        sid = story_id("text", provider or "", normalized_headline(headline), body[0] if body else "")
        uri = f"urn:wirewatch:story:{sid}"
    version = draft.version or update_number(headline) or 1
    versioncreated = _aware(draft.versioncreated) or _aware(draft.firstcreated) or received
    firstcreated = _aware(draft.firstcreated) or versioncreated
    firstcreated = min(firstcreated, versioncreated)
    declared = declared_language(draft.language)
    detected = detect_language(" ".join([headline, *body[:4]]))
    language = declared or detected or "und"
    disagreement = None
    if declared and detected and primary_language(detected) != primary_language(declared):
        disagreement = detected
    places = [{"name": p} for p in (clean_inline(p) for p in draft.places) if p]
    dateline_text = clean_inline(draft.dateline).rstrip(" -–—_:")
    byline = _BY.sub("", clean_inline(draft.byline)) or None
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
        "credit": clean_inline(draft.credit) or None,
        "dateline": {"text": dateline_text, "places": places} if dateline_text or places else None,
        "provider": {"name": provider} if provider else None,
        "source": {"name": s} if (s := clean_inline(draft.source)) else None,
        "urgency": draft.urgency if draft.urgency is not None and 1 <= draft.urgency <= 9 else None,
        "subjects": draft.subjects,
        "keywords": [k for k in (clean_inline(k) for k in draft.keywords) if k],
        "copyrightnotice": clean_inline(draft.copyrightnotice) or None,
        "usageterms": clean_inline(draft.usageterms) or None,
        "format": draft.format,
    }
    try:
        return Story.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        msg = f"{where or 'story'}: {first['msg']}"
        raise InvalidStory(msg, field=where) from exc
