"""What the Elasticsearch backend sends, through elasticsearch-py's real transport to a loopback stub.

No Elasticsearch server runs here; the stub answers like one (product header included) and
records every request, so these tests pin the template, bulk lines, queries, auth and retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import AuthorizationException, BadRequestError

from wirewatch_common.query import parse
from wirewatch_common.story import Quality, QualityFlag, Story
from wirewatch_index import documents
from wirewatch_index.backends import es_query, es_schema
from wirewatch_index.backends.base import BackendUnavailable, DocumentRejected
from wirewatch_index.backends.elasticsearch import BULK_ATTEMPTS, ElasticsearchBackend, connect
from wirewatch_index.documents import micros
from wirewatch_index.search import SearchRequest
from wirewatch_testkit.es_stub import Responder, Seen, Stub, elasticsearch_stub
from wirewatch_testkit.stories import CEASEFIRE, CEASEFIRE_TR, DAY, DERBY, SECIM, STRIKE, original, rendition

pytestmark = pytest.mark.integration

NEW = es_schema.index_name("ww")
"""The concrete index of this schema version; OLD is the previous version's."""
OLD = es_schema.index_name("ww", es_schema.SCHEMA_VERSION - 1)


@pytest.fixture
def stub() -> Iterator[Stub]:
    with elasticsearch_stub() as state:
        state.on("PUT", "/_index_template/", lambda s: (200, {"acknowledged": True}))
        state.on("HEAD", "/_alias/", lambda s: (404, None))
        state.on("HEAD", f"/{NEW}", lambda s: (404, None))
        state.on("PUT", f"/{NEW}", lambda s: (200, {"acknowledged": True, "index": NEW}))
        state.on("POST", "/_aliases", lambda s: (200, {"acknowledged": True}))
        state.on("POST", "/ww/_mget", _none_withdrawn)
        yield state


def _none_withdrawn(seen: Seen) -> tuple[int, Any]:
    return 200, {"docs": [{"_index": NEW, "_id": i, "found": False} for i in seen.json()["ids"]]}


def _backend(stub: Stub, **auth: Any) -> ElasticsearchBackend:
    client = connect(stub.url, **auth)
    client = client.options(retry_backoff_base=0.01, retry_backoff_cap=0.05)
    return ElasticsearchBackend(client, index_prefix="ww", bulk_backoff_s=0.01)


def _bulk_ok(seen: Seen) -> tuple[int, Any]:
    lines = seen.ndjson()
    items = [{"index": {"_id": a["index"]["_id"], "status": 201}} for a in lines[0::2]]
    return 200, {"errors": False, "took": 1, "items": items}


def test_setup_installs_template_with_language_chains_and_creates_versioned_index_behind_alias(stub):
    backend = _backend(stub, api_key="c2VjcmV0LWtleQ==")
    backend.setup()
    template = stub.requests("PUT", "/_index_template/ww")[0]
    assert template.headers["authorization"] == "ApiKey c2VjcmV0LWtleQ=="
    body = template.json()
    assert body == es_schema.index_template("ww")
    analyzers = body["template"]["settings"]["analysis"]["analyzer"]
    assert analyzers["ww_tr"]["filter"] == [
        "apostrophe",
        "ww_turkish_lowercase",
        "arabic_normalization",
        "ww_turkish_stemmer",
        "ww_turkish_stemmer_again",
        "ww_dotless_i",
    ]
    assert analyzers["ww_ar"]["filter"] == [
        "lowercase",
        "arabic_normalization",
        "arabic_stem",
        "ww_arabic_proclitic",
    ]
    assert body["template"]["settings"]["auto_expand_replicas"] == "0-1", "a single node stays green"
    props = body["template"]["mappings"]["properties"]
    assert props["headline_tr"] == props["place_tr"] == {"type": "text", "analyzer": "ww_tr"}
    assert props["provider"] == {"type": "keyword"}
    assert stub.requests("PUT", f"/{NEW}")
    assert stub.requests("POST", "/_aliases")[0].json() == {
        "actions": [{"add": {"index": NEW, "alias": "ww", "is_write_index": True}}]
    }


class OldIndex:
    """The previous schema's index (OLD) behind the alias, read through a point in time page by page as
    Elasticsearch serves it; bulk writes into this schema's (NEW) follow external versioning rules."""

    def __init__(self, stub: Stub, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.new: dict[str, tuple[int | None, dict[str, Any]]] = {}
        self.refuse: set[str] = set()
        self.pits_open = 0
        stub.on("HEAD", "/_alias/", lambda s: (200, None))
        stub.on("GET", "/_alias/", lambda s: (200, {OLD: {"aliases": {"ww": {}}}}))
        stub.on("POST", f"/{OLD}/_pit", self._open)
        stub.on("DELETE", "/_pit", self._close)
        stub.on("POST", "/_search", self._page)
        stub.on("PUT", "/_bulk", self._bulk)

    def _open(self, seen: Seen) -> tuple[int, Any]:
        self.pits_open += 1
        return 200, {"id": "pit-1"}

    def _close(self, seen: Seen) -> tuple[int, Any]:
        assert seen.json() == {"id": "pit-1"}
        self.pits_open -= 1
        return 200, {"succeeded": True, "num_freed": 1}

    def _page(self, seen: Seen) -> tuple[int, Any]:
        body = seen.json()
        assert body["pit"]["id"] == "pit-1" and body["sort"] == [{"_shard_doc": "asc"}] and body["version"]
        since = body["query"].get("range", {}).get("indexed_ts", {}).get("gte")
        start = body["search_after"][0] + 1 if "search_after" in body else 0
        hits = []
        for n, doc in enumerate(self.docs[start:], start):
            if since is None or doc["_source"].get("indexed_ts", 0) >= since:
                hits.append({**doc, "sort": [n]})
            if len(hits) == body["size"]:
                break
        return 200, {"pit_id": "pit-1", "hits": {"hits": hits}}

    def _bulk(self, seen: Seen) -> tuple[int, Any]:
        lines = seen.ndjson()
        items = []
        for action, source in zip(lines[0::2], lines[1::2], strict=True):
            meta = action["index"]
            assert meta["_index"] == NEW
            doc_id, version = meta["_id"], meta.get("version")
            stored = self.new.get(doc_id, (None, {}))[0]
            if doc_id in self.refuse:
                error = {"type": "document_parsing_exception", "reason": "failed to parse field [day]"}
                items.append({"index": {"_id": doc_id, "status": 400, "error": error}})
                continue
            older = meta.get("version_type") == "external" and version <= (stored or 0)
            older |= meta.get("version_type") == "external_gte" and version < (stored or 0)
            if older:
                items.append({"index": {"_id": doc_id, "status": 409}})
                continue
            self.new[doc_id] = (version, source)
            items.append({"index": {"_id": doc_id, "status": 201}})
        return 200, {"errors": False, "items": items}


def _old_docs() -> list[dict[str, Any]]:
    """What an index of the previous schema holds: `_source` without the prefix fields it excludes."""
    visible = DAY + timedelta(minutes=2)
    docs: list[dict[str, Any]] = []
    for story in (CEASEFIRE, CEASEFIRE_TR, STRIKE):
        built = documents.build(story, visible)
        source = {k: v for k, v in es_schema.document(built).items() if not k.endswith("_words")}
        docs.append({"_id": built.doc_id, "_version": story.version, "_source": source})
        docs.append({"_id": documents.history_id(story), "_version": 1, "_source": es_schema.history(built)})
    withdrawn = es_schema.withdrawal_pairs("ww", "ww-gone", [("en", 3)], visible)
    for action, source in withdrawn:
        docs.append(
            {"_id": action["index"]["_id"], "_version": action["index"]["version"], "_source": source}
        )
    return docs


def test_a_schema_change_rebuilds_the_new_index_from_stored_stories_then_moves_the_alias(stub):
    old = OldIndex(stub, _old_docs())
    late = original("ww-late", "Written to the old index during the copy", ["By a replica on the old code."])

    def swap(seen: Seen) -> tuple[int, Any]:
        # A replica still on the previous version wrote this to the old index before the alias moved.
        built = documents.build(late)
        old.docs.append({"_id": built.doc_id, "_version": 1, "_source": es_schema.document(built)})
        return 200, {"acknowledged": True}

    stub.on("POST", "/_aliases", swap)
    backend = ElasticsearchBackend(connect(stub.url), index_prefix="ww", settle_s=0, copy_page=3)
    backend.setup()
    assert stub.requests("POST", "/_aliases")[0].json()["actions"] == [
        {"remove": {"index": OLD, "alias": "ww"}},
        {"add": {"index": NEW, "alias": "ww", "is_write_index": True}},
    ]
    first_pass = [s for s in stub.requests("POST", "/_search") if "range" not in s.json()["query"]]
    assert len(first_pass) == 3  # 8 documents in pages of 3: the short page ends it
    assert "search_after" in first_pass[1].json()
    assert old.pits_open == 0, "every point in time is closed"
    assert set(old.new) == {d["_id"] for d in old.docs}
    version, turkish = old.new["ww-ceasefire.tr"]
    assert version == CEASEFIRE_TR.version
    # Rebuilt from the stored story: the prefix words the old `_source` left out are back.
    assert turkish["headline_words"] == es_schema.document(documents.build(CEASEFIRE_TR))["headline_words"]
    assert turkish["indexed_ts"] == documents.micros(DAY + timedelta(minutes=2)), "visible moment kept"
    assert old.new["ww-gone#deleted"][0] == 4 and old.new["ww-gone.en"][0] == 4, "withdrawals keep versions"
    assert old.new[documents.history_id(STRIKE)][1]["kind"] == "history"
    assert "ww-late.en" in old.new, "what reached the old index during the copy is copied after the move"


def test_a_copy_keeps_the_newer_version_a_replica_already_wrote_to_the_new_index(stub):
    old = OldIndex(stub, _old_docs())
    newer = STRIKE.model_copy(update={"version": 7})
    old.new[newer.document_id] = (7, es_schema.document(documents.build(newer)))
    ElasticsearchBackend(connect(stub.url), index_prefix="ww", settle_s=0).setup()
    assert old.new[newer.document_id][0] == 7


def test_a_document_that_cannot_be_copied_stops_setup_before_the_alias_moves(stub):
    old = OldIndex(stub, _old_docs())
    old.refuse.add("ww-strike.en")
    backend = ElasticsearchBackend(connect(stub.url), index_prefix="ww", settle_s=0)
    with pytest.raises(
        BackendUnavailable,
        match=rf"copying {OLD} -> {NEW}: 1 documents could not be copied, first ww-strike.en: 400 "
        rf"document_parsing_exception.*alias still points at {OLD}",
    ):
        backend.setup()
    assert stub.requests("POST", "/_aliases") == []
    assert old.pits_open == 0
    old.docs.append({"_id": "ww-odd", "_version": 1, "_source": {"kind": "mystery"}})
    old.refuse.clear()
    with pytest.raises(BackendUnavailable, match=r"ww-odd: ValueError: .*unknown kind 'mystery'"):
        backend.setup()
    stub.on(
        "POST",
        "/_search",
        lambda s: (503, {"error": {"type": "unavailable_shards_exception"}, "status": 503}),
    )
    with pytest.raises(BackendUnavailable, match=rf"copying {OLD} -> {NEW} failed: .*503"):
        _backend(stub).setup()
    assert stub.requests("POST", "/_aliases") == []
    assert old.pits_open == 0


def test_two_replicas_setting_up_at_once_both_succeed(stub):
    """The other replica created the index and moved the alias between this one's checks and requests."""
    OldIndex(stub, [])
    exists = {
        "type": "resource_already_exists_exception",
        "reason": f"index [{NEW}/abc] already exists",
        "index": NEW,
    }
    stub.on("PUT", f"/{NEW}", lambda s: (400, {"error": {"root_cause": [exists], **exists}, "status": 400}))
    missing = {"type": "aliases_not_found_exception", "reason": "aliases [ww] missing"}

    def swap(seen: Seen) -> tuple[int, Any]:
        # The alias has moved by now: reads see the new index.
        stub.on("GET", "/_alias/", lambda s: (200, {NEW: {"aliases": {"ww": {"is_write_index": True}}}}))
        return 404, {"error": {"root_cause": [missing], **missing}, "status": 404}

    stub.on("POST", "/_aliases", swap)
    backend = ElasticsearchBackend(connect(stub.url), index_prefix="ww", settle_s=0)
    backend.setup()
    assert len(stub.requests("PUT", f"/{NEW}")) == 1 and len(stub.requests("POST", "/_aliases")) == 1


def test_an_alias_swap_refused_for_another_reason_or_moved_elsewhere_still_fails(stub):
    stub.on("POST", "/_aliases", lambda s: (403, {"error": {"type": "security_exception"}, "status": 403}))
    with pytest.raises(AuthorizationException):
        _backend(stub).setup()
    missing = {"type": "aliases_not_found_exception", "reason": "aliases [ww] missing"}
    stub.on("POST", "/_aliases", lambda s: (404, {"error": missing, "status": 404}))
    with pytest.raises(BackendUnavailable, match=f"points at None, not {NEW}"):
        _backend(stub).setup()
    stub.on(
        "PUT", f"/{NEW}", lambda s: (400, {"error": {"type": "invalid_index_name_exception"}, "status": 400})
    )
    with pytest.raises(BadRequestError):
        _backend(stub).setup()


def test_drop_deletes_the_concrete_indices_by_name_never_by_wildcard(stub):
    found = {NEW: {"aliases": {"ww": {}}}, OLD: {"aliases": {}}}
    stub.on("GET", "/ww-v*", lambda s: (200, found))
    stub.on("DELETE", "/ww-v", lambda s: (200, {"acknowledged": True}))
    stub.on("DELETE", "/_index_template/ww", lambda s: (200, {"acknowledged": True}))
    _backend(stub).drop()
    deleted = [s.path.split("?")[0] for s in stub.requests("DELETE", "/ww-v")]
    assert deleted == sorted([f"/{OLD}", f"/{NEW}"])
    assert "expand_wildcards=all" in stub.requests("GET", "/ww-v*")[0].path
    assert stub.requests("DELETE", "/_index_template/ww")


def test_wrong_credentials_and_unreachable_cluster_fail_with_a_clear_reason(stub):
    stub.on("GET", "/", lambda s: (401, {"error": {"type": "security_exception"}, "status": 401}))
    with pytest.raises(BackendUnavailable, match="rejected the credentials"):
        _backend(stub, username="elastic", password="wrong").setup()
    assert stub.seen[-1].headers["authorization"].startswith("Basic ")
    closed = ElasticsearchBackend(connect("http://127.0.0.1:9", request_timeout=2).options(max_retries=0))
    with pytest.raises(BackendUnavailable, match="cannot reach Elasticsearch"):
        closed.setup()


def test_bulk_lines_use_story_language_ids_and_external_versioning(stub):
    stub.on("PUT", "/_bulk", _bulk_ok)
    backend = _backend(stub)
    result = backend.write([CEASEFIRE, CEASEFIRE_TR])
    assert len(result.written) == 2
    request = stub.requests("PUT", "/_bulk")[0]
    assert request.headers["content-type"].startswith("application/vnd.elasticsearch+x-ndjson")
    lines = request.ndjson()
    assert lines[0] == {
        "index": {"_index": "ww", "_id": "ww-ceasefire.en", "version": 1, "version_type": "external_gte"}
    }
    assert lines[1]["headline_en"] == CEASEFIRE.headline and lines[1]["kind"] == "current"
    assert lines[2] == {"index": {"_index": "ww", "_id": "ww-ceasefire.en@v1"}}
    assert lines[3]["record"]["version"] == 1
    assert lines[4]["index"]["_id"] == "ww-ceasefire.tr"
    # Folded for prefixes (Turkish lower case, apostrophe suffix dropped, ı→i); the dateline's place too.
    assert lines[5]["headline_words"] == "idlib ateşkes sürüyor, görüşmeler yeniden başliyor"
    assert lines[1]["place_en"] == "Idlib" and lines[5]["place_tr"] == "Idlib"
    assert lines[5]["place_words"] == "idlib"


def test_a_partial_rendition_never_overwrites_its_full_version_nor_its_version_record(stub):
    conflict = {"status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "exists"}}

    def bulk(seen: Seen) -> tuple[int, Any]:
        items = []
        for action in seen.ndjson()[0::2]:
            ((kind, meta),) = action.items()
            items.append({kind: {"_id": meta["_id"], **(conflict if kind == "create" else {"status": 201})}})
        return 200, {"errors": True, "items": items}

    stub.on("PUT", "/_bulk", bulk)
    partial = rendition(CEASEFIRE, "tr", CEASEFIRE_TR.headline, [], "partial")
    result = _backend(stub).write([partial])
    lines = stub.requests("PUT", "/_bulk")[0].ndjson()
    assert lines[0]["index"]["version_type"] == "external", "strictly newer: never over the full rendition"
    assert lines[2] == {"create": {"_index": "ww", "_id": "ww-ceasefire.tr@v1"}}, "the record only if none"
    assert lines[3]["record"]["status"] == "partial"
    assert result.written == [partial], "a record already there does not make the rendition stale"


def test_conflicts_are_stale_and_rejected_items_are_retried_alone(stub):
    calls: list[int] = []

    def bulk(seen: Seen) -> tuple[int, Any]:
        calls.append(1)
        lines = seen.ndjson()
        items = []
        for action in lines[0::2]:
            doc_id = action["index"]["_id"]
            status = 201
            if doc_id == "ww-strike.en" and len(calls) == 1:
                status = 429
            if doc_id == "ww-ceasefire.en":
                status = 409
            items.append({"index": {"_id": doc_id, "status": status}})
        return 200, {"errors": True, "items": items}

    stub.on("PUT", "/_bulk", bulk)
    result = _backend(stub).write([CEASEFIRE, STRIKE])
    assert result.stale == [CEASEFIRE] and result.written == [STRIKE]
    second = stub.requests("PUT", "/_bulk")[1].ndjson()
    assert [a["index"]["_id"] for a in second[0::2]] == ["ww-strike.en"], "only the item answered 429"


def test_whole_request_503_is_retried_by_the_client_then_a_dead_cluster_raises(stub):
    attempts: list[int] = []

    def flaky(seen: Seen) -> tuple[int, Any]:
        attempts.append(1)
        return (503, {"error": "busy"}) if len(attempts) == 1 else _bulk_ok(seen)

    stub.on("PUT", "/_bulk", flaky)
    assert len(_backend(stub).write([STRIKE]).written) == 1
    assert len(attempts) == 2
    stub.on("PUT", "/_bulk", lambda s: (503, {"error": "down"}))
    with pytest.raises(BackendUnavailable):
        _backend(stub).write([STRIKE])


def test_query_bodies_are_built_from_the_parsed_tree_not_a_query_string():
    request = SearchRequest(
        query=parse('ceasefire "talks resume" -football negot* headline:idlib'), providers=("AP",)
    )
    body = es_query.window_body(request, 84)
    text = body["query"]["bool"]["must"][0]["bool"]
    assert text["must"][0] == {
        "multi_match": {
            "query": "ceasefire",
            "type": "best_fields",
            "operator": "and",
            "fields": [
                "headline_en^2",
                "headline_ar^2",
                "headline_tr^2",
                "headline_std^2",
                "body_en",
                "body_ar",
                "body_tr",
                "body_std",
                "place_en",
                "place_ar",
                "place_tr",
                "place_std",
            ],
        }
    }
    assert text["must"][1]["multi_match"]["type"] == "phrase"
    assert text["must"][2]["bool"]["should"][0] == {"prefix": {"headline_words": {"value": "negot"}}}
    assert text["must"][3]["multi_match"]["fields"][0] == "headline_en^2"
    assert len(text["must"][3]["multi_match"]["fields"]) == 4
    assert text["must_not"][0]["multi_match"]["query"] == "football"
    assert {"terms": {"provider": ["AP"]}} in body["query"]["bool"]["filter"]
    assert body["sort"] == ["_score", {"story_key": "asc"}]
    assert body["size"] == 84 and body["_source"] is False
    assert "query_string" not in json.dumps(body)
    assert es_query.window_body(SearchRequest(sort="newest"), 10)["sort"][0] == {"ts": "desc"}


def test_search_collapses_renditions_and_reads_highlights(stub):
    def search(seen: Seen) -> tuple[int, Any]:
        body = seen.json()
        if "docvalue_fields" in body:
            hits = [
                {"_id": "ww-ceasefire.tr", "sort": [3.5, 7]},
                {"_id": "ww-ceasefire.en", "sort": [2.0, 7]},
                {"_id": "ww-strike.en", "sort": [1.0, 9]},
            ]
            return 200, {"hits": {"hits": hits}}
        if "highlight" in body:
            ids = body["query"]["bool"]["filter"][0]["ids"]["values"]
            assert ids == ["ww-ceasefire.tr", "ww-strike.en"]
            hits = [
                {
                    "_id": "ww-ceasefire.tr",
                    "_source": {"source": CEASEFIRE_TR.model_dump(mode="json")},
                    "highlight": {"body_tr": ["varılan <mark>ateşkes</mark>"]},
                },
                {"_id": "ww-strike.en", "_source": {"source": STRIKE.model_dump(mode="json")}},
            ]
            return 200, {"hits": {"hits": hits}}
        if "s" in body.get("aggs", {}):
            buckets = [{"key": "ww-ceasefire", "l": {"buckets": [{"key": "en"}, {"key": "tr"}]}}]
            return 200, {"hits": {"hits": []}, "aggregations": {"s": {"buckets": buckets}}}
        aggs = {
            "total": {"value": 2},
            "provider": {
                "buckets": [{"key": "Reuters", "n": {"value": 1}}, {"key": "AP", "n": {"value": 1}}]
            },
            "language": {"buckets": [{"key": "tr", "n": {"value": 1}}]},
            "day": {"buckets": [{"key_as_string": "2026-11-24T00:00:00.000Z", "key": 0, "n": {"value": 2}}]},
        }
        return 200, {"hits": {"hits": []}, "aggregations": aggs}

    stub.on("POST", "/ww/_search", search)
    page = _backend(stub).search(SearchRequest(query=parse("ateşkes"), facets=True, size=5))
    assert [(h.story_id, h.language) for h in page.hits] == [("ww-ceasefire", "tr"), ("ww-strike", "en")]
    assert page.hits[0].languages == ["en", "tr"]
    assert page.hits[0].snippet == "varılan <mark>ateşkes</mark>"
    assert page.total == 2 and page.next_after is None
    assert page.facets is not None and [b.value for b in page.facets.provider] == ["AP", "Reuters"]
    assert page.facets.day[0].value == "2026-11-24"


def test_a_document_the_mapping_refuses_is_not_transient(stub):
    def bulk(seen: Seen) -> tuple[int, Any]:
        items = [
            {
                "index": {
                    "_id": a["index"]["_id"],
                    "status": 400,
                    "error": {"type": "mapper_parsing_exception"},
                }
            }
            for a in seen.ndjson()[0::2]
        ]
        return 200, {"errors": True, "items": items}

    stub.on("PUT", "/_bulk", bulk)
    with pytest.raises(DocumentRejected, match="mapper_parsing_exception"):
        _backend(stub).write([STRIKE])


# -- what a refused write means: the document's problem or an outage --------------------------------

Item = dict[str, Any]


def _bulk_answering(answer: Callable[[str, int], Item | None]) -> tuple[Responder, list[list[str]]]:
    """A bulk responder: `answer(doc_id, call)` gives an item's status and error (None: 201)."""
    calls: list[list[str]] = []

    def respond(seen: Seen) -> tuple[int, Any]:
        ids = [a["index"]["_id"] for a in seen.ndjson()[0::2]]
        calls.append(ids)
        items = [{"index": {"_id": i, **(answer(i, len(calls)) or {"status": 201})}} for i in ids]
        return 200, {"errors": True, "took": 1, "items": items}

    return respond, calls


def _error(status: int, kind: str, reason: str = "") -> Item:
    return {"status": status, "error": {"type": kind, "reason": reason}}


def test_mixed_bulk_writes_the_good_retries_429_ignores_stale_then_rejects_only_the_refused(stub):
    def answer(doc_id: str, call: int) -> Item | None:
        if doc_id == "ww-strike.en":
            return _error(400, "mapper_parsing_exception", "failed to parse field [day] of type [date]")
        if doc_id == "ww-derby.en":
            return _error(409, "version_conflict_engine_exception", "current version [3] is higher")
        if doc_id == "ww-secim.tr" and call == 1:
            return _error(429, "es_rejected_execution_exception", "rejected execution")
        return None

    respond, calls = _bulk_answering(answer)
    stub.on("PUT", "/_bulk", respond)
    with pytest.raises(DocumentRejected) as caught:
        _backend(stub).write([CEASEFIRE, STRIKE, DERBY, SECIM])
    (refusal,) = caught.value.refusals
    assert (refusal.story_id, refusal.language, refusal.version) == ("ww-strike", "en", 1)
    assert refusal.reason.startswith("400 mapper_parsing_exception: failed to parse field [day]")
    assert caught.value.backend == "elasticsearch"
    # Only the 429 item went again, before the refusal was raised; the stale one is not an error.
    assert calls[1] == ["ww-secim.tr"]
    assert len(calls) == 2


@pytest.mark.parametrize(
    "item",
    [
        _error(
            400, "illegal_argument_exception", 'Document contains at least one immense term in field="place"'
        ),
        _error(400, "document_parsing_exception", "[1:20] failed to parse"),
        _error(400, "strict_dynamic_mapping_exception", "mapping set to strict"),
    ],
    ids=["immense-term", "document-parsing", "strict-mapping"],
)
def test_a_4xx_item_is_the_documents_problem(stub, item):
    respond, calls = _bulk_answering(lambda doc_id, call: item if doc_id == "ww-strike.en" else None)
    stub.on("PUT", "/_bulk", respond)
    with pytest.raises(DocumentRejected, match=r"ww-strike \(en, v1\): 400 " + item["error"]["type"]):
        _backend(stub).write([STRIKE])
    assert len(calls) == 1


def test_a_429_item_that_stays_429_is_an_outage_after_the_retries(stub):
    respond, calls = _bulk_answering(
        lambda doc_id, call: (
            _error(429, "es_rejected_execution_exception", "queue full") if doc_id == "ww-strike.en" else None
        )
    )
    stub.on("PUT", "/_bulk", respond)
    with pytest.raises(BackendUnavailable, match="kept answering 429/5xx for 1 documents"):
        _backend(stub).write([CEASEFIRE, STRIKE])
    assert len(calls) == BULK_ATTEMPTS
    assert all(c == ["ww-strike.en"] for c in calls[1:])


@pytest.mark.parametrize(
    "item",
    [
        _error(400, "index_closed_exception", "closed"),
        _error(403, "cluster_block_exception", f"index [{NEW}] blocked by: [FORBIDDEN/8/index write (api)]"),
        _error(404, "index_not_found_exception", "no such index [ww]"),
        _error(400, "illegal_argument_exception", "no write index is defined for alias [ww]"),
        _error(401, "security_exception", "missing authentication credentials"),
    ],
    ids=["closed", "blocked", "missing", "no-write-index", "unauthenticated"],
)
def test_an_item_that_describes_the_index_not_the_document_is_an_outage_at_once(stub, item):
    respond, calls = _bulk_answering(lambda doc_id, call: item)
    stub.on("PUT", "/_bulk", respond)
    with pytest.raises(BackendUnavailable, match=item["error"]["type"]):
        _backend(stub).write([STRIKE])
    assert len(calls) == 1


@pytest.mark.parametrize("status", [400, 413])
def test_a_whole_bulk_refused_for_what_it_carries_rejects_its_documents(stub, status):
    error = {"type": "action_request_validation_exception", "reason": "Validation Failed: 1: id is too long"}
    stub.on("PUT", "/_bulk", lambda s: (status, {"error": error, "status": status}))
    with pytest.raises(DocumentRejected) as caught:
        _backend(stub).write([CEASEFIRE, STRIKE])
    assert [(r.story_id, r.language) for r in caught.value.refusals] == [
        ("ww-ceasefire", "en"),
        ("ww-strike", "en"),
    ]
    assert "refused" in caught.value.refusals[0].reason


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_whole_bulk_refused_for_access_or_a_missing_index_is_an_outage(stub, status):
    stub.on("PUT", "/_bulk", lambda s: (status, {"error": {"type": "security_exception"}, "status": status}))
    with pytest.raises(BackendUnavailable, match="bulk write failed"):
        _backend(stub).write([STRIKE])


def test_worker_raises_transient_only_for_the_outage(stub):
    from wirewatch_common.bus import Message, TransientError
    from wirewatch_index.worker import IndexHandler

    def message(story: Story) -> Message:
        return Message("stories", 0, 0, story.id, story.to_json(), {}, 0)

    backend = _backend(stub)
    handler = IndexHandler(backend, lambda out: None, "receipts")
    stub.on("PUT", "/_bulk", _bulk_answering(lambda i, c: _error(400, "mapper_parsing_exception"))[0])
    with pytest.raises(DocumentRejected):
        handler([message(STRIKE)])
    stub.on("PUT", "/_bulk", _bulk_answering(lambda i, c: _error(503, "unavailable_shards_exception"))[0])
    with pytest.raises(TransientError, match="429/5xx"):
        handler([message(STRIKE)])
    closed = ElasticsearchBackend(connect("http://127.0.0.1:9", request_timeout=1).options(max_retries=0))
    with pytest.raises(TransientError, match="could not read withdrawals: Connection error"):
        IndexHandler(closed, lambda out: None, "receipts")([message(STRIKE)])


# -- embargo -----------------------------------------------------------------------------------------


def test_embargo_is_indexed_as_the_visible_moment_and_every_read_filters_on_it(stub):
    lifts = datetime(2031, 5, 1, 12, tzinfo=UTC)
    held = original("ww-held", "Held", ["Not yet."], embargoed=lifts)
    stub.on("PUT", "/_bulk", _bulk_ok)
    _backend(stub).write([held])
    lines = stub.requests("PUT", "/_bulk")[0].ndjson()
    assert lines[1]["indexed_ts"] == lines[3]["indexed_ts"] == micros(lifts)  # current and version record
    now = datetime(2030, 1, 1, tzinfo=UTC)
    body = es_query.window_body(SearchRequest(now=now, visible_after=now - timedelta(seconds=5)), 10)
    assert {"range": {"indexed_ts": {"lte": micros(now)}}} in body["query"]["bool"]["filter"]
    assert {"range": {"indexed_ts": {"gt": micros(now) - 5_000_000}}} in body["query"]["bool"]["filter"]
    facets = es_query.facets_body(SearchRequest(now=now), 10)
    assert {"range": {"indexed_ts": {"lte": micros(now)}}} in facets["query"]["bool"]["filter"]
    languages = es_query.languages_body(["ww-held"], now)
    assert {"range": {"indexed_ts": {"lte": micros(now)}}} in languages["query"]["bool"]["filter"]


def test_story_view_leaves_out_what_is_under_embargo(stub):
    lifts = datetime.now(tz=UTC) + timedelta(hours=1)
    held = original("ww-held", "Held", ["Not yet."], embargoed=lifts)
    record = {
        "language": "en",
        "version": 1,
        "versioncreated": DAY.isoformat(),
        "indexed_at": DAY.isoformat(),
        "headline": "Held",
    }
    hits = [
        {
            "_id": "ww-held.en",
            "_source": {
                "kind": "current",
                "indexed_ts": micros(lifts),
                "source": held.model_dump(mode="json"),
            },
        },
        {
            "_id": "ww-held.en@v1",
            "_source": {"kind": "history", "indexed_ts": micros(lifts), "record": record},
        },
    ]
    stub.on("POST", "/ww/_search", lambda s: (200, {"hits": {"hits": hits}}))
    backend = _backend(stub)
    assert backend.get_story("ww-held") is None
    found = backend.get_story("ww-held", embargoed=True)
    assert found is not None and [s.id for s in found.renditions] == ["ww-held"] and len(found.versions) == 1
    # A version record from before embargoes existed has no visible moment: it is shown.
    del hits[1]["_source"]["indexed_ts"]
    shown = backend.get_story("ww-held")
    assert shown is not None and shown.renditions == [] and len(shown.versions) == 1


def test_a_newest_first_cursor_bounds_the_window_and_asks_which_stories_were_listed_above_it():
    from wirewatch_common.query import parse
    from wirewatch_index.backends import es_query
    from wirewatch_index.search import SearchRequest, SortKey

    request = SearchRequest(
        query=parse(""), sort="newest", size=5, after=SortKey(1_700_000_000_000_000.0, 42)
    )
    window = es_query.window_body(request, 24, upper=1_700_000_000_000_000)
    assert {"range": {"ts": {"lte": 1_700_000_000_000_000}}} in window["query"]["bool"]["filter"]
    assert window["sort"] == [{"ts": "desc"}, {"story_key": "asc"}]
    above = es_query.above_body(request, [7, 9], 1_700_000_000_000_000)
    assert {"terms": {"story_key": [7, 9]}} in above["query"]["bool"]["filter"]
    assert {"range": {"ts": {"gt": 1_700_000_000_000_000}}} in above["query"]["bool"]["filter"]
    unbounded = es_query.window_body(request, 24)["query"]["bool"]["filter"]
    assert {"range": {"ts": {"lte": 1_700_000_000_000_000}}} not in unbounded


# -- writes only through the alias; facets that rank and bucket what the API shows ---------------------


def test_every_bulk_requires_the_alias_and_a_missing_alias_is_an_outage(stub):
    stub.on("PUT", "/_bulk", _bulk_ok)
    _backend(stub).write([STRIKE])
    assert "require_alias=true" in stub.requests("PUT", "/_bulk")[0].path
    # What Elasticsearch answers per item when the alias is gone and require_alias is set.
    reason = "no such index [ww] and [require_alias] request flag is [true] and [ww] is not an alias"
    respond, calls = _bulk_answering(lambda i, c: _error(404, "index_not_found_exception", reason))
    stub.on("PUT", "/_bulk", respond)
    with pytest.raises(BackendUnavailable, match="require_alias"):
        _backend(stub).write([STRIKE])
    assert len(calls) == 1


def test_facets_rank_terms_by_stories_and_build_only_days_that_have_stories():
    aggs = es_query.facets_body(SearchRequest(), 10)["aggs"]
    for name in ("provider", "language"):
        terms = aggs[name]["terms"]
        assert terms["order"] == [{"n": "desc"}, {"_key": "asc"}]
        assert aggs[name]["aggs"]["n"] == {"cardinality": {"field": "story_key"}}
    assert aggs["day"]["date_histogram"]["min_doc_count"] == 1


def test_a_page_whose_renditions_were_all_deleted_meanwhile_asks_for_no_languages(stub):
    def search(seen: Seen) -> tuple[int, Any]:
        body = seen.json()
        assert body.get("size") != 0 or ("aggs" in body and "s" not in body["aggs"]), body
        if "docvalue_fields" in body:
            return 200, {"hits": {"hits": [{"_id": "ww-strike.en", "sort": [1.0, 9]}]}}
        if "highlight" in body:
            return 200, {"hits": {"hits": []}}  # deleted between the two requests
        return 200, {"hits": {"hits": []}, "aggregations": {"total": {"value": 0}}}

    stub.on("POST", "/ww/_search", search)
    page = _backend(stub).search(SearchRequest(query=parse("strike"), size=5))
    assert page.hits == []
    bodies = [s.json() for s in stub.requests("POST", "/ww/_search")]
    assert not any("s" in b.get("aggs", {}) for b in bodies)


def test_a_withdrawal_is_written_as_versioned_documents_and_a_newer_version_meanwhile_is_left_alone(stub):
    found = [
        {"_id": "ww-ceasefire.en", "_version": 1, "_source": {"language": "en"}},
        {"_id": "ww-ceasefire.tr", "_version": 2, "_source": {"language": "tr"}},
    ]
    stub.on("POST", "/ww/_search", lambda s: (200, {"hits": {"hits": found}}))
    # The Turkish version 3 was written between the search and the withdrawal: a 409, not an error.
    stub.on(
        "PUT", "/_bulk", _bulk_answering(lambda i, c: {"status": 409} if i == "ww-ceasefire.tr" else None)[0]
    )
    assert _backend(stub).delete("ww-ceasefire") == 1
    (search_request,) = stub.requests("POST", "/ww/_search")
    assert search_request.json()["query"]["bool"]["filter"] == [
        {"term": {"story_id": "ww-ceasefire"}},
        {"term": {"kind": "current"}},
    ]
    (bulk,) = stub.requests("PUT", "/_bulk")
    assert "refresh=wait_for" in bulk.path and "require_alias=true" in bulk.path
    lines = bulk.ndjson()
    assert [line["index"] for line in lines[0::2]] == [
        {"_index": "ww", "_id": "ww-ceasefire#deleted", "version": 3, "version_type": "external_gte"},
        {"_index": "ww", "_id": "ww-ceasefire.en", "version": 2, "version_type": "external"},
        {"_index": "ww", "_id": "ww-ceasefire.tr", "version": 3, "version_type": "external"},
    ]
    assert {line["kind"] for line in lines[1::2]} == {"deleted"}
    assert not stub.requests("POST", "/_delete_by_query"), "Elasticsearch forgets deletes after gc_deletes"


def test_a_write_reads_the_withdrawal_markers_first_and_sends_nothing_withdrawn(stub):
    def markers(seen: Seen) -> tuple[int, Any]:
        docs = []
        for i in seen.json()["ids"]:
            withdrawn = i == "ww-ceasefire#deleted"
            docs.append(
                {"_index": NEW, "_id": i, "found": withdrawn, **({"_version": 2} if withdrawn else {})}
            )
        return 200, {"docs": docs}

    stub.on("POST", "/ww/_mget", markers)
    stub.on("PUT", "/_bulk", _bulk_ok)
    result = _backend(stub).write([CEASEFIRE, CEASEFIRE_TR, STRIKE])
    assert result.stale == [CEASEFIRE, CEASEFIRE_TR] and result.written == [STRIKE]
    (bulk,) = stub.requests("PUT", "/_bulk")
    assert [a["index"]["_id"] for a in bulk.ndjson()[0::2]] == ["ww-strike.en", "ww-strike.en@v1"]
    (mget,) = stub.requests("POST", "/ww/_mget")
    assert mget.json() == {"ids": ["ww-ceasefire#deleted", "ww-strike#deleted"]}
    update = CEASEFIRE.model_copy(update={"version": 2})
    assert _backend(stub).write([update]).written == [update]


def test_a_flagged_rendition_carries_the_low_quality_tag_and_the_filter_reads_it():
    flagged = CEASEFIRE_TR.model_copy(
        update={
            "translation": CEASEFIRE_TR.translation.model_copy(
                update={"quality": Quality(flags=[QualityFlag.REPETITION])}
            )
        }
    )
    assert es_schema.document(documents.build(flagged))["status"] == ["translated", "low_quality"]
    assert es_schema.document(documents.build(CEASEFIRE_TR))["status"] == "translated"
    good = es_query.filters(SearchRequest(quality="good"))
    assert {"bool": {"must_not": [{"term": {"status": "low_quality"}}]}} in good
    assert {"term": {"status": "low_quality"}} in es_query.filters(SearchRequest(quality="low"))
    assert not any("low_quality" in str(f) for f in es_query.filters(SearchRequest()))
