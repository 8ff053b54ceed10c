"""Offline sentence segmentation for news copy in English, Arabic and Turkish.

argostranslate's own splitter downloads a model on first use, so wirewatch splits sentences
itself. The rules are deliberately conservative: a wrong split harms a translation more than a
missed one, so abbreviations (U.S., Dr., Jan.), initials, decimal numbers and quotations stay whole.
"""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"([.!?؟…]+)([\"'”’»)\]]*)(\s+)")
_OPENING_QUOTES = "“„«‹"
_CLOSING_QUOTES = "”»›"
_DOTTED = re.compile(r"^(?:[A-Za-zÇĞİÖŞÜçğıöşü]\.)+[A-Za-zÇĞİÖŞÜçğıöşü]?$")

_EN_ABBREVIATIONS = """mr mrs ms dr prof st sr jr gen col lt sgt capt cmdr adm gov sen rep pres rev hon fr
jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun no nos vol fig
inc ltd co corp plc bros dept est approx vs etc al e.g i.e p.m a.m ft mt ave blvd rd univ assn"""
_TR_ABBREVIATIONS = """dr prof doç yrd av sn sayın bkz vb vs vd örn krş hz alb gen org kd yzb tğm
oca şub mar nis haz tem ağu eyl eki kas ara no"""

ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(_EN_ABBREVIATIONS.split()),
    "tr": frozenset(_TR_ABBREVIATIONS.split()),
    "ar": frozenset(),
}
"""Lower-case abbreviations, without their final dot, after which a period does not end a sentence."""


def _quote_depths(text: str) -> list[int]:
    """Return, for every position, how many quotations are open just after that character."""
    depths = []
    depth = 0
    straight_open = False
    for ch in text:
        if ch in _OPENING_QUOTES:
            depth += 1
        elif ch in _CLOSING_QUOTES:
            depth = max(0, depth - 1)
        elif ch == '"':
            straight_open = not straight_open
            depth += 1 if straight_open else -1
            depth = max(0, depth)
        depths.append(depth)
    return depths


def _is_abbreviation(word: str, lang: str) -> bool:
    """Tell whether `word` (the text before a period) is an abbreviation or an initial."""
    word = word.lstrip("(\"'“«")
    if not word:
        return False
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. Smith"
    if _DOTTED.match(word):
        return True  # "U.S", "U.K", "e.g", "T.C"
    known = ABBREVIATIONS.get(lang, frozenset()) | ABBREVIATIONS["en"]
    return word.lower() in known


def split_sentences(paragraph: str, lang: str = "en", *, respect_quotes: bool = True) -> list[str]:
    """Split one paragraph into sentences; joining them with single spaces gives the paragraph back.

    A boundary is terminal punctuation, optional closing quotes or brackets, whitespace, and a
    next character that is not lower case (Arabic has no case, so any letter starts a sentence).
    """
    text = paragraph.strip()
    if not text:
        return []
    depths = _quote_depths(text) if respect_quotes else [0] * len(text)
    sentences = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(2)
        following = text[match.end(3) : match.end(3) + 1]
        if not following or following.islower():
            continue
        if depths[end - 1] > 0:
            continue  # inside a quotation: keep the quote whole
        if match.group(1) == ".":
            before = text[start : match.start(1)].rsplit(None, 1)
            if before and _is_abbreviation(before[-1], lang):
                continue
        sentences.append(text[start:end].strip())
        start = match.end(3)
    sentences.append(text[start:].strip())
    if respect_quotes and len(sentences) == 1 and depths[-1] > 0 and len(text) > 400:
        # an unbalanced quote would swallow the whole paragraph: split as if there were none
        return split_sentences(text, lang, respect_quotes=False)
    return [s for s in sentences if s]


def split_paragraphs(text: str) -> list[str]:
    """Split free text (the ad-hoc API) into paragraphs at line breaks, dropping empty ones."""
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")
_TURKISH = re.compile(r"[ğĞıİşŞ]")


def guess_language(text: str) -> str:
    """Guess ar, tr or en from the script and letters; a crude fallback when a caller names no source."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return "en"
    if sum(1 for ch in letters if _ARABIC.match(ch)) > len(letters) / 3:
        return "ar"
    if _TURKISH.search(text):
        return "tr"
    return "en"
