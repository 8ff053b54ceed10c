"""Watchlist matching on Elasticsearch: each watchlist's query is a stored document, versions are percolated.

The embedded matcher (`wirewatch_common.matching.Matcher`) runs in this process; with Elasticsearch
the watchlists live in a percolator index instead, so matching a batch is one request whose work
the cluster spreads over the index's shards. The index has the stories index's analysis chains and
text fields (`wirewatch_common.es_text`) and each stored query is the one search builds for the
same desk query and filters, so a watchlist alerts on what a search would find.

`sync()` makes the index hold exactly the given watchlists: it writes the ones whose stored query
changed (each carries a `revision`, a hash of its query) and deletes the others, then refreshes, so
the next batch is matched against them. `match()` percolates a batch of versions and returns the
(index into the batch, watchlist id) pairs, the shape `Matcher.match` returns.

The index holds nothing that is not derived from the watchlist store: a schema change deletes and
recreates it, and the next `sync()` fills it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import ApiError, AuthenticationException, AuthorizationException, Elasticsearch

from wirewatch_common import es_text
from wirewatch_common.matching import Standing, Version
from wirewatch_common.settings import Settings
from wirewatch_common.story import primary_language

from .errors import MatcherUnavailable

if TYPE_CHECKING:
    from .settings import AlertsSettings

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
"""Bump when the mapping or the shape of a stored query changes: setup() then rebuilds the index."""
META_KEY = "wirewatch_percolator_version"
QUERY_FIELD = "query"
SLOT_FIELD = "_percolator_document_slot"
RETRY_STATUSES = (429, 502, 503, 504)
"""Whole-request answers the client retries with backoff (as the index service's client does)."""
MATCH_PAGE = 5000
"""Matching watchlists per page of a percolation; a batch matching more is paged with search_after."""
SYNC_PAGE = 5000
"""Stored watchlists read per page when sync() compares revisions."""
BULK_CHUNK = 500
"""Watchlists written or deleted per bulk request."""


class PercolatorUnavailable(MatcherUnavailable):
    """The percolator index cannot be read or written now (cluster, credentials, a refused request)."""

    code = "percolator_unavailable"


@dataclass(frozen=True)
class SyncResult:
    """What one sync changed: watchlists written, deleted, and those the cluster refused (id → reason)."""

    written: int = 0
    deleted: int = 0
    refused: dict[str, str] = field(default_factory=dict)


# -- pure bodies ---------------------------------------------------------------------------------


def index_body(shards: int = 1) -> dict[str, Any]:
    """Settings and mappings of the percolator index: the stories index's analysis and text fields."""
    keyword = {"type": "keyword"}
    properties: dict[str, Any] = {
        QUERY_FIELD: {"type": "percolator"},
        "watchlist_id": keyword,
        "revision": keyword,
        **es_text.filter_properties(),
        **es_text.text_properties(),
    }
    return {
        "settings": {
            "analysis": es_text.ANALYSIS,
            "number_of_shards": shards,
            "auto_expand_replicas": "0-1",
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {META_KEY: SCHEMA_VERSION},
            "properties": properties,
        },
    }


def stored_query(standing: Standing) -> dict[str, Any]:
    """The query search would run for this watchlist's words and filters (without search's own filters)."""
    filters = es_text.attribute_filters(
        sorted(standing.languages), sorted(standing.providers), sorted(standing.places)
    )
    return es_text.bool_query(standing.query, filters)


def revision(query: dict[str, Any]) -> str:
    """A short hash of a stored query and the schema it was written for: equal means nothing to rewrite."""
    text = json.dumps({"schema": SCHEMA_VERSION, "query": query}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stored_document(standing: Standing) -> dict[str, Any]:
    """The percolator document of a watchlist: its query, its id and the query's revision."""
    query = stored_query(standing)
    return {QUERY_FIELD: query, "watchlist_id": standing.id, "revision": revision(query)}


def version_document(version: Version) -> dict[str, Any]:
    """A version as the stories index stores its searchable fields (same folding of the prefix words)."""
    return {
        "lang": primary_language(version.lang),
        "provider": list(version.providers),
        "place": list(version.places),
        **es_text.text_fields(version.family, version.headline, version.body, version.place),
    }


def percolate_body(
    documents: list[dict[str, Any]], size: int, after: list[Any] | None = None
) -> dict[str, Any]:
    """One page of the watchlists matching any of the documents, by watchlist id, unscored."""
    body: dict[str, Any] = {
        "query": {
            "constant_score": {"filter": {"percolate": {"field": QUERY_FIELD, "documents": documents}}}
        },
        "size": size,
        "sort": [{"watchlist_id": "asc"}],
        "_source": False,
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = after
    return body


def stored_page_body(size: int, after: list[Any] | None = None) -> dict[str, Any]:
    """One page of the stored watchlists' ids and revisions, by watchlist id."""
    body: dict[str, Any] = {
        "query": {"match_all": {}},
        "size": size,
        "sort": [{"watchlist_id": "asc"}],
        "_source": ["revision"],
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = after
    return body


def slots(hit: dict[str, Any]) -> list[int]:
    """The positions in the batch of the documents a hit's watchlist matched."""
    found = (hit.get("fields") or {}).get(SLOT_FIELD)
    if not isinstance(found, list):
        msg = f"the percolator hit {hit.get('_id')!r} carries no {SLOT_FIELD}: {str(hit)[:200]}"
        raise PercolatorUnavailable(msg)
    return [int(slot) for slot in found]


# -- the client ----------------------------------------------------------------------------------


def connect(settings: Settings, *, request_timeout: float = 30.0) -> Elasticsearch:
    """A client for the configured cluster: TLS with an optional CA bundle, API key or basic auth, retries."""
    if not settings.elasticsearch_url:
        msg = "WIREWATCH_ELASTICSEARCH_URL is not set: the percolator needs an Elasticsearch cluster"
        raise PercolatorUnavailable(msg)
    options: dict[str, Any] = {
        "request_timeout": request_timeout,
        "max_retries": 5,
        "retry_on_status": RETRY_STATUSES,
        "retry_on_timeout": True,
        "retry_backoff_base": 0.5,
        "retry_backoff_cap": 10.0,
    }
    if settings.elasticsearch_api_key:
        options["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    elif settings.elasticsearch_username:
        password = settings.elasticsearch_password
        options["basic_auth"] = (
            settings.elasticsearch_username,
            password.get_secret_value() if password else "",
        )
    if settings.elasticsearch_ca_certs:
        options["ca_certs"] = str(settings.elasticsearch_ca_certs)
    return Elasticsearch(settings.elasticsearch_url, **options)


def open_percolator(settings: AlertsSettings) -> Percolator:
    """The percolator of the configured cluster and index, set up (the index created if absent)."""
    percolator = Percolator(
        connect(settings),
        index=settings.alerts_percolator_index,
        shards=settings.alerts_percolator_shards,
        page_size=settings.alerts_percolator_page,
    )
    percolator.setup()
    return percolator


class Percolator:
    """Watchlists stored in a percolator index; batches of versions matched in one request."""

    name = "percolator"

    def __init__(
        self,
        client: Elasticsearch,
        *,
        index: str = "wirewatch-watchlists",
        shards: int = 1,
        page_size: int = MATCH_PAGE,
    ) -> None:
        if page_size < 1:
            msg = f"page_size must be at least 1, got {page_size}"
            raise ValueError(msg)
        self.client = client
        self.index = index
        self._shards = shards
        self._page_size = page_size
        self.requests = 0
        """Percolate requests sent so far (one per page of a batch)."""
        self.last_sync = SyncResult()
        """What the last sync() changed."""

    # -- lifecycle ---------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the index if absent; rebuild it if it was made for another schema version.

        Raises PercolatorUnavailable with the reason when the cluster cannot be reached, the
        credentials are refused, or the name belongs to an index that is not a percolator of ours.
        """
        try:
            exists = bool(self.client.indices.exists(index=self.index))
            if exists:
                mapping: dict[str, Any] = dict(self.client.indices.get_mapping(index=self.index).body)
                only: dict[str, Any] = next(iter(mapping.values()), {})
                found = only.get("mappings", {}).get("_meta", {}).get(META_KEY)
                if found is None:
                    msg = (
                        f"the index {self.index!r} exists but is not a wirewatch watchlist percolator; "
                        "set WIREWATCH_ALERTS_PERCOLATOR_INDEX to another name"
                    )
                    raise PercolatorUnavailable(msg)
                if found == SCHEMA_VERSION:
                    return
                log.info(
                    "percolator schema changed: rebuilding the index (sync refills it)",
                    extra={"index": self.index, "from": found, "to": SCHEMA_VERSION},
                )
                self.client.indices.delete(index=self.index, ignore_unavailable=True)
            self._create()
        except AuthenticationException as exc:
            msg = (
                "Elasticsearch rejected the credentials (401): check WIREWATCH_ELASTICSEARCH_API_KEY "
                "or WIREWATCH_ELASTICSEARCH_USERNAME/PASSWORD"
            )
            raise PercolatorUnavailable(msg) from exc
        except AuthorizationException as exc:
            msg = (
                f"the Elasticsearch user may not manage the index {self.index!r} (403): grant its privileges"
            )
            raise PercolatorUnavailable(msg) from exc
        except TransportConnectionError as exc:
            msg = f"cannot reach Elasticsearch: {exc.message}; check WIREWATCH_ELASTICSEARCH_URL and TLS settings"
            raise PercolatorUnavailable(msg) from exc
        except (ApiError, TransportError) as exc:
            msg = f"Elasticsearch could not set up the percolator index {self.index!r}: {exc}"
            raise PercolatorUnavailable(msg) from exc

    def _create(self) -> None:
        try:
            self.client.indices.create(index=self.index, **index_body(self._shards))
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            log.info("percolator index already created by another replica", extra={"index": self.index})

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def drop(self) -> None:
        """Delete the index (tests only)."""
        self.client.indices.delete(index=self.index, ignore_unavailable=True)

    # -- watchlists --------------------------------------------------------------------------------

    def sync(self, standings: Iterable[Standing]) -> None:
        """Make the index hold exactly these watchlists, then refresh it so the next match sees them.

        Only watchlists whose stored query changed are written; stored ones not given are deleted.
        A watchlist the cluster refuses (its query cannot be stored) is logged and named in
        `last_sync.refused`, and the rest are written; an outage raises PercolatorUnavailable.
        """
        wanted = {s.id: stored_document(s) for s in standings}
        try:
            stored = self._stored()
            writes = [i for i, doc in wanted.items() if stored.get(i) != doc["revision"]]
            deletes = sorted(set(stored) - set(wanted))
            actions: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
                ({"index": {"_index": self.index, "_id": i}}, wanted[i]) for i in sorted(writes)
            ]
            actions += [({"delete": {"_index": self.index, "_id": i}}, None) for i in deletes]
            refused: dict[str, str] = {}
            for start in range(0, len(actions), BULK_CHUNK):
                refused |= self._bulk(actions[start : start + BULK_CHUNK])
            if actions:
                self.client.indices.refresh(index=self.index)
        except (ApiError, TransportError) as exc:
            msg = f"Elasticsearch could not sync the watchlists into {self.index!r}: {exc}"
            raise PercolatorUnavailable(msg) from exc
        for watchlist_id, why in refused.items():
            log.error("the percolator refused a watchlist", extra={"watchlist": watchlist_id, "reason": why})
        written = sum(1 for i in writes if i not in refused)
        deleted = sum(1 for i in deletes if i not in refused)
        self.last_sync = SyncResult(written=written, deleted=deleted, refused=refused)

    def _stored(self) -> dict[str, str]:
        """Each stored watchlist's revision, by id."""
        out: dict[str, str] = {}
        after: list[Any] | None = None
        while True:
            page = self.client.search(index=self.index, **stored_page_body(SYNC_PAGE, after))
            hits = page["hits"]["hits"]
            for hit in hits:
                out[str(hit["_id"])] = str((hit.get("_source") or {}).get("revision", ""))
            if len(hits) < SYNC_PAGE:
                return out
            after = hits[-1]["sort"]

    def _bulk(self, actions: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> dict[str, str]:
        """Send one chunk; return the refused watchlists. Access, a missing index and 429/5xx are an outage."""
        lines: list[dict[str, Any]] = []
        for action, doc in actions:
            lines.append(action)
            if doc is not None:
                lines.append(doc)
        response = self.client.bulk(operations=lines)
        refused: dict[str, str] = {}
        for item in response["items"]:
            op, result = next(iter(item.items()))
            status = int(result.get("status", 500))
            if status < 300 or (op == "delete" and status == 404):
                continue
            why = _describe(result)
            if status in (401, 403, 404, 408, 429) or status >= 500:
                msg = f"Elasticsearch could not write watchlist {result.get('_id')}: {why}"
                raise PercolatorUnavailable(msg)
            refused[str(result.get("_id"))] = why
        return refused

    # -- matching ----------------------------------------------------------------------------------

    def match(self, versions: Sequence[Version]) -> list[tuple[int, str]]:
        """The (index into `versions`, watchlist id) pairs that match, sorted; one request per page."""
        if not versions:
            return []
        documents = [version_document(v) for v in versions]
        pairs: list[tuple[int, str]] = []
        after: list[Any] | None = None
        while True:
            page = self._percolate(percolate_body(documents, self._page_size, after))
            hits = page["hits"]["hits"]
            for hit in hits:
                watchlist_id = str(hit["_id"])
                pairs.extend((slot, watchlist_id) for slot in slots(hit))
            if len(hits) < self._page_size:
                break
            after = hits[-1]["sort"]
        return sorted(pairs)

    def _percolate(self, body: dict[str, Any]) -> dict[str, Any]:
        self.requests += 1
        try:
            return dict(self.client.search(index=self.index, **body).body)
        except (ApiError, TransportError) as exc:
            msg = f"Elasticsearch could not percolate a batch in {self.index!r}: {exc}"
            raise PercolatorUnavailable(msg) from exc


def _describe(item: dict[str, Any]) -> str:
    """A bulk item's status, error type and reason, bounded for a log line."""
    error = item.get("error")
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
    else:
        text = str(error or "no error given")
    return f"{item.get('status', '?')} {text}"[:400]
