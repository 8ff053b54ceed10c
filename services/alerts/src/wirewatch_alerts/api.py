"""The watchlists API under /v1: create, list, read, change and delete a desk's standing queries.

Routes only translate HTTP to calls on `watchlists` (the rules) and the store (the set); domain
errors become HTTP answers through the one table `ERRORS`, which the app hands to the common mapper.
A writer key manages watchlists, a reader key reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from wirewatch_common.access import require
from wirewatch_common.http_errors import ErrorResponse, StatusTable
from wirewatch_common.query import QueryError

from .errors import DuplicateName, InvalidWatchlist, StoreUnavailable, TooManyWatchlists, WatchlistNotFound
from .settings import AlertsSettings
from .store import WatchlistStore
from .watchlists import (
    ID_PATTERN,
    Channel,
    Filters,
    Watchlist,
    WatchlistCreate,
    WatchlistPatch,
    apply_patch,
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


def openapi_tags() -> list[dict[str, str]]:
    """Tag descriptions for the OpenAPI document."""
    return [
        {
            "name": "watchlists",
            "description": "Standing desk queries with filters and channels: a writer key manages them.",
        },
        {"name": "operations", "description": "Liveness, readiness and metrics."},
    ]
