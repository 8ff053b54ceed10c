"""Keys by role, rate limits, CORS and security headers, through create_app and TestClient."""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wirewatch_common.access import limiter, require
from wirewatch_common.ratelimit import RateLimit
from wirewatch_common.service import create_app
from wirewatch_common.settings import Settings

pytestmark = pytest.mark.integration

READER = "reader-key-0123456789"
WRITER = "writer-key-0123456789"


def make_client(keys: str = "", limit: RateLimit | None = None, **settings: object) -> TestClient:
    config = Settings(_env_file=None, api_keys=keys, **settings)  # type: ignore[arg-type]
    app = create_app("test", registry=CollectorRegistry(), settings=config)
    router = APIRouter()
    guarded = require(config.api_keys, "reader", limiter(limit) if limit else None)

    @router.get("/v1/read", dependencies=[Depends(guarded)])
    def read() -> dict[str, bool]:
        return {"ok": True}

    @router.post("/v1/write", dependencies=[Depends(require(config.api_keys, "writer"))])
    def write() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/page")
    def page() -> Response:
        return Response(
            "<p>page</p>",
            media_type="text/html",
            headers={"Content-Security-Policy": "default-src 'self'", "Cache-Control": "no-cache"},
        )

    app.include_router(router)
    return TestClient(app)


def test_roles_are_enforced_with_json_errors():
    client = make_client(f"reader:{READER},writer:{WRITER}")
    missing = client.get("/v1/read")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "unauthorized"
    assert client.get("/v1/read", headers={"X-API-Key": "not-a-key-0123456789"}).status_code == 401
    assert client.get("/v1/read", headers={"X-API-Key": READER}).status_code == 200
    assert client.get("/v1/read", headers={"Authorization": f"Bearer {WRITER}"}).status_code == 200
    forbidden = client.post("/v1/write", headers={"X-API-Key": READER})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    assert client.post("/v1/write", headers={"X-API-Key": WRITER}).status_code == 200


def test_metrics_need_a_key_when_keys_are_set_and_health_never_does():
    client = make_client(f"reader:{READER}")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": READER}).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert make_client().get("/metrics").status_code == 200


def test_rate_limit_answers_429_with_retry_after_per_key():
    client = make_client(f"reader:{READER},writer:{WRITER}", RateLimit(rate=0.01, burst=2))
    for _ in range(2):
        assert client.get("/v1/read", headers={"X-API-Key": READER}).status_code == 200
    refused = client.get("/v1/read", headers={"X-API-Key": READER})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 100
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert client.get("/v1/read", headers={"X-API-Key": WRITER}).status_code == 200, (
        "another key, another bucket"
    )
    assert client.get("/v1/read").status_code == 401, "no key is refused before any bucket is touched"


def test_rate_limit_is_per_address_when_keys_are_off():
    client = make_client("", RateLimit(rate=0.01, burst=1))
    assert client.get("/v1/read").status_code == 200
    assert client.get("/v1/read", headers={"X-API-Key": "anything-at-all-0123"}).status_code == 429, (
        "with keys off, a made-up key does not buy a fresh bucket"
    )


def test_security_headers_on_every_answer_and_a_route_keeps_its_own():
    client = make_client(f"reader:{READER}")
    for response in (client.get("/healthz"), client.get("/v1/read"), client.get("/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "access-control-allow-origin" not in response.headers
    page = client.get("/page")
    assert page.headers["content-security-policy"] == "default-src 'self'"
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["x-frame-options"] == "DENY"


def test_cors_is_closed_by_default():
    client = make_client()
    preflight = client.options(
        "/v1/read", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    plain = client.get("/v1/read", headers={"Origin": "https://evil.example"})
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_cors_allows_only_listed_origins():
    client = make_client(cors_origins="https://desk.example.org")
    preflight = client.options(
        "/v1/read",
        headers={
            "Origin": "https://desk.example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://desk.example.org"
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    assert preflight.headers["x-frame-options"] == "DENY"
    other = client.get("/v1/read", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_keys_never_reach_the_logs(caplog):
    client = make_client(f"reader:{READER},writer:{WRITER}", RateLimit(rate=0.01, burst=1))
    with caplog.at_level(logging.DEBUG):
        client.get("/v1/read", headers={"X-API-Key": READER})
        client.get("/v1/read", headers={"X-API-Key": READER})  # 429
        client.post("/v1/write", headers={"Authorization": f"Bearer {READER}"})  # 403
        client.get("/v1/read", headers={"X-API-Key": WRITER + "x"})  # 401
    text = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert READER not in text and WRITER not in text
    assert (
        Settings(_env_file=None, api_keys=f"reader:{READER}").masked()["api_keys"][0]["key"] == "**********"
    )


@pytest.mark.parametrize("value", ["desk.example.org", "https://desk.example.org/path", "ftp://x"])
def test_bad_cors_origins_are_refused(value):
    with pytest.raises(ValueError, match="scheme://host"):
        Settings(_env_file=None, cors_origins=value)  # type: ignore[arg-type]
