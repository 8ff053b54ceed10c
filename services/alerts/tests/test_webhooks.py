"""Webhook delivery against a real HTTP receiver on a loopback port: signature, headers, statuses, policy."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Network

import pytest
from pydantic import SecretStr

from wirewatch_alerts.alerting import Hit
from wirewatch_alerts.alertstore import AlertStore, Delivery
from wirewatch_alerts.delivery import DeliveryWorker
from wirewatch_alerts.settings import AlertsSettings
from wirewatch_alerts.watchlists import Watchlist, WatchlistCreate, new_watchlist
from wirewatch_alerts.webhooks import WebhookSender, retry_after_s, verify
from wirewatch_common.alert_event import StoryRef
from wirewatch_common.netguard import AddressPolicy
from wirewatch_testkit.servers import Answer, RecordingServer, Request

pytestmark = pytest.mark.integration

SECRET = "a-webhook-secret-of-24ch"
LOOPBACK = AddressPolicy(allowed_networks=(IPv4Network("127.0.0.0/8"),))


@pytest.fixture
def receive(serve) -> Callable[[Callable[[Request, int], Answer]], RecordingServer]:
    return lambda answer: serve(RecordingServer(answer))


def hook(url: str, name: str = "Quakes") -> Watchlist:
    spec = WatchlistCreate.model_validate(
        {"name": name, "query": "quake", "channels": [{"type": "webhook", "url": url, "secret": SECRET}]}
    )
    return new_watchlist(spec, now=datetime.now(UTC), max_query_chars=500)[0]


def record(alerts: AlertStore, wl: Watchlist, *stories: str) -> list[Delivery]:
    """Record one first match per story id; return the lane's due deliveries."""
    now = datetime.now(UTC)
    for story in stories:
        ref = StoryRef(
            id=story,
            version=1,
            language="tr",
            original_language="en",
            headline=f"Quake {story}",
            versioncreated=now,
        )
        alerts.record([Hit(wl.id, ref, original=False, release_at=now)], [], {wl.id: wl}, now)
    key = f"webhook:{wl.channels[0].url}"
    return alerts.due(key, datetime.now(UTC))


def ok(request: Request, number: int) -> Answer:
    return 204, {}, b"", 0


def test_a_delivery_is_a_signed_json_post_keyed_by_its_event_id(receive, stores):
    alerts, _ = stores
    receiver = receive(ok)
    wl = hook(f"{receiver.url}/hooks/desk?team=world")
    (delivery,) = record(alerts, wl, "s-1")
    outcome = WebhookSender(timeout_s=5, policy=LOOPBACK).post(delivery, wl.channels[0])
    assert outcome.status == "delivered"
    (seen,) = receiver.seen
    assert seen.path == "/hooks/desk?team=world" and seen.body == delivery.body
    event = json.loads(seen.body)
    h = seen.headers
    assert h["content-type"] == "application/json" and h["user-agent"].startswith("wirewatch-alerts/")
    assert h["idempotency-key"] == event["event_id"] == delivery.event_id
    assert h["x-wirewatch-event"] == "created" == event["event"]
    timestamp = h["x-wirewatch-timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + seen.body, hashlib.sha256).hexdigest()
    assert h["x-wirewatch-signature"] == f"sha256={expected}"
    assert verify(SECRET, seen.body, timestamp, h["x-wirewatch-signature"], now=time.time())
    assert not verify(
        "another-secret-of-24-chars", seen.body, timestamp, h["x-wirewatch-signature"], now=time.time()
    )
    assert not verify(SECRET, seen.body + b" ", timestamp, h["x-wirewatch-signature"], now=time.time())
    late = time.time() + 301  # a captured request replayed five minutes later
    assert not verify(SECRET, seen.body, timestamp, h["x-wirewatch-signature"], now=late)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "delivered"),
        (202, "delivered"),
        (204, "delivered"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "failed"),
        (307, "failed"),
    ],
)
def test_2xx_delivers_408_429_5xx_retry_and_other_statuses_give_up(receive, stores, status, expected):
    alerts, _ = stores
    headers = {"Location": "/elsewhere"} if status == 307 else {}
    receiver = receive(
        lambda request, n: (status, headers, b'{"error": "nope"}' if status >= 300 else b"", 0)
    )
    wl = hook(f"{receiver.url}/in")
    (delivery,) = record(alerts, wl, "s-1")
    outcome = WebhookSender(timeout_s=5, policy=LOOPBACK).post(delivery, wl.channels[0])
    assert outcome.status == expected
    assert [s.path for s in receiver.seen] == ["/in"]  # one POST, a redirect not followed
    if expected != "delivered":
        assert f"HTTP {status}" in outcome.error and ('"error": "nope"' in outcome.error)
    if status == 307:
        assert "redirects are not followed" in outcome.error


def test_retry_after_is_read_from_a_503(receive, stores):
    alerts, _ = stores
    receiver = receive(lambda request, n: (503, {"Retry-After": "7"}, b"", 0))
    wl = hook(f"{receiver.url}/in")
    (delivery,) = record(alerts, wl, "s-1")
    outcome = WebhookSender(timeout_s=5, policy=LOOPBACK).post(delivery, wl.channels[0])
    assert outcome.status == "retry" and outcome.retry_after_s == 7


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert retry_after_s("120", now) == 120
    assert retry_after_s("Tue, 01 Dec 2026 08:01:30 GMT", now) == 90
    assert retry_after_s("Tue, 01 Dec 2026 07:00:00 GMT", now) == 0
    assert retry_after_s("soon", now) is None and retry_after_s(None, now) is None


def test_a_long_answer_is_read_only_in_part_and_still_delivers(receive, stores):
    alerts, _ = stores
    receiver = receive(lambda request, n: (200, {}, b"x" * 5_000_000, 0))
    wl = hook(f"{receiver.url}/in")
    (delivery,) = record(alerts, wl, "s-1")
    started = time.monotonic()
    assert WebhookSender(timeout_s=5, policy=LOOPBACK).post(delivery, wl.channels[0]).status == "delivered"
    assert time.monotonic() - started < 2


def test_a_receiver_slower_than_the_timeout_is_retried(receive, stores):
    alerts, _ = stores
    receiver = receive(lambda request, n: (200, {}, b"", 5))
    wl = hook(f"{receiver.url}/in")
    (delivery,) = record(alerts, wl, "s-1")
    started = time.monotonic()
    outcome = WebhookSender(timeout_s=0.5, policy=LOOPBACK).post(delivery, wl.channels[0])
    assert outcome.status == "retry" and "longer than 0.5s" in outcome.error
    assert time.monotonic() - started < 2


def test_an_endpoint_nobody_listens_on_is_retried(stores):
    alerts, _ = stores
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()
    wl = hook(f"http://127.0.0.1:{port}/in")
    (delivery,) = record(alerts, wl, "s-1")
    outcome = WebhookSender(timeout_s=2, policy=LOOPBACK).post(delivery, wl.channels[0])
    assert outcome.status == "retry" and outcome.error.startswith("could not reach the webhook")


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_loopback_webhook_is_refused_by_default_and_the_failure_shows_in_the_lane(receive, stores):
    alerts, watchlists = stores
    receiver = receive(ok)
    wl = hook(f"{receiver.url}/in")
    watchlists.add(wl)
    record(alerts, wl, "s-1")
    settings = AlertsSettings()  # the defaults: public addresses only
    assert not settings.alerts_webhook_allow_private
    sender = WebhookSender.from_settings(settings)
    worker = DeliveryWorker(alerts, watchlists, {"webhook": sender}, retry=settings.retry_policy)
    stop = threading.Event()
    assert worker.start_due(stop) == [f"webhook:{receiver.url}/in"]
    wait_for(lambda: not worker.busy())
    (lane,) = alerts.lane_states(wl.id)
    assert (lane.pending, lane.delivered, lane.failed) == (1, 0, 0)  # tried again later: settings may change
    assert lane.last_error is not None and "127.0.0.1" in lane.last_error and "loopback" in lane.last_error
    assert "WIREWATCH_ALERTS_WEBHOOK_ALLOW_PRIVATE" in lane.last_error
    assert receiver.seen == []  # refused before any connection


def test_a_changed_secret_signs_the_next_try(receive, stores):
    alerts, watchlists = stores
    receiver = receive(lambda request, n: (503, {}, b"", 0) if n == 1 else (200, {}, b"", 0))
    wl = hook(f"{receiver.url}/in")
    watchlists.add(wl)
    record(alerts, wl, "s-1")
    worker = DeliveryWorker(
        alerts,
        watchlists,
        {"webhook": WebhookSender(timeout_s=5, policy=LOOPBACK)},
        retry=AlertsSettings(alerts_retry_base_s=0.05, alerts_retry_cap_s=0.1).retry_policy,
        poll_s=0.05,
    )
    stop = threading.Event()
    worker.start_due(stop)
    wait_for(lambda: len(receiver.seen) == 1 and not worker.busy())
    rotated = "a-rotated-secret-of-25chs"
    channel = wl.channels[0].model_copy(update={"secret": SecretStr(rotated)})
    watchlists.update(wl.id, lambda w: w.model_copy(update={"channels": (channel,)}))
    runner = threading.Thread(target=worker.run, args=(stop,))
    runner.start()
    try:
        wait_for(lambda: alerts.lane_states(wl.id)[0].delivered == 1)
    finally:
        stop.set()
        runner.join(10)
    first, second = receiver.seen
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert verify(
        SECRET,
        first.body,
        first.headers["x-wirewatch-timestamp"],
        first.headers["x-wirewatch-signature"],
        now=time.time(),
    )
    assert verify(
        rotated,
        second.body,
        second.headers["x-wirewatch-timestamp"],
        second.headers["x-wirewatch-signature"],
        now=time.time(),
    )
    assert not verify(
        SECRET,
        second.body,
        second.headers["x-wirewatch-timestamp"],
        second.headers["x-wirewatch-signature"],
        now=time.time(),
    )


def test_the_checked_address_is_the_one_connected_and_no_proxy_is_used(receive, stores, monkeypatch):
    alerts, _ = stores
    receiver = receive(ok)
    port = receiver.httpd.server_address[1]
    monkeypatch.setenv(
        "http_proxy", "http://10.255.255.1:3128"
    )  # a proxy would connect to what nobody checked
    monkeypatch.setenv("HTTP_PROXY", "http://10.255.255.1:3128")
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    wl = hook(f"http://hooks.example.test:{port}/in")
    (delivery,) = record(alerts, wl, "s-1")
    sender = WebhookSender(timeout_s=5, policy=LOOPBACK, resolver=resolver)
    assert sender.post(delivery, wl.channels[0]).status == "delivered"
    assert looked_up == ["hooks.example.test"]
    assert receiver.seen[0].headers["host"] == f"hooks.example.test:{port}"
    refusing = WebhookSender(timeout_s=5, policy=AddressPolicy(), resolver=resolver)
    outcome = refusing.post(delivery, wl.channels[0])
    assert outcome.status == "retry" and "resolves to 127.0.0.1" in outcome.error and len(receiver.seen) == 1
