"""bounded_get against a real HTTP server on a loopback port: size, status, time and address bounds."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wirewatch_common.broker import free_port
from wirewatch_common.fetch import (
    MAX_REDIRECTS,
    AddressRefused,
    Fetched,
    FetchError,
    Reason,
    Wording,
    bounded_get,
)

pytestmark = pytest.mark.integration

LIMIT = 1000
BODY = b"<rss>" + b"x" * 200 + b"</rss>"


class Server:
    """A loopback server whose paths each misbehave one way; every request path is recorded.

    A handler that waits, waits on `release`, which the fixture sets before shutting down: a client
    that got its answer early never needed what comes after the wait.
    """

    def __init__(self, name: str = "origin") -> None:
        self.requests: list[str] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                path = self.path
                if path == "/ok" or name == "proxy":
                    body = BODY if name == "origin" else b"via proxy"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("ETag", '"v1"')
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif path == "/declared-big":  # says 10 MB, then sends nothing until released
                    self.send_response(200)
                    self.send_header("Content-Length", "10000000")
                    self.end_headers()
                    self.wfile.flush()
                    outer.release.wait(30)
                elif path.startswith("/chunked/"):  # /chunked/<first>: one chunk, a wait, then the rest
                    first = int(path.rsplit("/", 1)[1])
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self._chunk(b"y" * first)
                    self.wfile.flush()
                    if first > LIMIT:
                        outer.release.wait(30)
                        self._chunk(b"y" * 1_000_000)
                    self._chunk(b"")
                elif path.startswith("/status/"):
                    self.send_response(int(path.rsplit("/", 1)[1]))
                    self.send_header("ETag", '"v1"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path == "/stall":  # accepts, then never answers
                    outer.release.wait(30)
                elif path == "/drip":  # headers, then a byte every 0.1 s: no single read ever waits long
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(300):
                        if outer.release.wait(0.1):
                            break
                        self.wfile.write(b" ")
                        self.wfile.flush()
                elif path.startswith("/to/"):  # /to/<host:port>/<path>: a redirect there
                    self.send_response(302)
                    self.send_header("Location", path[len("/to/") :].replace("_", "/", 1))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that stopped reading early breaks the pipe: that is the point

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


def _serve(name: str) -> Iterator[Server]:
    server = Server(name)
    server.thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(10)


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve("origin")


@pytest.fixture
def proxy() -> Iterator[Server]:
    yield from _serve("proxy")


def only(*allowed: str, names: dict[str, str] | None = None, asked: list[str] | None = None) -> Any:
    """An address policy: a host (or the address `names` gives it) passes if it is one of `allowed`."""

    def policy(host: str, port: int) -> Sequence[str]:
        if asked is not None:
            asked.append(host)
        address = (names or {}).get(host, host)
        if address not in allowed:
            msg = f"refused {host!r}: {address} is not allowed"
            raise AddressRefused(msg)
        return [address]

    return policy


def public_only(host: str, port: int) -> Sequence[str]:
    """The ingest rule in small: loopback addresses are refused."""
    if ipaddress.ip_address(host).is_loopback:
        msg = f"refused {host!r}: {host} is a loopback address"
        raise AddressRefused(msg)
    return [host]


def get(url: str, **options: Any) -> Fetched:
    return bounded_get(url, **({"max_bytes": LIMIT, "timeout": 5.0} | options))


def failure(url: str, **options: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        get(url, **options)
    return caught.value


def test_a_body_within_the_bounds_comes_back_with_its_headers(server: Server) -> None:
    fetched = get(f"{server.url}/ok")
    assert fetched.status == 200 and fetched.body == BODY
    assert fetched.content_type == "application/rss+xml" and fetched.etag == '"v1"'
    assert fetched.url == f"{server.url}/ok" and fetched.last_modified is None


def test_a_declared_length_over_the_limit_is_refused_before_reading_the_body(server: Server) -> None:
    started = time.monotonic()
    error = failure(f"{server.url}/declared-big", timeout=20.0)
    # Had it waited for the body, the watchdog would have ended it as a timeout after 20 s.
    assert error.reason is Reason.TOO_LARGE and time.monotonic() - started < 10
    assert str(error) == f"{server.url}/declared-big is larger than {LIMIT} bytes (10000000)"


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(server: Server) -> None:
    started = time.monotonic()
    error = failure(f"{server.url}/chunked/{LIMIT + 500}", timeout=20.0)
    # The rest of the body is held back until the server is released: reading it would time out.
    assert error.reason is Reason.TOO_LARGE and time.monotonic() - started < 10
    assert "larger than 1000 bytes" in str(error) and "(" not in str(error)


def test_a_chunked_body_of_exactly_the_limit_passes(server: Server) -> None:
    assert get(f"{server.url}/chunked/{LIMIT}").body == b"y" * LIMIT


@pytest.mark.parametrize("code", [404, 500, 304])
def test_a_status_other_than_2xx_is_an_error_with_that_status(server: Server, code: int) -> None:
    error = failure(f"{server.url}/status/{code}")
    assert error.reason is Reason.STATUS and error.status == code
    assert str(error).startswith(f"{server.url}/status/{code} answered HTTP {code} ")


def test_an_accepted_status_comes_back_and_the_caller_words_the_rest(server: Server) -> None:
    fetched = get(f"{server.url}/status/304", also_accept=(304,))
    assert fetched.status == 304 and fetched.body == b"" and fetched.etag == '"v1"'
    error = failure(f"{server.url}/status/500", also_accept=(304,), wording=Wording(status="HTTP {status}!"))
    assert str(error) == "HTTP 500!"


def test_redirect_hops_are_followed_and_bounded(server: Server) -> None:
    fetched = get(f"{server.url}/to/_ok")
    assert fetched.body == BODY and fetched.url == f"{server.url}/ok"
    error = failure(f"{server.url}/to/_to/_to/_to/_to/_to/_ok")  # six hops
    assert error.reason is Reason.STATUS and error.status == 302
    assert len(server.requests) == 2 + MAX_REDIRECTS + 1


@pytest.mark.parametrize("path", ["/stall", "/drip"])
def test_the_whole_fetch_ends_at_its_timeout(server: Server, path: str) -> None:
    started = time.monotonic()
    error = failure(f"{server.url}{path}", timeout=0.5)
    assert error.reason is Reason.TIMEOUT and str(error).endswith("took longer than the time limit of 0.5s")
    assert time.monotonic() - started < 5  # /drip would go on for 30 s, each byte well within 0.5 s


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/feed", "http:///no-host", "gopher://x/"]
)
def test_only_http_and_https_urls_with_a_host_are_fetched(url: str) -> None:
    error = failure(url)
    assert error.reason is Reason.URL and str(error).startswith("only http:// and https:// URLs")


def test_a_redirect_away_from_http_is_refused_at_that_hop(server: Server) -> None:
    error = failure(f"{server.url}/to/ftp:_/127.0.0.1/etc/passwd")
    assert error.reason is Reason.URL and "ftp://127.0.0.1/etc/passwd" in str(error)


def test_a_dead_port_is_a_network_error() -> None:
    error = failure(f"http://127.0.0.1:{free_port()}/ok")
    assert error.reason is Reason.NETWORK and str(error).startswith("could not fetch ")


def test_the_address_policy_refuses_a_loopback_address_before_connecting(server: Server) -> None:
    error = failure(f"{server.url}/ok", address_policy=public_only)
    assert error.reason is Reason.REFUSED and "127.0.0.1 is a loopback address" in str(error)
    assert server.requests == []


def test_the_address_policy_refuses_a_redirect_to_a_forbidden_address(server: Server) -> None:
    allow_one = only("127.0.0.1")
    error = failure(f"{server.url}/to/http:_/127.0.0.2:{server.port}/ok", address_policy=allow_one)
    assert error.reason is Reason.REFUSED and "127.0.0.2 is not allowed" in str(error)
    assert server.requests == [f"/to/http:_/127.0.0.2:{server.port}/ok"]  # the refused hop never connected
    fetched = get(f"{server.url}/to/http:_/127.0.0.1:{server.port}/ok", address_policy=allow_one)
    assert fetched.body == BODY  # an allowed hop is followed


def test_the_connection_goes_to_the_address_the_policy_returned(server: Server) -> None:
    asked: list[str] = []
    policy = only("127.0.0.1", names={"wire.example.test": "127.0.0.1"}, asked=asked)
    fetched = get(f"http://wire.example.test:{server.port}/ok", address_policy=policy)
    assert fetched.body == BODY and asked == ["wire.example.test"]  # no DNS knows that name


def test_a_policy_turns_the_environment_proxy_off(
    server: Server, proxy: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", proxy.url)
    assert get(f"{server.url}/ok").body == b"via proxy"  # without a policy the proxy carries it
    assert get(f"{server.url}/ok", address_policy=only("127.0.0.1")).body == BODY
    assert proxy.requests == [f"{server.url}/ok"] and server.requests == ["/ok"]


def test_nonsense_bounds_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="max_bytes >= 0 and timeout > 0"):
        bounded_get("http://example.org/", max_bytes=-1, timeout=1.0)
