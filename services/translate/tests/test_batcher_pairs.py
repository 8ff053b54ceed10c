from pathlib import Path

import pytest

from wirewatch_translate.batcher import plan_batches
from wirewatch_translate.pairs import PackageInfo, missing_pairs, pairs_for_languages, plan_route

pytestmark = pytest.mark.unit


def test_batches_are_length_sorted_and_within_budget():
    lengths = [5, 40, 12, 38, 6, 11, 39]
    batches = plan_batches(lengths, max_tokens=80)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert max(lengths[i] for i in batch) * len(batch) <= 80
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths, reverse=True)
    assert [[lengths[i] for i in b] for b in batches] == [[40, 39], [38, 12], [11, 6, 5]]


def test_an_item_over_budget_travels_alone_and_bad_budget_is_refused():
    assert plan_batches([100, 3, 3], max_tokens=10) == [[0], [1, 2]]
    assert plan_batches([], max_tokens=10) == []
    with pytest.raises(ValueError, match="positive"):
        plan_batches([1], max_tokens=0)


def _pkg(s, t):
    return PackageInfo(s, t, f"translate-{s}_{t}", "1.0", Path(f"/m/{s}_{t}"))


def test_routes_direct_pivot_and_missing():
    packages = {p.pair: p for p in (_pkg("en", "ar"), _pkg("ar", "en"), _pkg("en", "tr"), _pkg("fr", "en"))}
    assert plan_route(packages, "en", "ar") == (packages[("en", "ar")],)
    assert plan_route(packages, "fr", "ar") == (packages[("fr", "en")], packages[("en", "ar")])
    assert plan_route(packages, "ar", "tr") == (packages[("ar", "en")], packages[("en", "tr")])
    assert plan_route(packages, "tr", "ar") is None
    assert missing_pairs(packages, "tr", "ar") == [("tr", "en")]
    assert missing_pairs(packages, "tr", "en") == [("tr", "en")]
    assert missing_pairs(packages, "en", "ar") == []
    assert pairs_for_languages(["ar", "tr", "en"]) == [("ar", "en"), ("en", "ar"), ("tr", "en"), ("en", "tr")]
