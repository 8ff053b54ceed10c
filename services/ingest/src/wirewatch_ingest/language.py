"""Offline language detection with py3langid's model (shipped in its wheel), scored in float32.

py3langid keeps its naive Bayes table in float16; every call gathers a few hundred rows and
converts them to float32 in software, which is more than half the cost of a classification.
This module walks py3langid's own byte DFA, packed so that each byte costs one table lookup, and
scores against a float32 copy of the same table, converted once at load: the same features and the
same decisions for about half the time per story, at the price of about 60 MB more resident
memory (the packed DFA and the float32 table, built in about 0.6 s on first use).
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

MIN_DETECT_CHARS = 20
DETECT_SAMPLE_CHARS = 300  # headline and lead suffice; the detector's cost grows with the text
MIN_CONFIDENCE = 0.5
_FEATURE_BITS = 18
_FEATURE_MASK = (1 << _FEATURE_BITS) - 1


@dataclass(frozen=True)
class LanguageModel:
    """py3langid's tokenizer DFA and naive Bayes tables, the table as float32."""

    transitions: Any  # packed DFA: (row base of the next state << 18) | (its feature + 1), or 0
    start: int  # row base of the start state
    weights: Any  # float32 array, features x classes
    prior: Any  # float32 array, one per class
    classes: list[str]
    aliases: list[tuple[int, int]]  # (first, duplicate) columns of a label listed twice

    @classmethod
    def load(cls) -> LanguageModel:
        """Read the model shipped in the py3langid wheel and pack it (about 0.6 s, once per process)."""
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        first: dict[str, int] = {}
        aliases: list[tuple[int, int]] = []
        for index, label in enumerate(identifier.nb_classes):
            if label in first:
                aliases.append((first[label], index))
            else:
                first[label] = index
        # One table lookup per byte instead of three (next state, its row, its feature): the walk
        # misses the cache far less between stories. Feature indices fit in 18 bits.
        rowbase = np.asarray(identifier.tk_row, dtype=np.int64) << 8
        output = np.asarray(identifier.tk_output, dtype=np.int64)
        nextmove = np.frombuffer(identifier.tk_nextmove, dtype=np.dtype(identifier.tk_nextmove.typecode))
        assert output.max() + 1 < _FEATURE_MASK, "feature indices fit the packed table"
        packed = rowbase[nextmove]  # built in place: the temporaries would double the peak memory
        packed <<= _FEATURE_BITS
        emitted = output[nextmove]
        emitted += 1
        packed |= emitted
        del emitted
        return cls(
            transitions=packed.data,  # a memoryview: indexing it gives plain ints, fast
            start=int(rowbase[0]),
            weights=np.ascontiguousarray(identifier.nb_ptc, dtype=np.float32),
            prior=np.asarray(identifier.nb_pc, dtype=np.float32),
            classes=[str(c) for c in identifier.nb_classes],
            aliases=aliases,
        )

    def classify(self, text: str) -> tuple[str, float]:
        """Return the most likely language and its probability (py3langid's `norm_probs` calibration)."""
        if text.isupper():
            text = text.lower()
        data = unicodedata.normalize("NFC", text).encode("utf-8", errors="surrogatepass")
        visits = self._features(data)
        if visits:
            rows = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
            counts = np.fromiter(visits.values(), dtype=np.float32, count=len(visits))
            scores = np.log1p(counts) @ self.weights[rows] + self.prior
        else:  # no feature at all: uniform, as py3langid answers, below any useful confidence
            scores = np.zeros(len(self.classes), dtype=np.float32)
        scores *= 1.0 / math.sqrt(len(data) or 1)  # py3langid: temperature sqrt(bytes)
        np.exp(scores - scores.max(), out=scores)
        scores /= scores.sum()
        for keep, duplicate in self.aliases:
            scores[keep] += scores[duplicate]
            scores[duplicate] = 0.0
        best = int(scores.argmax())
        return self.classes[best], float(scores[best])

    def _features(self, data: bytes) -> Counter[int]:
        """Walk the tokenizer DFA over the bytes and count the n-gram features it emits (py3langid's walk)."""
        table = self.transitions
        position = self.start
        found: list[int] = []
        emit = found.append
        for byte in data:
            entry = table[position + byte]
            position = entry >> _FEATURE_BITS
            feature = entry & _FEATURE_MASK
            if feature:
                emit(feature - 1)
        return Counter(found)


@cache
def language_model() -> LanguageModel:
    """The process's one model, loaded on first use."""
    return LanguageModel.load()


def detect_language(text: str) -> str | None:
    """Detect the language of a bounded prefix of `text`; None when unsure or too short.

    Only the first DETECT_SAMPLE_CHARS characters are read (callers pass headline and lead):
    the detector's cost grows with its input, and a headline plus a lead decide the language.
    """
    sample = text[:DETECT_SAMPLE_CHARS]
    if len(sample.strip()) < MIN_DETECT_CHARS:
        return None
    lang, confidence = language_model().classify(sample)
    return lang if confidence >= MIN_CONFIDENCE else None
