"""Shared pieces of the plain-text wire formats: strict decoding, datelines, bylines and credit trailers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..dates import MONTH_PATTERN
from ..errors import MalformedDocument
from ..normalize import Draft

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}"
_DATELINE = re.compile(
    r"^(?P<places>[^\W\d_][^()\n]{0,120}?)"
    rf"(?:,\s*(?P<date>{_MONTH}))?"
    r"\s*\((?P<agency>[^()\n]{1,60})\)"
    r"(?:\s*:\s*|\.?\s*[-–—]+\s*|\s+_+\s+)"
)
_SEPARATOR = r"(?:\s*:\s*|\.?\s*[-–—]+\s*|\s+_+\s+)"
_DAY_MONTH = (
    rf"\d{{1,2}}\.?\s*(?:de\s+)?(?i:{MONTH_PATTERN})\.?(?:,?\s*\d{{4}})?"
    rf"|(?i:{MONTH_PATTERN})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s*\d{{4}})?"
)
# A dateline that carries a date in any of the wire's languages: `PARIS, 29 nov (AFP) -`,
# `BERLIN, 29. November (dpa) -`, `ROMA, 29 NOV -`, `القاهرة 29 نوفمبر (رويترز) -`, AAP's
# `SYDNEY March 22 AAP -`. Without an agency the place and date must be split by a comma.
_DATED = re.compile(
    r"^(?P<places>[^\W\d_][^()\n\d]{0,120}?)(?P<comma>\s*[,،]\s*|\s+)"
    rf"(?P<date>{_DAY_MONTH})"
    r"\s*(?:\((?P<agency>[^()\n]{1,60})\)|(?P<bare>[A-Z]{2,6}(?:-[A-Z]{2,6})?))?" + _SEPARATOR
)
# Ritzau: `København /ritzau/: `.
_SLASHED = re.compile(r"^(?P<places>[^\W\d_][^/()\n\d]{0,80}?)\s*/(?P<agency>[^\W\d_][\w.-]{1,20})/\s*:\s*")
# ANSA puts the agency first: `(ANSA) - ROMA, 1 LUG - ` or `(ANSA) - Rome, October 11 - `.
_AGENCY_FIRST = re.compile(
    r"^\((?P<agency>[^()\n]{1,40})\)\s*[-–—]+\s*"
    r"(?P<places>[^\W\d_][^,()\n]{0,80}?)"
    r"(?:,\s*(?P<date>\d{1,2}\s+[^\W\d_]{3,9}\.?|[^\W\d_]{3,9}\.?\s+\d{1,2}))?"
    r"\s*[-–—]+\s*"
)
# AFP closes a story with the initials of the journalists and editors who handled it: `hh/ph/ts/hd`.
_INITIALS = re.compile(r"^[a-z]{1,5}(?:-[a-z]{1,5})?(?:/[a-z]{1,5}(?:-[a-z]{1,5})?)+$")
# AAP closes with the agency and the operators' initials: `AFP sn`, `AAP RTV ar`.
_SIGNOFF = re.compile(r"^[A-Z]{2,6}(?:\s+(?:[A-Z]{2,4}|[a-z]{1,4}))*\s+[a-z]{1,4}$")
# Transmission end markers (PA's `ends`, `-30-`): not story text.
_END_MARK = re.compile(r"^(?:\(?\s*ends?\s*\)?|-+\s*(?:30|0)\s*-+|#{3})$", re.IGNORECASE)
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
    """A dateline found at the start of the first paragraph; `agency` is empty when it names none."""

    text: str
    places: list[str]
    agency: str
    rest: str


def _match_dateline(lead: str) -> re.Match[str] | None:
    dated = _DATED.match(lead)
    if dated and (dated.group("agency") or dated.group("bare") or dated.group("comma").strip()):
        return dated
    return _DATELINE.match(lead) or _SLASHED.match(lead) or _AGENCY_FIRST.match(lead)


def split_dateline(paragraph: str) -> DatelineMatch | None:
    """Split a dateline off the start of a paragraph, with its places and agency.

    Forms: `PLACE/PLACE (Agency): `, `PLACE, Month Day (Agency) - `, a day and month in French,
    German, Spanish, Italian, Portuguese, Turkish or Arabic (`PARIS, 29 nov (AFP) -`,
    `ROMA, 29 NOV -`), `PLACE Month Day AGENCY - ` (AAP), `Place /agency/: ` (Ritzau) and
    `(Agency) - PLACE, Day Month - ` (ANSA).
    """
    lead = paragraph.strip()
    match = _match_dateline(lead)
    if not match:
        return None
    places_text = match.group("places").strip().rstrip(",،")
    words = re.findall(r"[^\s/,،]+", places_text)
    if len(words) > 8 or any(w[0].islower() and w not in _PLACE_PARTICLES for w in words):
        return None  # prose with a parenthesis, not a dateline
    places = [p.strip() for part in places_text.split("/") for p in re.split("[,،]", part) if p.strip()]
    if re.fullmatch(_MONTH, places_text):
        places = []  # `Jan 3 (OPTA) - `: a date where the place would be
    groups = match.groupdict()
    agency = (groups.get("agency") or groups.get("bare") or "").strip()
    text = match.group(0).strip().rstrip(" -–—_:.")
    return DatelineMatch(text=text, places=places, agency=agency, rest=lead[match.end() :])


def _lead_place(paragraph: str, places: list[str]) -> re.Match[str] | None:
    """Match `OTTAWA - ` opening a paragraph when OTTAWA is a place the metadata already names."""
    names = [re.escape(p) for p in places if p.strip()]
    if not names:
        return None
    match = re.match(rf"^\s*({'|'.join(names)})\s*[-–—]+\s+", paragraph, re.IGNORECASE)
    return match if match and match.group(1).isupper() else None


def byline_of(line: str) -> str | None:
    """Return the name in a `By NAME` line, or None."""
    match = _BYLINE.match(line.strip())
    return match.group("name").rstrip("= ").strip() if match else None


def is_credit(paragraph: str, agency: str | None = None) -> bool:
    """Tell a credit or sign-off trailer from body text.

    Trailers: `(Reporting by ...; Editing by ...)`, AFP's `hh/ph/ts` initials, AAP's `AFP sn`,
    and the agency alone in parentheses or slashes (`(BusinessDesk)`, `/ritzau/`).
    """
    text = paragraph.strip()
    if _CREDIT.match(text) or _INITIALS.match(text) or _SIGNOFF.match(text):
        return True
    bare = text.strip("()/ ")
    return bool(agency) and len(text) - len(bare) >= 2 and bare.casefold() == (agency or "").casefold()


def split_trailers(body: list[str], agency: str | None = None) -> tuple[list[str], str | None]:
    """Take end markers and credit trailers off the end of the body; return the body and the credit."""
    while body and _END_MARK.match(body[-1].strip()):
        body.pop()
    credits: list[str] = []
    while body and is_credit(body[-1], agency):
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
    agency = None
    if paragraphs and (dateline := split_dateline(paragraphs[0])):
        if not draft.dateline or prefer_printed_places:
            draft.dateline = dateline.text
        if prefer_printed_places or not draft.places:
            draft.places = dateline.places
        agency = dateline.agency or None
        draft.source = draft.source or agency
        draft.provider = draft.provider or agency
        paragraphs[0] = dateline.rest
        if not paragraphs[0]:
            paragraphs.pop(0)
    elif paragraphs and (lead := _lead_place(paragraphs[0], draft.places)):
        draft.dateline = draft.dateline or lead.group(1)
        paragraphs[0] = paragraphs[0][lead.end() :]
    body, credit = split_trailers(paragraphs, agency or draft.source)
    draft.body = body
    draft.credit = draft.credit or credit
