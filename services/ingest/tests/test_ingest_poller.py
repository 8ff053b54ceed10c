"""The feed poller against a real local HTTP server: ETag, 304, backoff, bounds (publishing is recorded, not sent)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Network, ip_address

import pytest
from pydantic import ValidationError

from wirewatch_common.bus import DeliveryError
from wirewatch_common.fetch import MAX_REDIRECTS, Fetched, FetchError
from wirewatch_common.netguard import AddressPolicy, AddressRefused, is_public
from wirewatch_ingest.pipeline import Ingestor
from wirewatch_ingest.poller import FeedPoller, fetch
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
        self.stopping = threading.Event()
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
                elif self.path.startswith("/to/"):  # /to/<host:port>/<path>: a redirect elsewhere
                    self.send_response(302)
                    self.send_header("Location", "http://" + self.path[len("/to/") :])
                    self.end_headers()
                elif self.path.startswith("/chain/"):  # an endless chain of distinct redirects
                    self.send_response(302)
                    self.send_header("Location", f"/chain/{int(self.path.rsplit('/', 1)[1]) + 1}")
                    self.end_headers()
                elif self.path == "/drip":  # headers then one byte every 0.2 s: each read is quick
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.end_headers()
                    for _ in range(50):
                        if outer.stopping.is_set():
                            break
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        outer.stopping.wait(0.2)
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
        srv.stopping.set()
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(10)


@pytest.fixture
def ingestor(make_pipeline, recorder) -> Ingestor:
    return make_pipeline(publisher=recorder, ingest_max_document_bytes=10_000).ingestor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


LOOPBACK = AddressPolicy(allowed_networks=(IPv4Network("127.0.0.0/8"),))


def test_conditional_get_and_interval(server: Server, ingestor: Ingestor) -> None:
    clock = Clock()
    url = f"{server.url}/feed"
    poller = FeedPoller([FeedSource(url=url, interval_s=60)], ingestor, policy=LOOPBACK, monotonic=clock)
    first = poller.poll_due()[url]
    assert first["format"] == "feed" and first["stories"][0]["outcome"] == "accepted"
    assert poller.poll_due() == {}  # not due yet
    clock.now = 61
    assert poller.poll_due() == {url: "not modified"}
    assert server.requests == [("/feed", None), ("/feed", '"v1"')]


def test_failures_back_off_exponentially(server: Server, ingestor: Ingestor) -> None:
    clock = Clock()
    url = f"{server.url}/broken"
    poller = FeedPoller(
        [FeedSource(url=url, interval_s=10)], ingestor, policy=LOOPBACK, monotonic=clock, max_backoff=35
    )
    waits = []
    for _ in range(4):
        error = poller.poll_due()[url]["error"]
        assert error["code"] == "feed_http_error" and error["message"].startswith("HTTP 500")
        waits.append(poller.states[0].next_due - clock.now)
        clock.now = poller.states[0].next_due
    assert waits == [10, 20, 35, 35]


def test_a_feed_over_the_document_limit_fails_with_the_apis_code(server: Server, ingestor: Ingestor) -> None:
    url = f"{server.url}/big"
    poller = FeedPoller([FeedSource(url=url, interval_s=10)], ingestor, policy=LOOPBACK, monotonic=Clock())
    assert poller.poll_due()[url] == {
        "error": {"code": "document_too_large", "message": "feed is larger than the limit of 10000 bytes"}
    }


def test_a_broker_outage_is_a_failed_poll_that_backs_off(
    server: Server, ingestor: Ingestor, recorder
) -> None:
    recorder.failure = DeliveryError("no broker answered")
    clock = Clock()
    url = f"{server.url}/feed"
    poller = FeedPoller([FeedSource(url=url, interval_s=10)], ingestor, policy=LOOPBACK, monotonic=clock)
    assert poller.poll_due()[url]["error"]["code"] == "broker_unavailable"
    assert poller.states[0].failures == 1 and poller.states[0].etag is None  # fetched again, not as 304
    recorder.failure = None
    clock.now = poller.states[0].next_due
    assert poller.poll_due()[url]["stories"][0]["outcome"] == "accepted"


def get(url: str, policy: AddressPolicy | None = LOOPBACK, **kwargs: object) -> Fetched:
    options: dict[str, object] = {"etag": None, "last_modified": None, "max_bytes": 1000, "timeout": 5}
    return fetch(url, policy=policy, **(options | kwargs))  # type: ignore[arg-type]


def test_size_scheme_and_redirect_bounds(server: Server) -> None:
    with pytest.raises(FetchError, match="larger than the limit"):
        get(f"{server.url}/big")
    with pytest.raises(FetchError, match="only http and https"):
        get("file:///etc/passwd")
    with pytest.raises(FetchError, match="only http and https"):
        get(f"{server.url}/hop")
    with pytest.raises(ValidationError):
        FeedSource(url="ftp://example.invalid/feed")


def test_a_loopback_feed_is_refused_by_default_and_fetched_when_allowed(server: Server) -> None:
    with pytest.raises(FetchError, match="loopback, private"):
        get(f"{server.url}/feed", policy=None, max_bytes=10_000)
    assert server.requests == []  # refused before any connection
    fetched = get(f"{server.url}/feed", policy=AddressPolicy(allow_private=True), max_bytes=10_000)
    assert fetched.status == 200 and fetched.body == FEED
    assert get(f"{server.url}/feed", max_bytes=10_000).etag == '"v1"'  # allowed by the network list


def test_the_poller_refuses_a_loopback_feed_by_default(server: Server, ingestor: Ingestor) -> None:
    url = f"{server.url}/feed"
    poller = FeedPoller([FeedSource(url=url, interval_s=60)], ingestor, monotonic=Clock())
    error = poller.poll_due()[url]["error"]
    assert error["code"] == "feed_address_refused" and "loopback, private" in error["message"]
    assert server.requests == [] and poller.states[0].failures == 1


def test_a_redirect_to_a_forbidden_address_is_refused_at_that_hop(server: Server) -> None:
    port = server.httpd.server_address[1]
    allow_one = AddressPolicy(allowed_networks=(IPv4Network("127.0.0.1/32"),))
    with pytest.raises(FetchError, match=r"127\.0\.0\.2"):  # another loopback address, not allowed
        get(f"{server.url}/to/127.0.0.2:{port}/feed", policy=allow_one, max_bytes=10_000)
    with pytest.raises(FetchError, match=r"169\.254\.169\.254"):  # the cloud metadata address
        get(f"{server.url}/to/169.254.169.254/latest/meta-data/", policy=allow_one)
    assert [path for path, _ in server.requests] == [
        f"/to/127.0.0.2:{port}/feed",
        "/to/169.254.169.254/latest/meta-data/",
    ]
    fetched = get(f"{server.url}/to/127.0.0.1:{port}/feed", policy=allow_one, max_bytes=10_000)
    assert fetched.body == FEED  # an allowed hop is followed


def test_redirect_hops_are_bounded(server: Server) -> None:
    with pytest.raises(FetchError, match="HTTP 302"):
        get(f"{server.url}/chain/0")
    assert [path for path, _ in server.requests] == [f"/chain/{n}" for n in range(MAX_REDIRECTS + 1)]


def test_a_host_name_is_resolved_once_and_the_checked_address_is_connected(server: Server) -> None:
    port = server.httpd.server_address[1]
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])  # a rebinding resolver: a second lookup would differ
    looked_up: list[str] = []

    def rebinding(host: str, _port: int) -> list[str]:
        looked_up.append(host)
        return next(answers)

    fetched = fetch(
        f"http://feeds.example.test:{port}/feed",
        etag=None,
        last_modified=None,
        max_bytes=10_000,
        timeout=5,
        policy=LOOPBACK,
        resolver=rebinding,
    )
    assert fetched.body == FEED and looked_up == ["feeds.example.test"]
    with pytest.raises(FetchError, match=r"10\.9\.9\.9"):
        fetch(
            f"http://feeds.example.test:{port}/feed",
            etag=None,
            last_modified=None,
            max_bytes=10_000,
            timeout=5,
            policy=LOOPBACK,
            resolver=rebinding,
        )


def test_a_host_with_any_forbidden_address_is_refused() -> None:
    policy = AddressPolicy()
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.7"):
        policy.resolve("mixed.example.test", 80, lambda host, port: ["93.184.216.34", "10.0.0.7"])
    assert policy.resolve("public.example.test", 80, lambda host, port: ["93.184.216.34"]) == [
        "93.184.216.34"
    ]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:a00:1::",  # 6to4 wrapping 10.0.0.1
        "fec0::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(ip_address(address))
    with pytest.raises(AddressRefused):
        AddressPolicy().resolve(address, 80)


def test_public_addresses_pass() -> None:
    for address in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"):
        assert AddressPolicy().resolve(address, 443) == [address]


def test_a_dripping_server_cannot_hold_a_fetch_past_its_deadline(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 1s"):
        get(f"{server.url}/drip", max_bytes=10_000, timeout=1)
    assert (
        time.monotonic() - started < 8
    )  # the server would drip for 10 s; each byte came within the socket timeout
