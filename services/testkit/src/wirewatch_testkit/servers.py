"""Real HTTP servers inside a test: an ASGI app under uvicorn, and a recording endpoint (webhooks, stubs)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn

from wirewatch_common.broker import free_port


@contextmanager
def serving(app: Any) -> Iterator[tuple[str, int]]:
    """Run an ASGI app under a real uvicorn on a free loopback port until the block ends.

    For what a test client cannot show: how real HTTP clients see early answers and unread bodies.
    """
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(30)


@dataclass(frozen=True)
class Request:
    """One request a `RecordingServer` received: path with query, headers in lower case, body."""

    path: str
    headers: dict[str, str]
    body: bytes


Answer = tuple[int, dict[str, str], bytes, float]
"""Status, headers, body, and seconds to wait on the server's `release` before answering."""


class RecordingServer:
    """A loopback HTTP server that records each GET and POST and answers as `answer(request, number)` says.

    `seen` holds every request on arrival (numbered from 1), `answered` each request with its status
    as its answer goes out, after any wait on `release` (set by the test, or by `close`).
    """

    def __init__(self, answer: Callable[[Request, int], Answer]) -> None:
        self.seen: list[Request] = []
        self.answered: list[tuple[Request, int]] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                outer.seen.append(request)
                status, headers, reply, wait = answer(request, len(outer.seen))
                if wait:
                    outer.release.wait(wait)
                outer.answered.append((request, status))  # before the client can see the answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Answer whatever waits, stop serving and free the port."""
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)
