"""Shared fixtures of the index service's tests: the backends every contract test runs on."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from wirewatch_index.backends.base import SearchBackend
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_testkit.stories import SAMPLES


def elasticsearch_url() -> str | None:
    return os.environ.get("ELASTICSEARCH_URL") or None


@pytest.fixture(params=["tantivy", "elasticsearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    """Every contract test runs on tantivy, and on Elasticsearch when ELASTICSEARCH_URL is set."""
    if request.param == "tantivy":
        tantivy_backend = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
        try:
            yield tantivy_backend
        finally:
            tantivy_backend.close()
        return
    yield from _elasticsearch()


@pytest.fixture
def elasticsearch_backend() -> Iterator[SearchBackend]:
    """A fresh index on the live Elasticsearch server (skipped without ELASTICSEARCH_URL)."""
    yield from _elasticsearch()


def _elasticsearch() -> Iterator[SearchBackend]:
    url = elasticsearch_url()
    if url is None:
        pytest.skip("ELASTICSEARCH_URL is not set: no Elasticsearch server to run the contract against")
    from wirewatch_index.backends.elasticsearch import ElasticsearchBackend, connect

    es_backend = ElasticsearchBackend(
        connect(url), index_prefix=f"ww-test-{uuid.uuid4().hex[:8]}", refresh=True
    )
    es_backend.setup()
    try:
        yield es_backend
    finally:
        es_backend.drop()
        es_backend.close()


@pytest.fixture
def loaded(backend: SearchBackend) -> SearchBackend:
    """A backend holding the sample stories."""
    backend.write(SAMPLES)
    return backend
