"""Wire the ingest service once from settings: ledger, publisher, pipeline, workers and the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from wirewatch_common.bus import Admin, Consumer, Producer
from wirewatch_common.service import BrokerCheck, Service, Worker, create_app
from wirewatch_common.topics import TopicContract, load_contract

from . import api
from .dropfolder import DropFolder
from .language import language_model
from .ledger import Ledger
from .pipeline import Ingestor
from .poller import FeedPoller
from .receipts import receipts_handler
from .republisher import Probe, Republisher
from .settings import IngestSettings

PRODUCER_OPTIONS: dict[str, Any] = {"linger_ms": 0, "batch_size": 256 * 1024}
"""Producer overrides for ingest: every publish waits for its confirmation, so lingering for a fuller
batch only adds latency; batches up to 256 KB per partition let one request carry a whole drop-folder
scan or feed instead of one request per 16 KB (the client's default)."""


def republish_probe(settings: IngestSettings, contract: TopicContract) -> Probe:
    """Ask the broker about the stages a story passes before its receipts come back, upstream first.

    Translate is a stage only when there are target languages (otherwise no rendition is awaited).
    """
    timeout = settings.ingest_republish_check_timeout_s
    stages = [settings.index_group_id]
    downstream = [(settings.ingest_receipts_group, contract.receipts.name)]
    if settings.targets:
        stages.insert(0, settings.translate_group_id)
        downstream.insert(0, (settings.index_group_id, contract.renditions.name))
    return Probe(
        lambda: Admin.from_settings(settings, request_timeout_ms=int(timeout * 1000)),
        contract.stories.name,
        stages=stages,
        downstream=downstream,
        timeout=timeout,
    )


@dataclass(frozen=True)
class IngestService(Service):
    """A built ingest service, naming its parts so tests reach them without `app.state`."""

    settings: IngestSettings
    contract: TopicContract
    ledger: Ledger
    publisher: Producer
    ingestor: Ingestor


def build(settings: IngestSettings, *, contract: TopicContract | None = None) -> IngestService:
    """Build the ingest service with its workers; clients connect here, never at import time.

    `contract` replaces the shipped topic contract (tests use private topics).
    """
    contract = contract or load_contract()
    admin = Admin.from_settings(settings)
    try:
        admin.provision(contract, settings.kafka_replication_factor)
    finally:
        admin.close()
    language_model()  # load the detector (under a second) now, not while the first story waits
    ledger = Ledger(settings.ledger_file, expect=settings.targets, alerts=settings.ingest_confirm_alerts)
    # A request never waits longer than the publish timeout for a broker to answer at all.
    publish_ms = int(settings.ingest_publish_timeout_s * 1000)
    publisher = Producer.from_settings(settings, **PRODUCER_OPTIONS, bootstrap_timeout_ms=publish_ms)
    ingestor = Ingestor(
        ledger,
        publisher,
        contract.stories.name,
        settings.limits,
        publish_timeout=settings.ingest_publish_timeout_s,
    )
    workers: list[Worker] = [
        Republisher(
            ledger,
            publisher,
            republish_probe(settings, contract),
            grace=timedelta(seconds=settings.ingest_republish_grace_s),
            interval=settings.ingest_republish_interval_s,
            keep=timedelta(days=settings.ingest_ledger_keep_days),
            timeout=settings.ingest_publish_timeout_s,
        )
    ]
    dlq_producer = Producer.from_settings(settings)
    workers.append(
        Consumer.from_settings(
            settings,
            [contract.receipts.name],
            settings.ingest_receipts_group,
            receipts_handler(ledger),
            producer=dlq_producer,
            dead_letter_topic=contract.deadletter.name,
        )
    )
    if settings.ingest_drop_dir is not None:
        workers.append(
            DropFolder(
                settings.ingest_drop_dir,
                ingestor,
                settle=settings.ingest_drop_settle_s,
                interval=settings.ingest_drop_interval_s,
            )
        )
    if settings.ingest_feeds:
        workers.append(
            FeedPoller(
                settings.ingest_feeds,
                ingestor,
                timeout=settings.ingest_feed_timeout_s,
                max_backoff=settings.ingest_feed_max_backoff_s,
                policy=settings.feed_policy,
            )
        )
    check = BrokerCheck(settings)
    closers: list[Callable[[], Any]] = [check.close, publisher.close, dlq_producer.close, ledger.close]
    app = create_app(
        "ingest",
        settings=settings,
        checks={"broker": check},
        workers=workers,
        on_shutdown=closers,
        errors=api.ERRORS,
    )
    app.include_router(api.router(ingestor, settings.api_keys, settings.rate_limit_push))
    return IngestService(
        app=app,
        workers=workers,
        closers=closers,
        settings=settings,
        contract=contract,
        ledger=ledger,
        publisher=publisher,
        ingestor=ingestor,
    )
