"""pytest fixtures every wirewatch test suite shares: a real tansu broker and fresh topics on it.

Registered as a pytest plugin (the `pytest11` entry point of wirewatch-testkit), so any suite in the
workspace can ask for `broker`, `broker_settings`, `new_topic` or `make_story` without importing anything.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from wirewatch_common.broker import EmbeddedBroker
from wirewatch_common.bus import Admin
from wirewatch_common.settings import Settings
from wirewatch_common.story import Story

TopicFactory = Callable[..., str]


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One real tansu process for the whole test session, stopped by its pid at the end."""
    log_file = Path(tmp_path_factory.mktemp("tansu")) / "tansu.log"
    with EmbeddedBroker(log_file=log_file) as running:
        yield running


@pytest.fixture
def broker_settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings pointing at the session broker, with a private data dir."""
    return Settings(
        _env_file=None,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        broker_port=broker.port,
        data_dir=tmp_path / "data",
        log_format="text",
    )


@pytest.fixture
def new_topic(broker: EmbeddedBroker, request: pytest.FixtureRequest) -> Iterator[TopicFactory]:
    """Create topics private to this test: `new_topic(partitions=3)` returns a fresh name."""
    admin = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:60]

    def create(partitions: int = 1, suffix: str = "") -> str:
        name = f"test-{stem}{suffix}-{uuid.uuid4().hex[:8]}"
        admin.create_topic(name, partitions)
        return name

    try:
        yield create
    finally:
        admin.close()


@pytest.fixture
def make_story() -> Callable[..., Story]:
    """Build a valid English original story; keyword arguments override any field."""

    def make(**fields: Any) -> Story:
        when = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
        base: dict[str, Any] = {
            "id": "ww-test-0001",
            "uri": "urn:wirewatch:test:0001",
            "version": 1,
            "firstcreated": when,
            "versioncreated": when,
            "language": "en",
            "headline": "Port strike halts grain exports",
            "body": ["Dockworkers walked out on Tuesday.", "Talks resume on Friday."],
        }
        return Story.model_validate(base | fields)

    return make
