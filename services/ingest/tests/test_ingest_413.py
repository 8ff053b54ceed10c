"""An over-limit body gets a 413 that every client reads, on a real uvicorn: urllib sends all before reading.

Before, the server answered and closed with the body unread, the kernel reset the connection, and
urllib saw ECONNRESET instead of the JSON error. Now the answer goes first and the rest of the body
is read and dropped within bounds (bytes and seconds); past them the connection is closed.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from wirewatch_ingest.bootstrap import build
from wirewatch_ingest.drain import DRAIN_MIN_BYTES, DrainingResponse
from wirewatch_testkit.servers import serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIMIT = 1_000_000
MIB = 1024 * 1024
AGENCY = b"Ferry service resumes\n\nHELSINKI (STT) - The ferry sailed again on Monday.\n"


@pytest.fixture(scope="module")
def ingest(broker, settings_factory, contract_factory, tmp_path_factory) -> Iterator[tuple[str, int]]:
    """The real ingest app with a 1 MB document limit behind uvicorn."""
    settings = settings_factory(
        broker.bootstrap_servers, tmp_path_factory.mktemp("ingest-413"), ingest_max_document_bytes=LIMIT
    )
    with serving(build(settings, contract=contract_factory("413")).app) as address:
        yield address


def post(address: tuple[str, int], data: Any, content_type: str = "text/plain") -> tuple[int, dict[str, Any]]:
    """POST with urllib, which writes the whole body before it reads any answer."""
    host, port = address
    request = urllib.request.Request(
        f"http://{host}:{port}/v1/stories", data=data, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def assert_too_large(status: int, body: dict[str, Any]) -> None:
    assert status == 413
    assert body["error"]["code"] == "document_too_large"
    assert str(LIMIT) in body["error"]["message"]


def test_urllib_sending_2_mb_reads_the_json_413(ingest: tuple[str, int]) -> None:
    assert_too_large(*post(ingest, b"x" * 2_000_000))


def test_urllib_sending_64_mib_reads_the_json_413(ingest: tuple[str, int]) -> None:
    started = time.monotonic()
    assert_too_large(*post(ingest, b"x" * (64 * MIB)))
    assert time.monotonic() - started < 30


def test_a_chunked_upload_over_the_limit_reads_the_413_too(ingest: tuple[str, int]) -> None:
    pieces = (b"y" * 65_536 for _ in range(8 * MIB // 65_536))  # no length: urllib sends it chunked
    assert_too_large(*post(ingest, pieces))


def test_the_service_goes_on_after_refusals(ingest: tuple[str, int]) -> None:
    assert_too_large(*post(ingest, b"x" * 3_000_000))
    status, body = post(ingest, AGENCY)
    assert status == 202, body
    assert body["stories"][0]["outcome"] == "accepted"


def _exchange(
    address: tuple[str, int], head: bytes, body: bytes = b"", wait: float = 20
) -> tuple[bytes, float]:
    """Send `head` and `body` on a raw socket, read until the server closes; return what came and when it closed."""
    with socket.create_connection(address, timeout=wait) as sock:
        sock.sendall(head + body)
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(65_536):
            answer += chunk
        return answer, time.monotonic() - started


def test_a_client_waiting_for_100_continue_gets_the_413_and_never_a_continue(ingest: tuple[str, int]) -> None:
    head = (
        b"POST /v1/stories HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 5000000\r\nExpect: 100-continue\r\n\r\n"
    )
    answer, _ = _exchange(ingest, head)  # the body is never sent, as curl does on a final answer
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"100 Continue" not in answer
    assert b'"document_too_large"' in answer


def test_a_declared_length_beyond_the_drain_bound_is_answered_and_closed_at_once(
    ingest: tuple[str, int],
) -> None:
    too_big = 4 * DRAIN_MIN_BYTES
    head = b"POST /v1/stories HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % too_big
    answer, closed_after = _exchange(ingest, head)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer.lower()
    assert closed_after < 5  # nothing of the body was waited for


def test_a_slow_sender_is_cut_off_after_the_time_bound() -> None:
    app = FastAPI()

    @app.post("/refuse")
    async def refuse(request: Request) -> Response:
        return DrainingResponse(
            JSONResponse({"error": "too large"}, status_code=413), allowance=10 * MIB, seconds=1.0
        )

    with serving(app) as address:
        head = b"POST /refuse HTTP/1.1\r\nHost: test\r\nContent-Length: 5000000\r\n\r\n"
        answer, closed_after = _exchange(address, head, b"z" * 100_000)  # then it stalls
    assert answer.startswith(b"HTTP/1.1 413 ") and answer.endswith(b'{"error":"too large"}')
    assert 0.5 < closed_after < 10
