"""POST /v1/stories against the real session broker: 202 only after delivery, 4xx for hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from wirewatch_ingest.bootstrap import build

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AGENCY = b"Port strike halts grain exports\n\nODESA (Reuters) - Dockworkers walked out on Tuesday.\n"
NINJS = json.dumps(
    {
        "uri": "urn:test:ninjs:api-1",
        "version": "1",
        "language": "en",
        "headline": "Storm closes coastal roads",
        "body_html": "<p>Heavy rain closed roads along the coast on Monday.</p><p>Schools stayed shut.</p>",
        "versioncreated": "2026-11-25T08:00:00Z",
    }
).encode()
NITF = b"""<?xml version="1.0" encoding="UTF-8"?>
<nitf><head><docdata><doc-id regsrc="TEST" id-string="nitf-api-1"/></docdata></head>
<body><body.head><hedline><hl1>Bridge reopens after repairs</hl1></hedline></body.head>
<body.content><p>ISTANBUL (Anadolu) - The bridge reopened on Sunday.</p></body.content></body></nitf>"""
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Test wire</title><link>https://wire.invalid/</link>
<item><guid>https://wire.invalid/1</guid><title>First item</title>
<description>&lt;p&gt;One.&lt;/p&gt;</description></item>
<item><guid>https://wire.invalid/2</guid><title>Second item</title><description>Two.</description></item>
</channel></rss>"""

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<newsItem guid="bomb" version="1"><contentMeta><headline>&lol4;</headline></contentMeta></newsItem>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE nitf [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<nitf><body><body.head><hedline><hl1>&xxe;</hl1></hedline></body.head></body></nitf>"""


@pytest.fixture(scope="module")
def client(broker, settings_factory, contract_factory, tmp_path_factory):
    """One app for the module: each test posts its own documents (a group join per app costs seconds)."""
    settings = settings_factory(
        broker.bootstrap_servers, tmp_path_factory.mktemp("ingest-api"), ingest_max_document_bytes=100_000
    )
    contract = contract_factory("api")
    with TestClient(build(settings, contract=contract).app) as test_client:
        test_client.contract = contract  # type: ignore[attr-defined]
        test_client.settings = settings  # type: ignore[attr-defined]
        yield test_client


def post(client: TestClient, body: bytes, content_type: str | None, **headers: str):
    if content_type is not None:
        headers["content-type"] = content_type
    return client.post("/v1/stories", content=body, headers=headers)


def test_every_format_is_accepted_and_reaches_the_topic(client, read_stories) -> None:
    ids: dict[str, list[str]] = {}
    for name, body, ctype in [
        ("agency", AGENCY, "text/plain; charset=utf-8"),
        ("ninjs", NINJS, "application/json"),
        ("nitf", NITF, "application/xml"),  # generic: sniffed
        ("feed", RSS, "application/rss+xml"),
        ("sniffed", AGENCY.replace(b"Port", b"Rail"), None),
    ]:
        response = post(client, body, ctype)
        assert response.status_code == 202, response.text
        payload = response.json()
        assert all(s["outcome"] == "accepted" for s in payload["stories"])
        ids[name] = [s["id"] for s in payload["stories"]]
    assert len(ids["feed"]) == 2
    wanted = {i for group in ids.values() for i in group}
    seen = read_stories(client.settings, client.contract.stories.name, wanted)
    message = seen[ids["nitf"][0]][0]
    story = message.story()
    assert story.headline == "Bridge reopens after repairs" and story.format == "nitf"
    assert story.dateline is not None and [p.name for p in story.dateline.places] == ["ISTANBUL"]
    assert message.header("wirewatch-story-version") == "1"


def test_identical_redelivery_is_dropped_and_counted(client) -> None:
    first = post(client, NINJS, "application/json").json()["stories"][0]
    again = post(client, NINJS, "application/json")
    assert again.status_code == 202
    assert again.json()["stories"] == [{"id": first["id"], "version": 1, "outcome": "duplicate"}]
    metrics = client.get("/metrics").text
    line = next(x for x in metrics.splitlines() if x.startswith("wirewatch_ingest_duplicates_total"))
    assert float(line.split()[-1]) >= 1
    corrected = json.loads(NINJS)
    corrected["body_html"] += "<p>Correction: schools reopen on Wednesday.</p>"
    corrected["versioncreated"] = "2026-11-25T09:00:00Z"
    response = post(client, json.dumps(corrected).encode(), "application/json")
    assert response.json()["stories"] == [{"id": first["id"], "version": 2, "outcome": "accepted"}]


@pytest.mark.parametrize(
    ("body", "ctype", "status", "error"),
    [
        (BOMB, "application/xml", 400, "unsafe_document"),
        (BOMB, "application/vnd.iptc.g2.newsitem+xml", 400, "unsafe_document"),
        (XXE, "application/nitf+xml", 400, "unsafe_document"),
        (XXE, None, 400, "unsafe_document"),
        (b"Headline\n\nBody \xff\xfe broken", "text/plain", 400, "malformed_document"),
        (b"", "text/plain", 400, "malformed_document"),
        (b"x" * 100_001, "text/plain", 413, "document_too_large"),
        (b"<nitf><body>", "application/nitf+xml", 400, "malformed_document"),
        (b"<html><body>hi</body></html>", "application/xml", 415, "unsupported_format"),
        (b"%PDF-1.7", "application/pdf", 415, "unsupported_format"),
        (b'{"uri": "urn:x", "type": "text"}', "application/json", 422, "invalid_story"),
        (
            b'{"uri": "urn:x", "type": "picture", "headline": "A photo"}',
            "application/json",
            422,
            "no_stories",
        ),
    ],
    ids=[
        "xml-bomb-sniffed",
        "xml-bomb-newsml",
        "xxe-nitf",
        "xxe-sniffed",
        "invalid-utf8",
        "zero-bytes",
        "over-limit",
        "unclosed-xml",
        "unknown-xml-root",
        "unsupported-type",
        "no-text",
        "picture-only",
    ],
)
def test_hostile_or_bad_documents_get_their_4xx_and_the_service_keeps_serving(
    client, body, ctype, status, error
) -> None:
    response = post(client, body, ctype)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"]["code"] == error and payload["error"]["message"]
    if error == "malformed_document" and body:
        assert payload["error"]["where"]["line"] >= 1
    assert "root:" not in response.text  # nothing of /etc/passwd came back
    assert post(client, AGENCY, "text/plain").status_code == 202
    assert client.get("/healthz").status_code == 200


def test_writer_key_is_required_when_keys_are_configured(broker, make_settings, make_contract) -> None:
    writer, reader = "w" * 20, "r" * 20
    settings = make_settings(broker.bootstrap_servers, api_keys=f"writer:{writer},reader:{reader}")
    with TestClient(build(settings, contract=make_contract()).app) as client:
        assert post(client, AGENCY, "text/plain").status_code == 401
        assert post(client, AGENCY, "text/plain", **{"x-api-key": reader}).status_code == 403
        assert post(client, AGENCY, "text/plain", **{"x-api-key": writer + "x"}).status_code == 401
        assert post(client, AGENCY, "text/plain", **{"x-api-key": writer}).status_code == 202
        assert post(client, AGENCY, "text/plain", authorization=f"Bearer {writer}").status_code == 202


def test_corpus_newsml_is_accepted(client, corpus: Path) -> None:
    body = (corpus / "agency" / "tag_reuters.com_2014_newsml_KBN0FL0NN_version_5").read_bytes()
    response = post(client, body, "application/octet-stream")
    assert response.status_code == 202
    assert response.json()["format"] == "newsml"
    assert response.json()["stories"][0]["version"] == 5


def test_openapi_lists_the_accepted_content_types_and_errors(client) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/stories"]["post"]
    content = operation["requestBody"]["content"]
    assert {"application/json", "application/nitf+xml", "application/rss+xml", "text/plain"} <= content.keys()
    assert {"202", "400", "413", "415", "422", "503"} <= operation["responses"].keys()


def test_a_story_too_large_for_a_kafka_message_is_refused_with_413_naming_the_limit(
    broker, settings_factory, contract_factory, tmp_path
) -> None:
    settings = settings_factory(broker.bootstrap_servers, tmp_path, kafka_max_message_bytes=65_536)
    app = build(settings, contract=contract_factory("too-large")).app
    paragraphs = "\n\n".join(f"Paragraph {i} of the council's long statement. " * 80 for i in range(12))
    story = f"Council publishes its statement in full\n\nLARKSPUR (Test) - {paragraphs}\n".encode()
    with TestClient(app) as client:
        refused = post(client, story, "text/plain; charset=utf-8")
        fits = post(client, b"Council meets\n\nLARKSPUR (Test) - The council met on Monday.\n", "text/plain")
    assert refused.status_code == 413, refused.text
    error = refused.json()["error"]
    assert "26214" in error["message"] and "WIREWATCH_KAFKA_MAX_MESSAGE_BYTES" in error["message"]
    assert fits.status_code == 202, "the service keeps accepting what fits"
