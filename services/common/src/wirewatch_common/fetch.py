"""One bounded HTTP GET (and POST) for every URL that someone outside wirewatch serves (feeds, webhooks).

`bounded_get` fetches http and https only, checked again on every redirect hop (at most
MAX_REDIRECTS). It refuses a body larger than `max_bytes`: at once when Content-Length already
says so, otherwise as soon as the bytes read pass the limit. It never reads the rest. A watchdog
shuts the sockets at the deadline, so a server that drips headers or body cannot hold the caller
past `timeout`. Every failure is one `FetchError` whose `reason` says which bound or step failed.

An address policy is optional. When given, it sees the host of every hop and returns the addresses
that may be connected to, or raises AddressRefused. The socket then goes to one of those addresses
itself, with no second lookup, so a DNS answer that changes between check and connect cannot
steer the request elsewhere. With a policy no proxy from the environment is used, because a proxy
would connect on the caller's behalf to an address nobody checked.

`bounded_post` sends one POST (webhooks) through the same connector: no proxy ever, no redirect
followed (a 3xx is an answer like any other), the same deadline, and at most `max_bytes` of the
answer read. It returns every answer whatever its status, since the caller decides what a status
means, and raises FetchError only when no answer came.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .redirects import CheckedRedirects

ALLOWED_SCHEMES = frozenset(("http", "https"))
MAX_REDIRECTS = CheckedRedirects.max_redirections
_CHUNK = 64 * 1024

AddressCheck = Callable[[str, int], Sequence[str]]
"""Given a host and a port, the addresses a connection may go to; raises AddressRefused to refuse."""


class AddressRefused(Exception):
    """An address policy refused a host; the message names the host and the address."""


class Reason(StrEnum):
    """Why a fetch failed."""

    URL = "url"
    """Not an http(s) URL with a host (the first URL or a redirect target)."""
    REFUSED = "refused"
    """The address policy refused a host."""
    STATUS = "status"
    """The server answered a status other than 2xx (or than those the caller accepts)."""
    TOO_LARGE = "too large"
    """The body is larger than max_bytes."""
    TIMEOUT = "timeout"
    """The whole fetch took longer than its timeout."""
    NETWORK = "network"
    """No usable answer: name lookup, connection, TLS or protocol failure."""


class FetchError(Exception):
    """A bounded GET failed; `reason` says why, the message says it in the caller's words."""

    def __init__(self, reason: Reason, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url
        self.status = status
        """The HTTP status, for Reason.STATUS."""


@dataclass(frozen=True)
class Wording:
    """The message a FetchError carries for each reason; a caller passes its own to keep its users' words.

    Placeholders: {url} (the URL as given) in every message; {cause} in refused and network;
    {status} and {status_text} in status; {limit} in both too_large messages; {declared} in
    too_large_declared; {timeout} (seconds, a float) in timeout.
    """

    bad_url: str = "only http:// and https:// URLs with a host can be fetched, not {url!r}"
    refused: str = "{cause}"
    status: str = "{url} answered HTTP {status} {status_text}"
    too_large_declared: str = "{url} is larger than {limit} bytes ({declared})"
    too_large: str = "{url} is larger than {limit} bytes"
    timeout: str = "{url} took longer than the time limit of {timeout:g}s"
    network: str = "could not fetch {url}: {cause}"


DEFAULT_WORDING = Wording()


@dataclass(frozen=True)
class Fetched:
    """What a bounded GET returned: the final URL after redirects, status, body and headers."""

    url: str
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Header names in lower case (the last value where a name repeats)."""

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, if the server sent one."""
        return self.headers.get("content-type")

    @property
    def etag(self) -> str | None:
        """The ETag header, for the next conditional GET."""
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        """The Last-Modified header, for the next conditional GET."""
        return self.headers.get("last-modified")


def check_url(url: str, wording: Wording = DEFAULT_WORDING) -> None:
    """Refuse anything but an http(s) URL with a host (file://, ftp://, data:, http:///path ...)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        raise FetchError(Reason.URL, wording.bad_url.format(url=url), url=url)


class _Connector:
    """Open the sockets of one fetch (to policy-checked addresses when there is a policy); shut them at the deadline."""

    def __init__(self, policy: AddressCheck | None) -> None:
        self._policy = policy
        self.checks_addresses = policy is not None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.expired = False

    def create_connection(
        self, address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        if self._policy is None:
            return self._track(socket.create_connection(address, timeout, source_address))
        host, port = address
        last: OSError | None = None
        for ip in self._policy(host, port):  # raises AddressRefused
            try:
                sock = socket.create_connection((ip, port), timeout, source_address)
            except OSError as exc:
                last = exc
                continue
            return self._track(sock)
        msg = f"no address of {host!r} accepted a connection"
        raise last or OSError(msg)

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                sock.close()
                msg = "fetch deadline passed"
                raise TimeoutError(msg)
        return sock

    def expire(self) -> None:
        """Deadline: shut every socket of this fetch, so a blocked read returns at once."""
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _opener(connector: _Connector, check_hop: Callable[[str], None]) -> urllib.request.OpenerDirector:
    """An opener whose connections go through `connector` and whose redirects pass `check_hop`."""

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

    handlers: list[urllib.request.BaseHandler] = [HttpHandler(), HttpsHandler(), CheckedRedirects(check_hop)]
    if connector.checks_addresses:
        handlers.append(urllib.request.ProxyHandler({}))  # without it, build_opener adds the environment's
    return urllib.request.build_opener(*handlers)


def bounded_get(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    address_policy: AddressCheck | None = None,
    also_accept: Collection[int] = (),
    wording: Wording = DEFAULT_WORDING,
) -> Fetched:
    """GET `url`: at most `max_bytes` of body and `timeout` seconds in all; raise FetchError otherwise.

    A 2xx answer is returned; so is a status in `also_accept` (e.g. 304 for a conditional GET).
    `address_policy` picks the addresses each hop may connect to (None: any, through the
    environment's proxy if one is set); `wording` gives the error messages.
    """
    if max_bytes < 0 or timeout <= 0:
        msg = f"bounded_get needs max_bytes >= 0 and timeout > 0, not {max_bytes} and {timeout}"
        raise ValueError(msg)
    check_url(url, wording)
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 - scheme checked, also per hop
    connector = _Connector(address_policy)
    opener = _opener(connector, partial(check_url, wording=wording))

    def too_large(declared: str = "") -> FetchError:
        template = wording.too_large_declared if declared else wording.too_large
        message = template.format(url=url, limit=max_bytes, declared=declared)
        return FetchError(Reason.TOO_LARGE, message, url=url)

    def answer(response: Any, status: int) -> Fetched:
        declared = response.headers.get("Content-Length") or ""
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_large(declared)  # refused before a byte of the body is read
        read: Callable[[int], bytes] = getattr(response, "read1", None) or response.read
        chunks: list[bytes] = []
        size = 0
        while chunk := read(_CHUNK):  # read1: what has arrived, so the watchdog's shutdown ends the loop
            size += len(chunk)
            if size > max_bytes:
                raise too_large()  # the rest is never read
            chunks.append(chunk)
        if connector.expired:  # a read cut off by the watchdog ends like a closed connection
            raise TimeoutError
        names = {name.lower(): value for name, value in response.headers.items()}
        return Fetched(url=response.geturl(), status=status, body=b"".join(chunks), headers=names)

    watchdog = threading.Timer(timeout, connector.expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            with opener.open(request, timeout=timeout) as response:
                return answer(response, int(response.status))
        except urllib.error.HTTPError as exc:
            with contextlib.closing(exc):
                if exc.code in also_accept:
                    return answer(exc, exc.code)
                message = wording.status.format(url=url, status=exc.code, status_text=exc.reason)
                raise FetchError(Reason.STATUS, message, url=url, status=exc.code) from exc
    except AddressRefused as exc:
        raise FetchError(Reason.REFUSED, wording.refused.format(url=url, cause=exc), url=url) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(cause, AddressRefused):
            raise FetchError(Reason.REFUSED, wording.refused.format(url=url, cause=cause), url=url) from exc
        if connector.expired or isinstance(cause, TimeoutError):
            message = wording.timeout.format(url=url, timeout=timeout)
            raise FetchError(Reason.TIMEOUT, message, url=url) from exc
        raise FetchError(Reason.NETWORK, wording.network.format(url=url, cause=cause), url=url) from exc
    finally:
        watchdog.cancel()


def bounded_post(
    url: str,
    body: bytes,
    *,
    max_bytes: int,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    address_policy: AddressCheck | None = None,
    wording: Wording = DEFAULT_WORDING,
) -> Fetched:
    """POST `body` to `url` once, within `timeout` seconds in all; return the answer whatever its status.

    At most `max_bytes` of the answer's body are read and the rest is left unread: the status is
    what a POST's caller needs, and a receiver that answers a long page must not turn a delivery
    into a failure. No redirect is followed and no proxy is used; `address_policy` picks the
    addresses the connection may go to (None: any). Raises FetchError (URL, REFUSED, TIMEOUT or
    NETWORK) when no answer came.
    """
    if max_bytes < 0 or timeout <= 0:
        msg = f"bounded_post needs max_bytes >= 0 and timeout > 0, not {max_bytes} and {timeout}"
        raise ValueError(msg)
    check_url(url, wording)
    parts = urlsplit(url)
    connector = _Connector(address_policy)
    kind = http.client.HTTPSConnection if parts.scheme.lower() == "https" else http.client.HTTPConnection
    connection = kind(str(parts.hostname), parts.port, timeout=timeout)
    # The one place http.client lets a caller choose where its socket goes (bounded_get does the same).
    connection._create_connection = connector.create_connection  # type: ignore[attr-defined]
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    sent = {"Connection": "close"} | dict(headers or {})
    watchdog = threading.Timer(timeout, connector.expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target, body=body, headers=sent)
        response = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        while size < max_bytes and (chunk := response.read1(min(_CHUNK, max_bytes - size))):
            size += len(chunk)
            chunks.append(chunk)
        if connector.expired:
            raise TimeoutError
        names = {name.lower(): value for name, value in response.getheaders()}
        return Fetched(url=url, status=int(response.status), body=b"".join(chunks), headers=names)
    except AddressRefused as exc:
        raise FetchError(Reason.REFUSED, wording.refused.format(url=url, cause=exc), url=url) from exc
    except (OSError, http.client.HTTPException) as exc:
        if connector.expired or isinstance(exc, TimeoutError):
            message = wording.timeout.format(url=url, timeout=timeout)
            raise FetchError(Reason.TIMEOUT, message, url=url) from exc
        raise FetchError(Reason.NETWORK, wording.network.format(url=url, cause=exc), url=url) from exc
    finally:
        watchdog.cancel()
        connection.close()
