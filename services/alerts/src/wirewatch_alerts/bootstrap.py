"""Wire the alerts service from settings: the watchlist store and the /v1/watchlists API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from wirewatch_common.service import Check, Service, create_app

from .api import ERRORS, openapi_tags, router
from .settings import AlertsSettings
from .store import SqliteWatchlistStore, WatchlistStore


@dataclass(frozen=True)
class AlertsService(Service):
    """The alerts service's parts: the watchlist store every route shares."""

    store: WatchlistStore


def build(
    settings: AlertsSettings,
    *,
    store: WatchlistStore | None = None,
    now: Callable[[], datetime] | None = None,
) -> AlertsService:
    """Build the service; `store` replaces the SQLite file the settings name and `now` the clock (tests).

    No worker yet and no broker: watchlists need neither, so losing the broker loses none of them.
    Matching and delivery join as workers here.
    """
    store = store or SqliteWatchlistStore(
        settings.watchlists_path, max_watchlists=settings.alerts_max_watchlists
    )
    checks: dict[str, Check] = {"store": store.health}
    closers = [store.close]
    app = create_app(
        "alerts",
        settings=settings,
        checks=checks,
        workers=[],
        on_shutdown=closers,
        errors=ERRORS,
        description="Watchlists: standing desk queries, in any language, with the channels that hear of a match.",
        openapi_tags=openapi_tags(),
        version="1",
    )
    app.include_router(router(store, settings, now) if now is not None else router(store, settings))
    return AlertsService(app=app, workers=[], closers=closers, store=store)
