"""The watchlists API under /v1: create, list, read, change and delete a desk's standing queries.

Routes only translate HTTP to calls on `watchlists` (the rules) and the store (the set); domain
errors become HTTP answers through the one table `ERRORS`, which the app hands to the common mapper.
A writer key manages watchlists, a reader key reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from wirewatch_common.access import limiter, require
from wirewatch_common.auth import AccessDenied, authorize
from wirewatch_common.http_errors import ApiError, ErrorResponse, StatusTable
from wirewatch_common.query import QueryError

from . import feed as atom
from .alerting import AlertRow
from .alertstore import AlertStore, LaneState
from .delivery import lane_label
from .errors import DuplicateName, InvalidWatchlist, StoreUnavailable, TooManyWatchlists, WatchlistNotFound
from .reading import AlertOut, changes_since, read_page
from .settings import AlertsSettings
from .store import WatchlistStore
from .stream import StreamLimits, alert_events, parse_event_id
from .watchlists import (
    ID_PATTERN,
    Channel,
    FeedChannel,
    Filters,
    Watchlist,
    WatchlistCreate,
    WatchlistPatch,
    apply_patch,
    feed_token_matches,
    new_watchlist,
)

ERRORS: StatusTable = {
    QueryError: 400,
    WatchlistNotFound: 404,
    DuplicateName: 409,
    TooManyWatchlists: 409,
    InvalidWatchlist: 422,
    StoreUnavailable: 503,
}
"""The alerts service's domain errors and the status each answers with."""

MAX_PAGE = 1000

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No API key, or an unknown one."},
    403: {"model": ErrorResponse, "description": "The key's role may not do this."},
    422: {
        "model": ErrorResponse,
        "description": (
            "A field is malformed or out of range (`invalid_request`), or the watchlist as a whole "
            "cannot work (`invalid_watchlist`); `where` names the field."
        ),
    },
    503: {"model": ErrorResponse, "description": "The watchlist store is unavailable; retry shortly."},
}
BAD_QUERY: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "The query is outside the limits search sets (`bad_query`).",
    },
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No watchlist has this id (`not_found`)."},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorResponse,
        "description": (
            "Another watchlist has this name (`duplicate_name`), or the store is full (`too_many_watchlists`)."
        ),
    },
}

WatchlistId = Annotated[
    str, Path(pattern=ID_PATTERN, description="Watchlist id.", examples=["wl-3f9a0c2b7d41"])
]


MAX_OFFSET = 10_000_000
"""Far above any store's limit; bounds what reaches SQLite (a 64-bit integer)."""


class WatchlistOut(BaseModel):
    """A watchlist as readers see it: webhook secrets masked, no feed token."""

    id: str = Field(examples=["wl-3f9a0c2b7d41"])
    name: str = Field(examples=["Ceasefire talks"])
    query: str = Field(examples=['"ceasefire talks" OR truce -football'])
    filters: Filters
    channels: tuple[Channel, ...]
    notify_updates: bool
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def of(cls, watchlist: Watchlist) -> WatchlistOut:
        """Show a stored watchlist."""
        return cls.model_validate(watchlist.model_dump(exclude={"feed_token_sha256"}))


class WatchlistCreated(WatchlistOut):
    """The new watchlist, with the one copy of its feed token anyone will see."""

    feed_token: str = Field(
        description=(
            "Secret for the watchlist's Atom feed URL (feed readers cannot send a key). Shown only in this "
            "answer and stored only as a digest: keep it."
        ),
        examples=["y7Jb0s2n1V0m8Cq4c3Rr1QmT9w1fVt6pZl0aXe2Kq5E"],
    )


class WatchlistPage(BaseModel):
    """Watchlists oldest first, and how many there are in all."""

    total: int = Field(examples=[3])
    watchlists: list[WatchlistOut]
    next_offset: int | None = Field(
        default=None, description="Pass as `offset` for the next page; absent on the last page."
    )


def router(
    store: WatchlistStore,
    settings: AlertsSettings,
    now: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
) -> APIRouter:
    """The /v1/watchlists routes over one store."""
    keys = settings.api_keys
    reader = [Depends(require(keys, "reader"))]
    writer = [Depends(require(keys, "writer"))]
    api = APIRouter(prefix="/v1/watchlists", tags=["watchlists"], responses=RESPONSES)
    max_query = settings.alerts_max_query_chars

    @api.post(
        "",
        status_code=201,
        response_model=WatchlistCreated,
        dependencies=writer,
        summary="Create a watchlist",
        responses={**BAD_QUERY, **CONFLICT},
    )
    def create(spec: WatchlistCreate, response: Response) -> WatchlistCreated:
        """Create a watchlist (writer key); the answer carries its feed token, shown this once.

        The query is parsed as search parses it; an empty query needs at least one filter.
        """
        watchlist, token = new_watchlist(spec, now=now(), max_query_chars=max_query)
        store.add(watchlist)
        response.headers["Location"] = f"/v1/watchlists/{watchlist.id}"
        shown = watchlist.model_dump(exclude={"feed_token_sha256"})
        return WatchlistCreated.model_validate(shown | {"feed_token": token})

    @api.get(
        "",
        response_model=WatchlistPage,
        response_model_exclude_none=True,
        dependencies=reader,
        summary="List watchlists",
    )
    def list_watchlists(
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Watchlists per page.")] = 100,
        offset: Annotated[
            int, Query(ge=0, le=MAX_OFFSET, description="Skip this many (next_offset of the last page).")
        ] = 0,
    ) -> WatchlistPage:
        """Every watchlist, oldest first, a page at a time (reader key)."""
        found = store.page(limit, offset)
        total = store.count()
        after = offset + len(found)
        return WatchlistPage(
            total=total,
            watchlists=[WatchlistOut.of(w) for w in found],
            next_offset=after if found and after < total else None,
        )

    @api.get(
        "/{watchlist_id}",
        response_model=WatchlistOut,
        dependencies=reader,
        summary="Read a watchlist",
        responses=NOT_FOUND,
    )
    def read(watchlist_id: WatchlistId) -> WatchlistOut:
        """One watchlist (reader key)."""
        return WatchlistOut.of(store.get(watchlist_id))

    @api.patch(
        "/{watchlist_id}",
        response_model=WatchlistOut,
        dependencies=writer,
        summary="Change a watchlist",
        responses={**BAD_QUERY, **NOT_FOUND, **CONFLICT},
    )
    def change(watchlist_id: WatchlistId, patch: WatchlistPatch) -> WatchlistOut:
        """Change the fields given (writer key); the result is checked as a whole, like a new watchlist.

        `channels` replaces the list; a webhook repeated without its `secret` keeps the one it has.
        """
        when = now()
        changed = store.update(
            watchlist_id, lambda current: apply_patch(current, patch, now=when, max_query_chars=max_query)
        )
        return WatchlistOut.of(changed)

    @api.delete(
        "/{watchlist_id}",
        status_code=204,
        response_class=Response,
        dependencies=writer,
        summary="Delete a watchlist",
        responses=NOT_FOUND,
    )
    def delete(watchlist_id: WatchlistId) -> Response:
        """Delete a watchlist (writer key)."""
        store.remove(watchlist_id)
        return Response(status_code=204)

    return api


# ---------------------------------------------------------------------- reading alerts

MAX_ALERTS_PAGE = 200
MAX_STREAM_EVENTS = 10_000
ATOM_OK: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/atom+xml": {}}, "description": "An Atom 1.0 feed, latest change first."},
    304: {"description": "The reader's copy (its ETag, or its Last-Modified date) is current."},
}
SSE_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "Server-Sent Events: `event: alert` per change.",
    },
}
NO_FEED = "no feed at this address: the watchlist does not exist or the token does not match"


class AlertPage(BaseModel):
    """A watchlist's released alerts, latest change first, and how many are unread."""

    watchlist_id: str = Field(examples=["wl-3f9a0c2b7d41"])
    as_of: AwareDatetime = Field(
        description="The service's time of this answer: pass it as `since` next time to count only what is newer."
    )
    unread: int = Field(
        description="Active alerts changed after `since` (all active alerts without `since`).", examples=[3]
    )
    alerts: list[AlertOut]
    next_before: AwareDatetime | None = Field(
        default=None, description="Pass as `before` for older alerts; absent when there are none."
    )


def _reader(settings: AlertsSettings, x_api_key: str | None, authorization: str | None) -> None:
    """Let a reader key through, answering as `require` does (401/403 in the shared shape)."""
    try:
        authorize(settings.api_keys, "reader", x_api_key, authorization)
    except AccessDenied as denied:
        headers = {"WWW-Authenticate": "Bearer"} if denied.status == 401 else None
        raise ApiError(denied.status, denied.code, denied.message, headers=headers) from None


def alerts_router(
    store: WatchlistStore,
    alerts: AlertStore,
    settings: AlertsSettings,
    now: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
) -> APIRouter:
    """The routes that read a watchlist's alerts: a page of them, its Atom feed, its live stream."""
    keys = settings.api_keys
    reader = [Depends(require(keys, "reader"))]
    streamer = [Depends(require(keys, "reader", limiter(settings.rate_limit_stream)))]
    limits = StreamLimits(
        interval_s=settings.alerts_stream_interval_s,
        heartbeat_s=settings.alerts_stream_heartbeat_s,
        max_s=settings.alerts_stream_max_s,
    )
    api = APIRouter(prefix="/v1/watchlists", tags=["alerts"], responses=RESPONSES)

    @api.get(
        "/{watchlist_id}/alerts",
        response_model=AlertPage,
        response_model_exclude_none=True,
        dependencies=reader,
        summary="List a watchlist's alerts",
        responses=NOT_FOUND,
    )
    def list_alerts(
        watchlist_id: WatchlistId,
        since: Annotated[
            AwareDatetime | None,
            Query(
                description="Only alerts changed after this time (ISO 8601 with offset); also bounds `unread`."
            ),
        ] = None,
        before: Annotated[
            AwareDatetime | None,
            Query(description="Only alerts changed before this time: `next_before` of the previous page."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_ALERTS_PAGE, description="Alerts per page.")] = 50,
    ) -> AlertPage:
        """Released alerts, latest change first (reader key); embargoed ones appear when the embargo lifts.

        Each names the story, the language version that matched, and whether it stands (`active`) or
        the agency killed the story (`withdrawn`). `unread` counts active alerts changed after `since`.
        """
        store.get(watchlist_id)
        at = now()
        page = read_page(alerts, watchlist_id, at, limit=limit, since=since, before=before)
        return AlertPage(
            watchlist_id=watchlist_id,
            as_of=at,
            unread=alerts.count(watchlist_id, at, since),
            alerts=[AlertOut.of(row) for row in page.rows],
            next_before=page.next_before,
        )

    def feed_watchlist(
        watchlist_id: str, token: str | None, x_api_key: str | None, authorization: str | None
    ) -> Watchlist:
        if token is None:
            _reader(settings, x_api_key, authorization)
            return store.get(watchlist_id)
        try:
            watchlist = store.get(watchlist_id)
        except WatchlistNotFound:
            watchlist = None
        # One answer for an unknown watchlist, a wrong token and a watchlist without a feed, so a
        # token-holder learns nothing about watchlists other than its own.
        if (
            watchlist is None
            or not any(isinstance(c, FeedChannel) for c in watchlist.channels)
            or not feed_token_matches(watchlist, token)
        ):
            raise WatchlistNotFound(NO_FEED, where={"in": "query", "field": "token"})
        return watchlist

    @api.get(
        "/{watchlist_id}/feed.atom",
        response_class=Response,
        summary="Read a watchlist's alerts as an Atom feed",
        responses={**ATOM_OK, **NOT_FOUND},
    )
    def feed(
        request: Request,
        watchlist_id: WatchlistId,
        token: Annotated[
            str | None,
            Query(
                max_length=200,
                description=(
                    "The watchlist's feed token (shown once, when it was created), for feed readers that "
                    "cannot send a key; only for a watchlist with a `feed` channel. A wrong one is 404."
                ),
            ),
        ] = None,
        x_api_key: Annotated[str | None, Header(description="Reader API key (or a `token`).")] = None,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
        if_none_match: Annotated[str | None, Header(max_length=2000)] = None,
        if_modified_since: Annotated[str | None, Header(max_length=100)] = None,
    ) -> Response:
        """The latest alerts as Atom 1.0 (reader key, or `?token=`); each entry links to the desk's story view.

        Withdrawn alerts stay, titled and categorised as withdrawn. `ETag` and `Last-Modified` let a
        reader poll cheaply: an unchanged feed is `304 Not Modified`.
        """
        watchlist = feed_watchlist(watchlist_id, token, x_api_key, authorization)
        at = now()
        rows = read_page(alerts, watchlist_id, at, limit=settings.alerts_feed_entries).rows
        self_url = str(request.url.remove_query_params("token"))  # never echo the secret into the document
        rendered = atom.render(watchlist, rows, self_url=self_url, desk_url=settings.desk_url)
        headers = {**atom.validators(rendered, at), "Cache-Control": "private, no-cache"}
        if atom.not_modified(rendered, at, if_none_match, if_modified_since):
            return Response(status_code=304, headers=headers)
        return Response(rendered.body, media_type=atom.MEDIA_TYPE, headers=headers)

    def exists(watchlist_id: str) -> bool:
        try:
            store.get(watchlist_id)
        except WatchlistNotFound:
            return False
        except StoreUnavailable:
            return True  # unknown for now: the next heartbeat asks again
        return True

    @api.get(
        "/{watchlist_id}/stream",
        dependencies=streamer,
        response_class=StreamingResponse,
        summary="Follow a watchlist's alerts live",
        responses={**SSE_OK, **NOT_FOUND},
    )
    async def stream(
        http: Request,
        watchlist_id: WatchlistId,
        last_event_id: Annotated[
            str | None,
            Header(max_length=200, description="Resume after this event (sent by EventSource on reconnect)."),
        ] = None,
        max_events: Annotated[
            int | None,
            Query(ge=1, le=MAX_STREAM_EVENTS, description="Close the stream after this many alerts."),
        ] = None,
    ) -> StreamingResponse:
        """Server-Sent Events (reader key): `event: alert` for each change once it is visible, oldest first.

        The data is the alert as `GET .../alerts` shows it; the `id` (change time and alert id) makes
        `Last-Event-ID` resume exactly after it. Comments keep the connection alive; the server closes
        the stream now and then (`alerts_stream_max_s`) and the client reconnects, missing nothing.
        An `event: gone` ends the stream of a deleted watchlist.
        """
        await run_in_threadpool(store.get, watchlist_id)

        def read(since: datetime, at: datetime) -> list[AlertRow]:
            return changes_since(alerts, watchlist_id, at, since)

        events = alert_events(
            read,
            watchlist_id=watchlist_id,
            exists=lambda: exists(watchlist_id),
            disconnected=http.is_disconnected,
            clock=now,
            limits=limits,
            resume=parse_event_id(last_event_id),
            max_events=max_events,
        )
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return api


class LaneOut(BaseModel):
    """One delivery endpoint's backlog and failures (a webhook is named by scheme and host only)."""

    channel: str = Field(examples=["webhook:https://hooks.example.org"])
    type: str = Field(examples=["webhook"])
    pending: int
    failed: int
    delivered: int
    oldest_due: AwareDatetime | None = None
    last_error: str | None = None


class WatchlistStatus(BaseModel):
    """A watchlist's last match and its channels' delivery state."""

    id: str
    name: str
    last_match: AwareDatetime | None = None
    lanes: list[LaneOut]


class AlertsStatus(BaseModel):
    """What `wirewatch status` shows of the alerts service."""

    watchlists: list[WatchlistStatus]
    lanes: list[LaneOut] = Field(description="Every endpoint, all watchlists together.")


def _lane(state: LaneState) -> LaneOut:
    return LaneOut(
        channel=lane_label(state.channel_key),
        type=state.channel_type,
        pending=state.pending,
        failed=state.failed,
        delivered=state.delivered,
        oldest_due=state.oldest_due,
        last_error=state.last_error,
    )


def status_router(store: WatchlistStore, alerts: AlertStore, settings: AlertsSettings) -> APIRouter:
    """The operations view: each watchlist's last match, each channel's backlog and failures."""
    reader = [Depends(require(settings.api_keys, "reader"))]
    api = APIRouter(prefix="/v1/alerts", tags=["operations"], responses=RESPONSES)

    @api.get(
        "/status", response_model=AlertsStatus, dependencies=reader, summary="Matching and delivery state"
    )
    def status() -> AlertsStatus:
        """Each watchlist's last match and delivery lanes; the lanes of every watchlist together."""
        last = alerts.last_matches()
        by_watchlist: dict[str, list[LaneOut]] = {}
        for watchlist_id, state in alerts.lane_states_by_watchlist():
            by_watchlist.setdefault(watchlist_id, []).append(_lane(state))
        return AlertsStatus(
            watchlists=[
                WatchlistStatus(
                    id=w.id, name=w.name, last_match=last.get(w.id), lanes=by_watchlist.get(w.id, [])
                )
                for w in store.all()
            ],
            lanes=[_lane(state) for state in alerts.lane_states()],
        )

    return api


def openapi_tags() -> list[dict[str, str]]:
    """Tag descriptions for the OpenAPI document."""
    return [
        {
            "name": "watchlists",
            "description": "Standing desk queries with filters and channels: a writer key manages them.",
        },
        {
            "name": "alerts",
            "description": (
                "What matched a watchlist: a page of alerts with an unread count, an Atom feed (reader key "
                "or the watchlist's feed token), Server-Sent Events."
            ),
        },
        {"name": "operations", "description": "Liveness, readiness and metrics."},
    ]
