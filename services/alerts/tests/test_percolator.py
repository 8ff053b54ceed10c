"""Watchlist matching on Elasticsearch's percolator: what is sent, and what comes back.

The wire tests run elasticsearch-py's real transport against a loopback stub that answers like a
cluster (product header included) and records each request, as the index service's wire tests do.
They pin the percolator index (the stories index's analysis and text fields, plus the percolator
field), that each stored query is the query search sends for the same words and filters, that a
batch is one percolate request whose slots map back to its versions, and what sync writes and
deletes. The live test runs where ELASTICSEARCH_URL is set and checks that the percolator finds
the same (version, watchlist) pairs as the embedded matcher.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from wirewatch_alerts.percolator import (
    META_KEY,
    SCHEMA_VERSION,
    Percolator,
    PercolatorUnavailable,
    connect,
    index_body,
    revision,
    stored_document,
    stored_query,
    version_document,
)
from wirewatch_common.matching import Standing, Version, version_of
from wirewatch_common.query import parse
from wirewatch_common.settings import Settings
from wirewatch_index import documents
from wirewatch_index.backends import es_query, es_schema
from wirewatch_index.search import SearchRequest
from wirewatch_testkit.es_stub import Responder, Seen, Stub, elasticsearch_stub
from wirewatch_testkit.stories import (
    CEASEFIRE,
    CEASEFIRE_AR,
    CEASEFIRE_TR,
    DERBY,
    SECIM,
    STRIKE,
    original,
    rendition,
)

pytestmark = pytest.mark.integration

INDEX = "ww-watchlists"


@pytest.fixture
def stub() -> Iterator[Stub]:
    with elasticsearch_stub() as state:
        yield state


def _percolator(stub: Stub, page_size: int = 100, **auth: str) -> Percolator:
    settings = Settings(elasticsearch_url=stub.url, **auth)  # type: ignore[arg-type]
    client = connect(settings).options(retry_backoff_base=0.01, retry_backoff_cap=0.05)
    return Percolator(client, index=INDEX, page_size=page_size)


def _stored(*pairs: tuple[str, str]) -> Responder:
    """Answer the stored-watchlists page with these (id, revision)s."""

    def answer(seen: Seen) -> tuple[int, Any]:
        hits = [{"_id": i, "_source": {"revision": r}, "sort": [i]} for i, r in pairs]
        return 200, {"hits": {"hits": hits}}

    return answer


def _bulk_ok(seen: Seen) -> tuple[int, Any]:
    items = []
    for line in seen.ndjson():
        op = next(iter(line))
        if op in ("index", "delete"):
            items.append({op: {"_id": line[op]["_id"], "status": 200}})
    return 200, {"errors": False, "took": 1, "items": items}


def _is_percolate(seen: Seen) -> bool:
    return seen.path.startswith(f"/{INDEX}/_search") and "percolate" in json.dumps(
        seen.json().get("query", {})
    )


def standing(wid: str, query: str, **filters: frozenset[str]) -> Standing:
    return Standing(id=wid, query=parse(query), **filters)


def versions(*stories: Any) -> list[Version]:
    out = [version_of(s) for s in stories]
    assert all(v is not None for v in out)
    return [v for v in out if v is not None]


# -- the index -----------------------------------------------------------------------------------


def test_the_percolator_index_has_the_stories_index_analysis_and_text_fields_plus_the_query_field(stub):
    stub.on("HEAD", f"/{INDEX}", lambda s: (404, None))
    stub.on("PUT", f"/{INDEX}", lambda s: (200, {"acknowledged": True, "index": INDEX}))
    _percolator(stub, elasticsearch_api_key="c2VjcmV0LWtleQ==").setup()
    created = stub.requests("PUT", f"/{INDEX}")
    assert len(created) == 1 and created[0].headers["authorization"] == "ApiKey c2VjcmV0LWtleQ=="
    body = created[0].json()
    assert body == index_body()
    stories = es_schema.index_template("wirewatch-stories")["template"]
    assert body["settings"]["analysis"] == stories["settings"]["analysis"]
    props = body["mappings"]["properties"]
    assert props["query"] == {"type": "percolator"}
    assert props["watchlist_id"] == props["revision"] == {"type": "keyword"}
    shared = set(props) - {"query", "watchlist_id", "revision"}
    assert {"headline_ar", "body_tr", "headline_words", "body_words", "lang", "provider", "place"} <= shared
    assert {name: props[name] for name in shared} == {
        name: stories["mappings"]["properties"][name] for name in shared
    }
    assert body["mappings"]["dynamic"] == "strict", "a document field the queries cannot see is an error"
    assert body["mappings"]["_meta"] == {META_KEY: SCHEMA_VERSION}


def test_an_existing_index_of_this_schema_is_kept(stub):
    stub.on("HEAD", f"/{INDEX}", lambda s: (200, None))
    stub.on(
        "GET",
        f"/{INDEX}/_mapping",
        lambda s: (200, {INDEX: {"mappings": {"_meta": {META_KEY: SCHEMA_VERSION}}}}),
    )
    _percolator(stub).setup()
    assert not stub.requests("PUT", f"/{INDEX}") and not stub.requests("DELETE", f"/{INDEX}")


def test_an_index_of_an_older_schema_is_rebuilt_and_a_foreign_index_is_refused(stub):
    stub.on("HEAD", f"/{INDEX}", lambda s: (200, None))
    stub.on("GET", f"/{INDEX}/_mapping", lambda s: (200, {INDEX: {"mappings": {"_meta": {META_KEY: 0}}}}))
    stub.on("DELETE", f"/{INDEX}", lambda s: (200, {"acknowledged": True}))
    stub.on("PUT", f"/{INDEX}", lambda s: (200, {"acknowledged": True, "index": INDEX}))
    _percolator(stub).setup()
    assert [s.method for s in stub.seen if s.path.startswith(f"/{INDEX}")][-2:] == ["DELETE", "PUT"]

    stub.on("GET", f"/{INDEX}/_mapping", lambda s: (200, {INDEX: {"mappings": {"properties": {}}}}))
    with pytest.raises(
        PercolatorUnavailable, match=r"not a wirewatch watchlist percolator.*PERCOLATOR_INDEX"
    ):
        _percolator(stub).setup()
    assert len(stub.requests("DELETE", f"/{INDEX}")) == 1, "an index that is not ours is never deleted"


def test_another_replica_creating_the_index_first_is_accepted(stub):
    stub.on("HEAD", f"/{INDEX}", lambda s: (404, None))
    error = {"type": "resource_already_exists_exception", "reason": f"index [{INDEX}] already exists"}
    stub.on("PUT", f"/{INDEX}", lambda s: (400, {"error": error, "status": 400}))
    _percolator(stub).setup()


def test_wrong_credentials_and_no_url_fail_with_a_clear_reason(stub):
    stub.on("HEAD", f"/{INDEX}", lambda s: (401, None))
    with pytest.raises(PercolatorUnavailable, match=r"rejected the credentials.*ELASTICSEARCH_API_KEY"):
        _percolator(stub, elasticsearch_username="desk", elasticsearch_password="wrong").setup()
    assert stub.seen[-1].headers["authorization"].startswith("Basic ")
    with pytest.raises(PercolatorUnavailable, match="WIREWATCH_ELASTICSEARCH_URL is not set"):
        connect(Settings(elasticsearch_url=None))


# -- stored queries ------------------------------------------------------------------------------

KINDS = [
    ("word", "ceasefire", {}),
    ("prefix", "negotiat*", {}),
    ("phrase", '"talks resume"', {}),
    ("any of", "(ateşkes OR هدنة) Idlib", {}),
    ("field scope", "headline:strike -body:union", {}),
    ("excluded only", "-derby", {}),
    (
        "filters",
        "ceasefire",
        {"languages": ["ar", "tr", "en"], "providers": ["Reuters", "AP"], "places": ["Idlib", "sy"]},
    ),
    ("filters only", "", {"providers": ["Anadolu"]}),
]


@pytest.mark.parametrize(("kind", "query", "filters"), KINDS, ids=[k[0] for k in KINDS])
def test_a_stored_query_is_the_query_search_sends_for_the_same_words_and_filters(kind, query, filters):
    watch = standing("wl-000000000001", query, **{k: frozenset(v) for k, v in filters.items()})
    request = SearchRequest(query=parse(query), **{k: tuple(sorted(v)) for k, v in filters.items()})
    searched = es_query.query(request)
    # Search also keeps current, searchable, visible documents; a percolated version is all three.
    own, shared = searched["bool"]["filter"][:3], searched["bool"]["filter"][3:]
    assert own[:2] == [{"term": {"kind": "current"}}, {"term": {"searchable": True}}]
    assert list(own[2]["range"]) == ["indexed_ts"]
    searched["bool"]["filter"] = shared
    assert stored_query(watch) == searched
    doc = stored_document(watch)
    assert doc == {"query": searched, "watchlist_id": "wl-000000000001", "revision": revision(searched)}


def test_a_revision_changes_with_the_query_or_filters_and_not_with_the_order_of_filter_values():
    base = stored_document(standing("wl-a", "ceasefire", providers=frozenset({"AP", "Reuters"})))
    same = stored_document(standing("wl-a", "ceasefire", providers=frozenset({"Reuters", "AP"})))
    assert base["revision"] == same["revision"]
    assert base["revision"] != stored_document(standing("wl-a", "ceasefire"))["revision"]
    assert (
        base["revision"]
        != stored_document(standing("wl-a", "ceasefires", providers=frozenset({"AP", "Reuters"})))["revision"]
    )


def test_a_percolated_version_carries_the_fields_the_stories_index_stores_for_it():
    for story in (CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, SECIM):
        version = version_of(story)
        assert version is not None
        stored = es_schema.document(documents.build(story))
        sent = version_document(version)
        assert sent == {name: stored[name] for name in sent}, story.language
        assert f"headline_{version.family}" in sent and "body_words" in sent


# -- sync ----------------------------------------------------------------------------------------


def test_sync_writes_new_and_changed_watchlists_deletes_removed_ones_then_refreshes(stub):
    kept = standing("wl-kept", "ceasefire")
    changed = standing("wl-changed", "strike")
    added = standing("wl-added", "derby", languages=frozenset({"en"}))
    stub.on(
        "POST",
        f"/{INDEX}/_search",
        _stored(
            ("wl-changed", "stale-revision"),
            ("wl-kept", stored_document(kept)["revision"]),
            ("wl-removed", "whatever"),
        ),
    )
    stub.on("PUT", "/_bulk", _bulk_ok)
    stub.on(
        "POST", f"/{INDEX}/_refresh", lambda s: (200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
    )
    percolator = _percolator(stub)
    percolator.sync([kept, changed, added])
    result = percolator.last_sync
    assert (result.written, result.deleted, result.refused) == (2, 1, {})
    lines = [line for seen in stub.seen if seen.path.startswith("/_bulk") for line in seen.ndjson()]
    assert lines == [
        {"index": {"_index": INDEX, "_id": "wl-added"}},
        stored_document(added),
        {"index": {"_index": INDEX, "_id": "wl-changed"}},
        stored_document(changed),
        {"delete": {"_index": INDEX, "_id": "wl-removed"}},
    ]
    assert len(stub.requests("POST", f"/{INDEX}/_refresh")) == 1, "the next batch is matched against them"
    listing = stub.requests("POST", f"/{INDEX}/_search")[0].json()
    assert listing["_source"] == ["revision"] and listing["sort"] == [{"watchlist_id": "asc"}]


def test_sync_with_nothing_changed_writes_nothing(stub):
    kept = standing("wl-kept", "ceasefire")
    stub.on("POST", f"/{INDEX}/_search", _stored(("wl-kept", stored_document(kept)["revision"])))
    percolator = _percolator(stub)
    percolator.sync([kept])
    result = percolator.last_sync
    assert (result.written, result.deleted) == (0, 0)
    assert not stub.requests("PUT", "/_bulk") and not stub.requests("POST", f"/{INDEX}/_refresh")


def test_a_watchlist_the_cluster_refuses_is_reported_and_the_others_written_while_a_429_is_an_outage(stub):
    stub.on("POST", f"/{INDEX}/_search", _stored())
    stub.on("POST", f"/{INDEX}/_refresh", lambda s: (200, {}))

    def one_refused(seen: Seen) -> tuple[int, Any]:
        items = []
        for line in seen.ndjson()[0::2]:
            wid = line["index"]["_id"]
            if wid == "wl-bad":
                error = {"type": "parsing_exception", "reason": "unknown query"}
                items.append({"index": {"_id": wid, "status": 400, "error": error}})
            else:
                items.append({"index": {"_id": wid, "status": 201}})
        return 200, {"errors": True, "items": items}

    stub.on("PUT", "/_bulk", one_refused)
    percolator = _percolator(stub)
    percolator.sync([standing("wl-bad", "a"), standing("wl-good", "b")])
    result = percolator.last_sync
    assert result.written == 1 and list(result.refused) == ["wl-bad"]
    assert "parsing_exception" in result.refused["wl-bad"]

    stub.on(
        "PUT",
        "/_bulk",
        lambda s: (200, {"errors": True, "items": [{"index": {"_id": "wl-a", "status": 429}}]}),
    )
    with pytest.raises(PercolatorUnavailable, match="could not write watchlist wl-a: 429"):
        _percolator(stub).sync([standing("wl-a", "a")])


# -- matching ------------------------------------------------------------------------------------


def _percolate_answer(matches: dict[str, list[int]]) -> Responder:
    """Answer percolate searches like the cluster: hits by watchlist id, after `search_after`, a page at a time."""

    def answer(seen: Seen) -> tuple[int, Any]:
        body = seen.json()
        after = (body.get("search_after") or [""])[0]
        ids = sorted(i for i in matches if i > after)[: body["size"]]
        hits = [
            {"_id": i, "_score": 1.0, "sort": [i], "fields": {"_percolator_document_slot": matches[i]}}
            for i in ids
        ]
        return 200, {"hits": {"hits": hits}}

    return answer


def test_a_batch_is_percolated_in_one_request_and_slots_map_back_to_its_versions(stub):
    batch = versions(CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, STRIKE)
    stub.on("POST", f"/{INDEX}/_search", _percolate_answer({"wl-b": [3], "wl-a": [2, 0], "wl-c": [1]}))
    percolator = _percolator(stub)
    assert percolator.match(batch) == [(0, "wl-a"), (1, "wl-c"), (2, "wl-a"), (3, "wl-b")]
    sent = [s for s in stub.seen if _is_percolate(s)]
    assert len(sent) == 1 and percolator.requests == 1
    body = sent[0].json()
    percolate = body["query"]["constant_score"]["filter"]["percolate"]
    assert percolate == {"field": "query", "documents": [version_document(v) for v in batch]}
    assert body["_source"] is False and body["sort"] == [{"watchlist_id": "asc"}]
    assert "search_after" not in body


def test_more_matching_watchlists_than_a_page_are_read_page_by_page(stub):
    batch = versions(CEASEFIRE, DERBY)
    matches = {f"wl-{n:02d}": [n % 2] for n in range(5)}
    stub.on("POST", f"/{INDEX}/_search", _percolate_answer(matches))
    percolator = _percolator(stub, page_size=2)
    found = percolator.match(batch)
    assert found == sorted((n % 2, f"wl-{n:02d}") for n in range(5))
    pages = [s.json() for s in stub.seen if _is_percolate(s)]
    assert [p.get("search_after") for p in pages] == [None, ["wl-01"], ["wl-03"]]
    assert all(p["query"] == pages[0]["query"] for p in pages), "every page percolates the same batch"


def test_an_empty_batch_sends_nothing_and_a_failed_percolation_is_an_outage(stub):
    percolator = _percolator(stub)
    assert percolator.match([]) == [] and not stub.seen
    stub.on(
        "POST",
        f"/{INDEX}/_search",
        lambda s: (400, {"error": {"type": "search_phase_execution_exception"}, "status": 400}),
    )
    with pytest.raises(PercolatorUnavailable, match="could not percolate a batch"):
        percolator.match(versions(CEASEFIRE))


# -- live ----------------------------------------------------------------------------------------

LIVE_WATCHLISTS = [
    standing("wl-en-word", "ceasefire"),
    standing("wl-en-prefix", "negotiat*"),
    standing("wl-en-phrase", '"talks resume"'),
    standing("wl-ar-word", "الهدنة"),
    standing("wl-ar-prefix", "المفاوض*"),
    standing("wl-tr-word", "ateşkes"),
    standing("wl-tr-name", "İdlib -derby"),
    standing("wl-tr-upper", "seçim", languages=frozenset({"tr"})),
    standing("wl-any", "(strike OR ateşkes) -union"),
    standing("wl-scope", "headline:ceasefire", providers=frozenset({"AP"})),
    standing("wl-place", "ceasefire", places=frozenset({"IDLIB"})),
    standing("wl-excluded", "-ceasefire", languages=frozenset({"en"})),
]


@pytest.fixture
def live() -> Iterator[Percolator]:
    url = os.environ.get("ELASTICSEARCH_URL") or None
    if url is None:
        pytest.skip("ELASTICSEARCH_URL is not set: no Elasticsearch server to percolate against")
    percolator = Percolator(
        connect(Settings(elasticsearch_url=url)), index=f"ww-test-wl-{uuid.uuid4().hex[:8]}"
    )
    percolator.setup()
    try:
        yield percolator
    finally:
        percolator.drop()
        percolator.close()


def test_percolation_finds_the_pairs_the_embedded_matcher_finds(live):
    from wirewatch_common.analyzers import Analyzers
    from wirewatch_common.matching import Matcher

    derby_tr = rendition(
        DERBY, "tr", "Ateşkes görüşmeleri derbinin önüne geçti", ["Taraftarlar ateşkesi andı."]
    )
    strike_ar = rendition(
        STRIKE, "ar", "إضراب في الميناء يوقف صادرات الحبوب", ["استأنف المفاوضون المحادثات."]
    )
    late = original("ww-late", "Negotiators meet", ["Talks resume in Geneva."], language="en-GB")
    batch = versions(CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, STRIKE, strike_ar, DERBY, derby_tr, SECIM, late)

    live.sync(LIVE_WATCHLISTS)
    assert live.last_sync.written == len(LIVE_WATCHLISTS)
    found = live.match(batch)
    assert live.requests == 1
    analyzers = Analyzers()
    expected = Matcher(analyzers.analyze, LIVE_WATCHLISTS).match(batch)
    assert found == expected
    assert {wid for _, wid in found} >= {"wl-en-word", "wl-ar-word", "wl-tr-word", "wl-tr-upper"}

    # A removed watchlist no longer matches; a changed one matches under its new query.
    changed = standing("wl-en-word", "grain")
    live.sync([changed])
    assert (live.last_sync.written, live.last_sync.deleted) == (1, len(LIVE_WATCHLISTS) - 1)
    assert live.match(batch) == Matcher(analyzers.analyze, [changed]).match(batch) == [(3, "wl-en-word")]


def test_open_percolator_uses_the_shared_cluster_settings_and_the_alerts_index_settings(stub):
    from wirewatch_alerts.percolator import open_percolator
    from wirewatch_alerts.settings import AlertsSettings

    stub.on("HEAD", "/desk-watchlists", lambda s: (404, None))
    stub.on("PUT", "/desk-watchlists", lambda s: (200, {"acknowledged": True, "index": "desk-watchlists"}))
    settings = AlertsSettings(
        elasticsearch_url=stub.url,
        elasticsearch_username="desk",
        elasticsearch_password="s3cret",  # type: ignore[arg-type]
        alerts_percolator_index="desk-watchlists",
        alerts_percolator_shards=3,
    )
    percolator = open_percolator(settings)
    created = stub.requests("PUT", "/desk-watchlists")
    assert len(created) == 1 and created[0].json()["settings"]["number_of_shards"] == 3
    assert created[0].headers["authorization"].startswith("Basic ")
    assert percolator.index == "desk-watchlists"
    with pytest.raises(ValueError, match="alerts_percolator_index"):
        AlertsSettings(alerts_percolator_index="Watchlists")


def test_a_percolated_version_carries_its_dateline_place_as_text_like_the_stories_index():
    version = version_of(CEASEFIRE)
    assert version is not None and "Idlib" in version.place
    doc = version_document(version)
    placed = {k: v for k, v in doc.items() if k.startswith("place_")}
    assert placed and any("idlib" in str(v).casefold() for v in placed.values()), doc
