"""Read a watchlist's released alerts as readers see them: newest first, a page at a time.

Shared by the list route, the Atom feed and the SSE stream, over the alert store's one reading
query (`AlertStore.alerts`). A batch records all its alerts with one clock reading, so many alerts
of a watchlist can share one change time to the microsecond; a page never splits such a group
(it ends with the whole group), so `before` = the last change time shown never skips one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field

from wirewatch_common.alert_event import StoryRef

from .alerting import AlertRow, AlertState
from .alertstore import AlertStore

log = logging.getLogger(__name__)

MAX_TIES = 10_000
"""Most alerts of one watchlist read for one change time (far above one batch's matches)."""
MAX_CATCH_UP_PAGES = 20
"""Pages one catch-up read (`changes_since`) walks back at most."""
CATCH_UP_PAGE = 500
ONE_MICROSECOND = timedelta(microseconds=1)


class AlertOut(BaseModel):
    """One alert as the API, the stream and the desk show it."""

    id: str = Field(examples=["al-3f9a0c2b7d41e5a6"])
    watchlist_id: str = Field(examples=["wl-3f9a0c2b7d41"])
    state: AlertState = Field(description="`active`, or `withdrawn` when the agency killed the story.")
    language: str = Field(description="The language version that matched.", examples=["ar"])
    story: StoryRef
    matched_at: AwareDatetime = Field(description="When the story first matched the watchlist.")
    updated_at: AwareDatetime = Field(description="When the alert last changed (a newer version, a kill).")
    changed_at: AwareDatetime = Field(
        description=(
            "When readers saw the latest change: `updated_at`, or the embargo's end if later. "
            "`since`, `before`, `unread` and the stream's event ids count in this time."
        )
    )

    @classmethod
    def of(cls, row: AlertRow) -> AlertOut:
        """Show a stored alert."""
        return cls(
            id=row.id,
            watchlist_id=row.watchlist_id,
            state=row.state,
            language=row.story.language,
            story=row.story,
            matched_at=row.matched_at,
            updated_at=row.updated_at,
            changed_at=row.visible_at,
        )


@dataclass(frozen=True)
class AlertsPage:
    """Alerts newest first and, when older ones may exist, the `before` that reads them."""

    rows: list[AlertRow]
    next_before: datetime | None


def read_page(
    alerts: AlertStore,
    watchlist_id: str,
    now: datetime,
    *,
    limit: int,
    since: datetime | None = None,
    before: datetime | None = None,
) -> AlertsPage:
    """Up to `limit` released alerts changed after `since` and before `before`, newest first.

    A page that would end inside a group of alerts sharing one change time holds the whole group
    (so it can be longer than `limit`).
    """
    rows = alerts.alerts(watchlist_id, now, limit=limit + 1, since=since, before=before)
    if len(rows) <= limit:
        return AlertsPage(rows, None)
    last = rows[limit - 1].visible_at
    if rows[limit].visible_at != last:
        return AlertsPage(rows[:limit], last)
    newer = [r for r in rows[:limit] if r.visible_at > last]
    group = alerts.alerts(
        watchlist_id, now, limit=MAX_TIES, since=last - ONE_MICROSECOND, before=last + ONE_MICROSECOND
    )
    if len(group) >= MAX_TIES:
        log.warning(
            "more alerts share one change time than a page reads",
            extra={"watchlist": watchlist_id, "changed_at": last.isoformat(), "read": len(group)},
        )
    return AlertsPage(newer + group, last)


def changes_since(alerts: AlertStore, watchlist_id: str, now: datetime, since: datetime) -> list[AlertRow]:
    """Every released alert changed after `since` (up to `now`), oldest change first.

    Walks back at most MAX_CATCH_UP_PAGES pages; past that the oldest changes are left out (logged).
    """
    found: list[AlertRow] = []
    before: datetime | None = None
    for _ in range(MAX_CATCH_UP_PAGES):
        page = read_page(alerts, watchlist_id, now, limit=CATCH_UP_PAGE, since=since, before=before)
        found.extend(page.rows)
        if page.next_before is None:
            break
        before = page.next_before
    else:
        log.warning(
            "catch-up read stopped at its page limit; older changes are left out",
            extra={"watchlist": watchlist_id, "since": since.isoformat(), "read": len(found)},
        )
    return sorted(found, key=lambda r: (r.visible_at, r.id))
