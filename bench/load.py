"""Load: the search API under 32 concurrent clients, and the ingest API under a steady 100 stories/s.

Bounded and loopback only. Two parts, each on real processes:

1. search: `--docs` generated renditions (bench/search.py's generator: English stories with
   Arabic and Turkish renditions) are indexed into a tantivy index, the index API is started on
   it with uvicorn in a subprocess (API only, as bench/search.py does), and `--clients` clients
   each send bench/search.py's query mix (size 20, facets on) back to back for `--seconds`,
   each on its own keep-alive connection (closed loop: a client sends its next request when
   the answer came). The per-caller rate limit is off by default (`--search-limit 0`): every
   client here shares 127.0.0.1, so the default limit (50/s) would measure the limiter instead.
2. ingest: a tansu broker with the topics, and the ingest service (`python -m wirewatch_ingest`)
   on a fresh ledger; new ninjs stories are posted at a fixed `--rate` per second for
   `--seconds` (open loop: each request starts on its schedule whether or not earlier ones
   answered, and its latency counts from that scheduled time, so a stall shows in p99 instead
   of slowing the sender). Every 202 is checked against the service's own count of accepted
   stories (`/metrics`), which it reports only after the broker confirmed them.

Figures per part: requests, throughput, error rate (anything but the expected 200 / 202,
timeouts and refused connections included), p50/p99/max latency. A table goes to stdout and, as
the last line, one JSON object; progress goes to stderr.

Usage: `uv run python bench/load.py [--seconds 60] [--clients 32] [--rate 100] [--docs 100000]
[--part search|ingest|both] [--search-limit RATE:BURST]`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx2

from wirewatch_common.broker import EmbeddedBroker, free_port
from wirewatch_common.bus import Admin
from wirewatch_common.processes import stop_process_group
from wirewatch_common.topics import load_contract
from wirewatch_index.backends.tantivy import TantivyBackend


def _sibling(name: str) -> ModuleType:
    """Load another benchmark of this folder (bench/ is not a package) to share its parts."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_search = _sibling("search")
QUERY_MIX: list[dict[str, Any]] = _search.QUERY_MIX
SERVER: str = _search.SERVER
"""bench/search.py's query mix and its API-only server script."""


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Tally:
    """Latencies of successful requests and counts of failed ones, by reason."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0

    def figures(self, prefix: str) -> dict[str, Any]:
        ok = len(self.latencies_ms)
        total = ok + sum(self.errors.values())
        seconds = max(1e-9, self.ended - self.started)
        ordered = sorted(self.latencies_ms) or [0.0]

        def pct(p: float) -> float:
            return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 2)

        return {
            f"{prefix}_requests": total,
            f"{prefix}_ok": ok,
            f"{prefix}_per_s": round(ok / seconds, 1),
            f"{prefix}_error_rate": round(sum(self.errors.values()) / total, 5) if total else 0.0,
            f"{prefix}_errors": dict(self.errors),
            f"{prefix}_p50_ms": pct(50),
            f"{prefix}_p99_ms": pct(99),
            f"{prefix}_max_ms": round(ordered[-1], 2),
            f"{prefix}_seconds": round(seconds, 1),
        }


def _reason(exc: BaseException) -> str:
    return type(exc).__name__


@contextmanager
def _process(argv: list[str], env: dict[str, str], log_path: Path, ready_url: str) -> Iterator[int]:
    """Run a service in its own process group until the block ends; yield its pid once it answers."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                msg = f"{argv[-1]} exited during start-up: {log_path.read_text()[-2000:]}"
                raise RuntimeError(msg)
            try:
                if httpx2.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                msg = f"{argv[-1]} did not answer {ready_url} within 90 s"
                raise RuntimeError(msg)
            time.sleep(0.2)
        yield proc.pid
    finally:
        stop_process_group(proc, 30)


_peak_rss_mb = _search._peak_rss_mb


def _service_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env |= {"WIREWATCH_DATA_DIR": str(data_dir), "WIREWATCH_LOG_LEVEL": "WARNING"}
    env |= {f"WIREWATCH_{name.upper()}": value for name, value in settings.items()}
    return env


# -- search ----------------------------------------------------------------------------------------


async def _search_clients(base: str, clients: int, seconds: float) -> Tally:
    tally = Tally()
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        stop_at = time.perf_counter() + seconds

        async def client(offset: int) -> None:
            n = offset
            while time.perf_counter() < stop_at:
                params = QUERY_MIX[n % len(QUERY_MIX)] | {"facets": "true", "size": 20}
                n += 1
                t = time.perf_counter()
                try:
                    response = await http.get("/v1/search", params=params)
                except httpx2.HTTPError as exc:
                    tally.errors[_reason(exc)] += 1
                    continue
                elapsed = (time.perf_counter() - t) * 1000
                if response.status_code == 200:
                    tally.latencies_ms.append(elapsed)
                else:
                    tally.errors[f"HTTP {response.status_code}"] += 1

        tally.started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        tally.ended = time.perf_counter()
    return tally


def run_search(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Index the renditions, serve them, and load the API."""
    data_dir = tmp / "search"
    _progress(f"search: generating and indexing {args.docs} renditions")
    t0 = time.perf_counter()
    backend = TantivyBackend(data_dir, writer_heap_bytes=128_000_000)
    _search.index(backend, _search.generate(args.docs), 500)
    backend.close()
    build_s = time.perf_counter() - t0
    port = free_port()
    # The API alone on the index (no worker, no broker), as bench/search.py serves it.
    argv = [sys.executable, "-c", SERVER, str(data_dir), str(port)]
    base = f"http://127.0.0.1:{port}"
    env = _service_env(data_dir, rate_limit_search=args.search_limit)
    with _process(argv, env, tmp / "index-api.log", f"{base}/healthz") as pid:
        for params in QUERY_MIX:  # warm the searcher and the caches once
            httpx2.get(f"{base}/v1/search", params=params | {"facets": "true", "size": 20}, timeout=30)
        _progress(f"search: {args.clients} clients for {args.seconds} s")
        tally = asyncio.run(_search_clients(base, args.clients, args.seconds))
        rss = _peak_rss_mb(pid)
    return (
        {
            "search_docs": args.docs,
            "search_clients": args.clients,
            "search_rate_limit": args.search_limit,
            "search_index_build_s": round(build_s, 1),
        }
        | tally.figures("search")
        | {"search_api_peak_rss_mb": round(rss, 1)}
    )


# -- ingest ----------------------------------------------------------------------------------------


def _story(run: str, n: int) -> bytes:
    now = datetime.now(tz=UTC).isoformat()
    return json.dumps(
        {
            "uri": f"urn:wirewatch-load:{run}:{n}",
            "type": "text",
            "version": "1",
            "language": "en",
            "firstcreated": now,
            "versioncreated": now,
            "headlines": [{"role": "main", "value": f"Grain ships leave port under new corridor deal, {n}"}],
            "bodies": [
                {
                    "role": "main",
                    "contenttype": "text/html",
                    "value": "<p>Three ships carrying wheat left the port on Tuesday, officials said.</p>"
                    f"<p>The corridor deal was signed last week after talks; this is report {n}.</p>",
                }
            ],
        }
    ).encode()


async def _push(base: str, rate: float, seconds: float) -> Tally:
    tally = Tally()
    run = uuid.uuid4().hex[:8]
    total = int(rate * seconds)
    limits = httpx2.Limits(max_connections=400, max_keepalive_connections=400)
    headers = {"content-type": "application/json"}
    async with httpx2.AsyncClient(base_url=base, timeout=30, limits=limits) as http:

        async def post(n: int, due: float) -> None:
            try:
                response = await http.post("/v1/stories", content=_story(run, n), headers=headers)
            except httpx2.HTTPError as exc:
                tally.errors[_reason(exc)] += 1
                return
            # Latency from the scheduled start: a late start is the service's delay too.
            elapsed = (time.perf_counter() - due) * 1000
            if response.status_code == 202:
                tally.latencies_ms.append(elapsed)
            else:
                tally.errors[f"HTTP {response.status_code}"] += 1

        tally.started = time.perf_counter()
        tasks = []
        for n in range(total):
            due = tally.started + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(post(n, due)))
        await asyncio.gather(*tasks)
        tally.ended = time.perf_counter()
    return tally


_ACCEPTED = re.compile(r'^wirewatch_ingest_stories_total\{outcome="accepted"\} ([0-9.e+]+)$', re.MULTILINE)


def run_ingest(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Start tansu and the ingest service, push at a steady rate, check the service's own count."""
    data_dir = tmp / "ingest"
    with EmbeddedBroker(log_file=tmp / "tansu.log") as broker:
        admin = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
        try:
            admin.provision(load_contract())
        finally:
            admin.close()
        port = free_port()
        env = _service_env(data_dir, kafka_bootstrap_servers=broker.bootstrap_servers, ingest_port=str(port))
        base = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "wirewatch_ingest"]
        with _process(argv, env, tmp / "ingest.log", f"{base}/readyz") as pid:
            _progress(f"ingest: {args.rate} stories/s for {args.seconds} s")
            tally = asyncio.run(_push(base, args.rate, args.seconds))
            metrics = httpx2.get(f"{base}/metrics", timeout=10).text
            rss = _peak_rss_mb(pid)
    match = _ACCEPTED.search(metrics)
    counted = int(float(match.group(1))) if match else -1
    return (
        {"ingest_target_per_s": args.rate}
        | tally.figures("ingest")
        | {"ingest_service_accepted": counted, "ingest_peak_rss_mb": round(rss, 1)}
    )


# -- main ------------------------------------------------------------------------------------------


def _row(name: str, f: dict[str, Any], prefix: str) -> str:
    return (
        f"{name:<34}{f[prefix + '_requests']:>9}{f[prefix + '_per_s']:>9}{f[prefix + '_error_rate']:>9.2%}"
        f"{f[prefix + '_p50_ms']:>9}{f[prefix + '_p99_ms']:>9}{f[prefix + '_max_ms']:>9}"
    )


def main() -> None:
    """Run the parts asked for, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of each part")
    parser.add_argument("--clients", type=int, default=32, help="concurrent search clients")
    parser.add_argument("--rate", type=float, default=100.0, help="stories per second pushed to ingest")
    parser.add_argument("--docs", type=int, default=100_000, help="renditions in the search index")
    parser.add_argument("--part", choices=("search", "ingest", "both"), default="both")
    parser.add_argument(
        "--search-limit",
        default="0",
        help="WIREWATCH_RATE_LIMIT_SEARCH for the API; 0 (default) measures capacity, since every client here "
        "shares one address and the default per-caller limit (50/s) would answer most requests 429",
    )
    args = parser.parse_args()

    figures: dict[str, Any] = {"seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-load-") as tmp:
        if args.part in ("search", "both"):
            figures |= run_search(args, Path(tmp))
        if args.part in ("ingest", "both"):
            figures |= run_ingest(args, Path(tmp))

    print(f"{'load':<34}{'requests':>9}{'ok/s':>9}{'errors':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    if "search_requests" in figures:
        label = f"search, {args.clients} clients, {args.docs // 1000}k"
        print(_row(label, figures, "search"))
    if "ingest_requests" in figures:
        print(_row(f"ingest push at {args.rate:g}/s", figures, "ingest"))
        print(
            f"ingest service counted {figures['ingest_service_accepted']} accepted (202s: {figures['ingest_ok']})"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
