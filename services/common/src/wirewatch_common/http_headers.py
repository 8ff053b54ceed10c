"""Security headers on every response, and CORS only for the origins an operator listed.

Headers a route set itself win: the desk page sets its own Content-Security-Policy and caching,
the event stream its `Cache-Control: no-cache`; everything else is an API answer that no browser
should sniff, frame, cache or send a Referer from.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
"""Added to a response that does not set them already."""

CORS_METHODS = ("GET", "POST", "DELETE")
CORS_HEADERS = ("X-API-Key", "Authorization", "Content-Type", "Last-Event-ID")


class SecurityHeaders:
    """ASGI middleware that adds SECURITY_HEADERS to every HTTP response, never replacing one set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through, adding headers as the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Let browsers on `origins` call the API; with none listed, no CORS header is ever sent."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=list(CORS_METHODS),
        allow_headers=list(CORS_HEADERS),
        expose_headers=["Retry-After"],
        allow_credentials=False,
        max_age=600,
    )
