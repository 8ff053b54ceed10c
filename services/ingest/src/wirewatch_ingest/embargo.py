"""Embargo notices in plain-text wire copy (`EMBARGOED UNTIL 0001 GMT MONDAY`, `EMBARGO: 2026-12-01 10:00 GMT`).

A notice is honoured only when its moment is unambiguous: a time of day with a time zone, plus a
full date, a day and month (the year nearest the received date), a weekday (the first such day
from the received date on), or nothing (the received date itself, in the notice's zone). A
notice without a zone, with `midnight`, with an ambiguous zone abbreviation (CST, IST) or whose
weekday contradicts its date is not read as an embargo: the line stays in the text for the desk.
Pure functions: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from .dates import MONTH_PATTERN, month_number

_PREFIX = r"^\s*[*(\[]*\s*(?:(?:eds?|editors?|note\s+to\s+editors|attention|attn)\s*[:.]\s*)?"
_NOTICE = re.compile(
    _PREFIX + r"(?:"
    r"(?:strictly\s+)?embargoed\s*(?:until|till|til|to|for|:|[-–—])"
    r"|(?:strictly\s+)?embargo\s*(?:until|till|:|[-–—])"
    r"|hold\s+for\s+release(?:\s+(?:until|till|at|after))?"
    r"|not\s+for\s+(?:public\s+)?(?:publication|release|broadcast|use)\s+(?:before|until|till)"
    r"|for\s+release\s+(?:at|after|not\s+before)"
    r"|sperrfrist"
    r"|(?:sous\s+)?embargo\s+jusqu['’]\s*(?:au|à|a)"
    r"|embargad[oa]\s+hasta"
    r")(?!\w)\s*[:.]?\s*",
    re.IGNORECASE,
)

_ZONES = {
    "gmt": 0, "utc": 0, "z": 0, "wet": 0, "bst": 60, "west": 60, "cet": 60, "mez": 60,
    "cest": 120, "mesz": 120, "eet": 120, "eest": 180, "msk": 180, "trt": 180, "sast": 120,
    "wat": 60, "cat": 120, "eat": 180, "est": -300, "edt": -240, "cdt": -300, "mst": -420,
    "mdt": -360, "pst": -480, "pdt": -420, "akst": -540, "akdt": -480, "hst": -600, "jst": 540,
    "kst": 540, "hkt": 480, "sgt": 480, "awst": 480, "acst": 570, "acdt": 630, "aest": 600,
    "aedt": 660, "nzst": 720, "nzdt": 780,
}  # fmt: skip
_ZONE = re.compile(
    r"(?<=\d)z(?!\w)"
    r"|(?<![\w+-])(?P<name>" + "|".join(sorted(set(_ZONES) - {"z"}, key=len, reverse=True)) + r")(?!\w)"
    r"(?:\s*(?P<sign>[+-])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?(?!\d))?"
    r"|(?<![\d:])(?P<osign>[+-])(?P<ohours>\d{2}):?(?P<ominutes>\d{2})(?!\d)",
    re.IGNORECASE,
)
# CST (China or US Central), IST (India, Ireland or Israel): in capitals only, `ist` is German for `is`
_UNCLEAR_ZONE = re.compile(r"(?<!\w)(?:CST|IST|(?i:local\s+time|heure\s+locale|ortszeit))(?!\w)")
_MIDNIGHT = re.compile(r"(?<!\w)(?:midnight|mitternacht|minuit|medianoche)(?!\w)", re.IGNORECASE)
_NOON = re.compile(r"(?<![\w:])(?:12\s*)?(?:noon|midday|mittag|midi|mediod[ií]a)(?!\w)", re.IGNORECASE)
_AMPM = r"(?P<ampm>a\.?\s?m\.?|p\.?\s?m\.?)"
_CLOCK = re.compile(
    r"(?<![\d.:/-])(?P<h>\d{1,2})\s*[:.h]\s*(?P<m>\d{2})(?::\d{2})?(?![\d.:/])\s*" + _AMPM + "?"
    r"|(?<![\d.:/-])(?P<h2>\d{1,2})\s*" + _AMPM.replace("ampm", "ampm2"),
    re.IGNORECASE,
)
# `0001 GMT`, `1800 hrs`: four digits are a time only when a zone or an hours word follows (else a year)
_MILITARY = re.compile(
    r"(?<![\d.:/-])(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)(?=\s*(?:hrs|hours|h|uhr|z|gmt|utc|[a-z]{2,4}t)(?!\w))",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})(?!\d)")
_DOTTED_DATE = re.compile(r"(?<![\d.])(?P<d>\d{1,2})\.(?P<mo>\d{1,2})\.(?P<y>\d{4})(?!\d)")
_DAY_MONTH = re.compile(
    r"(?<![\d.])(?P<d>\d{1,2})(?:st|nd|rd|th|er|\.|º)?\s*(?:of\s+|de\s+)?(?P<month>" + MONTH_PATTERN + r")\.?"
    r"(?:,?\s*(?:de\s+)?(?P<y>\d{4})(?!\d))?",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(
    r"(?<!\w)(?P<month>" + MONTH_PATTERN + r")\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?![\d:.])"
    r"(?:,?\s*(?P<y>\d{4})(?!\d))?",
    re.IGNORECASE,
)
_WEEKDAYS = {
    **dict.fromkeys(("monday", "mon", "montag", "lundi", "lunes"), 0),
    **dict.fromkeys(("tuesday", "tue", "tues", "dienstag", "mardi", "martes"), 1),
    **dict.fromkeys(("wednesday", "wed", "mittwoch", "mercredi", "miércoles", "miercoles"), 2),
    **dict.fromkeys(("thursday", "thu", "thurs", "donnerstag", "jeudi", "jueves"), 3),
    **dict.fromkeys(("friday", "fri", "freitag", "vendredi", "viernes"), 4),
    **dict.fromkeys(("saturday", "sat", "samstag", "sonnabend", "samedi", "sábado", "sabado"), 5),
    **dict.fromkeys(("sunday", "sun", "sonntag", "dimanche", "domingo"), 6),
}
_WEEKDAY = re.compile(
    r"(?<!\w)(?P<day>" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")\.?(?!\w)", re.IGNORECASE
)


@dataclass(frozen=True)
class Embargo:
    """An embargo notice as printed, and its moment when unambiguous (None otherwise)."""

    text: str
    until: datetime | None


def _zone(rest: str) -> timezone | None:
    if _UNCLEAR_ZONE.search(rest):
        return None
    # an abbreviation counts only in capitals: `est` is French for `is`, `mez` a surname
    matches = [m for m in _ZONE.finditer(rest) if not m.group("name") or m.group("name").isupper()]
    if len({m.group(0).upper().replace(" ", "") for m in matches}) != 1:
        return None  # none, or two different zones: not for a machine to choose
    match = matches[0]
    if match.group("osign"):
        offset = int(match.group("ohours")) * 60 + int(match.group("ominutes"))
        offset = -offset if match.group("osign") == "-" else offset
    else:
        offset = _ZONES[(match.group("name") or "z").lower()]
        if match.group("sign"):
            extra = int(match.group("hours")) * 60 + int(match.group("minutes") or 0)
            offset += extra if match.group("sign") == "+" else -extra
    if abs(offset) >= 24 * 60:
        return None
    return timezone(timedelta(minutes=offset))


def _clock(rest: str) -> time | None:
    if _MIDNIGHT.search(rest):
        return None  # the start or the end of the day? a human would ask
    times: set[time] = set()
    if _NOON.search(rest):
        times.add(time(12, 0))
    for match in _MILITARY.finditer(rest):
        times.add(time(int(match.group("h")), int(match.group("m"))))
    for match in _CLOCK.finditer(rest):
        hour = int(match.group("h") or match.group("h2"))
        minute = int(match.group("m") or 0)
        ampm = (match.group("ampm") or match.group("ampm2") or "").lower().replace(".", "").replace(" ", "")
        if ampm:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        if hour > 23 or minute > 59:
            return None
        times.add(time(hour, minute))
    return times.pop() if len(times) == 1 else None


def _calendar_date(rest: str, received: date) -> date | bool | None:
    """The date a notice names: a date, None when it names none, False when it names one badly."""
    found: set[tuple[int | None, int, int]] = set()
    for pattern in (_ISO_DATE, _DOTTED_DATE):
        for m in pattern.finditer(rest):
            found.add((int(m.group("y")), int(m.group("mo")), int(m.group("d"))))
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for m in pattern.finditer(rest):
            month = month_number(m.group("month"))
            if month is not None:
                found.add((int(m.group("y")) if m.group("y") else None, month, int(m.group("d"))))
    if not found:
        return None
    years = {y for y, _, _ in found if y is not None}
    days = {(mo, d) for _, mo, d in found}
    if len(days) != 1 or len(years) > 1:
        return False
    month, day = days.pop()
    try:
        if years:
            return date(years.pop(), month, day)
        candidates = [date(received.year + shift, month, day) for shift in (-1, 0, 1)]
    except ValueError:
        return False
    return min(candidates, key=lambda c: abs((c - received).days))


def read_embargo(line: str, received: datetime) -> Embargo | None:
    """Read one line or paragraph: None when it is no embargo notice, else the notice and its moment if clear."""
    match = _NOTICE.match(line)
    if match is None:
        return None
    text = line.strip()
    rest = line[match.end() :][:300]
    zone = _zone(rest)
    clock = _clock(rest)
    if zone is None or clock is None:
        return Embargo(text, None)
    local_received = received.astimezone(zone).date()
    day = _calendar_date(rest, local_received)
    if day is False:
        return Embargo(text, None)
    weekdays = {
        _WEEKDAYS[m.group("day").lower()]
        for m in _WEEKDAY.finditer(rest)
        if len(m.group("day")) > 4 or m.group("day")[0].isupper()  # `mon` is French for `my`
    }
    if len(weekdays) > 1:
        return Embargo(text, None)
    if isinstance(day, date):
        if weekdays and day.weekday() not in weekdays:
            return Embargo(text, None)  # `Tuesday, June 3` in a year when June 3 is a Monday
    elif weekdays:
        wanted = weekdays.pop()
        day = local_received + timedelta(days=(wanted - local_received.weekday()) % 7)
    else:
        day = local_received
    try:
        return Embargo(text, datetime.combine(day, clock, tzinfo=zone).astimezone(UTC))
    except OverflowError:
        return Embargo(text, None)


def take_embargo(paragraphs: list[str], received: datetime, *, first: int = 3) -> datetime | None:
    """Find an embargo among the first paragraphs; remove its notice when honoured; return its moment.

    Only notices whose moment is clear are taken out of the text (the story's `embargoed` field
    says it from then on); an unclear one stays in place so the desk can read it.
    """
    for index, paragraph in enumerate(paragraphs[:first]):
        notice = read_embargo(paragraph, received)
        if notice is not None and notice.until is not None:
            del paragraphs[index]
            return notice.until
    return None
