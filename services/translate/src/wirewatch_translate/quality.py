"""Quality signals of a rendition, from the text a model returned and the scores it gave its own tokens.

Pure functions, no engine: each check looks at one sentence (its source, its output, the two
languages and the model's token scores) and the rendition's `Quality` gathers them. None of the
signals proves a translation right or wrong; each marks a known way machine translation goes wrong
so the desk reads that rendition with care:

- copy-through: the output is the source again (after folding case and spaces), or most of its
  letters are in the source's script while the target language is written in another one;
- length ratio: output characters per source character far outside what the pair gives;
- repetition: a phrase of 1-4 words repeated back to back, or a loop that makes most of the output;
- untranslated: text the length rule copied into the rendition as it was (a run too long to cut);
- low confidence: the geometric mean of the model's token probabilities is low;
- pivot: made through an intermediate language (informative, never low quality on its own).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from wirewatch_common.story import Quality, QualityFlag

# --- confidence ---------------------------------------------------------------------------------

LOW_CONFIDENCE = 0.35
"""Geometric-mean token probability under which a sentence or rendition is flagged.

A judgement, not a measurement (no real package can be run here): Argos models are Transformers
trained with label smoothing, which keeps a fluent beam-search output's mean token probability
around 0.5-0.8; below 0.35 (mean log-probability under -1.05) the model gave the tokens it chose
about one chance in three on average, which is where length-normalised log-probability, the
cheapest good detector of hallucinated output in the MT literature, marks output as doubtful.
Check it on installed packages with fixed sentences before relying on it.
"""
MIN_CONFIDENCE_TOKENS = 3
"""A sentence of fewer scored tokens is not flagged alone (two tokens say little); it still counts
in the rendition's confidence."""


@dataclass(frozen=True)
class TokenScores:
    """The model's log-probabilities of the tokens it chose for one sentence, summed, and their count."""

    log_prob: float
    tokens: int

    def __add__(self, other: TokenScores) -> TokenScores:
        return TokenScores(self.log_prob + other.log_prob, self.tokens + other.tokens)

    @property
    def confidence(self) -> float | None:
        """Geometric mean of the token probabilities (1 is sure), or None without tokens."""
        if self.tokens <= 0:
            return None
        return min(1.0, math.exp(self.log_prob / self.tokens))


NO_TOKENS = TokenScores(0.0, 0)


def token_scores(
    score: float, hypothesis_length: int, *, length_penalty: float, ended: bool, prefix_length: int = 0
) -> TokenScores:
    """Turn CTranslate2's hypothesis score (`return_scores=True`) back into summed token log-probabilities.

    CTranslate2 (4.x) returns the sum of the chosen tokens' log-probabilities divided by
    `steps ** length_penalty`, where `steps` counts the hypothesis's tokens plus the end token
    when decoding stopped on it (not when it hit `max_decoding_length`). Tokens of a target
    prefix are forced: they count in `steps` but their log-probabilities are not in the sum.
    Checked against `Translator.score_batch` on a test package, greedy and beam, with and
    without a length penalty, a prefix and a fixed decoding length.
    """
    steps = hypothesis_length + (1 if ended else 0)
    scored = steps - prefix_length
    if scored <= 0 or not math.isfinite(score):
        return NO_TOKENS
    total = score * steps**length_penalty if length_penalty else score
    return TokenScores(total, scored)


# --- scripts ---------------------------------------------------------------------------------------

_LATIN_LANGUAGES = """en tr az fr de es it pt nl pl sv da nb nn no fi et cs sk sl hr bs ro hu id ms vi sq ca eu
gl ga cy is lt lv mt eo tl sw so ha yo zu xh af uz tk lb"""
_SCRIPTS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("ar", "fa", "ur", "ps", "ckb", "sd", "ug"), frozenset({"ARABIC"})),
    **dict.fromkeys(("he", "yi"), frozenset({"HEBREW"})),
    **dict.fromkeys(
        ("ru", "uk", "bg", "be", "mk", "kk", "ky", "mn", "tg", "tt", "ba", "cv"), frozenset({"CYRILLIC"})
    ),
    **dict.fromkeys(("hi", "mr", "ne", "sa"), frozenset({"DEVANAGARI"})),
    "el": frozenset({"GREEK"}),
    "bn": frozenset({"BENGALI"}),
    "ta": frozenset({"TAMIL"}),
    "te": frozenset({"TELUGU"}),
    "gu": frozenset({"GUJARATI"}),
    "pa": frozenset({"GURMUKHI"}),
    "th": frozenset({"THAI"}),
    "ka": frozenset({"GEORGIAN"}),
    "hy": frozenset({"ARMENIAN"}),
    "am": frozenset({"ETHIOPIC"}),
    "ko": frozenset({"HANGUL"}),
    "zh": frozenset({"CJK"}),
    "ja": frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    **dict.fromkeys(_LATIN_LANGUAGES.split(), frozenset({"LATIN"})),
}
"""Scripts each language is written in, by Unicode character-name prefix; others are not checked."""


@cache
def script_of(ch: str) -> str | None:
    """The script of a letter, as the first word of its Unicode name (LATIN, ARABIC, CJK...)."""
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    if not name:
        return None
    first = name.split(" ", 1)[0]
    return "LATIN" if first == "FULLWIDTH" and "LATIN" in name else first


def script_counts(text: str) -> dict[str, int]:
    """Letters of a text per script."""
    counts: dict[str, int] = {}
    for ch in text:
        script = script_of(ch)
        if script is not None:
            counts[script] = counts.get(script, 0) + 1
    return counts


def dominant_script(text: str) -> str | None:
    """The script most of a text's letters are written in, or None when it has no letters."""
    counts = script_counts(text)
    return max(counts, key=lambda s: counts[s]) if counts else None


def scripts_of(language: str) -> frozenset[str] | None:
    """The scripts a language is written in, or None when this module does not know it."""
    return _SCRIPTS.get(language.split("-", 1)[0].lower())


# --- copy-through ----------------------------------------------------------------------------------

COPY_MIN_WORDS = 3
"""An identical output counts as a copy only when the source has at least this many words: a
headline of one or two words is usually a name, which a correct translation may leave as it is."""
SCRIPT_MIN_LETTERS = 8
"""Letters an output needs before its script is judged ("NATO" or "BBC" alone stay Latin in Arabic)."""
SCRIPT_SHARE = 0.5
"""Share of an output's letters in the source's script above which it counts as a copy."""

_SPACES = re.compile(r"\s+")
_SPACELESS_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"})


def _folded(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def _words(text: str) -> list[str]:
    """Split text into the words the rules compare, case and edge punctuation folded.

    A script written without spaces (Chinese, Japanese, Thai...) gives one token per character.
    """
    out: list[str] = []
    for raw in _folded(text).split(" "):
        word = raw.strip(".,;:!?\"'“”‘’«»()[]{}<>-–—…،؛؟")
        if not word:
            continue
        if any(script_of(ch) in _SPACELESS_SCRIPTS for ch in word):
            out += [ch for ch in word if not ch.isspace()]
        else:
            out.append(word)
    return out


def copy_through(source: str, output: str, target_language: str) -> bool:
    """Tell whether the output is the source again, or mostly written in the source's script.

    The script rule applies only when the target language is known to be written in scripts
    other than the one most of the source's letters are in (English into Arabic, Arabic into
    Turkish); between languages of one script only an identical output is a copy. The source's
    script is read from its letters rather than its language tag, which a mislabelled story
    would get wrong.
    """
    if len(_words(source)) >= COPY_MIN_WORDS and _folded(source) == _folded(output):
        return True
    target_scripts = scripts_of(target_language)
    source_script = dominant_script(source)
    if target_scripts is None or source_script is None or source_script in target_scripts:
        return False
    counts = script_counts(output)
    letters = sum(counts.values())
    return letters >= SCRIPT_MIN_LETTERS and counts.get(source_script, 0) / letters > SCRIPT_SHARE


# --- length ratio -----------------------------------------------------------------------------------

LENGTH_BOUNDS = (0.4, 2.5)
"""Output characters per source character (spaces not counted) accepted between two languages that
write a sentence in about as many characters; outside it a sentence was dropped or padded."""
RELATIVE_LENGTH: dict[str, float] = {
    "en": 1.0,
    "ar": 0.85,
    "fa": 0.9,
    "he": 0.8,
    "tr": 1.05,
    "de": 1.1,
    "fr": 1.1,
    "es": 1.1,
    "ru": 1.05,
    "zh": 0.3,
    "ja": 0.4,
    "ko": 0.45,
}
"""Rough characters per character of English for the same text (Arabic writes no short vowels and
joins articles and prepositions to words; Chinese writes a word in one or two characters).
The bounds of a pair are LENGTH_BOUNDS scaled by target / source; unknown languages count as 1."""
LENGTH_MIN_CHARS = 20
"""A source shorter than this is not judged: a name or a one-word headline varies too much."""


def length_bounds(source_language: str, target_language: str) -> tuple[float, float]:
    """Lowest and highest output/source character ratio accepted for a pair."""
    scale = RELATIVE_LENGTH.get(primary(target_language), 1.0) / RELATIVE_LENGTH.get(
        primary(source_language), 1.0
    )
    return LENGTH_BOUNDS[0] * scale, LENGTH_BOUNDS[1] * scale


def primary(language: str) -> str:
    """The primary subtag of a language tag, lower case."""
    return language.split("-", 1)[0].lower()


def _chars(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def length_outlier(source: str, output: str, source_language: str, target_language: str) -> bool:
    """Tell whether the output is far shorter or longer than a translation of the source should be."""
    size = _chars(source)
    if size < LENGTH_MIN_CHARS:
        return False
    low, high = length_bounds(source_language, target_language)
    return not low <= _chars(output) / size <= high


# --- repetition ---------------------------------------------------------------------------------------

REPEAT_RUN = 4
"""A phrase of 1-4 words said this many times back to back is a decoding loop."""
REPEAT_MAX_N = 4
LOOP_MIN_WORDS = 12
LOOP_SHARE = 0.4
"""With at least LOOP_MIN_WORDS words, a share of repeated three-word phrases this high (and that
much above the source's own) is a loop even when the repeats are not back to back."""


def longest_run(words: Sequence[str], max_n: int = REPEAT_MAX_N) -> int:
    """Most times any phrase of 1..max_n words occurs back to back, in one pass per phrase length.

    A phrase of n words said k times in a row makes (k - 1) * n positions in a row where a word
    equals the word n places on.
    """
    best = 1 if words else 0
    for n in range(1, max_n + 1):
        streak = 0
        for i in range(len(words) - n):
            if words[i] == words[i + n]:
                streak += 1
                best = max(best, streak // n + 1)
            else:
                streak = 0
    return best


def repeated_share(words: Sequence[str], n: int = 3) -> float:
    """Share of a text's n-word phrases that repeat an earlier one (0 for text shorter than n)."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def repetition(source: str, output: str) -> bool:
    """Tell whether the output repeats itself in a way its source does not (a decoding loop)."""
    out_words, src_words = _words(output), _words(source)
    run = longest_run(out_words)
    if run >= REPEAT_RUN and run > longest_run(src_words):
        return True
    if len(out_words) < LOOP_MIN_WORDS:
        return False
    share = repeated_share(out_words)
    return share >= LOOP_SHARE and share >= repeated_share(src_words) + LOOP_SHARE / 2


# --- one sentence, one rendition -------------------------------------------------------------------


@dataclass(frozen=True)
class SentenceOutput:
    """One sentence through one model: what went in, what came out, and what the model said of it."""

    source: str
    output: str
    source_language: str
    target_language: str
    scores: TokenScores | None = None
    """None when scores were not asked for."""
    copied_chars: int = 0
    """Source characters the length rule copied into the output untranslated."""


@dataclass(frozen=True)
class SentenceQuality:
    """The flags one sentence earned, and its token scores (summed over the hops of a pivot)."""

    flags: frozenset[QualityFlag] = frozenset()
    scores: TokenScores | None = None

    def __add__(self, other: SentenceQuality) -> SentenceQuality:
        """Combine two hops of one sentence: flags joined, token scores summed."""
        if self.scores is None or other.scores is None:
            scores = self.scores or other.scores
        else:
            scores = self.scores + other.scores
        return SentenceQuality(self.flags | other.flags, scores)

    @property
    def confidence(self) -> float | None:
        """Geometric-mean token probability of the sentence, or None without scores."""
        return self.scores.confidence if self.scores else None


def assess_sentence(sentence: SentenceOutput) -> SentenceQuality:
    """Flag one sentence.

    A sentence that holds text the length rule copied is flagged untranslated, and the
    copy-through and length checks are skipped for it: the copied run (a URL, a hash, a
    paragraph without a cut point) would trip them without the model being at fault.
    """
    s = sentence
    flags: set[QualityFlag] = set()
    if s.copied_chars > 0:
        flags.add(QualityFlag.UNTRANSLATED)
    else:
        if copy_through(s.source, s.output, s.target_language):
            flags.add(QualityFlag.COPY_THROUGH)
        if length_outlier(s.source, s.output, s.source_language, s.target_language):
            flags.add(QualityFlag.LENGTH_RATIO)
    if repetition(s.source, s.output):
        flags.add(QualityFlag.REPETITION)
    confidence = s.scores.confidence if s.scores else None
    if (
        s.scores is not None
        and confidence is not None
        and s.scores.tokens >= MIN_CONFIDENCE_TOKENS
        and confidence < LOW_CONFIDENCE
    ):
        flags.add(QualityFlag.LOW_CONFIDENCE)
    return SentenceQuality(frozenset(flags), s.scores)


def rank(quality: SentenceQuality) -> tuple[int, bool, float]:
    """Order candidate translations of one sentence, best first.

    Fewest flags first; on a tie a candidate that is not a copy, then the higher confidence. So a
    retry replaces a copy when it is no more doubtful by the other rules, but a copy (which a reader
    of the source language can still read) is kept over a candidate with more flags.
    """
    return (
        len(quality.flags),
        QualityFlag.COPY_THROUGH in quality.flags,
        -(quality.confidence if quality.confidence is not None else 0.0),
    )


def best(candidates: Sequence[tuple[str, SentenceQuality]]) -> int:
    """Index of the best candidate by `rank`; the first wins a tie, so a retry must do better to count."""
    if not candidates:
        msg = "best() needs at least one candidate translation"
        raise ValueError(msg)
    return min(range(len(candidates)), key=lambda i: rank(candidates[i][1]))


_IN_WORDS: dict[QualityFlag, str] = {
    QualityFlag.COPY_THROUGH: "copy of the source",
    QualityFlag.LENGTH_RATIO: "far shorter or longer than the source",
    QualityFlag.REPETITION: "phrase repeated in a loop",
    QualityFlag.UNTRANSLATED: "left untranslated (too long for the model)",
    QualityFlag.LOW_CONFIDENCE: "low model confidence",
}


@dataclass
class _Tally:
    sentences: int = 0
    flagged: int = 0
    per_flag: dict[QualityFlag, int] = field(default_factory=dict)
    scores: TokenScores = NO_TOKENS
    scored: bool = False


def rendition_quality(sentences: Iterable[SentenceQuality], pivot: Sequence[str] = ()) -> Quality:
    """Gather a rendition's sentences: confidence over all their tokens, flags joined, a reason in words.

    The rendition is flagged low-confidence when one of its sentences is, or when its confidence
    over all tokens is under the threshold although no sentence was long enough to be flagged.
    `pivot` names the intermediate languages; a pivot adds the PIVOT flag only.
    """
    tally = _Tally()
    for sentence in sentences:
        tally.sentences += 1
        tally.flagged += bool(sentence.flags)
        for flag in sentence.flags:
            tally.per_flag[flag] = tally.per_flag.get(flag, 0) + 1
        if sentence.scores is not None:
            tally.scored = True
            tally.scores = tally.scores + sentence.scores
    confidence = tally.scores.confidence if tally.scored else None
    flags = set(tally.per_flag)
    if confidence is not None and confidence < LOW_CONFIDENCE:
        flags.add(QualityFlag.LOW_CONFIDENCE)
    if pivot:
        flags.add(QualityFlag.PIVOT)
    ordered = [f for f in QualityFlag if f in flags]
    return Quality(
        confidence=None if confidence is None else round(confidence, 4),
        flags=ordered,
        sentences=tally.sentences,
        flagged_sentences=tally.flagged,
        reason=_reason(ordered, tally, confidence, pivot),
    )


def _reason(
    flags: Sequence[QualityFlag], tally: _Tally, confidence: float | None, pivot: Sequence[str]
) -> str | None:
    """Put the flags in words, e.g. `3 of 14 sentences flagged: copy of the source (2); ...`."""
    parts: list[str] = []
    counted = [(f, tally.per_flag[f]) for f in flags if f in tally.per_flag]
    if counted:
        noun = "sentence" if tally.sentences == 1 else "sentences"
        details = "; ".join(f"{_IN_WORDS[f]} ({n})" for f, n in counted)
        parts.append(f"{tally.flagged} of {tally.sentences} {noun} flagged: {details}")
    if QualityFlag.LOW_CONFIDENCE in flags and confidence is not None:
        parts.append(f"Model confidence {confidence:.2f} (under {LOW_CONFIDENCE:.2f})")
    if pivot:
        parts.append(f"Translated through {' and '.join(pivot)}")
    if not parts:
        return None
    text = ". ".join(parts) + "."
    return text if len(text) <= 500 else text[:499] + "…"
