"""Watchlists end to end: `wirewatch up`, the CLI, the APIs, a webhook receiver and a Kafka reader of our own.

- An Arabic query alerts on an English story through its Arabic rendition and names `ar`; the
  webhook's signature verifies with the watchlist's secret.
- An update of a matched story does not alert again (the watchlist did not ask); a kill withdraws
  the alert and tells the webhook that heard of it.
- An embargoed story alerts only once its embargo lifts, in the alerts API and on the
  `wirewatch.alerts` topic, read by confluent-kafka and validated against the published schema.
- The Atom feed of a watchlist, read with its feed token, carries the alert.

The test translation packages produce nonsense in the target script, but always the same nonsense
for the same sentence: the Arabic query word is taken from the rendition of a first story, and a
second story with the same text (another id) must then alert through its Arabic version.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import re
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from jsonschema import Draft202012Validator

from wirewatch_common.topics import load_contract
from wirewatch_stack.client import post_document
from wirewatch_testkit.harness import RunningStack, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "deploy" / "schemas" / "alert.schema.json").read_text())
SECRET = "e2e-webhook-secret-0123456789"
WAIT_S = 90.0
BODY = (
    "The harbour authority said on Monday that the northern pier will close for repairs.",
    "Ferries will use the southern pier until the work ends in the spring.",
)


class Hooks(http.server.ThreadingHTTPServer):
    """A webhook receiver that keeps every delivery it got."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HookHandler)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]


class _HookHandler(http.server.BaseHTTPRequestHandler):
    server: Hooks

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.server.lock:
            self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def ninjs(uri: str, headline: str, *, version: int = 1, body: tuple[str, ...] = BODY, **extra: Any) -> bytes:
    item = {
        "uri": uri,
        "type": "text",
        "version": str(version),
        "versioncreated": (datetime(2026, 11, 30, 8, 0, tzinfo=UTC) + timedelta(minutes=version)).isoformat(),
        "language": "en",
        "headlines": [{"role": "main", "value": headline}],
        "bodies": [{"role": "main", "contenttype": "text/plain", "value": "\n\n".join(body)}],
        **extra,
    }
    return json.dumps(item).encode()


def post(stack: RunningStack, data: bytes) -> str:
    upload = post_document(stack.url("ingest"), "e2e.json", data, "application/json")
    assert upload.ok, upload
    stories = upload.body["stories"]
    assert isinstance(stories, list)
    (story_id,) = {s["id"] for s in stories}
    return str(story_id)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def wait(what: str, probe: Any, stack: RunningStack, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not in time\n{stack.output()}"
        time.sleep(0.5)


def rendition(stack: RunningStack, story_id: str, language: str) -> dict[str, Any] | None:
    try:
        record = get(f"{stack.url('index')}/v1/stories/{story_id}")
    except urllib.error.HTTPError:
        return None
    found = [r for r in record["renditions"] if r["language"] == language]
    return found[0] if found and (found[0].get("translation") or {}).get("status") == "translated" else None


def watch_add(stack: RunningStack, *args: str) -> tuple[str, str]:
    done = stack.command("watch", "add", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    wl = re.search(r"created (wl-[0-9a-f]{12})", done.stdout)
    token = re.search(r"feed token \(shown once, keep it\): (\S+)", done.stdout)
    assert wl and token, done.stdout
    return wl.group(1), token.group(1)


def alerts_of(stack: RunningStack, watchlist_id: str) -> list[dict[str, Any]]:
    return list(get(f"{stack.url('alerts')}/v1/watchlists/{watchlist_id}/alerts")["alerts"])


def verify(headers: dict[str, str], body: bytes) -> bool:
    stamp = headers["x-wirewatch-timestamp"]
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-wirewatch-signature"], f"sha256={mac}")


def test_watchlists_alert_across_languages_hold_embargoes_and_withdraw_kills(tmp_path):
    hooks = Hooks()
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    stack = RunningStack(
        tmp_path,
        env={
            "WIREWATCH_ALERTS_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
            "WIREWATCH_INGEST_REPUBLISH_GRACE_S": "600",
        },
    )
    try:
        stack.install_test_packages()
        stack.start(timeout=120)

        # A first English story: its Arabic rendition gives the query word.
        first = post(stack, ninjs("urn:e2e:alerts:first", "Harbour pier to close for repairs"))
        arabic = wait("the Arabic rendition", lambda: rendition(stack, first, "ar"), stack)
        text = " ".join([arabic["headline"], *arabic["body"]])
        words = [w for w in re.findall(r"\w+", text) if len(w) >= 2 and not w.isascii()]
        assert words, text
        word = max(words, key=len)
        ar_list, _ = watch_add(
            stack, "Arabic desk", word, "--lang", "ar", "--webhook", hooks.url, "--webhook-secret", SECRET
        )
        en_list, en_token = watch_add(stack, "Harbour desk", "harbour pier", "--lang", "en")
        # (`watch add` has no channel flags for feed/kafka: the API adds the kafka channel.)
        patch = urllib.request.Request(
            f"{stack.url('alerts')}/v1/watchlists/{en_list}",
            data=json.dumps({"channels": [{"type": "kafka"}, {"type": "feed"}]}).encode(),
            headers={"content-type": "application/json"},
            method="PATCH",
        )
        urllib.request.urlopen(patch, timeout=10).close()

        # The same text under another id: the Arabic watchlist hears of it through its rendition.
        second = post(stack, ninjs("urn:e2e:alerts:second", "Harbour pier to close for repairs"))
        created = wait(
            "the webhook's created event",
            lambda: [e for e in hooks.events() if e["story"]["id"] == second and e["event"] == "created"],
            stack,
        )
        (event,) = created
        assert event["watchlist"]["id"] == ar_list and event["story"]["language"] == "ar"
        assert event["story"]["original_language"] == "en"
        headers, body = next(
            (h, b) for h, b in hooks.received if json.loads(b)["event_id"] == event["event_id"]
        )
        assert verify(headers, body) and headers["idempotency-key"] == event["event_id"]

        # An update that still matches: the alert follows it, the webhook hears nothing (not asked).
        update = (*BODY, "Work on the pier starts on Thursday.")  # a write-through: new copy, same story
        post(
            stack, ninjs("urn:e2e:alerts:second", "Harbour pier to close for repairs", version=2, body=update)
        )
        wait(
            "the alert to follow version 2",
            lambda: [a for a in alerts_of(stack, ar_list) if a["story"]["version"] == 2],
            stack,
        )
        # A kill withdraws it and tells the webhook.
        post(stack, ninjs("urn:e2e:alerts:second", "KILL", version=3, pubstatus="canceled"))
        withdrawn = wait(
            "the webhook's withdrawn event",
            lambda: [e for e in hooks.events() if e["story"]["id"] == second and e["event"] == "withdrawn"],
            stack,
        )
        assert len(withdrawn) == 1
        assert [e["event"] for e in hooks.events() if e["story"]["id"] == second] == ["created", "withdrawn"]

        # An embargoed story alerts only once the embargo lifts.
        release = datetime.now(tz=UTC) + timedelta(seconds=25)
        held = post(
            stack,
            ninjs("urn:e2e:alerts:held", "Harbour pier reopens", embargoed=release.isoformat()),
        )
        time.sleep(8)
        assert held not in {a["story"]["id"] for a in alerts_of(stack, en_list)}, "alerted before release"
        wait(
            "the embargoed alert after release",
            lambda: [a for a in alerts_of(stack, en_list) if a["story"]["id"] == held],
            stack,
        )
        assert datetime.now(tz=UTC) >= release

        # Downstream systems read the alerts topic with their own client; every value validates.
        contract = load_contract()
        messages = wait(
            "the alerts topic",
            lambda: read_topic(stack.bootstrap_servers, contract.alerts.name, contract.alerts.partitions, 10),
            stack,
        )
        validator = Draft202012Validator(SCHEMA)
        for message in messages:
            doc = json.loads(message.value())
            assert not list(validator.iter_errors(doc))
            assert message.key().decode() == doc["watchlist"]["id"] == en_list
        assert held in {json.loads(m.value())["story"]["id"] for m in messages}

        # The operator sees each watchlist's last match and its webhook's deliveries.
        status = stack.command("status")
        row = next((line for line in status.stdout.splitlines() if ar_list in line), "")
        assert "webhook:http://127.0.0.1" in row and "never" not in row, status.stdout

        # Feed readers cannot send a key: the feed token in the URL reads the Atom feed.
        query = urllib.parse.urlencode({"token": en_token})
        with urllib.request.urlopen(
            f"{stack.url('alerts')}/v1/watchlists/{en_list}/feed.atom?{query}", timeout=10
        ) as response:
            feed = feedparser.parse(response.read())
        assert feed.version == "atom10" and not feed.bozo
        assert any("Harbour pier reopens" in entry.title for entry in feed.entries)
    finally:
        stack.stop()
        hooks.shutdown()
        hooks.server_close()
