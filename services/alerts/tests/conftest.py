"""Fixtures the alerts tests share: real stores in tmp_path, loopback receivers closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from wirewatch_alerts.alertstore import AlertStore
from wirewatch_alerts.store import SqliteWatchlistStore
from wirewatch_testkit.servers import RecordingServer

S = TypeVar("S", bound=RecordingServer)


@pytest.fixture
def serve() -> Iterator[Callable[[S], S]]:
    """Hand a started receiver to the test; every one is closed when the test ends."""
    started: list[RecordingServer] = []

    def keep(server: S) -> S:
        started.append(server)
        return server

    yield keep
    for server in started:
        server.close()


@pytest.fixture
def stores(tmp_path) -> Iterator[tuple[AlertStore, SqliteWatchlistStore]]:
    alerts, watchlists = (
        AlertStore(tmp_path / "alerts.sqlite3"),
        SqliteWatchlistStore(tmp_path / "wl.sqlite3"),
    )
    yield alerts, watchlists
    alerts.close()
    watchlists.close()
