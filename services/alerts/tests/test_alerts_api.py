"""Reading alerts: the page with unread counts, the Atom feed (key or feed token), the SSE stream.

Alerts are written as the matcher writes them (`AlertStore.record` of `alerting.Hit`s); the API is
the real app (`bootstrap.build`) through FastAPI's TestClient, and the stream over a real uvicorn
port read by a plain HTTP client, as a feed reader or a desk would read it.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import defusedxml.ElementTree as SafeET
import feedparser
import pytest
from fastapi.testclient import TestClient

from wirewatch_alerts.alerting import Hit
from wirewatch_alerts.bootstrap import AlertsService, build
from wirewatch_alerts.settings import AlertsSettings
from wirewatch_common.alert_event import StoryRef
from wirewatch_testkit.servers import serving

pytestmark = pytest.mark.integration

READER = "reader-key-0123456789"
WRITER = "writer-key-0123456789"
AS_READER = {"X-API-Key": READER}
AS_WRITER = {"X-API-Key": WRITER}
DESK = "https://desk.example.org/wire"
ATOM = "{http://www.w3.org/2005/Atom}"
T0 = datetime(2026, 11, 30, 9, 0, 0, 250_000, tzinfo=UTC)
HOSTILE = 'Port <b>strike</b> & "talks" <script>alert(1)</script>\x0b ends'


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class Desk:
    service: AlertsService
    client: TestClient
    clock: Clock
    watchlists: dict[str, dict[str, Any]] = field(default_factory=dict)

    def watch(self, name: str, *, channels: list[dict[str, str]] | None = None) -> dict[str, Any]:
        body = {
            "name": name,
            "query": "strike",
            "channels": [{"type": "feed"}] if channels is None else channels,
        }
        r = self.client.post("/v1/watchlists", json=body, headers=AS_WRITER)
        assert r.status_code == 201, r.text
        self.watchlists[r.json()["id"]] = r.json()
        return r.json()

    def match(
        self,
        wl: dict[str, Any],
        *stories: tuple[str, str],
        version: int = 1,
        language: str = "en",
        release_at: datetime | None = None,
    ) -> None:
        """Record matches of (story id, headline) as one batch does, at the clock's time."""
        now = self.clock()
        hits = [
            Hit(
                watchlist_id=wl["id"],
                story=ref(story_id, headline, version=version, language=language),
                original=language == "en",
                release_at=release_at or now,
            )
            for story_id, headline in stories
        ]
        self.service.alerts.record(hits, [], {wl["id"]: self.service.store.get(wl["id"])}, now)

    def kill(self, wl: dict[str, Any], story_id: str, version: int) -> None:
        self.service.alerts.record(
            [], [(story_id, version)], {wl["id"]: self.service.store.get(wl["id"])}, self.clock()
        )

    def alerts(self, wl: dict[str, Any], **params: Any) -> dict[str, Any]:
        r = self.client.get(f"/v1/watchlists/{wl['id']}/alerts", params=params, headers=AS_READER)
        assert r.status_code == 200, r.text
        return r.json()


def ref(story_id: str, headline: str, *, version: int = 1, language: str = "en") -> StoryRef:
    return StoryRef(
        id=story_id,
        version=version,
        language=language,
        original_language="en",
        headline=headline,
        versioncreated=T0,
        provider="Reuters",
    )


def settings_for(tmp_path, **extra: Any) -> AlertsSettings:
    return AlertsSettings(
        _env_file=None,
        data_dir=tmp_path,
        api_keys=f"reader:{READER},writer:{WRITER}",
        alerts_worker=False,
        alerts_desk_url=DESK,
        **extra,
    )


@pytest.fixture
def desk(tmp_path):
    clock = Clock()
    service = build(settings_for(tmp_path), now=clock)
    with TestClient(service.app) as client:
        yield Desk(service, client, clock)


# ---------------------------------------------------------------------------------------- the list


def test_alerts_come_newest_first_with_the_language_that_matched_and_an_unread_count(desk):
    wl = desk.watch("Strikes")
    desk.match(wl, ("ww-port", "Port strike spreads"))
    first = desk.alerts(wl)
    assert first["unread"] == 1 and first["as_of"] == "2026-11-30T09:00:00.250000Z"
    desk.clock.tick(60)
    desk.match(wl, ("ww-rail", "Demiryolu grevi"), language="tr")
    page = desk.alerts(wl)
    assert [a["story"]["id"] for a in page["alerts"]] == ["ww-rail", "ww-port"]
    rail = page["alerts"][0]
    assert rail["language"] == "tr" and rail["story"]["headline"] == "Demiryolu grevi"
    assert rail["state"] == "active" and rail["watchlist_id"] == wl["id"] and rail["id"].startswith("al-")
    assert rail["matched_at"] == rail["updated_at"] == rail["changed_at"] == "2026-11-30T09:01:00.250000Z"
    assert "next_before" not in page
    # Read at the first answer's time: only the later alert is unread.
    assert desk.alerts(wl, since=first["as_of"])["unread"] == 1
    assert desk.alerts(wl, since=page["as_of"])["unread"] == 0
    assert [a["story"]["id"] for a in desk.alerts(wl, since=first["as_of"])["alerts"]] == ["ww-rail"]


def test_a_newer_version_moves_an_alert_up_and_a_kill_shows_it_withdrawn_but_not_unread(desk):
    wl = desk.watch("Strikes")
    desk.match(wl, ("ww-port", "Port strike"))
    desk.clock.tick(10)
    desk.match(wl, ("ww-rail", "Rail strike"))
    desk.clock.tick(10)
    desk.match(wl, ("ww-port", "Port strike widens"), version=2, language="ar")
    page = desk.alerts(wl)
    assert [(a["story"]["id"], a["story"]["version"]) for a in page["alerts"]] == [
        ("ww-port", 2),
        ("ww-rail", 1),
    ]
    assert (
        page["alerts"][0]["language"] == "ar"
        and page["alerts"][0]["matched_at"] < page["alerts"][0]["updated_at"]
    )
    read_at = page["as_of"]
    desk.clock.tick(10)
    desk.kill(wl, "ww-rail", 2)
    after = desk.alerts(wl, since=read_at)
    assert [(a["story"]["id"], a["state"]) for a in after["alerts"]] == [("ww-rail", "withdrawn")]
    assert after["unread"] == 0, "a withdrawal is shown, but is not news to count"


def test_pages_never_split_alerts_that_changed_in_the_same_batch(desk):
    wl = desk.watch("Strikes")
    desk.match(wl, ("ww-old", "Old strike"))
    desk.clock.tick(5)
    batch = [(f"ww-b{i}", f"Strike {i}") for i in range(5)]
    desk.match(wl, *batch)  # five alerts, one change time
    desk.clock.tick(5)
    desk.match(wl, ("ww-new", "New strike"))
    first = desk.alerts(wl, limit=2)
    ids = [a["story"]["id"] for a in first["alerts"]]
    assert ids[0] == "ww-new" and sorted(ids[1:]) == sorted(i for i, _ in batch), "the whole batch, not one"
    second = desk.alerts(wl, limit=2, before=first["next_before"])
    assert [a["story"]["id"] for a in second["alerts"]] == ["ww-old"]
    assert "next_before" not in second
    assert desk.alerts(wl, limit=7)["alerts"][-1]["story"]["id"] == "ww-old"


def test_an_embargoed_alert_is_hidden_everywhere_until_its_release(desk):
    wl = desk.watch("Strikes")
    release = T0 + timedelta(hours=1)
    desk.match(wl, ("ww-embargo", "Strike called for Monday"), release_at=release)
    assert desk.alerts(wl) == {
        "watchlist_id": wl["id"],
        "as_of": "2026-11-30T09:00:00.250000Z",
        "unread": 0,
        "alerts": [],
    }
    feed = feedparser.parse(
        desk.client.get(f"/v1/watchlists/{wl['id']}/feed.atom", headers=AS_READER).content
    )
    assert feed.entries == []
    desk.clock.tick(3599)
    assert desk.alerts(wl)["alerts"] == []
    read_before = desk.alerts(wl)["as_of"]
    desk.clock.tick(2)
    page = desk.alerts(wl, since=read_before)
    assert [a["story"]["id"] for a in page["alerts"]] == ["ww-embargo"] and page["unread"] == 1
    assert page["alerts"][0]["changed_at"] == "2026-11-30T10:00:00.250000Z", (
        "seen at the release, not at the match"
    )
    assert page["alerts"][0]["matched_at"] == "2026-11-30T09:00:00.250000Z"


def test_reading_alerts_needs_a_reader_key_and_an_existing_watchlist(desk):
    wl = desk.watch("Strikes")
    path = f"/v1/watchlists/{wl['id']}"
    assert desk.client.get(f"{path}/alerts").status_code == 401
    assert desk.client.get(f"{path}/stream").status_code == 401
    assert desk.client.get(f"{path}/feed.atom").status_code == 401
    for tail in ("alerts", "feed.atom", "stream"):
        r = desk.client.get(f"/v1/watchlists/wl-000000000000/{tail}", headers=AS_READER)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", tail
    r = desk.client.get(f"{path}/alerts", params={"since": "2026-11-30T09:00:00"}, headers=AS_READER)
    assert r.status_code == 422 and r.json()["error"]["where"] == {"in": "query", "field": "since"}
    r = desk.client.get(f"{path}/alerts", params={"limit": 0}, headers=AS_READER)
    assert r.status_code == 422 and r.json()["error"]["where"] == {"in": "query", "field": "limit"}
    paths = desk.client.get("/openapi.json").json()["paths"]
    assert (
        "application/atom+xml"
        in paths["/v1/watchlists/{watchlist_id}/feed.atom"]["get"]["responses"]["200"]["content"]
    )
    assert (
        "text/event-stream"
        in paths["/v1/watchlists/{watchlist_id}/stream"]["get"]["responses"]["200"]["content"]
    )
    schemas = desk.client.get("/openapi.json").json()["components"]["schemas"]
    assert {"unread", "as_of", "alerts", "next_before"} <= set(schemas["AlertPage"]["properties"])


# ---------------------------------------------------------------------------------------- the feed


def feed_of(desk: Desk, wl: dict[str, Any], **headers: str) -> Any:
    return desk.client.get(f"/v1/watchlists/{wl['id']}/feed.atom", headers={**AS_READER, **headers})


def test_the_feed_is_valid_atom_with_one_escaped_entry_per_alert_linking_to_the_desk(desk):
    wl = desk.watch("Strikes & <walkouts>")
    desk.match(wl, ("ww-port", HOSTILE))
    desk.clock.tick(30)
    desk.match(wl, ("ww-rail", "إضراب السكك الحديدية"), language="ar")
    desk.clock.tick(30)
    desk.kill(wl, "ww-port", 2)
    desk.clock.tick(1)
    r = feed_of(desk, wl)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"

    parsed = feedparser.parse(r.content)
    assert parsed.version == "atom10" and parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.title == "wirewatch alerts: Strikes & <walkouts>"
    assert [e.id for e in parsed.entries] == [
        f"urn:wirewatch:alert:{a['id']}" for a in desk.alerts(wl)["alerts"]
    ]
    port, rail = parsed.entries
    assert rail.title == "إضراب السكك الحديدية" and rail.link == f"{DESK}/#story=ww-rail"
    assert "the ar version (written in en)" in rail.summary
    assert port.title == "Withdrawn: " + HOSTILE.replace("\x0b", ""), (
        "markup is text; a control character is dropped"
    )
    assert port.summary.startswith("Withdrawn: the agency killed this story (version 2)")

    # The required elements, read with a parser that refuses entity tricks.
    root = SafeET.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id") == f"urn:wirewatch:watchlist:{wl['id']}"
    assert root.findtext(f"{ATOM}updated") == "2026-11-30T09:01:00Z"
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href").endswith(f"/v1/watchlists/{wl['id']}/feed.atom")
    assert root.find(f"{ATOM}author/{ATOM}name").text == "wirewatch"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 2
    for entry in entries:
        for tag in ("id", "title", "updated", "summary"):
            assert entry.findtext(f"{ATOM}{tag}"), tag
        assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").startswith(f"{DESK}/#story=")
    assert entries[1].find(f"{ATOM}title").get("{http://www.w3.org/XML/1998/namespace}lang") == "ar"
    assert entries[0].find(f"{ATOM}category").get("term") == "withdrawn"
    assert b"<script>" not in r.content and b"&lt;script&gt;" in r.content


def test_a_feed_reader_uses_the_token_and_a_wrong_one_reveals_nothing(desk):
    wl = desk.watch("Strikes")
    private = desk.watch("Private", channels=[])  # no feed channel: no token access
    desk.match(wl, ("ww-port", "Port strike"))
    path = f"/v1/watchlists/{wl['id']}/feed.atom"
    r = desk.client.get(path, params={"token": wl["feed_token"]})
    assert r.status_code == 200 and feedparser.parse(r.content).entries[0].title == "Port strike"
    assert wl["feed_token"] not in r.text, "the self link leaves the secret out"
    wrong = desk.client.get(path, params={"token": "x" * 43})
    absent = desk.client.get("/v1/watchlists/wl-000000000000/feed.atom", params={"token": wl["feed_token"]})
    other = desk.client.get(path.replace(wl["id"], private["id"]), params={"token": private["feed_token"]})
    crossed = desk.client.get(path.replace(wl["id"], private["id"]), params={"token": wl["feed_token"]})
    for answer in (wrong, absent, other, crossed):
        assert answer.status_code == 404
        assert answer.json() == wrong.json(), "the same answer whatever the reason"
    assert wrong.json()["error"]["where"] == {"in": "query", "field": "token"}
    # Without a token, the reader key decides.
    assert desk.client.get(path).status_code == 401
    assert desk.client.get(path.replace(wl["id"], private["id"]), headers=AS_READER).status_code == 200


def test_feed_readers_poll_cheaply_with_etag_and_last_modified(desk):
    wl = desk.watch("Strikes")
    desk.match(wl, ("ww-port", "Port strike"))
    same_second = feed_of(desk, wl)
    assert same_second.headers["etag"] and "last-modified" not in same_second.headers, (
        "the newest change's second is not over: a date could hide a change later in it"
    )
    desk.clock.tick(2)
    first = feed_of(desk, wl)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert modified == "Mon, 30 Nov 2026 09:00:00 GMT" and etag == same_second.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = feed_of(desk, wl, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert feed_of(desk, wl, **{"If-Modified-Since": modified}).status_code == 304
    assert feed_of(desk, wl, **{"If-None-Match": '"stale"', "If-Modified-Since": modified}).status_code == 200
    token = desk.client.get(
        f"/v1/watchlists/{wl['id']}/feed.atom",
        params={"token": wl["feed_token"]},
        headers={"If-None-Match": etag},
    )
    assert token.status_code == 304
    desk.clock.tick(5)
    desk.match(wl, ("ww-rail", "Rail strike"))
    desk.clock.tick(1)
    changed = feed_of(desk, wl, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert feed_of(desk, wl, **{"If-Modified-Since": modified}).status_code == 200
    later = format_datetime(T0 + timedelta(days=1), usegmt=True)
    assert feed_of(desk, wl, **{"If-Modified-Since": later}).status_code == 304
    assert feed_of(desk, wl, **{"If-Modified-Since": "not a date"}).status_code == 200


# ---------------------------------------------------------------------------------------- the stream


class Sse:
    """A plain HTTP client reading Server-Sent Events one block at a time."""

    def __init__(self, host: str, port: int, path: str, **headers: str) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=15)
        self.conn.request("GET", path, headers={**AS_READER, **headers})
        self.response = self.conn.getresponse()

    def block(self) -> dict[str, Any]:
        """The next event or comment block: its fields, `comments`, and when it arrived."""
        found: dict[str, Any] = {"comments": []}
        while True:
            line = self.response.readline().decode()
            if line == "":
                found["closed"] = True
                return found
            line = line.rstrip("\n")
            if line == "":
                if len(found) > 1 or found["comments"]:
                    found["at"] = time.monotonic()
                    return found
                continue
            name, _, value = line.partition(":")
            if name == "":
                found["comments"].append(value.strip())
            else:
                found[name] = value.removeprefix(" ")

    def event(self) -> dict[str, Any]:
        """The next block that is an event (skipping comments and the retry hint)."""
        while True:
            found = self.block()
            if "event" in found or found.get("closed"):
                return found

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def live(tmp_path):
    """The alerts app on a real port with the real clock, polling fast."""
    service = build(
        settings_for(
            tmp_path, alerts_stream_interval_s=0.1, alerts_stream_heartbeat_s=0.5, alerts_stream_max_s=30
        )
    )
    with serving(service.app) as (host, port):
        # No lifespan for the test client: the served app owns the stores and closes them.
        yield Desk(service, TestClient(service.app), Clock()), host, port


def test_the_stream_sends_each_change_when_visible_and_resumes_after_the_last_event_id(live):
    desk, host, port = live
    desk.clock.now = datetime.now(tz=UTC)
    wl = desk.watch("Strikes")
    path = f"/v1/watchlists/{wl['id']}/stream"
    sse = Sse(host, port, path)
    assert sse.response.status == 200
    assert sse.response.getheader("content-type").startswith("text/event-stream")
    hello = sse.block()
    assert hello["retry"] == "3000"
    desk.clock.now = datetime.now(tz=UTC)
    desk.match(wl, ("ww-port", "Port strike"))
    first = sse.event()
    assert first["event"] == "alert" and '"ww-port"' in first["data"]
    assert first["id"].endswith("/" + desk.alerts(wl)["alerts"][0]["id"])
    keep_alive = sse.block()
    assert keep_alive["comments"] == ["keep-alive"], "a quiet stream proves it is alive"
    sse.close()

    # While away: one alert visible now, one embargoed for a second and a half.
    desk.clock.now = datetime.now(tz=UTC)
    release = desk.clock.now + timedelta(seconds=1.5)
    desk.match(wl, ("ww-rail", "Rail strike"))
    desk.match(wl, ("ww-embargo", "Strike called"), release_at=release)
    back = Sse(host, port, path, **{"Last-Event-ID": first["id"]})
    resumed = back.event()
    assert '"ww-rail"' in resumed["data"], "what was missed, not what was seen"
    embargoed = back.event()
    assert '"ww-embargo"' in embargoed["data"]
    assert datetime.now(tz=UTC) >= release, "an embargoed alert streams only once released"
    assert embargoed["id"].startswith(release.isoformat(timespec="microseconds").replace("+00:00", "Z"))
    back.close()

    # A bare time resumes after it; an unreadable id starts afresh (nothing old).
    since_rail = Sse(host, port, path + "?max_events=1", **{"Last-Event-ID": resumed["id"].split("/")[0]})
    assert '"ww-embargo"' in since_rail.event()["data"]
    assert since_rail.block().get("closed"), "max_events closes the stream"
    since_rail.close()
    fresh = Sse(host, port, path, **{"Last-Event-ID": "yesterday"})
    fresh.block()
    desk.clock.now = datetime.now(tz=UTC)
    desk.match(wl, ("ww-dock", "Dock strike"))
    assert '"ww-dock"' in fresh.event()["data"]
    fresh.close()


def test_a_stream_ends_on_its_own_and_when_its_watchlist_is_deleted(tmp_path):
    service = build(
        settings_for(
            tmp_path, alerts_stream_interval_s=0.1, alerts_stream_heartbeat_s=0.3, alerts_stream_max_s=1.5
        )
    )
    with serving(service.app) as (host, port):
        client = TestClient(service.app)
        desk = Desk(service, client, Clock())
        wl = desk.watch("Strikes")
        started = time.monotonic()
        sse = Sse(host, port, f"/v1/watchlists/{wl['id']}/stream")
        while not sse.block().get("closed"):
            pass
        assert 1.4 < time.monotonic() - started < 10, (
            "closed after alerts_stream_max_s; the client reconnects"
        )
        sse.close()

        sse = Sse(host, port, f"/v1/watchlists/{wl['id']}/stream")
        sse.block()
        assert client.delete(f"/v1/watchlists/{wl['id']}", headers=AS_WRITER).status_code == 204
        gone = sse.event()
        assert gone["event"] == "gone" and wl["id"] in gone["data"]
        assert sse.block().get("closed")
        sse.close()

        # A stream still open when the server stops does not hold the stop past its lifetime.
        other = desk.watch("Other")
        held = Sse(host, port, f"/v1/watchlists/{other['id']}/stream")
        held.block()
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10
    held.close()


# ---------------------------------------------------------------------------------------- operations


def test_status_shows_each_watchlists_last_match_and_its_lanes_without_webhook_paths(desk):
    hook = "https://hooks.example.org/secret-path-token"
    wl = desk.watch(
        "Strikes", channels=[{"type": "webhook", "url": hook, "secret": "s" * 20}, {"type": "kafka"}]
    )
    quiet = desk.watch("Quiet")
    desk.match(wl, ("ww-port", "Port strike"), ("ww-rail", "Rail strike"))
    alerts = desk.service.alerts
    first, _ = alerts.due(f"webhook:{hook}", desk.clock())
    alerts.retry(first.id, "HTTP 503 from the endpoint", desk.clock.tick(30))
    r = desk.client.get("/v1/alerts/status", headers=AS_READER)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "secret-path-token" not in r.text, (
        "a webhook's path may hold a token: only scheme and host are shown"
    )
    by_id = {w["id"]: w for w in body["watchlists"]}
    assert by_id[quiet["id"]]["lanes"] == [] and by_id[quiet["id"]].get("last_match") is None
    strikes = by_id[wl["id"]]
    assert strikes["last_match"] == "2026-11-30T09:00:00.250000Z"
    lanes = {lane["channel"]: lane for lane in strikes["lanes"]}
    assert lanes["webhook:https://hooks.example.org"]["pending"] == 2
    assert lanes["webhook:https://hooks.example.org"]["last_error"] == "HTTP 503 from the endpoint"
    assert lanes["kafka"]["pending"] == 2
    assert sum(lane["pending"] for lane in body["lanes"]) == 4
    assert desk.client.get("/v1/alerts/status").status_code == 401
