"""HTTP API of the translate service: ad-hoc translation for desks, installed models, re-translation.

The routes only translate HTTP into calls: the work and its refusals live in `freetext`, and
`ERRORS` gives each domain error its status (the common error handlers write the answer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from wirewatch_common.access import Guard, require
from wirewatch_common.http_errors import ErrorResponse, StatusTable
from wirewatch_common.settings import ApiKey, Role

from .engine import Engine
from .errors import BadLanguage, NoModel, TextTooLong, UntranslatableText
from .freetext import translate_for_desk

ERRORS: StatusTable = {
    TextTooLong: 413,
    BadLanguage: 422,
    NoModel: 422,
    UntranslatableText: 422,
}
"""Each domain error the routes let through, and the status it answers with."""


class TranslateRequest(BaseModel):
    """Text to translate; the source is guessed from the script when omitted."""

    text: str = Field(min_length=1)
    source: str | None = Field(default=None, description="BCP 47 code of the text, e.g. 'en'.")
    target: str = Field(description="BCP 47 code to translate into, e.g. 'ar'.")


class TranslateResponse(BaseModel):
    """The translation and how it was made."""

    text: str
    source: str
    target: str
    engine: str = "argos-translate"
    package: str | None = None
    package_version: str | None = None
    pivot: list[str] = Field(default_factory=list)
    duration_ms: float


def key_check(keys: Sequence[ApiKey], roles: tuple[Role, ...]) -> Guard:
    """Dependency that accepts `X-API-Key: KEY` or `Authorization: Bearer KEY` with one of `roles`."""
    needed: Role = "reader" if "reader" in roles else "writer"
    return require(keys, needed)


def router(
    engine: Engine,
    keys: Sequence[ApiKey],
    *,
    max_chars: int,
    rescan: Callable[[], dict[str, Any]] | None = None,
) -> APIRouter:
    """Build the service's own routes."""
    api = APIRouter(
        prefix="/v1",
        tags=["translate"],
        responses={
            401: {"model": ErrorResponse, "description": "No API key, or an unknown one."},
            403: {"model": ErrorResponse, "description": "The key's role may not do this."},
            413: {"model": ErrorResponse, "description": "The text is longer than the limit."},
            422: {"model": ErrorResponse, "description": "Malformed request, unknown language or no model."},
        },
    )
    readers = Depends(key_check(keys, ("reader", "writer")))
    writers = Depends(key_check(keys, ("writer",)))

    @api.post("/translate", dependencies=[readers])
    def translate(request: TranslateRequest) -> TranslateResponse:
        """Translate a text for a desk: {"text", "source"?, "target"} -> text with provenance."""
        done = translate_for_desk(engine, request.text, request.source, request.target, max_chars=max_chars)
        return TranslateResponse(
            text=done.text,
            source=done.source,
            target=done.target,
            package=done.package,
            package_version=done.package_version,
            pivot=list(done.pivot),
            duration_ms=done.duration_ms,
        )

    @api.get("/models", dependencies=[readers])
    def models() -> dict[str, Any]:
        """Installed translation packages and the ones loaded in this process."""
        loaded = {i.path for i in engine.loaded()}
        return {
            "pivot": engine.pivot,
            "packages": [
                {
                    "source": i.from_code,
                    "target": i.to_code,
                    "package": i.name,
                    "version": i.version,
                    "loaded": i.path in loaded,
                }
                for i in sorted(engine.packages().values(), key=lambda i: i.pair)
            ],
        }

    if rescan is not None:
        run_rescan = rescan

        @api.post("/retranslate", dependencies=[writers])
        def retranslate() -> dict[str, Any]:
            """Re-read the models directory and translate every story left unavailable that now can be."""
            return run_rescan()

    return api
