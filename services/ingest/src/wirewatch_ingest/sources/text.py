"""Shared pieces of the plain-text wire formats: strict decoding, datelines, bylines and credit trailers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import MalformedDocument
from ..normalize import Draft

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}"
_DATELINE = re.compile(
    r"^(?P<places>[^\W\d_][^()\n]{0,120}?)"
    rf"(?:,\s*(?P<date>{_MONTH}))?"
    r"\s*\((?P<agency>[^()\n]{1,60})\)"
    r"(?:\s*:\s*|\.?\s*[-–—]+\s*|\s+_+\s+)"
)
# ANSA puts the agency first: `(ANSA) - ROMA, 1 LUG - ` or `(ANSA) - Rome, October 11 - `.
_AGENCY_FIRST = re.compile(
    r"^\((?P<agency>[^()\n]{1,40})\)\s*[-–—]+\s*"
    r"(?P<places>[^\W\d_][^,()\n]{0,80}?)"
    r"(?:,\s*(?P<date>\d{1,2}\s+[^\W\d_]{3,9}\.?|[^\W\d_]{3,9}\.?\s+\d{1,2}))?"
    r"\s*[-–—]+\s*"
)
# AFP closes a story with the initials of the journalists and editors who handled it: `hh/ph/ts/hd`.
_INITIALS = re.compile(r"^[a-z]{1,5}(?:-[a-z]{1,5})?(?:/[a-z]{1,5}(?:-[a-z]{1,5})?)+$")
_CREDIT = re.compile(
    r"^\((?:[^()]|\([^()]*\))*\b(?:Reporting|Writing|Editing|Compiled|Additional reporting|Edited)\b"
    r"(?:[^()]|\([^()]*\))*\)$",
    re.IGNORECASE,
)
_PLACE_PARTICLES = frozenset(
    (
        "de",
        "del",
        "la",
        "el",
        "al",
        "of",
        "am",
        "an",
        "der",
        "di",
        "do",
        "da",
        "dos",
        "upon",
        "on",
        "sur",
        "en",
    )
)
_BYLINE = re.compile(r"^By\s+(?P<name>.+?)\s*=?$")


def decode_utf8(data: bytes) -> str:
    """Decode strictly as UTF-8 (BOM allowed); invalid bytes are an error that names their line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        msg = f"the document is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise MalformedDocument(msg, line=line) from exc


@dataclass(frozen=True)
class DatelineMatch:
    """A dateline found at the start of the first paragraph."""

    text: str
    places: list[str]
    agency: str
    rest: str


def split_dateline(paragraph: str) -> DatelineMatch | None:
    """Split `PLACE/PLACE (Agency): `, `PLACE, Month Day (Agency) - ` or `(Agency) - PLACE, Day Month - ` off."""
    match = _DATELINE.match(paragraph.strip()) or _AGENCY_FIRST.match(paragraph.strip())
    if not match:
        return None
    places_text = match.group("places").strip().rstrip(",")
    words = re.findall(r"[^\s/,]+", places_text)
    if len(words) > 8 or any(w[0].islower() and w not in _PLACE_PARTICLES for w in words):
        return None  # prose with a parenthesis, not a dateline
    places = [p.strip() for part in places_text.split("/") for p in part.split(",") if p.strip()]
    if re.fullmatch(_MONTH, places_text):
        places = []  # `Jan 3 (OPTA) - `: a date where the place would be
    text = match.group(0).strip().rstrip(" -–—_:.")
    return DatelineMatch(
        text=text, places=places, agency=match.group("agency").strip(), rest=paragraph.strip()[match.end() :]
    )


def byline_of(line: str) -> str | None:
    """Return the name in a `By NAME` line, or None."""
    match = _BYLINE.match(line.strip())
    return match.group("name").rstrip("= ").strip() if match else None


def is_credit(paragraph: str) -> bool:
    """Tell a `(Reporting by ...; Editing by ...)` or AFP `hh/ph/ts` initials trailer from body text."""
    text = paragraph.strip()
    return bool(_CREDIT.match(text) or _INITIALS.match(text))


def split_trailers(body: list[str]) -> tuple[list[str], str | None]:
    """Take credit trailers off the end of the body; return the body and the credit."""
    credits: list[str] = []
    while body and is_credit(body[-1]):
        credits.insert(0, body.pop())
    return body, " ".join(credits) or None


def apply_conventions(draft: Draft, paragraphs: list[str], *, prefer_printed_places: bool = True) -> None:
    """Move leading `By` lines to the byline, a dateline to dateline/places/source, and credit trailers to credit."""
    bylines = []
    while paragraphs and (name := byline_of(paragraphs[0])):
        bylines.append(name)
        paragraphs.pop(0)
    if bylines and not draft.byline:
        draft.byline = "; ".join(bylines)
    if paragraphs and (dateline := split_dateline(paragraphs[0])):
        if not draft.dateline or prefer_printed_places:
            draft.dateline = dateline.text
        if prefer_printed_places or not draft.places:
            draft.places = dateline.places
        draft.source = draft.source or dateline.agency
        draft.provider = draft.provider or dateline.agency
        paragraphs[0] = dateline.rest
        if not paragraphs[0]:
            paragraphs.pop(0)
    body, credit = split_trailers(paragraphs)
    draft.body = body
    draft.credit = draft.credit or credit
