"""Fault drill: the embedded stack under a steady stream of stories, broken one fault at a time.

    python tests/faults/run_faults.py            # the full drill (make test-faults)
    python tests/faults/run_faults.py --short    # every fault kind, shorter (part of make test)

What it does:

1. Builds the tiny test translation packages (en↔ar, en↔tr; meaningless output, real models),
   installs them into a temporary models dir, and starts `wirewatch up` on free ports with a
   temporary data dir, through `wirewatch_testkit.harness.RunningStack` (as tests/test_e2e_stack.py
   does); the pids it breaks are those `wirewatch up` records in DATA_DIR/run/<name>.pid.
2. Posts English stories to the ingest API at a steady rate (unique ids); every 202 is recorded as
   accepted with its time. Each accepted story must end up indexed in en, ar and tr.
3. Applies each fault in turn and measures how long the pipeline takes to flow again: from the end
   of the fault to the moment the first story accepted after the fault began is indexed in every
   language (`GET /v1/stories/{id}` shows en, ar and tr).
   - SIGKILL of ingest, translate and index (the index worker and the search API are one process:
     `python -m wirewatch_index` runs the worker as a thread of the API server, so one SIGKILL
     covers both); the supervisor restarts each.
   - SIGKILL of alerts (matcher, delivery and watchlist API in one process). One watchlist matches
     every drill story and has a webhook (a receiver in this script that checks each signature):
     recovery is when a story accepted after the kill reached the webhook.
   - The webhook endpoint answers 503 for a while (60 s; 10 s in --short); every alert made
     meanwhile must arrive once it answers again, once per idempotency key.
   - The broker: tansu is SIGKILLed; the supervisor must start a new, empty one on the same port,
     provision the topics and restart the services; the ingest ledger must re-publish every story
     without a receipt.
     It runs last, after a checkpoint: every story accepted so far must be indexed in every language
     (the stream goes on meanwhile), so what is lost afterwards is the broker's.
   - The search backend unavailable: the tantivy index directory made unwritable (as root, where
     permissions stop nothing, with `chattr +i`), so the worker's commits fail; it must retry without
     committing and catch up. With WIREWATCH_ELASTICSEARCH_URL set: `docker compose pause`.
   - Poison messages: garbage bytes and schema-invalid JSON written with an independent client
     (confluent-kafka) into every partition of stories, renditions and receipts; each must reach
     the dead-letter topic once per consumer group, and every partition must keep flowing.
   - A model package that fails to load: the en→tr model file is corrupted and translate restarted;
     renditions must come out `failed` while everything else continues; then the file is restored.
4. Stops posting, waits for the pipeline to drain, then counts per language: accepted, indexed,
   lost (accepted, never indexed) and duplicated (more than one document per story and language);
   and for alerts: every accepted story must have exactly one alert, delivered to the webhook.

A table goes to stdout and, as the last line, one JSON object. Exit status 1 when anything was
lost or duplicated, or a fault did not recover; 2 when the stack could not be started.
"""

# A command-line script: its table and JSON line on stdout are its output.
# ruff: noqa: T201

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wirewatch_alerts.alertstore import AlertStore
from wirewatch_common.bus import Admin
from wirewatch_common.story import Story
from wirewatch_common.topics import load_contract
from wirewatch_index.backends.tantivy_schema import SCHEMA_VERSION as TANTIVY_SCHEMA
from wirewatch_testkit.harness import RunningStack, StackFailed

LANGUAGES = ("en", "ar", "tr")
# Short enough for a drill: a story without a receipt is sent again after 20 s.
DRILL_ENV = {
    "WIREWATCH_INGEST_REPUBLISH_GRACE_S": "20",
    "WIREWATCH_INGEST_REPUBLISH_INTERVAL_S": "5",
    "WIREWATCH_INGEST_PUBLISH_TIMEOUT_S": "5",
    "WIREWATCH_TRANSLATE_INTRA_THREADS": "1",
    # The drill's webhook receiver is on loopback; retries capped short so an outage ends quickly.
    "WIREWATCH_ALERTS_WEBHOOK_ALLOW_PRIVATE": "true",
    "WIREWATCH_ALERTS_RETRY_BASE_S": "1",
    "WIREWATCH_ALERTS_RETRY_CAP_S": "5",
}
WEBHOOK_SECRET = "fault-drill-webhook-secret-0001"


@dataclass(frozen=True)
class Mode:
    """How long and how hard the drill runs."""

    rate: float  # stories per second
    warmup_s: float  # steady flow before the first fault
    settle_s: float  # steady flow between faults
    outage_s: float  # search backend unavailable
    model_window_s: float  # stories posted while the en→tr model is broken
    recover_deadline_s: float
    drain_deadline_s: float
    webhook_down_s: float  # the webhook endpoint answers 503 this long


FULL = Mode(
    rate=5.0,
    warmup_s=15,
    settle_s=10,
    outage_s=30,
    model_window_s=20,
    recover_deadline_s=180,
    drain_deadline_s=300,
    webhook_down_s=60,
)
SHORT = Mode(
    rate=4.0,
    warmup_s=4,
    settle_s=2,
    outage_s=8,
    model_window_s=6,
    recover_deadline_s=60,
    drain_deadline_s=90,
    webhook_down_s=10,
)
FAULTS = (
    "ingest",
    "translate",
    "index",
    "alerts",
    "webhook",
    "backend",
    "poison",
    "validpoison",
    "model",
    "broker",
)
"""In this order: the broker last, since a failure to recover from it would hide the others."""


def say(line: str) -> None:
    """Progress on stderr; stdout keeps the table and the JSON line."""
    stamp = datetime.now(tz=UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {line}", file=sys.stderr, flush=True)


# -- the stack ---------------------------------------------------------------------------------


class Stack(RunningStack):
    """The harness's `wirewatch up` with the drill's settings, its logs, and waits on restarts."""

    def __init__(self, root: Path) -> None:
        # Only the drill's own settings reach the stack; of the caller's, the search backend's URL.
        backend = {k: v for k, v in os.environ.items() if k == "WIREWATCH_ELASTICSEARCH_URL"}
        super().__init__(root, env=DRILL_ENV | backend, inherit_settings=False)

    def start(self, *args: str, timeout: float = 180.0) -> Stack:
        super().start(*args, timeout=timeout)
        if any("not ready in" in line for line in self.lines):
            msg = "a service did not get ready:\n" + self.output(40)
            raise StackFailed(msg)
        return self

    def pid_of(self, name: str) -> int:
        """The pid the supervisor recorded for a service (or `broker`) now."""
        pid = self.pid(name)
        if pid is None:
            msg = f"no pid file for {name} in {self.data_dir / 'run'}"
            raise StackFailed(msg)
        return pid

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60.0) -> int:
        """The pid of the process the supervisor started in place of `old_pid` (its pid file is rewritten)."""
        deadline = time.monotonic() + timeout
        while True:
            pid = self.pid(name)
            if pid is not None and pid != old_pid:
                return pid
            if time.monotonic() > deadline:
                msg = f"the supervisor did not restart {name} within {timeout:.0f} s"
                raise StackFailed(msg)
            time.sleep(0.1)

    def log_count(self, service: str, needle: str) -> int:
        path = self.data_dir / "logs" / f"{service}.log"
        try:
            return path.read_text(errors="replace").count(needle)
        except FileNotFoundError:
            return 0

    def stop(self, timeout: float = 90.0) -> int | None:
        """Stop as the harness does, and keep the supervisor's output next to the logs."""
        code = super().stop(timeout)
        (self.root / "up.log").write_text("".join(self.lines))
        return code


def make_unwritable(path: Path) -> Callable[[], None]:
    """Make a directory unwritable for the index worker and return what undoes it.

    As root, permissions stop nothing: `chattr +i` makes the directory immutable (nothing can be
    created, renamed or removed in it; reading goes on). Where chattr is refused (no
    CAP_LINUX_IMMUTABLE, a file system without it), the directory is moved aside and a plain file
    put in its place. As any other user, removing the write permission is enough.
    """
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        return lambda: path.chmod(mode)
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False).returncode == 0:
        return lambda: subprocess.run([chattr, "-i", str(path)], check=True)
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    path.write_text("the index directory is away for a fault drill\n")

    def undo() -> None:
        path.unlink()
        aside.rename(path)

    return undo


# -- HTTP ----------------------------------------------------------------------------------------


def http_json(url: str, data: bytes | None = None, timeout: float = 15.0) -> tuple[int, Any]:
    """One request; (status, JSON body or None); status 0 when the connection failed."""
    headers = {"content-type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, None
    except (OSError, ValueError):
        return 0, None


def indexed_languages(index_url: str, story_id: str) -> dict[str, list[str]] | None:
    """Documents the index holds for a story: language → statuses (one entry per document); None if down."""
    status, body = http_json(f"{index_url}/v1/stories/{story_id}", timeout=10)
    if status == 404:
        return {}
    if status != 200 or not isinstance(body, dict):
        return None
    found: dict[str, list[str]] = {}
    for doc in body.get("renditions", []):
        translation = doc.get("translation")
        found.setdefault(doc["language"], []).append(translation["status"] if translation else "original")
    return found


def complete(found: dict[str, list[str]] | None) -> bool:
    return found is not None and all(lang in found for lang in LANGUAGES)


# -- alerts: a watchlist every drill story matches, and a webhook receiver ----------------------


class Hooks(http.server.ThreadingHTTPServer):
    """The drill's webhook endpoint: keeps each delivery whose signature verifies; 503 while `down`."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HookHandler)
        self.lock = threading.Lock()
        self.down = False
        self.deliveries: list[dict[str, Any]] = []  # each verified delivery's event
        self.bad_signatures = 0
        self.refused = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/alerts"

    def created(self) -> dict[str, set[str]]:
        """Story id → the distinct idempotency keys of its `created` events."""
        with self.lock:
            out: dict[str, set[str]] = {}
            for event in self.deliveries:
                if event["event"] == "created":
                    out.setdefault(event["story"]["id"], set()).add(event["event_id"])
            return out

    def repeats(self) -> int:
        """Deliveries of a key already delivered (a retry whose first answer was lost); receivers drop them."""
        with self.lock:
            keys = [e["event_id"] for e in self.deliveries]
        return len(keys) - len(set(keys))


class _HookHandler(http.server.BaseHTTPRequestHandler):
    server: Hooks

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.server.lock:
            if self.server.down:
                self.server.refused += 1
                self.send_response(503)
                self.end_headers()
                return
            stamp = self.headers.get("x-wirewatch-timestamp", "")
            mac = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(self.headers.get("x-wirewatch-signature", ""), f"sha256={mac}"):
                event = json.loads(body)
                if event["event_id"] == self.headers.get("idempotency-key"):
                    self.server.deliveries.append(event)
            else:
                self.server.bad_signatures += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def add_watchlist(alerts_url: str, hook_url: str, run_id: str) -> str:
    """A watchlist every drill story matches (its headline says 'harbour ... drill'), with a webhook."""
    body = {
        "name": f"Harbour drill {run_id}",
        "query": "harbour drill",
        "channels": [
            {"type": "webhook", "url": hook_url, "secret": WEBHOOK_SECRET},
            {"type": "kafka"},
        ],
    }
    status, answer = http_json(f"{alerts_url}/v1/watchlists", json.dumps(body).encode())
    if status != 201 or not isinstance(answer, dict):
        msg = f"could not create the drill's watchlist: {status} {answer}"
        raise StackFailed(msg)
    return str(answer["id"])


def alerted_stories(data_dir: Path) -> Counter[str]:
    """Story id → how many alerts the alerts service holds for it (the drill has one watchlist)."""
    store = AlertStore(data_dir / "alerts" / "alerts.sqlite3")
    try:
        return Counter(alert.story.id for alert in store.all_alerts())
    finally:
        store.close()


# -- the steady stream -------------------------------------------------------------------------


@dataclass
class Accepted:
    story_id: str
    at: float


class Poster(threading.Thread):
    """Post one new English story every 1/rate seconds; record each 202 (accepted) and each refusal."""

    def __init__(self, ingest_url: str, rate: float, run_id: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{ingest_url}/v1/stories"
        self.interval = 1.0 / rate
        self.run_id = run_id
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.accepted: list[Accepted] = []
        self.refused: Counter[str] = Counter()
        self.sent = 0

    def document(self, n: int) -> bytes:
        now = datetime.now(tz=UTC).isoformat()
        return json.dumps(
            {
                "uri": f"urn:wirewatch-faults:{self.run_id}:{n}",
                "type": "text",
                "version": "1",
                "language": "en",
                "firstcreated": now,
                "versioncreated": now,
                "headlines": [{"role": "main", "value": f"Harbour crews hold fire drill number {n}"}],
                "bodies": [
                    {
                        "role": "main",
                        "contenttype": "text/plain",
                        "value": f"Crews at the harbour practised drill {n} on Tuesday.\n\n"
                        "Officials said the exercise went to plan and traffic was not affected.",
                    }
                ],
            }
        ).encode()

    def run(self) -> None:
        n = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            status, body = http_json(self.url, self.document(n))
            with self.lock:
                self.sent += 1
                if status == 202 and isinstance(body, dict):
                    for story in body.get("stories", []):
                        if story.get("outcome") == "accepted":
                            self.accepted.append(Accepted(story["id"], time.monotonic()))
                else:
                    self.refused[str(status or "connection failed")] += 1
            n += 1
            next_at = max(next_at + self.interval, time.monotonic() - 1.0)  # no burst after a slow answer
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def since(self, t: float) -> list[Accepted]:
        with self.lock:
            return [a for a in self.accepted if a.at >= t]

    def ids(self) -> list[str]:
        with self.lock:
            return [a.story_id for a in self.accepted]


# -- faults --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One fault's figures."""

    fault: str
    recovery_s: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fault": self.fault, "recovery_s": self.recovery_s}
        if self.skipped:
            out["skipped"] = self.skipped
        return out | self.details


class Drill:
    """Run the faults against one stack and keep the figures."""

    def __init__(
        self, stack: Stack, poster: Poster, mode: Mode, run_id: str, models_dir: Path, hooks: Hooks
    ) -> None:
        self.stack = stack
        self.hooks = hooks
        self.poster = poster
        self.mode = mode
        self.run_id = run_id
        self.models_dir = models_dir
        self.outcomes: list[Outcome] = []
        self.unwritable: Callable[[], None] | None = None  # undoes the backend outage
        self.before_broker: dict[str, int | float] | None = None

    # how long until a story accepted after `since` is indexed in every language
    def wait_flowing(
        self, since: float, end: float, *, want: dict[str, str] | None = None, sample: int = 6
    ) -> float | None:
        deadline = end + self.mode.recover_deadline_s
        while time.monotonic() < deadline:
            for accepted in self.poster.since(since)[:sample]:
                found = indexed_languages(self.stack.url("index"), accepted.story_id)
                if complete(found) and all(
                    status in (found or {}).get(lang, []) for lang, status in (want or {}).items()
                ):
                    return round(max(0.0, time.monotonic() - end), 2)
            time.sleep(0.25)
        return None

    def kill_service(self, name: str) -> Outcome:
        pid = self.stack.pid_of(name)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        new_pid = self.stack.wait_restarted(name, pid)
        restarted = round(time.monotonic() - t0, 2)
        label = "index (worker + API, one process)" if name == "index" else name
        return Outcome(
            f"SIGKILL {label}",
            self.wait_flowing(t0, t0),
            {"old_pid": pid, "new_pid": new_pid, "restarted_after_s": restarted},
        )

    def wait_alerted(self, since: float, end: float, sample: int = 6) -> float | None:
        """How long after `end` a story accepted after `since` reached the webhook."""
        deadline = end + self.mode.recover_deadline_s
        while time.monotonic() < deadline:
            created = self.hooks.created()
            if any(a.story_id in created for a in self.poster.since(since)[:sample]):
                return round(max(0.0, time.monotonic() - end), 2)
            time.sleep(0.25)
        return None

    def kill_alerts(self) -> Outcome:
        pid = self.stack.pid_of("alerts")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        new_pid = self.stack.wait_restarted("alerts", pid)
        restarted = round(time.monotonic() - t0, 2)
        return Outcome(
            "SIGKILL alerts (matcher + delivery + API, one process)",
            self.wait_alerted(t0, t0),
            {"old_pid": pid, "new_pid": new_pid, "restarted_after_s": restarted},
        )

    def webhook_down(self) -> Outcome:
        """The endpoint answers 503 for a while; every alert made meanwhile must arrive once it is back."""
        with self.hooks.lock:
            self.hooks.down = True
        t0 = time.monotonic()
        self.poster.stop.wait(self.mode.webhook_down_s)
        during = [a.story_id for a in self.poster.since(t0)]
        with self.hooks.lock:
            self.hooks.down = False
            refused = self.hooks.refused
        t1 = time.monotonic()
        deadline = t1 + self.mode.recover_deadline_s
        recovery = None
        while time.monotonic() < deadline:
            created = self.hooks.created()
            if all(story_id in created for story_id in during):
                recovery = round(time.monotonic() - t1, 2)
                break
            time.sleep(0.25)
        return Outcome(
            f"webhook endpoint down {self.mode.webhook_down_s:.0f} s (503)",
            recovery,
            {"stories_during_outage": len(during), "deliveries_refused": refused},
        )

    def restart_broker_empty(self) -> Outcome:
        pid = self.stack.pid_of("broker")
        republished_before = self.stack.log_count("ingest", "re-published stories without a receipt")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        # The supervisor stops every service, starts an empty broker (its pid file is rewritten once it
        # answers), provisions it, then starts the services again in order.
        try:
            new_pid = self.stack.wait_restarted("broker", pid, timeout=120.0)
        except StackFailed as exc:
            return Outcome("broker killed, restarted empty", details={"error": str(exc)})
        t1 = time.monotonic()
        recovery = self.wait_flowing(t0, t1)
        admin = Admin({"bootstrap_servers": [self.stack.bootstrap_servers]})
        try:
            partitions = admin.topic_partitions()
        finally:
            admin.close()
        # Clients reconnecting first may create a topic with the broker's default partitions before provisioning.
        contract = load_contract()
        wrong = {
            spec.name: partitions.get(spec.name)
            for spec in contract.topics.values()
            if partitions.get(spec.name) != spec.partitions
        }
        return Outcome(
            "broker killed, restarted empty",
            recovery,
            {
                "old_pid": pid,
                "new_pid": new_pid,
                "broker_down_s": round(t1 - t0, 2),
                "republish_rounds_so_far": self.stack.log_count(
                    "ingest", "re-published stories without a receipt"
                )
                - republished_before,
                "topics_with_wrong_partitions": wrong,
            },
        )

    def backend_outage(self) -> Outcome:
        if os.environ.get("WIREWATCH_ELASTICSEARCH_URL"):
            return self._elasticsearch_outage()
        path = self.stack.data_dir / "index" / f"tantivy-v{TANTIVY_SCHEMA}"
        if not path.is_dir():
            return Outcome("search backend unavailable", skipped=f"no tantivy index at {path}")
        transient_before = self.stack.log_count("index", "transient failure, will retry without committing")
        t0 = time.monotonic()
        self.unwritable = make_unwritable(path)
        indexed_during = 0
        try:
            self.poster.stop.wait(self.mode.outage_s)
            for accepted in self.poster.since(t0)[:20]:
                indexed_during += complete(indexed_languages(self.stack.url("index"), accepted.story_id))
        finally:
            self.unwritable()
            self.unwritable = None
        t1 = time.monotonic()
        recovery = self.wait_flowing(t0, t1)
        return Outcome(
            "search backend unavailable (tantivy index dir unwritable)",
            recovery,
            {
                "outage_s": round(t1 - t0, 1),
                "stories_indexed_during_outage": indexed_during,
                "transient_retries_logged": self.stack.log_count(
                    "index", "transient failure, will retry without committing"
                )
                - transient_before,
            },
        )

    def _elasticsearch_outage(self) -> Outcome:
        service = os.environ.get("WIREWATCH_FAULTS_ES_SERVICE", "elasticsearch")
        if shutil.which("docker") is None:
            return Outcome(
                "search backend unavailable", skipped="Elasticsearch set but no docker to pause it"
            )
        t0 = time.monotonic()
        subprocess.run(["docker", "compose", "pause", service], check=True)
        try:
            self.poster.stop.wait(self.mode.outage_s)
        finally:
            subprocess.run(["docker", "compose", "unpause", service], check=True)
        t1 = time.monotonic()
        return Outcome(
            "search backend unavailable (Elasticsearch paused)",
            self.wait_flowing(t0, t1),
            {"outage_s": round(t1 - t0, 1)},
        )

    def poison(self) -> Outcome:
        from confluent_kafka import Producer as RawProducer

        contract = load_contract()
        admin = Admin({"bootstrap_servers": [self.stack.bootstrap_servers]})
        try:
            partitions = admin.topic_partitions()
        finally:
            admin.close()
        groups = {
            contract.stories.name: ("wirewatch-translate", "wirewatch-index"),
            contract.renditions.name: ("wirewatch-index",),
            contract.receipts.name: ("wirewatch-ingest-receipts",),
        }
        producer = RawProducer({"bootstrap.servers": self.stack.bootstrap_servers})
        expected: set[tuple[str, str, str]] = set()
        t0 = time.monotonic()
        for topic, readers in groups.items():
            for partition in range(partitions[topic]):
                key = f"poison-{self.run_id}-{topic}-{partition}"
                if partition % 2 == 0:
                    value = b"\xff\xfe\x00garbage \x9c not json"
                else:  # valid JSON, not a valid story or receipt
                    value = json.dumps({"schema_version": 1, "id": "../etc/passwd", "version": -1}).encode()
                producer.produce(topic, value=value, key=key.encode(), partition=partition)
                expected.update((key, topic, group) for group in readers)
        if producer.flush(30) != 0:
            msg = "the poison messages were not all delivered"
            raise RuntimeError(msg)
        recovery = self.wait_flowing(t0, t0)
        # Every poison message must reach the dead-letter topic once per consumer group that read it.
        seen = self._dead_letters(expected)
        dead_lettered = expected & seen
        return Outcome(
            "poison message in every partition of stories, renditions, receipts",
            recovery,
            {
                "poison_messages": sum(partitions[t] for t in groups),
                "dead_letters_expected": len(expected),
                "dead_letters_found": len(dead_lettered),
                "dead_letter_seconds": round(time.monotonic() - t0, 1),
            },
        )

    def valid_poison(self) -> Outcome:
        """Stories that pass the schema but the search backend refuses (dated 2900: tantivy holds 1677-2262).

        Sent straight to the topics, as another producer could (ingest would have replaced the date):
        translate renders them, the index must dead-letter each language version and keep flowing.
        """
        from confluent_kafka import Producer as RawProducer

        contract = load_contract()
        admin = Admin({"bootstrap_servers": [self.stack.bootstrap_servers]})
        try:
            partitions = admin.topic_partitions()
        finally:
            admin.close()
        when = datetime(2900, 1, 1, tzinfo=UTC)
        producer = RawProducer({"bootstrap.servers": self.stack.bootstrap_servers})
        expected: set[tuple[str, str, str]] = set()
        t0 = time.monotonic()
        for topic in (contract.stories.name, contract.renditions.name):
            for partition in range(partitions[topic]):
                key = (
                    f"valid-poison-{self.run_id}-{partition}-{'s' if topic == contract.stories.name else 'r'}"
                )
                story = Story(
                    id=key,
                    uri=f"urn:faults:{key}",
                    version=1,
                    firstcreated=when,
                    versioncreated=when,
                    language="en",
                    headline="A story from the year 2900",
                    body=["Every field is valid; the search engine cannot hold the date."],
                )
                if topic == contract.renditions.name:
                    story = Story.model_validate(
                        story.model_dump()
                        | {
                            "language": "ar",
                            "headline": "قصة من عام 2900",
                            "body": ["كل حقل صالح."],
                            "translation": {
                                "of_id": key,
                                "of_version": 1,
                                "source_language": "en",
                                "target_language": "ar",
                                "status": "translated",
                                "translated_at": datetime.now(tz=UTC),
                            },
                        }
                    )
                else:  # translate renders it: its renditions are refused by the index too
                    expected.add((key, contract.renditions.name, "wirewatch-index"))
                producer.produce(topic, value=story.to_json(), key=key.encode(), partition=partition)
                expected.add((key, topic, "wirewatch-index"))
        if producer.flush(30) != 0:
            msg = "the poison stories were not all delivered"
            raise RuntimeError(msg)
        recovery = self.wait_flowing(t0, t0)
        seen = self._dead_letters(expected)
        return Outcome(
            "valid-looking poison (schema-valid stories and renditions the backend refuses)",
            recovery,
            {
                "poison_stories": len(expected),
                "dead_letters_expected": len(expected),
                "dead_letters_found": len(expected & seen),
                "dead_letter_seconds": round(time.monotonic() - t0, 1),
            },
        )

    def _dead_letters(self, expected: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """(key, original topic, group) of the dead letters, read until `expected` are all there."""
        from confluent_kafka import Consumer as RawConsumer
        from confluent_kafka import TopicPartition

        consumer = RawConsumer(
            {
                "bootstrap.servers": self.stack.bootstrap_servers,
                "group.id": f"faults-{self.run_id}-{uuid.uuid4().hex[:6]}",
                "enable.auto.commit": False,
            }
        )
        consumer.assign([TopicPartition(load_contract().deadletter.name, 0, 0)])
        seen: set[tuple[str, str, str]] = set()
        deadline = time.monotonic() + self.mode.recover_deadline_s
        try:
            while not expected <= seen and time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is None or message.error():
                    continue
                headers = {k: (v or b"").decode(errors="replace") for k, v in message.headers() or []}
                key = (message.key() or b"").decode(errors="replace")
                seen.add(
                    (
                        key,
                        headers.get("wirewatch-original-topic", ""),
                        headers.get("wirewatch-consumer-group", ""),
                    )
                )
        finally:
            consumer.close()
        return seen

    def _statuses(self, stories: list[Accepted]) -> dict[str, dict[str, int]]:
        counts: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES[1:]}
        for accepted in stories:
            found = indexed_languages(self.stack.url("index"), accepted.story_id) or {}
            for lang, counter in counts.items():
                counter.update(found.get(lang, ["not yet"]))
        return {lang: dict(counter) for lang, counter in counts.items()}

    def broken_model(self) -> Outcome:
        model = self.models_dir / "translate-en_tr-test" / "model" / "model.bin"
        backup = model.with_name("model.bin.good")
        shutil.copy2(model, backup)
        t0 = time.monotonic()
        try:
            model.write_bytes(b"this is not a CTranslate2 model\n" * 64)
            pid = self.stack.pid_of("translate")
            os.kill(pid, signal.SIGKILL)  # loaded models are cached: a restart makes it load the broken file
            self.stack.wait_restarted("translate", pid)
            recovery = self.wait_flowing(t0, t0, want={"tr": "failed"})
            self.poster.stop.wait(self.mode.model_window_s)
            window = self.poster.since(t0)
            broken = self._statuses(window)  # what the desks saw while the model was broken
        finally:
            shutil.move(backup, model)
        t1 = time.monotonic()
        pid = self.stack.pid_of("translate")
        os.kill(pid, signal.SIGKILL)
        self.stack.wait_restarted("translate", pid)
        healed = self.wait_flowing(t1, t1, want={"tr": "translated"})
        return Outcome(
            "model package fails to load (en→tr model.bin corrupted)",
            recovery,
            {
                "stories_in_window": len(window),
                "tr_statuses_while_broken": broken["tr"],
                "ar_statuses_while_broken": broken["ar"],
                "recovery_after_repair_s": healed,
            },
        )

    def run(self, faults: list[str]) -> None:
        steps = {
            "ingest": lambda: self.kill_service("ingest"),
            "translate": lambda: self.kill_service("translate"),
            "index": lambda: self.kill_service("index"),
            "alerts": self.kill_alerts,
            "webhook": self.webhook_down,
            "backend": self.backend_outage,
            "poison": self.poison,
            "validpoison": self.valid_poison,
            "model": self.broken_model,
            "broker": self.restart_broker_empty,
        }
        for name in faults:
            if name == "broker" and len(faults) > 1:
                self.checkpoint()
            step = steps[name]
            say(f"fault: {name}")
            outcome = step()
            self.outcomes.append(outcome)
            say(f"  -> {json.dumps(outcome.row(), ensure_ascii=False)}")
            self.poster.stop.wait(self.mode.settle_s)

    def checkpoint(self) -> None:
        """Before the broker fault: every story accepted so far must be indexed (the stream goes on)."""
        ids = self.poster.ids()
        t0 = time.monotonic()
        found = drain(self.stack.url("index"), ids, self.mode.drain_deadline_s)
        self.before_broker = {
            "stories": len(ids),
            "incomplete": sum(1 for story_id in ids if not complete(found.get(story_id))),
            "waited_s": round(time.monotonic() - t0, 1),
        }
        say(f"checkpoint before the broker fault: {json.dumps(self.before_broker)}")

    def cleanup(self) -> None:
        if self.unwritable is not None:
            self.unwritable()


# -- counting -----------------------------------------------------------------------------------


def drain(index_url: str, ids: list[str], deadline_s: float) -> dict[str, dict[str, list[str]]]:
    """Wait until every accepted story is indexed in every language, or the deadline; return what was found."""
    found: dict[str, dict[str, list[str]]] = {}
    pending = list(dict.fromkeys(ids))
    deadline = time.monotonic() + deadline_s
    while pending:
        still = []
        for story_id in pending:
            languages = indexed_languages(index_url, story_id)
            if languages is not None:
                found[story_id] = languages
            if not complete(languages):
                still.append(story_id)
        pending = still
        if not pending or time.monotonic() > deadline:
            break
        say(f"draining: {len(pending)} of {len(ids)} stories not yet indexed in every language")
        time.sleep(3)
    return found


def tally(ids: list[str], found: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, Any]]:
    """Per language: accepted, indexed, lost, duplicated and the statuses seen."""
    unique = list(dict.fromkeys(ids))
    out: dict[str, dict[str, Any]] = {}
    for lang in LANGUAGES:
        docs = [found.get(story_id, {}).get(lang, []) for story_id in unique]
        statuses = Counter(status for doc in docs for status in doc)
        out[lang] = {
            "accepted": len(unique),
            "indexed": sum(1 for d in docs if d),
            "lost": sum(1 for d in docs if not d),
            "duplicated": sum(1 for d in docs if len(d) > 1),
            "statuses": dict(statuses),
            "lost_ids": [story_id for story_id, d in zip(unique, docs, strict=True) if not d][:10],
        }
    return out


def tally_alerts(data_dir: Path, hooks: Hooks, ids: list[str], deadline_s: float) -> dict[str, Any]:
    """Wait for every accepted story's alert to be stored and delivered; count what is missing or doubled.

    One watchlist matches every story: each must have exactly one alert (the store's key makes a
    second impossible, so `duplicated` counts stories with several distinct `created` keys at the
    webhook), and its `created` event must have reached the webhook with a valid signature.
    """
    unique = list(dict.fromkeys(ids))
    deadline = time.monotonic() + deadline_s
    while True:
        stored = alerted_stories(data_dir)
        created = hooks.created()
        missing = [i for i in unique if not stored.get(i) or i not in created]
        if not missing or time.monotonic() > deadline:
            break
        say(f"draining alerts: {len(missing)} of {len(unique)} stories without a delivered alert")
        time.sleep(2)
    return {
        "stories": len(unique),
        "alerted": sum(1 for i in unique if stored.get(i)),
        "lost": sum(1 for i in unique if not stored.get(i)),
        "delivered": sum(1 for i in unique if i in created),
        "not_delivered": sum(1 for i in unique if stored.get(i) and i not in created),
        "duplicated": sum(1 for i in unique if stored.get(i, 0) > 1 or len(created.get(i, ())) > 1),
        "repeated_deliveries": hooks.repeats(),
        "bad_signatures": hooks.bad_signatures,
        "lost_ids": [i for i in unique if not stored.get(i) or i not in created][:10],
    }


def print_report(
    outcomes: list[Outcome],
    counts: dict[str, dict[str, Any]],
    alerts: dict[str, Any],
    summary: dict[str, Any],
) -> None:
    print("\nfault                                                               recovery_s  details")
    for o in outcomes:
        shown = (
            "skipped" if o.skipped else ("NOT RECOVERED" if o.recovery_s is None else f"{o.recovery_s:.2f}")
        )
        details = o.skipped or ", ".join(f"{k}={v}" for k, v in o.details.items())
        print(f"{o.fault:<68}{shown:>10}  {details}")
    print("\nlanguage  accepted  indexed  lost  duplicated  statuses")
    for lang, c in counts.items():
        print(
            f"{lang:<10}{c['accepted']:>8}{c['indexed']:>9}{c['lost']:>6}{c['duplicated']:>12}  {c['statuses']}"
        )
    print(
        f"\nalerts: {alerts['stories']} stories, {alerts['alerted']} alerted, {alerts['lost']} lost,"
        f" {alerts['delivered']} delivered by webhook, {alerts['not_delivered']} not delivered,"
        f" {alerts['duplicated']} duplicated ({alerts['repeated_deliveries']} repeated deliveries of one key)"
    )
    print(json.dumps(summary, ensure_ascii=False))


# -- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="every fault, fewer stories, 8 s backend outage")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) afterwards")
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help=f"comma-separated subset of {','.join(FAULTS)}"
    )
    args = parser.parse_args(argv)
    faults = [f for f in args.faults.split(",") if f]
    if unknown := set(faults) - set(FAULTS):
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    # SIGTERM (a timeout, the test wrapper) unwinds through `finally`, so nothing is left running.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    mode = SHORT if args.short else FULL
    run_id = uuid.uuid4().hex[:8]
    root = Path(tempfile.mkdtemp(prefix="wirewatch-faults-"))
    started = time.monotonic()
    stack = Stack(root)
    poster: Poster | None = None
    drill: Drill | None = None
    hooks = Hooks()
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    try:
        say(f"building test translation packages; logs in {root}")
        say("starting wirewatch up")
        try:
            stack.install_test_packages()
            stack.start()
        except (StackFailed, subprocess.CalledProcessError) as exc:
            say(str(exc))
            return 2
        watchlist = add_watchlist(stack.url("alerts"), hooks.url, run_id)
        say(f"watchlist {watchlist} matches every drill story; webhook at {hooks.url}")
        poster = Poster(stack.url("ingest"), mode.rate, run_id)
        poster.start()
        drill = Drill(stack, poster, mode, run_id, stack.model_dir, hooks)
        poster.stop.wait(mode.warmup_s)
        warm = drill.wait_flowing(started, time.monotonic())
        say(f"stories flowing (first complete {warm} s after warm-up)")
        drill.run(faults)
        poster.stop.set()
        poster.join(30)
        ids = poster.ids()
        say(f"{len(ids)} stories accepted; draining")
        stalled = any(o.recovery_s is None and not o.skipped for o in drill.outcomes)
        found = drain(stack.url("index"), ids, 30 if stalled else mode.drain_deadline_s)
        counts = tally(ids, found)
        alerts = tally_alerts(stack.data_dir, hooks, ids, 30 if stalled else mode.drain_deadline_s)
        lost = sum(c["lost"] for c in counts.values()) + alerts["lost"] + alerts["not_delivered"]
        duplicated = sum(c["duplicated"] for c in counts.values()) + alerts["duplicated"]
        unrecovered = [o.fault for o in drill.outcomes if o.recovery_s is None and not o.skipped]
        summary = {
            "mode": "short" if args.short else "full",
            "rate_per_s": mode.rate,
            "posted": poster.sent,
            "accepted": len(set(ids)),
            "refused_posts": dict(poster.refused),
            "faults": [o.row() for o in drill.outcomes],
            "languages": {
                lang: {k: v for k, v in c.items() if k != "lost_ids"} for lang, c in counts.items()
            },
            "lost_ids": {lang: c["lost_ids"] for lang, c in counts.items() if c["lost_ids"]},
            "alerts": alerts,
            "checkpoint_before_broker": drill.before_broker,
            "lost": lost,
            "duplicated": duplicated,
            "not_recovered": unrecovered,
            "wall_s": round(time.monotonic() - started, 1),
        }
        print_report(drill.outcomes, counts, alerts, summary)
        incomplete_before_broker = (drill.before_broker or {}).get("incomplete", 0)
        return 1 if lost or duplicated or unrecovered or incomplete_before_broker else 0
    finally:
        if poster is not None:
            poster.stop.set()
        if drill is not None:
            drill.cleanup()
        stack.stop()
        hooks.shutdown()
        hooks.server_close()
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
