"""Email delivery through SMTP: one mail per alert event at once, or a digest every N minutes.

A lane is one set of recipients with one digest period (`email:<minutes>:<recipients>`), shared by
every watchlist that names them. With `digest_minutes` 0 each due event is mailed on its own, in
order. With N > 0 the lane waits until its oldest due event is N minutes old, then mails every
due event of the lane (up to the delivery batch) in one message and marks them all delivered:
a desk hears of a busy story once per period, not once per match.

Mails are plain text (headline, the language version that matched, story id and version, times,
link), with a short HTML alternative whose every value is escaped. The Message-ID is derived from
the event ids, so a mail sent again after a crash carries the same id and mail systems can drop
the copy; `Auto-Submitted: auto-generated` keeps out-of-office replies away.

SMTP answers: a 5xx for the recipients or the message gives the delivery up (the code in its
error); a 4xx, a refused or lost connection, or a failure of our own login or sender address
(settings an operator can mend) is tried again with backoff.
"""

from __future__ import annotations

import hashlib
import html
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from pydantic import SecretStr, ValidationError

from wirewatch_common.alert_event import AlertEvent, EventKind
from wirewatch_common.errors import brief

from .alertstore import Delivery
from .delivery import LaneBatch, Outcome
from .settings import AlertsSettings
from .watchlists import EmailChannel

log = logging.getLogger(__name__)

MAX_SUBJECT_CHARS = 150
_OURS = (
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
)
"""Refusals of our own connection, login or sender address: settings an operator mends, so retried."""
KIND_WORDS = {
    EventKind.CREATED: "New match",
    EventKind.UPDATED: "Updated",
    EventKind.WITHDRAWN: "Withdrawn (story killed)",
}


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how alert mails are sent (settings `alerts_smtp_*`)."""

    host: str
    port: int = 587
    sender: str = "wirewatch@localhost"
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = 30.0


def _line(text: str, limit: int = 500) -> str:
    """One line of text: no line breaks (they would end a header), bounded."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def event_text(event: AlertEvent) -> str:
    """One event as plain text: what a desk needs to find the story."""
    story = event.story
    matched = (
        story.language
        if story.language == story.original_language
        else (f"{story.language} (rendition of the {story.original_language} original)")
    )
    lines = [
        f"{KIND_WORDS[event.event]}: {_line(story.headline)}",
        f"Watchlist: {_line(event.watchlist.name)} ({event.watchlist.id})",
        f"Matched in: {matched}",
        f"Story: {story.id}, version {story.version}, of {_when(story.versioncreated)}",
    ]
    if story.provider:
        lines.append(f"Provider: {_line(story.provider)}")
    if story.uri:
        lines.append(f"Link: {_line(story.uri)}")
    lines.append(f"Alert: {event.alert_id}, {event.event.value} at {_when(event.occurred_at)}")
    return "\n".join(lines)


def _event_html(event: AlertEvent) -> str:
    story = event.story
    e = html.escape
    link = f' <a href="{e(story.uri)}">link</a>' if story.uri else ""
    return (
        f"<li><strong>{e(KIND_WORDS[event.event])}:</strong> {e(_line(story.headline))}{link}<br>"
        f"{e(_line(event.watchlist.name))} · matched in {e(story.language)} · story {e(story.id)} "
        f"v{story.version} · {e(_when(event.occurred_at))}</li>"
    )


def message_for(events: Sequence[AlertEvent], to: Sequence[str], sender: str, now: datetime) -> EmailMessage:
    """The mail of one event, or the digest of several."""
    if len(events) == 1:
        event = events[0]
        subject = f"[wirewatch] {event.watchlist.name}: {KIND_WORDS[event.event]}: {event.story.headline}"
        intro = ""
    else:
        names = ", ".join(dict.fromkeys(e.watchlist.name for e in events))
        subject = f"[wirewatch] {len(events)} alerts: {names}"
        intro = f"{len(events)} alerts since {_when(min(e.occurred_at for e in events))}.\n\n"
    ids = "\n".join(e.event_id for e in events)
    domain = sender.rpartition("@")[2] or "wirewatch"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = _line(subject, MAX_SUBJECT_CHARS)
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = f"<{hashlib.sha256(ids.encode()).hexdigest()[:32]}.alert@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    if len(events) == 1:
        message["X-Wirewatch-Event-Id"] = events[0].event_id
    message.set_content(intro + "\n\n".join(event_text(e) for e in events) + "\n")
    items = "".join(_event_html(e) for e in events)
    message.add_alternative(f"<!doctype html><html><body><ul>{items}</ul></body></html>\n", subtype="html")
    return message


class EmailSender:
    """The `email` lanes' sender; without an SMTP server configured, deliveries wait and are retried."""

    def __init__(self, config: SmtpConfig | None) -> None:
        """Send through `config`; None holds mail back, each try failing with a hint to configure SMTP."""
        self.config = config

    @classmethod
    def from_settings(cls, settings: AlertsSettings) -> EmailSender:
        """The sender the settings describe (`WIREWATCH_ALERTS_SMTP_*`)."""
        if settings.alerts_smtp_host is None:
            return cls(None)
        return cls(
            SmtpConfig(
                host=settings.alerts_smtp_host,
                port=settings.alerts_smtp_port,
                sender=settings.alerts_smtp_from,
                starttls=settings.alerts_smtp_starttls,
                username=settings.alerts_smtp_username,
                password=settings.alerts_smtp_password,
                timeout_s=settings.alerts_smtp_timeout_s,
            )
        )

    def send(self, batch: LaneBatch) -> list[Outcome]:
        """Mail each due event at once, or the lane's due events as one digest when it is time."""
        first = batch.deliveries[0]
        channel = batch.channels[first.watchlist_id]
        if not isinstance(channel, EmailChannel):
            return [
                Outcome.failed(d.id, f"the lane's channel is {channel.type}, not email")
                for d in batch.deliveries
            ]
        if self.config is None:
            return [Outcome.retry(first.id, "no SMTP server is configured: set WIREWATCH_ALERTS_SMTP_HOST")]
        events: list[tuple[Delivery, AlertEvent]] = []
        outcomes: list[Outcome] = []
        for delivery in batch.deliveries:
            try:
                events.append((delivery, AlertEvent.model_validate_json(delivery.body)))
            except ValidationError as exc:
                outcomes.append(Outcome.failed(delivery.id, f"the event is not a valid alert: {brief(exc)}"))
        if not events:
            return outcomes
        if channel.digest_minutes:
            ready = min(d.due_at for d, _ in events) + timedelta(minutes=channel.digest_minutes)
            if batch.now < ready:
                return outcomes + [Outcome.waiting(d.id, ready) for d, _ in events]
            sent = self._mail([e for _, e in events], channel.to, batch.now)
            return outcomes + [_as(sent, d.id) for d, _ in events]
        for delivery, event in events:
            if batch.stop.is_set():
                break
            outcome = _as(self._mail([event], channel.to, batch.now), delivery.id)
            outcomes.append(outcome)
            if outcome.status == "retry":
                break
        return outcomes

    def _mail(self, events: Sequence[AlertEvent], to: Sequence[str], now: datetime) -> Outcome:
        """Send one mail; the outcome's delivery id is left empty for the caller to fill."""
        assert self.config is not None
        config = self.config
        message = message_for(events, to, config.sender, now)
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout_s) as smtp:
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if config.username is not None:
                    password = config.password.get_secret_value() if config.password is not None else ""
                    smtp.login(config.username, password)
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            said = f"the mail server refused every recipient (SMTP {', '.join(map(str, codes))})"
            return Outcome.failed("", said) if min(codes) >= 500 else Outcome.retry("", said)
        except _OURS as exc:
            return Outcome.retry("", f"the mail server refused our connection, login or sender: {_smtp(exc)}")
        except smtplib.SMTPResponseException as exc:
            said = f"the mail server answered {_smtp(exc)}"
            return Outcome.failed("", said) if exc.smtp_code >= 500 else Outcome.retry("", said)
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome.retry("", f"could not send through {config.host}:{config.port}: {brief(exc)}")
        if refused:
            # Delivered to the others; the refused ones would be refused again on a retry.
            log.warning(
                "some alert mail recipients were refused", extra={"refused": len(refused), "sent": len(to)}
            )
        return Outcome.delivered("")


def _smtp(exc: smtplib.SMTPResponseException) -> str:
    said = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"SMTP {exc.smtp_code} {_line(said, 200)}"


def _as(outcome: Outcome, delivery_id: str) -> Outcome:
    return Outcome(delivery_id, outcome.status, outcome.error, outcome.retry_after_s, outcome.not_before)
