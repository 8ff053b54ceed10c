"""Agency plain-text copy: a headline line, a blank line, then paragraphs opening with a dateline."""

from __future__ import annotations

from datetime import datetime

from wirewatch_common.story import Story

from ..errors import InvalidStory
from ..normalize import Draft, Limits, finish, text_to_paragraphs
from .text import apply_conventions, decode_utf8


def agency_draft(text: str, *, provider: str | None = None) -> Draft:
    """Read headline, byline, dateline (places, agency), body and credit trailer from agency copy."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        msg = "the document holds no text"
        raise InvalidStory(msg, line=1, field="headline")
    headline = lines[start].strip()
    paragraphs = text_to_paragraphs("\n".join(lines[start + 1 :]), entities=False)
    draft = Draft(format="agency", headline=headline, provider=provider)
    apply_conventions(draft, paragraphs)
    if draft.source and not provider:
        draft.provider = draft.source
    return draft


def parse_agency(
    data: bytes, *, received: datetime, limits: Limits, provider: str | None = None
) -> list[Story]:
    """Parse one piece of agency copy (strict UTF-8) into a story."""
    return [finish(agency_draft(decode_utf8(data), provider=provider), received=received, limits=limits)]
