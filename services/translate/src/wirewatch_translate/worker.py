"""The consumer side: stories in, renditions out, and re-translation once a missing or broken model works."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from wirewatch_common.bus import DeliveryError, Message, Producer, Stopping, TransientError
from wirewatch_common.errors import brief
from wirewatch_common.story import RenditionStatus, Story, primary_language

from .engine import Engine
from .pending import PendingEntry, PendingStore
from .translator import Renditions, StoryTranslator, targets_for

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Story]], None]
Between = Callable[[Sequence[Message]], Sequence[Message]]
"""The consumer's `between`: commits the messages reported done, polls, returns the messages joining."""


def publisher(producer: Producer, topic: str) -> Publish:
    """Publish renditions and wait for the broker; a broker problem is transient, never the story's fault."""

    def publish(renditions: Sequence[Story]) -> None:
        if not renditions:
            return
        try:
            producer.publish_stories(topic, renditions)
        except DeliveryError as exc:
            raise TransientError(str(exc)) from exc

    return publish


def record(store: PendingStore, originals: dict[tuple[str, int], Story], renditions: Renditions) -> None:
    """Remember stories whose renditions wait for a package; forget those now made or canceled.

    A rendition waits when it is `unavailable` (no package for its pair) or `failed` because its
    package did not load; either is translated again once the package works. A canceled story's
    renditions end every wait for it, older versions' included.
    """
    for rendition in renditions.stories:
        t = rendition.translation
        assert t is not None
        if rendition.pubstatus == "canceled" or t.status is RenditionStatus.TRANSLATED:
            store.resolve(t.of_id, t.target_language, t.of_version)
        elif t.status is RenditionStatus.UNAVAILABLE or renditions.waits_for_package(rendition):
            store.add(originals[(t.of_id, t.of_version)], t.target_language, t.error or "unavailable")


class StoryHandler:
    """Batch handler for the bus consumer: translate every story of a polled batch together.

    Renditions are published while the batch is translated (`StoryTranslator.render` with `emit`):
    each language as soon as its package is done, headlines first as `partial` renditions. The
    handler returns, and the consumer commits the batch's offsets, only once every full rendition
    was published and confirmed by the broker. When a batch fails the bus retries its messages one
    by one; a story that keeps failing gets `failed` renditions on its last attempt, then the bus
    dead-letters it. A broker that cannot take renditions (`TransientError`) counts no attempt.

    With `between` (the consumer's), a batch's work after the headlines goes in slices, and between
    two slices the consumer polls: stories that arrived meanwhile join the batch and have their
    headlines translated before the next slice, so a burst's later headlines do not wait for the
    earlier stories' bodies, and the consumer keeps its place in the group however long the
    batch takes. Their offsets are committed with the batch's. The messages whose stories have every
    full rendition published are reported done at each `between`, so the consumer commits them
    there: a stop (which `between` raises as `Stopping`) or a crash late in a long batch does not
    translate them again.
    """

    def __init__(
        self,
        translator: StoryTranslator,
        store: PendingStore,
        publish: Publish,
        max_attempts: int,
        between: Between | None = None,
    ) -> None:
        self.translator = translator
        self.store = store
        self.publish = publish
        self.max_attempts = max_attempts
        self.between = between
        self._failures: dict[tuple[str, int, int], int] = {}

    def __call__(self, batch: Sequence[Message]) -> None:
        """Handle one polled batch (and the messages that join it meanwhile)."""
        messages = list(batch)
        stories = [m.story() for m in messages]
        originals: dict[tuple[str, int], Story] = {}
        first = self._originals(stories, originals)
        between = self.between
        translated: dict[tuple[str, int], set[str]] = {}  # the full renditions published, per story version

        def emit(renditions: list[Story]) -> None:
            self.publish(renditions)
            for r in renditions:
                t = r.translation
                if t is not None and t.status is RenditionStatus.TRANSLATED:
                    translated.setdefault((t.of_id, t.of_version), set()).add(t.target_language)

        def more() -> list[Story]:
            assert between is not None
            taken = between(self._done(messages, stories, translated))
            messages.extend(taken)
            joined = [m.story() for m in taken]
            stories.extend(joined)
            return self._originals(joined, originals)

        try:
            renditions = self.translator.render(first, emit=emit, more=None if between is None else more)
        except (TransientError, Stopping):
            raise
        except Exception as exc:
            if len(messages) == 1:
                self._note_failure(messages[0], stories[0], exc)
            raise
        record(self.store, originals, renditions)
        for message in messages:
            self._failures.pop((message.topic, message.partition, message.offset), None)
        log.info(
            "stories translated",
            extra={
                "stories": len(originals),
                "joined": len(messages) - len(batch),
                "renditions": len(renditions.stories),
            },
        )

    def _done(
        self,
        messages: Sequence[Message],
        stories: Sequence[Story],
        translated: dict[tuple[str, int], set[str]],
    ) -> list[Message]:
        """The messages whose stories need nothing more: ignored, or every target's full rendition published.

        A story with an `unavailable` or `failed` rendition is left for the batch's end, which
        records it among the stories waiting for a package before its offset is committed.
        """
        return [
            m
            for m, s in zip(messages, stories, strict=True)
            if s.is_rendition
            or set(targets_for(s, self.translator.targets)) <= translated.get((s.id, s.version), set())
        ]

    @staticmethod
    def _originals(stories: Sequence[Story], originals: dict[tuple[str, int], Story]) -> list[Story]:
        """The stories to translate among these (not renditions, not already in the batch), noted in `originals`."""
        skipped = sum(1 for s in stories if s.is_rendition)
        if skipped:
            log.warning("renditions on the stories topic ignored", extra={"count": skipped})
        fresh = [s for s in stories if not s.is_rendition and (s.id, s.version) not in originals]
        fresh = list({(s.id, s.version): s for s in fresh}.values())
        originals.update(((s.id, s.version), s) for s in fresh)
        return fresh

    def _note_failure(self, message: Message, story: Story, exc: Exception) -> None:
        key = (message.topic, message.partition, message.offset)
        attempts = self._failures.get(key, 0) + 1
        self._failures[key] = attempts
        if attempts < self.max_attempts or story.is_rendition:
            return
        self._failures.pop(key, None)
        error = f"{type(exc).__name__}: {exc}"
        failed = [
            self.translator.failed(story, t, error) for t in targets_for(story, self.translator.targets)
        ]
        self.publish(failed)
        log.error(
            "translation failed; failed renditions published", extra={**message.fields, "error": error[:300]}
        )


class Retranslator:
    """Re-read the models directory now and then; translate stories whose renditions wait for a package.

    A rendition waits when its pair had no package (`unavailable`) or its package did not load
    (`failed` for the package's sake, see `record`). Stories go through the engine in chunks. A
    chunk that raises is halved until the story that raises is found, so its neighbours are
    translated and published anyway. A story whose re-translation fails (raises, or comes back
    `failed`) stays pending and is tried again on the next rescan; after `max_attempts` failures
    its `failed` renditions are published, carrying the error, and it leaves the pending store. A
    package that still does not load counts no attempt: its stories wait for it as long as it
    takes, and a `failed` rendition is published only when its error is news to the desk (the
    consumer published the first). A `TransientError` (the broker cannot take the renditions)
    ends the rescan: what was not published stays pending, with no attempt counted.
    """

    name = "retranslator"

    def __init__(
        self,
        engine: Engine,
        translator: StoryTranslator,
        store: PendingStore,
        publish: Publish,
        *,
        interval: float = 30.0,
        chunk: int = 32,
        max_attempts: int = 3,
    ) -> None:
        if max_attempts < 1:
            msg = f"max_attempts must be at least 1, got {max_attempts}"
            raise ValueError(msg)
        self.engine = engine
        self.translator = translator
        self.store = store
        self.publish = publish
        self.interval = interval
        self.chunk = chunk
        self.max_attempts = max_attempts
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Rescan at once, then every `interval` seconds until stopped.

        The first rescan serves a restart after a model was installed or repaired: what waited is
        translated right away instead of one interval later.
        """
        wait = 0.0
        while not stop.wait(wait):
            wait = self.interval
            try:
                self.rescan()
            except TransientError as exc:
                log.warning("re-translation postponed", extra={"error": brief(exc)})

    def rescan(self) -> dict[str, Any]:
        """Re-read installed packages, then re-translate every pending story that now has a route."""
        with self._lock:
            before = set(self.engine.packages())
            after = set(self.engine.refresh())
            added = sorted(after - before)
            if added:
                self.translator.forget_missing(added)
                log.info("new models found", extra={"pairs": [f"{s}→{t}" for s, t in added]})
            done = self._retranslate()
            return {"retranslated": done, "pending": self.store.count(), "installed": len(after)}

    def _retranslate(self) -> int:
        ready: dict[str, list[PendingEntry]] = {}
        for entry in self.store.entries():
            if self.engine.route(primary_language(entry.story.language), entry.target) is not None:
                ready.setdefault(entry.target, []).append(entry)
        done = 0
        for target, entries in ready.items():
            spent = [e for e in entries if e.attempts >= self.max_attempts]
            if spent:  # given up on earlier, but their failed renditions could not be published then
                self._give_up(spent)
            live = [e for e in entries if e.attempts < self.max_attempts]
            for start in range(0, len(live), self.chunk):
                done += self._translate_chunk(target, live[start : start + self.chunk])
        if done:
            log.info("pending stories re-translated", extra={"renditions": done})
        return done

    def _translate_chunk(self, target: str, entries: list[PendingEntry]) -> int:
        """Translate and publish a chunk; halve it when it raises. Returns the pending renditions translated."""
        stories = [e.story for e in entries]
        try:
            renditions = self.translator.render(stories, targets=[target])
        except TransientError:
            raise
        except Exception as exc:  # noqa: BLE001 - one story may be the cause: find it, keep the rest going
            if len(stories) == 1:
                self._failed_attempt(stories[0], target, f"{type(exc).__name__}: {exc}")
                return 0
            log.warning(
                "re-translation of a chunk failed; halving it to find the story",
                extra={"target": target, "stories": len(stories), "error": brief(exc)},
            )
            middle = len(entries) // 2
            return self._translate_chunk(target, entries[:middle]) + self._translate_chunk(
                target, entries[middle:]
            )
        originals = {(s.id, s.version): s for s in stories}
        reasons = {(e.story.id, e.story.version): e.reason for e in entries}
        failed: list[Story] = []
        waiting: list[Story] = []
        news: list[Story] = []
        fine: list[Story] = []
        for rendition in renditions.stories:
            if renditions.waits_for_package(rendition):
                waiting.append(rendition)
                if _error(rendition) != reasons.get(_key(rendition)):
                    news.append(rendition)  # a new error: the desk has not seen this one
            elif _status(rendition) is RenditionStatus.FAILED:
                failed.append(rendition)
        blocked = {_key(r) for r in [*failed, *waiting]}
        told = {_key(r) for r in news}
        for rendition in renditions.stories:
            if _status(rendition) is RenditionStatus.FAILED:
                continue
            kept = rendition.translation is not None and rendition.translation.kept_pivot
            # a story's kept pivot goes out with its news, not again on every rescan its target still waits
            if not kept or _key(rendition) not in blocked or _key(rendition) in told:
                fine.append(rendition)
        self.publish([*fine, *news])
        record(self.store, originals, Renditions([*fine, *news], renditions.package_failed))
        if waiting:
            log.warning(
                "re-translation waits for a package that cannot be used; the stories stay pending",
                extra={"target": target, "stories": len(waiting), "error": (_error(waiting[0]) or "")[:300]},
            )
        for rendition in failed:
            t = rendition.translation
            assert t is not None
            self._failed_attempt(originals[(t.of_id, t.of_version)], target, t.error or "translation failed")
        return sum(
            1
            for r in fine
            if _status(r) is RenditionStatus.TRANSLATED and r.translation and not r.translation.kept_pivot
        )

    def _failed_attempt(self, story: Story, target: str, error: str) -> None:
        """Count a failed re-translation; give up on the story once it has failed `max_attempts` times."""
        attempts = self.store.fail(story.id, target, story.version, error)
        fields = {"story_id": story.id, "version": story.version, "target": target, "error": error[:300]}
        if attempts < self.max_attempts:
            log.warning(
                "re-translation failed; the story stays pending", extra={**fields, "attempts": attempts}
            )
            return
        self._give_up([PendingEntry(story, target, attempts, error)])

    def _give_up(self, entries: Sequence[PendingEntry]) -> None:
        """Publish `failed` renditions for stories that failed too often, then forget them."""
        failed = [self.translator.failed(e.story, e.target, e.error or "translation failed") for e in entries]
        self.publish(failed)
        for entry in entries:
            self.store.resolve(entry.story.id, entry.target, entry.story.version)
            log.error(
                "re-translation given up; failed rendition published",
                extra={
                    "story_id": entry.story.id,
                    "version": entry.story.version,
                    "target": entry.target,
                    "attempts": entry.attempts,
                    "error": (entry.error or "")[:300],
                },
            )


def _status(rendition: Story) -> RenditionStatus | None:
    return rendition.translation.status if rendition.translation else None


def _key(rendition: Story) -> tuple[str, int]:
    t = rendition.translation
    return (t.of_id, t.of_version) if t else (rendition.id, rendition.version)


def _error(rendition: Story) -> str | None:
    return rendition.translation.error if rendition.translation else None
