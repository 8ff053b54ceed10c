"""Load: the search API under 32 concurrent clients, the ingest API under 100 stories/s, live streams.

Bounded and loopback only. Three parts, each on real processes:

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
3. live: what open Live pages (/v1/stream) cost the index service, pushed from the matcher versus
   the old polling, side by side in one run. For each way in turn: a fresh tansu broker, a copy of
   one index of `--live-docs` background renditions, and the index service with its worker
   (`python -m wirewatch_index`); `--streams` streams open with varied queries (words in English,
   Turkish and Arabic, OR, phrases, prefixes, exclusions, field scopes, language and provider
   filters, a broad one, quiet ones that nothing published matches); then `--live-rate` stories per
   second (an English original and its Turkish and Arabic renditions each) are published straight
   to the topics for `--live-seconds`. Measured over that window plus a short drain: the searches
   the streams ran per second (the service's own counter, by trigger), the index process's CPU
   seconds per second (worker included, the same work in both ways), and the delivery latency from
   publishing a story to each stream's first event of it. Every (stream, story) pair the matcher
   says should be delivered is checked off. "push" is the default (`index_stream_push`: the worker's
   matcher wakes streams, plus the hub's one catch-up scan every 10 s); "poll" is the old way (push
   off, every stream searches every second).

Figures per part: requests, throughput, error rate (anything but the expected 200 / 202,
timeouts and refused connections included), p50/p99/max latency. A table goes to stdout and, as
the last line, one JSON object; progress goes to stderr.

Usage: `uv run python bench/load.py [--seconds 60] [--clients 32] [--rate 100] [--docs 100000]
[--part search|ingest|both|live] [--search-limit RATE:BURST] [--streams 200] [--live-rate 2]
[--live-seconds 30] [--live-docs 20000]`. `both` is search and ingest; `live` runs alone.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import re
import shutil
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

from wirewatch_common.analyzers import Analyzers
from wirewatch_common.broker import EmbeddedBroker, free_port
from wirewatch_common.bus import Admin, Producer
from wirewatch_common.matching import Matcher, Standing, version_of
from wirewatch_common.processes import stop_process_group
from wirewatch_common.query import parse
from wirewatch_common.settings import Settings
from wirewatch_common.story import Story
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


# -- live ------------------------------------------------------------------------------------------

LIVE_TOPICS: list[tuple[str, str, str]] = [
    ("wildfire", "yangın", "حريق"),
    ("vaccine", "aşı", "لقاح"),
    ("satellite", "uydu", "قمر"),
    ("tariff", "gümrük", "جمارك"),
    ("locust", "çekirge", "جراد"),
    ("tunnel", "tünel", "نفق"),
    ("stadium", "stadyum", "ملعب"),
    ("museum", "müze", "متحف"),
    ("airport", "havalimanı", "مطار"),
    ("railway", "demiryolu", "سكة"),
    ("copper", "bakır", "نحاس"),
    ("cholera", "kolera", "كوليرا"),
    ("mining", "maden", "تعدين"),
    ("fishermen", "balıkçılar", "صيادين"),
    ("smuggling", "kaçakçılık", "تهريب"),
    ("landslide", "heyelan", "انهيار"),
    ("volcano", "yanardağ", "بركان"),
    ("whales", "balinalar", "حيتان"),
    ("olympics", "olimpiyat", "أولمبياد"),
    ("cinema", "sinema", "سينما"),
    ("typhoon", "tayfun", "إعصار"),
    ("orchestra", "orkestra", "أوركسترا"),
    ("marathon", "maraton", "ماراثون"),
    ("pilgrims", "hacılar", "حجاج"),
    ("reservoir", "baraj", "سد"),
    ("lithium", "lityum", "ليثيوم"),
    ("strawberry", "çilek", "فراولة"),
    ("submarine", "denizaltı", "غواصة"),
    ("census", "sayım", "تعداد"),
    ("telescope", "teleskop", "تلسكوب"),
    ("ferry", "feribot", "عبارة"),
    ("chess", "satranç", "شطرنج"),
    ("robots", "robotlar", "روبوتات"),
    ("glacier", "buzul", "جليد"),
]
"""One subject per published story (sometimes two), in English, Turkish and Arabic: what desks follow."""
LIVE_PLACES = [("Izmir", "İzmir", "إزمير"), ("Beirut", "Beyrut", "بيروت"), ("Odesa", "Odesa", "أوديسا")]
LIVE_DRAIN_S = 3.0
LIVE_WAYS: dict[str, dict[str, str]] = {
    "push": {"index_stream_push": "true", "index_stream_fallback_s": "10"},
    "poll": {"index_stream_push": "false", "index_stream_interval_s": "1"},
}
"""The two ways measured: the matcher wakes streams (catch-up scan every 10 s), or each stream polls every second."""


def _live_stories(n: int, run: str) -> list[Story]:
    """Story `n`: an English original about one or two subjects, with Turkish and Arabic renditions."""
    rng = random.Random(n)
    first = LIVE_TOPICS[n % len(LIVE_TOPICS)]
    second = rng.choice(LIVE_TOPICS) if rng.random() < 0.3 else None
    place = LIVE_PLACES[n % len(LIVE_PLACES)]
    now = datetime.now(tz=UTC)
    texts = {
        "en": (
            f"{first[0].capitalize()} update from {place[0]}",
            [
                f"Officials said the {first[0]} news reached {place[0]} on Tuesday, report {n}.",
                f"Residents asked about the {second[0]} as well." if second else "Residents were calm.",
            ],
        ),
        "tr": (
            f"{place[1]} {first[1]} haberi",
            [
                f"Yetkililer {first[1]} hakkında açıklama yaptı, rapor {n}.",
                f"Halk {second[1]} konusunu da sordu." if second else "Halk sakin.",
            ],
        ),
        "ar": (
            f"{first[2]} في {place[2]}",
            [
                f"قال المسؤولون إن {first[2]} وصل إلى {place[2]} التقرير {n}",
                f"وسأل السكان عن {second[2]} أيضا" if second else "وكان السكان هادئين",
            ],
        ),
    }
    base: dict[str, Any] = {
        "id": f"live-{run}-{n:05d}",
        "uri": f"urn:wirewatch-load:live:{run}:{n}",
        "version": 1,
        "firstcreated": now,
        "versioncreated": now,
        "provider": {"name": _search.PROVIDERS[n % len(_search.PROVIDERS)]},
        "dateline": {"text": place[0].upper(), "places": [{"name": place[0]}]},
    }
    stories = []
    for lang, (headline, body) in texts.items():
        fields = base | {"language": lang, "headline": headline, "body": body}
        if lang != "en":
            fields["translation"] = {
                "of_id": base["id"],
                "of_version": 1,
                "source_language": "en",
                "target_language": lang,
                "status": "translated",
                "translated_at": now,
            }
        stories.append(Story.model_validate(fields))
    return stories


def _live_queries(count: int) -> list[dict[str, Any]]:
    """`count` stream parameters of varied syntax, languages and filters."""
    quiet = ["ceasefire", "الهدنة", "ateşkes", '"grain exports"', "inflation rates"]
    out: list[dict[str, Any]] = []
    for i in range(count):
        en, tr, ar = LIVE_TOPICS[(i * 7) % len(LIVE_TOPICS)]
        other = LIVE_TOPICS[(i * 7 + 3) % len(LIVE_TOPICS)][0]
        kind = i % 11
        if i == 0:
            params: dict[str, Any] = {"q": "officials"}  # broad: every English version
        elif kind == 0:
            params = {"q": en}
        elif kind == 1:
            params = {"q": tr}
        elif kind == 2:
            params = {"q": ar}
        elif kind == 3:
            params = {"q": f"{en} OR {other}"}
        elif kind == 4:
            params = {"q": f'"{en} update"'}
        elif kind == 5:
            params = {"q": f"{en[:5]}*"}
        elif kind == 6:
            params = {"q": en, "lang": "en"}
        elif kind == 7:
            params = {"q": f"{en} -{other}"}
        elif kind == 8:
            params = {"q": f"headline:{tr}"}
        elif kind == 9:
            params = {"q": en, "provider": _search.PROVIDERS[i % len(_search.PROVIDERS)]}
        else:
            params = {"q": quiet[i % len(quiet)]}  # nothing published matches: a quiet desk
        out.append(params)
    return out


def _expected_pairs(queries: list[dict[str, Any]], published: list[Story]) -> set[tuple[int, str]]:
    """(stream, story id) pairs a stream must show: the matcher's verdict, the same semantics as search."""
    analyzers = Analyzers()
    matcher = Matcher(analyzers.analyze)
    for i, params in enumerate(queries):
        langs = frozenset([params["lang"]] if "lang" in params else [])
        providers = frozenset([params["provider"]] if "provider" in params else [])
        matcher.add(Standing(str(i), parse(params["q"]), languages=langs, providers=providers))
    versions = [(s.id, version_of(s)) for s in published]
    ready = [(sid, v) for sid, v in versions if v is not None]
    return {(int(stream), ready[k][0]) for k, stream in matcher.match([v for _, v in ready])}


_STREAM_SEARCHES = re.compile(
    r'^wirewatch_index_stream_searches_total\{trigger="(\w+)"\} ([0-9.e+]+)$', re.MULTILINE
)


def _stream_searches(base: str) -> dict[str, float]:
    text = httpx2.get(f"{base}/metrics", timeout=10).text
    return {m.group(1): float(m.group(2)) for m in _STREAM_SEARCHES.finditer(text)}


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class LiveRun:
    """One way's observations."""

    published: dict[str, float] = field(default_factory=dict)
    arrivals: dict[tuple[int, str], float] = field(default_factory=dict)
    connected: int = 0
    errors: Counter[str] = field(default_factory=Counter)


async def _follow(http: httpx2.AsyncClient, i: int, params: dict[str, Any], run: LiveRun) -> None:
    """Read one stream, noting when each story first arrives on it."""
    try:
        async with http.stream("GET", "/v1/stream", params=params) as response:
            if response.status_code != 200:
                run.errors[f"HTTP {response.status_code}"] += 1
                return
            async for line in response.aiter_lines():
                if line.startswith(": connected"):
                    run.connected += 1
                elif line.startswith("data: {"):
                    story_id = json.loads(line[len("data: ") :]).get("story_id")
                    if story_id:
                        run.arrivals.setdefault((i, story_id), time.monotonic())
    except httpx2.HTTPError as exc:
        run.errors[_reason(exc)] += 1


def _publish_steadily(settings: Settings, rate: float, seconds: float, tag: str, run: LiveRun) -> list[Story]:
    """Publish story n at start + n / rate (original, then renditions); note when each went out."""
    contract = load_contract()
    producer = Producer.from_settings(settings)
    published: list[Story] = []
    try:
        started = time.monotonic()
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
            original, *renditions = _live_stories(n, tag)
            run.published[original.id] = time.monotonic()
            producer.publish_stories(contract.stories.name, [original])
            producer.publish_stories(contract.renditions.name, renditions)
            published += [original, *renditions]
    finally:
        producer.close()
    return published


async def _live_window(
    base: str, pid: int, settings: Settings, queries: list[dict[str, Any]], args: argparse.Namespace, tag: str
) -> tuple[LiveRun, list[Story], dict[str, float]]:
    """Open the streams, publish at a steady rate, and measure searches and CPU over the window."""
    run = LiveRun()
    limits = httpx2.Limits(max_connections=len(queries) + 8, max_keepalive_connections=len(queries) + 8)
    timeout = httpx2.Timeout(30, read=None)
    async with httpx2.AsyncClient(base_url=base, timeout=timeout, limits=limits) as http:
        tasks = [asyncio.create_task(_follow(http, i, q, run)) for i, q in enumerate(queries)]
        deadline = time.monotonic() + 60
        while run.connected + sum(run.errors.values()) < len(queries) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # the connect searches finish
        before, cpu0, t0 = _stream_searches(base), _cpu_seconds(pid), time.monotonic()
        published = await asyncio.to_thread(
            _publish_steadily, settings, args.live_rate, args.live_seconds, tag, run
        )
        await asyncio.sleep(LIVE_DRAIN_S)
        after, cpu1, t1 = _stream_searches(base), _cpu_seconds(pid), time.monotonic()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    window = t1 - t0
    figures = {k: round((after.get(k, 0.0) - before.get(k, 0.0)) / window, 2) for k in after}
    figures["cpu_per_s"] = round((cpu1 - cpu0) / window, 3)
    figures["window_s"] = round(window, 1)
    return run, published, figures


def _run_live_way(way: str, args: argparse.Namespace, tmp: Path, base_index: Path) -> dict[str, Any]:
    """Measure one way on a fresh broker and a fresh copy of the background index."""
    data_dir = tmp / f"live-{way}"
    shutil.copytree(base_index, data_dir)
    queries = _live_queries(args.streams)
    with EmbeddedBroker(log_file=tmp / f"tansu-{way}.log") as broker:
        settings = Settings(_env_file=None, kafka_bootstrap_servers=broker.bootstrap_servers)
        admin = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
        try:
            admin.provision(load_contract())
        finally:
            admin.close()
        port = free_port()
        env = _service_env(
            data_dir,
            kafka_bootstrap_servers=broker.bootstrap_servers,
            index_port=str(port),
            rate_limit_stream="0",
            rate_limit_search="0",
            **LIVE_WAYS[way],
        )
        base = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "wirewatch_index"]
        with _process(argv, env, tmp / f"index-{way}.log", f"{base}/readyz") as pid:
            # The worker has joined its group once a first story is searchable.
            warm = _live_stories(0, f"warm-{way}")[0]
            producer = Producer.from_settings(settings)
            try:
                producer.publish_stories(load_contract().stories.name, [warm])
            finally:
                producer.close()
            log = tmp / f"index-{way}.log"
            deadline = time.monotonic() + 60
            # Background renditions never mention the live subjects: a hit is the warm-up story.
            while not httpx2.get(f"{base}/v1/search", params={"q": LIVE_TOPICS[0][0]}, timeout=10).json()[
                "hits"
            ]:
                if time.monotonic() > deadline:
                    msg = f"the index worker did not index the warm-up story: {log.read_text()[-2000:]}"
                    raise RuntimeError(msg)
                time.sleep(0.2)
            _progress(
                f"live ({way}): {args.streams} streams, {args.live_rate:g} stories/s for {args.live_seconds:g} s"
            )
            run, published, counts = asyncio.run(_live_window(base, pid, settings, queries, args, way))
            rss = _peak_rss_mb(pid)
    expected = _expected_pairs(queries, published)
    delivered = {pair for pair in run.arrivals if pair[1] in run.published}
    latencies = sorted(
        (run.arrivals[pair] - run.published[pair[1]]) * 1000 for pair in delivered & expected
    ) or [0.0]

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, round(p / 100 * (len(latencies) - 1)))], 1)

    triggers = ("connect", "wake", "poll", "scan", "fetch")
    searches = sum(v for k, v in counts.items() if k in triggers[1:])
    return {
        f"live_{way}_stream_searches_per_s": round(searches, 2),
        f"live_{way}_searches_by_trigger_per_s": {k: v for k, v in counts.items() if k in triggers},
        f"live_{way}_index_cpu_per_s": counts["cpu_per_s"],
        f"live_{way}_window_s": counts["window_s"],
        f"live_{way}_deliveries": len(delivered),
        f"live_{way}_expected": len(expected),
        f"live_{way}_missed": len(expected - delivered),
        f"live_{way}_unexpected": len(delivered - expected),
        f"live_{way}_latency_p50_ms": pct(50),
        f"live_{way}_latency_p99_ms": pct(99),
        f"live_{way}_latency_max_ms": round(latencies[-1], 1),
        f"live_{way}_stream_errors": dict(run.errors),
        f"live_{way}_index_peak_rss_mb": round(rss, 1),
    }


def run_live(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Build one background index, then measure pushed and polled live streams on copies of it."""
    base_index = tmp / "live-base"
    _progress(f"live: generating and indexing {args.live_docs} background renditions")
    backend = TantivyBackend(base_index, writer_heap_bytes=128_000_000)
    _search.index(backend, _search.generate(args.live_docs), 500)
    backend.close()
    del backend
    figures: dict[str, Any] = {
        "live_streams": args.streams,
        "live_rate": args.live_rate,
        "live_seconds": args.live_seconds,
        "live_docs": args.live_docs,
        "live_versions_published": int(args.live_rate * args.live_seconds) * 3,
    }
    for way in LIVE_WAYS:
        figures |= _run_live_way(way, args, tmp, base_index)
    push, poll = figures["live_push_stream_searches_per_s"], figures["live_poll_stream_searches_per_s"]
    figures["live_search_ratio"] = round(poll / push, 1) if push else None
    cpu_push, cpu_poll = figures["live_push_index_cpu_per_s"], figures["live_poll_index_cpu_per_s"]
    figures["live_cpu_ratio"] = round(cpu_poll / cpu_push, 1) if cpu_push else None
    return figures


# -- main ------------------------------------------------------------------------------------------


def _row(name: str, f: dict[str, Any], prefix: str) -> str:
    return (
        f"{name:<34}{f[prefix + '_requests']:>9}{f[prefix + '_per_s']:>9}{f[prefix + '_error_rate']:>9.2%}"
        f"{f[prefix + '_p50_ms']:>9}{f[prefix + '_p99_ms']:>9}{f[prefix + '_max_ms']:>9}"
    )


def _print_live(f: dict[str, Any]) -> None:
    print(
        f"\nlive: {f['live_streams']} streams, {f['live_rate']:g} stories/s (x3 language versions), "
        f"{f['live_docs'] // 1000}k background renditions"
    )
    print(
        f"{'way':<34}{'searches/s':>11}{'cpu s/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'delivered':>10}{'missed':>8}"
    )
    for way, label in (("push", "pushed by the matcher"), ("poll", "polled every second (old)")):
        print(
            f"{label:<34}{f[f'live_{way}_stream_searches_per_s']:>11}{f[f'live_{way}_index_cpu_per_s']:>9}"
            f"{f[f'live_{way}_latency_p50_ms']:>9}{f[f'live_{way}_latency_p99_ms']:>9}"
            f"{f[f'live_{way}_deliveries']:>10}{f[f'live_{way}_missed']:>8}"
        )
    print(f"polling runs {f['live_search_ratio']}x the searches and {f['live_cpu_ratio']}x the index CPU")


def main() -> None:
    """Run the parts asked for, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of each part")
    parser.add_argument("--clients", type=int, default=32, help="concurrent search clients")
    parser.add_argument("--rate", type=float, default=100.0, help="stories per second pushed to ingest")
    parser.add_argument("--docs", type=int, default=100_000, help="renditions in the search index")
    parser.add_argument("--part", choices=("search", "ingest", "both", "live"), default="both")
    parser.add_argument("--streams", type=int, default=200, help="open /v1/stream connections (live)")
    parser.add_argument("--live-rate", type=float, default=2.0, help="stories per second published (live)")
    parser.add_argument("--live-seconds", type=float, default=30.0, help="publishing time per way (live)")
    parser.add_argument("--live-docs", type=int, default=20_000, help="background renditions indexed (live)")
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
        if args.part == "live":
            figures |= run_live(args, Path(tmp))

    if args.part != "live":
        print(f"{'load':<34}{'requests':>9}{'ok/s':>9}{'errors':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    if "search_requests" in figures:
        label = f"search, {args.clients} clients, {args.docs // 1000}k"
        print(_row(label, figures, "search"))
    if "ingest_requests" in figures:
        print(_row(f"ingest push at {args.rate:g}/s", figures, "ingest"))
        print(
            f"ingest service counted {figures['ingest_service_accepted']} accepted (202s: {figures['ingest_ok']})"
        )
    if "live_streams" in figures:
        _print_live(figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
