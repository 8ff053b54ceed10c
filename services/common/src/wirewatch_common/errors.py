"""One JSON error shape for every service: `{"error": {"code", "message", "where"?}}`.

`install_error_handlers` maps framework errors (HTTPException, validation, routing 404/405) and
`ApiError` to that shape; `CatchAll` answers anything unexpected with a 500 in the same shape,
logged with its traceback but never echoed to the caller.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

Where = dict[str, str | int]


class ErrorBody(BaseModel):
    """What went wrong, for a person and for a program."""

    code: str = Field(description="Stable machine-readable code.", examples=["bad_query"])
    message: str = Field(
        description="What was wrong and how to fix it.",
        examples=["a query may have at most 32 words or phrases; this one has 40"],
    )
    where: Where | None = Field(
        default=None,
        description="Where the problem is, when known: `in` (query, path, header, body), `field`, `line`.",
        examples=[{"in": "query", "field": "size"}],
    )


class ErrorResponse(BaseModel):
    """Every error every wirewatch API returns has this shape."""

    error: ErrorBody


class ApiError(Exception):
    """An error with its HTTP status, a machine-readable code and optionally where and extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        where: Where | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.where = where
        self.headers = dict(headers or {})


def error_body(code: str, message: str, where: Where | None = None) -> dict[str, Any]:
    """Return the JSON error body."""
    body: dict[str, Any] = {"code": code, "message": message}
    if where:
        body["where"] = where
    return {"error": body}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    where: Where | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Return a JSON error response."""
    return JSONResponse(error_body(code, message, where), status_code=status, headers=dict(headers or {}))


_CODES = {413: "too_large", 422: "invalid_request"}
"""Codes whose status phrase differs between Python versions, or reads better shorter."""


def code_for(status: int) -> str:
    """A code from the status phrase: 404 -> `not_found`, 405 -> `method_not_allowed`."""
    if status in _CODES:
        return _CODES[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "http_error"
    return "_".join(phrase.lower().replace("-", " ").split())


def _validation_answer(exc: RequestValidationError) -> JSONResponse:
    parts: list[str] = []
    where: Where | None = None
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        place, field = (loc[0], ".".join(loc[1:])) if loc else ("request", "")
        parts.append(f"{field or place}: {error.get('msg', 'invalid')}")
        if where is None:
            where = {"in": place, "field": field} if field else {"in": place}
    return error_response(422, "invalid_request", "; ".join(parts) or "invalid request", where=where)


def _http_answer(exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail
    if isinstance(detail, Mapping) and {"code", "message"} <= detail.keys():
        code, message = str(detail["code"]), str(detail["message"])
    else:
        code = code_for(exc.status_code)
        message = detail if isinstance(detail, str) else json.dumps(detail, default=str)
    return error_response(exc.status_code, code, message, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiError, HTTPException (routing 404/405 included) and validation errors in the one shape."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, where=exc.where, headers=exc.headers)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return _http_answer(exc)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation_answer(exc)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)


class CatchAll:
    """ASGI middleware: an unexpected exception becomes a logged 500 in the JSON error shape.

    The traceback goes to the log only; the caller learns that it failed, not how. An exception
    after the response started (a broken stream) can only be logged and re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, answering 500 if it raises before answering."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception(
                "unhandled error while answering a request",
                extra={"method": scope.get("method"), "path": scope.get("path")},
            )
            if started:
                raise
            response = error_response(
                500, "internal_error", "the service failed unexpectedly; the error was logged"
            )
            await response(scope, receive, send)


def _rewrite_refs(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: (new if k == "$ref" and v == old else _rewrite_refs(v, old, new)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, old, new) for v in node]
    return node


def document_errors(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers do: 422 and every other error is an ErrorResponse."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app.state, "errors_documented", False) and app.openapi_schema is not None:
            return app.openapi_schema
        generated = generate()
        components = generated.setdefault("components", {}).setdefault("schemas", {})
        for name in ("ErrorBody", "ErrorResponse"):
            model = ErrorBody if name == "ErrorBody" else ErrorResponse
            components.setdefault(name, model.model_json_schema(ref_template="#/components/schemas/{model}"))
        components["ErrorResponse"].pop("$defs", None)
        schema: dict[str, Any] = _rewrite_refs(
            generated, "#/components/schemas/HTTPValidationError", "#/components/schemas/ErrorResponse"
        )
        for name in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(name, None)
        error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                operation["responses"].setdefault(
                    "default", {"description": "An error, in the shared shape.", "content": error_content}
                )
        app.openapi_schema = schema
        app.state.errors_documented = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def brief(exc: BaseException, limit: int = 300) -> str:
    """Describe an exception on one bounded line for logs and health answers: `Type: message`.

    A long message (a whole HTTP body, a broker's error dump) would flood a log line, so the text
    is cut to `limit` characters, ending in `…` when cut; line breaks and runs of spaces become one.
    """
    if limit < 1:
        msg = f"limit must be at least 1, got {limit}"
        raise ValueError(msg)
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
