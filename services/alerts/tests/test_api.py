"""The /v1/watchlists API through FastAPI's TestClient, with keys, over a real SQLite store."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from wirewatch_alerts.bootstrap import build
from wirewatch_alerts.settings import AlertsSettings

pytestmark = pytest.mark.integration

READER = "reader-key-0123456789"
WRITER = "writer-key-0123456789"
SECRET = "a-webhook-secret-of-24ch"
AS_READER = {"X-API-Key": READER}
AS_WRITER = {"X-API-Key": WRITER}
CEASEFIRE = {
    "name": "Ceasefire talks",
    "query": '"ceasefire talks" OR truce -football',
    "filters": {"languages": ["ar", "tr"], "places": ["Gaza"]},
    "channels": [
        {"type": "webhook", "url": "https://hooks.example.org/wirewatch", "secret": SECRET},
        {"type": "feed"},
    ],
}


@pytest.fixture
def service(tmp_path):
    settings = AlertsSettings(
        _env_file=None,
        data_dir=tmp_path,
        api_keys=f"reader:{READER},writer:{WRITER}",
        alerts_max_query_chars=200,
        alerts_worker=False,
    )
    return build(settings)


@pytest.fixture
def client(service):
    with TestClient(service.app) as c:
        yield c


def create(client, body=CEASEFIRE):
    r = client.post("/v1/watchlists", json=body, headers=AS_WRITER)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_writer_creates_a_watchlist_and_alone_sees_its_feed_token(client, service):
    made = create(client)
    assert made["id"].startswith("wl-") and made["name"] == "Ceasefire talks"
    assert made["filters"] == {"languages": ["ar", "tr"], "providers": [], "places": ["Gaza"]}
    assert made["channels"][0] == {
        "type": "webhook",
        "url": "https://hooks.example.org/wirewatch",
        "secret": "**********",
    }
    assert made["notify_updates"] is False and made["created_at"] == made["updated_at"]
    assert len(made["feed_token"]) >= 40 and "feed_token_sha256" not in made
    r = client.get(f"/v1/watchlists/{made['id']}", headers=AS_READER)
    assert r.status_code == 200
    read = r.json()
    assert read == {k: v for k, v in made.items() if k != "feed_token"}
    assert SECRET not in r.text and made["feed_token"] not in r.text
    assert service.store.get(made["id"]).channels[0].secret.get_secret_value() == SECRET


def test_created_answers_name_the_new_resource(client):
    r = client.post("/v1/watchlists", json=CEASEFIRE, headers=AS_WRITER)
    assert r.headers["location"] == f"/v1/watchlists/{r.json()['id']}"


def test_keys_decide_who_manages_and_who_reads(client):
    made = create(client)
    path = f"/v1/watchlists/{made['id']}"
    assert client.get("/v1/watchlists").status_code == 401
    r = client.post("/v1/watchlists", json=CEASEFIRE | {"name": "other"}, headers=AS_READER)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.patch(path, json={"query": "truce"}, headers=AS_READER).status_code == 403
    assert client.delete(path, headers=AS_READER).status_code == 403
    assert client.delete(path, headers={"X-API-Key": "unknown-key-0123456789"}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Bearer {READER}"}).status_code == 200
    assert client.get("/v1/watchlists", headers=AS_WRITER).status_code == 200, "a writer may read"


def test_unknown_ids_are_404_and_malformed_ones_422(client):
    r = client.get("/v1/watchlists/wl-000000000000", headers=AS_READER)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found" and "wl-000000000000" in r.json()["error"]["message"]
    assert client.patch("/v1/watchlists/wl-000000000000", json={}, headers=AS_WRITER).status_code == 404
    assert client.delete("/v1/watchlists/wl-000000000000", headers=AS_WRITER).status_code == 404
    r = client.get("/v1/watchlists/../etc", headers=AS_READER)
    assert r.status_code == 404
    r = client.get("/v1/watchlists/WL-XYZ", headers=AS_READER)
    assert r.status_code == 422 and r.json()["error"]["where"] == {"in": "path", "field": "watchlist_id"}


def test_a_second_watchlist_with_the_same_name_is_a_conflict(client):
    create(client)
    r = client.post("/v1/watchlists", json=CEASEFIRE | {"name": "CEASEFIRE  talks"}, headers=AS_WRITER)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "duplicate_name"
    assert r.json()["error"]["where"] == {"in": "body", "field": "name"}
    other = create(client, CEASEFIRE | {"name": "Truce"})
    r = client.patch(f"/v1/watchlists/{other['id']}", json={"name": "ceasefire talks"}, headers=AS_WRITER)
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (CEASEFIRE | {"name": ""}, {"in": "body", "field": "name"}),
        (CEASEFIRE | {"colour": "red"}, {"in": "body", "field": "colour"}),
        (CEASEFIRE | {"filters": {"languages": ["??"]}}, {"in": "body", "field": "filters.languages.0"}),
        (
            CEASEFIRE | {"channels": [{"type": "webhook", "url": "gopher://x", "secret": SECRET}]},
            {"in": "body", "field": "channels.0.webhook.url"},
        ),
        (
            CEASEFIRE | {"channels": [{"type": "email", "to": ["desk@example.org"], "digest_minutes": -1}]},
            {"in": "body", "field": "channels.0.email.digest_minutes"},
        ),
        (CEASEFIRE | {"notify_updates": "sometimes"}, {"in": "body", "field": "notify_updates"}),
    ],
)
def test_a_malformed_field_is_422_naming_where(client, body, where):
    r = client.post("/v1/watchlists", json=body, headers=AS_WRITER)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["where"] == where


def test_a_watchlist_that_cannot_work_is_422_naming_the_field(client):
    r = client.post("/v1/watchlists", json={"name": "Everything", "query": "-football"}, headers=AS_WRITER)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_watchlist"
    assert r.json()["error"]["where"] == {"in": "body", "field": "query"}
    assert (
        client.post(
            "/v1/watchlists",
            json={"name": "Turkish wire", "filters": {"languages": ["tr"]}},
            headers=AS_WRITER,
        ).status_code
        == 201
    ), "an empty query with a filter is a watchlist of everything in Turkish"


@pytest.mark.parametrize("query", [" ".join(f"w{i}" for i in range(40)), "ceasefire " * 30])
def test_a_query_search_would_refuse_is_400_bad_query(client, query):
    r = client.post("/v1/watchlists", json=CEASEFIRE | {"query": query}, headers=AS_WRITER)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_query"
    assert r.json()["error"]["where"] == {"in": "body", "field": "query"}


def test_patch_changes_some_fields_validated_and_leaves_the_rest(client):
    made = create(client)
    path = f"/v1/watchlists/{made['id']}"
    r = client.patch(
        path,
        json={"query": "ateşkes OR hudna", "filters": {"languages": ["tr"]}, "notify_updates": True},
        headers=AS_WRITER,
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["query"] == "ateşkes OR hudna" and changed["notify_updates"] is True
    assert changed["filters"] == {"languages": ["tr"], "providers": [], "places": ["Gaza"]}
    assert changed["channels"] == made["channels"] and changed["name"] == made["name"]
    assert changed["created_at"] == made["created_at"]
    assert datetime.fromisoformat(changed["updated_at"]) > datetime.fromisoformat(made["updated_at"])
    r = client.patch(path, json={"query": " ".join(f"w{i}" for i in range(40))}, headers=AS_WRITER)
    assert r.status_code == 400
    r = client.patch(
        path, json={"channels": [{"type": "webhook", "url": "https://new.example.org/"}]}, headers=AS_WRITER
    )
    assert r.status_code == 422 and r.json()["error"]["where"] == {"in": "body", "field": "channels.0.secret"}
    assert client.get(path, headers=AS_READER).json() == changed, "a refused change changes nothing"


def test_delete_removes_it_for_good(client):
    made = create(client)
    path = f"/v1/watchlists/{made['id']}"
    r = client.delete(path, headers=AS_WRITER)
    assert r.status_code == 204 and r.content == b""
    assert client.get(path, headers=AS_READER).status_code == 404
    assert client.delete(path, headers=AS_WRITER).status_code == 404


def test_the_list_pages_oldest_first(client):
    made = [create(client, CEASEFIRE | {"name": f"watch {i}"})["id"] for i in range(3)]
    first = client.get("/v1/watchlists", params={"limit": 2}, headers=AS_READER).json()
    assert first["total"] == 3 and first["next_offset"] == 2
    assert [w["id"] for w in first["watchlists"]] == made[:2]
    assert all("feed_token" not in w for w in first["watchlists"])
    rest = client.get("/v1/watchlists", params={"limit": 2, "offset": 2}, headers=AS_READER).json()
    assert [w["id"] for w in rest["watchlists"]] == made[2:] and "next_offset" not in rest
    assert client.get("/v1/watchlists", params={"limit": 0}, headers=AS_READER).status_code == 422
    huge = client.get(
        "/v1/watchlists", params={"offset": 2**70}, headers=AS_READER
    )  # found by fuzzing: a 500
    assert huge.status_code == 422 and huge.json()["error"]["where"] == {"in": "query", "field": "offset"}


def test_readiness_checks_the_store(client):
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"store": "ok", "alerts": "ok"}


def test_openapi_documents_every_route_with_summaries_examples_and_the_error_shape(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    operations = {
        ("post", "/v1/watchlists"): {"201", "400", "401", "403", "409", "422", "503"},
        ("get", "/v1/watchlists"): {"200", "401", "403", "422", "503"},
        ("get", "/v1/watchlists/{watchlist_id}"): {"200", "401", "403", "404", "422", "503"},
        ("patch", "/v1/watchlists/{watchlist_id}"): {"200", "400", "401", "403", "404", "409", "422", "503"},
        ("delete", "/v1/watchlists/{watchlist_id}"): {"204", "401", "403", "404", "422", "503"},
    }
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for (method, path), statuses in operations.items():
        operation = paths[path][method]
        assert operation["summary"] and operation["description"], (method, path)
        assert statuses <= set(operation["responses"]), (method, path, set(operation["responses"]))
        for status in statuses - {"200", "201", "204"}:
            assert operation["responses"][status]["content"]["application/json"]["schema"] == error, (
                path,
                status,
            )
    create_body = paths["/v1/watchlists"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schemas = spec["components"]["schemas"]
    assert schemas[create_body["$ref"].rsplit("/", 1)[1]]["examples"][0]["name"] == "Ceasefire talks"
    webhook = schemas["WebhookChannel-Input"]["properties"]
    assert webhook["url"]["examples"] and "16 to 256 characters" in webhook["secret"]["description"]
    created = paths["/v1/watchlists"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert "feed_token" in schemas[created["$ref"].rsplit("/", 1)[1]]["required"]
    shown = paths["/v1/watchlists/{watchlist_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert "feed_token" not in schemas[shown["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
