"""HTTP push: `POST /v1/stories` takes one document in any supported format and answers 202 once it is safe.

`ERRORS` gives each domain error its status; the common mapper answers them. Only the refusal of
an over-limit upload is answered here, because it must drain the unread body (see `drain`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, NamedTuple

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from wirewatch_common.access import limiter, require
from wirewatch_common.errors import brief
from wirewatch_common.http_errors import ErrorResponse, StatusTable, status_of
from wirewatch_common.ratelimit import RateLimit
from wirewatch_common.settings import ApiKey

from .drain import DrainingResponse, drain_bound
from .errors import (
    DocumentTooLarge,
    InvalidStory,
    LedgerUnavailable,
    MalformedDocument,
    NoStories,
    ParseError,
    UnsupportedFormat,
)
from .pipeline import BrokerUnavailable, Ingestor
from .sources import SUPPORTED_TYPES

log = logging.getLogger(__name__)

ERRORS: StatusTable = {
    ParseError: 422,
    MalformedDocument: 400,  # and UnsafeDocument
    InvalidStory: 422,  # and LimitExceeded
    DocumentTooLarge: 413,  # and StoryTooLarge
    UnsupportedFormat: 415,
    NoStories: 422,
    BrokerUnavailable: 503,
    LedgerUnavailable: 503,
}
"""Each domain error's HTTP status; a subclass answers with its nearest ancestor's."""


class Upload(NamedTuple):
    """A request body read up to a limit: the bytes (None when over), how many were read, whether it ended."""

    body: bytes | None
    read: int
    ended: bool


async def _read_capped(request: Request, limit: int) -> Upload:
    """Read the body, stopping as soon as it exceeds `limit` (body None then): a huge body is never held whole."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return Upload(None, 0, ended=False)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        size += len(chunk)
        if size > limit:
            return Upload(None, size, ended=not more)
        chunks.append(chunk)
        if not more:
            return Upload(b"".join(chunks), size, ended=True)


def _too_large(request: Request, limit: int, upload: Upload) -> Response:
    """The 413, answered so that a client sending its whole body first still reads it (see `drain`)."""
    error = DocumentTooLarge(f"the document is larger than the limit of {limit} bytes")
    status = status_of(error, ERRORS)
    log.info("request refused", extra={"status": status, "code": error.code, "error": brief(error)})
    bound = drain_bound(limit)
    declared = request.headers.get("content-length", "")
    beyond = declared.isdigit() and int(declared) > bound  # would be cut off anyway: close at once
    # Reading on would make the server send `100 Continue` after its final answer.
    waiting = upload.read == 0 and "100-continue" in request.headers.get("expect", "").lower()
    return DrainingResponse(
        JSONResponse(error.body(), status_code=status),
        allowance=bound - upload.read,
        drain=not (upload.ended or beyond or waiting),
    )


def router(ingestor: Ingestor, keys: Sequence[ApiKey], push_limit: RateLimit | None = None) -> APIRouter:
    """Routes of the ingest API; `push_limit` bounds documents per second per writer key (or address)."""
    routes = APIRouter(prefix="/v1", tags=["ingest"])
    # Checked before the body is read: a refused caller never gets to upload.
    writer = Depends(require(keys, "writer", limiter(push_limit) if push_limit is not None else None))

    @routes.post(
        "/stories",
        status_code=202,
        dependencies=[writer],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    ctype: {"schema": {"type": "string", "format": "binary"}} for ctype in SUPPORTED_TYPES
                },
            }
        },
        responses={
            400: {
                "model": ErrorResponse,
                "description": "Malformed or unsafe document (syntax, encoding, entities); says where.",
            },
            401: {"model": ErrorResponse, "description": "A writer API key is required."},
            403: {"model": ErrorResponse, "description": "The key is not a writer key."},
            413: {"model": ErrorResponse, "description": "Larger than WIREWATCH_INGEST_MAX_DOCUMENT_BYTES."},
            415: {"model": ErrorResponse, "description": "Unsupported content type or XML vocabulary."},
            422: {
                "model": ErrorResponse,
                "description": "Well formed but not a usable story (no text, a field over its limit).",
            },
            429: {"model": ErrorResponse, "description": "Too many documents for this key; see Retry-After."},
            503: {
                "model": ErrorResponse,
                "description": "The broker or the ledger did not confirm; nothing was accepted.",
            },
        },
    )
    async def post_story(
        request: Request,
        content_type: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Ingest one document (agency text, IPTC 7901/ANPA, ninjs, NewsML-G2, NITF, RSS/Atom/RDF)."""
        limit = ingestor.limits.max_document_bytes
        upload = await _read_capped(request, limit)
        if upload.body is None:
            return _too_large(request, limit, upload)
        result = await run_in_threadpool(ingestor.ingest, upload.body, content_type, via="http")
        return JSONResponse(result.to_dict(), status_code=202)

    return routes
