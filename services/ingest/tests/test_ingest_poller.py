"""The feed poller against a real local HTTP server and the session broker: ETag, 304, backoff, bounds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from wirewatch_common.bus import Admin, Producer
from wirewatch_ingest.delivery import ResilientPublisher
from wirewatch_ingest.ledger import Ledger
from wirewatch_ingest.pipeline import Ingestor
from wirewatch_ingest.poller import FeedPoller, FetchError, fetch
from wirewatch_ingest.settings import FeedSource

pytestmark = [pytest.mark.integration]

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>Local wire</title><id>urn:test:local-wire</id>
<entry><id>urn:test:local-wire:1</id><title>Harbour reopens</title><updated>2026-11-25T08:00:00Z</updated>
<content type="html">&lt;p&gt;The harbour reopened on Tuesday after the storm.&lt;/p&gt;</content></entry>
</feed>"""


class Server:
    """A tiny feed server: /feed honours If-None-Match, /broken answers 500, /big sends too much, /hop redirects."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append((self.path, self.headers.get("If-None-Match")))
                if self.path == "/feed":
                    if self.headers.get("If-None-Match") == '"v1"':
                        self.send_response(304)
                        self.end_headers()
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                    self.send_header("ETag", '"v1"')
                    self.send_header("Content-Length", str(len(FEED)))
                    self.end_headers()
                    self.wfile.write(FEED)
                elif self.path == "/big":
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"<rss>" + b" " * 50_000)
                elif self.path == "/hop":
                    self.send_response(302)
                    self.send_header("Location", "ftp://127.0.0.1/feed")  # urllib would follow ftp
                    self.end_headers()
                else:
                    self.send_response(500)
                    self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(10)


@pytest.fixture
def ingestor(broker, make_settings, make_contract, tmp_path: Path):
    settings = make_settings(broker.bootstrap_servers, ingest_max_document_bytes=10_000)
    contract = make_contract()
    admin = Admin.from_settings(settings)
    admin.provision(contract)
    admin.close()
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    publisher = ResilientPublisher(lambda: Producer.from_settings(settings))
    try:
        yield Ingestor(ledger, publisher, contract.stories.name, settings.limits)
    finally:
        publisher.close()
        ledger.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_conditional_get_and_interval(server: Server, ingestor: Ingestor) -> None:
    clock = Clock()
    url = f"{server.url}/feed"
    poller = FeedPoller([FeedSource(url=url, interval_s=60)], ingestor, monotonic=clock)
    first = poller.poll_due()[url]
    assert first["format"] == "feed" and first["stories"][0]["outcome"] == "accepted"
    assert poller.poll_due() == {}  # not due yet
    clock.now = 61
    assert poller.poll_due() == {url: "not modified"}
    assert server.requests == [("/feed", None), ("/feed", '"v1"')]


def test_failures_back_off_exponentially(server: Server, ingestor: Ingestor) -> None:
    clock = Clock()
    url = f"{server.url}/broken"
    poller = FeedPoller([FeedSource(url=url, interval_s=10)], ingestor, monotonic=clock, max_backoff=35)
    waits = []
    for _ in range(4):
        assert poller.poll_due()[url].startswith("error: HTTP 500")
        waits.append(poller.states[0].next_due - clock.now)
        clock.now = poller.states[0].next_due
    assert waits == [10, 20, 35, 35]


def test_size_scheme_and_redirect_bounds(server: Server) -> None:
    with pytest.raises(FetchError, match="larger than the limit"):
        fetch(f"{server.url}/big", etag=None, last_modified=None, max_bytes=1000, timeout=5)
    with pytest.raises(FetchError, match="only http and https"):
        fetch("file:///etc/passwd", etag=None, last_modified=None, max_bytes=1000, timeout=5)
    with pytest.raises(FetchError, match="only http and https"):
        fetch(f"{server.url}/hop", etag=None, last_modified=None, max_bytes=1000, timeout=5)
    with pytest.raises(ValidationError):
        FeedSource(url="ftp://example.invalid/feed")
