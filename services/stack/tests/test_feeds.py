from __future__ import annotations

import http.server
import io
import threading
import time
from collections.abc import Iterator

import pytest

from wirewatch_common.broker import free_port
from wirewatch_common.fetch import FetchError
from wirewatch_stack.cli import send_documents
from wirewatch_stack.client import is_url
from wirewatch_stack.feeds import fetch

pytestmark = pytest.mark.integration  # a real HTTP server on a loopback port

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/feed":
            self._send(200, FEED, "application/rss+xml; charset=utf-8")
        elif self.path == "/big":
            self._send(200, b"x" * 5000, "application/xml")
        elif self.path == "/big-undeclared":
            self.send_response(200)
            self.send_header("content-type", "application/xml")
            self.end_headers()
            self.wfile.write(b"x" * 5000)
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("content-type", "application/xml")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"x" * 10)
                self.wfile.flush()
                time.sleep(0.1)
        elif self.path == "/to-file":
            self.send_response(302)
            self.send_header("location", "ftp://127.0.0.1/etc/passwd")
            self.end_headers()
        elif self.path == "/to-feed":
            self.send_response(301)
            self.send_header("location", "/feed")
            self.end_headers()
        else:
            self._send(404, b"no", "text/plain")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/feed.xml", "http:///nohost", "gopher://x/"]
)
def test_only_http_and_https_urls_are_fetched(url):
    with pytest.raises(FetchError, match="only http:// and https://"):
        fetch(url)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("https://x.org/f.rss", True),
        ("HTTP://x", True),
        ("ftp://x", True),
        ("samples/a.xml", False),
        ("a", False),
    ],
)
def test_urls_are_told_from_paths(item, expected):
    assert is_url(item) is expected


def test_a_feed_keeps_its_content_type_and_redirects_are_followed(server):
    fetched = fetch(f"{server}/to-feed")
    assert fetched.data == FEED
    assert fetched.content_type == "application/rss+xml; charset=utf-8"


@pytest.mark.parametrize("path", ["/big", "/big-undeclared"])
def test_a_document_over_the_size_limit_is_refused(server, path):
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        fetch(f"{server}{path}", max_bytes=1000)


def test_a_server_that_drips_is_cut_off_at_the_time_limit(server):
    # The server would take 4 s; each read stays under the socket timeout, so only the total deadline stops it.
    with pytest.raises(FetchError, match="longer than the time limit"):
        fetch(f"{server}/slow", timeout=0.5)


def test_a_redirect_away_from_http_is_refused(server):
    with pytest.raises(FetchError, match="only http:// and https://"):
        fetch(f"{server}/to-file")


def test_http_errors_and_dead_hosts_say_what_happened(server):
    with pytest.raises(FetchError, match="answered HTTP 404"):
        fetch(f"{server}/missing")
    with pytest.raises(FetchError, match="could not fetch"):
        fetch(f"http://127.0.0.1:{free_port()}/feed", timeout=2)


def test_failed_urls_get_a_result_line_and_count_as_failures(server):
    out, err = io.StringIO(), io.StringIO()
    failed = send_documents(
        f"http://127.0.0.1:{free_port()}", [f"{server}/missing", "file:///etc/passwd"], None, out, err
    )
    assert failed == 2
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"[1/2] failed {server}/missing: ") and "HTTP 404" in lines[0]
    assert lines[1].startswith("[2/2] failed file:///etc/passwd: only http:// and https://")
    assert err.getvalue() == "", "no progress bar on a stream that is not a terminal"
