"""End to end: accept (HTTP 202) → searchable latency of the embedded stack, per language version.

Starts `wirewatch up` (broker, ingest, translate, index as separate processes, as `make run` does)
in a temporary directory on free ports, with the offline test translation packages installed
(they make translation cheap, so this measures the pipeline itself: HTTP, ledger, Kafka hops,
consumer batches, tantivy commits, receipts). After one warm-up story has made every consumer
group join, English agency stories are posted at a steady rate; a client follows the search API's
live stream (/v1/stream, Server-Sent Events) and notes when each story first shows each of its
language versions: `en` (the original), `ar` and `tr` (renditions).

Goal: p99 ≤ 5 s for every language at 5 stories/s on 2 cores.

Usage: `uv run python bench/e2e.py [--rate 5] [--seconds 60]`. A table goes to stdout and, as
the last line, one JSON object with the figures; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from wirewatch_stack.client import post_document
from wirewatch_testkit.harness import SERVICES, RunningStack

LANGUAGES = ("en", "ar", "tr")
STREAM_INTERVAL_S = 0.2
GOAL_P99_S = 5.0


def story_text(n: int, run: str) -> bytes:
    """An English agency story of ordinary length; the number and run make every one distinct."""
    return (
        f"Harbour authority reopens berth {n} after inspection {run}\n\n"
        f"PORT CALDER (Wirewatch Bench) - The harbour authority reopened berth {n} on Wednesday after "
        "an inspection found no damage to the quay wall, ending a closure that had held up three "
        "container ships for most of the week.\n\n"
        "Engineers checked the foundations with divers and sonar after a cargo vessel struck the "
        "fenders during a storm on Sunday night, the authority said in a statement.\n\n"
        f'"We expect normal traffic at berth {n} from tomorrow morning," harbour master Elin Varga '
        "told reporters, adding that the night shift would be doubled to clear the backlog.\n\n"
        "Shipping agents said deliveries of fruit and building materials would be a day late at most.\n"
    ).encode()


class StreamWatcher:
    """Follow /v1/stream and note the first time each (story id, language) is seen."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.first_seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Connect in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following (the connection closes with the stack)."""
        self._stop.set()

    def seen(self, story_id: str, lang: str) -> float | None:
        """When a language version of a story was first seen (time.monotonic), or None."""
        with self._lock:
            return self.first_seen.get((story_id, lang))

    def _run(self) -> None:
        try:
            with urllib.request.urlopen(f"{self._url}/v1/stream", timeout=60) as response:
                for raw in response:
                    if self._stop.is_set():
                        return
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    if not line.startswith("data: "):
                        continue
                    now = time.monotonic()
                    hit = json.loads(line[len("data: ") :])
                    if "story_id" not in hit:
                        continue
                    with self._lock:
                        for lang in hit.get("languages") or []:
                            self.first_seen.setdefault((hit["story_id"], lang), now)
        except Exception as exc:  # noqa: BLE001 - reported in the figures, the run goes on
            self.error = repr(exc)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def peak_rss_mb(stack: RunningStack) -> dict[str, float]:
    """Each process's peak resident memory (VmHWM) while it is still running."""
    peaks = {}
    for name in SERVICES:
        pid = stack.pid(name)
        if pid is None:
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[name] = round(int(line.split()[1]) / 1024, 1)
    return peaks


def wait_all(watcher: StreamWatcher, ids: list[str], deadline: float) -> None:
    """Wait until every story was seen in every language, or the deadline passes."""
    while time.monotonic() < deadline:
        if all(watcher.seen(i, lang) is not None for i in ids for lang in LANGUAGES):
            return
        time.sleep(0.1)


def run(rate: float, seconds: float, drain_s: float) -> dict[str, Any]:
    """Start the stack, send the stories, measure; return the figures."""
    run_id = str(int(time.time()))
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-") as tmp:
        stack = RunningStack(Path(tmp), env={"WIREWATCH_INDEX_STREAM_INTERVAL_S": str(STREAM_INTERVAL_S)})
        try:
            print("building and installing the test translation packages", file=sys.stderr)
            stack.install_test_packages()
            started = time.monotonic()
            stack.start(timeout=180)
            print(f"stack ready in {time.monotonic() - started:.1f}s", file=sys.stderr)
            ingest, index = stack.url("ingest"), stack.url("index")
            watcher = StreamWatcher(index)
            watcher.start()
            warm = post_document(ingest, "warm-up", story_text(0, f"warm-up {run_id}"), "text/plain")
            assert warm.ok, warm.line()
            warm_id = str(warm.body["stories"][0]["id"])  # type: ignore[index]
            wait_all(watcher, [warm_id], time.monotonic() + 120)
            assert all(watcher.seen(warm_id, lang) for lang in LANGUAGES), "warm-up story never searchable"
            print(f"warm-up story searchable in {', '.join(LANGUAGES)}; sending", file=sys.stderr)

            total = round(rate * seconds)
            accepted: dict[str, float] = {}
            failed = 0
            first = time.monotonic()
            for n in range(total):
                due = first + n / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                result = post_document(ingest, f"story-{n}", story_text(n + 1, run_id), "text/plain")
                if not result.ok:
                    failed += 1
                    continue
                accepted[str(result.body["stories"][0]["id"])] = time.monotonic()  # type: ignore[index]
                if (n + 1) % max(1, round(rate * 10)) == 0:
                    print(f"  sent {n + 1}/{total}", file=sys.stderr)
            sent_s = time.monotonic() - first
            wait_all(watcher, list(accepted), time.monotonic() + drain_s)
            rss = peak_rss_mb(stack)
            watcher.stop()
        finally:
            code = stack.stop()
        if code != 0:
            print(stack.output(), file=sys.stderr)

    latencies: dict[str, list[float]] = {lang: [] for lang in LANGUAGES}
    missing: dict[str, int] = dict.fromkeys(LANGUAGES, 0)
    for story_id, at in accepted.items():
        for lang in LANGUAGES:
            seen = watcher.seen(story_id, lang)
            if seen is None:
                missing[lang] += 1
            else:
                latencies[lang].append(max(0.0, seen - at))
    per_language = {
        lang: {
            "n": len(values),
            "missing": missing[lang],
            "p50_s": round(percentile(values, 50), 3) if values else None,
            "p95_s": round(percentile(values, 95), 3) if values else None,
            "p99_s": round(percentile(values, 99), 3) if values else None,
            "max_s": round(max(values), 3) if values else None,
            "mean_s": round(statistics.fmean(values), 3) if values else None,
        }
        for lang, values in latencies.items()
    }
    worst_p99 = max((v["p99_s"] or float("inf")) for v in per_language.values())
    return {
        "bench": "e2e",
        "cores": os.cpu_count(),
        "target_rate_per_s": rate,
        "seconds": seconds,
        "stories_sent": total,
        "stories_accepted": len(accepted),
        "post_failures": failed,
        "sustained_rate_per_s": round(len(accepted) / sent_s, 2) if sent_s else None,
        "latency": per_language,
        "stream_interval_s": STREAM_INTERVAL_S,
        "worst_p99_s": worst_p99,
        "goal_p99_s": GOAL_P99_S,
        "goal_met": worst_p99 <= GOAL_P99_S and not any(missing.values()),
        "peak_rss_mb": rss,
        "stream_error": watcher.error,
    }


def main() -> None:
    """Parse the flags, run, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=5.0, help="stories per second (default 5)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send (default 60)")
    parser.add_argument("--drain", type=float, default=60.0, help="most seconds to wait after the last story")
    args = parser.parse_args()
    figures = run(args.rate, args.seconds, args.drain)
    print(
        f"end to end on {figures['cores']} cores: {figures['stories_accepted']} stories at "
        f"{figures['sustained_rate_per_s']}/s (target {args.rate}/s for {args.seconds:.0f}s); "
        f"latency from the 202 to searchable, seen on /v1/stream (polled every {STREAM_INTERVAL_S}s)"
    )
    print(f"{'language':<16}{'n':>6}{'missing':>9}{'p50 s':>9}{'p95 s':>9}{'p99 s':>9}{'max s':>9}")
    for lang, row in figures["latency"].items():
        cells = [row[k] if row[k] is not None else "-" for k in ("p50_s", "p95_s", "p99_s", "max_s")]
        label = f"{lang} ({'original' if lang == 'en' else 'rendition'})"
        print(f"{label:<16}{row['n']:>6}{row['missing']:>9}" + "".join(f"{c:>9}" for c in cells))
    verdict = "met" if figures["goal_met"] else "NOT met"
    print(f"goal p99 ≤ {GOAL_P99_S:.0f}s in every language: {verdict}; peak RSS MB {figures['peak_rss_mb']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
