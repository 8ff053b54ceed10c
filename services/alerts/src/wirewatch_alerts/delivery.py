"""Deliver alert events from the outbox: one lane per endpoint, each in its own thread.

The matcher writes each event's deliveries to the outbox (`alertstore`) in the transaction that
records the alert. This worker looks for lanes with deliveries due (`AlertStore.lanes`) every
`poll_s` and gives each such lane a thread of its own, which sends the lane's due deliveries in
event order through the lane's `Sender` (webhook, email, Kafka) until none is due, then ends.
A slow or dead endpoint therefore only ever holds its own thread: the others go on. At most
`max_lanes` lanes send at once; a lane beyond that waits for a free thread.

Order: a sender stops at the first delivery it must retry, and the lane then waits until that
delivery's next try before it sends anything else, so a receiver sees a lane's events in the order
they were made. (The wait is kept in memory: a restart in the middle of a retry may send the later
events of that lane first; each still carries its idempotency key.)

A failed try is scheduled again by `backoff.Backoff` (exponential, jittered, capped, honouring
an endpoint's Retry-After); one that exhausts the schedule, or fails in a way no retry can mend
(a webhook's 4xx, a mail server's permanent 5xx), is given up and stays visible as `failed` in the
lane states. Channels are read from the watchlist store for every batch, so a changed webhook
secret applies to the next try; a delivery whose watchlist no longer has the channel is given up.

Delivery is at least once: a crash between a successful send and its mark sends it again, with
the same idempotency key (webhooks) or the same Message-ID (email).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol
from urllib.parse import urlsplit

from prometheus_client import Counter

from wirewatch_common.errors import brief

from .alerting import ChannelType, channel_key
from .alertstore import AlertStore, Delivery
from .backoff import Backoff
from .errors import StoreUnavailable, WatchlistNotFound
from .settings import AlertsSettings
from .store import WatchlistStore
from .watchlists import Channel

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "wirewatch_alerts_deliveries_total",
    "Delivery tries of alert events, by channel type and outcome (delivered, retry, failed).",
    ["channel", "outcome"],
)

OutcomeStatus = Literal["delivered", "retry", "failed", "waiting"]


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery a sender was given; a delivery with no outcome was not tried."""

    delivery_id: str
    status: OutcomeStatus
    error: str = ""
    """Why it failed, in words a desk can act on; never a secret or a signature."""
    retry_after_s: float | None = None
    """For `retry`: the wait the endpoint asked for (Retry-After), honoured up to the backoff's cap."""
    not_before: datetime | None = None
    """For `waiting`: not tried, and the lane sends nothing before then (an email digest gathering)."""

    @classmethod
    def delivered(cls, delivery_id: str) -> Outcome:
        """The endpoint accepted it."""
        return cls(delivery_id, "delivered")

    @classmethod
    def retry(cls, delivery_id: str, error: str, retry_after_s: float | None = None) -> Outcome:
        """It failed in a way a later try may mend (timeouts, 5xx, 429, refused connections)."""
        return cls(delivery_id, "retry", error, retry_after_s=retry_after_s)

    @classmethod
    def failed(cls, delivery_id: str, error: str) -> Outcome:
        """It failed in a way no retry mends (a 4xx, a permanently refused recipient): give it up now."""
        return cls(delivery_id, "failed", error)

    @classmethod
    def waiting(cls, delivery_id: str, not_before: datetime) -> Outcome:
        """Not tried yet on purpose; the lane comes back at `not_before`."""
        return cls(delivery_id, "waiting", not_before=not_before)


@dataclass(frozen=True)
class LaneBatch:
    """A lane's due deliveries, oldest event first, with what a sender needs to send them."""

    key: str
    """The endpoint (`webhook:<url>`, `email:<digest>:<recipients>`, `kafka`)."""
    deliveries: Sequence[Delivery]
    channels: Mapping[str, Channel]
    """This lane's channel in each delivery's watchlist, by watchlist id, read from the store just now."""
    now: datetime
    stop: threading.Event
    """Set when the service shuts down: a sender stops between deliveries and leaves the rest untried."""


class Sender(Protocol):
    """Sends the deliveries of one kind of channel (`webhook`, `email`, `kafka`)."""

    def send(self, batch: LaneBatch) -> Sequence[Outcome]:
        """Try the batch's deliveries in order; return an outcome for each one tried.

        Stop at the first delivery that must be retried (later ones stay due and are sent after
        it, keeping the lane's order), and between deliveries once `batch.stop` is set.
        """
        ...


def utc_now() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)


def lane_label(key: str) -> str:
    """A lane's name for logs: a webhook's scheme and host only, since paths and queries may carry tokens."""
    kind, _, rest = key.partition(":")
    if kind != "webhook":
        return kind
    parts = urlsplit(rest)
    return f"webhook:{parts.scheme}://{parts.netloc}"


class DeliveryWorker:
    """Worker: deliver the outbox, one thread per lane with something due."""

    name = "alert-delivery"

    def __init__(
        self,
        alerts: AlertStore,
        watchlists: WatchlistStore,
        senders: Mapping[ChannelType, Sender],
        *,
        retry: Backoff,
        batch: int = 100,
        poll_s: float = 0.5,
        max_lanes: int = 256,
        stop_grace_s: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """Deliver from `alerts` with `senders` (one per channel type; a type without one waits and retries).

        `stop_grace_s` bounds how long `run` waits for lanes in the middle of a send once asked to
        stop; `clock` and `jitter` are the wall clock and the jitter draw (tests pass their own).
        """
        if batch < 1 or poll_s <= 0 or max_lanes < 1 or stop_grace_s < 0:
            msg = (
                f"DeliveryWorker needs batch >= 1, poll_s > 0, max_lanes >= 1 and stop_grace_s >= 0, "
                f"not {batch}, {poll_s}, {max_lanes} and {stop_grace_s}"
            )
            raise ValueError(msg)
        self.alerts = alerts
        self.watchlists = watchlists
        self.senders = dict(senders)
        self.retry = retry
        self.batch = batch
        self.poll_s = poll_s
        self.max_lanes = max_lanes
        self.stop_grace_s = stop_grace_s
        self._clock = clock
        self._jitter = jitter
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._held: dict[str, datetime] = {}
        self._wake = threading.Event()

    @classmethod
    def from_settings(
        cls,
        settings: AlertsSettings,
        alerts: AlertStore,
        watchlists: WatchlistStore,
        senders: Mapping[ChannelType, Sender],
    ) -> DeliveryWorker:
        """The worker the settings describe (`WIREWATCH_ALERTS_DELIVERY_*`, `WIREWATCH_ALERTS_RETRY_*`)."""
        return cls(
            alerts,
            watchlists,
            senders,
            retry=settings.retry_policy,
            batch=settings.alerts_delivery_batch,
            poll_s=settings.alerts_delivery_poll_s,
            max_lanes=settings.alerts_delivery_max_lanes,
        )

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event) -> None:
        """Start a thread for every lane with deliveries due, every `poll_s`, until `stop` is set."""
        self._wake.clear()
        try:
            while not stop.is_set():
                self.start_due(stop)
                self._wake.wait(self.poll_s)
                self._wake.clear()
        finally:
            self._join()

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll (the matcher just recorded some)."""
        self._wake.set()

    def start_due(self, stop: threading.Event) -> list[str]:
        """Start a thread for each due lane that is neither sending nor waiting; return their keys."""
        now = self._clock()
        try:
            lanes = self.alerts.lanes(now)
        except StoreUnavailable as exc:
            log.warning("cannot read the outbox", extra={"error": brief(exc)})
            return []
        started: list[str] = []
        with self._lock:
            for key, kind in lanes:
                if key in self._running:
                    continue
                held = self._held.get(key)
                if held is not None:
                    if held > now:
                        continue
                    del self._held[key]
                if len(self._running) >= self.max_lanes:
                    log.warning(
                        "delivery lanes all busy",
                        extra={"max_lanes": self.max_lanes, "due_lanes": len(lanes)},
                    )
                    break
                thread = threading.Thread(
                    target=self._lane,
                    args=(key, kind, stop),
                    name=f"alert-lane {lane_label(key)}",
                    daemon=True,
                )
                self._running[key] = thread
                thread.start()
                started.append(key)
        return started

    def busy(self) -> list[str]:
        """Lanes sending now."""
        with self._lock:
            return list(self._running)

    def _join(self) -> None:
        """Wait up to the grace for lanes in the middle of a send; a late one finishes on its own."""
        deadline = time.monotonic() + self.stop_grace_s
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        late = self.busy()
        if late:
            log.warning(
                "delivery lanes still sending at shutdown", extra={"lanes": [lane_label(k) for k in late]}
            )

    # ------------------------------------------------------------------ one lane

    def _lane(self, key: str, kind: ChannelType, stop: threading.Event) -> None:
        """Send the lane's due deliveries until none is due, the lane must wait, or the service stops."""
        hold: datetime | None = None
        try:
            while not stop.is_set():
                now = self._clock()
                due = self.alerts.due(key, now, self.batch)
                if not due:
                    break
                hold = self._deliver(key, kind, due, now, stop)
                if hold is not None:
                    break
        except Exception as exc:
            # A lane must never take the worker down; it is tried again after a poll.
            log.exception("delivery lane failed", extra={"lane": lane_label(key), "error": brief(exc)})
            hold = self._clock() + timedelta(seconds=self.poll_s)
        finally:
            with self._lock:
                self._running.pop(key, None)
                if hold is not None:
                    self._held[key] = hold
            self._wake.set()  # a thread is free: a lane that found them all busy need not wait a poll

    def _deliver(
        self, key: str, kind: ChannelType, due: Sequence[Delivery], now: datetime, stop: threading.Event
    ) -> datetime | None:
        """Send one batch and record its outcomes; return when the lane may send again, if it must wait."""
        channels = self._channels(key, due)
        lost = [d for d in due if d.watchlist_id not in channels]
        for delivery in lost:
            error = f"watchlist {delivery.watchlist_id} no longer has this channel (or was deleted)"
            self.alerts.give_up(delivery.id, error, now)
            DELIVERIES.labels(kind, "failed").inc()
        kept = [d for d in due if d.watchlist_id in channels]
        if not kept:
            return None
        sender = self.senders.get(kind)
        if sender is None:
            outcomes: Sequence[Outcome] = [
                Outcome.retry(kept[0].id, f"this alerts process has no sender for {kind} channels")
            ]
        else:
            outcomes = sender.send(LaneBatch(key=key, deliveries=kept, channels=channels, now=now, stop=stop))
        if not outcomes and not stop.is_set():
            log.warning("a sender tried nothing", extra={"lane": lane_label(key), "due": len(kept)})
            return self._clock() + timedelta(seconds=self.poll_s)
        return self._settle(kind, kept, outcomes)

    def _channels(self, key: str, due: Sequence[Delivery]) -> dict[str, Channel]:
        """This lane's channel in each watchlist of the batch, as the store holds it now."""
        found: dict[str, Channel] = {}
        for watchlist_id in dict.fromkeys(d.watchlist_id for d in due):
            try:
                watchlist = self.watchlists.get(watchlist_id)
            except WatchlistNotFound:
                continue
            for channel in watchlist.channels:
                lane = channel_key(channel)
                if lane is not None and lane[0] == key:
                    found[watchlist_id] = channel
                    break
        return found

    def _settle(
        self, kind: ChannelType, due: Sequence[Delivery], outcomes: Sequence[Outcome]
    ) -> datetime | None:
        """Record what the sender did; return the earliest time the lane must wait for, if any."""
        done_at = self._clock()
        by_id = {d.id: d for d in due}
        known = [o for o in outcomes if o.delivery_id in by_id]
        if len(known) < len(outcomes):
            log.error("a sender named deliveries it was not given", extra={"lane": kind})
        delivered = [o.delivery_id for o in known if o.status == "delivered"]
        if delivered:
            self.alerts.delivered(delivered, done_at)
            DELIVERIES.labels(kind, "delivered").inc(len(delivered))
        hold: datetime | None = None
        for outcome in known:
            delivery = by_id[outcome.delivery_id]
            if outcome.status == "failed":
                self._give_up(kind, delivery, outcome.error, done_at)
            elif outcome.status == "retry":
                attempts = delivery.attempts + 1
                next_at = self.retry.next_try(
                    attempts=attempts,
                    due_at=delivery.due_at,
                    now=done_at,
                    jitter=self._jitter(),
                    retry_after_s=outcome.retry_after_s,
                )
                if next_at is None:
                    age = (done_at - delivery.due_at).total_seconds()
                    self._give_up(
                        kind,
                        delivery,
                        f"gave up after {attempts} tries over {age:.0f}s: {outcome.error}",
                        done_at,
                    )
                    continue
                self.alerts.retry(delivery.id, outcome.error, next_at)
                DELIVERIES.labels(kind, "retry").inc()
                log.info(
                    "delivery will be retried",
                    extra={
                        "lane": lane_label(delivery.channel_key),
                        "event_id": delivery.event_id,
                        "attempts": attempts,
                        "next_at": next_at.isoformat(),
                        "error": outcome.error,
                    },
                )
                hold = next_at if hold is None else min(hold, next_at)
            elif outcome.status == "waiting" and outcome.not_before is not None:
                hold = outcome.not_before if hold is None else min(hold, outcome.not_before)
        return hold

    def _give_up(self, kind: ChannelType, delivery: Delivery, error: str, now: datetime) -> None:
        self.alerts.give_up(delivery.id, error, now)
        DELIVERIES.labels(kind, "failed").inc()
        log.warning(
            "delivery given up",
            extra={
                "lane": lane_label(delivery.channel_key),
                "watchlist_id": delivery.watchlist_id,
                "event_id": delivery.event_id,
                "error": error,
            },
        )
