"""`wirewatch status` reading a service's operations endpoints through client.call, against a real loopback server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from wirewatch_common.broker import free_port
from wirewatch_stack.client import ready
from wirewatch_stack.status import installed_models, service_state
from wirewatch_stack.supervisor import ServiceSpec

pytestmark = pytest.mark.integration

ANSWERS = {
    "/healthz": (200, {"status": "ok", "workers": {"feed-poller": "stopped"}}),
    "/readyz": (503, {"status": "not ready", "checks": {"broker": "no answer"}}),
    "/v1/models": (200, {"pairs": [["de", "en"]]}),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    keys: list[str | None]

    def do_GET(self) -> None:
        self.keys.append(self.headers.get("x-api-key"))
        code, answer = ANSWERS.get(self.path, (404, {"error": "no such path"}))
        body = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[tuple[str, list[str | None]]]:
    keys: list[str | None] = []
    handler = type("Handler", (_Handler,), {"keys": keys})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", keys
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_a_503_readyz_is_read_not_taken_for_an_unreachable_service(service):
    url, keys = service
    state = service_state(ServiceSpec("ingest", [], url=url), "s3cret")
    assert state.healthy is True and state.ready is False
    assert state.checks == {"broker": "no answer"}
    assert state.detail == "worker feed-poller: stopped"
    assert installed_models(ServiceSpec("translate", [], url=url), None) == {"pairs": [["de", "en"]]}
    assert keys == ["s3cret", "s3cret", None]
    assert ready(url) is False


def test_a_service_that_does_not_answer_is_unreachable_with_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    state = service_state(ServiceSpec("index", [], url=url), None, timeout=2)
    assert state.healthy is None and state.ready is None and not state.reachable
    assert state.detail.startswith(f"unreachable: {url}/healthz: ")
    assert installed_models(ServiceSpec("translate", [], url=url), None, timeout=2) is None
