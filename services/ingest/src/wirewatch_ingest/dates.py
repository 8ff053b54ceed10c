"""Read the dates wire formats carry, keeping the source's text when it is not a date Python can hold.

A parser hands `finish` either an aware datetime or, when it could not read one, the raw text:
`finish` then treats the value as missing and keeps the text in the story's repairs, so an
unreadable or out-of-range date (year 0, year 10000) never fails the whole document.
Pure functions: no I/O.
"""

from __future__ import annotations

import re
import time
import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

DateValue = datetime | str | None
"""What a parser found for a date: a datetime, the unreadable source text, or nothing."""

_BASIC = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE
)
_LONG_YEAR = re.compile(r"^[+-]?\d{5,}")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # a source without a zone is UTC


def _iso(text: str) -> datetime | None:
    match = _BASIC.match(text)
    if match:  # ISO 8601 basic format, as NITF and NewsML 1 write it: 20171023T123000+0000
        y, mo, d, h, mi, s, zone = match.groups()
        text = f"{y}-{mo}-{d}T{h or '00'}:{mi or '00'}:{s or '00'}{zone or ''}"
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def _rfc2822(text: str) -> datetime | None:
    try:
        return _aware(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def read_date(value: str | None) -> DateValue:
    """Read ISO 8601 (extended or basic) or RFC 2822; the trimmed text itself when unreadable; None when empty."""
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    return _iso(text) or _rfc2822(text) or text


def from_struct_time(parsed: Any, raw: Any) -> DateValue:
    """Turn a date feedparser read (a UTC struct_time) into a datetime, or keep the raw text it came from.

    feedparser misreads some out-of-range dates (`10000-01-01` comes back as a date in 2010) and
    returns years Python cannot hold (year 0): the raw text is trusted over its reading then.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if text:
        mine = read_date(text)
        if isinstance(mine, datetime) or _LONG_YEAR.match(text):
            return mine
    if isinstance(parsed, time.struct_time):
        try:
            return datetime(*parsed[:6], tzinfo=UTC)
        except (ValueError, OverflowError):
            pass
    return text or None


def _month_names() -> dict[str, int]:
    """Month names and common abbreviations in the languages of the wire, casefolded, to month numbers."""
    by_language = {
        "en": "january jan|february feb|march mar|april apr|may|june jun|july jul|august aug"
        "|september sep sept|october oct|november nov|december dec",
        "fr": "janvier janv|février fevrier févr fevr fév|mars|avril avr|mai|juin|juillet juil"
        "|août aout|septembre|octobre|novembre|décembre decembre déc",
        "de": "januar jänner jän|februar|märz maerz mär|april|mai|juni|juli|august|september"
        "|oktober okt|november|dezember dez",
        "es": "enero ene|febrero|marzo|abril abr|mayo|junio|julio|agosto ago|septiembre setiembre set"
        "|octubre|noviembre|diciembre dic",
        "it": "gennaio gen|febbraio|marzo|aprile|maggio mag|giugno giu|luglio lug|agosto|settembre"
        "|ottobre ott|novembre|dicembre",
        "pt": "janeiro|fevereiro fev|março marco|abril|maio|junho|julho|agosto|setembro|outubro out"
        "|novembro|dezembro dez",
        "tr": "ocak|şubat subat|mart|nisan|mayıs mayis|haziran|temmuz|ağustos agustos|eylül eylul"
        "|ekim|kasım kasim|aralık aralik",
        "ar": "يناير جانفي كانون_الثاني|فبراير فيفري شباط|مارس آذار اذار|أبريل ابريل إبريل أفريل افريل نيسان"
        "|مايو ماي أيار ايار|يونيو يونيه جوان حزيران|يوليو يوليه جويلية تموز|أغسطس اغسطس أوت اوت آب"
        "|سبتمبر أيلول ايلول|أكتوبر اكتوبر تشرين_الأول تشرين_الاول|نوفمبر تشرين_الثاني"
        "|ديسمبر كانون_الأول كانون_الاول",
    }
    names: dict[str, int] = {}
    for months in by_language.values():
        for number, spellings in enumerate(months.split("|"), start=1):
            for name in spellings.split():
                names[name.replace("_", " ").casefold()] = number
    return names


MONTHS = _month_names()
"""Month name (casefolded) to month number, for datelines and embargo lines in eight languages."""

MONTH_PATTERN = "(?:" + "|".join(re.escape(n) for n in sorted(MONTHS, key=len, reverse=True)) + r")(?!\w)"
"""A regex alternative matching any month name in MONTHS; compile it with re.IGNORECASE."""


def month_number(name: str) -> int | None:
    """Return the month a name stands for (`nov`, `Kasım`, `KASIM`, `نوفمبر`), or None."""
    key = unicodedata.normalize("NFC", name.strip().rstrip(".")).casefold()
    return MONTHS.get(key) or MONTHS.get(key.replace("i̇", "i"))  # `İ`.casefold() keeps a combining dot
