"""Alerts benchmark: language versions matched per second against 10,000 watchlists, and the naive way.

What is measured, and why: the alerts service matches every polled batch of language versions
(originals and renditions) against every watchlist. The embedded matcher
(`wirewatch_common.matching.Matcher`) files each watchlist under the terms of one clause
(presearch) and verifies only the candidates a version's terms select. The naive way runs every
watchlist as a search against the index after each batch. Goals (issue 16): at least 500
language versions per second against 10,000 watchlists on one core, at least 100x the naive way,
with the same matches.

1. Word lists written for this benchmark (English, Arabic, Turkish: function words, general news
   words, and syllables for names), spread over 4,000 concepts per language with Zipf-like
   frequencies, so a few words are in every story and most names are rare.
2. `--stories` stories in a stream (originals in en/ar/tr in turn, each with renditions in the
   other two languages, so three language versions per story): a headline of 10 words and
   `--paragraphs` paragraphs of about 35 words (default 11: a long agency story), Turkish names
   with apostrophe suffixes, Arabic words with glued articles and some diacritics.
3. `--watchlists` watchlists of mixed syntax in the three languages: words, AND of several,
   phrases, OR, exclusions, prefixes, `headline:`/`body:` scopes; some with language, provider
   or place filters; a few broad ones (a common word alone).
4. The stream in batches of `--batch` versions (default 120: 40 stories' three versions; the
   worker's polls hold up to 500). Matcher: `version_of` + `Matcher.match` per batch, the
   process pinned to ONE core (the matcher is single-threaded; tantivy's analysis runs in the
   calling thread). Nothing else runs meanwhile. The rate is also given for the versions after
   the first 1,000, once the word caches are filled and the filing has learnt the stream.
5. Naive, in the same run and on the same core: a tantivy index (`TantivyBackend`) holding a
   history of `--history` renditions (3 paragraphs each, not timed: a live index holds days of
   wire) receives the stream batch by batch (`write`, not timed: the index service does that
   anyway). After `--naive-batches` batches spread over the second half of the stream, a sample
   of `--naive-watchlists` watchlists is run with `backend.search` (the search the API serves,
   `visible_after` just before the batch's write, so only that batch can match). The time per
   search times the number of watchlists is the naive cost of a batch (the extrapolation is
   printed). The sampled watchlists' matches are compared story by story with the matcher's:
   they must be the same, except where search's cap of 50 expansions per prefix over the whole
   index drops terms (counted; there the matcher must find a superset).

Times are the CPU seconds of the thread doing the work (`time.thread_time`), so that other
processes on a shared machine and tantivy's background merges do not count; wall-clock figures
are printed next to them. A naive way cheaper per batch (bigger batches) or dearer (a bigger
index) moves the ratio in proportion.

Usage: `uv run python bench/alerts.py [--watchlists 10000] [--stories 1500] [--quick]`. A readable
summary goes to stdout and, as the last line, one JSON object with the figures; progress goes
to stderr. `--quick` (150 stories, a small history, fewer naive searches) is a smoke run of a
few seconds whose rate includes the matcher's warm-up.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
from bisect import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from wirewatch_common.analysis import FAMILIES
from wirewatch_common.analyzers import Analyzers
from wirewatch_common.matching import Matcher, Standing, Version, version_of
from wirewatch_common.query import ParsedQuery, Word, parse
from wirewatch_common.story import Story
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.backends.tantivy_query import MAX_PREFIX_EXPANSIONS
from wirewatch_index.backends.tantivy_schema import PREFIX_FIELDS
from wirewatch_index.search import SearchRequest

GOAL_VERSIONS_PER_S = 500.0
WARM_AFTER = 1000
"""Versions after which the matcher is warm: its word caches filled and its filing learnt from the stream."""
GOAL_RATIO = 100.0
START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
LANGS = ("en", "ar", "tr")
CONCEPTS = 4000
GENERAL = 300
"""Concepts below this rank are general news words; the rest are names and rare terms."""


def _vocab(text: str) -> list[str]:
    """Word list from one string (written for this benchmark)."""
    return text.split()


FUNCTION = {
    "en": _vocab("the of and to in a on for with as at by from that is was were has have said it its after"),
    "ar": _vocab("في من على إلى عن مع بعد قبل أن التي الذي هذا هذه كان قد وقال حيث بين خلال"),
    "tr": _vocab("ve bir bu ile için da de olarak gibi daha çok ise sonra önce kadar olan dedi"),
}
GENERAL_WORDS = {
    "en": _vocab(
        "government minister president officials police army troops border ceasefire talks negotiations "
        "election vote parliament court ruling protest strike port grain exports oil prices gas pipeline "
        "bank rates inflation currency budget tax market shares trade sanctions aid convoy hospital "
        "refugees camp flood drought earthquake storm rescue village city province capital region coast "
        "attack drone missile security council summit visit agreement deal delegation spokesman statement "
        "week month year report reporters water power fuel wheat harvest farmers schools students workers "
        "union wages factory company chief executive investors debt loan reform law bill health vaccine "
        "outbreak virus deaths injured killed arrested charged trial judge prison opposition party leader "
        "coalition campaign voters results turnout referendum cabinet ministry foreign defence interior "
        "energy climate emissions weather rain snow heat fire wildfire roads bridge railway airport flights "
        "shipping vessel navy coastguard fishermen migrants asylum embassy ambassador talks mediators truce"
    ),
    "ar": _vocab(
        "الحكومة الوزير الرئيس المسؤولون الشرطة الجيش القوات الحدود الهدنة المحادثات المفاوضات الانتخابات "
        "التصويت البرلمان المحكمة الحكم الاحتجاج الإضراب الميناء الحبوب الصادرات النفط الأسعار الغاز الأنابيب "
        "البنك الفائدة التضخم العملة الميزانية الضرائب السوق الأسهم التجارة العقوبات المساعدات القافلة "
        "المستشفى اللاجئين المخيم الفيضانات الجفاف الزلزال العاصفة الإنقاذ القرية المدينة المحافظة العاصمة "
        "المنطقة الساحل الهجوم الطائرة الصاروخ الأمن مجلس القمة الزيارة الاتفاق الصفقة الوفد المتحدث البيان "
        "الأسبوع الشهر العام التقرير الصحفيين المياه الكهرباء الوقود القمح الحصاد المزارعون المدارس الطلاب "
        "العمال النقابة الأجور المصنع الشركة المستثمرون الديون القرض الإصلاح القانون الصحة اللقاح الفيروس "
        "الوفيات الجرحى القتلى المعتقلون المحاكمة القاضي السجن المعارضة الحزب الزعيم التحالف الحملة الناخبون "
        "النتائج الاستفتاء الوزارة الخارجية الدفاع الداخلية الطاقة المناخ الطقس الأمطار الثلوج الحرارة الحريق "
        "الطرق الجسر السكك المطار الرحلات الشحن السفينة البحرية الصيادون المهاجرون اللجوء السفارة السفير"
    ),
    "tr": _vocab(
        "hükümet bakan cumhurbaşkanı yetkililer polis ordu askerler sınır ateşkes görüşmeler müzakereler "
        "seçim oylama meclis mahkeme karar protesto grev liman tahıl ihracat petrol fiyatlar gaz boru banka "
        "faiz enflasyon döviz bütçe vergi piyasa hisseler ticaret yaptırımlar yardım konvoy hastane "
        "mülteciler kamp sel kuraklık deprem fırtına kurtarma köy şehir il başkent bölge kıyı saldırı "
        "insansız füze güvenlik konsey zirve ziyaret anlaşma heyet sözcü açıklama hafta ay yıl rapor "
        "gazeteciler su elektrik yakıt buğday hasat çiftçiler okullar öğrenciler işçiler sendika maaşlar "
        "fabrika şirket yatırımcılar borç kredi reform yasa sağlık aşı salgın virüs ölüm yaralı gözaltı "
        "dava hakim cezaevi muhalefet parti lider koalisyon kampanya seçmenler sonuçlar referandum kabine "
        "bakanlık dışişleri savunma içişleri enerji iklim hava yağmur kar sıcak yangın yollar köprü demiryolu "
        "havalimanı uçuşlar nakliye gemi donanma balıkçılar göçmenler sığınma büyükelçilik büyükelçi"
    ),
}
SYLLABLES = {
    "en": _vocab(
        "ka lo mir dan vel tor ris an bel cor dun fen gar hol jin kes lun mar nor pel quin ros sal tem"
    ),
    "ar": _vocab("كا لو مي دا في تو ري نا بل كر دن فن غا هو جي كس لن مر نو بي قي رو سا تم"),
    "tr": _vocab(
        "ka lo mir dan vel tor rış an bel cor dün fen gar hol cin kes lün mar nor pel kın ros sal tem"
    ),
}
TR_SUFFIXES = ("'da", "'de", "'deki", "'nın", "'ya", "'dan")
PROVIDERS = ("Reuters", "AP", "AFP", "Anadolu", "dpa", "Xinhua", "ANSA", "EFE")
PLACES = (
    ("Idlib", "SY"),
    ("Istanbul", "TR"),
    ("Gaza", "PS"),
    ("Odesa", "UA"),
    ("Baghdad", "IQ"),
    ("Cairo", "EG"),
)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Lexicon:
    """Concept → word per language: general words first, then generated names; Zipf-like draws."""

    def __init__(self, rng: random.Random) -> None:
        self.words: dict[str, list[str]] = {}
        for lang in LANGS:
            general = GENERAL_WORDS[lang]
            words = [general[i % len(general)] for i in range(GENERAL)]
            seen = set(words)
            while len(words) < CONCEPTS:
                name = "".join(rng.choice(SYLLABLES[lang]) for _ in range(rng.randint(2, 4)))
                if name not in seen and len(name) >= 4:
                    seen.add(name)
                    words.append(name.capitalize() if lang != "ar" else name)
            self.words[lang] = words
        self._general = list(accumulate(1.0 / (r + 1) for r in range(GENERAL)))
        self._names = list(accumulate(1.0 / (r + 1) ** 0.9 for r in range(CONCEPTS - GENERAL)))
        self._watched = list(accumulate(1.0 / (r + 1) ** 0.45 for r in range(CONCEPTS - GENERAL)))

    def general(self, rng: random.Random) -> int:
        """A general concept, Zipf over the general ranks."""
        return bisect(self._general, rng.random() * self._general[-1])

    def name(self, rng: random.Random) -> int:
        """A name concept, Zipf-like over the long tail."""
        return GENERAL + bisect(self._names, rng.random() * self._names[-1])

    def watched(self, rng: random.Random) -> int:
        """A name a desk watches: flatter than the stream's frequencies (square root of the Zipf weight)."""
        return GENERAL + bisect(self._watched, rng.random() * self._watched[-1])

    def word(self, lang: str, concept: int, rng: random.Random) -> str:
        """The word of a concept in `lang`, with the variation real copy has."""
        word = self.words[lang][concept]
        if lang == "tr" and concept >= GENERAL and rng.random() < 0.3:
            return word + rng.choice(TR_SUFFIXES)
        if lang == "ar" and rng.random() < 0.1:
            return ("و" + word) if word.startswith("ال") else word + "\u064e"  # glued "and", or a fatha
        return word


@dataclass
class Plan:
    """A story's content as concepts, rendered once per language."""

    topics: list[int]
    headline: list[int]
    paragraphs: list[list[int]] = field(default_factory=list)


def _plan(lex: Lexicon, rng: random.Random, paragraphs: int) -> Plan:
    topics = [lex.name(rng) for _ in range(rng.randint(3, 6))] + [lex.general(rng) for _ in range(3)]
    headline = [rng.choice(topics) if rng.random() < 0.6 else lex.general(rng) for _ in range(10)]
    plan = Plan(topics, headline)
    for _ in range(paragraphs):
        words: list[int] = []
        for _ in range(35):
            roll = rng.random()
            if roll < 0.35:
                words.append(-1)  # a function word of the language
            elif roll < 0.55:
                words.append(rng.choice(topics))
            elif roll < 0.96:
                words.append(lex.general(rng))
            else:
                words.append(lex.name(rng))
        plan.paragraphs.append(words)
    return plan


def _render(lex: Lexicon, plan: list[int], lang: str, rng: random.Random, *, sentences: bool = True) -> str:
    """Words of a plan; in a paragraph, a comma now and then and a full stop every dozen words or so."""
    words = [rng.choice(FUNCTION[lang]) if c < 0 else lex.word(lang, c, rng) for c in plan]
    if sentences:
        comma, stop = ("،", ".") if lang == "ar" else (",", ".")
        for i in range(len(words) - 1):
            roll = rng.random()
            if roll < 0.08:
                words[i] += stop
            elif roll < 0.16:
                words[i] += comma
        words[-1] += stop
    return " ".join(words)


def generate(
    lex: Lexicon, count: int, paragraphs: int, seed: int = 16, prefix: str = "al", start: datetime = START
) -> list[Story]:
    """`count` stories, three language versions each (the original first), in stream order."""
    rng = random.Random(seed)
    out: list[Story] = []
    for i in range(count):
        plan = _plan(lex, rng, paragraphs)
        lang = LANGS[i % 3]
        when = start + timedelta(seconds=i)
        place, code = PLACES[rng.randrange(len(PLACES))]
        base: dict[str, Any] = {
            "id": f"{prefix}-{i:06d}",
            "uri": f"urn:wirewatch:bench-alerts:{i}",
            "version": 1,
            "firstcreated": when,
            "versioncreated": when,
            "provider": {"name": PROVIDERS[rng.randrange(len(PROVIDERS))]},
            "dateline": {"text": place.upper(), "places": [{"name": place, "code": code}]},
        }
        for target in (lang, *(other for other in LANGS if other != lang)):
            fields = base | {
                "language": target,
                "headline": _render(lex, plan.headline, target, rng, sentences=False),
                "body": [_render(lex, p, target, rng) for p in plan.paragraphs],
            }
            if target != lang:
                fields["translation"] = {
                    "of_id": base["id"],
                    "of_version": 1,
                    "source_language": lang,
                    "target_language": target,
                    "status": "translated",
                    "translated_at": when,
                }
            out.append(Story.model_validate(fields))
    return out


def _term(lex: Lexicon, rng: random.Random, lang: str, *, broad: bool = False) -> str:
    """A watchlist word: a name (desks follow many different ones), or a general word if `broad`."""
    concept = lex.general(rng) if broad else lex.watched(rng)
    return lex.words[lang][concept]


def watchlists(lex: Lexicon, count: int, seed: int = 1616) -> list[Standing]:
    """`count` watchlists of mixed syntax, in the three languages, some with filters."""
    rng = random.Random(seed)
    out: list[Standing] = []
    for n in range(count):
        lang = rng.choices(LANGS, weights=(4, 3, 3))[0]
        roll = rng.random()
        if roll < 0.005:
            query = _term(lex, rng, lang, broad=True)  # broad: a common word alone
        elif roll < 0.25:
            query = _term(lex, rng, lang)
        elif roll < 0.35:
            query = " ".join(_term(lex, rng, lang) for _ in range(rng.randint(2, 3)))
        elif roll < 0.45:  # a name with a general word, the common shape of a desk's watchlist
            query = f"{_term(lex, rng, lang)} {_term(lex, rng, lang, broad=True)}"
        elif roll < 0.6:
            query = f'"{_term(lex, rng, lang)} {_term(lex, rng, lang, broad=True)}"'
        elif roll < 0.75:
            query = " OR ".join(_term(lex, rng, lang) for _ in range(rng.randint(2, 4)))
        elif roll < 0.85:
            word = _term(lex, rng, lang).lower()
            query = word[: rng.randint(min(4, len(word)), len(word))] + "*"
        else:
            query = f"{rng.choice(('headline:', 'body:'))}{_term(lex, rng, lang)}"
        if rng.random() < 0.15:
            query += f" -{_term(lex, rng, lang)}"
        filters: dict[str, frozenset[str]] = {}
        if rng.random() < 0.1:
            filters["languages"] = frozenset(rng.sample(LANGS, rng.randint(1, 2)))
        if rng.random() < 0.05:
            filters["providers"] = frozenset(rng.sample(PROVIDERS, 2))
        if rng.random() < 0.05:
            filters["places"] = frozenset(p for p, _ in rng.sample(PLACES, 2))
        out.append(Standing(f"wl-{n:05d}", parse(query), **filters))
    return out


def _capped(backend: TantivyBackend, query: ParsedQuery, analyzers: Analyzers) -> bool:
    """Whether search's cap on prefix expansions cuts one of the query's prefixes in this index."""
    searcher = backend._index.searcher()
    for leaf in (*query.leaves(), *query.must_not):
        if not (isinstance(leaf, Word) and leaf.prefix):
            continue
        prefixes = {t[0] for fam in FAMILIES if len(t := analyzers.tokens(leaf.text, fam, stem=False)) == 1}
        for name in PREFIX_FIELDS.values():
            found: set[str] = set()
            for prefix in prefixes:
                found.update(
                    t for t, _ in searcher.terms_with_prefix(name, prefix, limit=MAX_PREFIX_EXPANSIONS + 1)
                )
            if len(found) > MAX_PREFIX_EXPANSIONS:
                return True
    return False


class Clock:
    """Accumulates the calling thread's CPU time and the wall time of the blocks it wraps."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0
        self._started = (0.0, 0.0)

    def __enter__(self) -> None:
        self._started = (time.thread_time(), time.perf_counter())

    def __exit__(self, *exc: object) -> None:
        cpu, wall = self._started
        self.cpu += time.thread_time() - cpu
        self.wall += time.perf_counter() - wall


def _pin_one_core() -> str:
    """Pin this process (and threads it starts later) to one CPU: the goal is per core."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def _latency(rate: float, seconds: float) -> dict[str, Any]:
    """Accept → webhook latency on the embedded stack (bench/_alerts_latency.py)."""
    # bench/ is not a package: load the sibling module by its path.
    spec = importlib.util.spec_from_file_location(
        "bench_alerts_latency", Path(__file__).with_name("_alerts_latency.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures: dict[str, Any] = module.measure(rate, seconds)
    print(
        f"Accept → webhook, original-language match, {figures['rate_per_s']}/s: "
        f"{figures['delivered']}/{figures['stories']} delivered; p50 {figures.get('p50_s')} s, "
        f"p99 {figures.get('p99_s')} s, max {figures.get('max_s')} s (goal p99 ≤ {figures.get('goal_p99_s')} s)"
    )
    return figures


def main() -> None:
    """Run the benchmark and print the summary and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchlists", type=int, default=10_000, help="standing queries to match against")
    parser.add_argument(
        "--stories", type=int, default=1500, help="stories in the stream (3 language versions each)"
    )
    parser.add_argument(
        "--paragraphs", type=int, default=11, help="body paragraphs per version (~35 words each)"
    )
    parser.add_argument("--batch", type=int, default=120, help="language versions per polled batch")
    parser.add_argument("--naive-batches", type=int, default=5, help="batches the naive way is timed on")
    parser.add_argument(
        "--naive-watchlists", type=int, default=600, help="watchlists searched per naive batch"
    )
    parser.add_argument(
        "--history",
        type=int,
        default=20_000,
        help="renditions already in the index before the stream (3 paragraphs each): what naive searches scan",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run well under a minute")
    parser.add_argument(
        "--part",
        choices=("matching", "latency", "both"),
        default="both",
        help="matching: the matcher against the naive way; latency: accept → webhook on the stack; both (default)",
    )
    parser.add_argument("--rate", type=float, default=1.0, help="latency part: stories per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="latency part: how long to send")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if args.part in ("matching", "both"):
        cpus = os.sched_getaffinity(0)
        figures |= _matching(args)
        os.sched_setaffinity(0, cpus)  # the matching part pins this process to one core; the stack gets all
    if args.part in ("latency", "both"):
        figures["latency"] = _latency(args.rate, args.seconds)
    print(json.dumps(figures))


def _matching(args: argparse.Namespace) -> dict[str, Any]:
    """The matcher against the naive way; prints its table and returns its figures."""
    if args.quick:
        args.stories, args.naive_batches, args.naive_watchlists, args.history = 150, 2, 250, 1500

    pinned = _pin_one_core()
    rng = random.Random(7)
    lex = Lexicon(rng)
    _progress(f"generating {args.stories} stories x 3 languages, {args.watchlists} watchlists ({pinned})")
    stories = generate(lex, args.stories, args.paragraphs)
    standings = watchlists(lex, args.watchlists)
    analyzers = Analyzers()

    t0 = time.perf_counter()
    matcher = Matcher(analyzers.analyze, standings)
    register_s = time.perf_counter() - t0

    batches = [stories[i : i + args.batch] for i in range(0, len(stories), args.batch)]
    full = [n for n, b in enumerate(batches) if len(b) == args.batch] or [len(batches) - 1]
    # Naive batches spread over the second half of the stream, where the index is fullest.
    later = full[len(full) // 2 :]
    naive_at = {
        later[round(i * (len(later) - 1) / max(1, args.naive_batches - 1))] for i in range(args.naive_batches)
    }
    sample = random.Random(3).sample(standings, min(args.naive_watchlists, len(standings)))
    sample_ids = {s.id for s in sample}

    ours_clock, naive_clock = Clock(), Clock()
    versions_total = warm_versions = 0
    warm_cpu = 0.0
    naive_searches: list[int] = []
    naive_versions: list[int] = []
    compared = mismatched = capped = 0
    # 1. The matcher over the whole stream, batch by batch (nothing else running in this process).
    _progress(f"matching {len(stories)} versions in {len(batches)} batches")
    kept: dict[int, tuple[list[Version], list[tuple[int, str]]]] = {}
    for n, batch in enumerate(batches):
        cpu_before = ours_clock.cpu
        with ours_clock:
            versions: list[Version] = [v for v in map(version_of, batch) if v is not None]
            found = matcher.match(versions)
        if versions_total >= WARM_AFTER:
            warm_versions += len(versions)
            warm_cpu += ours_clock.cpu - cpu_before
        versions_total += len(versions)
        if n in naive_at:
            kept[n] = (versions, found)

    # 2. The naive way: the stream indexed batch by batch, the sample searched after the chosen batches.
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-alerts-") as tmp:
        backend = TantivyBackend(Path(tmp), writer_heap_bytes=64_000_000, writer_threads=1)
        try:
            _progress(f"indexing a history of {args.history} renditions (not timed)")
            history = generate(
                lex, args.history // 3, 3, seed=61, prefix="hist", start=START - timedelta(days=7)
            )
            for i in range(0, len(history), 500):
                backend.write(history[i : i + 500])
            del history
            backend.close()  # let merges finish, as they have in a live index's history
            for n, batch in enumerate(batches):
                before = datetime.now(tz=UTC)
                time.sleep(0.002)  # the batch's index time lies strictly after `before`
                backend.write(batch)
                if n not in kept:
                    continue
                _progress(f"  batch {n + 1}/{len(batches)}: naive, {len(sample)} searches")
                versions, found = kept[n]
                ours: dict[str, set[str]] = {sid: set() for sid in sample_ids}
                for index, sid in found:
                    if sid in sample_ids:
                        ours[sid].add(versions[index].key.rsplit(".", 1)[0])
                for standing in sample:
                    request = SearchRequest(
                        query=standing.query,
                        languages=tuple(standing.languages),
                        providers=tuple(standing.providers),
                        places=tuple(standing.places),
                        visible_after=before,
                        size=100,
                    )
                    with naive_clock:
                        page = backend.search(request)
                    theirs = {h.story_id for h in page.hits}
                    compared += 1
                    if theirs == ours[standing.id]:
                        continue
                    if theirs <= ours[standing.id] and _capped(backend, standing.query, analyzers):
                        capped += 1
                        continue
                    mismatched += 1
                    only_ours, only_search = (
                        sorted(ours[standing.id] - theirs),
                        sorted(theirs - ours[standing.id]),
                    )
                    _progress(
                        f"    differs: {standing.query.raw!r} ours {only_ours[:3]} search {only_search[:3]}"
                    )
                naive_searches.append(len(sample))
                naive_versions.append(len(versions))
        finally:
            backend.close()

    stats = matcher.stats
    # Naive: seconds per search x every watchlist = seconds per batch; the batches' versions over that.
    per_version_naive = {
        kind: (getattr(naive_clock, kind) / sum(naive_searches))
        * len(standings)
        / statistics.fmean(naive_versions)
        for kind in ("cpu", "wall")
    }
    ours_rate = {kind: versions_total / getattr(ours_clock, kind) for kind in ("cpu", "wall")}
    naive_rate = {kind: 1 / per_version_naive[kind] for kind in ("cpu", "wall")}
    ratio = {kind: ours_rate[kind] / naive_rate[kind] for kind in ("cpu", "wall")}
    figures: dict[str, Any] = {
        "watchlists": len(standings),
        "stories": args.stories,
        "versions": versions_total,
        "paragraphs": args.paragraphs,
        "batch": args.batch,
        "register_s": round(register_s, 2),
        "match_cpu_s": round(ours_clock.cpu, 2),
        "match_wall_s": round(ours_clock.wall, 2),
        "candidates_per_version": round(stats.candidates / stats.versions, 1),
        "matches_per_version": round(stats.matches / stats.versions, 2),
        "refiled": stats.refiled,
        "naive_batches": len(naive_searches),
        "naive_searches": compared,
        "naive_ms_per_search": round(naive_clock.cpu / max(1, sum(naive_searches)) * 1000, 3),
        "versions_per_s": round(ours_rate["cpu"], 1),
        "versions_per_s_warm": round(warm_versions / warm_cpu, 1) if warm_cpu else None,
        "naive_versions_per_s": round(naive_rate["cpu"], 2),
        "ratio": round(ratio["cpu"], 1),
        "versions_per_s_wall": round(ours_rate["wall"], 1),
        "naive_versions_per_s_wall": round(naive_rate["wall"], 2),
        "ratio_wall": round(ratio["wall"], 1),
        "ratio_at_batch_500": round(
            per_version_naive["cpu"] * statistics.fmean(naive_versions) / (500 / ours_rate["cpu"]), 1
        ),
        "same_matches": mismatched == 0,
        "prefix_capped": capped,
        "goal_versions_per_s": GOAL_VERSIONS_PER_S,
        "goal_ratio": GOAL_RATIO,
        "cpu": pinned,
    }
    figures["meets_goal"] = (
        ours_rate["cpu"] >= GOAL_VERSIONS_PER_S and ratio["cpu"] >= GOAL_RATIO and mismatched == 0
    )

    mean_batch = statistics.fmean(naive_versions)
    print(
        f"Stream: {args.stories} stories x 3 languages = {versions_total} versions, {args.paragraphs} paragraphs "
        f"each, batches of {args.batch}; {len(standings)} watchlists registered in {register_s:.2f} s ({pinned})"
    )
    print("Times are the matching thread's CPU seconds (the machine may be shared); wall clock in brackets.")
    print(
        f"Matcher: {ours_rate['cpu']:.0f} versions/s on one core [{ours_rate['wall']:.0f}] "
        f"({ours_clock.cpu:.2f} s for {versions_total}, version_of included); "
        f"{figures['candidates_per_version']} candidates and {figures['matches_per_version']} matches per version"
    )
    if warm_cpu:
        print(
            f"  of which after the first {WARM_AFTER} versions (caches filled, filing learnt): "
            f"{warm_versions / warm_cpu:.0f} versions/s"
        )
    print(
        f"Naive: {len(naive_searches)} batches x {len(sample)} sampled watchlists searched "
        f"({figures['naive_ms_per_search']} ms per search), extrapolated to {len(standings)} watchlists: "
        f"{per_version_naive['cpu'] * mean_batch:.1f} s per batch of {mean_batch:.0f} versions "
        f"= {naive_rate['cpu']:.2f} versions/s [{naive_rate['wall']:.2f}]"
    )
    print(
        f"Ratio: {ratio['cpu']:.0f}x [{ratio['wall']:.0f}x] (goal ≥ {GOAL_RATIO:.0f}x); "
        f"versions/s goal ≥ {GOAL_VERSIONS_PER_S:.0f}"
    )
    # The naive cost is per batch (every watchlist searched once), the matcher's per version.
    naive_batch_s = per_version_naive["cpu"] * mean_batch
    scaled = {size: naive_batch_s / (size / ours_rate["cpu"]) for size in (10, 60, args.batch, 250, 500)}
    print(
        "Ratio at other batch sizes (same costs): " + ", ".join(f"{k}: {v:.0f}x" for k, v in scaled.items())
    )
    print(
        f"Same matches on {compared} compared (watchlist, batch) pairs: {mismatched == 0} "
        f"({mismatched} differ; {capped} differ only by search's prefix-expansion cap)"
    )
    return figures


if __name__ == "__main__":
    main()
