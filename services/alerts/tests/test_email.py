"""Email delivery against a real SMTP server (aiosmtpd) started in the test: single mails, digests, refusals."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from wirewatch_alerts.alerting import Hit
from wirewatch_alerts.alertstore import AlertStore
from wirewatch_alerts.backoff import Backoff
from wirewatch_alerts.delivery import DeliveryWorker
from wirewatch_alerts.email import EmailSender, SmtpConfig, message_for
from wirewatch_alerts.settings import AlertsSettings
from wirewatch_alerts.store import SqliteWatchlistStore
from wirewatch_alerts.watchlists import Watchlist, WatchlistCreate, new_watchlist
from wirewatch_common.alert_event import AlertEvent, StoryRef
from wirewatch_common.broker import free_port

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
FROM = "alerts@wirewatch.example"


class Mailbox:
    """aiosmtpd handler: keeps every mail; a recipient named nobody@ is refused for good, busy@ for now."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def mail_watch(
    watchlists: SqliteWatchlistStore, to: list[str], digest: int = 0, name: str = "Quakes"
) -> Watchlist:
    spec = WatchlistCreate.model_validate(
        {"name": name, "query": "deprem", "channels": [{"type": "email", "to": to, "digest_minutes": digest}]}
    )
    wl = new_watchlist(spec, now=T0, max_query_chars=500)[0]
    watchlists.add(wl)
    return wl


def record(
    alerts: AlertStore,
    wl: Watchlist,
    story: str,
    at: datetime,
    headline: str = "Deprem",
    language: str = "tr",
) -> AlertEvent:
    ref = StoryRef(
        id=story,
        version=1,
        language=language,
        original_language="en",
        headline=headline,
        versioncreated=at,
        provider="Example Wire",
        uri=f"https://wire.example/{story}",
    )
    (event,) = alerts.record([Hit(wl.id, ref, original=False, release_at=at)], [], {wl.id: wl}, at).events
    return event


def sender(port: int) -> EmailSender:
    return EmailSender(SmtpConfig(host="127.0.0.1", port=port, sender=FROM, starttls=False, timeout_s=5))


def deliver(alerts, watchlists, mail: EmailSender, clock: Callable[[], datetime]) -> DeliveryWorker:
    """Start the due lanes once and wait until they are done."""
    worker = DeliveryWorker(
        alerts, watchlists, {"email": mail}, retry=Backoff(base_s=60, max_age_s=3600), clock=clock
    )
    worker.start_due(threading.Event())
    deadline = time.monotonic() + 20
    while worker.busy():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return worker


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content()


def test_each_event_is_one_mail_at_once_naming_headline_language_and_story(smtp, stores):
    mailbox, port = smtp
    alerts, watchlists = stores
    wl = mail_watch(watchlists, ["desk@example.org", "Chief@Example.org"])
    first = record(alerts, wl, "s-1", T0, headline="Deprem <b>İzmir</b> & Ege", language="tr")
    second = record(alerts, wl, "s-2", T0 + timedelta(seconds=5), headline="زلزال", language="ar")
    deliver(alerts, watchlists, sender(port), Clock(T0 + timedelta(seconds=6)))
    (state,) = alerts.lane_states(wl.id)
    assert (state.delivered, state.pending) == (2, 0)
    assert [sorted(m[1]) for m in mailbox.mails] == [["Chief@example.org", "desk@example.org"]] * 2
    (sent_from, _, one), (_, _, two) = mailbox.mails
    assert sent_from == FROM and one["From"] == FROM
    assert one["Subject"] == "[wirewatch] Quakes: New match: Deprem <b>İzmir</b> & Ege"
    assert one["Auto-Submitted"] == "auto-generated" and one["X-Wirewatch-Event-Id"] == first.event_id
    body = text_of(one)
    assert "New match: Deprem <b>İzmir</b> & Ege" in body
    assert "Matched in: tr (rendition of the en original)" in body
    assert "Story: s-1, version 1, of 2026-12-01 08:00 UTC" in body and "https://wire.example/s-1" in body
    html_part = one.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "Deprem &lt;b&gt;İzmir&lt;/b&gt; &amp; Ege" in html and "<b>" not in html
    assert "Matched in: ar (rendition of the en original)" in text_of(two) and "زلزال" in text_of(two)
    assert two["X-Wirewatch-Event-Id"] == second.event_id and one["Message-ID"] != two["Message-ID"]


def test_a_mail_sent_again_carries_the_same_message_id():
    event = AlertEvent.model_validate(
        {
            "event_id": "al-0123456789abcdef:created:1",
            "event": "created",
            "alert_id": "al-0123456789abcdef",
            "watchlist": {"id": "wl-0123456789ab", "name": "Quakes\nand more"},
            "story": {
                "id": "s-1",
                "version": 1,
                "language": "en",
                "original_language": "en",
                "headline": "Quake\r\nBcc: someone@evil.example",
                "versioncreated": T0,
            },
            "matched_at": T0,
            "occurred_at": T0,
        }
    )
    first = message_for([event], ["desk@example.org"], FROM, T0)
    again = message_for([event], ["desk@example.org"], FROM, T0 + timedelta(minutes=3))
    assert first["Message-ID"] == again["Message-ID"] and first["Message-ID"].endswith("@wirewatch.example>")
    assert first["Subject"] == "[wirewatch] Quakes and more: New match: Quake Bcc: someone@evil.example"
    assert first["Bcc"] is None  # a headline's line break cannot add a header
    assert "Matched in: en\n" in text_of(first)


def test_a_digest_waits_for_its_period_then_mails_every_due_event_once(smtp, stores):
    mailbox, port = smtp
    alerts, watchlists = stores
    wl = mail_watch(watchlists, ["desk@example.org"], digest=15)
    events = [
        record(alerts, wl, f"s-{n}", T0 + timedelta(minutes=2 * n), headline=f"Deprem {n}") for n in range(3)
    ]
    clock = Clock(T0 + timedelta(minutes=10))
    mail = sender(port)
    deliver(alerts, watchlists, mail, clock)
    (state,) = alerts.lane_states(wl.id)
    assert mailbox.mails == [] and (state.pending, state.delivered) == (3, 0)  # the oldest is 10 minutes old
    clock.now = T0 + timedelta(minutes=15)
    deliver(alerts, watchlists, mail, clock)
    (state,) = alerts.lane_states(wl.id)
    assert (state.pending, state.delivered) == (0, 3)
    ((_, to, digest),) = mailbox.mails
    assert to == ["desk@example.org"] and digest["Subject"] == "[wirewatch] 3 alerts: Quakes"
    body = text_of(digest)
    assert [body.index(f"Deprem {n}") for n in range(3)] == sorted(
        body.index(f"Deprem {n}") for n in range(3)
    )
    assert all(e.story.id in body for e in events) and digest["X-Wirewatch-Event-Id"] is None
    later = record(alerts, wl, "s-9", T0 + timedelta(minutes=16), headline="Deprem 9")
    clock.now = T0 + timedelta(minutes=20)
    deliver(alerts, watchlists, mail, clock)
    assert len(mailbox.mails) == 1  # the next digest gathers from the first event after the last mail
    clock.now = T0 + timedelta(minutes=31)
    deliver(alerts, watchlists, mail, clock)
    assert len(mailbox.mails) == 2 and later.story.id in text_of(mailbox.mails[1][2])


def test_a_recipient_refused_for_good_gives_up_and_one_refused_for_now_retries(smtp, stores):
    mailbox, port = smtp
    alerts, watchlists = stores
    gone = mail_watch(watchlists, ["nobody@example.org"], name="Gone")
    busy = mail_watch(watchlists, ["busy@example.org"], name="Busy")
    record(alerts, gone, "s-1", T0)
    record(alerts, busy, "s-1", T0)
    deliver(alerts, watchlists, sender(port), Clock(T0))
    (refused,) = alerts.lane_states(gone.id)
    assert refused.failed == 1 and refused.last_error is not None and "SMTP 550" in refused.last_error
    (waiting,) = alerts.lane_states(busy.id)
    assert waiting.pending == 1 and waiting.last_error is not None and "SMTP 451" in waiting.last_error
    assert mailbox.mails == []


def test_a_mail_server_that_is_down_or_missing_leaves_mail_waiting(stores):
    alerts, watchlists = stores
    wl = mail_watch(watchlists, ["desk@example.org"])
    record(alerts, wl, "s-1", T0)
    port = free_port()  # nothing listens there
    deliver(alerts, watchlists, sender(port), Clock(T0))
    (state,) = alerts.lane_states(wl.id)
    assert state.pending == 1 and state.last_error is not None and f"127.0.0.1:{port}" in state.last_error
    unconfigured = EmailSender.from_settings(AlertsSettings())
    deliver(alerts, watchlists, unconfigured, Clock(T0 + timedelta(minutes=10)))
    (state,) = alerts.lane_states(wl.id)
    assert (
        state.pending == 1
        and state.last_error is not None
        and "WIREWATCH_ALERTS_SMTP_HOST" in state.last_error
    )


def test_the_settings_make_the_smtp_config():
    settings = AlertsSettings(
        alerts_smtp_host="smtp.example.org",
        alerts_smtp_port=2525,
        alerts_smtp_from=FROM,
        alerts_smtp_username="wirewatch",
        alerts_smtp_password="hunter2-but-longer",
        alerts_smtp_starttls=False,
    )
    config = EmailSender.from_settings(settings).config
    assert config is not None and (config.host, config.port, config.sender) == (
        "smtp.example.org",
        2525,
        FROM,
    )
    assert config.password is not None and config.password.get_secret_value() == "hunter2-but-longer"
    assert "hunter2" not in repr(config) and "hunter2" not in str(settings.changed())
