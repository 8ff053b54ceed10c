"""HTTP API of the translate service: ad-hoc translation for desks, installed models, re-translation."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from wirewatch_common.access import Guard, require
from wirewatch_common.errors import ErrorResponse
from wirewatch_common.settings import ApiKey, Role
from wirewatch_common.story import normalize_language, primary_language

from .engine import Engine, UntranslatableText
from .segment import guess_language, split_paragraphs, split_sentences
from .units import layout


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


def _language(tag: str, field: str) -> str:
    try:
        return primary_language(normalize_language(tag))
    except ValueError as exc:
        detail = {"code": "bad_language", "message": f"{field}: {exc}"}
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from exc


def key_check(keys: Sequence[ApiKey], roles: tuple[Role, ...]) -> Guard:
    """Dependency that accepts `X-API-Key: KEY` or `Authorization: Bearer KEY` with one of `roles`."""
    needed: Role = "reader" if "reader" in roles else "writer"
    return require(keys, needed)


def translate_text(engine: Engine, text: str, source: str, target: str) -> TranslateResponse:
    """Translate free text line by line, through a pivot when needed; numbers and codes are copied."""
    started = time.perf_counter()
    if source == target:
        return TranslateResponse(text=text, source=source, target=target, duration_ms=0.0)
    route = engine.route(source, target)
    if route is None:
        installed = sorted(f"{s}→{t}" for s, t in engine.packages())
        msg = f"no model for {source}→{target}; installed: {', '.join(installed) or 'none'}"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"code": "no_model", "message": msg})
    layouts = [layout(p) for p in split_paragraphs(text)]
    paragraphs = [[split_sentences(segment, source) for segment in lay.segments] for lay in layouts]
    flat = [s for para in paragraphs for segment in para for s in segment]
    try:
        for info in route:
            flat, _ = engine.translate(info, flat)
    except UntranslatableText as exc:
        detail = {"code": "untranslatable", "message": str(exc)}
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from exc
    rest = iter(flat)
    out = "\n".join(
        lay.render([" ".join(filter(None, (next(rest) for _ in segment))) for segment in para])
        for lay, para in zip(layouts, paragraphs, strict=True)
    )
    return TranslateResponse(
        text=out,
        source=source,
        target=target,
        package=" + ".join(i.name for i in route),
        package_version=" + ".join(i.version for i in route),
        pivot=[i.to_code for i in route[:-1]],
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


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
        if len(request.text) > max_chars:
            msg = f"text has {len(request.text)} characters; the limit is {max_chars}"
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, {"code": "text_too_long", "message": msg})
        target = _language(request.target, "target")
        source = _language(request.source, "source") if request.source else guess_language(request.text)
        return translate_text(engine, request.text, source, target)

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
