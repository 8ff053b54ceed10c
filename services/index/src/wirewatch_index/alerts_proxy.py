"""Pass the desk's watchlist requests on to the alerts service, so the desk page stays same-origin.

The index serves the desk; watchlists and their alerts live in the alerts service on another port,
and the page may only talk to its own origin (CSP `connect-src 'self'`). So the index forwards
GET and POST of `/v1/watchlists` and `/v1/watchlists/{path}` to `WIREWATCH_INDEX_ALERTS_URL`: the
method, path, query, body, the key headers and the conditional-GET ones; the answer comes back
with its status, body and the headers that matter to a browser or a feed reader. Bodies are
bounded both ways and every call has a deadline; an alerts service that is down, slow or answers
too much is a 502 in the shared error shape. Keys are checked here as well as by the alerts service
(a reader key to read, a writer key to create), so nothing reaches the alerts service unchecked;
the one exception is a feed read with its feed token (`feed.atom?token=`), which feed readers use
instead of a key and which only the alerts service can check.

The alert stream (SSE) is not passed on: it never ends, and the desk polls the alert list instead.
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from wirewatch_common.auth import AccessDenied, authorize
from wirewatch_common.errors import brief
from wirewatch_common.http_errors import ApiError
from wirewatch_common.settings import Role

from .settings import IndexSettings

MAX_REQUEST_BYTES = 64 * 1024
"""A watchlist is a few hundred bytes; the alerts API refuses far less than this anyway."""
_CHUNK = 64 * 1024
REQUEST_HEADERS = (
    "x-api-key",
    "authorization",
    "content-type",
    "accept",
    "if-none-match",
    "if-modified-since",
)
RESPONSE_HEADERS = (
    "content-type",
    "etag",
    "last-modified",
    "location",
    "retry-after",
    "www-authenticate",
    "cache-control",
)
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


class _TooLarge(Exception):
    """The alerts service answered more than the proxy passes on."""


@dataclass(frozen=True)
class Answer:
    """What the alerts service said."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Upstream:
    """Where the alerts API is, and how long and how much the proxy waits for."""

    url: str
    timeout_s: float
    max_bytes: int

    def call(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Answer:
        """Make one request; raise OSError or HTTPException if it fails, _TooLarge past max_bytes."""
        base = urllib.parse.urlsplit(self.url)
        kind = http.client.HTTPSConnection if base.scheme == "https" else http.client.HTTPConnection
        connection = kind(base.hostname or "127.0.0.1", base.port, timeout=self.timeout_s)
        deadline = time.monotonic() + self.timeout_s
        try:
            connection.request(method, base.path.rstrip("/") + target, body=body or None, headers=headers)
            response = connection.getresponse()
            declared = response.getheader("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise _TooLarge
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise _TooLarge
                if time.monotonic() > deadline:
                    msg = f"no complete answer within {self.timeout_s:g} s"
                    raise TimeoutError(msg)
                chunks.append(chunk)
            kept = {
                name: value for name in RESPONSE_HEADERS if (value := response.getheader(name)) is not None
            }
            return Answer(response.status, kept, b"".join(chunks))
        finally:
            connection.close()


def _target(rest: str, query: str) -> str:
    """The path under /v1/watchlists, checked segment by segment (no `..`, nothing odd)."""
    segments = rest.split("/") if rest else []
    if any(not _SEGMENT.match(s) for s in segments):
        raise ApiError(404, "not_found", f"no watchlist resource at /v1/watchlists/{rest}")
    if segments[-1:] == ["stream"]:
        msg = (
            "the desk does not pass alert streams on; connect to the alerts service's "
            "/v1/watchlists/{id}/stream, or poll /v1/watchlists/{id}/alerts here"
        )
        raise ApiError(501, "not_implemented", msg)
    path = "/v1/watchlists" + "".join(f"/{s}" for s in segments)
    return f"{path}?{query}" if query else path


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    too_large = f"a watchlist request body may have at most {MAX_REQUEST_BYTES} bytes"
    if declared is not None and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise ApiError(413, "too_large", too_large)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            raise ApiError(413, "too_large", too_large)
    return bytes(body)


def alerts_proxy_router(settings: IndexSettings) -> APIRouter:
    """The /v1/watchlists pass-through (left out of the index's OpenAPI: the alerts API documents it)."""
    upstream = Upstream(settings.alerts_url, settings.index_alerts_timeout_s, settings.index_alerts_max_bytes)
    proxy = APIRouter(include_in_schema=False)

    def check_key(request: Request, rest: str) -> None:
        if request.method == "GET" and rest.endswith("/feed.atom") and "token" in request.query_params:
            return
        role: Role = "writer" if request.method == "POST" else "reader"
        try:
            authorize(
                settings.api_keys,
                role,
                request.headers.get("x-api-key"),
                request.headers.get("authorization"),
            )
        except AccessDenied as denied:
            headers = {"WWW-Authenticate": "Bearer"} if denied.status == 401 else None
            raise ApiError(denied.status, denied.code, denied.message, headers=headers) from None

    async def forward(request: Request, rest: str) -> Response:
        check_key(request, rest)
        target = _target(rest, request.url.query)
        body = await _body(request) if request.method == "POST" else b""
        headers = {
            name: value for name in REQUEST_HEADERS if (value := request.headers.get(name)) is not None
        }
        try:
            answer = await run_in_threadpool(upstream.call, request.method, target, body, headers)
        except _TooLarge:
            msg = f"the alerts service answered more than {upstream.max_bytes} bytes; ask for a smaller page"
            raise ApiError(502, "bad_gateway", msg) from None
        except (OSError, http.client.HTTPException) as exc:
            msg = f"the alerts service at {upstream.url} did not answer: {brief(exc)}"
            raise ApiError(502, "alerts_unavailable", msg, headers={"Retry-After": "5"}) from None
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    @proxy.api_route("/v1/watchlists", methods=["GET", "POST"])
    async def watchlists(request: Request) -> Response:
        """The watchlists: list them, or create one."""
        return await forward(request, "")

    @proxy.api_route("/v1/watchlists/{rest:path}", methods=["GET", "POST"])
    async def watchlist(request: Request, rest: str) -> Response:
        """One watchlist, its alerts or its feed."""
        return await forward(request, rest)

    return proxy
