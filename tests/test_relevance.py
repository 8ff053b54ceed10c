"""The relevance floor of issue 17: recall@10 per language on the team's evaluation set, embedded backend.

bench/relevance.py owns the set's loader and the scoring; these tests run every query of
bench/relevance_set.json on a fresh tantivy index built by the index service's own backend (about
a second) and assert recall@10 >= 0.95 per language, and that no story judged must-not-find (an
excluded word, phrase words apart) comes back. A language below a floor at the baseline carries
`xfail(strict=True)` naming its figures: once the analysis lifts it over the floor the strict mark
fails the run, and the mark must go.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "relevance.py"


def _load_bench() -> ModuleType:
    """Import bench/relevance.py by path: bench/ is a folder of scripts, not a package."""
    spec = importlib.util.spec_from_file_location("wirewatch_bench_relevance", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


relevance = _load_bench()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Every query of the set, run once on a fresh embedded index."""
    eval_set = relevance.load()
    return relevance.run_tantivy(eval_set, eval_set.queries, tmp_path_factory.mktemp("relevance"))


def _of(outcomes: Sequence[Any], language: str) -> list[Any]:
    return [o for o in outcomes if o.query.language == language and not o.query.open]


def _misses(outcomes: Sequence[Any]) -> str:
    lines = [
        f"  {o.query.id} {o.query.kind} {o.query.q!r}: missing {list(o.missing)}, found {list(o.found)}"
        for o in outcomes
        if o.missing
    ]
    return "\n".join(lines)


RECALL_BASELINE: dict[str, str] = {}
"""Languages still below the floor, with their figures (none since the analysis of issue 17: ar 0.990,
tr 0.978, en 1.000; the baseline was ar 0.738, tr 0.663, en 0.740)."""


@pytest.mark.integration
@pytest.mark.parametrize(
    "language",
    [
        pytest.param(lang, marks=pytest.mark.xfail(strict=True, reason=RECALL_BASELINE[lang]))
        if lang in RECALL_BASELINE
        else lang
        for lang in ("ar", "tr", "en")
    ],
)
def test_recall_at_10_meets_the_floor(outcomes: list[Any], language: str) -> None:
    mine = _of(outcomes, language)
    figures = relevance.score(mine)
    assert figures.recall >= relevance.GOAL_RECALL, (
        f"{language}: recall@10 {figures.recall:.3f} (MRR {figures.mrr:.3f}) over {figures.queries} queries "
        f"is below {relevance.GOAL_RECALL}; misses:\n{_misses(mine)}"
    )


MUST_NOT_BASELINE = {
    "tr": "baseline: İzmir -yangın returns the wildfire story through its English version: exclusions "
    "apply per language version, not per story",
}


@pytest.mark.integration
@pytest.mark.parametrize(
    "language",
    [
        pytest.param(lang, marks=pytest.mark.xfail(strict=True, reason=MUST_NOT_BASELINE[lang]))
        if lang in MUST_NOT_BASELINE
        else lang
        for lang in ("ar", "tr", "en")
    ],
)
def test_exclusions_and_phrases_keep_out_the_stories_judged_wrong(outcomes: list[Any], language: str) -> None:
    wrong = [(o.query.id, o.query.q, list(o.forbidden)) for o in _of(outcomes, language) if o.forbidden]
    assert not wrong, f"{language}: stories judged must-not-find came back: {wrong}"


@pytest.mark.unit
def test_the_set_covers_what_the_issue_asks() -> None:
    eval_set = relevance.load()  # checks ids, kinds, languages and that every judged story exists
    per_language = {lang: [q for q in eval_set.queries if q.language == lang] for lang in relevance.LANGUAGES}
    for lang, minimum in relevance.MIN_QUERIES.items():
        assert len(per_language[lang]) >= minimum, f"{lang}: {len(per_language[lang])} queries < {minimum}"
    wanted = {
        "ar": {"diacritics", "singular_plural", "article_particle", "orthography", "dateline_place"},
        "tr": {"capitals", "singular_plural", "inflection", "dateline_place"},
        "en": set(),
    }
    everywhere = {"place_scope", "phrase", "prefix", "exclusion", "cross_language"}
    for lang, kinds in wanted.items():
        have = {q.kind for q in per_language[lang]}
        assert kinds | everywhere <= have, f"{lang} lacks kinds {sorted(kinds | everywhere - have)}"
    # Every exclusion names a story it must keep out; a cross-language query is judged on another
    # language's story, found through a rendition in the query's language.
    originals = {s.id: s.language for s in eval_set.stories if s.translation is None}
    renditions = {(s.id, s.language) for s in eval_set.stories if s.translation is not None}
    for q in eval_set.queries:
        if q.kind == "exclusion":
            assert q.must_not_find, f"{q.id}: an exclusion without must_not_find proves nothing"
        if q.kind == "cross_language":
            through = [s for s in q.relevant if originals[s] != q.language and (s, q.language) in renditions]
            assert through, f"{q.id}: no relevant story is found only through a {q.language} rendition"


@pytest.mark.integration
def test_the_benchmark_prints_its_tables_and_a_json_line_and_says_why_it_skipped_elasticsearch() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ELASTICSEARCH_URL"}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--lang", "en"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["quick"] is True and figures["elasticsearch"] is None
    assert "ELASTICSEARCH_URL is not set" in figures["elasticsearch_skipped"]
    assert set(figures["tantivy"]["languages"]) == {"en"}
    assert 0 < figures["queries"] < 41  # the quick run halves each kind
    assert any(line.startswith("kind: recall/MRR") for line in lines)
