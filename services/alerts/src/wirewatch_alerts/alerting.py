"""The rules of alerts: one per (watchlist, story), what a new match, a newer version or a kill does.

Pure: the store (`alertstore.py`) reads the current alert, asks these functions what changes, and
writes the answer in the same transaction, so replays, restarts and replicas agree.

- A first match creates the alert and names the language version that matched.
- A newer version that still matches updates it; channels hear of it only if the watchlist asks.
- A replay (same or older version) changes nothing: no alert twice.
- A kill withdraws the alert; channels that heard of it are told.
- A newer version after a kill is new copy from the agency: the alert comes back as created.
- An embargoed version's alert is held: channels and readers see it when the embargo lifts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from wirewatch_common.alert_event import AlertEvent, EventKind, StoryRef, WatchlistRef, alert_id, event_id
from wirewatch_common.story import Story, primary_language

from .watchlists import Channel, EmailChannel, KafkaChannel, WebhookChannel

AlertState = Literal["active", "withdrawn"]
ChannelType = Literal["webhook", "email", "kafka"]


@dataclass(frozen=True)
class Hit:
    """A watchlist matched one language version of a story in a batch."""

    watchlist_id: str
    story: StoryRef
    original: bool
    """Whether the version that matched is the story as the agency sent it (not a rendition)."""
    release_at: datetime
    """When channels and readers may hear of it: the embargo's end, or when it was matched."""


@dataclass(frozen=True)
class AlertRow:
    """An alert as stored."""

    id: str
    watchlist_id: str
    state: AlertState
    story: StoryRef
    matched_at: datetime
    updated_at: datetime
    release_at: datetime

    @property
    def visible_at(self) -> datetime:
        """When readers (feed, stream, desk) see the alert's latest change."""
        return max(self.updated_at, self.release_at)


@dataclass(frozen=True)
class Change:
    """What to store for an alert, and the event channels hear of, if any."""

    row: AlertRow
    event: EventKind | None


def story_ref(story: Story, original_language: str) -> StoryRef:
    """The reference channels carry for one language version of a story."""
    return StoryRef(
        id=story.id,
        version=story.version,
        language=story.language,
        original_language=original_language,
        headline=story.headline,
        versioncreated=story.versioncreated,
        provider=story.provider.name if story.provider is not None else None,
        uri=story.uri,
        embargoed=story.embargoed,
    )


def release_of(story: Story, now: datetime) -> datetime:
    """When an alert on this version may be told: at once, or when its embargo lifts."""
    if story.embargoed is not None and story.embargoed > now:
        return story.embargoed
    return now


def best_hits(hits: Iterable[Hit]) -> list[Hit]:
    """One hit per (watchlist, story): the newest version; within it the original, else the first seen."""
    best: dict[tuple[str, str], Hit] = {}
    for hit in hits:
        key = (hit.watchlist_id, hit.story.id)
        held = best.get(key)
        newer = held is None or hit.story.version > held.story.version
        if newer or (
            held is not None and hit.story.version == held.story.version and hit.original > held.original
        ):
            best[key] = hit
    return list(best.values())


def on_hit(current: AlertRow | None, hit: Hit, *, notify_updates: bool, now: datetime) -> Change | None:
    """Decide what a match does to the alert of its (watchlist, story)."""
    if current is None:
        row = AlertRow(
            id=alert_id(hit.watchlist_id, hit.story.id),
            watchlist_id=hit.watchlist_id,
            state="active",
            story=hit.story,
            matched_at=now,
            updated_at=now,
            release_at=hit.release_at,
        )
        return Change(row, EventKind.CREATED)
    if hit.story.version <= current.story.version:
        return None  # a replay, or another language version of what the alert already names
    if current.state == "withdrawn":
        row = replace(current, state="active", story=hit.story, updated_at=now, release_at=hit.release_at)
        return Change(row, EventKind.CREATED)
    row = replace(current, story=hit.story, updated_at=now, release_at=hit.release_at)
    return Change(row, EventKind.UPDATED if notify_updates else None)


def on_kill(current: AlertRow, version: int, now: datetime) -> Change | None:
    """Decide what a kill of the story at `version` does to one of its alerts."""
    if current.state == "withdrawn" or version < current.story.version:
        return None
    story = current.story.model_copy(update={"version": version})
    return Change(replace(current, state="withdrawn", story=story, updated_at=now), EventKind.WITHDRAWN)


def event_of(change: Change, watchlist: WatchlistRef, now: datetime) -> AlertEvent:
    """The event channels receive for a change that has one."""
    assert change.event is not None
    row = change.row
    return AlertEvent(
        event_id=event_id(row.id, change.event, row.story.version),
        event=change.event,
        alert_id=row.id,
        watchlist=watchlist,
        story=row.story,
        matched_at=row.matched_at,
        occurred_at=now,
    )


def channel_key(channel: Channel) -> tuple[str, ChannelType] | None:
    """One delivery lane per endpoint: a webhook URL, a set of mail recipients with its digest, Kafka.

    The feed has no lane: readers fetch it from the alerts table.
    """
    if isinstance(channel, WebhookChannel):
        return f"webhook:{channel.url}", "webhook"
    if isinstance(channel, EmailChannel):
        return f"email:{channel.digest_minutes}:{','.join(sorted(channel.to))}", "email"
    if isinstance(channel, KafkaChannel):
        return "kafka", "kafka"
    return None


def is_original(story: Story) -> bool:
    """Whether a story message is the original (not a rendition)."""
    return story.translation is None


def original_language(story: Story) -> str:
    """The language the agency wrote the story in."""
    t = story.translation
    return primary_language(story.language if t is None else t.source_language)
