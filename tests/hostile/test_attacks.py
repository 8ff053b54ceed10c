"""A corpus of attacks against the real apps: each gets its documented 4xx in the shared JSON shape.

Already covered elsewhere, and not repeated here: XML bomb, external entities, invalid UTF-8 in
agency text, empty and over-limit documents (services/ingest/tests/test_ingest_api.py), an over-long
query and an over-large page size, a forged cursor and a cursor from another search
(services/index/tests/test_api.py).
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from wirewatch_common.bus import Consumer, Message, Producer
from wirewatch_common.http_errors import ErrorResponse
from wirewatch_index.worker import IndexHandler
from wirewatch_ingest.settings import IngestSettings
from wirewatch_testkit.servers import serving

from .conftest import AppFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(2)>"
"""Markup a browser would run if any of it reached a page unescaped."""
ONLY_MARKS = re.compile(r"</?mark>")


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has the status and the shared error shape (and the code, when given)."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = ErrorResponse.model_validate(response.json())
    if code is not None:
        assert body.error.code == code, body
    assert "Traceback" not in response.text
    return response.json()["error"]  # type: ignore[no-any-return]


def ninjs(**fields: Any) -> bytes:
    """A valid ninjs story with `fields` replaced."""
    base = {
        "uri": f"urn:hostile:{uuid.uuid4().hex[:8]}",
        "version": "1",
        "language": "en",
        "headline": "Flood warning for the river towns",
        "body_text": "The river rose overnight.\n\nTowns downstream were warned.",
        "versioncreated": "2026-11-25T08:00:00Z",
    }
    return json.dumps(base | fields).encode()


def nested(depth: int) -> bytes:
    """A JSON document nested `depth` levels deep."""
    return b'{"a":' * depth + b"1" + b"}" * depth


# --- deeply nested JSON -------------------------------------------------------------------------


def test_deeply_nested_json_is_refused_by_ingest(ingest_client: TestClient) -> None:
    for body in (nested(10_000), b"[" * 10_000 + b"]" * 10_000):
        response = ingest_client.post(
            "/v1/stories", content=body, headers={"content-type": "application/json"}
        )
        assert_error(response, 400, "malformed_document")
    assert ingest_client.get("/healthz").status_code == 200


def test_deeply_nested_json_is_refused_by_translate(translate_client: TestClient) -> None:
    body = b'{"text":' + nested(10_000) + b',"target":"ar"}'
    response = translate_client.post(
        "/v1/translate", content=body, headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "bad_request")


# --- 100 MB body ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ingest_server(ingest_factory: AppFactory) -> Iterator[tuple[str, int]]:
    """The ingest app behind a real uvicorn on a loopback port (TestClient buffers whole bodies)."""
    app = ingest_factory(ingest_max_document_bytes=1_000_000)
    with serving(app) as address:
        yield address


def _stream_body(address: tuple[str, int], head: bytes, total: int, chunked: bool) -> tuple[bytes, int]:
    """Send `head`, then up to `total` bytes of body, stopping as soon as the server answers."""
    chunk = b"x" * 65_536
    sent = 0
    answer = b""
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(head)
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                piece = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
                sock.sendall(piece)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: exactly what is wanted
        sock.settimeout(30)
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65_536)
            if not data:
                break
            answer += data
        rest = answer.split(b"\r\n\r\n", 1)
        if len(rest) == 2 and b'"error"' not in rest[1]:
            with contextlib.suppress(OSError):
                answer += sock.recv(65_536)
    return answer, sent


HUNDRED_MB = 100 * 1024 * 1024


def test_a_100_mb_chunked_body_is_refused_without_being_read(ingest_server: tuple[str, int]) -> None:
    head = (
        b"POST /v1/stories HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer, sent = _stream_body(ingest_server, head, HUNDRED_MB, chunked=True)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b'"document_too_large"' in answer
    # The server stopped at its 1 MB limit; what was sent beyond it sat in socket buffers.
    assert sent < 20 * 1024 * 1024, f"{sent} bytes went out before the server answered"


def test_a_declared_100_mb_body_is_refused_before_any_byte(ingest_server: tuple[str, int]) -> None:
    head = (
        b"POST /v1/stories HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n"
        b"Content-Length: %d\r\n\r\n" % HUNDRED_MB
    )
    answer, sent = _stream_body(ingest_server, head, HUNDRED_MB, chunked=False)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert sent < 20 * 1024 * 1024


# --- invalid UTF-8, lone surrogates, control characters --------------------------------------


def test_invalid_utf8_in_json_bodies(ingest_client: TestClient, translate_client: TestClient) -> None:
    broken = b'{"uri": "urn:x", "headline": "\xff\xfe", "body_text": "x"}'
    answer = ingest_client.post("/v1/stories", content=broken, headers={"content-type": "application/json"})
    assert "UTF-8" in assert_error(answer, 400, "malformed_document")["message"]
    answer = translate_client.post(
        "/v1/translate",
        content=b'{"text": "\xff\xfe", "target": "ar"}',
        headers={"content-type": "application/json"},
    )
    assert_error(answer, 400, "bad_request")


def test_invalid_utf8_in_a_query_string_is_replaced_not_fatal(index_client: TestClient) -> None:
    response = index_client.get("/v1/search?q=%FF%FE%ED%A0%80")
    assert response.status_code == 200
    response = index_client.get("/v1/stories/%ED%A0%80")
    assert assert_error(response, 422, "invalid_request")["where"] == {"in": "path", "field": "story_id"}


@pytest.mark.parametrize(
    "field", ["headline", "body_text", "description_text", "byline", "located", "keywords"]
)
def test_lone_surrogates_in_any_ninjs_field_are_refused(ingest_client: TestClient, field: str) -> None:
    value: Any = ["flood", "bad \ud800 word"] if field == "keywords" else "bad \udfff text"
    body = ninjs(**{field: value})  # json.dumps writes the surrogate as the escape \udfff
    assert b"\\udfff" in body or b"\\ud800" in body
    response = ingest_client.post("/v1/stories", content=body, headers={"content-type": "application/json"})
    error = assert_error(response, 422, "invalid_story")
    assert "surrogate" in error["message"] or "unicode" in error["message"].lower()


def test_lone_surrogates_in_translate_text_are_refused(translate_client: TestClient) -> None:
    for payload in ({"text": "Hi \ud800 there.", "target": "ar"}, {"text": "Hi.", "target": "\udfff"}):
        response = translate_client.post(
            "/v1/translate",
            content=json.dumps(payload).encode(),
            headers={"content-type": "application/json"},
        )
        assert_error(response, 422)


def test_control_characters_are_removed_from_stories(ingest_factory: AppFactory, broker_consume: Any) -> None:
    app = ingest_factory()
    with TestClient(app) as client:
        body = ninjs(
            headline="Flood \x00\x07\x1b[31m warning\x7f", body_text="River \x0b rose \x85 overnight."
        )
        response = client.post("/v1/stories", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 202, response.text
        story_id = response.json()["stories"][0]["id"]
        agency = b"Dam \x00 alert\n\nODESA (Reuters) - The \x1b[1mdam\x1b[0m held \x07 overnight.\n"
        response = client.post("/v1/stories", content=agency, headers={"content-type": "text/plain"})
        assert response.status_code == 202, response.text
        agency_id = response.json()["stories"][0]["id"]
        stories = broker_consume(app, {story_id, agency_id})
    controls = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
    for message in stories:
        story = message.story()
        for text in [story.headline, *story.body]:
            assert not controls.search(text), repr(text)
    by_id = {m.key: m.story() for m in stories}
    assert by_id[story_id].headline.startswith("Flood") and by_id[story_id].headline.endswith("warning")
    assert "dam" in " ".join(by_id[agency_id].body)


# --- script and markup in every text field -----------------------------------------------------


@pytest.fixture(scope="module")
def broker_consume() -> Any:
    """Read an ingest app's stories topic until the wanted story ids were seen."""

    def consume(app: FastAPI, wanted: set[str], timeout: float = 90.0) -> list[Message]:
        settings: IngestSettings = app.state.test_settings
        seen: dict[str, Message] = {}

        def handle(batch: Sequence[Message]) -> None:
            for message in batch:
                seen[message.key or ""] = message

        producer = Producer.from_settings(settings)
        consumer = Consumer.from_settings(
            settings,
            [app.state.contract.stories.name],
            f"test-hostile-{uuid.uuid4().hex[:8]}",
            handle,
            producer=producer,
            dead_letter_topic=app.state.contract.deadletter.name,
        )
        deadline = time.monotonic() + timeout
        try:
            while not wanted <= seen.keys():
                assert time.monotonic() < deadline, f"timed out waiting for {sorted(wanted - seen.keys())}"
                consumer.poll_once()
        finally:
            consumer.close()
            producer.close()
        return list(seen.values())

    return consume


def _no_markup(html: str) -> None:
    """Escaped HTML: the only tags left are the <mark> the highlighter adds."""
    assert "<" not in ONLY_MARKS.sub("", html), html


def test_script_in_every_field_is_data_in_the_api_and_escaped_in_html(
    ingest_factory: AppFactory, index_factory: AppFactory, broker_consume: Any
) -> None:
    """Push through ingest, index what ingest published, read it back through search, story and stream."""
    fields = {
        "headline": f"Flood {SCRIPT} warning",
        "body_text": f"The flood {SCRIPT} reached the towns.\n\nSecond {SCRIPT} paragraph about the flood.",
        "description_text": f"Summary {SCRIPT}",
        "byline": f"By {SCRIPT}",
        "located": f"ODESA {SCRIPT}",
        "provider": f"Wire {SCRIPT}\n\nevent: forged\ndata: {{}}",
        "keywords": [f"kw {SCRIPT}"],
        "copyrightnotice": f"(c) {SCRIPT}",
        "usageterms": f"Use {SCRIPT}",
    }
    app = ingest_factory()
    with TestClient(app) as client:
        response = client.post(
            "/v1/stories", content=ninjs(**fields), headers={"content-type": "application/json"}
        )
        assert response.status_code == 202, response.text
        story_id = response.json()["stories"][0]["id"]
        messages = broker_consume(app, {story_id})

    index = index_factory(rate_limit_search="0")
    backend = index.state.backend
    IndexHandler(backend, lambda _: None, "unused")(messages)  # what the index worker does with them
    with TestClient(index) as client:
        record = client.get(f"/v1/stories/{story_id}")
        assert record.status_code == 200 and record.headers["content-type"] == "application/json"
        assert record.headers["x-content-type-options"] == "nosniff"
        text = json.dumps(record.json(), ensure_ascii=False)
        assert text.count("<script>alert(1)</script>") >= 5, "stored and returned as data, not stripped"

        hits = client.get("/v1/search", params={"q": "flood towns"}).json()["hits"]
        hit = next(h for h in hits if h["story_id"] == story_id)
        assert "<script>" in hit["headline"], "the plain headline is data"
        for html in (hit["headline_html"], hit["snippet"]):
            _no_markup(html)
        assert "&lt;script&gt;" in hit["headline_html"]

        with client.stream("GET", "/v1/stream", params={"q": "flood", "max_events": 1}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            raw = "".join(stream.iter_text())
    frames = [f for f in raw.split("\n\n") if f and not f.startswith(":")]
    assert len(frames) == 1, raw
    lines = frames[0].split("\n")
    assert [line.split(":", 1)[0] for line in lines] == ["id", "event", "data"], "no field was injected"
    event = json.loads(lines[2].removeprefix("data: "))
    assert event["story_id"] == story_id and "event: forged" in (event["provider"] or "")
    _no_markup(event["headline_html"])
    _no_markup(event["snippet"])


# --- over-long queries, page sizes, cursors -----------------------------------------------------


def test_over_long_and_over_complex_queries(index_client: TestClient) -> None:
    assert_error(index_client.get("/v1/search", params={"q": "flood " * 2_000}), 400, "bad_query")
    assert_error(index_client.get("/v1/search", params={"q": " OR ".join(["a"] * 100)}), 400, "bad_query")
    assert_error(index_client.get("/v1/stream", params={"q": "x" * 10_000}), 400, "bad_query")
    many = [("lang", "en")] * 50
    assert_error(index_client.get("/v1/search", params=many), 400, "bad_query")
    for odd in ["((((((", '"', "*", "-", "headline:", "\x00", "\x1b[31m", "🙂" * 100]:
        assert index_client.get("/v1/search", params={"q": odd}).status_code == 200, odd


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"size": 0}, "size"),
        ({"size": -1}, "size"),
        ({"size": 10**20}, "size"),
        ({"size": "ten"}, "size"),
        ({"facet_size": 100_000}, "facet_size"),
        ({"sort": "random"}, "sort"),
        ({"from": "yesterday"}, "from"),
        ({"cursor": "c" * 1_001}, "cursor"),
    ],
)
def test_page_sizes_and_parameters_out_of_range(
    index_client: TestClient, params: dict[str, Any], field: str
) -> None:
    error = assert_error(index_client.get("/v1/search", params=params), 422, "invalid_request")
    assert error["where"] == {"in": "query", "field": field}


def test_stream_parameters_out_of_range(index_client: TestClient) -> None:
    for value in (0, 10_001, "many"):
        assert_error(index_client.get("/v1/stream", params={"max_events": value}), 422, "invalid_request")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        ".",
        "....",
        "%%%",
        "eyJ2IjoxfQ",  # a payload with no signature
        "eyJ2IjoxLCJrIjoiMHgxLjBwKzAiLCJzIjoxLCJmIjoiMDAwMCJ9.AAAAAAAAAAAAAAAAAAAAAA",  # forged signature
        "🙂.🙂",
    ],
)
def test_forged_cursors_are_400(index_client: TestClient, cursor: str) -> None:
    assert_error(
        index_client.get("/v1/search", params={"q": "ceasefire", "cursor": cursor}), 400, "bad_cursor"
    )


def test_a_tampered_cursor_is_400(index_client: TestClient) -> None:
    first = index_client.get("/v1/search", params={"size": 1}).json()
    cursor = first["next_cursor"]
    head, tail = cursor.split(".")
    flipped = head[:-2] + ("A" if head[-2] != "A" else "B") + head[-1]
    assert_error(
        index_client.get("/v1/search", params={"size": 1, "cursor": f"{flipped}.{tail}"}), 400, "bad_cursor"
    )
    assert_error(
        index_client.get("/v1/search", params={"size": 1, "cursor": f"{head}.{tail[:-1]}"}), 400, "bad_cursor"
    )
    assert_error(
        index_client.get("/v1/search", params={"q": "x", "size": 1, "cursor": cursor}), 400, "bad_cursor"
    )
