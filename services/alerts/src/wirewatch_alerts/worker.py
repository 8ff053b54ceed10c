"""The matching worker: a bus.Consumer handler that matches each polled batch against every watchlist.

Per batch: parse the story and rendition messages, reload the watchlists if any changed (the store's
revision), match the batch's searchable language versions in one pass, record the alerts and the
events channels must hear of in one transaction, publish one alerts receipt per language version,
and only then return, so the consumer commits. A crash anywhere replays the batch, and a replay
changes nothing (`alerting`): no alert is lost and none is sent twice.

Kills (`pubstatus: canceled`) withdraw the story's alerts. Embargoed versions are matched on
arrival; their alerts are held until the embargo lifts (`alerting.release_of`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import Counter, Gauge

from wirewatch_common.bus import DeliveryError, Message, Outgoing, TransientError
from wirewatch_common.matching import Standing, Version, version_of
from wirewatch_common.query import parse
from wirewatch_common.story import Receipt, Story
from wirewatch_common.topics import receipt_headers

from .alerting import Hit, is_original, original_language, release_of, story_ref
from .alertstore import AlertStore, Recorded
from .errors import MatcherUnavailable, StoreUnavailable
from .store import WatchlistStore
from .watchlists import Watchlist

log = logging.getLogger(__name__)

VERSIONS = Counter("wirewatch_alerts_versions_total", "Language versions matched against the watchlists.")
MATCHES = Counter("wirewatch_alerts_matches_total", "Watchlist matches found (before one-alert-per-story).")
EVENTS = Counter("wirewatch_alerts_events_total", "Alert events made, by kind.", ["event"])
WATCHLISTS = Gauge("wirewatch_alerts_watchlists", "Watchlists the matcher holds.")

Publish = Callable[[Sequence[Outgoing]], Any]


class BatchMatcher(Protocol):
    """Matches language versions against standing queries: embedded presearch or the percolator."""

    def sync(self, standings: Sequence[Standing]) -> None:
        """Hold exactly these standings from now on."""
        ...

    def match(self, versions: Sequence[Version]) -> list[tuple[int, str]]:
        """(index of the version, standing id) for every match, sorted."""
        ...


def standing(watchlist: Watchlist) -> Standing:
    """The matcher's view of a watchlist: its parsed query and filters, as search reads them."""
    f = watchlist.filters
    return Standing(
        id=watchlist.id,
        query=parse(watchlist.query),
        languages=frozenset(f.languages),
        providers=frozenset(f.providers),
        places=frozenset(p.casefold() for p in f.places),
    )


def alerts_receipt(story: Story, matcher: str, now: datetime) -> Receipt:
    """The receipt that tells ingest the alerts service is done with this language version."""
    return Receipt(
        story_id=story.id,
        version=story.version,
        language=story.language,
        status=None if story.translation is None else story.translation.status,
        indexed_at=now,
        backend=matcher,
        service="alerts",
    )


class AlertsHandler:
    """Handle one batch of story and rendition messages."""

    def __init__(
        self,
        watchlists: WatchlistStore,
        alerts: AlertStore,
        matcher: BatchMatcher,
        publish: Publish,
        receipts_topic: str,
        *,
        matcher_name: str = "embedded",
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
        on_recorded: Callable[[Recorded], None] | None = None,
    ) -> None:
        self._store = watchlists
        self._alerts = alerts
        self._matcher = matcher
        self._publish = publish
        self._receipts_topic = receipts_topic
        self._name = matcher_name
        self._clock = clock
        self._on_recorded = on_recorded
        self._revision = -1
        self._held: dict[str, Watchlist] = {}
        self._lock = threading.Lock()
        self.last_batch_at: datetime | None = None

    @property
    def watchlists(self) -> Mapping[str, Watchlist]:
        """The watchlists the matcher holds now."""
        return self._held

    def refresh(self) -> bool:
        """Reload the watchlists when the store changed since the last look; tell whether it did."""
        with self._lock:
            revision = self._store.revision()
            if revision == self._revision:
                return False
            current = {w.id: w for w in self._store.all()}
            self._matcher.sync([standing(w) for w in current.values()])
            gone = set(self._held) - set(current)
            self._held = current
            self._revision = revision
        if gone:
            self._alerts.purge(set(current))
        WATCHLISTS.set(len(current))
        log.info("watchlists loaded", extra={"watchlists": len(current), "revision": revision})
        return True

    def __call__(self, batch: Sequence[Message]) -> None:
        """Match and record the batch, then confirm it; TransientError means retry without committing."""
        stories = [m.story() for m in batch]
        try:
            self.refresh()
            recorded = self._record(stories)
        except (StoreUnavailable, MatcherUnavailable) as exc:
            raise TransientError(str(exc)) from exc
        now = self._clock()
        receipts = [alerts_receipt(s, self._name, now) for s in stories]
        try:
            self._publish(
                [
                    Outgoing(self._receipts_topic, r.story_id, r.to_json(), receipt_headers(r))
                    for r in receipts
                ]
            )
        except DeliveryError as exc:
            raise TransientError(str(exc)) from exc
        self.last_batch_at = now
        if self._on_recorded is not None and recorded.changes:
            self._on_recorded(recorded)

    def _record(self, stories: Sequence[Story]) -> Recorded:
        now = self._clock()
        versions: list[Version] = []
        sources: list[Story] = []
        kills: list[tuple[str, int]] = []
        for story in stories:
            if story.pubstatus == "canceled":
                kills.append((story.id, story.version))
                continue
            version = version_of(story)
            if version is not None:
                versions.append(version)
                sources.append(story)
        pairs = self._matcher.match(versions) if versions else []
        hits = [
            Hit(
                watchlist_id=wl,
                story=story_ref(sources[i], original_language(sources[i])),
                original=is_original(sources[i]),
                release_at=release_of(sources[i], now),
            )
            for i, wl in pairs
        ]
        recorded = self._alerts.record(hits, kills, self._held, now)
        VERSIONS.inc(len(versions))
        MATCHES.inc(len(pairs))
        for event in recorded.events:
            EVENTS.labels(event.event.value).inc()
        if pairs or kills:
            log.info(
                "matched batch",
                extra={
                    "size": len(stories),
                    "versions": len(versions),
                    "matches": len(pairs),
                    "kills": len(kills),
                    "events": len(recorded.events),
                },
            )
        return recorded
