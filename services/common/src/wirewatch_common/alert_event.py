"""The alert contract: what every channel (Kafka `wirewatch.alerts`, webhooks, email) says of an alert.

One alert exists per (watchlist, story); its events say it was created, updated by a newer version
that still matches, or withdrawn because the agency killed the story. `event_id` names one event
of one alert for one version, so a consumer (or a webhook receiver) that sees it twice can drop the
second: it is the webhook's idempotency key.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .story import STORY_ID_PATTERN, Language

SCHEMA_VERSION = 1
ALERT_ID_PATTERN = r"^al-[0-9a-f]{16}$"
WATCHLIST_ID_PATTERN = r"^wl-[0-9a-f]{12}$"


class EventKind(StrEnum):
    """What happened to the alert."""

    CREATED = "created"
    UPDATED = "updated"
    WITHDRAWN = "withdrawn"


def alert_id(watchlist_id: str, story_id: str) -> str:
    """The one alert of a (watchlist, story) pair, the same in every process and after every replay."""
    digest = hashlib.sha256(f"{watchlist_id}\n{story_id}".encode()).hexdigest()
    return f"al-{digest[:16]}"


def event_id(alert: str, kind: EventKind, version: int) -> str:
    """One event of one alert for one story version: the idempotency key of its deliveries."""
    return f"{alert}:{kind.value}:{version}"


class WatchlistRef(BaseModel):
    """The watchlist that matched, as it was named when the event was made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=WATCHLIST_ID_PATTERN)
    name: str = Field(max_length=200)


class StoryRef(BaseModel):
    """The story version the event is about, in the language version that matched."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=STORY_ID_PATTERN)
    version: int = Field(ge=1)
    language: Language = Field(
        description="The language version that matched (a rendition's target or the original's)."
    )
    original_language: Language
    headline: str = Field(description="The headline of the language version that matched.")
    versioncreated: AwareDatetime
    provider: str | None = None
    uri: str | None = None
    embargoed: AwareDatetime | None = Field(
        default=None, description="Held until then; events are sent after it."
    )


class AlertEvent(BaseModel):
    """One event of one alert, as channels deliver it; key on Kafka: the watchlist id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    event_id: str = Field(max_length=200, description="Idempotency key: alert id, event kind, story version.")
    event: EventKind
    alert_id: str = Field(pattern=ALERT_ID_PATTERN)
    watchlist: WatchlistRef
    story: StoryRef
    matched_at: AwareDatetime = Field(description="When the alert was first made.")
    occurred_at: AwareDatetime = Field(description="When this event was made.")

    def to_json(self) -> bytes:
        """Serialise for the wire."""
        return self.model_dump_json(exclude_none=True).encode()
