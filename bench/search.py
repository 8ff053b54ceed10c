"""Search benchmark: indexing rate, then HTTP search latency with facets next to the engine alone.

What is measured, and why: the index service writes batches of renditions to tantivy (one
durable commit per batch, as the worker does) and serves `/v1/search`. The goals on this
machine are p99 ≤ 50 ms for a fixed query mix with facets, and API overhead ≤ 2× the engine.

1. Generate `--docs` renditions procedurally (stories in English with Arabic and Turkish
   renditions; a third of the documents per language), from word lists written for this
   benchmark, with providers, places and dates spread over 30 days.
2. Index them with `TantivyBackend.write` in batches of `--batch` (each batch committed):
   documents per second, wall clock including building the documents.
3. Start the API as a separate process (`uvicorn`, API only, reading the same index) and run
   the query mix over HTTP with keep-alive, `facets=true`, `size=20`: p50/p99 per request. Sixty
   rounds make 840 requests, so p99 is the 9th slowest: over 210 requests it is the 3rd slowest,
   and one burst of noise on a shared machine decides it.
4. Run the same requests directly on the backend in this process (`backend.search`: the same
   collapse, snippets and facets, no HTTP): p50/p99. The ratio is HTTP / engine, side by side,
   interleaved per round so machine noise hits both paths alike.
5. The bare tantivy calls the same search needs ("raw engine"): the same query, the top window
   of renditions with story keys (grown as the API grows it), the page's language versions, the
   facet aggregations (stories per provider and per recent day, run beside the page on two threads
   as the backend runs them) and the page's stored documents;
   query building included, collapsing, snippets and response models not. HTTP / raw engine is
   the API overhead over the engine, the issue's "≤ 2×" goal.

Usage: `uv run python bench/search.py [--docs 100000] [--rounds 60]`. A readable table goes to
stdout and, as the last line, one JSON object with the figures; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import tantivy

from wirewatch_common.broker import free_port
from wirewatch_common.query import parse
from wirewatch_common.story import Story
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.search import SearchRequest

GOAL_P99_MS = 50.0
GOAL_RATIO = 2.0
START = datetime(2026, 10, 26, tzinfo=UTC)


def _vocab(text: str) -> list[str]:
    """Word list from one string (written for this benchmark)."""
    return text.split()


EN = _vocab(
    "ceasefire talks resume border troops government minister election results protest police port strike "
    "grain exports shipping drought flood rescue earthquake aid convoy hospital refugees camp parliament "
    "budget vote inflation bank rates currency oil prices pipeline gas supply sanctions court ruling "
    "president visit summit agreement negotiators delegation army drone attack village city province "
    "officials said spokesman statement reporters week talks security council families water power "
    "schools farmers harvest wheat market traders fuel shortage winter storm roads bridge damaged "
)
AR = _vocab(
    "وقف إطلاق النار المحادثات استئناف الحدود القوات الحكومة الوزير الانتخابات النتائج احتجاج الشرطة "
    "الميناء إضراب الحبوب الصادرات الشحن الجفاف الفيضانات الإنقاذ زلزال المساعدات قافلة المستشفى اللاجئين "
    "المخيم البرلمان الميزانية التصويت التضخم البنك الأسعار النفط خط الأنابيب الغاز العقوبات المحكمة حكم "
    "الرئيس زيارة القمة اتفاق المفاوضون الوفد الجيش طائرة هجوم القرية المدينة المحافظة المسؤولون قال "
    "المتحدث بيان الهدنة الأمن مجلس العائلات المياه الكهرباء المدارس المزارعون الحصاد "
)
TR = _vocab(
    "ateşkes görüşmeler yeniden sınır askerler hükümet bakan seçim sonuçları protesto polis liman grev "
    "tahıl ihracat nakliye kuraklık sel kurtarma deprem yardım konvoy hastane mülteciler kamp meclis "
    "bütçe oylama enflasyon banka faiz döviz petrol fiyatları boru hattı gaz yaptırımlar mahkeme karar "
    "cumhurbaşkanı ziyaret zirve anlaşma müzakereciler heyet ordu saldırı köy şehir il yetkililer "
    "açıklama sözcü güvenlik konsey aileler su elektrik okullar çiftçiler hasat buğday piyasa yakıt "
)
NAMES = {
    "en": ["Idlib", "Istanbul", "Odesa", "Gaza", "Aleppo", "Izmir", "Baghdad", "Beirut", "Ankara", "Cairo"],
    "ar": ["إدلب", "إسطنبول", "أوديسا", "غزة", "حلب", "إزمير", "بغداد", "بيروت", "أنقرة", "القاهرة"],
    "tr": [
        "İdlib'de",
        "İstanbul'da",
        "Odesa'da",
        "Gazze'de",
        "Halep'te",
        "İzmir'de",
        "Bağdat'ta",
        "Beyrut'ta",
    ],
}
PROVIDERS = ["Reuters", "AP", "AFP", "Anadolu", "dpa", "Xinhua"]
PLACES = [
    ("Idlib", "SY"),
    ("Istanbul", "TR"),
    ("Odesa", "UA"),
    ("Gaza", "PS"),
    ("Baghdad", "IQ"),
    ("Beirut", "LB"),
]

QUERY_MIX: list[dict[str, Any]] = [
    {"q": "ceasefire"},
    {"q": "ceasefires talks"},
    {"q": '"grain exports"'},
    {"q": "earthquake OR flood"},
    {"q": "strike -police"},
    {"q": "negotiat*"},
    {"q": "ateşkes"},
    {"q": "İdlib'deki"},
    {"q": "الهدنة"},
    {"q": "headline:election"},
    {"q": "oil prices", "provider": "Reuters"},
    {"q": "aid convoy", "lang": "tr"},
    {"q": "border troops", "sort": "newest"},
    {"q": "", "sort": "newest"},
]


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _words(rng: random.Random, vocab: list[str], names: list[str], n: int) -> str:
    out = [rng.choice(vocab) for _ in range(n)]
    out[rng.randrange(n)] = rng.choice(names)
    return " ".join(out)


def generate(count: int, seed: int = 7) -> list[Story]:
    """`count` renditions: stories in English, each with Arabic and Turkish renditions."""
    rng = random.Random(seed)
    stories: list[Story] = []
    n_stories = max(1, count // 3)
    for i in range(n_stories):
        when = START + timedelta(minutes=rng.randrange(30 * 24 * 60))
        place, code = rng.choice(PLACES)
        base: dict[str, Any] = {
            "id": f"bench-{i:06d}",
            "uri": f"urn:wirewatch:bench:{i}",
            "version": 1,
            "firstcreated": when,
            "versioncreated": when,
            "provider": {"name": rng.choice(PROVIDERS)},
            "dateline": {"text": place.upper(), "places": [{"name": place, "code": code}]},
        }
        for lang, vocab in (("en", EN), ("ar", AR), ("tr", TR)):
            if len(stories) >= count:
                break
            fields = base | {
                "language": lang,
                "headline": _words(rng, vocab, NAMES[lang], 8),
                "body": [_words(rng, vocab, NAMES[lang], 30) for _ in range(3)],
            }
            if lang != "en":
                fields["translation"] = {
                    "of_id": base["id"],
                    "of_version": 1,
                    "source_language": "en",
                    "target_language": lang,
                    "status": "translated",
                    "translated_at": when,
                }
            stories.append(Story.model_validate(fields))
    return stories


def index(backend: TantivyBackend, stories: list[Story], batch: int) -> float:
    """Write in worker-sized batches; return documents per second."""
    started = time.perf_counter()
    for i in range(0, len(stories), batch):
        backend.write(stories[i : i + batch])
        if (i // batch) % 40 == 0:
            _progress(f"  indexed {i + batch}/{len(stories)}")
    return len(stories) / (time.perf_counter() - started)


def _request(params: dict[str, Any]) -> SearchRequest:
    return SearchRequest(
        query=parse(params.get("q", "")),
        languages=(params["lang"],) if "lang" in params else (),
        providers=(params["provider"],) if "provider" in params else (),
        sort=params.get("sort", "relevance"),
        size=20,
        facets=True,
    )


RAW_FACETS = {
    "total": {"cardinality": {"field": "story_key"}},
    "provider": {
        "terms": {"field": "provider", "size": 10},
        "aggs": {"n": {"cardinality": {"field": "story_key"}}},
    },
    "language": {"terms": {"field": "lang", "size": 10}},
}
RAW_DAYS = {"day": {"date_histogram": {"field": "day", "fixed_interval": "1d"}}}
RAW_POOL = ThreadPoolExecutor(max_workers=2)
"""The raw path runs its two facet aggregations beside the page, as the backend does."""


def _raw_days(searcher: tantivy.Searcher, query: tantivy.Query, size: int) -> None:
    """Documents per day, then stories per day over the `size` most recent days with matches."""
    days = [b for b in searcher.aggregate(query, RAW_DAYS)["day"]["buckets"] if b["doc_count"] > 0][-size:]
    if days:
        bounds = {"min": days[0]["key"], "max": days[-1]["key"] + 86_400_000}
        histogram = RAW_DAYS["day"]["date_histogram"] | {"hard_bounds": bounds}
        stories = {"n": {"cardinality": {"field": "story_key"}}}
        searcher.aggregate(query, {"day": {"date_histogram": histogram, "aggs": stories}})


def _raw_window(
    searcher: tantivy.Searcher, query: tantivy.Query, order_by: str | None, size: int
) -> list[tuple[float, int, tantivy.DocAddress]]:
    """Top renditions with their story keys, in windows that grow (x4 from 4x the page) like the API's.

    The window is big enough once more than `size` stories score above the window's lowest value.
    """
    window = (size + 1) * 4
    while True:
        hits = searcher.search(query, limit=window, count=False, order_by_field=order_by).hits
        keys = searcher.fast_field_values("story_key", [addr for _, addr in hits])
        found = [(float(v), int(k), addr) for (v, addr), k in zip(hits, keys, strict=True) if k is not None]
        if len(hits) < window or window >= 10_000:
            return found
        floor = min(v for v, _, _ in found)
        if len({k for v, k, _ in found if v > floor}) > size:
            return found
        window *= 4


def _raw_search(backend: TantivyBackend, request: SearchRequest) -> None:
    """The engine calls the API needs for one page, without our collapsing, snippets and models.

    The same work at the engine level as `backend.search`: the same query; the top window of
    renditions with their story keys (grown as the API grows it); the language versions of the
    page's stories (one aggregation); the facets (stories in all, per provider and per language in
    one aggregation; documents per day, then stories per day over the most recent days with matches,
    as the API counts them; both beside the page, as the API runs them); the stored documents.
    """
    searcher = backend._index.searcher()
    query = backend.build_query(request, searcher)
    facets = RAW_POOL.submit(searcher.aggregate, query, RAW_FACETS)
    days = RAW_POOL.submit(_raw_days, searcher, query, request.facet_size)
    by_score = request.sort == "relevance" and not request.query.is_empty
    found = _raw_window(searcher, query, None if by_score else "sort_ts", request.size)
    best: dict[int, tantivy.DocAddress] = {}
    for _, key, addr in sorted(found, key=lambda f: (-f[0], f[1])):
        best.setdefault(key, addr)
    page = list(best.items())[: request.size]
    if page:
        langs = tantivy.Query.boolean_query(
            [
                (
                    tantivy.Occur.Must,
                    tantivy.Query.term_set_query(backend.schema, "story_key", [k for k, _ in page]),
                ),
                (tantivy.Occur.Must, tantivy.Query.term_query(backend.schema, "kind", "current")),
                (tantivy.Occur.Must, tantivy.Query.term_query(backend.schema, "searchable", "1")),
            ]
        )
        agg = {"terms": {"field": "story_id", "size": len(page)}}
        searcher.aggregate(langs, {"s": agg | {"aggs": {"l": {"terms": {"field": "language", "size": 50}}}}})
    for _, addr in page:
        searcher.doc(addr)
    facets.result()
    days.result()


SERVER = """
import sys
from pathlib import Path
from wirewatch_common.service import serve
from wirewatch_index.bootstrap import build
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.settings import IndexSettings

data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
settings = IndexSettings(_env_file=None, data_dir=data_dir, index_worker=False, log_level="WARNING")
backend = TantivyBackend(data_dir)
serve(build(settings, backend=backend).app, "127.0.0.1", port)
"""


def _start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log_path = data_dir / "api.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(data_dir), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            msg = f"the API process exited during start-up: {log_path.read_text()[-2000:]}"
            raise RuntimeError(msg)
        try:
            if httpx2.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            msg = "the API process did not start within 60 s"
            raise RuntimeError(msg)
        time.sleep(0.2)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="renditions to index (3 languages)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=60,
        help="passes over the query mix per path (60 x 14 = 840 requests: p99 is the 9th slowest, not one burst)",
    )
    parser.add_argument("--batch", type=int, default=500, help="documents per write (the worker's batch)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-search-") as tmp:
        data_dir = Path(tmp)
        _progress(f"generating {args.docs} renditions")
        t0 = time.perf_counter()
        stories = generate(args.docs)
        gen_s = time.perf_counter() - t0
        backend = TantivyBackend(data_dir, writer_heap_bytes=128_000_000)
        _progress("indexing")
        docs_per_s = index(backend, stories, args.batch)
        backend.close()
        del stories
        size_mb = sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file()) / 1e6

        proc, base = _start_server(data_dir)
        http_ms: list[float] = []
        engine_ms: list[float] = []
        raw_ms: list[float] = []
        per_query: dict[str, list[float]] = {}
        try:
            reader = TantivyBackend(data_dir)
            with httpx2.Client(base_url=base, timeout=30) as client:
                requests = [(p, _request(p)) for p in QUERY_MIX]
                for params, request in requests:  # warm both paths
                    client.get(
                        "/v1/search", params=params | {"facets": "true", "size": 20}
                    ).raise_for_status()
                    reader.search(request)
                _progress(f"searching: {args.rounds} rounds x {len(requests)} queries, per path")
                for _ in range(args.rounds):
                    for params, request in requests:
                        t = time.perf_counter()
                        r = client.get("/v1/search", params=params | {"facets": "true", "size": 20})
                        http_ms.append((time.perf_counter() - t) * 1000)
                        r.raise_for_status()
                        t = time.perf_counter()
                        page = reader.search(request)
                        elapsed = (time.perf_counter() - t) * 1000
                        engine_ms.append(elapsed)
                        per_query.setdefault(params.get("q") or "(browse)", []).append(elapsed)
                        t = time.perf_counter()
                        _raw_search(reader, request)
                        raw_ms.append((time.perf_counter() - t) * 1000)
                        if len(page.hits) != len(r.json()["hits"]):
                            msg = f"HTTP and engine disagree for {params}"
                            raise RuntimeError(msg)
            server_rss = _peak_rss_mb(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    figures = {
        "docs": args.docs,
        "generate_s": round(gen_s, 1),
        "index_docs_per_s": round(docs_per_s),
        "index_size_mb": round(size_mb, 1),
        "queries": len(http_ms),
        "http_p50_ms": round(_pct(http_ms, 50), 2),
        "http_p99_ms": round(_pct(http_ms, 99), 2),
        "engine_p50_ms": round(_pct(engine_ms, 50), 2),
        "engine_p99_ms": round(_pct(engine_ms, 99), 2),
        "http_mean_ms": round(statistics.fmean(http_ms), 2),
        "engine_mean_ms": round(statistics.fmean(engine_ms), 2),
        "raw_engine_p50_ms": round(_pct(raw_ms, 50), 2),
        "raw_engine_p99_ms": round(_pct(raw_ms, 99), 2),
        "ratio_raw_p50": round(_pct(http_ms, 50) / _pct(raw_ms, 50), 2),
        "ratio_raw_p99": round(_pct(http_ms, 99) / _pct(raw_ms, 99), 2),
        "ratio_p50": round(_pct(http_ms, 50) / _pct(engine_ms, 50), 2),
        "ratio_p99": round(_pct(http_ms, 99) / _pct(engine_ms, 99), 2),
        "goal_p99_ms": GOAL_P99_MS,
        "goal_ratio": GOAL_RATIO,
        "peak_rss_mb_bench": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mb_api": round(server_rss, 1),
    }
    figures["meets_p99"] = figures["http_p99_ms"] <= GOAL_P99_MS
    # The goal: API overhead ≤ 2x the engine, i.e. HTTP against the engine's own calls for the same page.
    figures["meets_ratio"] = figures["ratio_raw_p50"] <= GOAL_RATIO
    figures["meets_ratio_p99"] = figures["ratio_raw_p99"] <= GOAL_RATIO

    print(
        f"Indexed {args.docs} renditions at {figures['index_docs_per_s']} docs/s ({size_mb:.0f} MB on disk)"
    )
    print()
    print(f"{'path':<22}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    print(
        f"{'HTTP /v1/search':<22}{figures['http_p50_ms']:>10}{figures['http_p99_ms']:>10}{figures['http_mean_ms']:>10}"
    )
    print(
        f"{'engine (backend)':<22}{figures['engine_p50_ms']:>10}{figures['engine_p99_ms']:>10}"
        f"{figures['engine_mean_ms']:>10}"
    )
    print(
        f"{'raw engine (tantivy)':<22}{figures['raw_engine_p50_ms']:>10}{figures['raw_engine_p99_ms']:>10}"
        f"{round(statistics.fmean(raw_ms), 2):>10}"
    )
    print(f"ratio HTTP/engine (backend.search): p50 {figures['ratio_p50']}x, p99 {figures['ratio_p99']}x")
    print(
        f"ratio HTTP/raw engine: p50 {figures['ratio_raw_p50']}x, p99 {figures['ratio_raw_p99']}x"
        f" (goal ≤ {GOAL_RATIO}x: API overhead over the engine's own calls)"
    )
    print()
    print(f"{'engine per query':<28}{'p50 ms':>10}{'max ms':>10}")
    for q, values in per_query.items():
        print(f"{q[:27]:<28}{statistics.median(values):>10.2f}{max(values):>10.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
