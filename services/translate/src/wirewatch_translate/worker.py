"""The consumer side: stories in, renditions out, and re-translation once a missing model is installed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from wirewatch_common.bus import DeliveryError, Message, Producer, TransientError
from wirewatch_common.story import RenditionStatus, Story, primary_language

from .engine import Engine
from .pending import PendingStore
from .translator import StoryTranslator, targets_for

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Story]], None]


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


def record(store: PendingStore, originals: dict[tuple[str, int], Story], renditions: Sequence[Story]) -> None:
    """Remember unavailable renditions' stories for later, forget those now translated."""
    for rendition in renditions:
        t = rendition.translation
        assert t is not None
        if t.status is RenditionStatus.UNAVAILABLE:
            store.add(originals[(t.of_id, t.of_version)], t.target_language, t.error or "unavailable")
        elif t.status is RenditionStatus.TRANSLATED:
            store.resolve(t.of_id, t.target_language, t.of_version)


class StoryHandler:
    """Batch handler for the bus consumer: translate every story of a polled batch together.

    When a batch fails the bus retries its messages one by one; a story that keeps failing gets
    `failed` renditions on its last attempt, then the bus dead-letters it.
    """

    def __init__(
        self, translator: StoryTranslator, store: PendingStore, publish: Publish, max_attempts: int
    ) -> None:
        self.translator = translator
        self.store = store
        self.publish = publish
        self.max_attempts = max_attempts
        self._failures: dict[tuple[str, int, int], int] = {}

    def __call__(self, batch: Sequence[Message]) -> None:
        """Handle one polled batch."""
        stories = [m.story() for m in batch]
        originals = {(s.id, s.version): s for s in stories if not s.is_rendition}
        skipped = sum(1 for s in stories if s.is_rendition)
        if skipped:
            log.warning("renditions on the stories topic ignored", extra={"count": skipped})
        try:
            renditions = self.translator.translate(list(originals.values()))
        except Exception as exc:
            if len(batch) == 1:
                self._note_failure(batch[0], stories[0], exc)
            raise
        record(self.store, originals, renditions)
        self.publish(renditions)
        for message in batch:
            self._failures.pop((message.topic, message.partition, message.offset), None)
        log.info("stories translated", extra={"stories": len(originals), "renditions": len(renditions)})

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
    """Re-read the models directory now and then; translate stories left unavailable once their pair exists."""

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
    ) -> None:
        self.engine = engine
        self.translator = translator
        self.store = store
        self.publish = publish
        self.interval = interval
        self.chunk = chunk
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Rescan every `interval` seconds until stopped."""
        while not stop.wait(self.interval):
            try:
                self.rescan()
            except TransientError as exc:
                log.warning("re-translation postponed", extra={"error": str(exc)[:300]})

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
        ready: dict[str, list[Story]] = {}
        for story, target in self.store.items():
            if self.engine.route(primary_language(story.language), target) is not None:
                ready.setdefault(target, []).append(story)
        done = 0
        for target, stories in ready.items():
            for start in range(0, len(stories), self.chunk):
                chunk = stories[start : start + self.chunk]
                try:
                    renditions = self.translator.translate(chunk, targets=[target])
                except Exception as exc:  # noqa: BLE001 - they stay pending and are tried again next time
                    log.error(
                        "re-translation failed; stories stay pending",
                        extra={"target": target, "stories": len(chunk), "error": repr(exc)[:300]},
                    )
                    continue
                self.publish(renditions)
                record(self.store, {(s.id, s.version): s for s in chunk}, renditions)
                done += sum(
                    1
                    for r in renditions
                    if r.translation and r.translation.status is RenditionStatus.TRANSLATED
                )
        if done:
            log.info("pending stories re-translated", extra={"renditions": done})
        return done
