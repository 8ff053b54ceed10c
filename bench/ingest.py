"""Ingest throughput per wire format, next to the bare parser it builds on (the floor), in one run.

For each format the same documents go through five paths, side by side:

- floor:      the library parse alone: defusedxml's ElementTree for NewsML-G2 and NITF (the very
              parser ingest uses; the rules allow untrusted XML only through defusedxml, and lxml
              is not a dependency), feedparser for feeds, `json.loads` for ninjs, UTF-8 decoding
              plus a blank-line split for the plain-text wires (agency copy, IPTC 7901 / ANPA),
              which have no parsing library: for those three the floor is a C routine of a few
              microseconds, and their ratios say how much of the cost is ours, not a goal.
- parse:      `parse_document`: sniffing, parsing, cleaning, dateline/byline, language detection,
              ids, contract validation: stories ready to publish.
- pipeline:   `Ingestor.ingest` per document, one after the other, as one HTTP client pushing
              one document per request gets it: parse, ledger commit (fsync), publish to a real
              tansu broker and wait for its confirmation, mark delivered. Bound by two waits per
              document (fsync, broker round trip), so it cannot keep pace with a parser: shown
              as information.
- concurrent: the same per-document path from 8 threads at once, as concurrent HTTP requests
              get it: their ledger admissions share group commits (one fsync for all queued).
- batched:    `Ingestor.ingest_many` over all documents, as the drop folder ingests a scan: one
              ledger commit and one `publish_many` (one confirmation wait) per chunk of up to
              500 stories.

Goal: the batch pipeline keeps at least half the parser's own speed (ratio = stories/s of the
path / stories/s of the floor, on the same documents; >= 0.5). The process is pinned to one core
(its Kafka client's sender thread included); the broker runs beside it. Documents are written here
(templates) plus, when present, every sample of ../shared/corpus that yields a story. Each round
uses a fresh ledger so no story is a duplicate; each path's best round counts, since other work
shares the CPU.

Usage: `uv run python bench/ingest.py [--rounds 3] [--copies 30]`. A table goes to stdout and, as
the last line, one JSON object with the figures; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from wirewatch_common.broker import EmbeddedBroker
from wirewatch_common.bus import Admin, Producer, client_config
from wirewatch_ingest.bootstrap import PRODUCER_OPTIONS
from wirewatch_ingest.ledger import Ledger
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.pipeline import Ingestor, Result
from wirewatch_ingest.sources import parse_document, sniff

CORPUS = Path(__file__).resolve().parents[1] / "../shared/corpus"
LIMITS = Limits()
FORMATS = ("agency", "iptc7901", "ninjs", "newsml", "nitf", "feed")

PLACES = [
    "ODESA",
    "GDANSK",
    "IZMIR",
    "ALEXANDRIA",
    "TRIESTE",
    "ROTTERDAM",
    "ANKARA",
    "BEIRUT",
    "TUNIS",
    "VALLETTA",
]
PARAGRAPH = (
    "Dockworkers walked out on Tuesday, halting grain loading at the port, the union said, adding that talks with"
    " the operators would resume on Friday if the government guaranteed the safety of crews and cargo."
)


def templates(n: int) -> dict[str, list[tuple[bytes, str | None]]]:
    """Documents written for this benchmark, `n` per format, each with its own identity."""
    docs: dict[str, list[tuple[bytes, str | None]]] = {f: [] for f in FORMATS}
    for i in range(n):
        place = PLACES[i % len(PLACES)]
        head = f"Port strike {i} halts grain exports at {place.title()}"
        body = "\n\n".join(
            [f"{place} (Reuters) - {PARAGRAPH}", PARAGRAPH, PARAGRAPH, "(Reporting by Jane Roe)"]
        )
        docs["agency"].append((f"{head}\n\n{body}\n".encode(), "text/plain"))
        dpa = f"\x01eca{i:03d} 4 i 211 ccccb   dpa {i:03d}\r\n\r\nPorts/strike/\r\n\x02{head} =\r\n\r\n"
        dpa += "\r\n\r\n".join([f"   {place.title()} (dpa) - {PARAGRAPH}", PARAGRAPH, PARAGRAPH]) + "\r\n\x03"
        docs["iptc7901"].append((dpa.encode(), "text/plain"))
        ninjs = {
            "uri": f"urn:bench:ninjs:{i}",
            "version": "1",
            "language": "en",
            "headline": head,
            "body_html": "".join(f"<p>{p}</p>" for p in (PARAGRAPH, PARAGRAPH, PARAGRAPH)),
            "versioncreated": "2026-11-25T08:00:00Z",
        }
        docs["ninjs"].append((json.dumps(ninjs).encode(), "application/json"))
        paragraphs = "".join(
            f"<p>{p}</p>" for p in (f"{place} (Reuters) - {PARAGRAPH}", PARAGRAPH, PARAGRAPH)
        )
        newsml = (
            f'<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:bench:newsml:{i}" version="1"'
            ' xml:lang="en"><itemMeta><versionCreated>2026-11-25T08:00:00Z</versionCreated></itemMeta>'
            f"<contentMeta><headline>{head}</headline></contentMeta><contentSet><inlineXML>"
            f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{paragraphs}</body></html>'
            "</inlineXML></contentSet></newsItem>"
        )
        docs["newsml"].append((newsml.encode(), "application/vnd.iptc.g2.newsitem+xml"))
        nitf = (
            f'<nitf><head><docdata><doc-id regsrc="BENCH" id-string="nitf-{i}"/></docdata></head><body>'
            f"<body.head><hedline><hl1>{head}</hl1></hedline></body.head>"
            f"<body.content>{paragraphs}</body.content></body></nitf>"
        )
        docs["nitf"].append((nitf.encode(), "application/nitf+xml"))
    items = "".join(
        f"<item><guid>https://wire.invalid/{i}/{k}</guid><title>Entry {k} of feed {i}</title>"
        f"<description>&lt;p&gt;{PARAGRAPH}&lt;/p&gt;</description></item>"
        for i in range(max(1, n // 10))
        for k in range(10)
    )
    docs["feed"].append(
        (f'<rss version="2.0"><channel><title>Bench</title>{items}</channel></rss>'.encode(), None)
    )
    return docs


def corpus_documents() -> dict[str, list[tuple[bytes, str | None]]]:
    """Every corpus sample that yields at least one story, by format."""
    docs: dict[str, list[tuple[bytes, str | None]]] = {f: [] for f in FORMATS}
    for folder in ("agency", "feeds"):
        path = CORPUS / folder
        if not path.is_dir():
            continue
        for sample in sorted(path.iterdir()):
            data = sample.read_bytes()
            try:
                fmt, stories = parse_document(data, None, received=datetime.now(UTC), limits=LIMITS)
            except Exception:  # noqa: BLE001 - a sample that does not parse is not benchmarked
                continue
            if stories:
                docs[fmt].append((data, None))
    return docs


def floor_parse(fmt: str) -> Callable[[bytes], Any]:
    """The bare library parse for a format."""
    if fmt in ("newsml", "nitf"):
        return lambda data: fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    if fmt == "feed":
        return lambda data: feedparser.parse(data)
    if fmt == "ninjs":
        return lambda data: json.loads(data)
    return lambda data: data.decode("utf-8", "replace").split("\n\n")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] if ordered else 0.0


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = fn()
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--copies", type=int, default=30, help="template documents per format")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    docs = templates(args.copies)
    for fmt, extra in corpus_documents().items():
        docs[fmt].extend(extra)
    for fmt in FORMATS:
        for data, ctype in docs[fmt]:
            assert sniff(data, ctype) == fmt, fmt

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(log_file=Path(tmp) / "tansu.log") as broker:
        if hasattr(os, "sched_setaffinity"):  # after the broker started: tansu keeps every core
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        topic = f"bench-ingest-{uuid.uuid4().hex[:8]}"
        admin = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
        admin.create_topic(topic, 6)
        admin.close()
        publisher = Producer(client_config_for(broker), **PRODUCER_OPTIONS)
        publisher.publish_many([])  # connect before timing
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bench-client")
        for fmt in FORMATS:
            documents = docs[fmt]
            floor_fn = floor_parse(fmt)
            best: dict[str, float] = {}
            stories_per_round = 0
            latencies: list[float] = []  # seconds per document through the whole pipeline (202 latency)
            commits_seen: list[int] = []  # synced ledger commits of the concurrent path, per round
            for round_no in range(args.rounds):
                print(f"{fmt}: round {round_no + 1}/{args.rounds}", file=sys.stderr)

                def floor(
                    documents: list[tuple[bytes, str | None]] = documents,
                    floor_fn: Callable[[bytes], Any] = floor_fn,
                ) -> int:
                    for data, _ in documents:
                        floor_fn(data)
                    return 0

                def parse(documents: list[tuple[bytes, str | None]] = documents) -> int:
                    return sum(
                        len(parse_document(d, c, received=datetime.now(UTC), limits=LIMITS)[1])
                        for d, c in documents
                    )

                seconds, _ = timed(floor)
                best["floor"] = min(best.get("floor", float("inf")), seconds)
                seconds, stories_per_round = timed(parse)
                best["parse"] = min(best.get("parse", float("inf")), seconds)
                for mode in ("pipeline", "concurrent", "batched"):
                    ledger = Ledger(Path(tmp) / f"{fmt}-{mode}-{round_no}.sqlite3")
                    ingestor = Ingestor(ledger, publisher, topic, LIMITS)

                    def per_document(
                        ingestor: Ingestor = ingestor,
                        documents: list[tuple[bytes, str | None]] = documents,
                        latencies: list[float] = latencies,
                    ) -> int:
                        count = 0
                        for d, c in documents:
                            started = time.perf_counter()
                            count += len(ingestor.ingest(d, c, via="bench").admissions)
                            latencies.append(time.perf_counter() - started)
                        return count

                    def concurrent(
                        ingestor: Ingestor = ingestor, documents: list[tuple[bytes, str | None]] = documents
                    ) -> int:
                        results = pool.map(
                            lambda doc: ingestor.ingest(doc[0], doc[1], via="bench"), documents
                        )
                        return sum(len(r.admissions) for r in results)

                    def batched(
                        ingestor: Ingestor = ingestor, documents: list[tuple[bytes, str | None]] = documents
                    ) -> int:
                        outcomes = ingestor.ingest_many(documents, via="bench")
                        return sum(len(o.admissions) for o in outcomes if isinstance(o, Result))

                    run = {"pipeline": per_document, "concurrent": concurrent, "batched": batched}[mode]
                    commits = ledger.commits
                    seconds, count = timed(run)
                    assert count == stories_per_round, (mode, count, stories_per_round)
                    best[mode] = min(best.get(mode, float("inf")), seconds)
                    if mode == "concurrent":
                        commits_seen.append(ledger.commits - commits)
                    ledger.close()
            rates = {path: stories_per_round / seconds for path, seconds in best.items()}
            results[fmt] = {
                "documents": len(documents),
                "stories": stories_per_round,
                **{f"{path}_stories_per_s": round(rate, 1) for path, rate in rates.items()},
                "parse_ratio": round(rates["parse"] / rates["floor"], 3),
                "pipeline_ratio": round(rates["pipeline"] / rates["floor"], 3),
                "concurrent_ratio": round(rates["concurrent"] / rates["floor"], 3),
                "batched_ratio": round(rates["batched"] / rates["floor"], 3),
                "concurrent_commits_per_document": round(min(commits_seen) / len(documents), 2),
                "pipeline_p50_ms": round(percentile(latencies, 50) * 1000, 2),
                "pipeline_p99_ms": round(percentile(latencies, 99) * 1000, 2),
            }
        pool.shutdown()
        publisher.close()

    header = f"{'format':<10}{'docs':>5}{'stories':>8}{'floor/s':>9}{'parse/s':>9}{'pipe/s':>8}{'conc/s':>8}"
    header += f"{'batch/s':>8}{'parse':>7}{'pipe':>6}{'conc':>6}{'batch':>7}{'p50 ms':>8}{'p99 ms':>8}"
    print("stories/s on one core and the ratio of each path to the bare parser (goal: batch >= 0.5);")
    print("pipe = one document at a time, conc = 8 concurrent callers, batch = ingest_many;")
    print("p50/p99 = per-document latency of pipe (parse + ledger fsync + broker confirmation)")
    print(header)
    for fmt, r in results.items():
        print(
            f"{fmt:<10}{r['documents']:>5.0f}{r['stories']:>8.0f}{r['floor_stories_per_s']:>9.0f}"
            f"{r['parse_stories_per_s']:>9.0f}{r['pipeline_stories_per_s']:>8.0f}"
            f"{r['concurrent_stories_per_s']:>8.0f}{r['batched_stories_per_s']:>8.0f}"
            f"{r['parse_ratio']:>7.2f}{r['pipeline_ratio']:>6.2f}{r['concurrent_ratio']:>6.2f}"
            f"{r['batched_ratio']:>7.2f}{r['pipeline_p50_ms']:>8.1f}{r['pipeline_p99_ms']:>8.1f}"
        )
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_rss_mb:.0f} MB")
    print(
        json.dumps(
            {"bench": "ingest", "rounds": args.rounds, "formats": results, "peak_rss_mb": round(peak_rss_mb)}
        )
    )


def client_config_for(broker: EmbeddedBroker) -> dict[str, Any]:
    """Client config for the bench broker (plaintext, loopback)."""
    from wirewatch_common.settings import Settings

    return client_config(Settings(_env_file=None, kafka_bootstrap_servers=broker.bootstrap_servers))


if __name__ == "__main__":
    main()
