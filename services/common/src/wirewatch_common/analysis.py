"""Language folding applied before any engine sees the text, so tantivy and queries agree.

tantivy's lowercase filter turns `İ` into `i̇` (i + combining dot) and knows nothing of Turkish
apostrophe suffixes or Arabic orthographic variants. These steps run in Python on both sides
(documents and query words) and are length-agnostic; the engine then tokenises, lowercases
and applies the Snowball stemmer of the language family.

Shared by the index and the alerts service, so a watchlist folds words exactly as search does.
"""

from __future__ import annotations

import re
from typing import Literal

from .story import primary_language

Family = Literal["en", "ar", "tr", "std"]
"""An analysis chain: English, Arabic and Turkish stem; anything else only folds case."""

FAMILIES: tuple[Family, ...] = ("en", "ar", "tr", "std")
SNOWBALL: dict[Family, str] = {"en": "english", "ar": "arabic", "tr": "turkish"}

# Apostrophes a Turkish writer may use between a proper name and its suffix: ' ’ ‘ ʼ ´ `
_APOSTROPHES = "'\u2019\u2018\u02bc\u00b4`"
_TR_SUFFIX = re.compile(rf"(?<=\w)[{_APOSTROPHES}]\w+")
# Harakat, tanwin, shadda, sukun, superscript alef, Quranic marks, and the tatweel.
_AR_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_AR_FOLD = (("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ٱ", "ا"), ("ة", "ه"), ("ى", "ي"))
# Definite article and the particles glued to it (the prefixes of Lucene's light10 stemmer),
# stripped when at least two letters remain, so "والهدنة" and "هدنة" meet.
_AR_ARTICLE = re.compile(r"(?<!\w)(?:وال|بال|كال|فال|لل|ال)(?=\w\w)")


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
    return any(a in text for a in _APOSTROPHES)


def fold_arabic(text: str) -> str:
    """Remove diacritics and tatweel, unify alef forms, taa marbuta and alef maksura, strip the article."""
    text = _AR_MARKS.sub("", text)
    for variant, plain in _AR_FOLD:
        text = text.replace(variant, plain)
    return _AR_ARTICLE.sub("", text)


def fold(text: str, fam: Family) -> str:
    """Prepare text for the engine's analyzer of `fam`; every family folds a stray `İ` to a plain `i`."""
    if fam == "tr":
        return fold_turkish(text)
    text = text.replace("İ", "i")
    if fam == "ar":
        return fold_arabic(text)
    return text


_LETTER = "[\\w\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]"
WORD = re.compile(f"{_LETTER}+(?:[{_APOSTROPHES}]{_LETTER}+)?")
"""A word as highlighting sees it: letters and digits, with a Turkish apostrophe suffix attached."""
