"""Stories in, renditions out: one per target language, with provenance, batched across stories.

Every sentence of every story that needs the same package is translated in one engine call, so
batches fill across paragraphs and stories. Paragraphs are laid out first (`units.layout`): a
table keeps its lines and cells, and its numbers and codes are copied instead of translated.
Pairs without a package pivot through English; a missing pair yields an `unavailable` rendition
instead of an error. Every translated rendition carries its quality signals (`quality`): each
sentence is judged hop by hop from the model's output and scores, and the rendition gathers them.

A sentence a package translated before comes from the translation memory (`memory`) with what
its quality was judged from, so it costs no model time and reads the same. For the consumer, a
batch is translated headlines first (`staging`): every story's headline, then summaries and first
paragraphs, then the rest, each stage still one engine call per package across stories, and a
`partial` rendition goes out after a stage when enough work is ahead. Each language's rendition
goes out as soon as its package is done with it, not when every language of the batch is.

The English made on the way (ar→en→tr) is kept as an `en` rendition (`kept_pivot`), so every
story reads in English at no extra model time. A package that cannot load (`PackageFailed`) fails
its renditions without blaming any story: the caller keeps them waiting for the package to work.
A story canceled at the source is not translated; its renditions are emptied instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import Counter, Histogram

from wirewatch_common.errors import brief
from wirewatch_common.story import Quality, RenditionStatus, Story, Translation, primary_language

from .memory import Remembered, TranslationMemory, package_key
from .pairs import PackageInfo, Route
from .quality import SentenceOutput, SentenceQuality, assess_sentence, rendition_quality
from .segment import split_sentences
from .staging import BODY, HEADLINE, SUMMARY, last_stage, plan_stages, worth_partial
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
    quality: list[SentenceQuality] | None = None  # per sentence, joined over the hops done so far

    def count(self) -> int:
        return sum(len(segment) for segment in self.sentences)

    def flat(self) -> list[str]:
        return [s for segment in self.sentences for s in segment]

    def copy(self) -> _Unit:
        quality = None if self.quality is None else list(self.quality)
        return _Unit(self.layout, [list(segment) for segment in self.sentences], quality)

    def render(self) -> str:
        return self.layout.render([" ".join(filter(None, segment)) for segment in self.sentences])


@dataclass
class _Job:
    """One story into one target language, hop by hop and stage by stage."""

    story: Story
    target: str
    route: Route
    units: list[_Unit]  # headline, summary, then each paragraph
    stages: list[list[int]]  # unit indexes per stage (`staging.plan_stages`)
    seconds: float = 0.0
    error: str | None = None  # the engine error that failed this job's package
    package_failed: bool = False  # the error was the package's (it did not load), not the text's
    kept_pivot: bool = False  # the intermediate text of another job, kept as a rendition
    done: set[int] = field(default_factory=set)  # units translated through every hop

    @property
    def last_stage(self) -> int:
        return last_stage(self.stages, [u.count() for u in self.units])

    def sentences(self, stage: int) -> list[str]:
        return [s for u in self.stages[stage] for s in self.units[u].flat()]

    def apply(self, info: PackageInfo, stage: int, done: Sequence[Remembered]) -> None:
        """Judge one hop of a stage's sentences, join them to earlier hops, and put the output in place."""
        rest = iter(done)
        for index in self.stages[stage]:
            unit = self.units[index]
            outputs = [next(rest) for _ in range(unit.count())]
            hop = [
                assess_sentence(
                    SentenceOutput(
                        source, out.output, info.from_code, info.to_code, out.scores, out.copied_chars
                    )
                )
                for source, out in zip(unit.flat(), outputs, strict=True)
            ]
            unit.quality = (
                hop if unit.quality is None else [a + b for a, b in zip(unit.quality, hop, strict=True)]
            )
            texts = iter(out.output for out in outputs)
            unit.sentences = [[next(texts) for _ in segment] for segment in unit.sentences]

    def rendition_quality(self, units: Sequence[int]) -> Quality:
        """Gather the quality signals of these units' sentences; PIVOT when the route has two hops."""
        sentences = [q for u in units for q in (self.units[u].quality or [])]
        return rendition_quality(sentences, pivot=[info.to_code for info in self.route[:-1]])


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
    if status not in (RenditionStatus.TRANSLATED, RenditionStatus.PARTIAL):
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


Emit = Callable[[list[Story]], None]
"""Publishes renditions as they are made (and waits for the broker to take them)."""

More = Callable[[], Sequence[Story]]
"""Stories that arrived while a batch was being translated, to join it (and keep its consumer alive)."""


class _Sentences:
    """The sentences one `render` call has translated or recalled, per package: each goes to a model once.

    With a translation memory, a batch's first-hop sentences are looked up in one query per
    package before anything is translated (`prefetch`), so the stages know how much model work is
    ahead of them; other sentences (a pivot's second hop) are looked up when their hop comes.
    What the model translates is written to the memory after each engine call, in one transaction.
    """

    def __init__(self, engine: Translates, memory: TranslationMemory | None, profile: str) -> None:
        self.engine = engine
        self.memory = memory
        self.profile = profile
        self.known: dict[tuple[PackageInfo, str], Remembered] = {}
        self.looked_up: set[tuple[PackageInfo, str]] = set()
        self._keys: dict[PackageInfo, str] = {}

    def _key(self, info: PackageInfo) -> str:
        key = self._keys.get(info)
        if key is None:
            key = self._keys[info] = package_key(info, self.profile)
        return key

    def _recall(self, info: PackageInfo, sentences: Sequence[str]) -> None:
        if self.memory is None:
            return
        wanted = [s for s in dict.fromkeys(sentences) if (info, s) not in self.looked_up]
        wanted = [s for s in wanted if (info, s) not in self.known]
        if not wanted:
            return
        found = self.memory.recall(self._key(info), wanted, f"{info.from_code}-{info.to_code}")
        self.looked_up.update((info, s) for s in wanted)
        self.known.update(((info, s), entry) for s, entry in found.items())

    def prefetch(self, info: PackageInfo, sentences: Sequence[str]) -> None:
        """Look sentences up in the memory at once (one query), ahead of the stage that needs them."""
        self._recall(info, sentences)

    def unknown(self, info: PackageInfo, sentences: Sequence[str]) -> int:
        """How many distinct sentences the model would still have to translate (no query)."""
        return sum(1 for s in dict.fromkeys(sentences) if (info, s) not in self.known)

    def translate(self, info: PackageInfo, sentences: Sequence[str]) -> list[Remembered]:
        """Each sentence's translation: recalled, or translated now by the engine (raises what it raises)."""
        self._recall(info, sentences)
        missing = [s for s in dict.fromkeys(sentences) if (info, s) not in self.known]
        fresh: dict[str, Remembered] = {}
        if missing:
            done = self.engine.translate_scored(info, missing)
            fresh = {
                source: Remembered(text, tokens, scores, copied)
                for source, text, tokens, scores, copied in zip(
                    missing, done.texts, done.source_tokens, done.scores, done.copied_chars, strict=True
                )
            }
            self.known.update(((info, s), entry) for s, entry in fresh.items())
        if self.memory is not None:
            self.memory.remember(self._key(info), fresh)
        return [self.known[(info, s)] for s in sentences]


class StoryTranslator:
    """Turn batches of stories into renditions through an engine, headlines first, each language when ready."""

    def __init__(
        self,
        engine: Translates,
        targets: Sequence[str],
        *,
        keep_pivot: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
        memory: TranslationMemory | None = None,
        profile: str = "",
        headlines_first: bool = True,
        lead_paragraphs: int = 2,
        partial_min_sentences: int = 8,
        slice_seconds: float = 8.0,
    ) -> None:
        self.engine = engine
        self.targets = list(targets)
        self.keep_pivot = keep_pivot
        self.memory = memory
        self.profile = profile
        """How the engine decodes (`DecodeOptions.profile`): part of every memory key."""
        self.headlines_first = headlines_first
        self.lead_paragraphs = lead_paragraphs
        self.partial_min_sentences = partial_min_sentences
        self.slice_seconds = slice_seconds
        """Model time of one slice of a batch's remaining stages when `render` is given `more`."""
        self._seconds_per_sentence: float | None = None  # measured over earlier slices
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

    def render(
        self,
        stories: Sequence[Story],
        targets: Sequence[str] | None = None,
        *,
        emit: Emit | None = None,
        more: More | None = None,
    ) -> Renditions:
        """Return renditions for every story and target, and which failed for their package's sake.

        A package that cannot load (`PackageFailed`) gives `failed` renditions for its own targets
        while the others finish, however many stories share it. Any other engine error does so for
        a single story; with several stories, or when nothing could be translated, it is raised
        instead (the consumer then retries story by story, and then dead-letters). A canceled
        story gets empty renditions without any model time. When a route pivots, the text after
        its first hop is also returned as a rendition in the pivot language (`pivot_kept`), once
        per story version.

        With `emit`, every rendition is handed to it as soon as it is made: each language when its
        own package is done with it, not when the whole batch is. With `headlines_first` as well,
        the batch is translated in stages (every headline, then summaries and first paragraphs,
        then the rest) and after each stage a `partial` rendition of what is done is emitted
        when enough model work is still ahead (`staging.worth_partial`); when so little is ahead
        that no partial would go out, the batch is translated in one stage (one engine call per
        package). With `more` too, what is left after the headlines goes in slices of about
        `slice_seconds` of model time, in the order the stories came, each story's rest in one
        stage (its lead would go out only just before it), and between two slices `more`
        is called: the stories it returns join the batch, their headlines translated at once,
        ahead of the remaining slices. The returned renditions are the full ones only (all of them
        emitted by then); partials are never returned.
        """
        staged = emit is not None and self.headlines_first
        jobs, out = self._jobs(stories, targets, staged)
        if emit is not None and out:
            emit(out)
        sentences = _Sentences(self.engine, self.memory, self.profile)
        errors: list[Exception] = []
        finished: list[Story] = []
        heads = list(jobs)  # jobs whose first stage (the headline, when staged) has not run yet
        ready: list[_Job] = []  # jobs with their later stages still to run
        while heads or ready:
            if heads:  # every headline before any story's body, those that joined too
                chunk, heads = (heads, []) if more is None else self._slice(heads, sentences, stage=0)
                started, unknown = time.perf_counter(), self._work_ahead(chunk, -1, sentences)
                started_jobs = self._start(chunk, sentences, emit, finished, errors)
                ready += started_jobs
                work = unknown - self._work_ahead(started_jobs, 0, sentences)
                if work > 0:  # measured here too, so arrivals' headlines are sliced from the first poll on
                    self._measured((time.perf_counter() - started) / work)
            else:
                if more is None:
                    part, ready = ready, []
                else:
                    part, ready = self._slice(ready, sentences)
                    for job in part:  # the rest of a story in one call: a lead would come out just before it
                        job.stages = [job.stages[0], sorted(u for stage in job.stages[1:] for u in stage)]
                started, work = time.perf_counter(), self._work_ahead(part, 0, sentences)
                stages = range(1, max(len(j.stages) for j in part))
                self._stages(part, stages, sentences, emit, finished, errors)
                if work:
                    self._measured((time.perf_counter() - started) / work)
            if more is not None and (heads or ready):
                fresh, joined = self._jobs(more(), targets, staged)
                if emit is not None and joined:
                    emit(joined)
                out += joined
                jobs += fresh
                heads += fresh
        told = [j for j in jobs if not j.kept_pivot]
        if errors and all(j.error is not None for j in told):
            raise errors[0]  # nothing translated: the engine itself may be down, so the caller retries
        failed = [self.failed(j.story, j.target, j.error) for j in told if j.error is not None]
        if emit is not None and failed:
            emit(failed)
        waiting = frozenset((j.story.id, j.story.version, j.target) for j in told if j.package_failed)
        return Renditions([*out, *finished, *failed], waiting)

    def _jobs(
        self, stories: Sequence[Story], targets: Sequence[str] | None, staged: bool
    ) -> tuple[list[_Job], list[Story]]:
        """One job per story and target with a route (and per kept pivot); the renditions made without one."""
        jobs: list[_Job] = []
        out: list[Story] = []
        for story in stories:
            source = primary_language(story.language)
            units: list[_Unit] | None = None
            stages: list[list[int]] = []
            wanted = targets_for(story, self.targets if targets is None else targets)
            if story.pubstatus == "canceled":
                out += self._canceled(story, wanted)
                continue
            kept = False
            for target in wanted:
                route = self.engine.route(source, target)
                if route is None:
                    out.append(self.unavailable(story, target, f"no model installed for {source}→{target}"))
                    continue
                if units is None:
                    units = _units(story)
                    counts = [u.count() for u in units]
                    stages = plan_stages(counts, lead=self.lead_paragraphs, headlines_first=staged)
                jobs.append(_Job(story, target, route, [u.copy() for u in units], stages))
                if not kept and self.pivot_kept(story, route) is not None:
                    kept = True  # the first hop's text, as a rendition of its own, once per story version
                    first = route[0]
                    copies = [u.copy() for u in units]
                    jobs.append(_Job(story, first.to_code, (first,), copies, stages, kept_pivot=True))
        return jobs, out

    def _start(
        self,
        jobs: list[_Job],
        sentences: _Sentences,
        emit: Emit | None,
        finished: list[Story],
        errors: list[Exception],
    ) -> list[_Job]:
        """Look the jobs' text up in the memory, run their first stage, and return those with more to do.

        Jobs with nothing to translate are finished at once. When so little model work is left after
        the first stage that no partial would be published, every job is put in one stage instead,
        so each package gets one engine call for the lot rather than one per stage.
        """
        first_hop: dict[PackageInfo, list[str]] = {}
        for job in jobs:
            if not job.kept_pivot:
                texts = [s for k in range(len(job.stages)) for s in job.sentences(k)]
                first_hop.setdefault(job.route[0], []).extend(texts)
        for info, texts in first_hop.items():
            sentences.prefetch(info, texts)
        when = self._clock()
        done = []
        for job in jobs:
            if job.last_stage < 0:  # nothing to translate: every unit is copied as it is
                job.done.update(range(len(job.units)))
                done.append(self._finish(job, when))
        finished += done
        if emit is not None and done:
            emit(done)
        if not worth_partial(self._work_ahead(jobs, 0, sentences), self.partial_min_sentences):
            for job in jobs:
                job.stages = [sorted(u for stage in job.stages for u in stage)]
        self._stages(jobs, range(1), sentences, emit, finished, errors)
        return [j for j in jobs if j.error is None and j.last_stage > 0]

    def _stages(
        self,
        jobs: Sequence[_Job],
        stages: range,
        sentences: _Sentences,
        emit: Emit | None,
        finished: list[Story],
        errors: list[Exception],
    ) -> None:
        """Run these stages of the jobs, hop by hop, emitting each group's renditions when its package is done."""
        for stage in stages:
            ahead = self._work_ahead(jobs, stage, sentences)
            working = [j for j in jobs if j.error is None and 0 <= stage <= j.last_stage]
            for hop in range(max((len(j.route) for j in working), default=0)):
                active = [j for j in working if j.error is None and len(j.route) > hop]
                for group in self._run_hop(stage, hop, active, sentences, errors):
                    made = self._made(group, stage, hop, ahead)
                    finished += [r for r in made if _status(r) is not RenditionStatus.PARTIAL]
                    if emit is not None and made:
                        emit(made)

    def _measured(self, rate: float) -> None:
        """Fold the model seconds per sentence of a slice just run into the running estimate."""
        last = self._seconds_per_sentence
        self._seconds_per_sentence = rate if last is None else 0.5 * rate + 0.5 * last

    def _slice(
        self, ready: list[_Job], sentences: _Sentences, stage: int | None = None
    ) -> tuple[list[_Job], list[_Job]]:
        """The jobs of the first stories whose model work fits a slice (one story at least), and the rest.

        The work is what remains after the first stage, or with `stage` that stage's own. The
        time is estimated from the model seconds per sentence of earlier slices; before any was
        measured, a slice holds one story's remaining work, or every story's first stage.
        """
        stories: dict[tuple[str, int], list[_Job]] = {}
        for job in ready:
            stories.setdefault((job.story.id, job.story.version), []).append(job)
        rate = self._seconds_per_sentence
        if rate is None and stage is not None:
            return ready, []
        part: list[_Job] = []
        seconds = 0.0
        for mine in stories.values():
            work = self._work_ahead(mine, 0, sentences) if stage is None else self._stage_work(mine, stage)
            cost = work * (rate or 0.0)
            if part and (rate is None or seconds + cost > self.slice_seconds):
                break
            part += mine
            seconds += cost
        taken = {id(j) for j in part}
        return part, [j for j in ready if id(j) not in taken]

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

    @staticmethod
    def _stage_work(jobs: Sequence[_Job], stage: int) -> int:
        """Sentences the model translates in one stage of these jobs (every hop, memory not consulted)."""
        return sum(len(j.sentences(stage)) * len(j.route) for j in jobs if not j.kept_pivot)

    def _work_ahead(self, jobs: Sequence[_Job], stage: int, sentences: _Sentences) -> int:
        """Sentences the model still has to translate in the stages after `stage`, over the whole batch.

        First-hop sentences are counted once per package when neither the memory nor this batch
        holds them; a pivot's later hops are counted as many again (their text is not known yet).
        """
        per_package: dict[PackageInfo, list[str]] = {}
        later_hops = 0
        for job in jobs:
            if job.error is not None or job.kept_pivot:
                continue
            texts = [s for k in range(stage + 1, len(job.stages)) for s in job.sentences(k)]
            per_package.setdefault(job.route[0], []).extend(texts)
            if len(job.route) > 1:
                later_hops += sentences.unknown(job.route[0], texts) * (len(job.route) - 1)
        return later_hops + sum(sentences.unknown(info, texts) for info, texts in per_package.items())

    def _run_hop(
        self, stage: int, hop: int, jobs: list[_Job], sentences: _Sentences, errors: list[Exception]
    ) -> Iterator[list[_Job]]:
        """Translate one hop of one stage of every job, package by package; yield each group when done.

        Packages with the least model work go first, so the languages that are quick are published
        first. A package that fails fails its jobs only; errors that may be a story's fault (not a
        package that does not load) are added to `errors`, or raised when the group holds several
        stories (the consumer then retries story by story).
        """
        by_package: dict[PackageInfo, list[_Job]] = {}
        for job in jobs:
            by_package.setdefault(job.route[hop], []).append(job)
        texts = {info: [s for j in group for s in j.sentences(stage)] for info, group in by_package.items()}
        order = sorted(by_package, key=lambda info: sentences.unknown(info, texts[info]))
        for info in order:
            group = by_package[info]
            started = time.perf_counter()
            try:
                done = sentences.translate(info, texts[info])
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
            shares: list[tuple[_Job, list[Remembered], int]] = []
            position = 0
            for job in group:
                count = len(job.sentences(stage))
                mine = done[position : position + count]
                shares.append((job, mine, sum(d.source_tokens for d in mine)))
                position += count
            # a kept pivot repeats its story's first hop: it costs the same, and adds nothing to the call
            total_tokens = max(1, sum(tokens for job, _, tokens in shares if not job.kept_pivot))
            for job, mine, tokens in shares:
                job.seconds += elapsed * tokens / total_tokens
                job.apply(info, stage, mine)
            yield group

    def _made(self, group: Sequence[_Job], stage: int, hop: int, ahead: int) -> list[Story]:
        """Renditions the jobs of a group are ready for after this hop: full when done, else a partial if worth it."""
        made: list[Story] = []
        when = self._clock()
        for job in group:
            if hop != len(job.route) - 1:
                continue
            job.done.update(job.stages[stage])
            if stage >= job.last_stage:
                job.done.update(range(len(job.units)))
                made.append(self._finish(job, when))
            elif not job.kept_pivot and worth_partial(ahead, self.partial_min_sentences):
                partial = self._finish(job, when, partial=True)
                if partial.headline.strip():
                    made.append(partial)
        return made

    def _finish(self, job: _Job, when: datetime, *, partial: bool = False) -> Story:
        """The rendition of a job: the whole story, or (`partial`) the headline and paragraphs done so far."""
        rendered = [unit.render() if i in job.done else None for i, unit in enumerate(job.units)]
        body: list[str] = []
        for paragraph in rendered[BODY:]:
            if paragraph is None:
                break
            body.append(paragraph)
        headline = _within_limit(rendered[HEADLINE] or (body[0] if body else ""), "headline")
        summary = _within_limit(rendered[SUMMARY] or "", "summary")
        status = RenditionStatus.PARTIAL if partial else RenditionStatus.TRANSLATED
        RENDITIONS.labels(job.target, status.value).inc()
        quality = job.rendition_quality(sorted(job.done))
        pair = f"{primary_language(job.story.language)}-{job.target}"
        if not partial:
            for flag in quality.flags:
                QUALITY_FLAGS.labels(pair, flag.value).inc()
            if quality.confidence is not None:
                CONFIDENCE.labels(pair).observe(quality.confidence)
        return _rendition(
            job.story,
            job.target,
            status,
            when=when,
            headline=headline,
            summary=summary or None,
            body=body,
            package=" + ".join(info.name for info in job.route),
            package_version=" + ".join(info.version for info in job.route),
            pivot=[info.to_code for info in job.route[:-1]],
            duration_ms=round(job.seconds * 1000, 3),
            quality=quality,
            test_package=any(info.test for info in job.route),
            kept_pivot=job.kept_pivot,
        )


def _status(rendition: Story) -> RenditionStatus | None:
    return rendition.translation.status if rendition.translation else None
