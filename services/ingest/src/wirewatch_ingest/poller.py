"""Feed poller: fetch configured http(s) feeds with ETag/Last-Modified, per-feed interval and backoff.

Fetching is guarded against server-side request forgery: only http and https; the host is resolved
once, every address is checked against the AddressPolicy (loopback, private, link-local, multicast,
reserved refused unless allowed) and the connection goes to the checked address itself, so a DNS
answer that changes between check and connect cannot steer it inside. Each redirect hop is a new
request through the same checks (at most MAX_REDIRECTS hops). No proxy from the environment is used.
Responses are bounded in size (the document limit) and in time: a watchdog shuts the sockets at
the deadline, so a server dripping headers or body cannot hold the poller. A failing feed waits
twice as long after each failure, up to the configured maximum.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wirewatch_common.bus import DeliveryError
from wirewatch_common.redirects import CheckedRedirects

from .netguard import AddressPolicy, AddressRefused, Resolver, system_resolver
from .pipeline import Ingestor, NoStories
from .settings import FeedSource
from .sources import ParseError

log = logging.getLogger(__name__)

ALLOWED_SCHEMES = frozenset(("http", "https"))


class FetchError(Exception):
    """A feed could not be fetched (network, status, size, time, scheme)."""


@dataclass(frozen=True)
class Fetched:
    """A fetch result: status 304 means not modified (no body)."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None


def _check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        msg = f"refused URL scheme {scheme!r}: only http and https feeds are polled"
        raise FetchError(msg)


MAX_REDIRECTS = CheckedRedirects.max_redirections


class _Connector:
    """Open sockets only to addresses the policy checked, and shut them all at the deadline."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.expired = False

    def create_connection(
        self, address: tuple[str, int], timeout: float | None = None, source_address: Any = None
    ) -> socket.socket:
        host, port = address
        checked = self._policy.resolve(host, port, self._resolver)  # raises AddressRefused
        last: OSError | None = None
        for ip in checked:  # the checked address itself: no second lookup to rebind
            try:
                sock = socket.create_connection((ip, port), timeout, source_address)
            except OSError as exc:
                last = exc
                continue
            with self._lock:
                self._sockets.append(sock)
                if self.expired:
                    sock.close()
                    msg = "feed fetch deadline passed"
                    raise TimeoutError(msg)
            return sock
        msg = f"no address of {host!r} accepted a connection"
        raise last or OSError(msg)

    def expire(self) -> None:
        """Deadline: shut every socket of this fetch, so a blocked read returns at once."""
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _opener(connector: _Connector) -> urllib.request.OpenerDirector:
    """An opener with no environment proxy whose connections go through `connector`."""

    class Http(http.client.HTTPConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connector.create_connection

    class Https(http.client.HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)  # TLS still verifies the certificate for the host name
            self._create_connection = connector.create_connection

    class HttpHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(Http, req)

    class HttpsHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(Https, req)

    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        HttpHandler(),
        HttpsHandler(),
        CheckedRedirects(_check_scheme),
    )


def fetch(
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    timeout: float,
    policy: AddressPolicy | None = None,
    resolver: Resolver = system_resolver,
) -> Fetched:
    """GET a feed conditionally; raise FetchError on anything but 200/304 within the size and time bounds.

    `policy` says which addresses may be reached (default: public addresses only); `resolver`
    turns a host name into addresses (the system resolver; tests name a host of their own).
    """
    _check_scheme(url)
    headers = {
        "User-Agent": "wirewatch-ingest/0.1",
        "Accept": "application/rss+xml, application/atom+xml, */*",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked above and on redirects
    connector = _Connector(policy or AddressPolicy(), resolver)
    watchdog = threading.Timer(timeout, connector.expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        with _opener(connector).open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                msg = f"feed declares {declared} bytes; the limit is {max_bytes}"
                raise FetchError(msg)
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read1(65536):  # what arrived, not a full 64 KB: the deadline holds
                size += len(chunk)
                if size > max_bytes:
                    msg = f"feed is larger than the limit of {max_bytes} bytes"
                    raise FetchError(msg)
                chunks.append(chunk)
            if connector.expired:
                raise TimeoutError
            return Fetched(
                status=response.status,
                body=b"".join(chunks),
                content_type=response.headers.get("Content-Type"),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
    except AddressRefused as exc:
        raise FetchError(str(exc)) from exc
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(status=304, etag=etag, last_modified=last_modified)
        msg = f"HTTP {exc.code} from feed"
        raise FetchError(msg) from exc
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
        if connector.expired:
            msg = f"feed took longer than {timeout:g}s"
            raise FetchError(msg) from exc
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, AddressRefused):
            raise FetchError(str(reason)) from exc
        msg = f"fetch failed: {exc}"
        raise FetchError(msg) from exc
    finally:
        watchdog.cancel()


@dataclass
class FeedState:
    """What the poller remembers of one feed."""

    source: FeedSource
    etag: str | None = None
    last_modified: str | None = None
    next_due: float = 0.0
    failures: int = 0


Fetcher = Callable[..., Fetched]


class FeedPoller:
    """Worker: poll each due feed and ingest what changed."""

    name = "feed-poller"

    def __init__(
        self,
        feeds: Sequence[FeedSource],
        ingestor: Ingestor,
        *,
        timeout: float = 20.0,
        max_backoff: float = 3600.0,
        policy: AddressPolicy | None = None,
        fetcher: Fetcher = fetch,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.states = [FeedState(source) for source in feeds]
        self._policy = policy or AddressPolicy()
        self._ingestor = ingestor
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._fetch = fetcher
        self._monotonic = monotonic

    def poll_due(self) -> dict[str, Any]:
        """Poll every feed that is due; return {url: outcome} ('not modified', an ingest result, or an error)."""
        outcomes: dict[str, Any] = {}
        for state in self.states:
            if self._monotonic() < state.next_due:
                continue
            outcomes[state.source.url] = self._poll(state)
        return outcomes

    def _poll(self, state: FeedState) -> Any:
        url = state.source.url
        try:
            fetched = self._fetch(
                url,
                etag=state.etag,
                last_modified=state.last_modified,
                max_bytes=self._ingestor.limits.max_document_bytes,
                timeout=self._timeout,
                policy=self._policy,
            )
            if fetched.status == 304:
                outcome: Any = "not modified"
            else:
                outcome = self._ingestor.ingest(
                    fetched.body, fetched.content_type or "application/rss+xml", via="feed"
                )
                outcome = outcome.to_dict()
        except NoStories:
            outcome = "no stories"
        except (FetchError, ParseError, DeliveryError) as exc:
            state.failures += 1
            wait = min(self._max_backoff, state.source.interval_s * 2 ** (state.failures - 1))
            state.next_due = self._monotonic() + wait
            log.warning(
                "feed poll failed",
                extra={"url": url, "failures": state.failures, "retry_in_s": wait, "error": str(exc)[:300]},
            )
            return f"error: {exc}"
        state.failures = 0
        state.etag = fetched.etag or state.etag
        state.last_modified = fetched.last_modified or state.last_modified
        state.next_due = self._monotonic() + state.source.interval_s
        return outcome

    def run(self, stop: threading.Event) -> None:
        """Poll until stopped."""
        while not stop.is_set():
            self.poll_due()
            due = min((s.next_due for s in self.states), default=self._monotonic() + 60)
            stop.wait(max(0.5, min(60.0, due - self._monotonic())))
