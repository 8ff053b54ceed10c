"""Agency plain-text copy: a headline line, a blank line, then paragraphs opening with a dateline.

An embargo notice (`EMBARGOED UNTIL 0001 GMT MONDAY`) before the headline or in the first
paragraphs becomes the story's embargo when its moment is clear (see `embargo`), and leaves the text.
"""

from __future__ import annotations

from datetime import datetime

from wirewatch_common.story import Story

from ..embargo import read_embargo, take_embargo
from ..errors import InvalidStory
from ..normalize import Draft, Limits, finish, text_to_paragraphs
from .text import apply_conventions, decode_utf8


def agency_draft(text: str, *, provider: str | None = None, received: datetime | None = None) -> Draft:
    """Read headline, byline, dateline (places, agency), embargo, body and credit trailer from agency copy."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        msg = "the document holds no text"
        raise InvalidStory(msg, line=1, field="headline")
    embargoed = None
    start = filled[0]
    if received is not None:
        for index in filled[:-1]:  # notices above the headline; the last line of text is never one
            notice = read_embargo(lines[index], received)
            if notice is None or notice.until is None:
                break
            embargoed, start = embargoed or notice.until, filled[filled.index(index) + 1]
    headline = lines[start].strip()
    paragraphs = text_to_paragraphs("\n".join(lines[start + 1 :]), entities=False)
    if received is not None and embargoed is None:
        embargoed = take_embargo(paragraphs, received)
    draft = Draft(format="agency", headline=headline, provider=provider, embargoed=embargoed)
    apply_conventions(draft, paragraphs)
    if draft.source and not provider:
        draft.provider = draft.source
    return draft


def parse_agency(
    data: bytes, *, received: datetime, limits: Limits, provider: str | None = None
) -> list[Story]:
    """Parse one piece of agency copy (strict UTF-8) into a story."""
    draft = agency_draft(decode_utf8(data), provider=provider, received=received)
    return [finish(draft, received=received, limits=limits)]
