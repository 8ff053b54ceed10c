"""The Elasticsearch 9 backend: a versioned index behind an alias, external versioning, bulk writes.

What a failed write means is decided per bulk item (`item_verdict`): a 409 is an older version
(stale, not an error); 429 and 5xx are retried here with backoff and become BackendUnavailable
(an outage: the worker commits nothing) if they persist; 401/403/404/408 and the error types of a
closed, missing, blocked or unsecured index are outages at once; any other 4xx (a mapping or
parsing error, an illegal argument, a term over the keyword limit) is the document's own problem
and raises DocumentRejected naming each refused version, after the rest of the bulk is written.
A whole bulk request refused with 400 or 413 is the documents' problem too (the consumer splits
the batch until it finds the one); connection errors, timeouts and other statuses are outages.
The client itself retries 429/5xx answers and timeouts with exponential backoff. Every bulk sets
`require_alias`, so a missing alias is an outage, never a new index with guessed mappings.

`setup()` fails fast with a readable reason when the cluster or credentials are wrong. Several
replicas may run it at once: an index or alias move another one made first is accepted. A
schema change builds the new index from the stories stored in the old one, page by page in a
point in time (each request short; rebuilt, so derived fields `_source` leaves out follow the
code), moves the alias only once every document was copied, then copies again what replicas still
on the old index wrote meanwhile.

A withdrawal (`delete`) is a document, not a delete: Elasticsearch forgets deletes after
`index.gc_deletes` (60 s), and a replay would bring the story back.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
)

from wirewatch_common.story import Story

from .. import collapse, documents
from ..documents import KIND_DELETED, KIND_HISTORY
from ..search import Bucket, Facets, Hit, SearchPage, SearchRequest, StoryRecord, VersionRecord, WriteResult
from . import es_query as queries
from . import es_schema as schema
from .base import BackendUnavailable, DocumentRejected, Refusal

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 502, 503, 504)
"""Whole-request answers the client retries with backoff."""
BULK_ATTEMPTS = 5
OUTAGE_STATUSES = frozenset({401, 403, 404, 408})
"""Item statuses that say the index cannot be written now (credentials, privileges, a missing index)."""
OUTAGE_TYPES = frozenset(
    {
        "cluster_block_exception",
        "index_closed_exception",
        "index_not_found_exception",
        "security_exception",
        "unavailable_shards_exception",
    }
)
"""Item error types that describe the index or cluster, not the document, whatever their status."""
COPY_PAGE = 500
"""Documents per page when a schema change copies the old index into the new one."""
CATCH_UP_MARGIN_S = 300
"""Clock difference between replicas allowed for when finding what was written during a copy."""
REFUSED_REQUEST_STATUSES = frozenset({400, 413})
"""A whole bulk request refused with these was refused for what it carries: one of its documents."""

Verdict = Literal["written", "stale", "retry", "outage", "rejected"]


def item_verdict(item: dict[str, Any]) -> Verdict:
    """What one bulk item's answer means for the document it carried."""
    status = int(item.get("status", 500))
    if status < 300:
        return "written"
    if status == 409:
        return "stale"  # external_gte: a newer version is already there
    if status == 429 or status >= 500:
        return "retry"
    error = item.get("error")
    kind = error.get("type") if isinstance(error, dict) else None
    reason = str(error.get("reason", "")) if isinstance(error, dict) else ""
    # An alias without a write index answers 400 illegal_argument_exception for every document.
    if status in OUTAGE_STATUSES or kind in OUTAGE_TYPES or "write index" in reason:
        return "outage"
    return "rejected"


def pair_verdict(current: dict[str, Any], history: dict[str, Any]) -> tuple[Verdict, str]:
    """Combine the items of one language version (current document, version record) and say why."""
    verdicts = [(item_verdict(current), current), (item_verdict(history), history)]
    for worst in ("outage", "retry", "rejected"):
        for verdict, item in verdicts:
            if verdict == worst:
                return verdict, describe(item)
    return ("stale", "") if verdicts[0][0] == "stale" else ("written", "")


def describe(item: dict[str, Any]) -> str:
    """An item's status, error type and reason, short enough for a log line or a Kafka header."""
    error = item.get("error")
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
    else:
        text = str(error or "no error given")
    return f"{item.get('status', '?')} {text}"[:400]


def connect(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    api_key: str | None = None,
    ca_certs: str | None = None,
    request_timeout: float = 30.0,
) -> Elasticsearch:
    """Open a client: TLS with an optional CA bundle, API key or basic auth, retries with backoff."""
    options: dict[str, Any] = {
        "request_timeout": request_timeout,
        "max_retries": 5,
        "retry_on_status": RETRY_STATUSES,
        "retry_on_timeout": True,
        "retry_backoff_base": 0.5,
        "retry_backoff_cap": 10.0,
    }
    if api_key:
        options["api_key"] = api_key
    elif username:
        options["basic_auth"] = (username, password or "")
    if ca_certs:
        options["ca_certs"] = ca_certs
    return Elasticsearch(url, **options)


class RequestRefused(Exception):
    """A whole bulk request refused (400/413) for what it carries, not for the cluster's state."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ElasticsearchBackend:
    """SearchBackend on Elasticsearch; `alias` is what every read and write goes through."""

    name = "elasticsearch"

    def __init__(
        self,
        client: Elasticsearch,
        *,
        index_prefix: str = "wirewatch-stories",
        refresh: bool = False,
        bulk_backoff_s: float = 0.5,
        settle_s: float = 30.0,
        copy_page: int = COPY_PAGE,
    ):
        self.client = client
        self.alias = index_prefix
        self._refresh: bool | str = "wait_for" if refresh else False
        self._bulk_backoff_s = bulk_backoff_s
        self._settle_s = settle_s
        self._copy_page = copy_page

    # -- lifecycle -----------------------------------------------------------------------------

    def setup(self) -> None:
        """Check the cluster, install the template, create the versioned index and alias if missing."""
        try:
            info = self.client.info()
        except AuthenticationException as exc:
            msg = (
                "Elasticsearch rejected the credentials (401): check WIREWATCH_ELASTICSEARCH_API_KEY "
                "or WIREWATCH_ELASTICSEARCH_USERNAME/PASSWORD"
            )
            raise BackendUnavailable(msg) from exc
        except AuthorizationException as exc:
            msg = "the Elasticsearch user may not read cluster info (403): grant the index's privileges"
            raise BackendUnavailable(msg) from exc
        except TransportConnectionError as exc:
            msg = f"cannot reach Elasticsearch: {exc.message}; check WIREWATCH_ELASTICSEARCH_URL and TLS settings"
            raise BackendUnavailable(msg) from exc
        except (ApiError, TransportError) as exc:
            msg = f"Elasticsearch answered with an error at start-up: {exc}"
            raise BackendUnavailable(msg) from exc
        major = int(str(info["version"]["number"]).split(".")[0])
        if major < 8:
            msg = f"Elasticsearch {info['version']['number']} is too old: wirewatch needs 8.x or 9.x"
            raise BackendUnavailable(msg)
        self.client.indices.put_index_template(name=self.alias, **schema.index_template(self.alias))
        target = schema.index_name(self.alias)
        current = self._alias_target()
        if current == target:
            return
        self._create(target)
        if current is None:
            self._swap(None, target)
            return
        started = documents.micros(datetime.now(tz=UTC)) - CATCH_UP_MARGIN_S * 1_000_000
        log.info("schema change: copying the index", extra={"from": current, "to": target})
        copied = self._copy(current, target, since=None)
        self._swap(current, target)
        # Replicas still on the old code wrote to the old index until the alias moved, and a bulk
        # resolved just before the move may still land there: copy what came in, twice.
        late = self._copy(current, target, since=started, strict=False)
        time.sleep(self._settle_s)
        late += self._copy(current, target, since=started, strict=False)
        log.info("schema change done", extra={"to": target, "copied": copied, "recopied": late})

    def _create(self, index: str) -> None:
        """Create the index; another replica starting at the same moment may have created it first."""
        try:
            self.client.indices.create(index=index)
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            log.info("index already created by another replica", extra={"index": index})

    def _copy(self, old: str, new: str, *, since: int | None, strict: bool = True) -> int:
        """Copy `old` into `new` page by page; return how many documents were sent.

        A document that cannot be read or written stops the copy (`strict`, before the alias
        moves: it stays on `old`) or is logged by id (after it moved: what came in late).
        """
        pit = str(self.client.open_point_in_time(index=old, keep_alive=schema.PAGE_KEEP_ALIVE)["id"])
        sent = 0
        problems: list[str] = []
        try:
            after: list[Any] | None = None
            while True:
                page = self.client.search(**schema.copy_page_body(pit, after, since, self._copy_page))
                pit = str(page.get("pit_id", pit))
                hits = page["hits"]["hits"]
                if not hits:
                    break
                pairs: list[schema.Pair] = []
                for hit in hits:
                    try:
                        pairs.append(schema.migrated(hit, new))
                    except (ValueError, KeyError, TypeError) as exc:
                        problems.append(f"{hit.get('_id')}: {type(exc).__name__}: {str(exc)[:200]}")
                for verdict, item in self._index_all(pairs, require_alias=False):
                    if verdict == "rejected":
                        problems.append(f"{item.get('_id')}: {describe(item)}")
                sent += len(pairs)
                if len(hits) < self._copy_page:
                    break  # a short page is the last one of a point in time
                after = hits[-1]["sort"]
        except (ApiError, TransportError) as exc:
            msg = f"copying {old} -> {new} failed: {exc}; the alias still points at {old}"
            raise BackendUnavailable(msg) from exc
        finally:
            self._close_pit(pit)
        if problems and strict:
            msg = (
                f"copying {old} -> {new}: {len(problems)} documents could not be copied, first "
                f"{problems[0]}; the alias still points at {old}"
            )
            raise BackendUnavailable(msg)
        for problem in problems:
            log.error("a document written during the copy could not be copied", extra={"problem": problem})
        return sent

    def _close_pit(self, pit: str) -> None:
        try:
            self.client.close_point_in_time(id=pit)
        except (ApiError, TransportError) as exc:
            log.warning("could not close a point in time (it expires on its own)", extra={"error": str(exc)})

    def _swap(self, old: str | None, new: str) -> None:
        """Point the alias at `new` in one request; a replica that lost the race finds it done already."""
        try:
            self.client.indices.update_aliases(**schema.alias_swap(self.alias, old, new))
        except ApiError as exc:
            if exc.error != "aliases_not_found_exception":
                raise
            found = self._alias_target()
            if found != new:
                msg = f"the alias {self.alias} left {old} but points at {found}, not {new}: {exc}"
                raise BackendUnavailable(msg) from exc
            log.info("alias already moved by another replica", extra={"alias": self.alias, "index": new})

    def _alias_target(self) -> str | None:
        if not self.client.indices.exists_alias(name=self.alias):
            return None
        found = self.client.indices.get_alias(name=self.alias)
        return next(iter(found.body), None)

    def refresh(self) -> None:
        """Elasticsearch refreshes on its own interval; nothing to do in this process."""

    def health(self) -> bool:
        """The cluster answers a ping."""
        return bool(self.client.ping())

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def drop(self) -> None:
        """Delete the index, alias and template (tests only)."""
        # Deleting by wildcard is refused (action.destructive_requires_name): resolve the names first.
        found = self.client.indices.get(index=f"{self.alias}-v*", expand_wildcards="all")
        for name in sorted(found.body):
            self.client.indices.delete(index=name, ignore_unavailable=True)
        self.client.indices.delete_index_template(name=self.alias)

    # -- writing -------------------------------------------------------------------------------

    def write(self, stories: Sequence[Story]) -> WriteResult:
        """Bulk-index language versions with external versioning; 409 conflicts are stale versions.

        Versions of a withdrawn story up to the withdrawn one are stale too (its marker is read
        first). Items answered 429/5xx are retried; if they persist, BackendUnavailable. An outage
        item raises BackendUnavailable at once. Refused items raise DocumentRejected once the bulk
        is done: the others in it are written (a redelivery rewrites them idempotently).
        """
        batch = documents.newest_per_document(list(stories))
        if not batch:
            return WriteResult(written=[])
        withdrawn = self._withdrawals(sorted({s.id for s in batch}))
        stale = [s for s in batch if documents.stale(s.version, withdrawn.get(s.id))]
        kept = [s for s in batch if not documents.stale(s.version, withdrawn.get(s.id))]
        now = datetime.now(tz=UTC)
        docs = [documents.build(s, now) for s in kept]
        pairs: list[schema.Pair] = []
        for doc in docs:
            pairs.extend(schema.bulk_pairs(doc, self.alias))
        try:
            results = self._index_all(pairs, require_alias=True, refresh=self._refresh)
        except RequestRefused as exc:
            raise DocumentRejected(self.name, [Refusal.of(d.source, exc.reason) for d in docs]) from exc
        written: list[Story] = []
        refused: list[Refusal] = []
        for doc, (current, history) in zip(docs, _pairs([item for _, item in results]), strict=True):
            verdict, why = pair_verdict(current, history)
            if verdict == "rejected":
                refused.append(Refusal.of(doc.source, why))
            elif verdict == "stale":
                stale.append(doc.source)
            else:
                written.append(doc.source)
        if refused:
            raise DocumentRejected(self.name, refused)
        return WriteResult(written=written, stale=stale)

    def _withdrawals(self, story_ids: Sequence[str]) -> dict[str, int]:
        """The stored version of each withdrawn story's marker (none for a story never withdrawn)."""
        try:
            found = self.client.mget(
                index=self.alias, ids=[documents.withdrawal_id(i) for i in story_ids], source=False
            )
        except (ApiError, TransportError) as exc:
            msg = f"Elasticsearch could not read withdrawals: {exc}"
            raise BackendUnavailable(msg) from exc
        out = {}
        for story_id, doc in zip(story_ids, found["docs"], strict=True):
            if doc.get("error"):
                msg = f"Elasticsearch could not read the withdrawal of {story_id}: {describe(doc)}"
                raise BackendUnavailable(msg)
            if doc.get("found"):
                out[story_id] = int(doc["_version"])
        return out

    def _index_all(
        self, pairs: Sequence[schema.Pair], *, require_alias: bool, refresh: bool | str = False
    ) -> list[tuple[Verdict, dict[str, Any]]]:
        """Send (action, document) pairs in one bulk; resend the items answered 429/5xx.

        Returns each pair's final verdict and item, in order. An outage item, or items still
        answered 429/5xx after BULK_ATTEMPTS, raise BackendUnavailable; a whole request refused
        for what it carries raises RequestRefused.
        """
        results: dict[int, tuple[Verdict, dict[str, Any]]] = {}
        pending = list(range(len(pairs)))
        for attempt in range(1, BULK_ATTEMPTS + 1):
            if not pending:
                break
            lines = [line for i in pending for line in pairs[i]]
            items = self._send(lines, require_alias=require_alias, refresh=refresh)
            retry = []
            for i, item in zip(pending, items, strict=True):
                verdict = item_verdict(item)
                if verdict == "outage":
                    msg = f"Elasticsearch cannot write {item.get('_id')}: {describe(item)}"
                    raise BackendUnavailable(msg)
                if verdict == "retry":
                    retry.append(i)
                results[i] = (verdict, item)
            if retry and attempt == BULK_ATTEMPTS:
                msg = (
                    f"Elasticsearch kept answering 429/5xx for {len(retry)} documents, "
                    f"e.g. {describe(results[retry[0]][1])}"
                )
                raise BackendUnavailable(msg)
            if retry:
                time.sleep(min(10.0, self._bulk_backoff_s * 2 ** (attempt - 1)))
            pending = retry
        return [results[i] for i in range(len(pairs))]

    def _send(
        self, lines: list[dict[str, Any]], *, require_alias: bool, refresh: bool | str
    ) -> list[dict[str, Any]]:
        try:
            response = self.client.bulk(
                operations=lines,
                refresh=refresh,
                # Through the alias, a missing alias is an outage (404 items), not a new index with
                # guessed mappings.
                require_alias=require_alias,
            )
        except ApiError as exc:
            if exc.status_code in REFUSED_REQUEST_STATUSES:
                # Validation of what we sent (an id over 512 bytes, a version out of range, too large).
                why = f"the bulk request of {len(lines) // 2} documents was refused: {str(exc)[:400]}"
                raise RequestRefused(why) from exc
            msg = f"Elasticsearch bulk write failed: {exc}"
            raise BackendUnavailable(msg) from exc
        except TransportError as exc:
            msg = f"Elasticsearch bulk write failed: {exc}"
            raise BackendUnavailable(msg) from exc
        return [next(iter(item.values())) for item in response["items"]]

    def delete(self, story_id: str) -> int:
        """Withdraw a story's current language versions (history stays); return how many.

        Each becomes a withdrawal document at its version + 1 and the story gets a marker, so a
        replay or a late rendition of these versions stays out, while a newer version of the story
        is indexed as usual. A newer version written meanwhile is left in place (not counted).
        """
        found = self._search(queries.story_current_body(story_id))["hits"]["hits"]
        current = [(str(h["_source"]["language"]), int(h["_version"])) for h in found]
        if not current:
            return 0
        pairs = schema.withdrawal_pairs(self.alias, story_id, current, datetime.now(tz=UTC))
        try:
            results = self._index_all(pairs, require_alias=True, refresh="wait_for")
        except RequestRefused as exc:
            msg = f"Elasticsearch refused the withdrawal of {story_id}: {exc.reason}"
            raise BackendUnavailable(msg) from exc
        refused = [describe(item) for verdict, item in results if verdict == "rejected"]
        if refused:
            msg = f"Elasticsearch refused the withdrawal of {story_id}: {refused[0]}"
            raise BackendUnavailable(msg)
        return sum(1 for verdict, _ in results[1:] if verdict == "written")

    # -- searching -----------------------------------------------------------------------------

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(self.client.search(index=self.alias, **body).body)
        except (ApiError, TransportError) as exc:
            msg = f"Elasticsearch search failed: {exc}"
            raise BackendUnavailable(msg) from exc

    def search(self, request: SearchRequest) -> SearchPage:
        """Collapse renditions per story in result order, then fetch highlights for the page."""
        request = replace(request, now=request.now or datetime.now(tz=UTC))  # one instant throughout
        use_score = request.sort == "relevance" and not request.query.is_empty

        bound = None if use_score or request.after is None else int(request.after.value)

        def fetch(limit: int) -> list[collapse.Candidate[str]]:
            found = self._search(queries.window_body(request, limit, bound))["hits"]["hits"]
            out = []
            for h in found:
                value = float(h["sort"][0])
                out.append(collapse.Candidate(value, int(h["sort"][1]), str(h["_id"])))
            return out

        chosen, next_after = collapse.page(
            fetch, size=request.size, after=request.after, first_window=(request.size + 1) * 4
        )
        if bound is not None and chosen:
            # A story with a matching version above the cursor was listed before, by that version.
            body = queries.above_body(request, [c.story_key for c in chosen], bound)
            listed = {
                int(h["fields"]["story_key"][0])
                for h in self._search(body)["hits"]["hits"]
                if h.get("fields")
            }
            chosen = [c for c in chosen if c.story_key not in listed]
        hits = self._hits(request, chosen, use_score)
        facets = None
        total = len(hits)
        if request.facets or chosen:
            result = self._search(queries.facets_body(request, request.facet_size))["aggregations"]
            total = max(total, round(result["total"]["value"]))
            if request.facets:
                facets = _facets(result, request.facet_size)
        return SearchPage(hits=hits, total=total, next_after=next_after, facets=facets)

    def _originals(
        self, request: SearchRequest, chosen: list[collapse.Candidate[str]], by_id: dict[str, Any]
    ) -> tuple[list[collapse.Candidate[str]], dict[str, Any]]:
        """With nothing to match, a story's versions tie: show each story in its own language."""
        wanted: dict[str, str] = {}
        for c in chosen:
            translation = by_id.get(c.ref, {}).get("_source", {}).get("source", {}).get("translation")
            if translation:
                wanted[c.ref] = f"{translation['of_id']}.{translation['source_language']}"
        if not wanted:
            return chosen, by_id
        found = self._search(queries.hits_body(request, list(wanted.values())))["hits"]["hits"]
        originals = {h["_id"]: h for h in found if h["_source"].get("searchable", True)}
        swapped = [
            collapse.Candidate(c.value, c.story_key, wanted[c.ref]) if wanted.get(c.ref) in originals else c
            for c in chosen
        ]
        return swapped, by_id | originals

    def _hits(
        self, request: SearchRequest, chosen: list[collapse.Candidate[str]], use_score: bool
    ) -> list[Hit]:
        if not chosen:
            return []
        found = self._search(queries.hits_body(request, [c.ref for c in chosen]))["hits"]["hits"]
        by_id = {h["_id"]: h for h in found}
        if (
            request.query.is_empty
            and not request.languages
            and request.visible_after is None
            and request.quality == "any"
        ):
            chosen, by_id = self._originals(request, chosen, by_id)
        story_ids = sorted({str(by_id[c.ref]["_source"]["source"]["id"]) for c in chosen if c.ref in by_id})
        if not story_ids:
            return []  # every chosen rendition was deleted meanwhile; a terms size of 0 is refused
        now = request.now or datetime.now(tz=UTC)
        agg = self._search(queries.languages_body(story_ids, now))["aggregations"]["s"]["buckets"]
        languages = {b["key"]: sorted(x["key"] for x in b["l"]["buckets"]) for b in agg}
        hits = []
        for c in chosen:
            h = by_id.get(c.ref)
            if h is None:
                continue  # deleted between the two requests
            story = Story.model_validate(h["_source"]["source"])
            built = documents.build(story)
            marks = h.get("highlight", {})
            headline_html = next((v[0] for k, v in marks.items() if k.startswith("headline_")), None)
            snippet = next((v[0] for k, v in marks.items() if k.startswith("body_")), "")
            hits.append(
                Hit(
                    story_id=story.id,
                    version=story.version,
                    language=story.language,
                    original_language=built.original_language,
                    languages=languages.get(story.id, [story.language]),
                    headline=story.headline,
                    headline_html=headline_html or _escape(story.headline),
                    snippet=snippet,
                    provider=built.providers[0] if built.providers else None,
                    places=[p.name for p in story.dateline.places] if story.dateline else [],
                    versioncreated=story.versioncreated,
                    score=c.value if use_score else None,
                    quality=story.translation.quality if story.translation else None,
                    test_package=bool(story.translation and story.translation.test_package),
                    partial=documents.is_partial(story),
                )
            )
        return hits

    def get_story(self, story_id: str, *, embargoed: bool = False) -> StoryRecord | None:
        """All language versions of a story and its version records; what is under embargo only if asked."""
        found = self._search(queries.story_body(story_id))["hits"]["hits"]
        now = documents.micros(datetime.now(tz=UTC))
        current: list[Story] = []
        versions: list[VersionRecord] = []
        for h in found:
            src = h["_source"]
            since = src.get("indexed_ts")  # absent on version records written before embargoes
            if not embargoed and since is not None and int(since) > now:
                continue
            if src.get("kind") == KIND_DELETED:
                continue
            if src.get("kind") == KIND_HISTORY:
                versions.append(VersionRecord.model_validate(src["record"]))
            else:
                current.append(Story.model_validate(src["source"]))
        return StoryRecord.assemble(story_id, current, versions)


def _pairs(items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Bulk items come back in request order: (current, history) per language version."""
    return list(zip(items[0::2], items[1::2], strict=True))


def _escape(text: str) -> str:
    return html.escape(text)


def _facets(aggs: dict[str, Any], size: int) -> Facets:
    def buckets(name: str) -> list[Bucket]:
        out = [
            Bucket(
                value=str(b.get("key_as_string", b["key"]))[:10] if name == "day" else str(b["key"]),
                count=round(b["n"]["value"]),
            )
            for b in aggs[name]["buckets"]
            if b["n"]["value"] > 0
        ]
        if name != "day":
            out.sort(key=lambda b: (-b.count, b.value))
            return out
        return out[-size:]

    return Facets(provider=buckets("provider"), language=buckets("language"), day=buckets("day"))
