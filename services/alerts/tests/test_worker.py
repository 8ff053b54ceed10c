"""The matching worker: batches matched against every watchlist, alerts recorded once, receipts after."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wirewatch_alerts.alertstore import AlertStore
from wirewatch_alerts.bootstrap import build
from wirewatch_alerts.matchers import EmbeddedMatcher
from wirewatch_alerts.settings import AlertsSettings
from wirewatch_alerts.store import SqliteWatchlistStore
from wirewatch_alerts.watchlists import Watchlist, WatchlistCreate, new_watchlist
from wirewatch_alerts.worker import AlertsHandler
from wirewatch_common.alert_event import AlertEvent, EventKind
from wirewatch_common.bus import Message, Outgoing, Producer, TransientError
from wirewatch_common.story import Receipt, Story
from wirewatch_common.topics import parse_contract, story_headers
from wirewatch_testkit.harness import read_topic
from wirewatch_testkit.stories import CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, STRIKE

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def as_message(story: Story, offset: int) -> Message:
    return Message(
        topic="stories",
        partition=0,
        offset=offset,
        key=story.id,
        value=story.to_json(),
        headers=dict(story_headers(story)),
        timestamp_ms=0,
    )


def watchlist(name: str, query: str, **fields: object) -> Watchlist:
    spec = WatchlistCreate.model_validate(
        {"name": name, "query": query, "channels": [{"type": "kafka"}]} | fields
    )
    return new_watchlist(spec, now=NOW, max_query_chars=500)[0]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def parts(tmp_path):
    store = SqliteWatchlistStore(tmp_path / "watchlists.sqlite3")
    alerts = AlertStore(tmp_path / "alerts.sqlite3")
    sent: list[Outgoing] = []
    clock = Clock()
    handler = AlertsHandler(store, alerts, EmbeddedMatcher(), sent.extend, "receipts", clock=clock)
    yield store, alerts, handler, sent, clock
    store.close()
    alerts.close()


@pytest.mark.integration
def test_an_arabic_query_alerts_on_an_english_story_through_its_rendition_and_names_ar(parts):
    store, alerts, handler, sent, _ = parts
    arabic = watchlist(
        "Hudna", "الهدنة"
    )  # the Arabic rendition says الهُدْنَةُ, the English original nothing Arabic
    english = watchlist("Ceasefire", "ceasefire", filters={"languages": ["en"]})
    turkish = watchlist("Ateşkes", "İDLİB'DE ateşkes")
    for w in (arabic, english, turkish):
        store.add(w)
    handler([as_message(s, i) for i, s in enumerate([CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, STRIKE])])
    by_watchlist = {a.watchlist_id: a for a in alerts.all_alerts()}
    assert set(by_watchlist) == {arabic.id, english.id, turkish.id}
    assert by_watchlist[arabic.id].story.language == "ar"
    assert by_watchlist[english.id].story.language == "en"
    assert by_watchlist[turkish.id].story.language == "tr"
    # One alerts receipt per language version, after the alerts were stored.
    receipts = [Receipt.model_validate_json(m.value) for m in sent]
    assert {(r.story_id, r.language, r.service) for r in receipts} == {
        ("ww-ceasefire", "en", "alerts"),
        ("ww-ceasefire", "ar", "alerts"),
        ("ww-ceasefire", "tr", "alerts"),
        ("ww-strike", "en", "alerts"),
    }


@pytest.mark.integration
def test_a_watchlist_added_while_stories_flow_catches_the_next_match(parts):
    store, alerts, handler, _, _ = parts
    handler([as_message(STRIKE, 0)])
    late = watchlist("Grain", "grain exports")
    store.add(late)
    handler([as_message(STRIKE.model_copy(update={"version": 2}), 1)])
    assert [(a.watchlist_id, a.story.version) for a in alerts.all_alerts()] == [(late.id, 2)]
    store.remove(late.id)
    handler([as_message(STRIKE.model_copy(update={"version": 3}), 2)])
    assert alerts.all_alerts() == [], "a deleted watchlist's alerts go with it"


@pytest.mark.integration
def test_updates_replays_kills_and_embargoes_through_the_handler(parts):
    store, alerts, handler, _, clock = parts
    quiet, loud = watchlist("Quiet", "ceasefire"), watchlist("Loud", "ceasefire", notify_updates=True)
    store.add(quiet)
    store.add(loud)
    handler([as_message(CEASEFIRE, 0)])
    handler([as_message(CEASEFIRE, 0)])  # a replay after a crash
    clock.now += timedelta(minutes=1)
    handler([as_message(CEASEFIRE.model_copy(update={"version": 2}), 1)])
    kafka = "kafka"
    events = [AlertEvent.model_validate_json(d.body) for d in alerts.due(kafka, clock.now)]
    assert sorted((e.watchlist.name, e.event.value) for e in events) == [
        ("Loud", "created"),
        ("Loud", "updated"),
        ("Quiet", "created"),
    ]
    clock.now += timedelta(minutes=1)
    killed = CEASEFIRE.model_copy(update={"version": 3, "pubstatus": "canceled"})
    handler([as_message(killed, 2)])
    assert {a.state for a in alerts.all_alerts()} == {"withdrawn"}
    # Embargoed: matched now, held until release.
    release = clock.now + timedelta(hours=1)
    held = STRIKE.model_copy(update={"embargoed": release})
    grain = watchlist("Grain", "grain")
    store.add(grain)
    handler([as_message(held, 3)])
    assert alerts.alerts(grain.id, clock.now) == []
    assert [a.story.id for a in alerts.alerts(grain.id, release)] == ["ww-strike"]
    assert [AlertEvent.model_validate_json(d.body).event for d in alerts.due(kafka, release)][
        -1
    ] is EventKind.CREATED


@pytest.mark.integration
def test_a_store_that_fails_retries_the_batch_without_receipts(parts, tmp_path):
    store, alerts, handler, sent, _ = parts
    store.add(watchlist("Grain", "grain"))
    alerts.close()  # the alert store cannot write: the batch must be retried, not confirmed
    with pytest.raises(TransientError):
        handler([as_message(STRIKE, 0)])
    assert sent == []


@pytest.mark.integration
@pytest.mark.slow
def test_the_service_matches_from_the_broker_and_publishes_alerts_read_back_from_the_topic(
    broker, tmp_path, new_topic
):
    topics = {
        role: new_topic(partitions=1, suffix=f"-{role}")
        for role in ("stories", "renditions", "receipts", "alerts", "deadletter")
    }
    contract = parse_contract(
        {
            "topics": {
                role: {"name": name, "partitions": 1, "retention_ms": 86_400_000}
                for role, name in topics.items()
            }
        }
    )
    settings = AlertsSettings(
        _env_file=None,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        data_dir=tmp_path / "data",
        alerts_group_id=f"alerts-{tmp_path.name}",
        alerts_delivery_poll_s=0.2,
        log_format="text",
    )
    service = build(settings, contract=contract)
    service.store.add(watchlist("Grain", "grain exports"))
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in service.workers]
    for t in threads:
        t.start()
    producer = Producer({"bootstrap_servers": [broker.bootstrap_servers]})
    try:
        producer.publish_many(
            [Outgoing(topics["stories"], STRIKE.id, STRIKE.to_json(), story_headers(STRIKE))]
        )
        seen: list[Any] = []
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            seen = read_topic(broker.bootstrap_servers, topics["alerts"], 1, timeout=5)
        assert seen, "no alert event on the alerts topic"
        event = AlertEvent.model_validate_json(seen[0].value())
        assert seen[0].key().decode() == event.watchlist.id and event.story.id == STRIKE.id
        assert event.event is EventKind.CREATED
        assert dict(seen[0].headers())["wirewatch-alert-event"] == b"created"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        producer.close()
        for close in service.closers:
            close()
