"""Highlighted snippets computed from the original text, so folding never shows in what desks read.

The engine indexes folded text (Turkish lowercase, Arabic without diacritics); highlighting
here runs each original word through the same analysis and marks it when its term matched.
Everything returned is HTML-escaped except the `<mark>` tags we add.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from wirewatch_common.analysis import WORD

SCAN_CHARS = 20_000
"""Only the first characters of a long body are scanned for a match (the lede is what matters)."""


@dataclass(frozen=True)
class Matcher:
    """Analysed query terms and prefixes of one language family, and the analyser that made them."""

    analyze: Callable[[str], list[str]]
    plain: Callable[[str], list[str]]
    terms: frozenset[str]
    prefixes: tuple[str, ...] = ()
    matched: set[str] = field(default_factory=set, compare=False, repr=False)
    """Words judged to match so far (a scan checks these sets before calling the matcher)."""
    unmatched: set[str] = field(default_factory=set, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        """Nothing can match (a browse without words): a scan has nothing to look for."""
        return not self.terms and not self.prefixes

    def __call__(self, word: str) -> bool:
        """Tell whether an original word matches one of the terms (stemmed) or prefixes (unstemmed)."""
        if word in self.matched:
            return True
        if word in self.unmatched:
            return False
        verdict = bool(self.terms) and any(token in self.terms for token in self.analyze(word))
        if not verdict and self.prefixes:
            verdict = any(t.startswith(self.prefixes) for t in self.plain(word))
        if len(self.matched) + len(self.unmatched) < 100_000:  # one matcher per search; bounded all the same
            (self.matched if verdict else self.unmatched).add(word)
        return verdict


def _memo(matches: Callable[[str], bool]) -> tuple[set[str], set[str]]:
    """A Matcher's verdict sets, read inline by the scans (a call per word costs more than the regex)."""
    if isinstance(matches, Matcher):
        return matches.matched, matches.unmatched
    return set(), set()


def _spans(
    text: str, matches: Callable[[str], bool], start: int = 0, stop: int = SCAN_CHARS, first: bool = False
) -> list[tuple[int, int]]:
    if isinstance(matches, Matcher) and matches.empty:
        return []
    yes, no = _memo(matches)
    spans = []
    for m in WORD.finditer(text, start, stop):
        word = m.group()
        if word in yes or (word not in no and matches(word)):
            spans.append(m.span())
            if first:
                break
    return spans


def mark(text: str, matches: Callable[[str], bool]) -> str:
    """Escape the whole text and wrap matching words in `<mark>`."""
    return _render(text, _spans(text, matches), 0, len(text))


def _render(text: str, spans: Iterable[tuple[int, int]], start: int, end: int) -> str:
    out = []
    pos = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(html.escape(text[pos:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    return "".join(out)


def snippet(paragraphs: Iterable[str], matches: Callable[[str], bool], max_chars: int = 240) -> str:
    """Return an escaped excerpt of about `max_chars` around the first match, matches marked."""
    text = " ".join(p.strip() for p in paragraphs if p.strip())
    if not text:
        return ""
    found = _spans(text, matches, first=True)  # only the first match places the excerpt
    start = 0
    if found and found[0][0] > max_chars // 3:
        start = text.rfind(" ", 0, found[0][0] - max_chars // 4) + 1
    end = len(text) if len(text) - start <= max_chars else text.rfind(" ", start, start + max_chars)
    if end <= start:
        end = min(len(text), start + max_chars)
    body = _render(text, _spans(text, matches, start, end), start, end)
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")
