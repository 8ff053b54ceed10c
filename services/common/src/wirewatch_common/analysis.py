"""Language folding and the Arabic light stemmer, in Python, so tantivy and queries agree.

tantivy's lowercase filter turns `İ` into `i̇` (i + combining dot) and knows nothing of Turkish
apostrophe suffixes, Arabic orthographic variants or Arabic light stemming, and its Python API
cannot take a filter written in Python. So the steps the engine lacks run here, on both sides
(documents and query words), around the engine's chains (`analyzers.py`):

- `fold` (every family, before tokenising): case rules (Turkish: `İ→i`, `I→ı`, then lowercase;
  elsewhere a stray `İ`/`ı` becomes `i`), the Turkish apostrophe suffix dropped (`İdlib'deki` →
  `idlib`), Arabic normalisation in every family (harakat, Quranic marks and tatweel removed,
  `أإآٱ→ا`, `ة→ه`, `ى→ي`) and Arabic-Indic digits to ASCII; for Arabic also the prefix step of
  Lucene's light stemmer (light10: one of ال وال بال كال فال لل, or و before three letters);
- `stem_arabic_word` (Arabic, per word, when stemming): the suffix step of the same stemmer, then
  one addition of ours: a glued ب ك ل ف taken off a stem of five letters or more (`بدمشق` ≈ `دمشق`);
- Turkish words are stemmed by Snowball on proper Turkish lower case, a stem of five letters or
  more once more (Snowball Turkish takes one suffix fewer off a plural than off its singular:
  `seçimler→seçim`, `seçim→seç`), then `ı→i`, so dotted and dotless i meet whatever the case
  they were typed in (`analyzers.py`, which holds the stemmer).

Elasticsearch runs the same algorithms in its own chains (`es_text.ANALYSIS`). Shared by the
index and the alerts service, so a watchlist folds words exactly as search does. Pure: no engine.
"""

from __future__ import annotations

import re
from typing import Literal

from .story import primary_language

Family = Literal["en", "ar", "tr", "std"]
"""An analysis chain: English, Arabic and Turkish stem; anything else only folds."""

FAMILIES: tuple[Family, ...] = ("en", "ar", "tr", "std")

STEM_MAX_BYTES = 60
"""Words of this many UTF-8 bytes or more are left as folded: no stemming, no `ı→i` after it.

The chains drop tokens of 64 bytes or more (keeping their position); stemming can lengthen a
word by a byte (Turkish `c→ç`), so words near the limit are left alone and whether a token is
dropped is decided by its folded form alone, which the matcher can recount without an engine."""

# Apostrophes a Turkish writer may use between a proper name and its suffix: ' ’ ‘ ʼ ´ `
APOSTROPHES = "'\u2019\u2018\u02bc\u00b4`"
_TR_SUFFIX = re.compile(rf"(?<=\w)[{APOSTROPHES}]\w+")
_ARABIC = re.compile("[\u0600-\u06ff]")
# Harakat, tanwin, shadda, sukun, hamza marks, superscript alef, Quranic marks, and the tatweel.
AR_MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
_AR_MARKS = re.compile(f"[{AR_MARKS}]")
AR_LETTERS = (("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ٱ", "ا"), ("ة", "ه"), ("ى", "ي"))
_AR_DIGITS = re.compile("[\u0660-\u0669\u06f0-\u06f9]")
_DIGITS = str.maketrans(
    "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
    "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",
    "01234567890123456789",
)
# light10's prefixes, tried in Lucene's order, each kept only when two letters remain after it
# (three after a lone و); one prefix at most.
_AR_PREFIX = re.compile(
    r"(?<!\w)(?:ال(?=\w\w)|وال(?=\w\w)|بال(?=\w\w)|كال(?=\w\w)|فال(?=\w\w)|لل(?=\w\w)|و(?=\w\w\w))"
)
# light10's suffixes, in Lucene's order; each is removed when two letters remain, so several may go.
AR_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ية", "ه", "ة", "ي")
_AR_SUFFIX_LAST = frozenset(s[-1] for s in AR_SUFFIXES)
AR_PROCLITICS = "بكلف"
"""Prepositions and conjunctions glued to a word without the article (light10 strips them only
with it): one is taken off a light10 stem of `AR_PROCLITIC_MIN` letters or more."""
AR_PROCLITIC_MIN = 5
TURKISH_AGAIN_MIN = 5
"""A Snowball Turkish stem of this many letters or more is stemmed once more (see the module docstring)."""

WORD_RUN = re.compile(r"[^\W_]+")
"""A run of letters and digits: a token of the engines' simple tokenizer, for word-level steps."""


def family(language: str) -> Family:
    """Return the analysis chain for a BCP 47 tag (`tr-TR` → `tr`, `fr` → `std`)."""
    primary = primary_language(language)
    if primary in ("en", "ar", "tr"):
        return primary  # type: ignore[return-value]  # narrowed by the membership test
    return "std"


def fold_turkish(text: str) -> str:
    """Lowercase with Turkish rules (İ→i, I→ı) and drop suffixes after an apostrophe (İdlib'deki → idlib)."""
    # str.replace is C-fast; str.translate with a mapping costs a dict lookup per character.
    text = text.replace("İ", "i").replace("I", "ı").lower()
    return _TR_SUFFIX.sub("", text) if _has_apostrophe(text) else text


def _has_apostrophe(text: str) -> bool:
    return any(a in text for a in APOSTROPHES)


def normalize_arabic(text: str) -> str:
    """Remove diacritics and tatweel, unify alef forms, taa marbuta and alef maksura, ASCII digits."""
    if not _ARABIC.search(text):
        return text
    text = _AR_MARKS.sub("", text)
    for variant, plain in AR_LETTERS:
        text = text.replace(variant, plain)
    return text.translate(_DIGITS) if _AR_DIGITS.search(text) else text


def fold_arabic(text: str) -> str:
    """Normalise (`normalize_arabic`), then strip light10's prefix: article, glued particles, و."""
    return _AR_PREFIX.sub("", normalize_arabic(text))


def fold(text: str, fam: Family) -> str:
    """Prepare text for the engine's tokenizer in `fam` (see the module docstring)."""
    if fam == "tr":
        return normalize_arabic(fold_turkish(text))
    if text.isascii():
        return text
    text = normalize_arabic(text.replace("İ", "i").replace("ı", "i"))
    return _AR_PREFIX.sub("", text) if fam == "ar" else text


def fold_words(text: str, fam: Family) -> str:
    """Fold for the unstemmed words prefix queries read: `fold`, and Turkish `ı→i` at once (no stemmer)."""
    folded = fold(text, fam)
    return folded.replace("ı", "i") if fam == "tr" else folded


def arabic_suffixes(word: str) -> str:
    """Strip light10's suffixes from a folded Arabic word (sound plurals, duals, feminine, pronouns)."""
    if len(word) < 3 or word[-1] not in _AR_SUFFIX_LAST:
        return word
    for suffix in AR_SUFFIXES:
        if len(word) >= len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
    return word


def stem_arabic_word(word: str) -> str:
    """Stem a folded Arabic word: light10's suffixes, then a glued ب ك ل ف off a long stem."""
    word = arabic_suffixes(word)
    if len(word) >= AR_PROCLITIC_MIN and word[0] in AR_PROCLITICS:
        return word[1:]
    return word


def stemmable(word: str) -> bool:
    """Whether a word is short enough to stem (`STEM_MAX_BYTES`)."""
    return len(word) < STEM_MAX_BYTES // 4 or len(word.encode()) < STEM_MAX_BYTES


def stem_arabic(folded: str) -> str:
    """Apply `stem_arabic_word` to every word of text folded for Arabic."""
    return WORD_RUN.sub(_arabic_word, folded) if _ARABIC.search(folded) else folded


def _arabic_word(match: re.Match[str]) -> str:
    word = match.group()
    return stem_arabic_word(word) if stemmable(word) else word


_LETTER = f"[\\w\u0300-\u036f{AR_MARKS}]"
WORD = re.compile(f"{_LETTER}+(?:[{APOSTROPHES}]{_LETTER}+)?")
"""A word as highlighting sees it: letters and digits, with a Turkish apostrophe suffix attached."""
