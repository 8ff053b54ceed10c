"""One JSON error shape from every app create_app builds: routing, validation, HTTP and crashes."""

from __future__ import annotations

import logging
from typing import Annotated

import pytest
from fastapi import APIRouter, HTTPException, Query
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from wirewatch_common.errors import WirewatchError
from wirewatch_common.http_errors import ApiError, ErrorResponse, code_for
from wirewatch_common.service import create_app

pytestmark = pytest.mark.integration


class Payload(BaseModel):
    text: str
    count: int


@pytest.fixture
def client() -> TestClient:
    app = create_app("test", registry=CollectorRegistry())
    router = APIRouter(prefix="/v1")

    @router.get("/items")
    def items(size: Annotated[int, Query(ge=1, le=10)] = 5) -> dict[str, int]:
        return {"size": size}

    @router.post("/items")
    def create(payload: Payload) -> dict[str, int]:
        return {"count": payload.count}

    @router.get("/plain")
    def plain() -> None:
        raise HTTPException(409, "already there")

    @router.get("/coded")
    def coded() -> None:
        raise ApiError(418, "teapot", "short and stout", where={"in": "path", "field": "pot"})

    @router.get("/crash")
    def crash() -> None:
        msg = "secret internals: /var/lib/wirewatch password=hunter2"
        raise RuntimeError(msg)

    app.include_router(router)
    return TestClient(app)


def test_routing_404_and_405_are_json(client):
    missing = client.get("/v1/nowhere")
    assert missing.status_code == 404 and missing.json() == {
        "error": {"code": "not_found", "message": "Not Found"}
    }
    wrong = client.delete("/v1/items")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["allow"]


def test_validation_errors_are_422_and_say_where(client):
    r = client.get("/v1/items", params={"size": 99})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["where"] == {"in": "query", "field": "size"}
    assert r.json()["error"]["message"].startswith("size: ")
    r = client.post("/v1/items", json={"text": "x"})
    assert r.status_code == 422 and r.json()["error"]["where"] == {"in": "body", "field": "count"}
    r = client.post("/v1/items", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["where"]["in"] == "body"


def test_http_exceptions_and_api_errors_keep_their_status(client):
    assert client.get("/v1/plain").json() == {"error": {"code": "conflict", "message": "already there"}}
    coded = client.get("/v1/coded")
    assert coded.status_code == 418
    assert coded.json() == {
        "error": {"code": "teapot", "message": "short and stout", "where": {"in": "path", "field": "pot"}}
    }


def test_a_crash_is_a_logged_500_that_leaks_nothing(client, caplog):
    with caplog.at_level(logging.ERROR, logger="wirewatch_common.errors"):
        r = client.get("/v1/crash")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in r.text and "RuntimeError" not in r.text and "Traceback" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    record = next(rec for rec in caplog.records if rec.getMessage().startswith("unhandled error"))
    assert record.exc_info is not None and getattr(record, "path", None) == "/v1/crash"
    assert client.get("/healthz").status_code == 200, "the app keeps serving"


def test_openapi_documents_the_shared_error_shape(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorResponse"]["properties"]["error"]["$ref"] == "#/components/schemas/ErrorBody"
    post = doc["paths"]["/v1/items"]["post"]["responses"]
    assert (
        post["422"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorResponse"
    )
    assert post["default"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert client.get("/openapi.json").json() == doc, "documented once, served the same every time"
    ErrorResponse.model_validate(client.get("/v1/nowhere").json())


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "not_found"),
        (413, "too_large"),
        (422, "invalid_request"),
        (429, "too_many_requests"),
        (599, "http_error"),
    ],
)
def test_code_for_status(status, code):
    assert code_for(status) == code


class Refused(WirewatchError):
    code = "refused"


class Malformed(Refused):
    code = "malformed"


class Unlisted(WirewatchError):
    code = "unlisted"


def test_domain_errors_answer_with_the_status_the_service_table_gives_their_nearest_class() -> None:
    app = create_app("test", registry=CollectorRegistry(), errors={Refused: 422, Malformed: 400})
    router = APIRouter()

    @router.get("/{kind}")
    def fail(kind: str) -> None:
        error = {"refused": Refused, "malformed": Malformed, "unlisted": Unlisted}[kind]
        raise error(f"{kind} here", where={"in": "body", "line": 3})

    app.include_router(router)
    client = TestClient(app, raise_server_exceptions=False)
    refused = client.get("/refused")
    assert refused.status_code == 422
    assert refused.json() == {
        "error": {"code": "refused", "message": "refused here", "where": {"in": "body", "line": 3}}
    }
    assert client.get("/malformed").status_code == 400, "the subclass's own entry wins"
    unlisted = client.get("/unlisted")
    assert unlisted.status_code == 500 and unlisted.json()["error"]["code"] == "internal_error", (
        "not in the table: a bug"
    )
    assert Malformed("x", where={"line": 1}).body() == {
        "error": {"code": "malformed", "message": "x", "where": {"line": 1}}
    }
