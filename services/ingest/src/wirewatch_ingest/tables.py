"""Tell a table from prose, so that a table keeps its lines: one paragraph, one line per row.

Wire tables (weather, results, prices) come as lines whose columns are set off by tabs, runs of
spaces, `;` or `|`, or as lines that are mostly figures. Joined with spaces they become one
"sentence" of thousands of tokens that no translation model accepts; kept as lines, a translator
can take them one by one and copy the lines that are only figures and codes.

Columns are kept as the source set them (tabs as tabs, runs of spaces as runs) so that they still
line up in a fixed-width view. Pure functions.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

_TAB = re.compile(r"\S\t+\S")
_PIPE = re.compile(r"\S\s*\|\s*\S")
# Two or more spaces between words, unless after the end of a sentence or clause (typists' double
# spacing after a full stop is prose, not a column).
_GAP = re.compile(r"(?<=[^\s.!?:;,\"'\u201d\u2019\u00bb)\]]) {2,}(?=\S)")
_OTHER_SPACE = re.compile(r"[^\S \t]")  # any whitespace but space and tab: no-break, thin, form feed

MIN_SHARE = 0.6
"""Share of a paragraph's lines that must look like rows for it to be a table."""


def _delimited(line: str) -> bool:
    if _TAB.search(line) or _PIPE.search(line):
        return True
    if line.count(";") >= 3:  # agate: `Amsterdam;42;50;rn;0.08`, never clauses of prose that short
        fields = line.split(";")
        return sum(len(f.strip()) for f in fields) / len(fields) <= 15
    return False


def _numeric(line: str) -> bool:
    tokens = line.split()
    figures = sum(1 for t in tokens if any(c.isdigit() for c in t))
    return figures >= 2 and figures * 2 >= len(tokens)


def _aligned(lines: Sequence[str]) -> bool:
    """Whether lines with space-separated columns share a column edge (prose gaps fall anywhere)."""
    edges: Counter[tuple[str, int]] = Counter()
    for line in lines:
        seen: set[tuple[str, int]] = set()
        for gap in _GAP.finditer(line):
            seen.update((("end", gap.start()), ("start", gap.end())))
        edges.update(seen)
    needed = max(2, math.ceil(len(lines) / 2))
    return any(count >= needed for count in edges.values())


def is_table(lines: Sequence[str]) -> bool:
    """Whether non-empty `lines` (as the source set them) read as the rows of a table."""
    if len(lines) < 2:
        return False
    rows = 0
    spaced: list[str] = []
    for line in lines:
        if _delimited(line) or _numeric(line):
            rows += 1
        elif _GAP.search(line):
            spaced.append(line)
    if spaced and _aligned(spaced):
        rows += len(spaced)
    return rows >= 2 and rows >= MIN_SHARE * len(lines)


def clean_line(line: str) -> str:
    """One row, trimmed; tabs and runs of spaces kept (they are its columns), other spaces made plain."""
    return _OTHER_SPACE.sub(" ", line).strip()


def table_lines(text: str) -> list[str] | None:
    """The rows of `text` (lines split on newlines) when it reads as a table, else None."""
    if "\n" not in text:
        return None
    lines = [line.rstrip() for line in text.split("\n") if line.strip()]
    if not is_table(lines):
        return None
    return [clean_line(line) for line in lines]


def render_rows(rows: Iterable[Sequence[str]]) -> str:
    """One line per row, cells separated by a tab (a cell's own whitespace collapsed); empty rows dropped."""
    out = []
    for row in rows:
        cells = [" ".join(cell.split()) for cell in row]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            out.append("\t".join(cells))
    return "\n".join(out)
