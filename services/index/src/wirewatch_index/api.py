"""The desks' web API under /v1: search, one story with every language version, a live stream.

Routes only translate HTTP to a `SearchRequest` and back; the backend does the work. Domain
errors become HTTP answers through the one table `ERRORS`, which the app hands to the common mapper.
A live stream runs its search when the live hub wakes it (a written story matched its query, see
`live`), and otherwise only on a slow safety poll.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import weakref
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from wirewatch_common.access import limiter, require
from wirewatch_common.http_errors import ErrorResponse, StatusTable
from wirewatch_common.query import QueryError, parse
from wirewatch_common.story import STORY_ID_PATTERN

from . import cursor
from .backends.base import SearchBackend
from .errors import BackendUnavailable, CursorError, StoryNotFound
from .live import SEARCHES, LiveHub, LiveStream, LiveStreamsFull
from .search import (
    MAX_FACET_SIZE,
    MAX_PAGE_SIZE,
    Facets,
    Hit,
    QualityFilter,
    SearchRequest,
    Sort,
    StoryRecord,
)
from .settings import IndexSettings

log = logging.getLogger(__name__)

MAX_FILTER_VALUES = 20
STREAM_OVERLAP = timedelta(seconds=5)
"""The stream looks back this far each search (commits land after `indexed_at`) and de-duplicates.

Each search asks for what became visible since the last one: newly indexed versions and versions
whose embargo lifted in between (indexed long before), so an embargoed story is streamed when it
may be published."""
SEEN_MARGIN = timedelta(seconds=1)
"""Versions already sent are remembered this much longer than the look-back needs."""
HEARTBEAT_S = 15.0
STREAM_MAX_PAGES = 10
RETRY_S = 2.0
"""After a failed search a stream searches again this soon, woken or not (the wake that failed is spent)."""


class SearchResponse(BaseModel):
    """A page of stories, one hit each, with the cursor of the next page."""

    total: int = Field(description="Matching stories (approximate above a few thousand).", examples=[42])
    hits: list[Hit]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; absent on the last page."
    )
    facets: Facets | None = None


ERRORS: StatusTable = {
    QueryError: 400,
    CursorError: 400,
    StoryNotFound: 404,
    BackendUnavailable: 503,
    LiveStreamsFull: 503,
}
"""The index's domain errors and the status each answers with."""

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The query, a filter or the cursor is not valid."},
    401: {"model": ErrorResponse, "description": "No API key, or an unknown one."},
    403: {"model": ErrorResponse, "description": "The key's role may not do this."},
    422: {
        "model": ErrorResponse,
        "description": "A parameter is malformed or out of range; `where` names it.",
    },
    429: {"model": ErrorResponse, "description": "Too many requests for this key; see `Retry-After`."},
    503: {"model": ErrorResponse, "description": "The search backend is unavailable."},
}


def _bounded(values: list[str], name: str) -> tuple[str, ...]:
    if len(values) > MAX_FILTER_VALUES:
        msg = f"at most {MAX_FILTER_VALUES} values for {name}"
        raise QueryError(msg, where={"in": "query", "field": name})
    return tuple(v.strip() for v in values if v.strip())


def router(backend: SearchBackend, settings: IndexSettings, live: LiveHub | None = None) -> APIRouter:
    """The /v1 routes over one backend; `live` wakes the streams (None: they poll, as an API-only replica)."""
    hub = live if live is not None else LiveHub(settings.index_stream_max)
    secret = (
        settings.index_cursor_secret.get_secret_value().encode()
        if settings.index_cursor_secret is not None
        else secrets.token_bytes(32)
    )
    keys = settings.api_keys
    reader = [Depends(require(keys, "reader"))]
    writer = [Depends(require(keys, "writer"))]
    # Searches and stream connections spend tokens per key (per address with keys off).
    searcher = [Depends(require(keys, "reader", limiter(settings.rate_limit_search)))]
    streamer = [Depends(require(keys, "reader", limiter(settings.rate_limit_stream)))]
    api = APIRouter(prefix="/v1", tags=["search"], responses=RESPONSES)
    max_q = settings.index_max_query_chars

    def build_request(
        q: str,
        lang: list[str],
        provider: list[str],
        place: list[str],
        date_from: datetime | None,
        date_to: datetime | None,
        sort: Sort,
        size: int,
        facets: bool,
        facet_size: int,
        quality: QualityFilter = "any",
    ) -> SearchRequest:
        if len(q) > max_q:
            msg = f"the query is longer than {max_q} characters"
            raise QueryError(msg, where={"in": "query", "field": "q"})
        return SearchRequest(
            query=parse(q),
            languages=_bounded(lang, "lang"),
            providers=_bounded(provider, "provider"),
            places=_bounded(place, "place"),
            date_from=date_from,
            date_to=date_to,
            sort=sort,
            size=size,
            facets=facets,
            facet_size=facet_size,
            quality=quality,
        )

    @api.get(
        "/search", response_model=SearchResponse, response_model_exclude_none=True, dependencies=searcher
    )
    def search(
        q: Annotated[
            str,
            Query(
                description='Desk syntax: words, "exact phrases", OR, -exclude, prefix*, headline:, body: or place:.',
                openapi_examples={
                    "words": {"summary": "Words, any language version", "value": "ceasefire idlib"},
                    "syntax": {
                        "summary": "Phrase, OR, exclusion, prefix, field",
                        "value": '"grain corridor" odesa OR izmail -football negotiat* headline:strike',
                    },
                    "turkish": {
                        "summary": "Turkish, finds English stories via renditions",
                        "value": "ateşkes",
                    },
                    "arabic": {"summary": "Arabic, with or without diacritics", "value": "الهدنة"},
                },
            ),
        ] = "",
        lang: Annotated[
            list[str], Query(description="Only match these language versions (repeatable).", examples=["tr"])
        ] = [],  # noqa: B006 - FastAPI copies defaults per request
        provider: Annotated[
            list[str], Query(description="Provider or source name (repeatable).", examples=["Reuters"])
        ] = [],  # noqa: B006
        place: Annotated[
            list[str], Query(description="Dateline place name or code (repeatable).", examples=["SY"])
        ] = [],  # noqa: B006
        date_from: Annotated[
            AwareDatetime | None,
            Query(alias="from", description="Version created at or after (ISO 8601 with offset)."),
        ] = None,
        date_to: Annotated[
            AwareDatetime | None,
            Query(alias="to", description="Version created before (ISO 8601 with offset)."),
        ] = None,
        sort: Annotated[Sort, Query(description="relevance (default) or newest.")] = "relevance",
        size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Stories per page.")] = 20,
        cursor_: Annotated[
            str | None,
            Query(alias="cursor", max_length=1000, description="next_cursor of the previous page."),
        ] = None,
        facets: Annotated[bool, Query(description="Count stories by provider, language and day.")] = False,
        facet_size: Annotated[int, Query(ge=1, le=MAX_FACET_SIZE, description="Buckets per facet.")] = 10,
        quality: Annotated[
            QualityFilter,
            Query(
                description=(
                    "any (default); good: leave out renditions with a low-quality flag (copy-through, "
                    "length, repetition, untranslated sentences, low confidence); low: only those, to review."
                )
            ),
        ] = "any",
    ) -> Response:
        """Search every language version; one hit per story, best-matching rendition first."""
        request = build_request(
            q, lang, provider, place, date_from, date_to, sort, size, facets, facet_size, quality
        )
        if cursor_:
            request = replace(request, after=cursor.decode(cursor_, request, secret))
        page = backend.search(request)
        next_cursor = cursor.encode(page.next_after, request, secret) if page.next_after else None
        body = SearchResponse(total=page.total, hits=page.hits, next_cursor=next_cursor, facets=page.facets)
        # Already validated models: serialise once instead of letting FastAPI validate them again.
        return Response(body.model_dump_json(exclude_none=True), media_type="application/json")

    @api.get("/stories/{story_id}", response_model=StoryRecord, dependencies=reader)
    def story(
        story_id: Annotated[
            str, Path(pattern=STORY_ID_PATTERN, description="Story id.", examples=["ww-ceasefire"])
        ],
    ) -> StoryRecord:
        """One story: every language version side by side, provenance, and version history.

        A story under embargo answers 404 exactly as an absent one, so its existence does not leak.
        """
        record = backend.get_story(story_id)
        if record is None:
            msg = f"no story {story_id!r} in the index"
            raise StoryNotFound(msg)
        return record

    @api.delete("/stories/{story_id}", dependencies=writer, status_code=200)
    def delete_story(
        story_id: Annotated[str, Path(pattern=STORY_ID_PATTERN, description="Story id.")],
    ) -> dict[str, int]:
        """Remove a story's language versions from search (writer role); its history stays."""
        return {"deleted": backend.delete(story_id)}

    @api.get(
        "/stream",
        dependencies=streamer,
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."},
            503: {
                "model": ErrorResponse,
                "description": "The search backend is unavailable, or this server holds its most open "
                "streams (`too_many_streams`).",
            },
        },
    )
    async def stream(
        http: Request,
        q: Annotated[str, Query(description="Same syntax as /v1/search.", examples=["ceasefire"])] = "",
        lang: Annotated[list[str], Query(description="Only these language versions.")] = [],  # noqa: B006
        provider: Annotated[list[str], Query(description="Provider or source name.")] = [],  # noqa: B006
        place: Annotated[list[str], Query(description="Dateline place name or code.")] = [],  # noqa: B006
        quality: Annotated[QualityFilter, Query(description="As in /v1/search.")] = "any",
        max_events: Annotated[
            int | None, Query(ge=1, le=10_000, description="Close the stream after this many stories.")
        ] = None,
    ) -> StreamingResponse:
        """Server-Sent Events: each new or updated story version that matches, as an `event: story`.

        Sent when the index writes a matching version (or its embargo lifts), not on a timer.
        """
        request = build_request(q, lang, provider, place, None, None, "newest", 50, False, 1, quality)
        opened = hub.open(
            request.query, languages=request.languages, providers=request.providers, places=request.places
        )
        # A pushed stream searches when woken (the hub's catch-up scan included); the others poll.
        poll_s = None if opened.pushed else settings.index_stream_interval_s
        events = _events(backend, request, http, opened, poll_s, max_events)
        # A response that never starts never runs the generator's `finally`: unregister when it is dropped.
        weakref.finalize(events, opened.close)
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return api


async def _new_hits(backend: SearchBackend, request: SearchRequest) -> list[Hit]:
    """Every hit visible since `request.visible_after`, oldest first, up to STREAM_MAX_PAGES pages."""
    hits: list[Hit] = []
    for _ in range(STREAM_MAX_PAGES):
        page = await run_in_threadpool(backend.search, request)
        hits.extend(page.hits)
        if page.next_after is None:
            break
        request = replace(request, after=page.next_after)
    return hits[::-1]


async def _events(
    backend: SearchBackend,
    request: SearchRequest,
    http: Request,
    live: LiveStream,
    poll_s: float | None,
    max_events: int | None,
) -> AsyncIterator[str]:
    """Search once at connect, then whenever the hub wakes the stream, or every `poll_s` if not None."""
    loop = asyncio.get_running_loop()
    seen: dict[tuple[str, int, tuple[str, ...]], datetime] = {}
    since = datetime.now(tz=UTC)
    sent = 0
    trigger = "connect"
    try:
        yield ": connected\n\n"
        spoke = loop.time()
        while not await http.is_disconnected():
            live.clear()  # a wake that comes during this search is kept for the next
            SEARCHES.labels(trigger).inc()
            started = datetime.now(tz=UTC)
            wait_s = poll_s
            try:
                hits = await _new_hits(backend, replace(request, visible_after=since - STREAM_OVERLAP))
            except BackendUnavailable:
                yield 'event: error\ndata: {"code": "backend_unavailable"}\n\n'
                spoke = loop.time()
                hits = []
                wait_s = min(poll_s or RETRY_S, RETRY_S)
            else:
                since = started
            for hit in hits:
                key = (hit.story_id, hit.version, tuple(hit.languages))  # a new rendition is an update too
                if key in seen:
                    continue
                seen[key] = started
                event_id = f"{hit.story_id}.{hit.language}.{hit.version}"
                yield f"id: {event_id}\nevent: story\ndata: {hit.model_dump_json()}\n\n"
                spoke = loop.time()
                sent += 1
                if max_events is not None and sent >= max_events:
                    return
            # A version seen before the next search's look-back window cannot come back.
            cutoff = since - STREAM_OVERLAP - SEEN_MARGIN
            for key in [k for k, t in seen.items() if t < cutoff]:
                del seen[key]
            poll_at = loop.time() + wait_s if wait_s is not None else math.inf
            while True:
                if await live.wait(min(poll_at, spoke + HEARTBEAT_S) - loop.time()):
                    trigger = "wake"
                    break
                if loop.time() >= poll_at:
                    trigger = "poll"
                    break
                if loop.time() >= spoke + HEARTBEAT_S:
                    yield ": keep-alive\n\n"
                    spoke = loop.time()
                    if await http.is_disconnected():
                        return
    finally:
        live.close()


def openapi_tags() -> list[dict[str, str]]:
    """Tag descriptions for the OpenAPI document."""
    return [
        {
            "name": "search",
            "description": "Search every language version of the wire, read stories, follow live.",
        },
        {"name": "operations", "description": "Liveness, readiness and metrics."},
    ]
