"""Accept → webhook latency of an alert: the embedded stack, one watchlist, stories at a steady rate.

`wirewatch up` runs on free ports in a temporary folder with the offline test translation
packages (translation is cheap with them; an original-language match does not wait for it anyway).
One watchlist matches every story in its original language (English) and has a webhook: a
receiver in this process notes when each story's `created` event arrives. English stories are
posted to the ingest API at `rate` per second; each latency runs from the 202 to the delivery.
Goal (issue 16): p99 ≤ 2 s at 1 story/s.

Run through `bench/alerts.py --part latency`.
"""

from __future__ import annotations

import http.server
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from wirewatch_stack.client import post_document
from wirewatch_testkit.harness import RunningStack

GOAL_P99_S = 2.0
SECRET = "bench-webhook-secret-0123456789"


class Receiver(http.server.ThreadingHTTPServer):
    """Webhook endpoint that notes when each story's `created` event first arrived."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        at = time.monotonic()
        event = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        if event.get("event") == "created":
            with self.server.lock:
                self.server.arrived.setdefault(event["story"]["id"], at)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _story(n: int, run: str) -> bytes:
    return (
        f"Harbour berth {n} reopens after inspection {run}\n\n"
        f"PORT CALDER (Wirewatch Bench) - The harbour authority reopened berth {n} on Wednesday after "
        "an inspection found no damage to the quay wall.\n\n"
        "Shipping agents said deliveries would be a day late at most.\n"
    ).encode()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(rate: float, seconds: float, drain_s: float = 30.0) -> dict[str, Any]:
    """Run the stack, send stories, and return the latency figures."""
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    root = Path(tempfile.mkdtemp(prefix="wirewatch-alerts-latency-"))
    stack = RunningStack(root, env={"WIREWATCH_ALERTS_WEBHOOK_ALLOW_PRIVATE": "true"}, inherit_settings=False)
    accepted: dict[str, float] = {}
    try:
        stack.install_test_packages()
        stack.start(timeout=180)
        body = {
            "name": "Harbour berths",
            "query": "harbour berth",
            "filters": {"languages": ["en"]},
            "channels": [{"type": "webhook", "url": receiver.url, "secret": SECRET}],
        }
        request = urllib.request.Request(
            f"{stack.url('alerts')}/v1/watchlists",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()
        run = str(int(time.time()))
        # One warm-up story: every consumer group joins before anything is timed.
        post_document(stack.url("ingest"), "warm-up", _story(0, run), "text/plain")
        deadline = time.monotonic() + 90
        while not receiver.arrived and time.monotonic() < deadline:
            time.sleep(0.2)
        warm = set(receiver.arrived)
        _progress(f"warm: {len(warm)} alert(s); sending {rate}/s for {seconds:.0f} s")
        start = time.monotonic()
        n = 1
        while time.monotonic() - start < seconds:
            due = start + (n - 1) / rate
            time.sleep(max(0.0, due - time.monotonic()))
            upload = post_document(stack.url("ingest"), f"story-{n}", _story(n, run), "text/plain")
            at = time.monotonic()
            stories = upload.body.get("stories") if upload.ok else None
            if isinstance(stories, list):
                for story in stories:
                    accepted[str(story["id"])] = at
            n += 1
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline:
            with receiver.lock:
                if all(sid in receiver.arrived for sid in accepted):
                    break
            time.sleep(0.2)
    finally:
        stack.stop()
        receiver.shutdown()
        receiver.server_close()
    with receiver.lock:
        latencies = [receiver.arrived[s] - t for s, t in accepted.items() if s in receiver.arrived]
    missing = len(accepted) - len(latencies)
    figures: dict[str, Any] = {
        "rate_per_s": rate,
        "stories": len(accepted),
        "delivered": len(latencies),
        "missing": missing,
    }
    if latencies:
        figures |= {
            "p50_s": round(statistics.median(latencies), 3),
            "p99_s": round(_percentile(latencies, 0.99), 3),
            "max_s": round(max(latencies), 3),
            "goal_p99_s": GOAL_P99_S,
            "goal_met": _percentile(latencies, 0.99) <= GOAL_P99_S and missing == 0,
        }
    return figures
