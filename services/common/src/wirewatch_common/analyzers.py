"""The tantivy analysis of the language families, shared by the index and the alerts matcher.

A text is prepared in Python (`Analyzers.prepare`: `analysis.fold`, then for Turkish and Arabic
the word-level stemming tantivy cannot do in a chain) and then analysed by one tantivy chain per
family: simple tokenizer, removal of overlong tokens, lowercase, and for English the Snowball
stemmer. Turkish words are stemmed here by tantivy's Snowball Turkish stemmer, word by word, on
proper Turkish lower case (a stem of five letters or more once more), and only then fold `ı→i`;
Arabic words lose light10's suffixes and a glued preposition (`analysis.stem_arabic_word`) after
`fold` took light10's prefix. The index writes prepared text into
fields whose tokenizers are these chains, and the alerts matcher analyses stories and watchlist
words with the very same objects, so a watchlist matches a story exactly when the same search would.
"""

from __future__ import annotations

import re
from itertools import chain
from typing import cast

import tantivy

from .analysis import FAMILIES, TURKISH_AGAIN_MIN, WORD_RUN, Family, fold, fold_words, stem_arabic, stemmable

MAX_TOKEN_CHARS = 64
"""Tokens of this many UTF-8 bytes or more are dropped (tantivy counts bytes); their position stays used."""

CACHE_MAX_CHARS = 200
"""Only texts up to this length are cached: words and query leaves repeat, story bodies do not."""
_CACHE_ENTRIES = 50_000
_CHUNK_ENTRIES = 200_000
_WORD_ENTRIES = 200_000


def analyzer(fam: Family) -> tantivy.TextAnalyzer:
    """Build the tantivy chain of a language family (it expects text prepared by `Analyzers.prepare`).

    Only English stems inside the chain; Turkish and Arabic text arrives stemmed, the rest unstemmed.
    """
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
    )
    if fam == "en":
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


def _turkish_stemmer() -> tantivy.TextAnalyzer:
    """Snowball Turkish on one word (tantivy's, the algorithm Elasticsearch's `turkish` stemmer runs)."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stemmer("turkish"))
        .build()
    )


class Analyzers:
    """One analyzer per family, the word-level stemmers, and caches.

    Short texts (words, query leaves, headlines) are cached whole. Long texts (story bodies, which
    the alerts matcher analyses stemmed and unstemmed, and the index prepares) are handled chunk
    by chunk: folding, stemming and tokenising never look across whitespace (`fold`'s rules stop
    at it, the tokenizer splits on it), so a text's tokens are its chunks' tokens in order, and a
    desk's vocabulary repeats.
    """

    def __init__(self) -> None:
        self.by_family = {fam: analyzer(fam) for fam in FAMILIES}
        self._plain = analyzer("std")
        self._turkish = _turkish_stemmer()
        self._turkish_words: dict[str, str] = {}
        self._arabic_words: dict[str, str] = {}
        self._cache: dict[tuple[Family, bool, str], list[str]] = {}
        # Per family: chunk -> its unstemmed tokens, and chunk -> its stemmed tokens.
        self._chunks: dict[Family, tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]] = {
            fam: ({}, {}) for fam in FAMILIES
        }
        # Prepared chunks of stemmed Turkish and Arabic text, for the index's long fields.
        self._prepared: dict[Family, dict[str, str]] = {"tr": {}, "ar": {}}
        self._split: tuple[str, list[str]] | None = None

    # -- preparing text for a chain ------------------------------------------------------------

    def prepare(self, text: str, fam: Family, *, stem: bool = True) -> str:
        """The text a family's chain (`stem`) or the unstemmed chain (`std`, not `stem`) is given.

        The index writes this into its fields; `tokens` runs the chain over it.
        """
        if not stem:
            return fold_words(text, fam)
        if fam not in self._prepared:
            return fold(text, fam)
        if len(text) <= CACHE_MAX_CHARS:
            return self._prepare_chunk(text, fam)
        table = self._prepared[fam]
        chunks = text.split()
        got = list(map(table.get, chunks))
        if None in got:
            if len(table) + len(chunks) > _CHUNK_ENTRIES:
                table.clear()
            for i, chunk in enumerate(chunks):
                if got[i] is None:
                    got[i] = table[chunk] = self._prepare_chunk(chunk, fam)
        return " ".join(cast("list[str]", got))

    def prepare_both(self, text: str, fam: Family) -> tuple[str, str]:
        """`prepare` stemmed and unstemmed at once (folding once): what the index writes into a field."""
        folded = fold(text, fam)
        words = folded.replace("ı", "i") if fam == "tr" else folded  # = fold_words(text, fam)
        if fam not in self._prepared:
            return folded, words
        if len(text) <= CACHE_MAX_CHARS:
            return self._stem_folded(folded, fam), words
        return self.prepare(text, fam), words

    def _prepare_chunk(self, text: str, fam: Family) -> str:
        return self._stem_folded(fold(text, fam), fam)

    def _stem_folded(self, folded: str, fam: Family) -> str:
        return WORD_RUN.sub(self._arabic_word if fam == "ar" else self._turkish_word, folded)

    def _arabic_word(self, match: re.Match[str]) -> str:
        """`analysis.stem_arabic` on one word, remembered."""
        word = match.group()
        found = self._arabic_words.get(word)
        if found is None:
            found = stem_arabic(word)
            if len(self._arabic_words) > _WORD_ENTRIES:
                self._arabic_words.clear()
            self._arabic_words[word] = found
        return found

    def _turkish_word(self, match: re.Match[str]) -> str:
        """Snowball Turkish on proper Turkish lower case, a long stem again, then `ı→i` (remembered)."""
        word = match.group()
        found = self._turkish_words.get(word)
        if found is None:
            if stemmable(word):
                found = self._snowball_turkish(word)
                if len(found) >= TURKISH_AGAIN_MIN:
                    found = self._snowball_turkish(found)
                found = found.replace("ı", "i")
            else:
                found = word
            if len(self._turkish_words) > _WORD_ENTRIES:
                self._turkish_words.clear()
            self._turkish_words[word] = found
        return found

    def _snowball_turkish(self, word: str) -> str:
        stems = self._turkish.analyze(word)
        # A word Python reads as one run and Rust as several stays whole, the same on every side.
        return stems[0] if len(stems) == 1 else word

    # -- tokens --------------------------------------------------------------------------------

    def tokens(self, text: str, fam: Family, *, stem: bool = True) -> list[str]:
        """Analyse like the engine: prepare, then the family's chain (the unstemmed one if not `stem`)."""
        if len(text) > CACHE_MAX_CHARS:
            return self._chunked(text, fam, stem)
        key = (fam, stem, text)
        found = self._cache.get(key)
        if found is None:
            found = (self.by_family[fam] if stem else self._plain).analyze(self.prepare(text, fam, stem=stem))
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
        # New chunks: analyse each once, for both tables (read back from a local copy: another
        # thread may clear a table meanwhile).
        plain, stemmed = self._chunks[fam]
        if len(plain) + len(chunks) > _CHUNK_ENTRIES:
            plain.clear()
            stemmed.clear()
        stemming = self.by_family[fam]
        mine: dict[str, tuple[str, ...]] = {}
        for chunk in {c for c, g in zip(chunks, got, strict=True) if g is None}:
            plain[chunk] = words = tuple(self._plain.analyze(fold_words(chunk, fam)))
            stemmed[chunk] = stems = tuple(stemming.analyze(self.prepare(chunk, fam)))
            mine[chunk] = stems if stem else words
        return list(
            chain.from_iterable(g if g is not None else mine[c] for c, g in zip(chunks, got, strict=True))
        )
