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

What a user sees of translation (issue 18), with flags; without them the run above is unchanged:

- `--packages real-shape`: random-weight test packages of the real Argos shape (Transformer base,
  int8, a 32,000-piece SentencePiece vocabulary) for en→ar, en→tr, ar→en and tr→en, built once
  into `--cache` and installed with `wirewatch models install --from-path`; decoding is capped at
  48 tokens (`WIREWATCH_TRANSLATE_MAX_DECODING_LENGTH`) and the model never picks its end token, so
  every sentence costs the cap (as in bench/translate.py and bench/drain.py).
- `--story seed`: English agency stories of the seed's length (a headline and 11 paragraphs),
  every sentence distinct; `short` is a headline and 4 paragraphs. Sent as ninjs (uri, version).
- `--mode steady` (`--rate`), `burst` (`--burst` stories within `--burst-seconds`, then drain) or
  `updates` (each story followed by 2-3 updates, same uri and a higher version, re-sending 70-90%
  of the previous version's sentences, sent at `--rate` versions a second).
- Per story version and language, from its 202: first searchable (`/v1/stream?lang=`, a `partial`
  rendition or the full one) and full rendition searchable (the index's receipt with a status other
  than `partial`); p50/p99 per language; burst: when the whole burst was searchable; updates: model
  time per version (translate's `wirewatch_translate_call_seconds` sum; memory hits and misses when
  the service has them) and every full rendition's text.
- `--compare memory` runs the updates mode twice (memory on, then `WIREWATCH_TRANSLATE_MEMORY_MB=0`)
  and `--compare headlines` the burst mode twice (on, then `WIREWATCH_TRANSLATE_HEADLINES_FIRST=false`),
  each on a fresh stack, and prints the ratios and the issue's goals with PASS or FAIL.
- `--quick`: tiny packages, seed stories and small counts, about a minute: checks the harness.

E.g. `uv run python bench/e2e.py --packages real-shape --story seed --mode steady --rate 0.2`,
`... --packages real-shape --story seed --compare headlines`, `... --compare memory`.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from wirewatch_common.topics import load_contract
from wirewatch_stack.client import post_document
from wirewatch_testkit.harness import SERVICES, RunningStack, read_topic
from wirewatch_translate.randommodel import ARGOS_SHAPE
from wirewatch_translate.sampletext import SAMPLE_TEXT
from wirewatch_translate.testpackages import TEST_PAIRS, build_test_package

LANGUAGES = ("en", "ar", "tr")
TARGETS = ("ar", "tr")
STREAM_INTERVAL_S = 0.2
GOAL_P99_S = 5.0

REAL_SHAPE_VOCAB = 32_000
DECODING_LENGTH = 48
NEVER = -50.0  # output bias that keeps the random decoder off a piece (here: its end token)
SHARPNESS = 32.0  # as bench/translate.py: a sharp output layer, so batching does not flip near-ties
CACHE_VERSION = 1
DEFAULT_CACHE = Path(__file__).resolve().parent.parent / "var" / "bench-packages" / "real-shape-v1"

GOAL_MEMORY_RATIO = 3.0
GOAL_HEADLINE_P99_S = 20.0
GOAL_BURST_LATER = 0.10
GOAL_STEADY_FULL_P99_S = 5.0
GOAL_RSS_MB = 1200.0
MEMORY_OFF = {"WIREWATCH_TRANSLATE_MEMORY_MB": "0"}
HEADLINES_OFF = {"WIREWATCH_TRANSLATE_HEADLINES_FIRST": "false"}
TOGGLES = (*MEMORY_OFF, *HEADLINES_OFF)
MODEL_SECONDS = "wirewatch_translate_call_seconds_sum"
MODEL_SENTENCES = "wirewatch_translate_sentences_total"
MEMORY_HITS = "wirewatch_translate_memory_hits_total"
MEMORY_MISSES = "wirewatch_translate_memory_misses_total"


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
    """Follow /v1/stream and note the first time each (story id, language) is seen.

    With `lang`, the stream carries only that language's versions, and the first time each
    (story id, version) of it is seen is noted too.
    """

    def __init__(self, url: str, lang: str | None = None) -> None:
        self._url = f"{url}/v1/stream" + (f"?lang={lang}" if lang else "")
        self.first_seen: dict[tuple[str, str], float] = {}
        self.versions: dict[tuple[str, int], float] = {}
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

    def seen_version(self, story_id: str, version: int) -> float | None:
        """When a version of a story was first seen on this (one-language) stream, or None."""
        with self._lock:
            return self.versions.get((story_id, version))

    def _run(self) -> None:
        try:
            with urllib.request.urlopen(self._url, timeout=60) as response:
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
                        self.versions.setdefault((hit["story_id"], int(hit.get("version") or 0)), now)
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


def print_default(figures: dict[str, Any], rate: float, seconds: float) -> None:
    """The table of the default run (today's output)."""
    print(
        f"end to end on {figures['cores']} cores: {figures['stories_accepted']} stories at "
        f"{figures['sustained_rate_per_s']}/s (target {rate}/s for {seconds:.0f}s); "
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


# --- stories of the seed's length, and their updates ---------------------------------------------

PLACES = (
    "Port Calder", "Eastmoor", "Larkspur", "Fernhill", "Oldbridge", "Saltmarsh", "Quayside",
    "Northgate", "Brackenridge", "Westhaven", "Millbrook", "Stonecross",
)  # fmt: skip
PEOPLE = (
    "Elin Varga", "Tomas Reyes", "Amira Haddad", "Jonas Berg", "Leyla Demir", "Samuel Okafor",
    "Mira Novak", "Daniel Moreau", "Hana Sato", "Omar Khalil",
)  # fmt: skip
ROLES = (
    "harbour master",
    "regional governor",
    "transport minister",
    "mayor",
    "police spokesman",
    "fire chief",
)
ORGS = (
    "The harbour authority", "The regional council", "The transport ministry", "The national rail operator",
    "The water utility", "The energy regulator", "The civil aviation authority", "The highways agency",
)  # fmt: skip
THINGS = (
    "berth",
    "bridge",
    "rail line",
    "terminal",
    "coastal road",
    "power station",
    "runway",
    "water plant",
)
EVENTS = (
    "a storm",
    "a fire",
    "a power cut",
    "a strike",
    "a landslide",
    "flooding",
    "a cyber attack",
    "a collision",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HEADLINES = (
    "{Org} reopens {thing} in {place} after {event} forces {hours}-hour closure",
    "{Thing} in {place} to reopen after {count} safety checks, {org_short} says",
    "{people} travellers stranded as {event} shuts {thing} in {place} for {hours} hours",
)
LEAD = (
    "{Org} reopened the {thing} in {place} on {day} after {event} forced a {hours}-hour closure "
    "affecting about {people} people."
)
PARAGRAPHS = (
    "Engineers worked through the night to check {count} sections of the {thing}, {org} said in a "
    "statement published on its website.",
    '"We expect normal service to resume by {clock} tomorrow," {role} {person} told reporters at a news '
    "conference in {place}.",
    "About {people} passengers and {lorries} lorries were affected during the closure, according to "
    "figures released by local officials.",
    "{person2}, who heads a local business association, said shops near the {thing} had lost around "
    "{pct} percent of their usual trade.",
    "The cost of the repairs has been estimated at {money} million euros, to be shared between the "
    "state and the operator over {years} years.",
    "Police in {place} said {few} people had been questioned in connection with the incident, but "
    "nobody had been charged by late {day}.",
    "The {thing} was last upgraded {years} years ago and carries more than {daily} vehicles on an "
    "ordinary working day.",
    "Opposition lawmakers called for an independent inquiry into why warnings about the {thing} "
    "issued {weeks} weeks before the closure had not been acted on.",
    "Forecasters expect calmer weather over the next {days} days, although up to {rain} millimetres "
    "of rain could fall in the hills.",
    "{Org} said it would publish a full report on the incident within {months} months and review "
    "{count} of its emergency procedures.",
    "Insurers estimate that claims from businesses in {place} could reach {money} million euros once "
    "all the damage has been assessed.",
    "Bus operators added {extra} extra services to carry commuters around the closed section while "
    "{count} engineers carried out the checks.",
    "Local schools stayed open, but {pct} percent of pupils arrived late on {day}, head teachers in "
    "{place} said.",
)
NEWS = (
    "Later on {day}, {org} said a further {count} inspections would be carried out before the end of "
    "the month.",
    "In a second statement, {role} {person} said {few} of the {count} damaged sections had already been "
    "repaired.",
    "Traffic was back to about {pct} percent of its usual level by {clock}, according to the latest "
    "figures from {org}.",
)


@dataclass(frozen=True)
class Draft:
    """One version of a generated story: (template, sentence) per paragraph."""

    n: int
    uri: str
    version: int
    headline: str
    paragraphs: tuple[tuple[str, str], ...]
    place: str
    resent: float | None = None
    """For an update: the share of its sentences (headline included) the previous version had."""


class StoryWriter:
    """English agency stories and updates, seeded by the run; no sentence is ever written twice.

    Every sentence carries numbers drawn afresh, and one already written is drawn again, so
    distinct stories share no sentence (a translation memory would otherwise make them cheap).
    """

    def __init__(self, run: str) -> None:
        self._run = run
        self._rng = random.Random(run)
        self._seen: set[str] = set()
        self._context: dict[str, dict[str, str]] = {}

    def _numbers(self) -> dict[str, str]:
        r = self._rng
        return {
            "hours": str(r.randint(6, 140)),
            "people": f"{r.randint(2, 95) * 100 + r.randint(1, 99):,}",
            "count": str(r.randint(3, 240)),
            "clock": f"{r.randint(5, 11)}:{r.choice(('00', '15', '30', '45'))} a.m.",
            "lorries": str(r.randint(40, 3900)),
            "pct": str(r.randint(8, 92)),
            "money": f"{r.randint(1, 180)}.{r.randint(1, 9)}",
            "years": str(r.randint(3, 40)),
            "few": str(r.randint(2, 19)),
            "daily": f"{r.randint(3, 90) * 1000 + r.randint(1, 999) * 1:,}",
            "weeks": str(r.randint(2, 30)),
            "days": str(r.randint(2, 12)),
            "rain": str(r.randint(10, 160)),
            "months": str(r.randint(2, 14)),
            "extra": str(r.randint(5, 400)),
            "day": r.choice(DAYS),
        }

    def _sentence(self, template: str, context: dict[str, str]) -> str:
        for _ in range(1000):
            text = template.format(**(context | self._numbers()))
            if text not in self._seen:
                break
        self._seen.add(text)
        return text

    def story(self, n: int, paragraphs: int) -> Draft:
        """Version 1 of story n: a headline, a lead and `paragraphs - 1` more paragraphs."""
        r = self._rng
        org = r.choice(ORGS)
        thing = r.choice(THINGS)
        context = {
            "Org": org,
            "org": org[0].lower() + org[1:],
            "org_short": org.split(" ", 1)[1],
            "thing": thing,
            "Thing": thing.capitalize(),
            "place": r.choice(PLACES),
            "event": r.choice(EVENTS),
            "role": r.choice(ROLES),
            "person": r.choice(PEOPLE),
            "person2": r.choice(PEOPLE),
        }
        uri = f"urn:wirewatch-bench:{self._run}:{n}"
        self._context[uri] = context
        chosen = [LEAD, *r.sample(PARAGRAPHS, min(len(PARAGRAPHS), paragraphs - 1))]
        return Draft(
            n=n,
            uri=uri,
            version=1,
            headline=self._sentence(r.choice(HEADLINES), context),
            paragraphs=tuple((t, self._sentence(t, context)) for t in chosen),
            place=context["place"],
        )

    def update_count(self) -> int:
        """How many updates follow a story: 2 or 3."""
        return self._rng.choice((2, 3))

    def update(self, draft: Draft) -> Draft:
        """The next version: a new headline, 1-2 new paragraphs after the lead, a few changed ones.

        70-90% of the update's sentences (headline included) are the previous version's, unchanged.
        """
        r = self._rng
        context = self._context[draft.uri]
        added = r.choice((1, 2))
        total = 1 + len(draft.paragraphs) + added
        kept = min(len(draft.paragraphs), round(r.uniform(0.70, 0.90) * total))
        changed = set(r.sample(range(len(draft.paragraphs)), len(draft.paragraphs) - kept))
        paragraphs = [
            (t, self._sentence(t, context) if i in changed else text)
            for i, (t, text) in enumerate(draft.paragraphs)
        ]
        news = [(t, self._sentence(t, context)) for t in r.sample(NEWS, added)]
        headline = f"UPDATE {draft.version}-" + self._sentence(r.choice(HEADLINES), context)
        return replace(
            draft,
            version=draft.version + 1,
            headline=headline,
            paragraphs=(paragraphs[0], *news, *paragraphs[1:]),
            resent=kept / total,
        )


def ninjs(draft: Draft, firstcreated: datetime) -> bytes:
    """The draft as a ninjs 2.x document (the format that carries uri and version)."""
    now = datetime.now(tz=UTC)
    body = "".join(f"<p>{html.escape(text)}</p>" for _, text in draft.paragraphs)
    item = {
        "uri": draft.uri,
        "type": "text",
        "version": str(draft.version),
        "firstcreated": firstcreated.isoformat(),
        "versioncreated": max(now, firstcreated).isoformat(),
        "language": "en",
        "urgency": 3,
        "pubstatus": "usable",
        "headlines": [{"role": "main", "value": draft.headline}],
        "bodies": [{"role": "main", "contenttype": "text/html", "value": body}],
        "located": draft.place,
        "copyrightholder": "Wirewatch Bench",
    }
    return json.dumps(item).encode()


def sample_story(lang: str, run: str) -> bytes:
    """A short story in Arabic or Turkish from the sample text (loads the ar→en and tr→en packages)."""
    lines = SAMPLE_TEXT[lang].strip().splitlines()
    now = datetime.now(tz=UTC).isoformat()
    item = {
        "uri": f"urn:wirewatch-bench:{run}:warm-up-{lang}",
        "version": "1",
        "firstcreated": now,
        "versioncreated": now,
        "language": lang,
        "headlines": [{"role": "main", "value": lines[0]}],
        "bodies": [
            {"role": "main", "contenttype": "text/html", "value": "".join(f"<p>{p}</p>" for p in lines[1:5])}
        ],
    }
    return json.dumps(item, ensure_ascii=False).encode()


def tokenizer_text() -> list[str]:
    """English text the real-shape tokenizer learns, from the same templates as the stories."""
    writer = StoryWriter("tokenizer")
    lines: list[str] = []
    for n in range(300):
        draft = writer.story(n, 11)
        for _ in range(2):
            lines += [draft.headline, *(text for _, text in draft.paragraphs)]
            draft = writer.update(draft)
    return lines


# --- packages ------------------------------------------------------------------------------------


def real_shape_packages(cache: Path) -> Path:
    """The folder of real-shape .argosmodel packages, built into `cache` the first time."""
    manifest = cache / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("cache_version") == CACHE_VERSION:
        log(f"real-shape packages from {cache}")
        return cache
    building = cache.with_name(cache.name + f".building-{os.getpid()}")
    text = tokenizer_text()
    started = time.monotonic()
    for seed, (source, target) in enumerate(TEST_PAIRS):
        log(
            f"building a real-shape {source}→{target} package ({REAL_SHAPE_VOCAB:,} pieces, {ARGOS_SHAPE}) ..."
        )
        build_test_package(
            building,
            source,
            target,
            seed=seed,
            shape=ARGOS_SHAPE,
            vocab_size=REAL_SHAPE_VOCAB,
            more_text=text,
            eos_bias=NEVER * SHARPNESS,  # logits grow with the sharpness
            projection_scale=SHARPNESS,
            tokenizer_type="bpe",
        )
    info = {
        "cache_version": CACHE_VERSION,
        "pairs": [f"{s}-{t}" for s, t in TEST_PAIRS],
        "shape": str(ARGOS_SHAPE),
        "vocabulary": REAL_SHAPE_VOCAB,
        "built_s": round(time.monotonic() - started, 1),
    }
    (building / "manifest.json").write_text(json.dumps(info, indent=2))
    cache.parent.mkdir(parents=True, exist_ok=True)
    if cache.exists():  # an unfinished or older cache
        for path in cache.iterdir():
            path.unlink()
        cache.rmdir()
    building.rename(cache)
    log(f"  built in {info['built_s']} s into {cache}")
    return cache


# --- what the stack shows --------------------------------------------------------------------------


class ReceiptWatcher:
    """Follow the index's receipts with an independent client: when each version became searchable.

    A receipt's status tells a full rendition from a `partial` one; the first receipt of any
    other status (or of an original) is when that version was fully searchable.
    """

    def __init__(self, bootstrap: str) -> None:
        spec = load_contract().receipts
        self._partitions = [TopicPartition(spec.name, p, OFFSET_BEGINNING) for p in range(spec.partitions)]
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 20,
            }
        )
        self.full: dict[tuple[str, int, str], float] = {}
        self.statuses: Counter[str] = Counter()
        self.error: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Read from the start of the topic in a background thread."""
        self._consumer.assign(self._partitions)
        self._thread.start()

    def stop(self) -> None:
        """Stop and close the client."""
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()

    def done(self, story_id: str, version: int, lang: str) -> float | None:
        """When the full version in a language became searchable (time.monotonic), or None."""
        with self._lock:
            return self.full.get((story_id, version, lang))

    def complete(self, story_id: str, version: int, languages: Sequence[str] = LANGUAGES) -> bool:
        """Whether the version is searchable in full in every one of the languages."""
        return all(self.done(story_id, version, lang) is not None for lang in languages)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                message = self._consumer.poll(0.2)
                if message is None or message.error() is not None:
                    continue
                now = time.monotonic()
                receipt = json.loads(message.value() or b"{}")
                if receipt.get("service", "index") != "index":
                    continue
                status = str(receipt.get("status") or "original")
                key = (str(receipt["story_id"]), int(receipt["version"]), str(receipt["language"]))
                with self._lock:
                    self.statuses[status] += 1
                    if status != "partial":
                        self.full.setdefault(key, now)
        except Exception as exc:  # noqa: BLE001 - reported in the figures
            self.error = repr(exc)


def scrape(url: str) -> dict[str, float]:
    """Every sample of a /metrics page summed by name (labels dropped); empty when it cannot be read."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        name = sample.split("{", 1)[0]
        try:
            totals[name] = totals.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return totals


def delta(after: dict[str, float], before: dict[str, float], name: str) -> float | None:
    """How much a counter rose, or None when the service does not have it."""
    if name not in after:
        return None
    return after[name] - before.get(name, 0.0)


def memory_mb(pid: int | None) -> dict[str, float]:
    """A process's resident memory now (VmRSS) and its peak (VmHWM), in MiB."""
    if pid is None:
        return {}
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return {}
    found = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found["rss_mb" if key == "VmRSS" else "peak_mb"] = round(int(value.split()[0]) / 1024, 1)
    return found


def loaded_packages(url: str) -> list[str]:
    """The packages translate has loaded (GET /v1/models)."""
    try:
        with urllib.request.urlopen(f"{url}/v1/models", timeout=10) as answer:
            body = json.load(answer)
    except OSError:
        return []
    return [f"{p['source']}-{p['target']}" for p in body.get("packages", []) if p.get("loaded")]


def env_label(env: dict[str, str]) -> str:
    """The settings a run changed, or that it ran with every feature on."""
    return ", ".join(f"{k}={v}" for k, v in env.items()) or "features on"


def log(text: str) -> None:
    """Progress on stderr."""
    print(text, file=sys.stderr, flush=True)


def stats(values: list[float]) -> dict[str, Any]:
    """Count and percentiles of latencies, in seconds."""
    if not values:
        return {"n": 0, "p50_s": None, "p95_s": None, "p99_s": None, "max_s": None, "mean_s": None}
    return {
        "n": len(values),
        "p50_s": round(percentile(values, 50), 3),
        "p95_s": round(percentile(values, 95), 3),
        "p99_s": round(percentile(values, 99), 3),
        "max_s": round(max(values), 3),
        "mean_s": round(statistics.fmean(values), 3),
    }


# --- one scenario on a fresh stack ---------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """What one run sends and to which stack."""

    mode: str  # steady | burst | updates
    packages: str  # tiny | real-shape
    story: str  # short | seed
    rate: float
    seconds: float
    burst: int
    burst_seconds: float
    drain_s: float
    env: dict[str, str] = field(default_factory=dict)

    @property
    def paragraphs(self) -> int:
        """Paragraphs of version 1 of each story."""
        return 11 if self.story == "seed" else 4


def plan(scenario: Scenario, writer: StoryWriter) -> list[tuple[float, Draft]]:
    """(seconds after the start, story version) to send, in order."""
    if scenario.mode == "burst":
        gap = scenario.burst_seconds / max(1, scenario.burst)
        return [(n * gap, writer.story(n, scenario.paragraphs)) for n in range(scenario.burst)]
    total = max(1, round(scenario.rate * scenario.seconds))
    drafts: list[Draft] = []
    n = 0
    while len(drafts) < total:
        draft = writer.story(n, scenario.paragraphs)
        drafts.append(draft)
        if scenario.mode == "updates":
            for _ in range(writer.update_count()):
                draft = writer.update(draft)
                drafts.append(draft)
        n += 1
    return [(i / scenario.rate, d) for i, d in enumerate(drafts[:total])]


@dataclass
class Sent:
    """One story version the ingest API accepted."""

    draft: Draft
    story_id: str
    accepted: float
    model_s_before: float | None = None


def post_story(ingest: str, name: str, data: bytes, content_type: str = "application/json") -> str:
    """Post one document; return the story's id (raises when it is not accepted)."""
    answer = post_document(ingest, name, data, content_type)
    stories = answer.body.get("stories")
    if not answer.ok or not isinstance(stories, list) or not stories:
        msg = f"{name}: {answer.line()}"
        raise RuntimeError(msg)
    return str(stories[0]["id"])


def wait_until(check: Callable[[], bool], deadline: float) -> bool:
    """Poll `check` every 0.2 s until it holds or the deadline passes."""
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def run_scenario(
    scenario: Scenario, archives: Path | None, run_id: str
) -> tuple[dict[str, Any], dict[Any, str]]:
    """Run one scenario on a fresh stack; return its figures and each full rendition's text."""
    drafts = plan(scenario, StoryWriter(run_id))
    env = {"WIREWATCH_INDEX_STREAM_INTERVAL_S": str(STREAM_INTERVAL_S)}
    if scenario.packages == "real-shape":
        env["WIREWATCH_TRANSLATE_MAX_DECODING_LENGTH"] = str(DECODING_LENGTH)
    sent: list[Sent] = []
    failed = delayed = 0
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-") as tmp:
        stack = RunningStack(Path(tmp), env=env | scenario.env)
        for name in TOGGLES:  # the feature is on unless this scenario turns it off
            if name not in scenario.env:
                stack.env.pop(name, None)
        receipts: ReceiptWatcher | None = None
        streams: dict[str, StreamWatcher] = {}
        try:
            if archives is None:
                log("building and installing the tiny test translation packages")
                stack.install_test_packages()
            else:
                log(f"installing the real-shape packages from {archives}")
                done = stack.command("models", "install", "--from-path", str(archives), timeout=900)
                if done.returncode != 0:
                    msg = f"installing {archives} failed: {done.stdout}{done.stderr}"
                    raise RuntimeError(msg)
            started = time.monotonic()
            stack.start(timeout=300)
            log(f"stack ready in {time.monotonic() - started:.1f}s ({env_label(scenario.env)})")
            ingest, index, translate = stack.url("ingest"), stack.url("index"), stack.url("translate")
            receipts = ReceiptWatcher(stack.bootstrap_servers)
            receipts.start()
            streams = {lang: StreamWatcher(index, lang) for lang in LANGUAGES}
            for watcher in streams.values():
                watcher.start()

            # warm-up: every consumer group joined, all four packages loaded
            warm = [
                (post_story(ingest, "warm-up-en", story_text(0, f"warm-up {run_id}"), "text/plain"), TARGETS),
                (post_story(ingest, "warm-up-ar", sample_story("ar", run_id)), ("tr",)),
                (post_story(ingest, "warm-up-tr", sample_story("tr", run_id)), ("ar",)),
            ]
            if not wait_until(
                lambda: all(receipts.complete(i, 1, langs) for i, langs in warm),
                time.monotonic() + 600,
            ):
                msg = f"warm-up stories not searchable in every language: {stack.output()}"
                raise RuntimeError(msg)
            time.sleep(1.0)  # the last warm-up call's metrics
            pid = stack.pid("translate")
            warm_memory = memory_mb(pid)
            loaded = loaded_packages(translate)
            log(
                f"warm-up done; translate holds {', '.join(loaded) or 'no packages'}; sending {len(drafts)} versions"
            )

            before = scrape(translate)
            first = time.monotonic()
            created: dict[str, datetime] = {}
            for i, (offset, draft) in enumerate(drafts):
                pause = first + offset - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                if scenario.mode == "updates" and sent:
                    # each version's model time is then exactly what ran between its post and the next
                    previous = sent[-1]
                    wait_until(
                        partial(receipts.complete, previous.story_id, previous.draft.version),
                        time.monotonic() + scenario.drain_s,
                    )
                    delayed += time.monotonic() > first + offset + 0.5
                model_s = scrape(translate).get(MODEL_SECONDS) if scenario.mode == "updates" else None
                firstcreated = created.setdefault(draft.uri, datetime.now(tz=UTC))
                try:
                    story_id = post_story(
                        ingest, f"story-{draft.n}-v{draft.version}", ninjs(draft, firstcreated)
                    )
                except RuntimeError as exc:
                    log(f"  not accepted: {exc}")
                    failed += 1
                    continue
                sent.append(Sent(draft, story_id, time.monotonic(), model_s))
                if (i + 1) % 10 == 0:
                    log(f"  sent {i + 1}/{len(drafts)}")
            sent_s = time.monotonic() - first
            finals = {s.story_id: s for s in sent}  # the last version sent of each story

            def drained() -> bool:
                return all(receipts.complete(s.story_id, s.draft.version) for s in finals.values())

            if not wait_until(drained, time.monotonic() + scenario.drain_s):
                log(f"  not drained within {scenario.drain_s:.0f}s after the last story")
            time.sleep(1.0)
            after = scrape(translate)
            end_memory = memory_mb(pid)
            contract = load_contract()
            ours = {s.story_id: s.draft.n for s in sent}
            texts: dict[Any, str] = {}
            rendition_statuses: Counter[str] = Counter()
            for message in read_topic(
                stack.bootstrap_servers, contract.renditions.name, contract.renditions.partitions, timeout=120
            ):
                story = json.loads(message.value() or b"{}")
                if story.get("id") not in ours:
                    continue
                status = str((story.get("translation") or {}).get("status"))
                rendition_statuses[status] += 1
                if status == "translated":
                    key = (ours[story["id"]], int(story["version"]), str(story["language"]))
                    texts[key] = "\n".join([story.get("headline", ""), *story.get("body", [])])
        finally:
            for watcher in streams.values():
                watcher.stop()
            if receipts is not None:
                receipts.stop()
            code = stack.stop()
        if code not in (0, None):
            log(stack.output())

    figures = measure(scenario, sent, streams, receipts, first, finals)
    model_s = delta(after, before, MODEL_SECONDS)
    figures |= {
        "post_failures": failed,
        "posts_delayed": delayed,
        "sent_seconds": round(sent_s, 1),
        "sustained_rate_per_s": round(len(sent) / sent_s, 3) if sent_s > 0 else None,
        "model_seconds": round(model_s, 3) if model_s is not None else None,
        "model_seconds_per_version": round(model_s / len(sent), 4) if model_s is not None and sent else None,
        "model_sentences": delta(after, before, MODEL_SENTENCES),
        "memory_hits": delta(after, before, MEMORY_HITS),
        "memory_misses": delta(after, before, MEMORY_MISSES),
        "translate_memory_after_warmup": warm_memory,
        "translate_memory_end": end_memory,
        "translate_packages_loaded": loaded,
        "rendition_statuses": dict(rendition_statuses),
        "receipt_statuses": dict(receipts.statuses) if receipts else {},
        "full_renditions": len(texts),
    }
    if scenario.mode == "updates":
        figures |= split_model_time(sent, after.get(MODEL_SECONDS))
    return figures, texts


def measure(
    scenario: Scenario,
    sent: Sequence[Sent],
    streams: dict[str, StreamWatcher],
    receipts: ReceiptWatcher | None,
    first: float,
    finals: dict[str, Sent],
) -> dict[str, Any]:
    """Latencies from each version's 202: first searchable (stream) and full (receipt), per language."""
    latency: dict[str, Any] = {}
    last_full = last_first = first
    for lang in LANGUAGES:
        firsts: list[float] = []
        fulls: list[float] = []
        missing_first = missing_full = superseded = 0
        for s in sent:
            final = finals[s.story_id] is s
            seen = streams[lang].seen_version(s.story_id, s.draft.version)
            done = receipts.done(s.story_id, s.draft.version, lang) if receipts else None
            if seen is None and done is None and not final:
                superseded += 1  # a newer version came before this one was translated
                continue
            if seen is None:
                missing_first += 1
            else:
                firsts.append(max(0.0, seen - s.accepted))
                last_first = max(last_first, seen) if lang in TARGETS else last_first
            if done is None:
                missing_full += 1
            else:
                fulls.append(max(0.0, done - s.accepted))
                last_full = max(last_full, done)
        latency[lang] = {
            "first": stats(firsts),
            "full": stats(fulls),
            "missing_first": missing_first,
            "missing_full": missing_full,
            "superseded": superseded,
        }
    figures: dict[str, Any] = {
        "bench": "e2e",
        "mode": scenario.mode,
        "packages": scenario.packages,
        "story": scenario.story,
        "paragraphs": scenario.paragraphs,
        "cores": os.cpu_count(),
        "env": scenario.env,
        "versions_sent": len(sent),
        "stories": len(finals),
        "latency": latency,
        "stream_errors": {lang: w.error for lang, w in streams.items() if w.error},
        "receipt_error": receipts.error if receipts else None,
    }
    if scenario.mode == "steady" or scenario.mode == "updates":
        figures["target_rate_per_s"] = scenario.rate
        figures["seconds"] = scenario.seconds
    if scenario.mode == "burst":
        figures |= {
            "burst_stories": scenario.burst,
            "burst_seconds": scenario.burst_seconds,
            "burst_headlines_searchable_s": round(last_first - first, 2),
            "burst_done_s": round(last_full - first, 2),
        }
    if scenario.mode == "updates":
        shares = [s.draft.resent for s in sent if s.draft.resent is not None]
        figures["updates"] = sum(1 for s in sent if s.draft.version > 1)
        figures["resent_share_mean"] = round(statistics.fmean(shares), 3) if shares else None
    return figures


def split_model_time(sent: Sequence[Sent], end: float | None) -> dict[str, Any]:
    """Model time of first versions and of updates: what ran between a version's post and the next.

    Exact because in the updates mode a version is posted only once the previous one is
    searchable in full in every language (its time slot passed, or later: `posts_delayed`).
    """
    marks = [s.model_s_before for s in sent]
    if end is None or not sent or any(m is None for m in marks):
        return {}
    by_kind: dict[str, list[float]] = {"first": [], "update": []}
    for i, s in enumerate(sent):
        following = marks[i + 1] if i + 1 < len(sent) else end
        assert following is not None and marks[i] is not None
        by_kind["first" if s.draft.version == 1 else "update"].append(following - marks[i])  # type: ignore[operator]
    return {
        f"model_seconds_per_{kind}": round(statistics.fmean(v), 4) if v else None
        for kind, v in by_kind.items()
    }


# --- goals and output ----------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    """PASS, FAIL, or n/a when this run does not measure it."""
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def worst(figures: dict[str, Any], kind: str, key: str = "p99_s") -> float | None:
    """The worst figure of the renditions (ar, tr); None when one has none."""
    values = [figures["latency"][lang][kind][key] for lang in TARGETS]
    return None if any(v is None for v in values) else max(values)


def single_goals(figures: dict[str, Any]) -> dict[str, Any]:
    """The goals one run measures: steady full p99, and translate's RSS with real-shape packages."""
    goals: dict[str, Any] = {}
    if figures["mode"] == "steady":
        full = worst(figures, "full")
        missing = sum(figures["latency"][lang]["missing_full"] for lang in TARGETS)
        goals["steady_full_p99"] = {
            "value_s": full,
            "goal_s": GOAL_STEADY_FULL_P99_S,
            "ok": full is not None and full <= GOAL_STEADY_FULL_P99_S and missing == 0,
            "as_specified": figures["packages"] == "real-shape"
            and figures["story"] == "seed"
            and abs(figures.get("target_rate_per_s", 0) - 0.2) < 1e-9,
        }
    if figures["packages"] == "real-shape":
        peak = figures["translate_memory_end"].get("peak_mb")
        loaded = len(figures["translate_packages_loaded"])
        goals["translate_rss"] = {
            "peak_mb": peak,
            "packages_loaded": loaded,
            "goal_mb": GOAL_RSS_MB,
            "ok": peak is not None and peak <= GOAL_RSS_MB and loaded == len(TEST_PAIRS),
        }
    return goals


def print_scenario(label: str, figures: dict[str, Any]) -> None:
    """One run's table: per language, first searchable and full rendition, from the 202."""
    rate = (
        f"{figures['burst_stories']} stories in {figures['burst_seconds']:g}s"
        if figures["mode"] == "burst"
        else f"{figures['target_rate_per_s']:g}/s for {figures['seconds']:g}s "
        f"(sustained {figures['sustained_rate_per_s']}/s)"
    )
    print(
        f"{label}: {figures['mode']} mode, {figures['packages']} packages, {figures['story']} stories "
        f"({figures['paragraphs']} paragraphs), {figures['versions_sent']} versions of {figures['stories']} "
        f"stories, {rate}, {figures['cores']} cores; {env_label(figures['env'])}"
    )
    print(
        f"  {'language':<15}{'n':>5}{'first p50':>11}{'first p99':>11}{'full p50':>10}{'full p99':>10}"
        f"{'full max':>10}{'missing':>9}{'superseded':>12}"
    )
    for lang, row in figures["latency"].items():
        cells = [
            row["first"]["p50_s"],
            row["first"]["p99_s"],
            row["full"]["p50_s"],
            row["full"]["p99_s"],
            row["full"]["max_s"],
        ]
        shown = ["-" if c is None else f"{c:.2f}" for c in cells]
        label_ = f"{lang} ({'original' if lang == 'en' else 'rendition'})"
        print(
            f"  {label_:<15}{row['full']['n']:>5}{shown[0]:>11}{shown[1]:>11}{shown[2]:>10}{shown[3]:>10}{shown[4]:>10}"
            f"{row['missing_full']:>9}{row['superseded']:>12}"
        )
    if figures["mode"] == "burst":
        print(
            f"  burst: every headline searchable (ar, tr) after {figures['burst_headlines_searchable_s']}s, "
            f"whole burst done after {figures['burst_done_s']}s (from the first post)"
        )
    if figures["mode"] == "updates":
        print(
            f"  updates: {figures['updates']} of {figures['versions_sent']} versions, re-sending "
            f"{figures['resent_share_mean']} of their sentences on average; model time "
            f"{figures['model_seconds']}s, {figures['model_seconds_per_version']}s per version "
            f"(by time slice: {figures.get('model_seconds_per_first')}s per first version, "
            f"{figures.get('model_seconds_per_update')}s per update)"
        )
    print(
        f"  model sentences {figures['model_sentences']}, memory hits {figures['memory_hits']}, misses "
        f"{figures['memory_misses']}; renditions {figures['rendition_statuses']}"
    )
    print(
        f"  translate RSS: {figures['translate_memory_after_warmup'].get('rss_mb')} MiB after warm-up "
        f"({len(figures['translate_packages_loaded'])} packages loaded), peak "
        f"{figures['translate_memory_end'].get('peak_mb')} MiB"
    )


def print_goals(goals: dict[str, Any]) -> None:
    """Each goal with its figure and PASS/FAIL."""
    lines = {
        "memory_model_time": lambda g: (
            f"update stream: model time per update without/with memory {g['updates_ratio']}x "
            f"(goal ≥ {GOAL_MEMORY_RATIO:g}x); every version, first versions included: {g['ratio']}x"
        ),
        "memory_identical": lambda g: (
            f"update stream: full renditions identical with and without memory: {g['same']} of {g['compared']} "
            f"(only in one run: {g['only_one_run']})"
        ),
        "burst_headline_p99": lambda g: (
            f"burst: headline searchable p99 {g['value_s']}s, headlines first on (goal ≤ {GOAL_HEADLINE_P99_S:g}s; "
            f"off: {g['off_s']}s)"
        ),
        "burst_full_completion": lambda g: (
            f"burst: whole burst done {g['on_s']}s with headline-first, {g['off_s']}s without: "
            f"{g['ratio']}x (goal ≤ {1 + GOAL_BURST_LATER:g}x)"
        ),
        "steady_full_p99": lambda g: (
            f"steady: full rendition p99 {g['value_s']}s, worst language (goal ≤ {GOAL_STEADY_FULL_P99_S:g}s"
            + ("" if g["as_specified"] else "; the goal is set for real-shape seed stories at 0.2/s")
            + ")"
        ),
        "translate_rss": lambda g: (
            f"translate peak RSS {g['peak_mb']} MiB with {g['packages_loaded']} real-shape packages loaded "
            f"(goal ≤ {GOAL_RSS_MB:g} MiB with 4)"
        ),
    }
    print("goals (issue 18):")
    for name, goal in goals.items():
        print(f"  {verdict(goal['ok']):<5}{lines[name](goal)}")


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b rounded, or None."""
    return round(a / b, 3) if a is not None and b else None


def compare_memory(
    on: dict[str, Any], off: dict[str, Any], texts_on: dict[Any, str], texts_off: dict[Any, str]
) -> dict[str, Any]:
    """Model time per version without/with the memory, and whether the renditions are the same."""
    per = ratio(off["model_seconds_per_version"], on["model_seconds_per_version"])
    updates = ratio(off.get("model_seconds_per_update"), on.get("model_seconds_per_update"))
    common = sorted(set(texts_on) & set(texts_off))
    same = sum(texts_on[k] == texts_off[k] for k in common)
    return {
        "memory_model_time": {
            "ratio": per,
            "updates_ratio": updates,
            "ok": updates is not None and updates >= GOAL_MEMORY_RATIO,
        },
        "memory_identical": {
            "same": same,
            "compared": len(common),
            "only_one_run": len(set(texts_on) ^ set(texts_off)),
            "differing": [list(k) for k in common if texts_on[k] != texts_off[k]][:10],
            "ok": bool(common) and same == len(common),
        },
    }


def compare_headlines(on: dict[str, Any], off: dict[str, Any]) -> dict[str, Any]:
    """Headline p99 with headline-first, and how much later the whole burst is done than without."""
    p99 = worst(on, "first")
    missing = sum(on["latency"][lang]["missing_first"] for lang in TARGETS)
    later = ratio(on["burst_done_s"], off["burst_done_s"])
    return {
        "burst_headline_p99": {
            "value_s": p99,
            "off_s": worst(off, "first"),
            "ok": p99 is not None and p99 <= GOAL_HEADLINE_P99_S and missing == 0,
        },
        "burst_full_completion": {
            "on_s": on["burst_done_s"],
            "off_s": off["burst_done_s"],
            "ratio": later,
            "ok": later is not None and later <= 1 + GOAL_BURST_LATER,
        },
    }


def main() -> None:
    """Parse the flags, run, print the table(s) and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rate", type=float, help="stories (updates: versions) per second (default 5; 0.2 real-shape)"
    )
    parser.add_argument("--seconds", type=float, help="how long to send (default 60)")
    parser.add_argument(
        "--drain", type=float, help="most seconds to wait after the last story (default 60; 600 real-shape)"
    )
    parser.add_argument(
        "--packages", choices=("tiny", "real-shape"), help="translation packages (default tiny)"
    )
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="where real-shape packages are kept"
    )
    parser.add_argument(
        "--story", choices=("short", "seed"), help="short (4 paragraphs, default) or seed (11)"
    )
    parser.add_argument("--mode", choices=("steady", "burst", "updates"), help="default steady")
    parser.add_argument("--burst", type=int, help="stories in a burst (default 50)")
    parser.add_argument("--burst-seconds", type=float, help="seconds the burst is sent within (default 10)")
    parser.add_argument("--compare", choices=("memory", "headlines"), help="two runs, feature on then off")
    parser.add_argument("--quick", action="store_true", help="tiny packages, small counts: about a minute")
    args = parser.parse_args()

    mode = args.mode or {"memory": "updates", "headlines": "burst"}.get(args.compare or "", "steady")
    if args.compare and mode != {"memory": "updates", "headlines": "burst"}[args.compare]:
        parser.error(
            f"--compare {args.compare} runs the {'updates' if args.compare == 'memory' else 'burst'} mode"
        )
    packages = args.packages or "tiny"
    story = args.story or ("seed" if args.quick else "short")
    if mode == "steady" and story == "short" and packages == "tiny" and not args.compare and not args.quick:
        rate, seconds, drain = args.rate or 5.0, args.seconds or 60.0, args.drain or 60.0
        print_default(run(rate, seconds, drain), rate, seconds)  # today's run, unchanged
        return

    real = packages == "real-shape"
    scenario = Scenario(
        mode=mode,
        packages=packages,
        story=story,
        rate=args.rate or (1.0 if args.quick else 0.2 if real else 5.0),
        seconds=args.seconds or (15.0 if args.quick else 60.0),
        burst=args.burst or (10 if args.quick else 50),
        burst_seconds=args.burst_seconds or (2.0 if args.quick else 10.0),
        drain_s=args.drain or (600.0 if real else 60.0),
    )
    archives = real_shape_packages(args.cache) if real else None
    run_id = str(int(time.time()))
    if not args.compare:
        figures, _ = run_scenario(scenario, archives, run_id)
        goals = single_goals(figures)
        print_scenario("run", figures)
        print_goals(goals)
        print(json.dumps(figures | {"goals": goals}))
        return

    off_env = MEMORY_OFF if args.compare == "memory" else HEADLINES_OFF
    log(f"comparing {args.compare}: run 1 of 2, feature on")
    on, texts_on = run_scenario(scenario, archives, run_id)
    log(f"comparing {args.compare}: run 2 of 2, {off_env}")
    off, texts_off = run_scenario(replace(scenario, env=off_env), archives, run_id)
    goals = (
        compare_memory(on, off, texts_on, texts_off)
        if args.compare == "memory"
        else compare_headlines(on, off)
    )
    goals |= {k: v for k, v in single_goals(on).items() if k == "translate_rss"}
    print_scenario("feature on", on)
    print_scenario("feature off", off)
    print_goals(goals)
    print(json.dumps({"bench": "e2e", "compare": args.compare, "on": on, "off": off, "goals": goals}))


if __name__ == "__main__":
    main()
