"""Every route of every service refuses without a key, and with the wrong role, once keys are set.

The list of routes comes from the apps themselves, so a route added later without a key check
fails here until it is given one or named public below on purpose.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from .conftest import KEYS, READER, WRITER, AppFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PUBLIC = {
    "/healthz": "liveness probe",
    "/readyz": "readiness probe",
    "/openapi.json": "the API's own description",
    "/docs": "Swagger UI over the description",
    "/docs/oauth2-redirect": "part of Swagger UI",
    "/redoc": "ReDoc over the description",
    "/": "the desk page: static HTML; everything it shows comes from keyed /v1 routes",
    "/desk/{name}": "the desk page's static assets",
    "/languages": "LibreTranslate's language list, open as LibreTranslate's is",
}
"""Routes that answer without a key, each with the reason."""

WRITER_ONLY = {
    ("ingest", "POST", "/v1/stories"),
    ("index", "DELETE", "/v1/stories/{story_id}"),
    ("translate", "POST", "/v1/retranslate"),
    ("alerts", "POST", "/v1/watchlists"),
    ("alerts", "PATCH", "/v1/watchlists/{watchlist_id}"),
    ("alerts", "DELETE", "/v1/watchlists/{watchlist_id}"),
    ("index", "POST", "/v1/watchlists"),  # the desk's pass-through to alerts checks keys itself
    ("index", "POST", "/v1/watchlists/{rest:path}"),
}
"""Routes a reader key may not use."""

LIBRETRANSLATE = {"/translate", "/detect"}
"""LibreTranslate-compatible routes: they refuse as LibreTranslate does, 403 with {"error": "..."}."""

SAMPLE_PARAMS = {
    "story_id": "ww-ceasefire",
    "name": "desk.css",
    "watchlist_id": "wl-0123456789ab",
    "rest": "wl-0123456789ab/alerts",
}


def routes(app: FastAPI) -> Iterator[tuple[str, str, str]]:
    """Every (method, template, concrete path) the app answers."""
    for route in iter_route_contexts(app.routes):  # included routers flattened, as OpenAPI sees them
        assert route.path and route.methods, f"a route without path or methods: {route.name}"
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE_PARAMS[m.group(1)], route.path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield method, route.path, path


@pytest.fixture(scope="module")
def keyed(
    index_factory: AppFactory,
    ingest_factory: AppFactory,
    translate_factory: AppFactory,
    alerts_factory: AppFactory,
) -> Iterator[dict[str, FastAPI]]:
    """The four apps with reader and writer keys configured, started so that shutdown closes their clients."""
    apps = {
        "index": index_factory(KEYS),
        "ingest": ingest_factory(KEYS),
        "translate": translate_factory(KEYS),
        "alerts": alerts_factory(KEYS),
    }
    with ExitStack() as stack:
        for app in apps.values():
            stack.enter_context(TestClient(app))
        yield apps


@pytest.mark.parametrize("service", ["index", "ingest", "translate", "alerts"])
def test_every_non_public_route_refuses_without_a_key_and_with_the_wrong_role(keyed, service):
    app = keyed[service]
    client = TestClient(app, raise_server_exceptions=False)
    checked = []
    for method, template, path in routes(app):
        if template in PUBLIC:
            assert client.request(method, path).status_code < 400, f"{method} {path} should stay public"
            continue
        checked.append((method, template))
        if template in LIBRETRANSLATE:
            for headers in ({}, {"X-API-Key": "guessed-key-0123456789"}):
                refused = client.request(method, path, headers=headers)
                assert refused.status_code == 403 and isinstance(refused.json()["error"], str)
            continue
        anonymous = client.request(method, path)
        assert anonymous.status_code == 401, f"{service} {method} {path} answered {anonymous.status_code}"
        assert anonymous.json()["error"]["code"] == "unauthorized"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        unknown = client.request(method, path, headers={"X-API-Key": "guessed-key-0123456789"})
        assert unknown.status_code == 401
        if (service, method, template) in WRITER_ONLY:
            reader = client.request(method, path, headers={"X-API-Key": READER})
            assert reader.status_code == 403, f"{service} {method} {path} let a reader through"
            assert reader.json()["error"]["code"] == "forbidden"
    assert checked, "the service has keyed routes"
    assert {(s, m, t) for s, m, t in WRITER_ONLY if s == service} <= {(service, m, t) for m, t in checked}


def test_a_writer_may_do_what_a_reader_may(keyed):
    client = TestClient(keyed["index"])
    for key in (READER, WRITER):
        assert (
            client.get("/v1/search", params={"q": "ceasefire"}, headers={"X-API-Key": key}).status_code == 200
        )
        assert client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_keys_never_reach_the_logs(keyed, caplog):
    """Requests with good, wrong-role and unknown keys, through paths that do log; no key in any line."""
    ingest = TestClient(keyed["ingest"], raise_server_exceptions=False)
    index = TestClient(keyed["index"], raise_server_exceptions=False)
    with caplog.at_level(logging.DEBUG):
        ingest.post(
            "/v1/stories",
            content=b"<nitf><body>",
            headers={"X-API-Key": WRITER, "content-type": "application/xml"},
        )
        ingest.post("/v1/stories", content=b"x", headers={"Authorization": f"Bearer {READER}"})
        index.get("/v1/search", params={"q": '"unclosed'}, headers={"X-API-Key": READER})
        index.delete("/v1/stories/ww-none", headers={"X-API-Key": READER})
        index.get("/v1/search", headers={"X-API-Key": WRITER + "-wrong"})
    assert any("request refused" in r.getMessage() for r in caplog.records), "the refusal was logged"
    text = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    for key in (READER, WRITER):
        assert key not in text


def test_search_push_and_stream_are_rate_limited_per_key(
    index_factory: AppFactory, ingest_factory: AppFactory
) -> None:
    limits = {"rate_limit_search": "0.01:2", "rate_limit_stream": "0.01:1", "rate_limit_push": "0.01:1"}
    with TestClient(index_factory(KEYS, **limits), headers={"X-API-Key": READER}) as index:
        assert [index.get("/v1/search").status_code for _ in range(2)] == [200, 200]
        refused = index.get("/v1/search")
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert index.get("/v1/search", headers={"X-API-Key": WRITER}).status_code == 200, "per key"
        assert index.get("/v1/stories/ww-ceasefire").status_code == 200, "reading a story is not limited"
        with index.stream("GET", "/v1/stream", params={"q": "ceasefire", "max_events": 1}) as first:
            assert first.status_code == 200
        again = index.get("/v1/stream", params={"max_events": 1})
        assert again.status_code == 429 and "retry-after" in again.headers
    body = b"Dam holds\n\nODESA (Reuters) - The dam held overnight.\n"
    with TestClient(ingest_factory(KEYS, **limits), headers={"X-API-Key": WRITER}) as ingest:
        plain = {"content-type": "text/plain"}
        assert ingest.post("/v1/stories", content=body, headers=plain).status_code == 202
        refused = ingest.post("/v1/stories", content=body, headers=plain)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
