"""Server-Sent Events of one watchlist's alerts: each change once readers may see it, resumable.

Every connection polls the alert store (a local SQLite index read, one indexed query when nothing
changed) every `interval_s`. An event's id is its change time and alert id, so a client that
reconnects with `Last-Event-ID` gets every change after the last one it saw, in change order, and
none twice. Each poll looks back `overlap` as well (a batch's transaction can commit just after a
poll read past its clock reading) and skips what this connection already sent.

A connection ends when the client leaves, after `max_s` (the client reconnects with its
Last-Event-ID; this also bounds how long an open stream can hold up a server that is stopping),
after `max_events`, or with an `event: gone` when the watchlist is deleted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .alerting import AlertRow
from .errors import StoreUnavailable
from .reading import ONE_MICROSECOND, AlertOut

RETRY_MS = 3000
"""How long a client waits before reconnecting (sent as `retry:`)."""

Cursor = tuple[datetime, str]
"""(change time, alert id): where a client stands in the stream."""
Read = Callable[[datetime, datetime], list[AlertRow]]
"""(since, now) -> released alerts changed after `since`, oldest change first."""


@dataclass(frozen=True)
class StreamLimits:
    """How often a connection polls, how often it proves it lives, and how long it stays."""

    interval_s: float
    heartbeat_s: float
    max_s: float
    overlap: timedelta = timedelta(seconds=5)


def event_id(row: AlertRow) -> str:
    """`<change time, RFC 3339 with microseconds>/<alert id>`."""
    when = row.visible_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return f"{when}/{row.id}"


def parse_event_id(value: str | None) -> Cursor | None:
    """Read a Last-Event-ID; a bare time means "after this time". None for anything else (start afresh)."""
    if not value:
        return None
    when, _, alert = value.strip().partition("/")
    try:
        parsed = datetime.fromisoformat(when)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    # A bare time: everything at that time was seen (no alert id sorts before "" at the next microsecond).
    return (parsed, alert) if alert else (parsed + ONE_MICROSECOND, "")


def event_text(row: AlertRow) -> str:
    """One `event: alert` whose data is the alert as the list route shows it."""
    return f"id: {event_id(row)}\nevent: alert\ndata: {AlertOut.of(row).model_dump_json()}\n\n"


def _after(row: AlertRow, cursor: Cursor) -> bool:
    return (row.visible_at, row.id) > cursor


async def alert_events(
    read: Read,
    *,
    watchlist_id: str,
    exists: Callable[[], bool],
    disconnected: Callable[[], Awaitable[bool]],
    clock: Callable[[], datetime],
    limits: StreamLimits,
    resume: Cursor | None = None,
    max_events: int | None = None,
) -> AsyncIterator[str]:
    """Yield the stream's text: a retry hint, then events and heartbeat comments until it ends."""
    started = time.monotonic()
    floor = resume[0] - ONE_MICROSECOND if resume is not None else clock()
    previous: datetime | None = None
    sent_keys: dict[tuple[str, datetime], datetime] = {}
    sent = 0
    quiet = 0.0
    yield f"retry: {RETRY_MS}\n: watching {watchlist_id}\n\n"
    while time.monotonic() - started < limits.max_s and not await disconnected():
        polled = clock()
        since = floor if previous is None else max(floor, previous - limits.overlap)
        try:
            rows = await asyncio.to_thread(read, since, polled)
        except StoreUnavailable:
            # Say so and read again next time; `previous` stays, so nothing is skipped meanwhile.
            yield 'event: error\ndata: {"code": "store_unavailable"}\n\n'
            rows = None
        for row in rows or ():
            key = (row.id, row.visible_at)
            if key in sent_keys or (resume is not None and not _after(row, resume)):
                continue
            sent_keys[key] = row.visible_at
            yield event_text(row)
            sent += 1
            quiet = 0.0
            if max_events is not None and sent >= max_events:
                return
        if rows is not None:
            previous = polled
            # What the next poll cannot read again need not be remembered.
            horizon = polled - limits.overlap
            for key in [k for k, at in sent_keys.items() if at <= horizon]:
                del sent_keys[key]
        await asyncio.sleep(limits.interval_s)
        quiet += limits.interval_s
        if quiet >= limits.heartbeat_s:
            quiet = 0.0
            if not await asyncio.to_thread(exists):
                yield f"event: gone\ndata: {json.dumps({'watchlist_id': watchlist_id})}\n\n"
                return
            yield ": keep-alive\n\n"
