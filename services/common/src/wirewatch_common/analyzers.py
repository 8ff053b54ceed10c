"""The tantivy analysis chains of the language families, shared by the index and the alerts matcher.

Text is folded in Python (`analysis.fold`) and then analysed by one tantivy chain per family:
simple tokenizer, removal of overlong tokens, lowercase, Snowball stemmer. The index registers
these chains as its tokenizers and the alerts matcher analyses stories and watchlist words with
the very same objects, so a watchlist matches a story exactly when the same search would.
"""

from __future__ import annotations

from itertools import chain
from typing import cast

import tantivy

from .analysis import FAMILIES, SNOWBALL, Family, fold

MAX_TOKEN_CHARS = 64
"""Tokens of this many UTF-8 bytes or more are dropped (tantivy counts bytes); their position stays used."""

CACHE_MAX_CHARS = 200
"""Only texts up to this length are cached: words and query leaves repeat, story bodies do not."""
_CACHE_ENTRIES = 50_000
_CHUNK_ENTRIES = 200_000


def analyzer(fam: Family) -> tantivy.TextAnalyzer:
    """Build the tantivy chain of a language family (it expects text already folded by `fold`)."""
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
    )
    if fam in SNOWBALL:
        builder = builder.filter(tantivy.Filter.stemmer(SNOWBALL[fam]))
    return builder.build()


class Analyzers:
    """One analyzer per family, with caches: short texts whole, long texts by whitespace-separated chunk.

    Short texts (words, query leaves, headlines) are cached whole. Long texts (story bodies, which
    the alerts matcher analyses stemmed and unstemmed) are analysed chunk by chunk: folding and
    tokenising never look across whitespace (`fold`'s rules stop at it, the tokenizer splits on
    it), so a text's tokens are its chunks' tokens in order, and a desk's vocabulary repeats.
    """

    def __init__(self) -> None:
        self.by_family = {fam: analyzer(fam) for fam in FAMILIES}
        self._plain = analyzer("std")
        self._cache: dict[tuple[Family, bool, str], list[str]] = {}
        # Per family: chunk -> its unstemmed tokens, and chunk -> its stemmed tokens.
        self._chunks: dict[Family, tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]] = {
            fam: ({}, {}) for fam in FAMILIES
        }
        self._split: tuple[str, list[str]] | None = None

    def tokens(self, text: str, fam: Family, *, stem: bool = True) -> list[str]:
        """Analyse like the engine: fold, then the family's chain (without its stemmer if not `stem`)."""
        if len(text) > CACHE_MAX_CHARS:
            return self._chunked(text, fam, stem)
        key = (fam, stem, text)
        found = self._cache.get(key)
        if found is None:
            found = (self.by_family[fam] if stem else self._plain).analyze(fold(text, fam))
            if len(self._cache) > _CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key] = found
        return found

    def analyze(self, text: str, fam: Family, stem: bool) -> list[str]:
        """Return `tokens` with the positional signature `wirewatch_common.matching.Analyze` expects."""
        return self.tokens(text, fam, stem=stem)

    def _chunked(self, text: str, fam: Family, stem: bool) -> list[str]:
        table = self._chunks[fam][1 if stem else 0]
        last = self._split
        if last is not None and last[0] is text:
            chunks = last[1]  # the other pass over the same text
        else:
            chunks = text.split()
            self._split = (text, chunks)
        got = list(map(table.get, chunks))
        if None not in got:
            return list(chain.from_iterable(cast("list[tuple[str, ...]]", got)))
        # New chunks: analyse each once, for both tables.
        plain, stemmed = self._chunks[fam]
        if len(plain) + len(chunks) > _CHUNK_ENTRIES:
            plain.clear()
            stemmed.clear()
        stemming = self.by_family[fam]
        for chunk in set(chunks).difference(table):
            folded = fold(chunk, fam)
            plain[chunk] = tuple(self._plain.analyze(folded))
            stemmed[chunk] = tuple(stemming.analyze(folded))
        return list(chain.from_iterable(map(table.__getitem__, chunks)))
