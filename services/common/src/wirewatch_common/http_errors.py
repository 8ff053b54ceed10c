"""Errors as HTTP answers, in the one shape `{"error": {"code", "message", "where"?}}`.

Each service hands `install_error_handlers` one table `{DomainError: status}`: a domain error
(`errors.WirewatchError`) keeps its code, message and `where`; the table adds only the status.
Framework errors (HTTPException, validation, routing 404/405) and `ApiError` (what only the HTTP
layer knows: keys, rate limits, body sizes) answer in the same shape; `CatchAll` answers anything
unexpected with a 500, logged with its traceback but never echoed to the caller.
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

from .errors import Where, WirewatchError, brief, error_body

log = logging.getLogger(__name__)

StatusTable = Mapping[type[WirewatchError], int]
"""A service's domain errors and the HTTP status each answers with (subclasses inherit theirs)."""


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
    """An error only the HTTP layer knows (keys, rate limits, body sizes): status, code, where, headers."""

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


def install_error_handlers(app: FastAPI, statuses: StatusTable | None = None) -> None:
    """Answer the table's domain errors, ApiError, HTTPException and validation errors in the one shape.

    A domain error not in the table (nor a subclass of one in it) is a 500, like any other bug.
    """

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, WirewatchError)
        status = status_of(exc, statuses or {})
        log.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "request refused",
            extra={"status": status, "code": exc.code, "error": brief(exc)},
        )
        return JSONResponse(exc.body(public=True), status_code=status)

    for kind in statuses or {}:
        app.add_exception_handler(kind, domain_error)

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


def status_of(exc: WirewatchError, statuses: StatusTable) -> int:
    """The status of the nearest class in the error's ancestry that the table names; 500 if none."""
    for kind in type(exc).__mro__:
        if kind in statuses:
            return statuses[kind]
    return 500


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
