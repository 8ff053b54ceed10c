"""The delivery worker: independent lanes, retries until an endpoint is back, order, giving up, stopping.

Real AlertStore and watchlist store in tmp_path, real webhook receivers on loopback ports. The
issue's 60 s outage is scaled down to 3 s here (with a backoff of tenths of a second); the
end-to-end suite runs the full minute.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Network

import pytest

from wirewatch_alerts.alerting import Hit
from wirewatch_alerts.alertstore import AlertStore
from wirewatch_alerts.backoff import Backoff
from wirewatch_alerts.delivery import DeliveryWorker, LaneBatch, Outcome, Sender, lane_label
from wirewatch_alerts.settings import AlertsSettings
from wirewatch_alerts.store import SqliteWatchlistStore
from wirewatch_alerts.watchlists import KafkaChannel, Watchlist, WatchlistCreate, new_watchlist
from wirewatch_alerts.webhooks import WebhookSender
from wirewatch_common.alert_event import StoryRef
from wirewatch_common.netguard import AddressPolicy
from wirewatch_testkit.servers import Answer, RecordingServer, Request

pytestmark = pytest.mark.integration

SECRET = "a-webhook-secret-of-24ch"
LOOPBACK = AddressPolicy(allowed_networks=(IPv4Network("127.0.0.0/8"),))
QUICK = Backoff(base_s=0.1, cap_s=0.4, max_age_s=60)


@dataclass
class Post:
    path: str
    key: str
    status: int


class Receiver(RecordingServer):
    """A loopback webhook receiver: `status(path, key)` picks each answer; `/slow` waits for `release` (10 s)."""

    def __init__(self, status: Callable[[str, str], int]) -> None:
        def answer(request: Request, number: int) -> Answer:
            wait = 10.0 if request.path.startswith("/slow") else 0.0  # an endpoint answering in 10 s
            return status(request.path, request.headers["idempotency-key"]), {}, b"", wait

        super().__init__(answer)

    @property
    def arrived(self) -> list[str]:
        return [r.path for r in self.seen]

    @property
    def posts(self) -> list[Post]:
        return [Post(r.path, r.headers["idempotency-key"], code) for r, code in self.answered]

    def accepted(self, path: str | None = None) -> list[str]:
        return [p.key for p in self.posts if 200 <= p.status < 300 and (path is None or p.path == path)]


@pytest.fixture
def receive(serve) -> Callable[[Callable[[str, str], int]], Receiver]:
    return lambda status: serve(Receiver(status))


def watch(watchlists: SqliteWatchlistStore, name: str, channels: list[dict]) -> Watchlist:
    spec = WatchlistCreate.model_validate({"name": name, "query": "quake", "channels": channels})
    wl = new_watchlist(spec, now=datetime.now(UTC), max_query_chars=500)[0]
    watchlists.add(wl)
    return wl


def webhook(watchlists: SqliteWatchlistStore, name: str, url: str) -> Watchlist:
    return watch(watchlists, name, [{"type": "webhook", "url": url, "secret": SECRET}])


def record(alerts: AlertStore, wl: Watchlist, *stories: str) -> list[str]:
    """Record one first match per story, each in its own batch; return the event ids in order."""
    ids = []
    for story in stories:
        now = datetime.now(UTC)
        ref = StoryRef(
            id=story,
            version=1,
            language="en",
            original_language="en",
            headline=f"Quake {story}",
            versioncreated=now,
        )
        recorded = alerts.record([Hit(wl.id, ref, original=True, release_at=now)], [], {wl.id: wl}, now)
        ids += [e.event_id for e in recorded.events]
    return ids


def worker(
    alerts: AlertStore, watchlists: SqliteWatchlistStore, *, retry: Backoff = QUICK, **senders: Sender
) -> DeliveryWorker:
    chosen: dict = {"webhook": WebhookSender(timeout_s=15, policy=LOOPBACK)} | senders
    return DeliveryWorker(alerts, watchlists, chosen, retry=retry, poll_s=0.05, stop_grace_s=1)


@contextmanager
def running(delivery: DeliveryWorker) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=delivery.run, args=(stop,))
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive()


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.01)
    return time.monotonic() - started


def lane(alerts: AlertStore, wl: Watchlist):
    (state,) = alerts.lane_states(wl.id)
    return state


def test_an_endpoint_down_for_a_while_then_up_gets_every_event_once_in_order(receive, stores):
    alerts, watchlists = stores
    up_at = time.monotonic() + 3  # the 60 s outage, scaled down
    receiver = receive(lambda path, key: 200 if time.monotonic() >= up_at else 503)
    wl = webhook(watchlists, "Quakes", f"{receiver.url}/in")
    events = record(alerts, wl, "s-1", "s-2", "s-3")
    with running(worker(alerts, watchlists)):
        time.sleep(1)
        events += record(alerts, wl, "s-4", "s-5")  # matched while the endpoint is down
        wait_for(lambda: lane(alerts, wl).delivered == 5)
    assert receiver.accepted() == events  # each once, in the order the events were made
    assert Counter(p.key for p in receiver.posts)[events[0]] > 2  # it was tried through the outage
    state = lane(alerts, wl)
    assert (state.pending, state.failed) == (0, 0)


def test_an_endpoint_answering_in_10_s_does_not_delay_another(receive, stores):
    alerts, watchlists = stores
    receiver = receive(lambda path, key: 200)
    slow = webhook(watchlists, "Slow", f"{receiver.url}/slow")
    fast = webhook(watchlists, "Fast", f"{receiver.url}/fast")
    slow_events = record(alerts, slow, "s-1", "s-2", "s-3")
    fast_events = record(alerts, fast, "s-1", "s-2", "s-3")
    with running(worker(alerts, watchlists)):
        took = wait_for(lambda: lane(alerts, fast).delivered == 3)
        assert took < 1.0
        assert receiver.accepted("/fast") == fast_events
        assert receiver.arrived.count("/slow") == 1 and receiver.accepted("/slow") == []  # still waiting
        assert lane(alerts, slow).pending == 3
        receiver.release.set()  # the slow endpoint answers at last
        wait_for(lambda: lane(alerts, slow).delivered == 3)
    assert receiver.accepted("/slow") == slow_events


def test_a_retry_in_the_middle_of_a_lane_keeps_the_event_order(receive, stores):
    alerts, watchlists = stores
    refused: set[str] = set()

    def once_refuse_the_second(path: str, key: str) -> int:
        if key == events[1] and key not in refused:
            refused.add(key)
            return 503
        return 200

    receiver = receive(once_refuse_the_second)
    wl = webhook(watchlists, "Quakes", f"{receiver.url}/in")
    events = record(alerts, wl, "s-1", "s-2", "s-3", "s-4")
    with running(worker(alerts, watchlists)):
        wait_for(lambda: lane(alerts, wl).delivered == 4)
    assert [p.key for p in receiver.posts] == [events[0], events[1], events[1], events[2], events[3]]
    assert receiver.accepted() == events


def test_a_4xx_gives_up_at_once_and_the_lane_goes_on(receive, stores):
    alerts, watchlists = stores
    receiver = receive(lambda path, key: 410 if key == events[0] else 200)
    wl = webhook(watchlists, "Quakes", f"{receiver.url}/in")
    events = record(alerts, wl, "s-1", "s-2")
    with running(worker(alerts, watchlists)):
        wait_for(lambda: lane(alerts, wl).delivered == 1)
    state = lane(alerts, wl)
    assert (state.failed, state.pending) == (1, 0)
    assert state.last_error is not None and "HTTP 410 Gone" in state.last_error
    assert [p.key for p in receiver.posts] == events  # tried once, never again


def test_a_delivery_failing_past_the_age_limit_is_given_up_and_shown_failed(receive, stores):
    alerts, watchlists = stores
    receiver = receive(lambda path, key: 500)
    wl = webhook(watchlists, "Quakes", f"{receiver.url}/in")
    record(alerts, wl, "s-1")
    with running(worker(alerts, watchlists, retry=Backoff(base_s=0.1, cap_s=0.2, max_age_s=1))):
        wait_for(lambda: lane(alerts, wl).failed == 1)
    state = lane(alerts, wl)
    assert state.pending == 0 and state.last_error is not None
    assert state.last_error.startswith("gave up after") and "HTTP 500" in state.last_error
    assert len(receiver.posts) >= 3


def test_a_channel_removed_from_its_watchlist_is_not_delivered(receive, stores):
    alerts, watchlists = stores
    receiver = receive(lambda path, key: 200)
    wl = webhook(watchlists, "Quakes", f"{receiver.url}/in")
    record(alerts, wl, "s-1")
    watchlists.update(wl.id, lambda w: w.model_copy(update={"channels": ()}))
    delivery = worker(alerts, watchlists)
    delivery.start_due(threading.Event())
    wait_for(lambda: not delivery.busy())
    state = lane(alerts, wl)
    assert (
        state.failed == 1
        and state.last_error is not None
        and "no longer has this channel" in state.last_error
    )
    assert receiver.posts == []


class Recording:
    """A sender for `kafka` lanes such as the lead plugs in: records what it is given."""

    def __init__(self) -> None:
        self.batches: list[LaneBatch] = []

    def send(self, batch: LaneBatch) -> Sequence[Outcome]:
        self.batches.append(batch)
        return [Outcome.delivered(d.id) for d in batch.deliveries]


def test_a_sender_plugged_in_per_channel_type_gets_its_lane_in_order(stores):
    alerts, watchlists = stores
    wl = watch(watchlists, "Quakes", [{"type": "kafka"}])
    events = record(alerts, wl, "s-1", "s-2", "s-3")
    kafka = Recording()
    with running(worker(alerts, watchlists, kafka=kafka)):
        wait_for(lambda: lane(alerts, wl).delivered == 3)
    (batch,) = kafka.batches
    assert batch.key == "kafka" and [d.event_id for d in batch.deliveries] == events
    assert batch.channels == {wl.id: KafkaChannel(type="kafka")}


def test_a_channel_type_without_a_sender_waits_visibly(stores):
    alerts, watchlists = stores
    wl = watch(watchlists, "Quakes", [{"type": "kafka"}])
    record(alerts, wl, "s-1")
    delivery = worker(alerts, watchlists)
    delivery.start_due(threading.Event())
    wait_for(lambda: not delivery.busy())
    state = lane(alerts, wl)
    assert state.pending == 1 and state.last_error == "this alerts process has no sender for kafka channels"


def test_stop_returns_promptly_while_an_endpoint_is_still_answering(receive, stores):
    alerts, watchlists = stores
    receiver = receive(lambda path, key: 200)
    wl = webhook(watchlists, "Slow", f"{receiver.url}/slow")
    record(alerts, wl, "s-1", "s-2")
    delivery = worker(alerts, watchlists)
    stop = threading.Event()
    thread = threading.Thread(target=delivery.run, args=(stop,))
    thread.start()
    wait_for(lambda: receiver.arrived == ["/slow"])
    stopped = time.monotonic()
    stop.set()
    thread.join(10)
    assert time.monotonic() - stopped < 1.5  # the grace is 1 s; the POST in flight does not hold it
    receiver.release.set()
    wait_for(lambda: not delivery.busy())  # the lane finishes its send, then stops: nothing more is sent
    assert receiver.arrived == ["/slow"] and lane(alerts, wl).delivered == 1


def test_lane_labels_keep_webhook_paths_out_of_logs():
    assert (
        lane_label("webhook:https://hooks.example.org/T0/B1/secret-token?x=1")
        == "webhook:https://hooks.example.org"
    )
    assert lane_label("email:15:desk@example.org") == "email" and lane_label("kafka") == "kafka"


def test_the_settings_make_the_worker(stores):
    alerts, watchlists = stores
    settings = AlertsSettings(
        alerts_delivery_batch=7, alerts_delivery_poll_s=0.2, alerts_delivery_max_lanes=3
    )
    delivery = DeliveryWorker.from_settings(settings, alerts, watchlists, {})
    assert (delivery.batch, delivery.poll_s, delivery.max_lanes) == (7, 0.2, 3)
    assert delivery.retry == settings.retry_policy
