"""Search relevance on the team's evaluation set: recall@10 and MRR per language and per variant kind.

What is measured, and why: a desk searches the way it writes (capitals from a wire slug, no
diacritics, the singular where the story has the plural, a glued article or preposition, a
Turkish case suffix, the dateline's place), and every such variant that misses a story that
plainly matches is a story the desk never sees. The evaluation set, bench/relevance_set.json,
holds short agency stories in Arabic, Turkish and English (some with renditions in the other
languages) and desk queries, each with the stories judged relevant and a `kind` naming the
variant it exercises; the set's `about` says how it was judged.

1. Index every story and rendition into a fresh tantivy index with the index service's own
   `TantivyBackend` (the analysis and query building the API uses).
2. Run each query as the API does (desk syntax through `wirewatch_common.query.parse`, one hit
   per story, relevance order) and keep the top 10 stories.
3. Score each query: recall@10 (share of its relevant stories in the top 10), reciprocal rank of
   the first relevant story, and any story judged must-not-find (an excluded word, phrase words
   apart) that came back. Figures are means over queries, per language (queries marked `open`
   left out: see the set) and per kind.
4. Where ELASTICSEARCH_URL is set, the same on a fresh Elasticsearch index through the
   `ElasticsearchBackend`, and every query whose relevant or must-not stories differ between the
   two backends; otherwise it says it skipped Elasticsearch and why.

Goal (issue 17): recall@10 >= 0.95 in each language on the embedded backend, and the same
per-query results on both backends. tests/test_relevance.py asserts the floor in `make test`
(every query, embedded backend only: about a second).

Usage: `uv run python bench/relevance.py [--quick] [--lang ar] [--kind phrase]`. A table goes to
stdout (per language, per kind and language, then each failing query with what was found) and,
as the last line, one JSON object with the figures; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wirewatch_common.query import QueryError, parse
from wirewatch_common.story import Story
from wirewatch_index.backends.base import SearchBackend
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.search import SearchRequest

SET = Path(__file__).resolve().with_name("relevance_set.json")
LANGUAGES = ("ar", "tr", "en")
KINDS = (
    "capitals",
    "diacritics",
    "singular_plural",
    "article_particle",
    "inflection",
    "orthography",
    "dateline_place",
    "place_scope",
    "phrase",
    "prefix",
    "exclusion",
    "cross_language",
)
MIN_QUERIES = {"ar": 60, "tr": 60, "en": 30}
"""The issue's minimum number of queries per language in the full set."""
TOP = 10
GOAL_RECALL = 0.95
START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Query:
    """One desk query with its judgement."""

    id: str
    language: str
    kind: str
    q: str
    relevant: tuple[str, ...]
    must_not_find: tuple[str, ...] = ()
    open: bool = False
    """Judged relevant but left out of the language figures while a design choice is open."""
    note: str = ""


@dataclass(frozen=True)
class EvalSet:
    """The stories (originals and renditions, ready to index) and the queries."""

    stories: tuple[Story, ...]
    queries: tuple[Query, ...]


@dataclass(frozen=True)
class Outcome:
    """What one query found: story ids, best first, at most TOP."""

    query: Query
    found: tuple[str, ...]
    error: str | None = None

    @property
    def recall(self) -> float:
        """Share of the relevant stories in the top TOP."""
        return len(set(self.query.relevant) & set(self.found)) / len(self.query.relevant)

    @property
    def reciprocal_rank(self) -> float:
        """1 / rank of the first relevant story, 0 when none is in the top TOP."""
        relevant = set(self.query.relevant)
        return next((1 / rank for rank, sid in enumerate(self.found, 1) if sid in relevant), 0.0)

    @property
    def missing(self) -> tuple[str, ...]:
        """Relevant stories not in the top TOP."""
        return tuple(s for s in self.query.relevant if s not in self.found)

    @property
    def forbidden(self) -> tuple[str, ...]:
        """Stories judged must-not-find that came back."""
        return tuple(s for s in self.query.must_not_find if s in self.found)

    @property
    def passed(self) -> bool:
        """Every relevant story found and no must-not story."""
        return not self.missing and not self.forbidden and self.error is None


@dataclass(frozen=True)
class Score:
    """Means over a group of queries."""

    queries: int
    recall: float
    mrr: float
    passed: int
    forbidden: int
    """Queries that returned a story judged must-not-find."""

    def as_dict(self) -> dict[str, Any]:
        """Rounded figures for the JSON line."""
        return {
            "queries": self.queries,
            "recall_at_10": round(self.recall, 4),
            "mrr": round(self.mrr, 4),
            "passed": self.passed,
            "must_not_hits": self.forbidden,
        }


# -- the set ------------------------------------------------------------------------------------


def _story(entry: dict[str, Any], when: datetime) -> list[Story]:
    """Build the original of one set entry and its renditions, as the index receives them."""
    renditions = entry.get("renditions", [])
    fields = {k: v for k, v in entry.items() if k != "renditions"}
    fields["provider"] = {"name": fields["provider"]}
    original = Story.model_validate(
        fields
        | {
            "uri": f"urn:wirewatch:relevance:{entry['id']}",
            "version": 1,
            "firstcreated": when,
            "versioncreated": when,
        }
    )
    out = [original]
    for r in renditions:
        out.append(
            Story.model_validate(
                original.model_dump()
                | {
                    "language": r["language"],
                    "headline": r["headline"],
                    "body": r["body"],
                    "translation": {
                        "of_id": original.id,
                        "of_version": 1,
                        "source_language": original.language,
                        "target_language": r["language"],
                        "status": "translated",
                        "translated_at": when + timedelta(minutes=2),
                    },
                }
            )
        )
    return out


def load(path: Path = SET) -> EvalSet:
    """Read and check the set: unique ids, known kinds and languages, judged ids that exist."""
    data = json.loads(path.read_text(encoding="utf-8"))
    stories: list[Story] = []
    for i, entry in enumerate(data["stories"]):
        stories.extend(_story(entry, START + timedelta(hours=i)))
    versions = [s.document_id for s in stories]
    if len(versions) != len(set(versions)):
        dupes = sorted({v for v in versions if versions.count(v) > 1})
        msg = f"{path.name}: two versions of a story in one language: {dupes}"
        raise ValueError(msg)
    ids = [s.id for s in stories if s.translation is None]
    if len(ids) != len(set(ids)):
        dupes = sorted({sid for sid in ids if ids.count(sid) > 1})
        msg = f"{path.name}: story ids used twice: {dupes}"
        raise ValueError(msg)
    known = set(ids)
    queries: list[Query] = []
    for raw in data["queries"]:
        q = Query(
            id=raw["id"],
            language=raw["language"],
            kind=raw["kind"],
            q=raw["q"],
            relevant=tuple(raw["relevant"]),
            must_not_find=tuple(raw.get("must_not_find", ())),
            open=bool(raw.get("open", False)),
            note=raw.get("note", ""),
        )
        where = f"{path.name}: query {q.id!r}"
        if q.language not in LANGUAGES:
            msg = f"{where}: language {q.language!r} is not one of {LANGUAGES}"
            raise ValueError(msg)
        if q.kind not in KINDS:
            msg = f"{where}: kind {q.kind!r} is not one of {KINDS}"
            raise ValueError(msg)
        if not q.relevant:
            msg = f"{where}: no relevant story judged"
            raise ValueError(msg)
        unknown = sorted((set(q.relevant) | set(q.must_not_find)) - known)
        if unknown:
            msg = f"{where}: judged story ids not in the set: {unknown}"
            raise ValueError(msg)
        if set(q.relevant) & set(q.must_not_find):
            msg = f"{where}: a story is judged both relevant and must-not-find"
            raise ValueError(msg)
        if len(q.relevant) > TOP:
            msg = f"{where}: {len(q.relevant)} relevant stories cannot all be in a top {TOP}"
            raise ValueError(msg)
        queries.append(q)
    qids = [q.id for q in queries]
    if len(qids) != len(set(qids)):
        dupes = sorted({qid for qid in qids if qids.count(qid) > 1})
        msg = f"{path.name}: query ids used twice: {dupes}"
        raise ValueError(msg)
    return EvalSet(tuple(stories), tuple(queries))


def quick(queries: Sequence[Query]) -> tuple[Query, ...]:
    """Keep every other query of each language and kind (the first always): the reduced run."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for q in queries:
        n = seen.get((q.language, q.kind), 0)
        seen[(q.language, q.kind)] = n + 1
        if n % 2 == 0:
            out.append(q)
    return tuple(out)


def select(
    queries: Sequence[Query],
    *,
    languages: Iterable[str] = (),
    kinds: Iterable[str] = (),
    reduced: bool = False,
) -> tuple[Query, ...]:
    """Choose the queries of a run: the reduced set or all, narrowed to languages and kinds if given."""
    chosen = quick(queries) if reduced else tuple(queries)
    langs, wanted = set(languages), set(kinds)
    return tuple(q for q in chosen if (not langs or q.language in langs) and (not wanted or q.kind in wanted))


# -- running ------------------------------------------------------------------------------------


def evaluate(backend: SearchBackend, queries: Sequence[Query]) -> list[Outcome]:
    """Run each query as the API does and keep the top TOP story ids."""
    outcomes = []
    for q in queries:
        try:
            page = backend.search(SearchRequest(query=parse(q.q), size=TOP))
        except QueryError as exc:
            outcomes.append(Outcome(q, (), error=str(exc)))
            continue
        outcomes.append(Outcome(q, tuple(h.story_id for h in page.hits)))
    return outcomes


@contextmanager
def tantivy_backend(data_dir: Path) -> Iterator[SearchBackend]:
    """Open a fresh embedded index under `data_dir`; close it on exit."""
    backend = TantivyBackend(data_dir, writer_heap_bytes=15_000_000, writer_threads=1)
    try:
        yield backend
    finally:
        backend.close()


@contextmanager
def elasticsearch_backend(url: str) -> Iterator[SearchBackend]:
    """Make a fresh index on the cluster at `url` (as the index's live suite does); drop it on exit."""
    from wirewatch_index.backends.elasticsearch import ElasticsearchBackend, connect

    backend = ElasticsearchBackend(
        connect(url), index_prefix=f"ww-relevance-{uuid.uuid4().hex[:8]}", refresh=True
    )
    backend.setup()
    try:
        yield backend
    finally:
        backend.drop()
        backend.close()


def run_tantivy(eval_set: EvalSet, queries: Sequence[Query], data_dir: Path | None = None) -> list[Outcome]:
    """Index the set into a fresh tantivy index (under `data_dir`, else a temporary one) and run the queries."""
    if data_dir is None:
        with tempfile.TemporaryDirectory(prefix="wirewatch-relevance-") as tmp:
            return run_tantivy(eval_set, queries, Path(tmp))
    with tantivy_backend(data_dir) as b:
        b.write(list(eval_set.stories))
        return evaluate(b, queries)


def run_elasticsearch(url: str, eval_set: EvalSet, queries: Sequence[Query]) -> list[Outcome]:
    """Index the set into a temporary Elasticsearch index and run the queries on it."""
    with elasticsearch_backend(url) as b:
        b.write(list(eval_set.stories))
        return evaluate(b, queries)


# -- scoring ------------------------------------------------------------------------------------


def score(outcomes: Sequence[Outcome]) -> Score:
    """Average recall@10 and reciprocal rank; count passes and must-not hits."""
    n = len(outcomes)
    if n == 0:
        return Score(0, 0.0, 0.0, 0, 0)
    return Score(
        queries=n,
        recall=sum(o.recall for o in outcomes) / n,
        mrr=sum(o.reciprocal_rank for o in outcomes) / n,
        passed=sum(o.passed for o in outcomes),
        forbidden=sum(bool(o.forbidden) for o in outcomes),
    )


def by_language(outcomes: Sequence[Outcome]) -> dict[str, Score]:
    """Score each language on the queries the goal counts (open ones left out)."""
    return {
        lang: score([o for o in outcomes if o.query.language == lang and not o.query.open])
        for lang in LANGUAGES
        if any(o.query.language == lang for o in outcomes)
    }


def by_kind(outcomes: Sequence[Outcome]) -> dict[str, Score]:
    """Score each kind, every language and the open queries included."""
    return {
        kind: score([o for o in outcomes if o.query.kind == kind])
        for kind in KINDS
        if any(o.query.kind == kind for o in outcomes)
    }


def by_cell(outcomes: Sequence[Outcome]) -> dict[str, Score]:
    """Score each `language/kind` cell."""
    cells: dict[str, list[Outcome]] = {}
    for o in outcomes:
        cells.setdefault(f"{o.query.language}/{o.query.kind}", []).append(o)
    return {k: score(v) for k, v in sorted(cells.items())}


def figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Collect what the JSON line carries for one backend."""
    langs = by_language(outcomes)
    open_ones = [o for o in outcomes if o.query.open]
    return {
        "languages": {k: v.as_dict() for k, v in langs.items()},
        "meets_goal": {k: v.recall >= GOAL_RECALL for k, v in langs.items()},
        "kinds": {k: v.as_dict() for k, v in by_kind(outcomes).items()},
        "cells": {k: v.as_dict() for k, v in by_cell(outcomes).items()},
        "open": score(open_ones).as_dict(),
        "failing": [o.query.id for o in outcomes if not o.passed],
    }


@dataclass(frozen=True)
class Difference:
    """A query whose judged stories came back differently on the two backends."""

    query: Query
    only_first: tuple[str, ...]
    only_second: tuple[str, ...]


def differences(first: Sequence[Outcome], second: Sequence[Outcome]) -> tuple[list[Difference], int]:
    """List queries whose judged stories differ; count those differing only in order or unjudged stories."""
    found: list[Difference] = []
    reordered = 0
    for a, b in zip(first, second, strict=True):
        judged = set(a.query.relevant) | set(a.query.must_not_find)
        in_a, in_b = set(a.found) & judged, set(b.found) & judged
        if in_a != in_b:
            found.append(Difference(a.query, tuple(sorted(in_a - in_b)), tuple(sorted(in_b - in_a))))
        elif a.found != b.found:
            reordered += 1
    return found, reordered


# -- printing -----------------------------------------------------------------------------------


def _cell(s: Score | None) -> str:
    return "" if s is None else f"{s.recall:.2f}/{s.mrr:.2f} ({s.queries})"


def print_tables(name: str, outcomes: Sequence[Outcome], out: Callable[[str], None] = print) -> None:
    """Print the language table, the kind x language table and the failing queries of one backend."""
    out(f"\n== {name}: recall@10 and MRR over {len(outcomes)} queries (top {TOP} stories)")
    out(f"{'language':<10}{'queries':>8}{'recall@10':>11}{'MRR':>7}{'passed':>9}{'must-not':>10}  goal")
    for lang, s in by_language(outcomes).items():
        ok = "meets" if s.recall >= GOAL_RECALL else "BELOW"
        out(
            f"{lang:<10}{s.queries:>8}{s.recall:>11.3f}{s.mrr:>7.3f}{s.passed:>5}/{s.queries:<3}"
            f"{s.forbidden:>10}  {ok} {GOAL_RECALL}"
        )
    open_ones = [o for o in outcomes if o.query.open]
    if open_ones:
        s = score(open_ones)
        out(f"(open queries, left out above: {s.queries}, recall@10 {s.recall:.3f}; see the set's about)")
    cells = by_cell(outcomes)
    kinds = by_kind(outcomes)
    out(f"\n{'kind: recall/MRR (n)':<22}" + "".join(f"{lang:>18}" for lang in LANGUAGES) + f"{'all':>18}")
    for kind, s in kinds.items():
        row = "".join(f"{_cell(cells.get(f'{lang}/{kind}')):>18}" for lang in LANGUAGES)
        out(f"{kind:<22}{row}{_cell(s):>18}")
    failing = [o for o in outcomes if not o.passed]
    out(f"\nfailing queries: {len(failing)} of {len(outcomes)}")
    for o in failing:
        flag = " (open)" if o.query.open else ""
        out(f"  {o.query.id:<14}{o.query.kind:<18}{o.query.q}{flag}")
        if o.error:
            out(f"      error: {o.error}")
        out(f"      recall {o.recall:.2f}  missing: {', '.join(o.missing) or '-'}")
        if o.forbidden:
            out(f"      must-not found: {', '.join(o.forbidden)}")
        out(f"      found: {', '.join(o.found) or '(nothing)'}")


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    """Run the evaluation and print the tables and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the reduced run: every other query per kind")
    parser.add_argument("--lang", action="append", choices=LANGUAGES, default=[], help="only this language")
    parser.add_argument("--kind", action="append", choices=KINDS, default=[], help="only this kind")
    parser.add_argument("--set", type=Path, default=SET, help="the evaluation set (JSON)")
    args = parser.parse_args()

    eval_set = load(args.set)
    queries = select(eval_set.queries, languages=args.lang, kinds=args.kind, reduced=args.quick)
    originals = sum(s.translation is None for s in eval_set.stories)
    print(
        f"Evaluation set {args.set.name}: {originals} stories, {len(eval_set.stories)} language versions, "
        f"{len(eval_set.queries)} queries; running {len(queries)}{' (quick)' if args.quick else ''}"
    )
    started = time.perf_counter()
    _progress("tantivy: indexing and searching")
    embedded = run_tantivy(eval_set, queries)
    embedded_s = time.perf_counter() - started
    print_tables("tantivy (embedded)", embedded)

    result: dict[str, Any] = {
        "set": args.set.name,
        "stories": originals,
        "language_versions": len(eval_set.stories),
        "queries": len(queries),
        "quick": args.quick,
        "goal_recall_at_10": GOAL_RECALL,
        "tantivy": figures(embedded) | {"seconds": round(embedded_s, 2)},
        "elasticsearch": None,
    }
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url:
        reason = "ELASTICSEARCH_URL is not set: no Elasticsearch cluster to compare with"
        print(f"\n== Elasticsearch: skipped ({reason})")
        result["elasticsearch_skipped"] = reason
    else:
        _progress("elasticsearch: indexing and searching")
        started = time.perf_counter()
        remote = run_elasticsearch(url, eval_set, queries)
        remote_s = time.perf_counter() - started
        print_tables("Elasticsearch", remote)
        diffs, reordered = differences(embedded, remote)
        print(
            f"\n== backend differences: {len(diffs)} queries with other judged stories in the top {TOP}; "
            f"{reordered} more differ only in order or unjudged stories"
        )
        for d in diffs:
            print(
                f"  {d.query.id:<14}{d.query.q}\n      only tantivy: {', '.join(d.only_first) or '-'}"
                f"  only Elasticsearch: {', '.join(d.only_second) or '-'}"
            )
        result["elasticsearch"] = figures(remote) | {"seconds": round(remote_s, 2)}
        result["backend_differences"] = {
            "judged": {
                d.query.id: {"only_tantivy": d.only_first, "only_elasticsearch": d.only_second} for d in diffs
            },
            "order_only": reordered,
        }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
