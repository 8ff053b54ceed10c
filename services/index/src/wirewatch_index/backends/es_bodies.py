"""Everything the Elasticsearch backend sends, as pure functions: template, bulk lines, queries.

Kept apart from the client so tests can assert the exact bodies. Analysis per language runs
in Elasticsearch (custom chains below); the prefix fields (`*_words`) get text folded by
`analysis.fold` in Python, the same as tantivy's, so prefixes behave alike on both engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from wirewatch_common.story import Story, primary_language

from ..analysis import FAMILIES, Family, fold
from ..documents import (
    KIND_CURRENT,
    KIND_DELETED,
    KIND_HISTORY,
    IndexDoc,
    build,
    history_id,
    micros,
    story_key,
    version_record,
    withdrawal_id,
    withdrawn_at,
)
from ..model import SearchRequest
from ..query import AnyOf, FieldName, Leaf, ParsedQuery, Phrase

SCHEMA_VERSION = 1
"""Suffix of the concrete index behind the alias; bump it when the mapping or a derived field changes:
setup() then rebuilds the new index from the stories stored in the old one."""

HEADLINE_BOOST = 2.0
PREFIX_FIELDS: dict[FieldName, str] = {"headline": "headline_words", "body": "body_words"}
MAX_PREFIX_EXPANSIONS = 50

ANALYSIS: dict[str, Any] = {
    "filter": {
        "ww_english_possessive": {"type": "stemmer", "language": "possessive_english"},
        # Snowball English (Porter2), the stemmer tantivy uses, so both engines fold the same forms.
        "ww_english_stemmer": {"type": "snowball", "language": "English"},
        "ww_turkish_lowercase": {"type": "lowercase", "language": "turkish"},
        "ww_turkish_stemmer": {"type": "stemmer", "language": "turkish"},
        "ww_arabic_stemmer": {"type": "stemmer", "language": "arabic"},
    },
    "analyzer": {
        "ww_en": {
            "tokenizer": "standard",
            "filter": ["ww_english_possessive", "lowercase", "ww_english_stemmer"],
        },
        # apostrophe: İdlib'deki → İdlib; Turkish lowercase: İ → i, I → ı.
        "ww_tr": {
            "tokenizer": "standard",
            "filter": ["apostrophe", "ww_turkish_lowercase", "ww_turkish_stemmer"],
        },
        # Normalisation: diacritics, tatweel, alef forms, taa marbuta, alef maksura; then light10, which
        # also strips the article and glued particles (tantivy gets those stripped by analysis.fold).
        "ww_ar": {
            "tokenizer": "standard",
            "filter": ["lowercase", "decimal_digit", "arabic_normalization", "ww_arabic_stemmer"],
        },
        "ww_std": {"tokenizer": "standard", "filter": ["lowercase"]},
    },
}


def _text_field(fam: Family, name: FieldName) -> str:
    return f"{name}_{fam}"


def mappings() -> dict[str, Any]:
    """Field mappings: keywords for filters and facets, a text field per language family."""
    keyword = {"type": "keyword"}
    properties: dict[str, Any] = {
        "kind": keyword,
        "story_id": keyword,
        "story_key": {"type": "long"},
        "version": {"type": "long"},
        "language": keyword,
        "lang": keyword,
        "status": keyword,
        "searchable": {"type": "boolean"},
        "provider": keyword,
        "place": keyword,
        "ts": {"type": "long"},
        "indexed_ts": {"type": "long"},
        "day": {"type": "date"},
        "source": {"type": "object", "enabled": False},
        "record": {"type": "object", "enabled": False},
    }
    for fam in FAMILIES:
        for name in ("headline", "body"):
            properties[_text_field(fam, name)] = {"type": "text", "analyzer": f"ww_{fam}"}
    for field in PREFIX_FIELDS.values():
        properties[field] = {"type": "text", "analyzer": "ww_std", "index_options": "docs", "norms": False}
    return {
        "dynamic": "strict",
        "_source": {"excludes": list(PREFIX_FIELDS.values())},
        "properties": properties,
    }


def index_template(alias: str) -> dict[str, Any]:
    """The composable index template for `<alias>-v*` indices."""
    return {
        "index_patterns": [f"{alias}-v*"],
        "priority": 200,
        "template": {
            # 0-1 replicas: the bundled single node stays green, a bigger cluster keeps one copy.
            "settings": {
                "analysis": ANALYSIS,
                "number_of_shards": 1,
                "auto_expand_replicas": "0-1",
                "refresh_interval": "1s",
            },
            "mappings": mappings(),
        },
        "_meta": {"wirewatch_schema_version": SCHEMA_VERSION},
    }


def index_name(alias: str, version: int = SCHEMA_VERSION) -> str:
    """The concrete index behind the alias for a schema version."""
    return f"{alias}-v{version}"


PAGE_KEEP_ALIVE = "5m"
"""How long a point in time is kept between two pages of a copy."""


def copy_page_body(pit_id: str, after: list[Any] | None, since: int | None, size: int) -> dict[str, Any]:
    """One page of every document of an index, in a point in time.

    With `since`, only the documents indexed from then on: what replicas still writing to the old
    index wrote while it was being copied.
    """
    q: dict[str, Any] = {"match_all": {}} if since is None else {"range": {"indexed_ts": {"gte": since}}}
    body: dict[str, Any] = {
        "pit": {"id": pit_id, "keep_alive": PAGE_KEEP_ALIVE},
        "query": q,
        "size": size,
        "sort": [{"_shard_doc": "asc"}],
        "version": True,
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = after
    return body


Pair = tuple[dict[str, Any], dict[str, Any]]
"""One bulk action line and the document it carries."""


def migrated(hit: dict[str, Any], index: str) -> Pair:
    """A document of an older index as this version of the code writes it into `index`.

    Current versions are rebuilt from their stored story (so derived fields, such as the folded
    prefix words `_source` leaves out, follow the code), keeping the moment they became visible;
    version records and withdrawals carry nothing derived and are copied as they are. Raises
    ValueError for a document this code cannot read.
    """
    src = hit.get("_source") or {}
    kind = src.get("kind")
    if kind == KIND_CURRENT:
        story = Story.model_validate(src["source"])
        visible = datetime.fromtimestamp(int(src["indexed_ts"]) / 1_000_000, tz=UTC)
        doc = build(story, visible)
        action = {"_index": index, "_id": doc.doc_id, "version": doc.version, "version_type": "external_gte"}
        return {"index": action}, document(doc)
    if kind == KIND_HISTORY:
        return {"index": {"_index": index, "_id": hit["_id"]}}, src
    if kind == KIND_DELETED:
        action = {
            "_index": index,
            "_id": hit["_id"],
            "version": int(hit["_version"]),
            "version_type": "external_gte",
        }
        return {"index": action}, src
    msg = f"document {hit.get('_id')!r} has an unknown kind {kind!r}"
    raise ValueError(msg)


def story_current_body(story_id: str) -> dict[str, Any]:
    """The current language versions of a story, embargoed or not, with their stored versions."""
    return {
        "query": {"bool": {"filter": [{"term": {"story_id": story_id}}, {"term": {"kind": KIND_CURRENT}}]}},
        "size": 1000,
        "version": True,
        "_source": ["language"],
    }


def withdrawal_pairs(
    alias: str, story_id: str, found: Sequence[tuple[str, int]], now: datetime
) -> list[Pair]:
    """The story's marker, then one withdrawal per current (language, version) found.

    Each withdrawal is stored at its version + 1 with strict external versioning: a newer version
    written meanwhile (at that number or above) is left alone (a 409), never withdrawn unseen. The
    marker, at the highest version + 1, keeps out renditions of those versions that arrive later.
    """
    top = withdrawn_at(max(v for _, v in found))
    pairs: list[Pair] = [
        (
            {
                "index": {
                    "_index": alias,
                    "_id": withdrawal_id(story_id),
                    "version": top,
                    "version_type": "external_gte",
                }
            },
            _withdrawal(story_id, None, top, now),
        )
    ]
    for language, version in found:
        at = withdrawn_at(version)
        action = {"_index": alias, "_id": f"{story_id}.{language}", "version": at, "version_type": "external"}
        pairs.append(({"index": action}, _withdrawal(story_id, language, at, now)))
    return pairs


def _withdrawal(story_id: str, language: str | None, version: int, now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": KIND_DELETED,
        "story_id": story_id,
        "story_key": story_key(story_id),
        "version": version,
        "indexed_ts": micros(now),
    }
    if language is not None:
        body["language"] = language
        body["lang"] = primary_language(language)
    return body


def alias_swap(alias: str, old: str | None, new: str) -> dict[str, Any]:
    """Atomic alias move after a reindex: readers see the old index until the new one is complete."""
    actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": alias, "is_write_index": True}}]
    if old is not None:
        actions.insert(0, {"remove": {"index": old, "alias": alias}})
    return {"actions": actions}


def document(doc: IndexDoc) -> dict[str, Any]:
    """The `_source` of a current language version."""
    body: dict[str, Any] = {
        "kind": KIND_CURRENT,
        "story_id": doc.story_id,
        "story_key": doc.story_key,
        "version": doc.version,
        "language": doc.language,
        "lang": doc.lang,
        "status": doc.status,
        "searchable": doc.searchable,
        "provider": list(doc.providers),
        "place": list(doc.places),
        "ts": micros(doc.versioncreated),
        "indexed_ts": micros(doc.visible_at),
        "day": doc.versioncreated.isoformat(),
        "source": doc.source.model_dump(mode="json", exclude_none=True),
    }
    if doc.searchable:
        body[_text_field(doc.family, "headline")] = doc.headline
        body[_text_field(doc.family, "body")] = doc.body
        body[PREFIX_FIELDS["headline"]] = fold(doc.headline, doc.family)
        body[PREFIX_FIELDS["body"]] = fold(doc.body, doc.family)
    return body


def bulk_pairs(doc: IndexDoc, alias: str) -> list[Pair]:
    """The two bulk actions of one language version: its current document, then its version record."""
    lines = bulk_lines([doc], alias)
    return [(lines[0], lines[1]), (lines[2], lines[3])]


def bulk_lines(docs: Sequence[IndexDoc], alias: str) -> list[dict[str, Any]]:
    """Bulk actions: each language version under `story.lang` with external_gte versioning.

    `external_gte` lets a redelivered version overwrite itself (idempotent) while an older one
    fails with a 409 conflict, so it never replaces a newer version. Version records are
    written under their own ids (`story.lang@vN`).
    """
    lines: list[dict[str, Any]] = []
    for doc in docs:
        lines.append(
            {
                "index": {
                    "_index": alias,
                    "_id": doc.doc_id,
                    "version": doc.version,
                    "version_type": "external_gte",
                }
            }
        )
        lines.append(document(doc))
        lines.append({"index": {"_index": alias, "_id": history_id(doc.source)}})
        lines.append(history(doc))
    return lines


def history(doc: IndexDoc) -> dict[str, Any]:
    """The `_source` of a version record."""
    return {
        "kind": KIND_HISTORY,
        "story_id": doc.story_id,
        "story_key": doc.story_key,
        "language": doc.language,
        "version": doc.version,
        "indexed_ts": micros(doc.visible_at),
        "record": version_record(doc).model_dump(mode="json", exclude_none=True),
    }


# -- queries -------------------------------------------------------------------------------------


def _fields(scope: FieldName | None) -> list[str]:
    names: tuple[FieldName, ...] = (scope,) if scope else ("headline", "body")
    out = []
    for name in names:
        for fam in FAMILIES:
            field = _text_field(fam, name)
            out.append(f"{field}^{HEADLINE_BOOST:g}" if name == "headline" else field)
    return out


def leaf_query(leaf: Leaf) -> dict[str, Any]:
    """One word, prefix or phrase across every language's fields (each analyses with its own chain)."""
    if isinstance(leaf, Phrase):
        return {
            "multi_match": {"query": " ".join(leaf.words), "type": "phrase", "fields": _fields(leaf.field)}
        }
    if leaf.prefix:
        values = sorted({fold(leaf.text, fam).lower() for fam in FAMILIES})
        names: tuple[FieldName, ...] = (leaf.field,) if leaf.field else ("headline", "body")
        should = [{"prefix": {PREFIX_FIELDS[name]: {"value": value}}} for name in names for value in values]
        return {"bool": {"should": should, "minimum_should_match": 1}}
    return {
        "multi_match": {
            "query": leaf.text,
            "type": "best_fields",
            "operator": "and",
            "fields": _fields(leaf.field),
        }
    }


def text_query(parsed: ParsedQuery) -> dict[str, Any] | None:
    """The bool query for the desk's words; None for a browse."""
    if parsed.is_empty:
        return None
    must = []
    for clause in parsed.must:
        if isinstance(clause, AnyOf):
            must.append(
                {"bool": {"should": [leaf_query(o) for o in clause.options], "minimum_should_match": 1}}
            )
        else:
            must.append(leaf_query(clause))
    query: dict[str, Any] = {"must": must or [{"match_all": {}}]}
    if parsed.must_not:
        query["must_not"] = [leaf_query(leaf) for leaf in parsed.must_not]
    return {"bool": query}


def visible(now: datetime) -> dict[str, Any]:
    """Documents visible at `now`: indexed, and out of embargo (`indexed_ts` is when they become visible)."""
    return {"range": {"indexed_ts": {"lte": micros(now)}}}


def filters(request: SearchRequest) -> list[dict[str, Any]]:
    """Filter clauses: current, searchable, visible versions; languages, providers, places, dates."""
    now = request.now or datetime.now(tz=UTC)
    out: list[dict[str, Any]] = [
        {"term": {"kind": KIND_CURRENT}},
        {"term": {"searchable": True}},
        visible(now),
    ]
    if request.languages:
        out.append({"terms": {"lang": sorted({lang.split("-")[0].lower() for lang in request.languages})}})
    if request.providers:
        out.append({"terms": {"provider": list(request.providers)}})
    if request.places:
        out.append({"terms": {"place": [p.casefold() for p in request.places]}})
    if request.date_from or request.date_to:
        bounds: dict[str, int] = {}
        if request.date_from:
            bounds["gte"] = micros(request.date_from)
        if request.date_to:
            bounds["lt"] = micros(request.date_to)
        out.append({"range": {"ts": bounds}})
    if request.visible_after:
        out.append({"range": {"indexed_ts": {"gt": micros(request.visible_after)}}})
    return out


def query(request: SearchRequest) -> dict[str, Any]:
    """The full query of a search: text (scored) and filters (not scored)."""
    text = text_query(request.query)
    body: dict[str, Any] = {"filter": filters(request)}
    if text is not None:
        body["must"] = [text]
    return {"bool": body}


def window_body(request: SearchRequest, window: int, upper: int | None = None) -> dict[str, Any]:
    """Top `window` renditions in result order, only the fields collapsing needs.

    `upper` (newest first, from the cursor) keeps renditions at or below that time, so a deep
    page starts at the cursor instead of needing a window of everything before it.
    """
    relevance = request.sort == "relevance" and not request.query.is_empty
    sort: list[Any] = ["_score"] if relevance else [{"ts": "desc"}]
    sort.append({"story_key": "asc"})
    q = query(request)
    if upper is not None:
        q["bool"]["filter"] = [*q["bool"]["filter"], {"range": {"ts": {"lte": upper}}}]
    return {
        "query": q,
        "size": window,
        "sort": sort,
        "_source": False,
        "docvalue_fields": ["story_key", "ts"],
        "track_total_hits": False,
    }


def above_body(request: SearchRequest, story_keys: Sequence[int], bound: int) -> dict[str, Any]:
    """Renditions of these stories that match and sort above `bound`: those stories were listed already."""
    q = query(request)
    q["bool"]["filter"] = [
        *q["bool"]["filter"],
        {"terms": {"story_key": list(story_keys)}},
        {"range": {"ts": {"gt": bound}}},
    ]
    return {
        "query": q,
        "size": len(story_keys) * 8,
        "_source": False,
        "docvalue_fields": ["story_key"],
        "track_total_hits": False,
    }


def hits_body(request: SearchRequest, doc_ids: Sequence[str]) -> dict[str, Any]:
    """The chosen renditions with their sources and highlighted headline and body."""
    return {
        "query": {"bool": {"must": [query(request)], "filter": [{"ids": {"values": list(doc_ids)}}]}},
        "size": len(doc_ids),
        "_source": ["source"],
        "highlight": {
            "encoder": "html",
            "pre_tags": ["<mark>"],
            "post_tags": ["</mark>"],
            "require_field_match": False,
            "fields": {
                "headline_*": {"number_of_fragments": 0},
                "body_*": {"fragment_size": 240, "number_of_fragments": 1, "no_match_size": 240},
            },
        },
    }


def facets_body(request: SearchRequest, size: int) -> dict[str, Any]:
    """Facet aggregations counting and ranking stories (cardinality of story_key), no hits."""
    stories = {"n": {"cardinality": {"field": "story_key"}}}
    # Rank by stories, as the API shows them, not by renditions (doc_count); ties by value.
    by_stories = [{"n": "desc"}, {"_key": "asc"}]
    return {
        "query": query(request),
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "total": {"cardinality": {"field": "story_key"}},
            "provider": {"terms": {"field": "provider", "size": size, "order": by_stories}, "aggs": stories},
            "language": {"terms": {"field": "lang", "size": size, "order": by_stories}, "aggs": stories},
            # Only days that have stories: one story dated years away must not build every day between.
            "day": {
                "date_histogram": {"field": "day", "calendar_interval": "day", "min_doc_count": 1},
                "aggs": stories,
            },
        },
    }


def languages_body(story_ids: Sequence[str], now: datetime) -> dict[str, Any]:
    """Which searchable, visible languages each story on a page has."""
    return {
        "query": {
            "bool": {
                "filter": [
                    {"terms": {"story_id": list(story_ids)}},
                    {"term": {"kind": KIND_CURRENT}},
                    {"term": {"searchable": True}},
                    visible(now),
                ]
            }
        },
        "size": 0,
        "aggs": {
            "s": {
                "terms": {"field": "story_id", "size": len(story_ids)},
                "aggs": {"l": {"terms": {"field": "language", "size": 50}}},
            }
        },
    }


def story_body(story_id: str) -> dict[str, Any]:
    """Every document of a story, current and history, embargoed or not (the backend decides what to show)."""
    return {"query": {"term": {"story_id": story_id}}, "size": 1000}
