"""pytest fixtures every wirewatch test suite shares: a real tansu broker and fresh topics on it.

Registered as a pytest plugin by the wirewatch-common package, so any service's tests can ask for
`broker`, `broker_settings` or `new_topic` without importing anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from .broker import EmbeddedBroker
from .processes import stop_process_group
from .settings import Settings
from .story import Story

TopicFactory = Callable[..., str]


def wait_for_readyz(
    base_url: str, process: subprocess.Popen[Any], output: Path, timeout: float = 60.0
) -> None:
    """Wait until a service process answers 200 on /readyz; fail with its output if it dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, output.read_text()
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=5) as response:  # noqa: S310 - a local test URL
                if response.status == 200:
                    return
        except OSError:  # refused while starting, or 503 (HTTPError) until its checks pass
            pass
        assert time.monotonic() < deadline, output.read_text()
        time.sleep(0.2)


def run_command(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Run a command in its own process group, stopped by its pid whatever happens; (exit code, output)."""
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        stop_process_group(process)
    return process.returncode, output


def process_alive(pid: int) -> bool:
    """Tell whether a process still runs (a zombie awaiting its parent counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


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
    from .bus import Admin

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


@contextmanager
def serving(app: Any) -> Iterator[tuple[str, int]]:
    """Run an ASGI app under a real uvicorn on a free loopback port until the block ends.

    For what a test client cannot show: how real HTTP clients see early answers and unread bodies.
    """
    import uvicorn

    from .broker import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(30)
