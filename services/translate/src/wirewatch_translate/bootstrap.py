"""Wire the translate service once: engine, translator, pending store, consumer, re-translator, API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wirewatch_common.bus import Consumer, Producer
from wirewatch_common.service import BrokerCheck, Service, Worker, create_app
from wirewatch_common.topics import load_contract

from . import api, libre
from .engine import DecodeOptions, Engine, EngineOptions
from .memory import TranslationMemory, open_memory
from .pending import PendingStore
from .settings import TranslateSettings
from .translator import StoryTranslator
from .worker import Retranslator, StoryHandler, publisher


def make_engine(settings: TranslateSettings) -> Engine:
    """The engine the settings describe (no model is loaded until first used)."""
    return Engine(
        settings.models_path,
        EngineOptions(
            device=settings.translate_device,
            compute_type=settings.translate_compute_type,
            inter_threads=settings.translate_inter_threads,
            intra_threads=settings.translate_intra_threads,
        ),
        DecodeOptions(
            max_batch_tokens=settings.translate_max_batch_tokens,
            beam_size=settings.translate_beam_size,
            max_decoding_length=settings.translate_max_decoding_length,
            max_sentence_tokens=settings.translate_max_sentence_tokens,
            unsplittable=settings.translate_unsplittable,
        ),
        pivot=settings.translate_pivot,
    )


def make_translator(
    settings: TranslateSettings, engine: Engine, memory: TranslationMemory | None = None
) -> StoryTranslator:
    """The story translator the settings describe: targets, kept pivots, memory, headlines first."""
    return StoryTranslator(
        engine,
        settings.targets,
        keep_pivot=settings.translate_keep_pivot,
        memory=memory,
        profile=engine.decode.profile(engine.options),
        headlines_first=settings.translate_headlines_first,
        lead_paragraphs=settings.translate_lead_paragraphs,
        partial_min_sentences=settings.translate_partial_min_sentences,
        # a slice of work must end well within Kafka's poll interval, as the consumer's own slice does
        slice_seconds=min(settings.translate_slice_s, settings.kafka_max_poll_interval_ms / 1000 / 4),
    )


def translation_memory(settings: TranslateSettings) -> TranslationMemory | None:
    """The translation memory under the data dir, or None when `translate_memory_mb` is 0."""
    return open_memory(settings.data_dir / "translate" / "memory.sqlite3", settings.translate_memory_mb)


def pending_store(settings: TranslateSettings) -> PendingStore:
    """The store of stories waiting for a model, under the data dir."""
    return PendingStore(settings.data_dir / "translate" / "pending.sqlite3")


@dataclass(frozen=True)
class TranslateService(Service):
    """A built translate service, naming its parts so tests reach them without `app.state`."""

    engine: Engine
    translator: StoryTranslator
    store: PendingStore
    memory: TranslationMemory | None
    producer: Producer
    consumer: Consumer
    retranslator: Retranslator


def build(
    settings: TranslateSettings,
    *,
    stories_topic: str | None = None,
    renditions_topic: str | None = None,
    deadletter_topic: str | None = None,
) -> TranslateService:
    """Build the service from settings; topics default to the contract's."""
    contract = load_contract()
    engine = make_engine(settings)
    memory = translation_memory(settings)
    translator = make_translator(settings, engine, memory)
    store = pending_store(settings)
    producer = Producer.from_settings(settings)
    publish = publisher(producer, renditions_topic or contract.renditions.name)
    handler = StoryHandler(translator, store, publish, settings.kafka_max_attempts)
    consumer = Consumer.from_settings(
        settings,
        [stories_topic or contract.stories.name],
        settings.translate_group_id,
        handler,
        producer=producer,
        dead_letter_topic=deadletter_topic or contract.deadletter.name,
    )
    handler.between = consumer.between  # built after the handler it calls
    retranslator = Retranslator(
        engine,
        translator,
        store,
        publish,
        interval=settings.translate_rescan_seconds,
        max_attempts=settings.kafka_max_attempts,
    )
    check = BrokerCheck(settings)
    workers: list[Worker] = [consumer, retranslator]
    closers: list[Callable[[], None]] = [check.close, producer.close, store.close]
    if memory is not None:
        closers.append(memory.close)
    app = create_app(
        "translate",
        settings=settings,
        checks={"broker": check},
        workers=workers,
        on_shutdown=closers,
        errors=api.ERRORS,
    )
    app.include_router(
        api.router(
            engine, settings.api_keys, max_chars=settings.translate_max_text_chars, rescan=retranslator.rescan
        )
    )
    app.include_router(libre.router(engine, settings.api_keys, max_chars=settings.translate_max_text_chars))
    return TranslateService(
        app=app,
        workers=workers,
        closers=closers,
        engine=engine,
        translator=translator,
        store=store,
        memory=memory,
        producer=producer,
        consumer=consumer,
        retranslator=retranslator,
    )
