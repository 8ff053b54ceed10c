"""The embedded backend: a tantivy index on disk under the data dir.

One process writes (the index worker, which takes tantivy's writer lock on its first write);
any number read (the API), reloading when the index's `meta.json` changes after a commit.
The index layout lives in `tantivy_schema`, analysis in `wirewatch_common.analyzers`, query building
in `tantivy_query`; this module writes, collapses renditions into story hits, and reads stories back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy

from wirewatch_common.analysis import Family, family
from wirewatch_common.analyzers import Analyzers
from wirewatch_common.story import RenditionStatus, Story

from .. import collapse, documents
from ..documents import KIND_CURRENT, KIND_DELETED, KIND_HISTORY, story_key
from ..highlight import Matcher, mark, snippet
from ..search import (
    Bucket,
    Facets,
    Hit,
    SearchPage,
    SearchRequest,
    StoryRecord,
    VersionRecord,
    WriteResult,
)
from .base import BackendUnavailable, DocumentRejected, Refusal
from .tantivy_query import QueryBuilder
from .tantivy_schema import (
    SCHEMA_VERSION,
    build_schema,
    current_document,
    doc_key,
    history_document,
    withdrawal_document,
)

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
"""A day in the histogram's milliseconds."""

BUILD_ERRORS = (ValueError, OverflowError, TypeError)
"""What building a tantivy document raises for a value tantivy refuses (a date outside 1677-2262, an
integer beyond 64 bits): that document's problem, never an outage."""


class TantivyBackend:
    """SearchBackend on an on-disk tantivy index."""

    name = "tantivy"

    def __init__(self, data_dir: Path, *, writer_heap_bytes: int = 64_000_000, writer_threads: int = 0):
        self.path = Path(data_dir) / "index" / f"tantivy-v{SCHEMA_VERSION}"
        self.path.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        try:
            self._index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        except ValueError as exc:
            msg = f"cannot open the tantivy index at {self.path}: {exc}"
            raise BackendUnavailable(msg) from exc
        self._analyzers = Analyzers()
        for fam, chain in self._analyzers.by_family.items():
            self._index.register_tokenizer(f"ww_{fam}", chain)
        self._query = QueryBuilder(self.schema, self._analyzers)
        self._heap = writer_heap_bytes
        self._threads = writer_threads
        self._writer: tantivy.IndexWriter | None = None
        self._lock = threading.Lock()
        self._meta_seen: tuple[int, int] | None = None
        # tantivy releases the GIL while it aggregates: facets are counted here while the page is built.
        # The threads start on first use and end when the backend is dropped (close() only ends writing).
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tantivy-facets")
        self.refresh()

    # -- lifecycle -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the searcher when another process committed (meta.json changed)."""
        meta = self.path / "meta.json"
        try:
            st = meta.stat()
        except FileNotFoundError:
            return
        seen = (st.st_mtime_ns, st.st_size)
        if seen != self._meta_seen:
            with self._lock:
                self._index.reload()
                self._meta_seen = seen

    def health(self) -> bool:
        """The index directory is readable and the searcher answers."""
        return self._index.searcher().num_docs >= 0

    def close(self) -> None:
        """Drop the writer (releases tantivy's lock file) after merges finish."""
        with self._lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            try:
                self._writer = self._index.writer(self._heap, self._threads)
            except ValueError as exc:
                msg = f"cannot take the tantivy writer lock at {self.path}: {exc}"
                raise BackendUnavailable(msg) from exc
        return self._writer

    # -- writing -------------------------------------------------------------------------------

    def _current_versions(self, keys: list[int]) -> dict[int, int]:
        if not keys:
            return {}
        searcher = self._index.searcher()
        q = self._query.keys("doc_key", keys)
        hits = searcher.search(q, limit=len(keys) * 2 + 10, count=False).hits
        addrs = [addr for _, addr in hits]
        found = searcher.fast_field_values("doc_key", addrs)
        versions = searcher.fast_field_values("version", addrs)
        return {
            int(k): int(v) for k, v in zip(found, versions, strict=True) if k is not None and v is not None
        }

    def _partial_keys(self, keys: list[int]) -> set[int]:
        """Which of these documents are `partial` renditions (a full one of their version may replace them)."""
        if not keys:
            return set()
        searcher = self._index.searcher()
        q = self._query.and_(
            [
                self._query.keys("doc_key", keys),
                self._query.term("status", RenditionStatus.PARTIAL.value),
            ]
        )
        hits = searcher.search(q, limit=len(keys) * 2 + 10, count=False).hits
        found = searcher.fast_field_values("doc_key", [addr for _, addr in hits])
        return {int(k) for k in found if k is not None}

    def write(self, stories: Sequence[Story]) -> WriteResult:
        """Add or replace language versions and record their versions; durable (committed) on return.

        Every document is built before anything is written: a value tantivy refuses raises
        DocumentRejected naming each refused version and nothing of the batch is written. Errors of
        the writer itself (lock, unwritable directory, commit) raise BackendUnavailable. A `partial`
        rendition never replaces the full one of its version (`documents.over_full`) and records
        its version only when it is written, so a late partial leaves the full one's record alone.
        """
        batch = documents.newest_per_document(list(stories))
        if not batch:
            return WriteResult(written=[])
        prepared = self._prepare(batch, datetime.now(tz=UTC))
        with self._lock:
            try:
                writer = self._get_writer()
                keys = [doc_key(d.doc_id) for d, _, _ in prepared]
                marks = {doc_key(documents.withdrawal_id(d.story_id)) for d, _, _ in prepared}
                existing = self._current_versions([*keys, *marks])
                partials = self._partial_keys(keys)
                written, stale = [], []
                for doc, history, current in prepared:
                    partial = documents.is_partial(doc.source)
                    history_key = doc_key(documents.history_id(doc.source))
                    if not partial:
                        writer.delete_documents_by_term("doc_key", history_key)
                        writer.add_document(history)
                    key = doc_key(doc.doc_id)
                    stored = existing.get(key)
                    withdrawn = existing.get(doc_key(documents.withdrawal_id(doc.story_id)))
                    # never over a newer version, nor over a withdrawal, nor a partial over its full self
                    if documents.stale(doc.version, stored, withdrawn) or documents.over_full(
                        doc.source, stored, key in partials
                    ):
                        stale.append(doc.source)
                        continue
                    if partial:
                        writer.delete_documents_by_term("doc_key", history_key)
                        writer.add_document(history)
                    writer.delete_documents_by_term("doc_key", key)
                    writer.add_document(current)
                    written.append(doc.source)
                writer.commit()
                self._index.reload()
            except (ValueError, OSError) as exc:
                self._rollback()
                msg = f"tantivy write failed: {exc}"
                raise BackendUnavailable(msg) from exc
        return WriteResult(written=written, stale=[s for s in stale if s not in written])

    def _prepare(
        self, batch: Sequence[Story], now: datetime
    ) -> list[tuple[documents.IndexDoc, tantivy.Document, tantivy.Document]]:
        """Build each version's history and current documents, or refuse the versions tantivy cannot take."""
        prepared = []
        refused = []
        for story in batch:
            try:
                doc = documents.build(story, now)
                prepared.append((doc, history_document(doc), current_document(doc, self._analyzers)))
            except BUILD_ERRORS as exc:
                refused.append(Refusal.of(story, f"{type(exc).__name__}: {exc}"))
        if refused:
            raise DocumentRejected(self.name, refused)
        return prepared

    def _rollback(self) -> None:
        if self._writer is not None:
            try:
                self._writer.rollback()
            except ValueError:
                self._writer = None

    def delete(self, story_id: str) -> int:
        """Withdraw a story's current language versions (history is kept); return how many.

        Each is replaced by a withdrawal at its version + 1, and the story gets a marker at its
        highest version + 1, so no replay of these versions, nor a rendition arriving late, brings
        it back; a newer version of the story is indexed as usual.
        """
        with self._lock:
            searcher = self._index.searcher()
            q = self._query.and_(
                [self._query.term("story_key", story_key(story_id)), self._query.term("kind", KIND_CURRENT)]
            )
            addrs = [addr for _, addr in searcher.search(q, limit=10_000, count=False).hits]
            versions = searcher.fast_field_values("version", addrs)
            found = []
            for addr, version in zip(addrs, versions, strict=True):
                doc = searcher.doc(addr)
                language = doc.get_first("language")
                if (
                    doc.get_first("story_id") == story_id
                    and isinstance(language, str)
                    and version is not None
                ):
                    found.append((language, int(version)))
            if not found:
                return 0
            now = datetime.now(tz=UTC)
            writer = self._get_writer()
            marker = documents.withdrawal_id(story_id)
            writer.delete_documents_by_term("doc_key", doc_key(marker))
            writer.add_document(
                withdrawal_document(
                    marker, story_id, "", documents.withdrawn_at(max(v for _, v in found)), now
                )
            )
            for language, version in found:
                key = doc_key(f"{story_id}.{language}")
                writer.delete_documents_by_term("doc_key", key)
                withdrawn = withdrawal_document(
                    f"{story_id}.{language}", story_id, language, documents.withdrawn_at(version), now
                )
                writer.add_document(withdrawn)
            writer.commit()
            self._index.reload()
        return len(found)

    # -- query building ------------------------------------------------------------------------

    def build_query(self, request: SearchRequest, searcher: tantivy.Searcher) -> tantivy.Query:
        """The engine query of a request (what `search` runs; the benchmark times it bare)."""
        return self._query.build(request, searcher)[0]

    # -- searching -----------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchPage:
        """One hit per story, exact cursor paging, highlighted snippets, facets on request."""
        self.refresh()
        now = request.now or datetime.now(tz=UTC)
        request = replace(request, now=now)  # one instant for every query of this search
        searcher = self._index.searcher()
        query, matchers = self._query.build(request, searcher)
        use_score = request.sort == "relevance" and not request.query.is_empty

        # Newest first, the cursor becomes a bound in the query, so a page deep in the listing starts
        # at the cursor instead of needing a window of every rendition before it.
        bound = None if use_score or request.after is None else int(request.after.value)
        windowed = query if bound is None else self._query.and_([query, self._sort_range(-(2**62), bound)])

        def fetch(limit: int) -> list[collapse.Candidate[tantivy.DocAddress]]:
            if use_score:
                hits = searcher.search(windowed, limit=limit, count=False).hits
            else:
                hits = searcher.search(windowed, limit=limit, count=False, order_by_field="sort_ts").hits
            addrs = [addr for _, addr in hits]
            keys = searcher.fast_field_values("story_key", addrs)
            return [
                collapse.Candidate(float(value), int(key), addr)
                for (value, addr), key in zip(hits, keys, strict=True)
                if key is not None
            ]

        counting = self._count_facets(searcher, query, request.facet_size) if request.facets else None
        chosen, next_after = collapse.page(
            fetch, size=request.size, after=request.after, first_window=(request.size + 1) * 4
        )
        if bound is not None and chosen:
            # A story with a matching version above the cursor was listed before, by that version.
            keys = self._query.keys("story_key", [c.story_key for c in chosen])
            above = self._query.and_([query, keys, self._sort_range(bound + 1, 2**62)])
            addrs = [a for _, a in searcher.search(above, limit=len(chosen) * 8, count=False).hits]
            listed = {int(k) for k in searcher.fast_field_values("story_key", addrs) if k is not None}
            chosen = [c for c in chosen if c.story_key not in listed]
        languages = self._languages(searcher, [c.story_key for c in chosen], now)
        if (
            request.query.is_empty
            and not request.languages
            and request.visible_after is None
            and request.quality == "any"
        ):
            chosen = self._originals(searcher, chosen, now)
        hits = [self._hit(searcher, c, matchers, languages, use_score) for c in chosen]
        facets = None
        if counting is not None:
            facets, total = self._facets(counting, request.facet_size)
        else:
            total = round(searcher.cardinality(query, "story_key")) if chosen or request.after else 0
        return SearchPage(hits=hits, total=max(total, len(hits)), next_after=next_after, facets=facets)

    def _sort_range(self, low: int, high: int) -> tantivy.Query:
        """Renditions whose newest-first sort value lies in [low, high]."""
        return tantivy.Query.range_query(self.schema, "sort_ts", tantivy.FieldType.Integer, low, high)

    def _originals(
        self,
        searcher: tantivy.Searcher,
        chosen: list[collapse.Candidate[tantivy.DocAddress]],
        now: datetime,
    ) -> list[collapse.Candidate[tantivy.DocAddress]]:
        """With nothing to match, a story's versions tie: show each story in its own language."""
        if not chosen:
            return chosen
        q = self._query.and_(
            [
                self._query.keys("story_key", [c.story_key for c in chosen]),
                self._query.term("status", documents.STATUS_ORIGINAL),
                self._query.term("searchable", "1"),  # current versions only
                *self._query.visible(now, searcher),
            ]
        )
        addrs = [addr for _, addr in searcher.search(q, limit=len(chosen), count=False).hits]
        keys = searcher.fast_field_values("story_key", addrs)
        original = {int(k): a for a, k in zip(addrs, keys, strict=True) if k is not None}
        return [collapse.Candidate(c.value, c.story_key, original.get(c.story_key, c.ref)) for c in chosen]

    def _languages(self, searcher: tantivy.Searcher, keys: list[int], now: datetime) -> dict[str, list[str]]:
        if not keys:
            return {}
        q = self._query.and_(
            [
                self._query.keys("story_key", keys),
                self._query.term("searchable", "1"),  # current versions only
                *self._query.visible(now, searcher),
            ]
        )
        agg = {"s": {"terms": {"field": "story_id", "size": len(keys)}, "aggs": _LANG_AGG}}
        result = searcher.aggregate(q, agg)
        return {b["key"]: sorted(x["key"] for x in b["l"]["buckets"]) for b in result["s"]["buckets"]}

    def _hit(
        self,
        searcher: tantivy.Searcher,
        c: collapse.Candidate[tantivy.DocAddress],
        matchers: dict[Family, Matcher],
        languages: dict[str, list[str]],
        use_score: bool,
    ) -> Hit:
        doc = searcher.doc(c.ref)
        story = Story.from_json(_source(doc))
        # Only the fields a hit shows: `documents.build` would also hash ids and join the text.
        matcher = matchers[family(story.language)]
        providers = documents.providers_of(story)
        body = [story.summary, *story.body] if story.summary else story.body
        return Hit(
            story_id=story.id,
            version=story.version,
            language=story.language,
            original_language=story.translation.source_language if story.translation else story.language,
            languages=languages.get(story.id, [story.language]),
            headline=story.headline,
            headline_html=mark(story.headline, matcher),
            snippet=snippet(body, matcher),
            provider=providers[0] if providers else None,
            places=[p.name for p in story.dateline.places] if story.dateline else [],
            versioncreated=story.versioncreated,
            score=c.value if use_score else None,
            quality=story.translation.quality if story.translation else None,
            test_package=bool(story.translation and story.translation.test_package),
            partial=documents.is_partial(story),
        )

    def _count_facets(
        self, searcher: tantivy.Searcher, query: tantivy.Query, size: int
    ) -> tuple[Future[dict[str, Any]], Future[dict[str, Any] | None]]:
        """Start the facet aggregations: stories in all, per provider and language; stories per day.

        Counting stories per bucket is the costly part, so the days are bounded to the `size` most
        recent with matches, and the two aggregations run beside each other and beside the page.
        """
        stories = {"n": {"cardinality": {"field": "story_key"}}}
        terms = self._pool.submit(
            searcher.aggregate,
            query,
            {
                "total": {"cardinality": {"field": "story_key"}},
                "provider": {"terms": {"field": "provider", "size": size}, "aggs": stories},
                # A story has one version per language: documents per language are stories per language.
                "language": {"terms": {"field": "lang", "size": size}},
            },
        )
        return terms, self._pool.submit(self._stories_per_day, searcher, query, size)

    def _stories_per_day(
        self, searcher: tantivy.Searcher, query: tantivy.Query, size: int
    ) -> dict[str, Any] | None:
        """Stories per day over the `size` most recent days with matches (documents per day find them)."""
        histogram = {"date_histogram": {"field": "day", "fixed_interval": "1d"}}
        first = searcher.aggregate(query, {"day": histogram})
        days = [b for b in first["day"]["buckets"] if b["doc_count"] > 0][-size:]
        if not days:
            return None
        # Bounding the histogram skips the older days' documents before they are counted; cheaper
        # than a range query beside the match, which scans every document's timestamp.
        bounded = histogram["date_histogram"] | {
            "hard_bounds": {"min": days[0]["key"], "max": days[-1]["key"] + DAY_MS}
        }
        stories = {"n": {"cardinality": {"field": "story_key"}}}
        result: dict[str, Any] = searcher.aggregate(
            query, {"day": {"date_histogram": bounded, "aggs": stories}}
        )
        return result

    @staticmethod
    def _facets(
        counting: tuple[Future[dict[str, Any]], Future[dict[str, Any] | None]], size: int
    ) -> tuple[Facets, int]:
        """Facets and the story total from the aggregations `_count_facets` started."""
        first, per_day = counting[0].result(), counting[1].result()
        day_buckets: list[Bucket] = []
        for b in per_day["day"]["buckets"] if per_day else []:
            count = round(b["n"]["value"])
            if count > 0:
                day_buckets.append(Bucket(value=b["key_as_string"][:10], count=count))

        def terms(name: str) -> list[Bucket]:
            out = [
                Bucket(value=str(b["key"]), count=round(b["n"]["value"]) if "n" in b else int(b["doc_count"]))
                for b in first[name]["buckets"]
            ]
            return sorted((b for b in out if b.count > 0), key=lambda b: (-b.count, b.value))

        facets = Facets(provider=terms("provider"), language=terms("language"), day=day_buckets[-size:])
        return facets, round(first["total"]["value"])

    # -- reading a story -----------------------------------------------------------------------

    def get_story(self, story_id: str, *, embargoed: bool = False) -> StoryRecord | None:
        """All language versions of a story, original first, and its version history.

        What is still under embargo is left out unless `embargoed`: a story entirely under embargo
        reads as absent.
        """
        self.refresh()
        searcher = self._index.searcher()
        q = self._query.term("story_key", story_key(story_id))
        addrs = [addr for _, addr in searcher.search(q, limit=1000, count=False).hits]
        now = documents.micros(datetime.now(tz=UTC))
        visible_from = searcher.fast_field_values("indexed_ts", addrs)
        current: list[Story] = []
        versions: list[VersionRecord] = []
        for addr, since in zip(addrs, visible_from, strict=True):
            if not embargoed and since is not None and int(since) > now:
                continue
            doc = searcher.doc(addr)
            if doc.get_first("story_id") != story_id:
                continue  # a 63-bit hash collision: astronomically rare, still checked
            kind = doc.get_first("kind")
            if kind == KIND_DELETED:
                continue
            raw = _source(doc)
            if kind == KIND_HISTORY:
                versions.append(VersionRecord.model_validate_json(raw))
            else:
                current.append(Story.from_json(raw))
        return StoryRecord.assemble(story_id, current, versions)


def _source(doc: tantivy.Document) -> bytes:
    raw = doc.get_first("source")
    if not isinstance(raw, bytes):
        msg = "an index document has no stored source: the index was written by another program"
        raise BackendUnavailable(msg)
    return raw


_LANG_AGG = {"l": {"terms": {"field": "language", "size": 50}}}
