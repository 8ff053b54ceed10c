"""Serve the desk page at `/` and its assets under `/desk/`, with headers that confine the page.

The assets are read from the package once, when the router is built, so a request never touches
the file system and only the files named in ASSETS can ever be served (no path from the URL
reaches `open`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path
from fastapi.responses import Response

ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "desk.css": "text/css; charset=utf-8",
    "desk.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
"""Every file the desk serves, with its content type."""

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        # The script never parses HTML: with Trusted Types required, innerHTML and friends throw.
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    # Revalidate every time (cheap: a 304 on an unchanged ETag), so an upgrade is seen at once.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    """One file's bytes, content type and strong ETag."""

    body: bytes
    media_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """Read every desk file shipped in the package."""
    folder = resources.files(__package__ or "wirewatch_index.desk")
    loaded = {}
    for name, media_type in ASSETS.items():
        body = folder.joinpath(name).read_bytes()
        loaded[name] = Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return loaded


def _respond(asset: Asset, if_none_match: str | None) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": asset.etag}
    if if_none_match is not None and asset.etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def desk_router() -> APIRouter:
    """Routes of the desk page (left out of the OpenAPI document: they are not part of the API)."""
    assets = load_assets()
    desk = APIRouter(include_in_schema=False)

    @desk.api_route("/", methods=["GET", "HEAD"])
    def page(if_none_match: Annotated[str | None, Header()] = None) -> Response:
        """The desk page."""
        return _respond(assets["index.html"], if_none_match)

    @desk.api_route("/desk/{name}", methods=["GET", "HEAD"])
    def asset(
        name: Annotated[str, Path(max_length=40)],
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        """A stylesheet, script or icon of the page; nothing else."""
        if name == "index.html" or name not in assets:
            raise HTTPException(404, "no such desk asset")
        return _respond(assets[name], if_none_match)

    return desk
