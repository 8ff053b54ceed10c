"""A backlog at real model size: how long 200 seed-length stories take to drain, each translated once.

Starts `wirewatch up` (as `make run` does) with random-weight en→ar and en→tr packages of the real
Argos shape (Transformer base, int8, 50,000-entry vocabulary; built as bench/translate.py builds
them) and a fixed 48-token decoding length, so every sentence costs what a real news sentence
costs. Posts N distinct English agency stories of 11 paragraphs at once, then follows the
translate group's committed offset until the backlog is drained and every story is searchable in
Arabic and Turkish. Afterwards it reads the renditions topic with an independent client: each
story must have exactly one rendition per language (translated once), and ingest must have
re-published nothing.

Side by side, in the same run: the same engine translates a sample of the same stories directly
(no broker, no services) — the ratio stack/direct per story is what the pipeline costs on top of
translation itself.

Usage: `uv run python bench/drain.py [--stories 200] [--sample 6]`; a table on stdout, progress on
stderr, one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from wirewatch_common.bus import Admin
from wirewatch_common.story import Story
from wirewatch_common.topics import load_contract
from wirewatch_stack.client import post_document
from wirewatch_testkit.harness import RunningStack, read_topic
from wirewatch_translate.engine import DecodeOptions, Engine
from wirewatch_translate.translator import StoryTranslator


def _sibling(name: str) -> ModuleType:
    """Load another benchmark of this folder (bench/ is not a package): the real-shape package builder."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


_translate = _sibling("translate")
build_package = _translate.build_package
install_pair = _translate.install_pair

PLACES = ("Port Calder", "Eastmoor", "Larkspur", "Fernhill", "Oldbridge", "Saltmarsh", "Quayside")
PARAGRAPHS = (
    "The harbour authority reopened berth {n} on Wednesday after an inspection found no damage.",
    "Engineers checked the foundations with divers and sonar after a storm on Sunday night.",
    "Three container ships had waited offshore for most of the week, the authority said.",
    '"We expect normal traffic from tomorrow morning," harbour master Elin Varga told reporters.',
    "The night shift will be doubled until the queue of vessels in {place} has been cleared.",
    "Shipping agents said deliveries of fruit and building materials would be a day late at most.",
    "The quay wall was rebuilt twelve years ago and is inspected after every major storm.",
    "Insurers for the cargo vessel that struck the fenders have opened a claim, the owners said.",
    "Local businesses in {place} welcomed the news after a week of disrupted deliveries.",
    "The authority will publish its inspection report on its website next month.",
    "Port traffic rose by four percent last year, helped by new routes to northern Europe.",
)


def story_text(n: int, run: str) -> bytes:
    """An English agency story of the seed's length: a headline and 11 paragraphs, distinct per n."""
    place = PLACES[n % len(PLACES)]
    body = "\n\n".join(p.format(n=n, place=place) for p in PARAGRAPHS)
    return f"Harbour authority reopens berth {n} after inspection {run}\n\n{place.upper()} (Bench) - {body}\n".encode()


def log(text: str) -> None:
    """Progress on stderr."""
    print(text, file=sys.stderr, flush=True)


def lag(admin: Admin, group: str, topics: list[str]) -> tuple[int, int]:
    """(committed, behind) of a group over topics."""
    ends = admin.end_offsets(topics)
    committed = admin.committed_offsets(group)
    done = sum(committed.get(tp, 0) for tp in ends)
    behind = sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())
    return done, behind


def read_renditions(bootstrap: str, topic: str, partitions: int) -> list[dict[str, Any]]:
    """Every rendition on the topic, read to its end with an independent client."""
    return [json.loads(m.value() or b"{}") for m in read_topic(bootstrap, topic, partitions, timeout=120)]


def metric(url: str, name: str) -> float:
    """Sum of a Prometheus counter's samples at a /metrics URL."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def direct(models: Path, texts: list[bytes], length: int) -> float:
    """Seconds per story when the same engine translates the same kind of stories, no services around."""
    from wirewatch_ingest.normalize import Limits
    from wirewatch_ingest.sources import parse_document

    engine = Engine(models, decode=DecodeOptions(max_decoding_length=length))
    translator = StoryTranslator(engine, ["ar", "tr"])
    stories: list[Story] = []
    for text in texts:
        stories += parse_document(text, "text/plain", received=datetime.now(tz=UTC), limits=Limits())[1]
    translator.translate(stories[:1])  # load both models
    started = time.perf_counter()
    translator.translate(stories)
    return (time.perf_counter() - started) / len(stories)


def run(count: int, sample: int, length: int, drain_limit: float) -> dict[str, Any]:
    """Build the packages, run the stack, post the backlog, follow it to the end; return the figures."""
    contract = load_contract()
    with tempfile.TemporaryDirectory(prefix="wirewatch-drain-") as tmp:
        root = Path(tmp)
        run_id = str(int(time.time()))
        texts = [story_text(n, run_id) for n in range(count)]
        log("building a random model of the real Argos shape (a minute) ...")
        package = build_package(
            root / "package", [t.decode() for t in texts[:50]] + [p for p in PARAGRAPHS], seed=3
        )
        env = {
            "WIREWATCH_TRANSLATE_MAX_DECODING_LENGTH": str(length),
            "WIREWATCH_INGEST_REPUBLISH_GRACE_S": "60",
            "WIREWATCH_INGEST_REPUBLISH_INTERVAL_S": "15",
        }
        with RunningStack(root / "stack", env=env) as stack:
            for target in ("ar", "tr"):
                install_pair(stack.model_dir, package, "en", target)
            stack.start(timeout=300)
            admin = Admin({"bootstrap_servers": [stack.bootstrap_servers]})
            log(f"posting {count} stories ...")
            started = time.monotonic()
            ids = []
            for n, text in enumerate(texts):
                answer = post_document(stack.url("ingest"), f"story-{n}", text, "text/plain")
                if not answer.ok:
                    msg = f"story {n} refused: {answer.body}"
                    raise RuntimeError(msg)
                stories = answer.body.get("stories")
                ids += [s["id"] for s in stories] if isinstance(stories, list) else []
            posted = time.monotonic() - started
            progress: list[tuple[float, int]] = []
            topics = [contract.stories.name]
            while True:
                done, behind = lag(admin, "wirewatch-translate", topics)
                _, index_behind = lag(
                    admin, "wirewatch-index", [contract.stories.name, contract.renditions.name]
                )
                elapsed = time.monotonic() - started
                progress.append((round(elapsed, 1), done))
                log(
                    f"{elapsed:7.1f} s  translate committed {done}, behind {behind}; index behind {index_behind}"
                )
                if behind == 0 and index_behind == 0 and done >= count:
                    break
                if elapsed > drain_limit:
                    msg = f"not drained after {drain_limit:.0f} s: translate committed {done} of {count}"
                    raise RuntimeError(msg)
                time.sleep(10)
            drained = time.monotonic() - started
            query = urllib.parse.urlencode({"q": "", "lang": "ar", "size": 1})
            with urllib.request.urlopen(f"{stack.url('index')}/v1/search?{query}", timeout=10) as answer:
                searchable_ar = json.load(answer)["total"]
            renditions = read_renditions(
                stack.bootstrap_servers, contract.renditions.name, contract.renditions.partitions
            )
            per = Counter((r["id"], r["language"]) for r in renditions)
            republished = metric(stack.url("ingest"), "wirewatch_ingest_republished_total")
            admin.close()
        log(f"translating {sample} of the same stories directly with the same engine ...")
        models = root / "direct-models"
        for target in ("ar", "tr"):
            install_pair(models, package, "en", target)
        per_story_direct = direct(models, texts[:sample], length)
    per_story_stack = drained / count
    statuses = Counter(r["translation"]["status"] for r in renditions)
    return {
        "stories": count,
        "post_seconds": round(posted, 1),
        "drain_seconds": round(drained, 1),
        "stack_seconds_per_story": round(per_story_stack, 2),
        "direct_seconds_per_story": round(per_story_direct, 2),
        "stack_over_direct": round(per_story_stack / per_story_direct, 3),
        "renditions": len(renditions),
        "rendition_statuses": dict(statuses),
        "translated_once": all(v == 1 for v in per.values()) and len(per) == 2 * count,
        "most_renditions_of_one_story_language": max(per.values(), default=0),
        "republished": republished,
        "searchable_ar": searchable_ar,
        "translate_committed_over_time": progress,
    }


def main() -> None:
    """Run and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stories", type=int, default=200)
    parser.add_argument("--sample", type=int, default=6, help="stories translated directly for the ratio")
    parser.add_argument("--length", type=int, default=48, help="fixed target tokens per sentence")
    parser.add_argument("--limit", type=float, default=3600, help="give up after this many seconds")
    args = parser.parse_args()
    result = run(args.stories, args.sample, args.length, args.limit)
    rows = [
        ("stories posted at once", result["stories"]),
        ("drained (translated, indexed in ar and tr) after", f"{result['drain_seconds']} s"),
        ("stack, seconds per story", result["stack_seconds_per_story"]),
        ("same engine directly, seconds per story", result["direct_seconds_per_story"]),
        ("stack / direct", result["stack_over_direct"]),
        ("each story translated once per language", result["translated_once"]),
        ("re-published by ingest", result["republished"]),
    ]
    for label, value in rows:
        print(f"{label:<50} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
