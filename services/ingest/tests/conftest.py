"""Shared fixtures of the ingest tests: the corpus written by others, private topic contracts, settings,
and the pipeline's parts (ledger, publisher, ingestor) on the session broker or on a recording publisher."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from wirewatch_common.bus import Admin, Consumer, Message, Producer
from wirewatch_common.topics import TopicContract, parse_contract
from wirewatch_ingest.bootstrap import PRODUCER_OPTIONS, build
from wirewatch_ingest.ledger import Ledger
from wirewatch_ingest.pipeline import Ingestor, Publisher
from wirewatch_ingest.settings import IngestSettings
from wirewatch_testkit.publishers import RecordingPublisher

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
                for role, parts in (
                    ("stories", 3),
                    ("renditions", 1),
                    ("receipts", 1),
                    ("alerts", 1),
                    ("deadletter", 1),
                )
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
    """The ingest app on private topics behind a test client, with `.service`, `.contract` and `.settings` attached."""
    settings = ingest_settings(bootstrap, data_dir, **overrides)
    service = build(settings, contract=private_contract(name))
    with TestClient(service.app) as client:
        client.service = service  # type: ignore[attr-defined]
        client.contract = service.contract  # type: ignore[attr-defined]
        client.settings = settings  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="session")
def api_client_factory() -> Callable[..., Any]:
    """`api_client` for fixtures wider than one test."""
    return api_client


@pytest.fixture
def recorder() -> RecordingPublisher:
    """A publisher that records instead of sending."""
    return RecordingPublisher()


@dataclass
class Pipeline:
    """One test's ingest pipeline: its settings, topics, ledger, publisher and ingestor."""

    settings: IngestSettings
    contract: TopicContract
    ledger: Ledger
    publisher: Publisher
    ingestor: Ingestor


@pytest.fixture
def make_pipeline(
    request: pytest.FixtureRequest, make_contract: Callable[[], TopicContract], tmp_path: Path
) -> Iterator[Callable[..., Pipeline]]:
    """Build the pipeline's parts: on the session broker (topics provisioned), or on `publisher` if given.

    Everything built is closed at the end of the test.
    """
    made: list[Pipeline] = []

    def make(*, publisher: Publisher | None = None, **overrides: object) -> Pipeline:
        contract = make_contract()
        if publisher is None:
            broker = request.getfixturevalue("broker")
            settings = ingest_settings(broker.bootstrap_servers, tmp_path / "data", **overrides)
            admin = Admin.from_settings(settings)
            try:
                admin.provision(contract)
            finally:
                admin.close()
            publisher = Producer.from_settings(settings, **PRODUCER_OPTIONS)
        else:
            settings = ingest_settings("127.0.0.1:9", tmp_path / "data", **overrides)
        ledger = Ledger(tmp_path / f"ledger-{len(made)}.sqlite3", expect=settings.targets)
        ingestor = Ingestor(ledger, publisher, contract.stories.name, settings.limits)
        made.append(Pipeline(settings, contract, ledger, publisher, ingestor))
        return made[-1]

    try:
        yield make
    finally:
        for pipeline in made:
            close = getattr(pipeline.publisher, "close", None)
            if close is not None:
                close()
            pipeline.ledger.close()
