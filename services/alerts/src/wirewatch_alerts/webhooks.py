"""Webhook delivery: each alert event POSTed as JSON to the watchlist's URL, signed with its secret.

What a receiver gets, one request per event:

- the body: the event JSON (`wirewatch_common.alert_event.AlertEvent`), `Content-Type: application/json`;
- `X-Wirewatch-Timestamp`: the send time, whole seconds since the Unix epoch;
- `X-Wirewatch-Signature`: `sha256=` and the lower-case hex HMAC-SHA256, under the webhook's
  secret (its UTF-8 bytes), of the timestamp, a full stop and the raw body bytes
  (`b"<timestamp>." + body`);
- `Idempotency-Key`: the event id (`al-…:created:3`), the same on every retry of the event;
- `X-Wirewatch-Event`: `created`, `updated` or `withdrawn`; and a `User-Agent`.

A receiver recomputes the signature over the bytes it read and compares in constant time
(`verify` does so), refuses a timestamp far from its clock (five minutes, say: a captured
request cannot be replayed later, and the timestamp cannot be changed without the secret), and
drops an idempotency key it has already handled, since delivery is at least once.

Answers: 2xx is delivered. 408, 429 and 5xx, and no answer at all (refused or reset
connection, timeout, a name that does not resolve), are tried again with backoff, honouring
Retry-After up to the cap. Any other status (other 4xx, or a 3xx: redirects are not followed) gives
the delivery up at once, the status in its error. The URL and secret are read from the watchlist
for every try, so a changed secret signs the next one. The address policy is the feed fetcher's
(`wirewatch_common.netguard`): loopback and private addresses are refused unless the settings
allow them, the host is resolved once, and the checked address is the one connected to.
"""

from __future__ import annotations

import hashlib
import hmac
import http
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial

from wirewatch_common.fetch import Fetched, FetchError, Reason, Wording, bounded_post
from wirewatch_common.netguard import AddressPolicy, Resolver, system_resolver

from .alertstore import Delivery
from .delivery import LaneBatch, Outcome
from .settings import AlertsSettings
from .watchlists import Channel, WebhookChannel

USER_AGENT = "wirewatch-alerts/0.1 (+webhook)"
SIGNATURE_HEADER = "X-Wirewatch-Signature"
TIMESTAMP_HEADER = "X-Wirewatch-Timestamp"
EVENT_HEADER = "X-Wirewatch-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_TOLERANCE_S = 300
"""What `verify` accepts between the timestamp and the receiver's clock."""
MAX_ANSWER_BYTES = 4096
"""Of a receiver's answer only this much is read: enough to quote in an error."""
QUOTED_CHARS = 200
RETRY_STATUSES = frozenset((408, 429))

WEBHOOK_WORDING = Wording(
    bad_url="{url!r} is not an http(s) URL with a host",
    refused="{cause}",
    timeout="the webhook took longer than {timeout:g}s to answer",
    network="could not reach the webhook: {cause}",
)
"""Errors as the lane states show them: the URL is the lane's name already, and its path may hold a token."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Wirewatch-Signature` value: `sha256=` and the HMAC-SHA256 of `b"<timestamp>." + body`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str,
    body: bytes,
    timestamp: str,
    signed: str,
    *,
    now: float,
    tolerance_s: float = REPLAY_TOLERANCE_S,
) -> bool:
    """Check a delivery as a receiver should: a fresh timestamp and a signature made with `secret`."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), signed)


def headers_for(delivery: Delivery, secret: str, timestamp: int) -> dict[str, str]:
    """The headers of one delivery's POST."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, delivery.body),
        IDEMPOTENCY_HEADER: delivery.event_id,
        EVENT_HEADER: delivery.event.value,
    }


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _quote(answer: Fetched) -> str:
    text = " ".join(answer.body.decode("utf-8", "replace").split())
    return f": {text[:QUOTED_CHARS]}" if text else ""


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def judge(delivery: Delivery, answer: Fetched, now: datetime) -> Outcome:
    """Turn a receiver's answer into an outcome: 2xx delivered; 408, 429, 5xx retried; the rest given up."""
    status = answer.status
    if 200 <= status < 300:
        return Outcome.delivered(delivery.id)
    said = f"the webhook answered {_status_text(status)}{_quote(answer)}"
    if status in RETRY_STATUSES or status >= 500:
        return Outcome.retry(delivery.id, said, retry_after_s(answer.headers.get("retry-after"), now))
    if 300 <= status < 400:
        said += " (redirects are not followed: give the watchlist the webhook's final URL)"
    return Outcome.failed(delivery.id, said)


class WebhookSender:
    """The `webhook` lanes' sender: one signed POST per delivery, in order."""

    def __init__(
        self,
        *,
        timeout_s: float,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Post within `timeout_s` each, to addresses `policy` permits; `clock` stamps X-Wirewatch-Timestamp."""
        self.timeout_s = timeout_s
        self._address = partial(policy.resolve, resolver=resolver)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: AlertsSettings) -> WebhookSender:
        """The sender the settings describe (`WIREWATCH_ALERTS_WEBHOOK_*`)."""
        return cls(timeout_s=settings.alerts_webhook_timeout_s, policy=settings.webhook_policy)

    def send(self, batch: LaneBatch) -> list[Outcome]:
        """Post each delivery in order, stopping at the first to retry or when the service stops."""
        outcomes: list[Outcome] = []
        for delivery in batch.deliveries:
            if batch.stop.is_set():
                break
            outcome = self.post(delivery, batch.channels[delivery.watchlist_id])
            outcomes.append(outcome)
            if outcome.status == "retry":
                break
        return outcomes

    def post(self, delivery: Delivery, channel: Channel) -> Outcome:
        """POST one delivery to the channel's URL, signed with its secret as the watchlist holds them now."""
        if not isinstance(channel, WebhookChannel):
            return Outcome.failed(delivery.id, f"the lane's channel is {channel.type}, not a webhook")
        if channel.secret is None:
            return Outcome.failed(
                delivery.id, "the webhook has no secret to sign with; give the watchlist one"
            )
        timestamp = int(self._clock())
        try:
            answer = bounded_post(
                channel.url,
                delivery.body,
                max_bytes=MAX_ANSWER_BYTES,
                timeout=self.timeout_s,
                headers=headers_for(delivery, channel.secret.get_secret_value(), timestamp),
                address_policy=self._address,
                wording=WEBHOOK_WORDING,
            )
        except FetchError as exc:
            if exc.reason is Reason.URL:
                return Outcome.failed(delivery.id, str(exc))
            return Outcome.retry(delivery.id, str(exc))
        return judge(delivery, answer, datetime.fromtimestamp(self._clock(), UTC))
