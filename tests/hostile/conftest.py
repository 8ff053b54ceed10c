"""The four real apps for hostile-input tests: tantivy in a temp dir, the session tansu, test packages,
the alerts service's watchlist store in a temp dir.

Each builder takes the API keys (empty: open, as on loopback) so the same wiring serves the access
audit and the attack corpus. Rate limits are left at their defaults unless a test sets them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from wirewatch_alerts.bootstrap import build as build_alerts
from wirewatch_alerts.settings import AlertsSettings
from wirewatch_common.broker import EmbeddedBroker
from wirewatch_common.bus import Admin
from wirewatch_common.topics import ROLES, TopicContract, parse_contract
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.bootstrap import build as build_index
from wirewatch_index.settings import IndexSettings
from wirewatch_ingest.bootstrap import build as build_ingest
from wirewatch_ingest.settings import IngestSettings
from wirewatch_testkit.stories import SAMPLES
from wirewatch_translate.bootstrap import build as build_translate
from wirewatch_translate.models import install_from_path
from wirewatch_translate.settings import TranslateSettings
from wirewatch_translate.testpackages import build_test_packages

READER = "hostile-reader-key-0123456789"
WRITER = "hostile-writer-key-0123456789"
KEYS = f"reader:{READER},writer:{WRITER}"

AppFactory = Callable[..., FastAPI]


def private_contract() -> TopicContract:
    """Topic names no other test uses."""
    tag = uuid.uuid4().hex[:8]
    return parse_contract(
        {
            "topics": {
                role: {"name": f"test-hostile-{role}-{tag}", "partitions": 1, "retention_ms": 86_400_000}
                for role in ROLES
            }
        }
    )


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models dir with the tiny en<->ar and en<->tr TEST packages (meaningless output, real engine)."""
    archives = build_test_packages(tmp_path_factory.mktemp("hostile-packages"))
    target = tmp_path_factory.mktemp("hostile-models")
    for archive in archives:
        install_from_path(target, archive)
    return target


@pytest.fixture(scope="module")
def index_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppFactory]:
    """Build index apps over one tantivy index holding the sample stories."""
    data_dir = tmp_path_factory.mktemp("hostile-index")
    backend = TantivyBackend(data_dir, writer_heap_bytes=15_000_000, writer_threads=1)
    backend.write(SAMPLES)

    def build(keys: str = "", **overrides: Any) -> FastAPI:
        settings = IndexSettings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=data_dir,
            api_keys=keys,
            index_worker=False,
            index_stream_interval_s=0.05,
            **overrides,
        )
        app = build_index(settings, backend=backend).app
        app.state.backend = backend
        return app

    try:
        yield build
    finally:
        backend.close()


@pytest.fixture(scope="module")
def ingest_factory(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> AppFactory:
    """Build ingest apps on the session broker, each with its own topics and ledger."""

    def build(keys: str = "", **overrides: Any) -> FastAPI:
        settings = IngestSettings(
            _env_file=None,  # type: ignore[call-arg]
            kafka_bootstrap_servers=broker.bootstrap_servers,
            data_dir=tmp_path_factory.mktemp("hostile-ingest"),
            api_keys=keys,
            log_format="text",
            **overrides,
        )
        contract = private_contract()
        app = build_ingest(settings, contract=contract).app
        app.state.contract = contract
        app.state.test_settings = settings
        return app

    return build


@pytest.fixture(scope="module")
def translate_factory(
    broker: EmbeddedBroker, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AppFactory:
    """Build translate apps on the session broker with the test packages installed."""

    def build(keys: str = "", **overrides: Any) -> FastAPI:
        contract = private_contract()
        settings = TranslateSettings(
            _env_file=None,  # type: ignore[call-arg]
            kafka_bootstrap_servers=broker.bootstrap_servers,
            data_dir=tmp_path_factory.mktemp("hostile-translate"),
            model_dir=models_dir,
            api_keys=keys,
            log_format="text",
            translate_max_decoding_length=16,
            **overrides,
        )
        admin = Admin.from_settings(settings)
        try:
            admin.provision(contract)
        finally:
            admin.close()
        service = build_translate(
            settings,
            stories_topic=contract.stories.name,
            renditions_topic=contract.renditions.name,
            deadletter_topic=contract.deadletter.name,
        )
        return service.app

    return build


@pytest.fixture(scope="module")
def alerts_factory(tmp_path_factory: pytest.TempPathFactory) -> AppFactory:
    """Build alerts apps, each over its own watchlist store."""

    def build(keys: str = "", **overrides: Any) -> FastAPI:
        settings = AlertsSettings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=tmp_path_factory.mktemp("hostile-alerts"),
            api_keys=keys,
            log_format="text",
            **({"alerts_worker": False} | overrides),  # the API is what is attacked; no broker needed
        )
        return build_alerts(settings).app

    return build


@pytest.fixture(scope="module")
def index_client(index_factory: AppFactory) -> Iterator[TestClient]:
    """The open index app (no keys), running."""
    with TestClient(index_factory(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def ingest_client(ingest_factory: AppFactory) -> Iterator[TestClient]:
    """The open ingest app (no keys), running with its workers."""
    with TestClient(ingest_factory(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def translate_client(translate_factory: AppFactory) -> Iterator[TestClient]:
    """The open translate app (no keys), running with its workers."""
    with TestClient(translate_factory(), raise_server_exceptions=False) as client:
        yield client
