"""Alerts and the outbox: one alert per (watchlist, story), replays change nothing, kills tell who heard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wirewatch_alerts.alerting import Hit, best_hits, channel_key
from wirewatch_alerts.alertstore import AlertStore
from wirewatch_alerts.watchlists import Watchlist, WatchlistCreate, new_watchlist
from wirewatch_common.alert_event import AlertEvent, EventKind, StoryRef, alert_id

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SECRET = "a-webhook-secret-of-24ch"
HOOK = "https://hooks.example.org/desk"


def watchlist(
    name: str = "Gaza", *, notify_updates: bool = False, channels: list[dict] | None = None
) -> Watchlist:
    spec = WatchlistCreate.model_validate(
        {
            "name": name,
            "query": "ceasefire",
            "notify_updates": notify_updates,
            "channels": channels
            if channels is not None
            else [{"type": "webhook", "url": HOOK, "secret": SECRET}, {"type": "kafka"}, {"type": "feed"}],
        }
    )
    return new_watchlist(spec, now=NOW, max_query_chars=500)[0]


def ref(
    story_id: str = "s-1", version: int = 1, language: str = "en", headline: str = "Ceasefire holds"
) -> StoryRef:
    return StoryRef(
        id=story_id,
        version=version,
        language=language,
        original_language="en",
        headline=headline,
        versioncreated=NOW,
    )


def hit(wl: Watchlist, story: StoryRef, *, original: bool = True, release_at: datetime = NOW) -> Hit:
    return Hit(watchlist_id=wl.id, story=story, original=original, release_at=release_at)


@pytest.fixture
def store(tmp_path):
    s = AlertStore(tmp_path / "alerts.sqlite3")
    yield s
    s.close()


def test_best_hit_is_the_newest_version_and_within_it_the_original():
    wl = watchlist()
    ar = hit(wl, ref(language="ar", version=2), original=False)
    en = hit(wl, ref(language="en", version=2))
    old = hit(wl, ref(language="en", version=1))
    assert best_hits([old, ar, en]) == [en]
    assert best_hits([ar]) == [ar]


def test_first_match_creates_one_alert_naming_the_language_and_one_delivery_per_lane(store):
    wl = watchlist()
    recorded = store.record([hit(wl, ref(language="ar"), original=False)], [], {wl.id: wl}, NOW)
    assert [e.event for e in recorded.events] == [EventKind.CREATED]
    event = recorded.events[0]
    assert event.alert_id == alert_id(wl.id, "s-1") and event.story.language == "ar"
    assert event.event_id == f"{event.alert_id}:created:1"
    lanes = {key for key, _ in store.lanes(NOW)}
    assert lanes == {f"webhook:{HOOK}", "kafka"}  # the feed reads the alerts table, it has no lane
    (delivery,) = store.due(f"webhook:{HOOK}", NOW)
    assert AlertEvent.model_validate_json(delivery.body) == event


def test_a_replay_changes_nothing_and_an_update_notifies_only_when_asked(store, tmp_path):
    quiet, loud = watchlist("Quiet"), watchlist("Loud", notify_updates=True)
    held = {quiet.id: quiet, loud.id: loud}
    store.record([hit(quiet, ref()), hit(loud, ref())], [], held, NOW)
    replay = store.record([hit(quiet, ref()), hit(loud, ref())], [], held, NOW + timedelta(seconds=5))
    assert replay.changes == [] and replay.events == []
    later = NOW + timedelta(minutes=1)
    update = store.record([hit(quiet, ref(version=2)), hit(loud, ref(version=2))], [], held, later)
    assert [(e.watchlist.id, e.event) for e in update.events] == [(loud.id, EventKind.UPDATED)]
    assert len(update.changes) == 2
    assert store.get(alert_id(quiet.id, "s-1")).story.version == 2
    # A second store object on the same file (another process) sees the same alerts.
    other = AlertStore(tmp_path / "alerts.sqlite3")
    try:
        assert [a.story.version for a in other.all_alerts()] == [2, 2]
    finally:
        other.close()


def test_a_kill_withdraws_and_tells_only_the_lanes_that_heard(store):
    wl = watchlist()
    store.record([hit(wl, ref())], [], {wl.id: wl}, NOW)
    webhook = f"webhook:{HOOK}"
    (delivery,) = store.due(webhook, NOW)
    store.delivered([delivery.id], NOW)  # the webhook heard; the kafka lane has not sent yet
    killed = store.record([], [("s-1", 2)], {wl.id: wl}, NOW + timedelta(minutes=1))
    assert [e.event for e in killed.events] == [EventKind.WITHDRAWN]
    assert store.get(alert_id(wl.id, "s-1")).state == "withdrawn"
    later = NOW + timedelta(minutes=2)
    assert [d.event for d in store.due(webhook, later)] == [EventKind.WITHDRAWN]
    assert store.due("kafka", later) == []  # its undelivered "created" was dropped, nothing to withdraw
    assert store.record([], [("s-1", 2)], {wl.id: wl}, later).events == []  # a replayed kill: nothing


def test_new_copy_after_a_kill_brings_the_alert_back(store):
    wl = watchlist()
    store.record([hit(wl, ref())], [("s-1", 2)], {wl.id: wl}, NOW)
    back = store.record([hit(wl, ref(version=3))], [], {wl.id: wl}, NOW + timedelta(minutes=1))
    assert [e.event for e in back.events] == [EventKind.CREATED]
    assert store.get(alert_id(wl.id, "s-1")).state == "active"


def test_an_embargoed_alert_is_held_until_release(store):
    wl = watchlist()
    release = NOW + timedelta(hours=2)
    store.record([hit(wl, ref(), release_at=release)], [], {wl.id: wl}, NOW)
    assert store.alerts(wl.id, NOW) == [] and store.lanes(NOW) == [] and store.count(wl.id, NOW) == 0
    assert [a.story.id for a in store.alerts(wl.id, release)] == ["s-1"]
    assert {key for key, _ in store.lanes(release)} == {f"webhook:{HOOK}", "kafka"}
    assert store.count(wl.id, release) == 1


def test_retries_failures_and_lane_states(store):
    wl = watchlist()
    store.record([hit(wl, ref()), hit(wl, ref("s-2"))], [], {wl.id: wl}, NOW)
    webhook = f"webhook:{HOOK}"
    first, second = store.due(webhook, NOW)
    store.retry(first.id, "HTTP 503", NOW + timedelta(seconds=30))
    store.give_up(second.id, "HTTP 410 Gone", NOW)
    assert store.due(webhook, NOW) == []
    assert [d.attempts for d in store.due(webhook, NOW + timedelta(seconds=30))] == [1]
    (state,) = [s for s in store.lane_states(wl.id) if s.channel_key == webhook]
    assert (state.pending, state.failed, state.delivered) == (1, 1, 0)
    assert state.last_error == "HTTP 503", "the latest error (the retry is later than the give-up)"
    (by_watchlist,) = [
        s for wl_id, s in store.lane_states_by_watchlist() if wl_id == wl.id and s.channel_key == webhook
    ]
    assert by_watchlist == state


def test_hits_of_deleted_watchlists_are_ignored_and_purged(store):
    gone, kept = watchlist("Gone"), watchlist("Kept")
    store.record([hit(gone, ref()), hit(kept, ref())], [], {gone.id: gone, kept.id: kept}, NOW)
    assert store.purge({kept.id}) == 1
    assert [a.watchlist_id for a in store.all_alerts()] == [kept.id]
    assert store.record([hit(gone, ref("s-9"))], [], {kept.id: kept}, NOW).changes == []


def test_channel_keys_name_one_endpoint_each():
    wl = watchlist(
        channels=[
            {"type": "email", "to": ["b@example.org", "a@example.org"], "digest_minutes": 15},
            {"type": "feed"},
        ]
    )
    assert [channel_key(c) for c in wl.channels] == [("email:15:a@example.org,b@example.org", "email"), None]
