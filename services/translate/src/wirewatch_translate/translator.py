"""Stories in, renditions out: one per target language, with provenance, batched across stories.

Every sentence of every story that needs the same package is translated in one engine call, so
batches fill across paragraphs and stories. Paragraphs are laid out first (`units.layout`): a
table keeps its lines and cells, and its numbers and codes are copied instead of translated.
Pairs without a package pivot through English; a missing pair yields an `unavailable` rendition
instead of an error. Every translated rendition carries its quality signals (`quality`): each
sentence is judged hop by hop from the model's output and scores, and the rendition gathers them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import Counter, Histogram

from wirewatch_common.errors import brief
from wirewatch_common.story import Quality, RenditionStatus, Story, Translation, primary_language

from .pairs import PackageInfo, Route
from .quality import SentenceOutput, SentenceQuality, assess_sentence, rendition_quality
from .segment import split_sentences
from .units import Layout, layout

if TYPE_CHECKING:
    from .engine import Translated

log = logging.getLogger(__name__)

RENDITIONS = Counter("wirewatch_renditions_total", "Renditions produced.", ["target", "status"])
UNAVAILABLE = Counter(
    "wirewatch_renditions_unavailable_total",
    "Renditions without a model for their pair.",
    ["source", "target"],
)
QUALITY_FLAGS = Counter(
    "wirewatch_translate_quality_flags_total",
    "Translated renditions carrying a quality flag, per rendition pair (e.g. ar-tr) and flag.",
    ["pair", "flag"],
)
CONFIDENCE = Histogram(
    "wirewatch_translate_confidence",
    "Confidence of translated renditions: geometric mean of the model's token probabilities.",
    ["pair"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
ENGINE = "argos-translate"


class Translates(Protocol):
    """What the story translator needs from an engine (the real one, or a test's)."""

    def route(self, source: str, target: str) -> Route | None:
        """Packages from source to target, or None."""
        ...

    def translate(self, info: PackageInfo, sentences: Sequence[str]) -> tuple[list[str], list[int]]:
        """Translated sentences and their source token counts."""
        ...

    def translate_scored(self, info: PackageInfo, sentences: Sequence[str]) -> Translated:
        """Translated sentences with their source token counts, scores and untranslated characters."""
        ...


@dataclass
class _Unit:
    """A headline, summary or paragraph: its layout, and the sentences of each of its segments."""

    layout: Layout
    sentences: list[list[str]]  # per segment; source sentences, then their translations

    def render(self) -> str:
        return self.layout.render([" ".join(filter(None, segment)) for segment in self.sentences])


@dataclass
class _Job:
    """One story into one target language, hop by hop."""

    story: Story
    target: str
    route: Route
    units: list[_Unit]  # headline, summary, then each paragraph
    seconds: float = 0.0
    error: str | None = None  # the engine error that failed this job's package
    quality: list[SentenceQuality] | None = None  # per sentence, joined over the hops done so far

    def sentences(self) -> list[str]:
        return [s for unit in self.units for segment in unit.sentences for s in segment]

    def replace(self, translated: Sequence[str]) -> None:
        rest = iter(translated)
        for unit in self.units:
            unit.sentences = [[next(rest) for _ in segment] for segment in unit.sentences]

    def judge(self, info: PackageInfo, done: Translated, start: int) -> None:
        """Judge this job's sentences after one hop (`done` from `start` on) and join them to earlier hops."""
        sources = self.sentences()
        hop = [
            assess_sentence(
                SentenceOutput(
                    source,
                    done.texts[start + i],
                    info.from_code,
                    info.to_code,
                    done.scores[start + i],
                    done.copied_chars[start + i],
                )
            )
            for i, source in enumerate(sources)
        ]
        self.quality = (
            hop if self.quality is None else [a + b for a, b in zip(self.quality, hop, strict=True)]
        )

    def rendition_quality(self) -> Quality:
        """Gather the rendition's quality signals from its sentences; PIVOT when the route has two hops."""
        return rendition_quality(self.quality or [], pivot=[info.to_code for info in self.route[:-1]])


def _units(story: Story) -> list[_Unit]:
    """Lay out a story's headline, summary and paragraphs and split their segments into sentences."""
    lang = primary_language(story.language)
    units = []
    for text in [story.headline, story.summary or "", *story.body]:
        shape = layout(text)
        units.append(_Unit(shape, [split_sentences(segment, lang) for segment in shape.segments]))
    return units


def targets_for(story: Story, targets: Sequence[str]) -> list[str]:
    """Target languages a story needs: never its own language (its original serves)."""
    own = primary_language(story.language)
    return [t for t in dict.fromkeys(primary_language(t) for t in targets) if t != own]


def _rendition(story: Story, target: str, status: RenditionStatus, *, when: datetime, **extra: Any) -> Story:
    fields = story.model_dump(exclude={"translation", "language_detected", "language"})
    provenance = Translation(
        of_id=story.id,
        of_version=story.version,
        source_language=primary_language(story.language),
        target_language=target,
        status=status,
        engine=ENGINE,
        translated_at=when,
        **{k: v for k, v in extra.items() if k in Translation.model_fields},
    )
    texts = {k: v for k, v in extra.items() if k in ("headline", "summary", "body")}
    if status is not RenditionStatus.TRANSLATED:
        texts = {"headline": "", "summary": None, "body": []}
    return Story.model_validate({**fields, **texts, "language": target, "translation": provenance})


def _within_limit(text: str, field: str) -> str:
    """Shorten a translated headline or summary that came out longer than the contract allows.

    A translation may run longer than its source; failing the whole rendition for it would be worse.
    """
    limit = next((m.max_length for m in Story.model_fields[field].metadata if hasattr(m, "max_length")), None)
    if limit is None or len(text) <= limit:
        return text
    log.warning(
        "translated text shortened to the contract's limit", extra={"field": field, "chars": len(text)}
    )
    cut = text[: limit - 1]
    return (cut.rsplit(None, 1)[0] if " " in cut else cut) + "…"


class StoryTranslator:
    """Turn batches of stories into renditions through an engine."""

    def __init__(
        self,
        engine: Translates,
        targets: Sequence[str],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self.engine = engine
        self.targets = list(targets)
        self._clock = clock
        self._reported_missing: set[tuple[str, str]] = set()

    def unavailable(self, story: Story, target: str, reason: str) -> Story:
        """An `unavailable` rendition, counted; logged once per pair until that pair is installed."""
        source = primary_language(story.language)
        UNAVAILABLE.labels(source, target).inc()
        RENDITIONS.labels(target, RenditionStatus.UNAVAILABLE.value).inc()
        if (source, target) not in self._reported_missing:
            self._reported_missing.add((source, target))
            log.warning(
                "no model for language pair; renditions are marked unavailable until one is installed",
                extra={"source": source, "target": target, "reason": reason},
            )
        return _rendition(story, target, RenditionStatus.UNAVAILABLE, when=self._clock(), error=reason)

    def failed(self, story: Story, target: str, error: str) -> Story:
        """A `failed` rendition carrying the engine's error."""
        RENDITIONS.labels(target, RenditionStatus.FAILED.value).inc()
        return _rendition(story, target, RenditionStatus.FAILED, when=self._clock(), error=error[:2000])

    def forget_missing(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Log a pair again if it goes missing after it was installed."""
        self._reported_missing.difference_update(pairs)

    def translate(self, stories: Sequence[Story], targets: Sequence[str] | None = None) -> list[Story]:
        """Return renditions for every story and target.

        For a single story, a package that fails gives `failed` renditions for its own targets while
        the others finish; with several stories, or when nothing could be translated, the error is
        raised instead (the consumer then retries story by story, and then dead-letters).
        """
        jobs: list[_Job] = []
        out: list[Story] = []
        for story in stories:
            source = primary_language(story.language)
            units: list[_Unit] | None = None
            for target in targets_for(story, self.targets if targets is None else targets):
                route = self.engine.route(source, target)
                if route is None:
                    out.append(self.unavailable(story, target, f"no model installed for {source}→{target}"))
                    continue
                units = units or _units(story)
                copies = [_Unit(u.layout, [list(segment) for segment in u.sentences]) for u in units]
                jobs.append(_Job(story, target, route, copies))
        hops = max((len(j.route) for j in jobs), default=0)
        errors: list[Exception] = []
        for hop in range(hops):
            errors += self._run_hop(hop, [j for j in jobs if len(j.route) > hop and j.error is None])
        if errors and all(j.error is not None for j in jobs):
            raise errors[0]  # nothing translated: the engine itself may be down, so the caller retries
        when = self._clock()
        for job in jobs:
            out.append(
                self.failed(job.story, job.target, job.error) if job.error else self._finish(job, when)
            )
        return out

    def _run_hop(self, hop: int, jobs: list[_Job]) -> list[Exception]:
        """Translate one hop of every job, package by package; a package that fails fails its jobs only."""
        by_package: dict[PackageInfo, list[_Job]] = {}
        errors: list[Exception] = []
        for job in jobs:
            by_package.setdefault(job.route[hop], []).append(job)
        for info, group in by_package.items():
            flat = [s for job in group for s in job.sentences()]
            started = time.perf_counter()
            try:
                done = self.engine.translate_scored(info, flat)
            except Exception as exc:
                if len({(j.story.id, j.story.version) for j in group}) > 1:
                    raise  # one story may be the cause: the consumer retries the batch story by story
                log.error("translation package failed", extra={"package": info.name, "error": brief(exc)})
                for job in group:
                    job.error = f"{type(exc).__name__}: {exc}"
                errors.append(exc)
                continue
            elapsed = time.perf_counter() - started
            lengths = done.source_tokens
            total_tokens = max(1, sum(lengths))
            position = 0
            for job in group:
                count = len(job.sentences())
                share = sum(lengths[position : position + count]) / total_tokens
                job.seconds += elapsed * share
                job.judge(info, done, position)
                job.replace(done.texts[position : position + count])
                position += count
        return errors

    def _finish(self, job: _Job, when: datetime) -> Story:
        rendered = [unit.render() for unit in job.units]
        joined, body = rendered[:2], rendered[2:]
        headline = _within_limit(joined[0] or (body[0] if body else ""), "headline")
        joined[1] = _within_limit(joined[1], "summary")
        RENDITIONS.labels(job.target, RenditionStatus.TRANSLATED.value).inc()
        quality = job.rendition_quality()
        pair = f"{primary_language(job.story.language)}-{job.target}"
        for flag in quality.flags:
            QUALITY_FLAGS.labels(pair, flag.value).inc()
        if quality.confidence is not None:
            CONFIDENCE.labels(pair).observe(quality.confidence)
        return _rendition(
            job.story,
            job.target,
            RenditionStatus.TRANSLATED,
            when=when,
            headline=headline,
            summary=joined[1] or None,
            body=body,
            package=" + ".join(info.name for info in job.route),
            package_version=" + ".join(info.version for info in job.route),
            pivot=[info.to_code for info in job.route[:-1]],
            duration_ms=round(job.seconds * 1000, 3),
            quality=quality,
            test_package=any(info.test for info in job.route),
        )
