"""POST /v1/translate through FastAPI's TestClient with the real engine and test packages."""

import re

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wirewatch_common.service import create_app
from wirewatch_common.settings import parse_api_keys
from wirewatch_translate.api import ERRORS, router
from wirewatch_translate.engine import DecodeOptions, Engine
from wirewatch_translate.errors import TranslateError

pytestmark = pytest.mark.integration

READER = "reader-key-0123456789"
WRITER = "writer-key-0123456789"
ARABIC = re.compile(r"[\u0600-\u06FF]")


def _client(models_dir, keys="", max_chars=2000, engine=None):
    app = create_app("translate", registry=CollectorRegistry(), errors=ERRORS)
    calls = []
    app.include_router(
        router(
            engine or Engine(models_dir),
            parse_api_keys(keys),
            max_chars=max_chars,
            rescan=lambda: calls.append(1) or {"ok": 1},
        )
    )
    return TestClient(app), calls


def test_translate_open_without_keys_keeps_paragraphs_and_provenance(models_dir):
    client, _ = _client(models_dir)
    response = client.post(
        "/v1/translate",
        json={
            "text": "Talks resume on Friday. Prices rose.\n\nDr. Smith agreed.",
            "source": "en",
            "target": "ar",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert ARABIC.search(body["text"]) and body["text"].count("\n") == 1
    assert body["package"] == "translate-en_ar" and body["package_version"] == "0.0.1-test"
    assert (body["source"], body["target"], body["pivot"]) == ("en", "ar", [])


def test_a_pasted_table_keeps_its_lines_and_figures(models_dir):
    client, _ = _client(models_dir)
    text = "Ankara\t12\t-3\tsunny\nIstanbul\t14\t2\train\n12  -3  45/32"
    body = client.post("/v1/translate", json={"text": text, "source": "en", "target": "ar"}).json()
    lines = body["text"].split("\n")
    assert len(lines) == 3 and lines[2] == "12  -3  45/32"
    assert lines[0].split("\t")[1:3] == ["12", "-3"] and ARABIC.search(lines[0].split("\t")[0])


def test_source_is_guessed_and_pairs_pivot(models_dir):
    client, _ = _client(models_dir)
    body = client.post(
        "/v1/translate", json={"text": "قالت الهيئة إن الصادرات ستستأنف.", "target": "tr"}
    ).json()
    assert body["source"] == "ar" and body["pivot"] == ["en"]
    same = client.post("/v1/translate", json={"text": "Hello.", "source": "en", "target": "en-GB"}).json()
    assert same["text"] == "Hello." and same["package"] is None


def test_clear_4xx_for_unknown_languages_and_long_text(models_dir):
    client, _ = _client(models_dir, max_chars=100)
    bad_tag = client.post("/v1/translate", json={"text": "Hi.", "source": "en", "target": "not a language"})
    assert bad_tag.status_code == 422 and "BCP 47" in bad_tag.json()["error"]["message"]
    assert bad_tag.json()["error"]["code"] == "bad_language"
    no_model = client.post("/v1/translate", json={"text": "Bonjour.", "source": "fr", "target": "ar"})
    assert no_model.status_code == 422 and "no model for fr→ar" in no_model.json()["error"]["message"]
    assert "en→ar" in no_model.json()["error"]["message"], "the error names what is installed"
    too_long = client.post("/v1/translate", json={"text": "x" * 101, "source": "en", "target": "ar"})
    assert too_long.status_code == 413 and "limit is 100" in too_long.json()["error"]["message"]
    missing = client.post("/v1/translate", json={"text": "Hi."})
    assert missing.status_code == 422
    assert missing.json()["error"]["where"] == {"in": "body", "field": "target"}


def test_api_keys_are_checked_by_role(models_dir):
    client, calls = _client(models_dir, keys=f"reader:{READER},writer:{WRITER}")
    payload = {"text": "Hi.", "source": "en", "target": "tr"}
    assert client.post("/v1/translate", json=payload).status_code == 401
    assert (
        client.post("/v1/translate", json=payload, headers={"X-API-Key": "wrong-key-0123456789"}).status_code
        == 401
    )
    assert client.post("/v1/translate", json=payload, headers={"X-API-Key": READER}).status_code == 200
    assert (
        client.post("/v1/translate", json=payload, headers={"Authorization": f"Bearer {WRITER}"}).status_code
        == 200
    )
    assert client.post("/v1/retranslate", headers={"X-API-Key": READER}).status_code == 403
    assert calls == []
    assert client.post("/v1/retranslate", headers={"X-API-Key": WRITER}).json() == {"ok": 1}
    models = client.get("/v1/models", headers={"X-API-Key": READER}).json()
    assert {(p["source"], p["target"]) for p in models["packages"]} == {
        ("en", "ar"),
        ("en", "tr"),
        ("ar", "en"),
        ("tr", "en"),
    }
    assert [p["loaded"] for p in models["packages"] if p["target"] == "tr" and p["source"] == "en"] == [True]


def test_a_refused_text_names_its_code_and_field(models_dir):
    client, _ = _client(models_dir, max_chars=100)
    too_long = client.post("/v1/translate", json={"text": "x" * 101, "source": "bad tag", "target": "ar"})
    assert too_long.json()["error"]["code"] == "text_too_long", "the length is checked before the tags"
    assert too_long.json()["error"]["where"] == {"in": "body", "field": "text"}
    bad_source = client.post("/v1/translate", json={"text": "Hi.", "source": "not a tag", "target": "ar"})
    assert bad_source.json()["error"]["message"].startswith("source: ")
    assert bad_source.json()["error"]["where"] == {"in": "body", "field": "source"}
    no_model = client.post("/v1/translate", json={"text": "Bonjour.", "source": "fr", "target": "ar"})
    assert no_model.json()["error"]["code"] == "no_model"
    assert no_model.json()["error"]["where"] == {"in": "body", "field": "target"}


def test_an_unsplittable_run_under_the_fail_policy_is_a_422_not_a_500(models_dir):
    strict = Engine(models_dir, decode=DecodeOptions(unsplittable="fail"))
    client, _ = _client(models_dir, max_chars=10_000, engine=strict)
    blob = "https://example.com/" + "a1b2c3d4" * 625
    response = client.post("/v1/translate", json={"text": blob, "source": "en", "target": "ar"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "untranslatable" and "5020 characters without spaces" in error["message"]
    assert error["where"] == {"in": "body", "field": "text"}


def _subclasses(kind):
    for sub in kind.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_domain_error_of_the_service_has_a_status_below_500():
    assert set(_subclasses(TranslateError)) <= set(ERRORS), "an error missing from the table answers 500"
    assert all(400 <= status < 500 for status in ERRORS.values())
