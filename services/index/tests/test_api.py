"""The /v1 API over a real tantivy index, through FastAPI's TestClient."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.bootstrap import build
from wirewatch_index.settings import IndexSettings
from wirewatch_testkit.stories import DAY, SAMPLES, original, rendition

pytestmark = pytest.mark.integration

READER = "reader-key-0123456789"
WRITER = "writer-key-0123456789"


@pytest.fixture
def backend(tmp_path):
    b = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    b.write(SAMPLES)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def client(backend, tmp_path):
    settings = IndexSettings(
        _env_file=None,
        data_dir=tmp_path,
        api_keys=f"reader:{READER},writer:{WRITER}",
        index_stream_interval_s=0.05,
        index_max_query_chars=100,
        index_worker=False,
    )
    with TestClient(build(settings, backend=backend).app, headers={"X-API-Key": READER}) as c:
        yield c


def test_search_returns_one_hit_per_story_with_matched_language_and_facets(client):
    r = client.get("/v1/search", params={"q": "ateşkes", "facets": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(h["story_id"], h["language"], h["languages"]) for h in body["hits"]] == [
        ("ww-ceasefire", "tr", ["ar", "en", "tr"])
    ]
    assert body["total"] == 1 and "next_cursor" not in body
    assert body["facets"]["language"] == [{"value": "tr", "count": 1}]
    r = client.get("/v1/search", params=[("q", "ceasefire"), ("provider", "AP"), ("lang", "en")])
    assert [h["story_id"] for h in r.json()["hits"]] == ["ww-derby"]
    r = client.get("/v1/search", params={"sort": "newest", "from": "2026-11-24T12:00:00+00:00"})
    assert [h["story_id"] for h in r.json()["hits"]] == ["ww-strike", "ww-secim"]


def test_cursor_paging_over_http_and_tampering_is_rejected(client, backend):
    backend.write(
        [original(f"ww-flood-{i:02d}", f"Flood {i}", ["River flood."], versioncreated=DAY) for i in range(11)]
    )
    seen, cursor = [], None
    for _ in range(10):
        params = {"q": "flood", "size": 4, "sort": "newest"} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/search", params=params).json()
        seen += [h["story_id"] for h in body["hits"]]
        cursor = body.get("next_cursor")
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 11
    first = client.get("/v1/search", params={"q": "flood", "size": 4}).json()["next_cursor"]
    forged = first[:-3] + ("AAA" if not first.endswith("AAA") else "BBB")
    r = client.get("/v1/search", params={"q": "flood", "size": 4, "cursor": forged})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_cursor"
    r = client.get("/v1/search", params={"q": "river", "size": 4, "cursor": first})
    assert r.status_code == 400 and "different search" in r.json()["error"]["message"]


def test_limits_and_errors_are_json(client):
    r = client.get("/v1/search", params={"q": "x" * 101})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_query"
    r = client.get("/v1/search", params={"size": 1000})
    assert r.status_code == 422 and "size" in r.json()["error"]["message"]
    assert r.json()["error"]["where"] == {"in": "query", "field": "size"}
    r = client.get("/v1/search", params={"from": "2026-11-24T12:00:00"})  # naive: refused
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = client.get("/v1/stories/ww-missing")
    assert r.status_code == 404 and r.json() == {
        "error": {"code": "not_found", "message": "no story 'ww-missing' in the index"}
    }
    assert client.get("/v1/nowhere").json()["error"]["code"] == "not_found"


def test_api_keys_and_roles(client):
    assert client.get("/v1/search", headers={"X-API-Key": ""}).status_code == 401
    r = client.get("/v1/search", headers={"X-API-Key": "not-a-key-at-all-123"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "unknown API key"
    assert client.get("/v1/search", headers={"X-API-Key": WRITER}).status_code == 200  # a writer may read
    assert (
        client.get("/v1/search", headers={"X-API-Key": "", "Authorization": f"Bearer {READER}"}).status_code
        == 200
    )
    r = client.delete("/v1/stories/ww-derby")
    assert r.status_code == 403
    r = client.delete("/v1/stories/ww-derby", headers={"X-API-Key": WRITER})
    assert r.status_code == 200 and r.json() == {"deleted": 1}
    assert client.get("/healthz", headers={"X-API-Key": ""}).status_code == 200


def test_story_has_renditions_side_by_side_and_history(client):
    body = client.get("/v1/stories/ww-ceasefire").json()
    assert body["original_language"] == "en"
    assert [s["language"] for s in body["renditions"]] == ["en", "ar", "tr"]
    assert body["renditions"][2]["translation"]["source_language"] == "en"
    assert {(v["language"], v["version"]) for v in body["versions"]} == {("en", 1), ("ar", 1), ("tr", 1)}


def test_openapi_has_examples_and_the_root_is_free(client):
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/v1/search"]["get"]["parameters"]}
    assert "arabic" in params["q"]["examples"]
    assert "400" in spec["paths"]["/v1/search"]["get"]["responses"]
    assert "/" not in spec["paths"]


def test_stream_pushes_new_matching_stories(client, backend):
    later = original(
        "ww-quake", "Earthquake shakes Izmir", ["A quake struck."], versioncreated=DAY + timedelta(days=2)
    )

    def publish() -> None:
        time.sleep(0.3)
        backend.write([original("ww-other", "Budget vote delayed", ["Parliament adjourned."])])
        backend.write([later, rendition(later, "tr", "İzmir'de deprem", ["Bir deprem oldu."])])

    writer = threading.Thread(target=publish)
    writer.start()
    try:
        with client.stream("GET", "/v1/stream", params={"q": "deprem OR earthquake", "max_events": 1}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            text = r.read().decode()
    finally:
        writer.join(10)
    assert "event: story" in text and '"story_id":"ww-quake"' in text
    assert "ww-other" not in text


def test_stream_delivers_a_burst_larger_than_one_page_each_story_once(client, backend):
    burst = [original(f"ww-burst-{i:03d}", f"Storm warning {i}", ["Winds rose."]) for i in range(65)]

    def publish() -> None:
        time.sleep(0.3)
        backend.write(burst)

    writer = threading.Thread(target=publish)
    writer.start()
    try:
        with client.stream("GET", "/v1/stream", params={"q": "storm", "max_events": 65}) as r:
            text = r.read().decode()
    finally:
        writer.join(10)
    ids = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("id: ")]
    assert sorted(ids) == sorted(f"ww-burst-{i:03d}.en.1" for i in range(65))


def test_an_embargoed_story_is_absent_from_search_story_and_stream_until_its_moment(client, backend):
    lifts = datetime.now(tz=UTC) + timedelta(seconds=2)
    story = original("ww-rates", "Central bank cuts rates", ["Rates fall by half a point."], embargoed=lifts)
    backend.write([story, rendition(story, "tr", "Merkez bankası faizleri indirdi", ["Faizler düştü."])])
    assert datetime.now(tz=UTC) < lifts, "the write took longer than the embargo: raise the margin"

    body = client.get("/v1/search", params={"q": "rates OR faizleri", "facets": "true"}).json()
    assert body["hits"] == [] and body["total"] == 0
    assert body["facets"] == {"provider": [], "language": [], "day": []}
    hidden = client.get("/v1/stories/ww-rates")
    absent = client.get("/v1/stories/ww-absent")
    # Exactly what an absent story answers: nothing tells that the story exists.
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json() == {"error": {"code": "not_found", "message": "no story 'ww-rates' in the index"}}
    assert hidden.json()["error"]["message"] == absent.json()["error"]["message"].replace(
        "ww-absent", "ww-rates"
    )

    # The stream is opened while the embargo holds; the story was indexed before it connected.
    with client.stream("GET", "/v1/stream", params={"q": "rates", "max_events": 1}) as r:
        text = r.read().decode()
    assert datetime.now(tz=UTC) >= lifts, "streamed before the embargo lifted"
    assert '"story_id":"ww-rates"' in text

    body = client.get("/v1/search", params={"q": "faizleri"}).json()
    assert [(h["story_id"], h["languages"]) for h in body["hits"]] == [("ww-rates", ["en", "tr"])]
    story_view = client.get("/v1/stories/ww-rates")
    assert story_view.status_code == 200
    assert datetime.fromisoformat(story_view.json()["renditions"][0]["embargoed"]) == lifts
