"""What a model is given: segments of a paragraph, and pieces of text too long for one call.

Pure functions, no engine. A paragraph is laid out as literal parts (line breaks, cell separators,
lines and cells of numbers and codes) around the segments a model translates, so a table keeps
its lines and columns in the rendition and its figures are copied rather than paraphrased.
Text longer than a model accepts is cut at the gentlest boundary that makes it fit: line breaks,
then sentence ends, then `;`, tabs and runs of spaces, then clause punctuation, then the spaces
between words; the token counts come from the caller (the package's own tokenizer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# --- what needs no translation -------------------------------------------------------------------

# fmt: off
_UNIT_WORDS = frozenset({
    "%", "‰", "°", "°c", "°f", "km", "km/h", "kph", "mph", "kg", "cm", "mm", "ml", "hpa", "mb", "kt", "kts",
    "p.m.", "a.m.", "gmt", "utc",
})
# fmt: on
"""Units that stand alone as tokens, compared lower-cased; none is also an everyday word."""
_CODE = re.compile(r"[A-Z]{1,4}")
_ATTACHED_LETTERS = 3  # "12km", "1st", "L-1", "XNP101", "5pm": a few letters beside a number
_TOKEN_SPLIT = re.compile(r"[\s;|,]+")
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")


def _token_kind(token: str) -> str | None:
    """Classify one whitespace-free token: number, code, unit, punct; None when it is a word."""
    if any(ch.isdigit() for ch in token):
        letters = sum(1 for ch in token if ch.isalpha())
        return "number" if letters <= _ATTACHED_LETTERS else None
    if not any(ch.isalnum() for ch in token):
        return "punct"
    core = _EDGE_PUNCTUATION.sub("", token)
    if _CODE.fullmatch(core):
        return "code"
    if token.lower() in _UNIT_WORDS or core.lower() in _UNIT_WORDS:
        return "unit"
    return None


def is_verbatim(text: str) -> bool:
    """Tell whether text has nothing a model should translate, so it is copied as it is.

    True for numbers, scores, times, dates, units, punctuation and capital-letter codes of up to
    four letters, as long as at least one token holds a digit, or the text is one token, or
    punctuation only: "12  -3  45/32", "BUE 03 12 NNW", "1-0", "14:30", "-----", "NNW".
    Two bare capital words ("NEW YORK") are translated: they are more likely a name than a code.
    """
    tokens = [t for t in _TOKEN_SPLIT.split(text) if t]
    if not tokens:
        return True
    kinds = [_token_kind(t) for t in tokens]
    if None in kinds:
        return False
    return "number" in kinds or len(tokens) == 1 or all(k == "punct" for k in kinds)


# --- paragraph layout ------------------------------------------------------------------------------

_LINE_BREAK = re.compile(r"(\r?\n)")
_TAB_CELLS = re.compile(r" *\t[\t ]*")
_TABLE_CELLS = re.compile(r" *\t[\t ]*| {2,}|[ \t]*\|[ \t]*")
_RECORD_CELLS = re.compile(r"[ \t]*;| *\t[\t ]*")
_TABLE_RECORD_CELLS = re.compile(r"[ \t]*;| *\t[\t ]*| {2,}|[ \t]*\|[ \t]*")
_SEMICOLON_THEN_SPACE = re.compile(r";\s")


@dataclass(frozen=True)
class Layout:
    """A paragraph as literal text around segments to translate; `render` puts translations back."""

    parts: tuple[str | int, ...]
    """Literal text, or the index of a segment."""
    segments: tuple[str, ...]
    """Text to translate, each then split into sentences."""

    def render(self, translated: Sequence[str]) -> str:
        """Rebuild the paragraph with each segment replaced by its translation."""
        if len(translated) != len(self.segments):
            msg = f"{len(translated)} translations for {len(self.segments)} segments"
            raise ValueError(msg)
        return "".join(p if isinstance(p, str) else translated[p] for p in self.parts)


def _cell_separators(line: str, table: bool) -> re.Pattern[str] | None:
    """The pattern that separates a line's cells, or None when the line is running text.

    Tabs always separate cells. Runs of spaces and `|` do only in a multi-line paragraph: in
    running text a double space is a typing habit, not a column. A line whose semicolons are never
    followed by a space is a semicolon-delimited record (ANPA's agate tables).
    """
    if line.count(";") >= 2 and not _SEMICOLON_THEN_SPACE.search(line):
        return _TABLE_RECORD_CELLS if table else _RECORD_CELLS
    if table:
        return _TABLE_CELLS
    return _TAB_CELLS if "\t" in line else None


def layout(paragraph: str) -> Layout:
    """Lay a paragraph out: lines kept apart, cells kept apart, numbers and codes copied.

    A paragraph with line breaks is a table or a list: every line is translated on its own and
    the breaks are kept. Within a line, cells (see `_cell_separators`) are translated one by one
    and rejoined with their own separators. Lines or cells that `is_verbatim` are not translated.
    """
    parts: list[str | int] = []
    segments: list[str] = []

    def literal(text: str) -> None:
        if not text:
            return
        if parts and isinstance(parts[-1], str):
            parts[-1] += text
        else:
            parts.append(text)

    def segment(text: str) -> None:
        stripped = text.strip()
        if is_verbatim(stripped):
            literal(text)
            return
        start = text.index(stripped)
        literal(text[:start])
        parts.append(len(segments))
        segments.append(stripped)
        literal(text[start + len(stripped) :])

    pieces = _LINE_BREAK.split(paragraph)
    table = len(pieces) > 1
    for index, line in enumerate(pieces):
        if index % 2 or is_verbatim(line):
            literal(line)
            continue
        separators = _cell_separators(line, table)
        if separators is None:
            segment(line)
            continue
        start = 0
        for match in separators.finditer(line):
            segment(line[start : match.start()])
            literal(match.group())
            start = match.end()
        segment(line[start:])
    return Layout(tuple(parts), tuple(segments))


# --- cutting text that is too long -----------------------------------------------------------------

_CUTS: tuple[re.Pattern[str], ...] = (
    re.compile(r"[ \t]*(?:\r?\n[ \t]*)+"),  # line breaks
    re.compile(r"(?<=[。！？])[ \t]*|(?<=[.!?؟…])[ \t]+"),  # sentence ends the splitter left whole
    re.compile(r" *\t[\t ]*| {2,}|(?<=[;؛；])[ \t]*"),  # cells and semicolons
    re.compile(r"(?<=[,،:])[ \t]+|(?<=[，、：])[ \t]*|[ \t]+(?=[–—][ \t])"),  # clauses
    re.compile(r"\s+"),  # words
)
"""Cut points from the gentlest to the last resort; a separator stays in the source as a literal."""

_SPACELESS = re.compile(
    r"[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\u3000-\u303f\uf900-\ufaff\uff00-\uffef]"
)
"""Scripts written without spaces between words: Thai, Lao, Tibetan, Myanmar, Khmer, CJK."""

Count = Callable[[Sequence[str]], list[int]]
"""Token counts of texts, from the package's own tokenizer."""


@dataclass(frozen=True)
class Piece:
    """A part of a long text: translated on its own, then followed by `sep` from the source."""

    text: str
    sep: str
    """What followed the piece in the source (a line break, `; `'s space, a tab run), or ''."""
    fits: bool = True
    """False for a run without any cut point that is still longer than the limit."""


def written_without_spaces(text: str) -> bool:
    """Tell whether text holds letters of a script that does not separate words with spaces."""
    return _SPACELESS.search(text) is not None


def glue(left: str, right: str) -> str:
    """Join two translated pieces that had no separator between them in the source."""
    if not left or not right or left[-1].isspace() or right[0].isspace():
        return left + right
    if written_without_spaces(left[-1]) or written_without_spaces(right[0]):
        return left + right
    return f"{left} {right}"


def cut(text: str, pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """Split text at a pattern into (fragment, separator) pairs; joining them gives the text back."""
    parts: list[tuple[str, str]] = []
    start = 0
    for match in pattern.finditer(text):
        if match.start() == start:
            if parts and match.end() > start:  # two separators in a row: one longer separator
                fragment, sep = parts[-1]
                parts[-1] = (fragment, sep + match.group())
                start = match.end()
            continue
        parts.append((text[start : match.start()], match.group()))
        start = match.end()
    if start < len(text) or not parts:
        parts.append((text[start:], ""))
    return parts


def fit(text: str, count: Count, limit: int) -> list[Piece]:
    """Cut text into pieces of at most `limit` tokens at the gentlest cut points that suffice.

    Neighbouring fragments are packed together up to the limit, so a model sees as much context
    as it can take. A piece with `fits=False` is a run with no cut point left (a URL, a hash, or
    text in a script without spaces); the caller decides what to do with it.
    """
    if limit < 1:
        msg = f"limit must be at least 1 token, got {limit}"
        raise ValueError(msg)
    return _fit(text, "", count, limit, 0)


def _fit(text: str, sep: str, count: Count, limit: int, level: int) -> list[Piece]:
    parts: list[tuple[str, str]] = []
    while level < len(_CUTS):
        parts = cut(text, _CUTS[level])
        if len(parts) > 1:
            break
        level += 1
    if len(parts) < 2:
        return [Piece(text, sep, fits=False)]
    sizes = count([fragment for fragment, _ in parts])
    pieces: list[Piece] = []
    group: list[tuple[str, str]] = []
    total = 0
    for (fragment, fragment_sep), size in zip(parts, sizes, strict=True):
        if size > limit:
            pieces += _pack(group, count, limit)
            group, total = [], 0
            pieces += _fit(fragment, fragment_sep, count, limit, level + 1)
            continue
        if group and total + size > limit:
            pieces += _pack(group, count, limit)
            group, total = [], 0
        group.append((fragment, fragment_sep))
        total += size
    pieces += _pack(group, count, limit)
    last = pieces[-1]
    pieces[-1] = Piece(last.text, last.sep + sep, last.fits)
    return pieces


def _pack(group: list[tuple[str, str]], count: Count, limit: int) -> list[Piece]:
    """Join fragments into one piece; halve the group if joining made it longer than the limit."""
    if not group:
        return []
    text = "".join(f + s for f, s in group[:-1]) + group[-1][0]
    if len(group) > 1 and count([text])[0] > limit:
        middle = len(group) // 2
        return _pack(group[:middle], count, limit) + _pack(group[middle:], count, limit)
    return [Piece(text, group[-1][1])]
