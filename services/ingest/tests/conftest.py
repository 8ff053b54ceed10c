"""Shared fixtures of the ingest tests: the corpus written by others, private topic contracts, a settings factory."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from wirewatch_common.bus import Consumer, Message, Producer
from wirewatch_common.topics import TopicContract, parse_contract
from wirewatch_ingest.bootstrap import build_app
from wirewatch_ingest.settings import IngestSettings

REPO = Path(__file__).resolve().parents[3]
CORPUS = (REPO / "../shared/corpus").resolve()


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus folder, or a visible skip when this checkout has none."""
    if not (CORPUS / "agency").is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


def private_contract(stem: str) -> TopicContract:
    """A topic contract whose topic names are unique to one test."""
    tag = uuid.uuid4().hex[:8]
    day = 86_400_000
    return parse_contract(
        {
            "topics": {
                role: {"name": f"test-ingest-{stem}-{role}-{tag}", "partitions": parts, "retention_ms": day}
                for role, parts in (("stories", 3), ("renditions", 1), ("receipts", 1), ("deadletter", 1))
            }
        }
    )


def ingest_settings(bootstrap: str, data_dir: Path, **overrides: object) -> IngestSettings:
    """Settings for one test: its broker, its own data dir, no .env file."""
    return IngestSettings(
        _env_file=None,  # type: ignore[call-arg]
        kafka_bootstrap_servers=bootstrap,
        data_dir=data_dir,
        log_format="text",
        **overrides,  # type: ignore[arg-type]
    )


def wait_for_stories(
    settings: IngestSettings, topic: str, wanted: set[str], timeout: float = 90.0
) -> dict[str, list[Message]]:
    """Consume `topic` from the start in a fresh group until every wanted story id was seen."""
    seen: dict[str, list[Message]] = {}

    def handle(batch: Sequence[Message]) -> None:
        for m in batch:
            seen.setdefault(m.key or "", []).append(m)

    producer = Producer.from_settings(settings)
    consumer = Consumer.from_settings(
        settings,
        [topic],
        f"test-{uuid.uuid4().hex[:8]}",
        handle,
        producer=producer,
        dead_letter_topic="unused",
    )
    deadline = time.monotonic() + timeout
    try:
        while not wanted <= seen.keys():
            assert time.monotonic() < deadline, f"timed out: missing {sorted(wanted - seen.keys())}"
            consumer.poll_once()
    finally:
        consumer.close()
        producer.close()
    return seen


@pytest.fixture
def make_contract(request: pytest.FixtureRequest) -> Callable[[], TopicContract]:
    """Build a private topic contract for this test."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]
    return lambda: private_contract(stem)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., IngestSettings]:
    """Build ingest settings for a broker, with this test's data dir."""
    return lambda bootstrap, **overrides: ingest_settings(bootstrap, tmp_path / "data", **overrides)


@pytest.fixture
def read_stories() -> Callable[..., dict[str, list[Message]]]:
    """Consume a topic until the wanted story ids were seen."""
    return wait_for_stories


@pytest.fixture(scope="session")
def settings_factory() -> Callable[..., IngestSettings]:
    """`ingest_settings` for fixtures wider than one test."""
    return ingest_settings


@pytest.fixture(scope="session")
def contract_factory() -> Callable[[str], TopicContract]:
    """`private_contract` for fixtures wider than one test."""
    return private_contract


@contextmanager
def api_client(bootstrap: str, data_dir: Path, name: str, **overrides: object) -> Iterator[TestClient]:
    """The ingest app on private topics behind a test client, with `.contract` and `.settings` attached."""
    settings = ingest_settings(bootstrap, data_dir, **overrides)
    contract = private_contract(name)
    with TestClient(build_app(settings, contract=contract)) as client:
        client.contract = contract  # type: ignore[attr-defined]
        client.settings = settings  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="session")
def api_client_factory() -> Callable[..., Any]:
    """`api_client` for fixtures wider than one test."""
    return api_client
