"""IPTC 7901 and ANPA 1312 wire copy: control-character framing, header and selector lines, then text.

SOH opens the header, STX the text and ETX ends it. dpa sends 7901 (`eca062 4 i 211 ... dpa 061`,
a keyword line ending in `/`, a headline ending in ` =`); AP sends ANPA (`^`-prefixed header lines
ending in `<`, tab-indented body, `AP-WF-MM-DD-YY HHMMGMT` after ETX). Both are legacy 8-bit wires:
bytes that are not UTF-8 are read as Windows-1252. An embargo notice among the header lines or the
first paragraphs (`Eds: Embargoed until 12:01 a.m. EDT Tuesday, Dec. 1`) is the story's embargo
when its moment is clear.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from wirewatch_common.story import Story

from ..embargo import read_embargo, take_embargo
from ..errors import InvalidStory
from ..normalize import Draft, Limits, finish, text_to_paragraphs, writethru_number
from .text import apply_conventions, byline_of

SOH, STX, ETX, EOT, SYN = "\x01", "\x02", "\x03", "\x04", "\x16"
_DPA_HEADER = re.compile(
    r"^\s*[a-z]{2,4}\d{3,4}\s+(?P<priority>\d)\s+(?P<category>[a-z]+)\s+\d+\s+.*?(?P<source>\S+)\s+\d+\s*$"
)
_ANPA_SELECTOR = re.compile(
    r"^(?P<priority>[a-z])\s(?P<category>[a-z])\W*\s*(?P<slug>\S.*?)\s+(?P<date>\d\d-\d\d)\s+\d+\s*$"
)
_ANPA_TIME = re.compile(r"AP-WF-(\d\d)-(\d\d)-(\d\d)\s+(\d\d)(\d\d)GMT")
_DPA_TRAILER = re.compile(r"^(?:dpa(?:-\w+)?\s+[a-z]{2,4}(?:\s+[a-z]{2,4})*|\d{6}\s+GMT\s+\w{3}\s+\d{1,2})$")
_ANPA_PRIORITY = {"f": 1, "b": 2, "u": 3, "r": 4, "d": 5, "a": 6, "s": 6}


def decode_wire(data: bytes) -> str:
    """Decode UTF-8, or Windows-1252 for a legacy 8-bit wire."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def is_anpa(text: str) -> bool:
    """ANPA copy starts with SYN SYN SOH or carries `^`-prefixed header lines ending in `<`."""
    return text.lstrip().startswith(SYN) or bool(re.search(r"^\^.*<\s*$", text[:2000], re.MULTILINE))


def _controls_to_lines(text: str) -> str:
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text.replace("\r\n", "\n").replace("\r", "\n"))


def _anpa_quotes(text: str) -> str:
    return text.replace("``", "\u201c").replace("''", "\u201d")


def _notices(lines: list[str], received: datetime | None) -> tuple[list[str], datetime | None]:
    """Take header lines that are embargo notices with a clear moment out; return the rest and the moment."""
    if received is None:
        return lines, None
    kept: list[str] = []
    until: datetime | None = None
    for line in lines:
        notice = read_embargo(line, received)
        if notice is not None and notice.until is not None and until is None:
            until = notice.until
        else:
            kept.append(line)
    return kept, until


def dpa_draft(text: str, received: datetime | None = None) -> Draft:
    """Read dpa-style IPTC 7901: header line, keywords, headline ` =`, optional byline, body, notebook."""
    body_text = text.split(ETX, 1)[0]
    lines = _controls_to_lines(body_text).split("\n")
    draft = Draft(format="iptc7901")
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index < len(lines) and (header := _DPA_HEADER.match(lines[index])):
        draft.urgency = int(header.group("priority")) or None
        draft.provider = header.group("source")
        index += 1
    head: list[str] = []
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line and not head:
            continue
        if not line:
            break
        head.append(line)
    head, draft.embargoed = _notices(head, received)
    headline_at = next((i for i, line in enumerate(head) if line.endswith("=")), None)
    if headline_at is None:
        headline_at = len(head) - 1
    elif headline_at > 0 and byline_of(head[headline_at]):
        headline_at -= 1  # `By NAME =` follows a headline that has no ` =` of its own
    if headline_at < 0:
        msg = "no headline line (a line ending in ' =') before the body"
        raise InvalidStory(msg, line=index, field="headline")
    draft.headline = head[headline_at].rstrip("= ").strip()
    draft.keywords = [
        k for line in head[:headline_at] if line.endswith("/") for k in line.split("/") if k.strip()
    ]
    bylines = [name for line in head[headline_at + 1 :] if (name := byline_of(line))]
    draft.byline = "; ".join(bylines) or None
    rest: list[str] = []
    for line in lines[index:]:
        if line.lstrip().startswith("#") and "notebook" in line.lower():
            break  # the editors' notebook follows: links and notes for the desk, not story text
        rest.append(line)
    paragraphs = [p for p in text_to_paragraphs("\n".join(rest), entities=False) if not _DPA_TRAILER.match(p)]
    if received is not None and draft.embargoed is None:
        draft.embargoed = take_embargo(paragraphs, received)
    _apply_dateline(draft, paragraphs)
    return draft


def anpa_draft(text: str, received: datetime | None = None) -> Draft:
    """Read ANPA 1312: selector line (priority, category, slug), `^` header lines, tab-indented body."""
    header_part, _, text_part = text.partition(STX)
    if not text_part:
        header_part, text_part = "", text
    draft = Draft(format="anpa")
    for line in _controls_to_lines(header_part).split("\n"):
        if selector := _ANPA_SELECTOR.match(line.strip()):
            draft.urgency = _ANPA_PRIORITY.get(selector.group("priority"))
            draft.keywords = [selector.group("slug")]
            draft.version = writethru_number(selector.group("slug"))
    body_part, _, after = text_part.partition(ETX)
    if when := _ANPA_TIME.search(after or body_part):
        mo, d, y, h, mi = (int(g) for g in when.groups())
        draft.versioncreated = datetime(2000 + y, mo, d, h, mi, tzinfo=UTC)
        body_part = body_part[: when.start()] if not after else body_part
    lines = _controls_to_lines(body_part).split("\n")
    header_lines: list[str] = []
    body_lines: list[str] = []
    bylines: list[str] = []
    for raw in lines:
        line = raw.strip()
        if line.startswith("^") and not raw.startswith("\t"):
            line = line.lstrip("^").strip()
            if line.endswith("<"):
                header_lines.append(line.rstrip("<").strip())
            elif line.endswith("=") and (byline_of(line) or bylines) and not any(body_lines):
                bylines.append(byline_of(line) or line.rstrip("= ").strip())
            else:
                body_lines.extend([line, ""])
        else:  # a closing `<` is ANPA's quad left, the end of a set line (a table's row): not text
            body_lines.append(line.lstrip("^").strip().removesuffix("<").rstrip())
    header_lines, draft.embargoed = _notices(header_lines, received)
    notes = [h for h in header_lines if not re.match(r"^(?:Eds?:|AP Photos?\b|\*?\d+$)", h)]
    slug_at = next((i for i, h in enumerate(notes) if re.search(r",\s*\d+$", h)), None)
    candidates = notes[slug_at + 1 :] if slug_at is not None else notes
    draft.headline = _anpa_quotes(candidates[0]) if candidates else ""
    draft.byline = ", ".join(bylines) or None
    paragraphs = [
        p
        for p in text_to_paragraphs(_anpa_quotes("\n".join(body_lines)), entities=False)
        if not re.fullmatch(r"_+", p)
    ]
    if received is not None and draft.embargoed is None:
        draft.embargoed = take_embargo(paragraphs, received)
    _apply_dateline(draft, paragraphs)
    if not draft.headline and draft.body:
        draft.headline = draft.body[0]
    return draft


def _apply_dateline(draft: Draft, paragraphs: list[str]) -> None:
    apply_conventions(draft, paragraphs)


def parse_iptc7901(data: bytes, *, received: datetime, limits: Limits) -> list[Story]:
    """Parse one IPTC 7901 (dpa) or ANPA 1312 (AP) transmission into a story."""
    text = decode_wire(data)
    draft = anpa_draft(text, received) if is_anpa(text) else dpa_draft(text, received)
    return [finish(draft, received=received, limits=limits)]
