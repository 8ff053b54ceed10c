"""Stories in, renditions out: one per target language, with provenance, batched across stories.

Every sentence of every story that needs the same package is translated in one engine call, so
batches fill across paragraphs and stories. Paragraphs are laid out first (`units.layout`): a
table keeps its lines and cells, and its numbers and codes are copied instead of translated.
Pairs without a package pivot through English; a missing pair yields an `unavailable` rendition
instead of an error. Every translated rendition carries its quality signals (`quality`): each
sentence is judged hop by hop from the model's output and scores, and the rendition gathers them.

The English made on the way (ar→en→tr) is kept as an `en` rendition (`kept_pivot`), so every
story reads in English at no extra model time. A package that cannot load (`PackageFailed`) fails
its renditions without blaming any story: the caller keeps them waiting for the package to work.
A story canceled at the source is not translated; its renditions are emptied instead.
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
CANCELED = "canceled at the source: not translated, earlier renditions withdrawn"


class PackageFailed(RuntimeError):
    """A package cannot translate at all (its model or tokenizer does not load); no story's text is the cause.

    Engines raise it so the translator can tell a broken package, whose renditions wait for it to
    be repaired, from a story that breaks the engine, which is retried and then given up on.
    """

    def __init__(self, package: str, version: str, cause: BaseException) -> None:
        super().__init__(f"package {package} {version} could not be loaded: {type(cause).__name__}: {cause}")
        self.package = package
        self.version = version


class Translates(Protocol):
    """What the story translator needs from an engine (the real one, or a test's)."""

    def route(self, source: str, target: str) -> Route | None:
        """Packages from source to target, or None."""
        ...

    def translate(self, info: PackageInfo, sentences: Sequence[str]) -> tuple[list[str], list[int]]:
        """Translated sentences and their source token counts."""
        ...

    def translate_scored(self, info: PackageInfo, sentences: Sequence[str]) -> Translated:
        """Translated sentences with their source token counts, scores and untranslated characters.

        Raises `PackageFailed` when the package itself cannot be used.
        """
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
    package_failed: bool = False  # the error was the package's (it did not load), not the text's
    quality: list[SentenceQuality] | None = None  # per sentence, joined over the hops done so far
    kept_pivot: bool = False  # the intermediate text of another job, kept as a rendition

    def pivot_copy(self) -> _Job:
        """This job as it stands after its first hop: the pivot language's text, as a rendition of its own."""
        units = [_Unit(u.layout, [list(segment) for segment in u.sentences]) for u in self.units]
        first = self.route[0]
        quality = None if self.quality is None else list(self.quality)
        return _Job(
            self.story, first.to_code, (first,), units, self.seconds, quality=quality, kept_pivot=True
        )

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


@dataclass(frozen=True)
class Renditions:
    """What one call made: every rendition, and which `failed` ones a broken package caused."""

    stories: list[Story]
    package_failed: frozenset[tuple[str, int, str]] = frozenset()
    """(story id, version, target) of the renditions that failed because their package did."""

    def waits_for_package(self, rendition: Story) -> bool:
        """Whether a rendition failed because its package did (it is made again once the package works)."""
        t = rendition.translation
        return t is not None and (t.of_id, t.of_version, t.target_language) in self.package_failed


class StoryTranslator:
    """Turn batches of stories into renditions through an engine."""

    def __init__(
        self,
        engine: Translates,
        targets: Sequence[str],
        *,
        keep_pivot: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self.engine = engine
        self.targets = list(targets)
        self.keep_pivot = keep_pivot
        self._clock = clock
        self._reported_missing: set[tuple[str, str]] = set()
        self._reported_broken: set[tuple[str, str]] = set()  # (package, version) that did not load

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

    def canceled(self, story: Story, target: str) -> Story:
        """An empty rendition of a canceled story: it replaces, in the index, what was translated before."""
        RENDITIONS.labels(target, RenditionStatus.UNAVAILABLE.value).inc()
        return _rendition(story, target, RenditionStatus.UNAVAILABLE, when=self._clock(), error=CANCELED)

    def forget_missing(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Log a pair again if it goes missing after it was installed."""
        self._reported_missing.difference_update(pairs)

    def pivot_kept(self, story: Story, route: Route) -> str | None:
        """The language whose intermediate text this route's first hop leaves, when it is kept as a rendition.

        Kept only for a two-hop route, when the setting is on, and when the intermediate language
        is neither the story's own nor one of the service's targets (a target gets its own rendition).
        """
        if not self.keep_pivot or len(route) < 2:
            return None
        pivot = primary_language(route[0].to_code)
        if pivot == primary_language(story.language) or pivot in targets_for(story, self.targets):
            return None
        return pivot

    def translate(self, stories: Sequence[Story], targets: Sequence[str] | None = None) -> list[Story]:
        """Return renditions for every story and target (see `render`)."""
        return self.render(stories, targets).stories

    def render(self, stories: Sequence[Story], targets: Sequence[str] | None = None) -> Renditions:
        """Return renditions for every story and target, and which failed for their package's sake.

        A package that cannot load (`PackageFailed`) gives `failed` renditions for its own targets
        while the others finish, however many stories share it. Any other engine error does so for
        a single story; with several stories, or when nothing could be translated, it is raised
        instead (the consumer then retries story by story, and then dead-letters). A canceled
        story gets empty renditions without any model time. When a route pivots, the text after
        its first hop is also returned as a rendition in the pivot language (`pivot_kept`), once
        per story version.
        """
        jobs: list[_Job] = []
        out: list[Story] = []
        for story in stories:
            source = primary_language(story.language)
            units: list[_Unit] | None = None
            wanted = targets_for(story, self.targets if targets is None else targets)
            if story.pubstatus == "canceled":
                out += self._canceled(story, wanted)
                continue
            for target in wanted:
                route = self.engine.route(source, target)
                if route is None:
                    out.append(self.unavailable(story, target, f"no model installed for {source}→{target}"))
                    continue
                units = units or _units(story)
                copies = [_Unit(u.layout, [list(segment) for segment in u.sentences]) for u in units]
                jobs.append(_Job(story, target, route, copies))
        hops = max((len(j.route) for j in jobs), default=0)
        errors: list[Exception] = []
        kept: list[_Job] = []
        for hop in range(hops):
            errors += self._run_hop(hop, [j for j in jobs if len(j.route) > hop and j.error is None])
            if hop == 0:
                kept = self._kept_pivots(jobs)
        if errors and all(j.error is not None for j in jobs):
            raise errors[0]  # nothing translated: the engine itself may be down, so the caller retries
        when = self._clock()
        for job in [*jobs, *kept]:
            out.append(
                self.failed(job.story, job.target, job.error) if job.error else self._finish(job, when)
            )
        waiting = frozenset((j.story.id, j.story.version, j.target) for j in jobs if j.package_failed)
        return Renditions(out, waiting)

    def _canceled(self, story: Story, targets: Sequence[str]) -> list[Story]:
        """Empty renditions for each target, and for a kept pivot language the story could have had."""
        source = primary_language(story.language)
        languages = list(targets)
        for target in targets:
            route = self.engine.route(source, target)
            pivot = None if route is None else self.pivot_kept(story, route)
            if pivot is not None and pivot not in languages:
                languages.append(pivot)
        log.info(
            "canceled story not translated; its renditions are withdrawn",
            extra={"story_id": story.id, "version": story.version, "languages": languages},
        )
        return [self.canceled(story, language) for language in languages]

    def _kept_pivots(self, jobs: Sequence[_Job]) -> list[_Job]:
        """The pivot text of each story version after the first hop, once, from its first job that pivoted."""
        kept: dict[tuple[str, int], _Job] = {}
        for job in jobs:
            key = (job.story.id, job.story.version)
            if job.error is None and key not in kept and self.pivot_kept(job.story, job.route) is not None:
                kept[key] = job.pivot_copy()
        return list(kept.values())

    def _run_hop(self, hop: int, jobs: list[_Job]) -> list[Exception]:
        """Translate one hop of every job, package by package; a package that fails fails its jobs only.

        Returns the errors that may be a story's fault; a package that does not load is not one.
        """
        by_package: dict[PackageInfo, list[_Job]] = {}
        errors: list[Exception] = []
        for job in jobs:
            by_package.setdefault(job.route[hop], []).append(job)
        for info, group in by_package.items():
            flat = [s for job in group for s in job.sentences()]
            started = time.perf_counter()
            try:
                done = self.engine.translate_scored(info, flat)
            except PackageFailed as exc:
                if (info.name, info.version) not in self._reported_broken:  # once, not per batch
                    self._reported_broken.add((info.name, info.version))
                    log.error(
                        "translation package cannot be used; its renditions wait until it works",
                        extra={"package": info.name, "version": info.version, "error": brief(exc)},
                    )
                for job in group:
                    job.error = f"{type(exc).__name__}: {exc}"
                    job.package_failed = True
                continue
            except Exception as exc:
                if len({(j.story.id, j.story.version) for j in group}) > 1:
                    raise  # one story may be the cause: the consumer retries the batch story by story
                log.error("translation package failed", extra={"package": info.name, "error": brief(exc)})
                for job in group:
                    job.error = f"{type(exc).__name__}: {exc}"
                errors.append(exc)
                continue
            elapsed = time.perf_counter() - started
            if (info.name, info.version) in self._reported_broken:
                self._reported_broken.discard((info.name, info.version))
                log.info(
                    "translation package works again", extra={"package": info.name, "version": info.version}
                )
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
            kept_pivot=job.kept_pivot,
        )
