"""HTTP push: `POST /v1/stories` takes one document in any supported format and answers 202 once it is safe."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from typing import Annotated, NamedTuple

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from wirewatch_common.access import limiter, require
from wirewatch_common.bus import DeliveryError
from wirewatch_common.errors import ErrorResponse, Where, error_response
from wirewatch_common.ratelimit import RateLimit
from wirewatch_common.settings import ApiKey

from .drain import DrainingResponse, drain_bound
from .pipeline import Ingestor, NoStories
from .sources import SUPPORTED_TYPES, DocumentTooLarge, ParseError

log = logging.getLogger(__name__)


def _refused(exc: ParseError) -> JSONResponse:
    """Answer a parser's error in the shared shape: `MalformedDocument` -> code `malformed_document`."""
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()
    where: Where = {}
    if exc.line is not None:
        where["line"] = exc.line
    if exc.field is not None:
        where["field"] = exc.field
    return error_response(exc.status, code, exc.message, where=where or None)


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
    msg = f"the document is larger than the limit of {limit} bytes"
    bound = drain_bound(limit)
    declared = request.headers.get("content-length", "")
    beyond = declared.isdigit() and int(declared) > bound  # would be cut off anyway: close at once
    # Reading on would make the server send `100 Continue` after its final answer.
    waiting = upload.read == 0 and "100-continue" in request.headers.get("expect", "").lower()
    return DrainingResponse(
        _refused(DocumentTooLarge(msg)),
        allowance=bound - upload.read,
        drain=not (upload.ended or beyond or waiting),
    )


def stories_router(
    ingestor: Ingestor, keys: Sequence[ApiKey], push_limit: RateLimit | None = None
) -> APIRouter:
    """Routes of the ingest API; `push_limit` bounds documents per second per writer key (or address)."""
    router = APIRouter(prefix="/v1", tags=["ingest"])
    # Checked before the body is read: a refused caller never gets to upload.
    writer = Depends(require(keys, "writer", limiter(push_limit) if push_limit is not None else None))

    @router.post(
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
        body = upload.body
        try:
            result = await run_in_threadpool(ingestor.ingest, body, content_type, via="http")
        except ParseError as exc:
            log.info("document refused", extra={"status": exc.status, "error": exc.message[:300]})
            return _refused(exc)
        except NoStories as exc:
            return error_response(422, "no_stories", str(exc))
        except DeliveryError as exc:
            log.warning("broker did not confirm; nothing accepted", extra={"error": str(exc)[:300]})
            return error_response(
                503, "broker_unavailable", "the broker did not confirm delivery; nothing was accepted, retry"
            )
        except sqlite3.Error as exc:
            log.error("ledger write failed; nothing accepted", extra={"error": str(exc)[:300]})
            return error_response(
                503, "ledger_unavailable", "the ingest ledger could not record the story; retry"
            )
        except Exception:  # answered as JSON and logged with its traceback, never hidden
            log.exception("unexpected error while ingesting a document")
            return error_response(
                500, "internal_error", "ingest failed unexpectedly; the document was not accepted"
            )
        return JSONResponse(result.to_dict(), status_code=202)

    return router
