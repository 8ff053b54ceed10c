"""Wire the index service from settings: backend, worker (stories and renditions → backend), API, desk."""

from __future__ import annotations

from dataclasses import dataclass

from wirewatch_common.bus import Consumer, Producer
from wirewatch_common.service import BrokerCheck, Check, Service, Worker, create_app
from wirewatch_common.topics import TopicContract, load_contract

from .alerts_proxy import alerts_proxy_router
from .api import ERRORS, openapi_tags, router
from .backends.base import SearchBackend
from .desk import desk_router
from .live import ELASTICSEARCH_LAG_S, LiveHub
from .settings import IndexSettings
from .worker import IndexHandler


def make_backend(settings: IndexSettings) -> SearchBackend:
    """Elasticsearch when a URL is set (fails fast on a bad cluster or credentials), else tantivy."""
    if settings.elasticsearch_url:
        from .backends.elasticsearch import ElasticsearchBackend, connect

        client = connect(
            settings.elasticsearch_url,
            username=settings.elasticsearch_username,
            password=settings.elasticsearch_password.get_secret_value()
            if settings.elasticsearch_password
            else None,
            api_key=settings.elasticsearch_api_key.get_secret_value()
            if settings.elasticsearch_api_key
            else None,
            ca_certs=str(settings.elasticsearch_ca_certs) if settings.elasticsearch_ca_certs else None,
        )
        es = ElasticsearchBackend(client, index_prefix=settings.index_elasticsearch_alias)
        es.setup()
        return es
    from .backends.tantivy import TantivyBackend

    return TantivyBackend(settings.data_dir, writer_heap_bytes=settings.index_writer_heap_mb * 1_000_000)


@dataclass(frozen=True)
class IndexService(Service):
    """The index service's parts: the backend every route and the worker share, and the live hub."""

    backend: SearchBackend
    live: LiveHub


def _live_hub(settings: IndexSettings, backend: SearchBackend) -> LiveHub:
    """The hub of /v1/stream: it pushes when this process's worker writes, else it only counts streams."""
    if not (settings.index_worker and settings.index_stream_push):
        return LiveHub(settings.index_stream_max)
    from wirewatch_common.analyzers import Analyzers

    lag = 0.0 if backend.name == "tantivy" else ELASTICSEARCH_LAG_S  # tantivy writes return searchable
    return LiveHub(
        settings.index_stream_max,
        analyze=Analyzers().analyze,
        lag_s=lag,
        backend=backend,
        scan_s=settings.index_stream_fallback_s,
    )


def build(
    settings: IndexSettings,
    *,
    backend: SearchBackend | None = None,
    contract: TopicContract | None = None,
) -> IndexService:
    """Build the service; the worker runs when `index_worker` is set (API-only replicas leave it off).

    `backend` replaces the one the settings describe and `contract` the shipped topics (tests).
    """
    backend = backend or make_backend(settings)
    live = _live_hub(settings, backend)
    checks: dict[str, Check] = {"backend": backend.health}
    workers: list[Worker] = []
    closers = [backend.close]
    if settings.index_worker:
        contract = contract or load_contract()
        check = BrokerCheck(settings)
        checks["broker"] = check
        producer = Producer.from_settings(settings)
        handler = IndexHandler(
            backend, producer.publish_many, contract.receipts.name, live.offer if live.pushes else None
        )
        workers.append(
            Consumer.from_settings(
                settings,
                [contract.stories.name, contract.renditions.name],
                settings.index_group_id,
                handler,
                producer=producer,
                dead_letter_topic=contract.deadletter.name,
            )
        )
        closers = [producer.close, check.close, live.close, *closers]
    app = create_app(
        "index",
        settings=settings,
        checks=checks,
        workers=workers,
        on_shutdown=closers,
        errors=ERRORS,
        description="Search every language version of the wire; one hit per story.",
        openapi_tags=openapi_tags(),
        version="1",
    )
    app.include_router(router(backend, settings, live))
    app.include_router(alerts_proxy_router(settings))
    app.include_router(desk_router())
    return IndexService(app=app, workers=workers, closers=closers, backend=backend, live=live)
