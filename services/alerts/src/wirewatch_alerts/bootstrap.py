"""Wire the alerts service from settings: watchlist and alert stores, the matching worker, the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from wirewatch_common.bus import Consumer, Producer
from wirewatch_common.service import BrokerCheck, Check, Service, Worker, create_app
from wirewatch_common.topics import TopicContract, load_contract

from .alertstore import AlertStore
from .api import ERRORS, alerts_router, openapi_tags, router, status_router
from .delivery import DeliveryWorker
from .email import EmailSender
from .kafka_channel import KafkaSender
from .settings import AlertsSettings
from .store import SqliteWatchlistStore, WatchlistStore
from .webhooks import WebhookSender
from .worker import AlertsHandler, BatchMatcher


def _utcnow() -> datetime:
    return datetime.now(tz=UTC)


def make_matcher(settings: AlertsSettings) -> BatchMatcher:
    """The percolator when Elasticsearch is configured (matching scales with the cluster), else in process."""
    if settings.elasticsearch_url:
        from .percolator import open_percolator

        return open_percolator(settings)
    from .matchers import EmbeddedMatcher

    return EmbeddedMatcher()


@dataclass(frozen=True)
class AlertsService(Service):
    """The alerts service's parts: the stores every route shares, and the matching handler if it runs here."""

    store: WatchlistStore
    alerts: AlertStore
    handler: AlertsHandler | None


def build(
    settings: AlertsSettings,
    *,
    store: WatchlistStore | None = None,
    alerts: AlertStore | None = None,
    now: Callable[[], datetime] | None = None,
    matcher: BatchMatcher | None = None,
    contract: TopicContract | None = None,
) -> AlertsService:
    """Build the service; the matching worker runs when `alerts_worker` is set (API-only replicas leave it off).

    `store`/`alerts` replace the SQLite files the settings name, `now` the clock, `matcher` the one the
    settings choose and `contract` the shipped topics (tests). Watchlists and alerts live on disk, not
    in the broker, so losing the broker loses none of them.
    """
    store = store or SqliteWatchlistStore(
        settings.watchlists_path, max_watchlists=settings.alerts_max_watchlists
    )
    alerts = alerts or AlertStore(settings.alerts_path)
    checks: dict[str, Check] = {"store": store.health, "alerts": alerts.health}
    closers: list[Callable[[], object]] = [store.close, alerts.close]
    workers: list[Worker] = []
    handler: AlertsHandler | None = None
    if settings.alerts_worker:
        contract = contract or load_contract()
        check = BrokerCheck(settings)
        checks["broker"] = check
        producer = Producer.from_settings(settings)
        chosen = matcher or make_matcher(settings)
        delivery = DeliveryWorker.from_settings(
            settings,
            alerts,
            store,
            {
                "webhook": WebhookSender.from_settings(settings),
                "email": EmailSender.from_settings(settings),
                "kafka": KafkaSender(producer.publish_many, contract.alerts.name),
            },
        )
        handler = AlertsHandler(
            store,
            alerts,
            chosen,
            producer.publish_many,
            contract.receipts.name,
            matcher_name=getattr(chosen, "name", "embedded"),
            clock=now or _utcnow,
            on_recorded=lambda _: delivery.wake(),
        )
        workers.append(
            Consumer.from_settings(
                settings,
                [contract.stories.name, contract.renditions.name],
                settings.alerts_group_id,
                handler,
                producer=producer,
                dead_letter_topic=contract.deadletter.name,
            )
        )
        workers.append(delivery)
        closers = [producer.close, check.close, *closers]
    app = create_app(
        "alerts",
        settings=settings,
        checks=checks,
        workers=workers,
        on_shutdown=closers,
        errors=ERRORS,
        description="Watchlists: standing desk queries, in any language, with the channels that hear of a match.",
        openapi_tags=openapi_tags(),
        version="1",
    )
    app.include_router(router(store, settings, now) if now is not None else router(store, settings))
    app.include_router(
        alerts_router(store, alerts, settings, now)
        if now is not None
        else alerts_router(store, alerts, settings)
    )
    app.include_router(status_router(store, alerts, settings))
    return AlertsService(
        app=app, workers=workers, closers=closers, store=store, alerts=alerts, handler=handler
    )
