"""The Elasticsearch index layout and what is written to it, as pure functions.

Template, documents, bulk lines, the copy of a schema change and withdrawals.

Kept apart from the client so tests can assert the exact bodies. The analysis chains, text
fields and filter fields come from `wirewatch_common.es_text`, which the alerts service's
percolator index uses too, so a watchlist sees a story as search does. Queries are built in
`es_query`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from wirewatch_common import es_text
from wirewatch_common.es_text import ANALYSIS, PREFIX_FIELDS
from wirewatch_common.searchable import place_text
from wirewatch_common.story import Story, primary_language

from .. import documents
from ..documents import (
    KIND_CURRENT,
    KIND_DELETED,
    KIND_HISTORY,
    IndexDoc,
    build,
    history_id,
    is_partial,
    micros,
    story_key,
    version_record,
    withdrawal_id,
    withdrawn_at,
)

SCHEMA_VERSION = 2
"""Suffix of the concrete index behind the alias; bump it when the mapping or a derived field changes:
setup() then rebuilds the new index from the stories stored in the old one.

2: place-name fields (`place_<family>`, `place_words`) and the analysis of issue 17 (Turkish `ı→i`
after stemming, Arabic `arabic_stem`, Arabic folding in every chain)."""


def mappings() -> dict[str, Any]:
    """Field mappings: keywords for filters and facets, a text field per language family."""
    keyword = {"type": "keyword"}
    filtered = es_text.filter_properties()
    properties: dict[str, Any] = {
        "kind": keyword,
        "story_id": keyword,
        "story_key": {"type": "long"},
        "version": {"type": "long"},
        "language": keyword,
        "lang": filtered["lang"],
        "status": keyword,
        "searchable": {"type": "boolean"},
        "provider": filtered["provider"],
        "place": filtered["place"],
        "ts": {"type": "long"},
        "indexed_ts": {"type": "long"},
        "day": {"type": "date"},
        "source": {"type": "object", "enabled": False},
        "record": {"type": "object", "enabled": False},
    }
    properties.update(es_text.text_properties())
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
        "status": list(documents.statuses(doc)) if doc.low_quality else doc.status,
        "searchable": doc.searchable,
        "provider": list(doc.providers),
        "place": list(doc.places),
        "ts": micros(doc.versioncreated),
        "indexed_ts": micros(doc.visible_at),
        "day": doc.versioncreated.isoformat(),
        "source": doc.source.model_dump(mode="json", exclude_none=True),
    }
    if doc.searchable:
        body.update(es_text.text_fields(doc.family, doc.headline, doc.body, place_text(doc.source)))
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

    A `partial` rendition is written with `external` (strictly newer only), so it never replaces
    the full rendition of its own version, and its version record only if there is none yet
    (`create`), so a late partial leaves the full one's record alone. The cost: on Elasticsearch a
    second partial of a version (the first paragraphs after the headline) is refused as stale and
    the first stays until the full rendition replaces it.
    """
    lines: list[dict[str, Any]] = []
    for doc in docs:
        partial = is_partial(doc.source)
        lines.append(
            {
                "index": {
                    "_index": alias,
                    "_id": doc.doc_id,
                    "version": doc.version,
                    "version_type": "external" if partial else "external_gte",
                }
            }
        )
        lines.append(document(doc))
        lines.append({"create" if partial else "index": {"_index": alias, "_id": history_id(doc.source)}})
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
