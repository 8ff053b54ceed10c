"""HTTP push: `POST /v1/stories` takes one document in any supported format and answers 202 once it is safe."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from wirewatch_common.auth import AccessDenied, authorize
from wirewatch_common.bus import DeliveryError
from wirewatch_common.settings import ApiKey

from .pipeline import Ingestor, NoStories
from .sources import SUPPORTED_TYPES, DocumentTooLarge, ParseError

log = logging.getLogger(__name__)


def _error(status: int, error: str, message: str, **where: object) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **where}, status_code=status)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """Read the body, stopping as soon as it exceeds `limit` (None then): a huge body is never held whole."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def stories_router(ingestor: Ingestor, keys: Sequence[ApiKey]) -> APIRouter:
    """Routes of the ingest API."""
    router = APIRouter(prefix="/v1", tags=["ingest"])

    @router.post(
        "/stories",
        status_code=202,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    ctype: {"schema": {"type": "string", "format": "binary"}} for ctype in SUPPORTED_TYPES
                },
            }
        },
        responses={
            400: {"description": "Malformed or unsafe document (syntax, encoding, entities); says where."},
            401: {"description": "A writer API key is required."},
            413: {"description": "Larger than WIREWATCH_INGEST_MAX_DOCUMENT_BYTES."},
            415: {"description": "Unsupported content type or XML vocabulary."},
            422: {"description": "Well formed but not a usable story (no text, a field over its limit)."},
            503: {"description": "The broker or the ledger did not confirm; nothing was accepted."},
        },
    )
    async def post_story(
        request: Request,
        content_type: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Ingest one document (agency text, IPTC 7901/ANPA, ninjs, NewsML-G2, NITF, RSS/Atom/RDF)."""
        try:
            authorize(keys, "writer", x_api_key, authorization)
        except AccessDenied as denied:
            return _error(denied.status, denied.code, denied.message)
        limit = ingestor.limits.max_document_bytes
        body = await _read_capped(request, limit)
        if body is None:
            msg = f"the document is larger than the limit of {limit} bytes"
            exc = DocumentTooLarge(msg)
            return JSONResponse(exc.to_dict(), status_code=exc.status)
        try:
            result = await run_in_threadpool(ingestor.ingest, body, content_type, via="http")
        except ParseError as exc:
            log.info("document refused", extra={"status": exc.status, "error": exc.message[:300]})
            return JSONResponse(exc.to_dict(), status_code=exc.status)
        except NoStories as exc:
            return _error(422, "NoStories", str(exc))
        except DeliveryError as exc:
            log.warning("broker did not confirm; nothing accepted", extra={"error": str(exc)[:300]})
            return _error(
                503, "BrokerUnavailable", "the broker did not confirm delivery; nothing was accepted, retry"
            )
        except sqlite3.Error as exc:
            log.error("ledger write failed; nothing accepted", extra={"error": str(exc)[:300]})
            return _error(503, "LedgerUnavailable", "the ingest ledger could not record the story; retry")
        except Exception:  # answered as JSON and logged with its traceback, never hidden
            log.exception("unexpected error while ingesting a document")
            return _error(500, "InternalError", "ingest failed unexpectedly; the document was not accepted")
        return JSONResponse(result.to_dict(), status_code=202)

    return router
