"""The desk's same-origin pass-through to the alerts API: a real alerts app on a real port behind the index app."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from wirewatch_alerts.alerting import Hit
from wirewatch_alerts.bootstrap import build as build_alerts
from wirewatch_alerts.settings import AlertsSettings
from wirewatch_common.alert_event import StoryRef
from wirewatch_common.broker import free_port
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.bootstrap import build as build_index
from wirewatch_index.settings import IndexSettings
from wirewatch_testkit.servers import serving

pytestmark = pytest.mark.integration

READER = "reader-key-0123456789"
WRITER = "writer-key-0123456789"
AS_READER = {"X-API-Key": READER}
AS_WRITER = {"X-API-Key": WRITER}
KEYS = f"reader:{READER},writer:{WRITER}"


def index_client(tmp_path, alerts_url: str, **extra):
    backend = TantivyBackend(tmp_path / "index", writer_heap_bytes=15_000_000, writer_threads=1)
    settings = IndexSettings(
        _env_file=None,
        data_dir=tmp_path,
        index_worker=False,
        api_keys=KEYS,
        index_alerts_url=alerts_url,
        **extra,
    )
    return TestClient(build_index(settings, backend=backend).app), backend


@pytest.fixture
def alerts(tmp_path):
    service = build_alerts(
        AlertsSettings(_env_file=None, data_dir=tmp_path / "alerts", api_keys=KEYS, alerts_worker=False)
    )
    with serving(service.app) as (host, port):
        yield service, f"http://{host}:{port}"


@pytest.fixture
def desk(tmp_path, alerts):
    client, backend = index_client(tmp_path, alerts[1])
    with client:
        yield client
    backend.close()


def test_the_desk_creates_lists_and_reads_watchlists_and_alerts_through_the_index(desk, alerts):
    service, _ = alerts
    body = {
        "name": "Strikes",
        "query": "strike",
        "filters": {"languages": ["tr"]},
        "channels": [{"type": "feed"}],
    }
    r = desk.post("/v1/watchlists", json=body, headers=AS_WRITER)
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["location"] == f"/v1/watchlists/{made['id']}" and made["feed_token"]
    assert service.store.get(made["id"]).name == "Strikes", "it reached the alerts service's store"

    denied = desk.post("/v1/watchlists", json=body | {"name": "Other"}, headers=AS_READER)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    anonymous = desk.get("/v1/watchlists")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    refused = desk.post(
        "/v1/watchlists", json={"name": "Everything", "query": "-football"}, headers=AS_WRITER
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_watchlist"

    listed = desk.get("/v1/watchlists", params={"limit": 5}, headers=AS_READER).json()
    assert [w["id"] for w in listed["watchlists"]] == [made["id"]]

    now = datetime.now(tz=UTC)
    story = StoryRef(
        id="ww-rail",
        version=1,
        language="tr",
        original_language="en",
        headline="Demiryolu grevi",
        versioncreated=now,
    )
    service.alerts.record(
        [Hit(made["id"], story, original=False, release_at=now)],
        [],
        {made["id"]: service.store.get(made["id"])},
        now,
    )
    since = "2020-01-01T00:00:00+00:00"  # the "+" must arrive encoded, as the browser sends it
    page = desk.get(f"/v1/watchlists/{made['id']}/alerts", params={"since": since}, headers=AS_READER).json()
    assert page["unread"] == 1 and page["alerts"][0]["story"]["headline"] == "Demiryolu grevi"

    feed = desk.get(f"/v1/watchlists/{made['id']}/feed.atom", params={"token": made["feed_token"]})
    assert feed.status_code == 200 and feed.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert "Demiryolu grevi" in feed.text and feed.headers["cache-control"] == "private, no-cache"
    again = desk.get(
        f"/v1/watchlists/{made['id']}/feed.atom",
        params={"token": made["feed_token"]},
        headers={"If-None-Match": feed.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""
    wrong = desk.get(f"/v1/watchlists/{made['id']}/feed.atom", params={"token": "nope"})
    assert wrong.status_code == 404
    # The index's own security headers go on what it passes on.
    assert feed.headers["x-content-type-options"] == "nosniff"


def test_only_watchlist_paths_pass_and_streams_and_big_bodies_stop_at_the_index(desk):
    for path in ("/v1/watchlists/..%2F..%2Fhealthz", "/v1/watchlists/wl-1/%2E%2E", "/v1/watchlists/.env"):
        r = desk.get(path, headers=AS_READER)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
    r = desk.get("/v1/watchlists/wl-000000000000/stream", headers=AS_READER)
    assert r.status_code == 501 and "poll /v1/watchlists/{id}/alerts" in r.json()["error"]["message"]
    big = desk.post("/v1/watchlists", content=b"{" + b" " * 70_000 + b"}", headers=AS_WRITER)
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    assert desk.delete("/v1/watchlists/wl-000000000000", headers=AS_WRITER).status_code == 405
    assert "/v1/watchlists" not in desk.get("/openapi.json").json()["paths"]


def test_an_alerts_service_down_slow_or_too_talkative_is_a_502(tmp_path, alerts):
    down, backend = index_client(tmp_path / "down", f"http://127.0.0.1:{free_port()}")
    with down:
        r = down.get("/v1/watchlists", headers=AS_READER)
    backend.close()
    assert r.status_code == 502 and r.json()["error"]["code"] == "alerts_unavailable"
    assert "did not answer" in r.json()["error"]["message"] and r.headers["retry-after"] == "5"

    # Accepts the connection, never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        slow, backend = index_client(
            tmp_path / "slow", f"http://127.0.0.1:{silent.getsockname()[1]}", index_alerts_timeout_s=0.5
        )
        with slow:
            started = time.monotonic()
            r = slow.get("/v1/watchlists", headers=AS_READER)
        backend.close()
    assert r.status_code == 502 and r.json()["error"]["code"] == "alerts_unavailable"
    assert time.monotonic() - started < 5

    service, url = alerts
    writer = TestClient(service.app)  # no lifespan: the served app owns the stores
    for i in range(10):
        made = writer.post(
            "/v1/watchlists", json={"name": f"Watch {i}", "query": f"word{i}"}, headers=AS_WRITER
        )
        assert made.status_code == 201
    small, backend = index_client(tmp_path / "small", url, index_alerts_max_bytes=1024)
    with small:
        r = small.get("/v1/watchlists", headers=AS_READER)
    backend.close()
    assert r.status_code == 502 and r.json()["error"]["code"] == "bad_gateway"
    assert "more than 1024 bytes" in r.json()["error"]["message"]
