"""The SQLite watchlist store: shared by every store object (process) on one file, durable across reopen."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta

import pytest

from wirewatch_alerts.errors import DuplicateName, TooManyWatchlists, WatchlistNotFound
from wirewatch_alerts.store import SqliteWatchlistStore
from wirewatch_alerts.watchlists import Watchlist, WatchlistCreate, new_watchlist

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SECRET = "a-webhook-secret-of-24ch"


def make(name: str, minutes: int = 0, **fields) -> Watchlist:
    spec = WatchlistCreate.model_validate({"name": name, "query": "ceasefire"} | fields)
    return new_watchlist(spec, now=NOW + timedelta(minutes=minutes), max_query_chars=500)[0]


@pytest.fixture
def path(tmp_path):
    return tmp_path / "alerts" / "watchlists.sqlite3"


@pytest.fixture
def stores(path):
    """Two store objects on one file: two processes' connections, as far as SQLite can tell."""
    first, second = SqliteWatchlistStore(path), SqliteWatchlistStore(path)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def test_two_stores_on_one_file_see_each_others_writes(stores):
    first, second = stores
    before = second.revision()
    gaza = make("Gaza", channels=[{"type": "webhook", "url": "https://hooks.example.org/", "secret": SECRET}])
    first.add(gaza)
    assert second.get(gaza.id) == gaza
    assert second.revision() > before
    second.update(gaza.id, lambda w: w.model_copy(update={"query": "truce"}))
    assert first.get(gaza.id).query == "truce"
    idlib = make("Idlib", minutes=1)
    second.add(idlib)
    assert [w.name for w in first.all()] == ["Gaza", "Idlib"]
    assert first.count() == 2 and [w.id for w in first.page(1, 1)] == [idlib.id]
    first.remove(gaza.id)
    with pytest.raises(WatchlistNotFound):
        second.get(gaza.id)
    with pytest.raises(WatchlistNotFound):
        second.remove(gaza.id)


def test_watchlists_survive_closing_and_reopening_the_file_secrets_included(path):
    store = SqliteWatchlistStore(path)
    kept = make(
        "Quakes",
        channels=[
            {"type": "webhook", "url": "https://hooks.example.org/q", "secret": SECRET},
            {"type": "email", "to": ["desk@example.org"], "digest_minutes": 30},
        ],
        filters={"languages": ["tr"]},
        notify_updates=True,
    )
    store.add(kept)
    revision = store.revision()
    store.close()
    reopened = SqliteWatchlistStore(path)
    try:
        back = reopened.get(kept.id)
        assert back == kept
        assert back.channels[0].secret is not None and back.channels[0].secret.get_secret_value() == SECRET
        assert reopened.revision() == revision
    finally:
        reopened.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "the file holds webhook secrets"


def test_names_are_unique_without_case_on_add_and_on_rename(stores):
    first, second = stores
    first.add(make("Gaza Ceasefire"))
    with pytest.raises(DuplicateName, match="already named") as refused:
        second.add(make("gaza  ceasefire"))
    assert refused.value.where == {"in": "body", "field": "name"}
    other = make("Rafah")
    second.add(other)
    with pytest.raises(DuplicateName):
        first.update(other.id, lambda w: w.model_copy(update={"name": "GAZA CEASEFIRE"}))
    assert second.get(other.id).name == "Rafah"


def test_the_store_refuses_one_more_than_its_limit(path):
    store = SqliteWatchlistStore(path, max_watchlists=2)
    try:
        store.add(make("one"))
        store.add(make("two"))
        with pytest.raises(TooManyWatchlists, match="holds 2 watchlists"):
            store.add(make("three"))
        assert store.count() == 2
    finally:
        store.close()


def test_changes_from_two_connections_at_once_lose_nothing(stores):
    first, second = stores
    watchlist = make("Counter", query="start")
    first.add(watchlist)

    def append(store: SqliteWatchlistStore, word: str) -> None:
        for _ in range(25):
            store.update(watchlist.id, lambda w: w.model_copy(update={"query": f"{w.query} {word}"}))

    threads = [threading.Thread(target=append, args=(s, w)) for s, w in ((first, "a"), (second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    words = first.get(watchlist.id).query.split()
    assert (words.count("a"), words.count("b")) == (25, 25), "each read-modify-write saw the one before"
