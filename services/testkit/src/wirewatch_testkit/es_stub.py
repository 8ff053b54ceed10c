"""A loopback HTTP server that answers like Elasticsearch 9, for tests of what a client sends.

Routes match on method and path prefix, the latest registered first; every request is kept in
`seen`. A request no route takes gets Elasticsearch's shape of a 404.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INFO = {
    "name": "stub",
    "cluster_name": "stub",
    "version": {"number": "9.1.0"},
    "tagline": "You Know, for Search",
}
"""The root document a 9.x cluster answers with: the client checks the version before its first call."""


@dataclass
class Seen:
    """One request the stub received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as one JSON document."""
        return json.loads(self.body)

    def ndjson(self) -> list[Any]:
        """The body as newline-delimited JSON (a bulk or msearch request)."""
        return [json.loads(line) for line in self.body.decode().splitlines() if line]


Responder = Callable[[Seen], tuple[int, Any]]
"""Status and JSON payload (None: no body) for a request."""


@dataclass
class Stub:
    """The stub's address, what it has seen, and its routes."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    routes: list[tuple[str, str, Responder]] = field(default_factory=list)

    def on(self, method: str, prefix: str, responder: Responder) -> None:
        """Answer requests of this method under this path prefix, ahead of earlier routes."""
        self.routes.insert(0, (method, prefix, responder))

    def requests(self, method: str, prefix: str) -> list[Seen]:
        """The requests seen of this method under this path prefix, in order."""
        return [s for s in self.seen if s.method == method and s.path.startswith(prefix)]

    def answer(self, seen: Seen) -> tuple[int, Any]:
        """What the first matching route answers, or Elasticsearch's 404."""
        for method, prefix, responder in self.routes:
            if method == seen.method and seen.path.startswith(prefix):
                return responder(seen)
        return 404, {"error": {"type": "no_route", "reason": seen.path}, "status": 404}


@contextmanager
def elasticsearch_stub() -> Iterator[Stub]:
    """Serve a stub that answers `GET /` until the block ends; the test adds the other routes."""
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen = Seen(self.command, self.path, headers, self.rfile.read(length))
            state.seen.append(seen)
            status, payload = state.answer(seen)
            raw = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Type", "application/vnd.elasticsearch+json; compatible-with=9")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    state.on("GET", "/", lambda s: (200, INFO))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
