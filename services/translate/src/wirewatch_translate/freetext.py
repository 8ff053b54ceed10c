"""Translate a desk's free text: check its size and languages, then translate it paragraph by paragraph.

Unlike stories (`translator`), a desk waits for the answer, so a missing pair or an untranslatable
run is an error the desk sees, not an `unavailable` rendition. Numbers and codes in a pasted table
are copied, as in stories (`units.layout`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from wirewatch_common.story import normalize_language, primary_language

from .errors import TEXT, BadLanguage, NoModel, TextTooLong, UntranslatableText
from .pairs import PackageInfo, Pair
from .segment import guess_language, split_paragraphs, split_sentences
from .translator import Translates
from .units import layout


class TranslatesText(Translates, Protocol):
    """What free-text translation needs from an engine: routes, translation, and the installed pairs."""

    def packages(self) -> Mapping[Pair, PackageInfo]:
        """Installed packages by pair, to name them when a pair is missing."""
        ...


@dataclass(frozen=True)
class TextTranslation:
    """A translated text and how it was made: the packages of its route and the pivot it went through."""

    text: str
    source: str
    target: str
    duration_ms: float
    package: str | None = None
    package_version: str | None = None
    pivot: tuple[str, ...] = ()


def language(tag: str, name: str) -> str:
    """The primary language of a BCP 47 tag, or BadLanguage naming the field (`name`) that held it."""
    try:
        return primary_language(normalize_language(tag))
    except ValueError as exc:
        raise BadLanguage(name, str(exc)) from exc


def translate_for_desk(
    engine: TranslatesText, text: str, source: str | None, target: str, *, max_chars: int
) -> TextTranslation:
    """Translate a desk's text into `target`, from `source` or, when it is not given, the guessed language.

    The length is checked before the languages, so an over-long text is refused as such whatever
    its tags.
    """
    if len(text) > max_chars:
        raise TextTooLong(len(text), max_chars)
    into = language(target, "target")
    origin = language(source, "source") if source else guess_language(text)
    return translate_text(engine, text, origin, into)


def translate_text(engine: TranslatesText, text: str, source: str, target: str) -> TextTranslation:
    """Translate free text line by line, through a pivot when needed; numbers and codes are copied."""
    started = time.perf_counter()
    if source == target:
        return TextTranslation(text=text, source=source, target=target, duration_ms=0.0)
    route = engine.route(source, target)
    if route is None:
        raise NoModel(source, target, sorted(f"{s}→{t}" for s, t in engine.packages()))
    layouts = [layout(p) for p in split_paragraphs(text)]
    paragraphs = [[split_sentences(segment, source) for segment in lay.segments] for lay in layouts]
    flat = [s for para in paragraphs for segment in para for s in segment]
    try:
        for info in route:
            flat, _ = engine.translate(info, flat)
    except UntranslatableText as exc:
        raise UntranslatableText(exc.message, where=TEXT) from exc
    rest = iter(flat)
    out = "\n".join(
        lay.render([" ".join(filter(None, (next(rest) for _ in segment))) for segment in para])
        for lay, para in zip(layouts, paragraphs, strict=True)
    )
    return TextTranslation(
        text=out,
        source=source,
        target=target,
        package=" + ".join(i.name for i in route),
        package_version=" + ".join(i.version for i in route),
        pivot=tuple(i.to_code for i in route[:-1]),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
