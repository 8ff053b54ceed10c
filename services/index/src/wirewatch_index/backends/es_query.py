"""The queries the Elasticsearch backend sends, built from the parsed query tree as pure functions.

The desk's words and the language, provider and place filters are built by
`wirewatch_common.es_text`, shared with the alerts service's percolator so a watchlist matches what
this search finds; here they get the index's own filters (current, searchable, visible, quality,
dates) and the bodies of each search request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from wirewatch_common import es_text

from ..documents import KIND_CURRENT, TAG_LOW_QUALITY, micros
from ..search import SearchRequest


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
    if request.quality == "low":
        out.append({"term": {"status": TAG_LOW_QUALITY}})
    elif request.quality == "good":
        out.append({"bool": {"must_not": [{"term": {"status": TAG_LOW_QUALITY}}]}})
    out.extend(es_text.attribute_filters(request.languages, request.providers, request.places))
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
    return es_text.bool_query(request.query, filters(request))


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


def story_current_body(story_id: str) -> dict[str, Any]:
    """The current language versions of a story, embargoed or not, with their stored versions."""
    return {
        "query": {"bool": {"filter": [{"term": {"story_id": story_id}}, {"term": {"kind": KIND_CURRENT}}]}},
        "size": 1000,
        "version": True,
        "_source": ["language"],
    }
