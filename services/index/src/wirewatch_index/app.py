"""Build the index service's backend and app from settings (used by `main()`, tests and the benchmark)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI

from wirewatch_common.service import Check, Worker, create_app

from .api import install_error_handlers, openapi_tags, router
from .backends.base import SearchBackend
from .desk import desk_router
from .settings import IndexSettings


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


def build_app(
    settings: IndexSettings,
    backend: SearchBackend,
    *,
    checks: Mapping[str, Check] | None = None,
    workers: Sequence[Worker] = (),
    on_shutdown: Sequence[Callable[[], Any]] = (),
) -> FastAPI:
    """The service skeleton, the /v1 routes and the desk page at `/`."""
    all_checks: dict[str, Check] = {"backend": backend.health, **(checks or {})}
    app = create_app(
        "index",
        settings=settings,
        checks=all_checks,
        workers=workers,
        on_shutdown=on_shutdown,
        description="Search every language version of the wire; one hit per story.",
        openapi_tags=openapi_tags(),
        version="1",
    )
    install_error_handlers(app)
    app.include_router(router(backend, settings))
    app.include_router(desk_router())
    return app
