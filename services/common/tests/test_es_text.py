"""The Elasticsearch text pieces search and the percolator share: analysis, text fields, text queries."""

from __future__ import annotations

import pytest

from wirewatch_common import es_text
from wirewatch_common.analysis import FAMILIES
from wirewatch_common.query import parse

pytestmark = pytest.mark.unit

BUILTIN_FILTERS = {"lowercase", "apostrophe", "decimal_digit", "arabic_normalization"}
ALL_FIELDS = [f"{n}_{f}" for n in ("headline", "body") for f in FAMILIES]


def test_every_text_field_names_an_analyzer_the_settings_define_from_known_filters():
    props = es_text.text_properties()
    analyzers = es_text.ANALYSIS["analyzer"]
    for fam in FAMILIES:
        for name in ("headline", "body"):
            assert props[f"{name}_{fam}"] == {"type": "text", "analyzer": f"ww_{fam}"}
    for words in ("headline_words", "body_words"):
        assert props[words]["analyzer"] == "ww_std" and props[words]["index_options"] == "docs"
    assert {p["analyzer"] for p in props.values()} <= set(analyzers)
    used = {f for a in analyzers.values() for f in a["filter"]}
    assert used <= BUILTIN_FILTERS | set(es_text.ANALYSIS["filter"])
    assert es_text.filter_properties() == {k: {"type": "keyword"} for k in ("lang", "provider", "place")}


def test_a_document_carries_its_family_text_and_the_words_folded_for_its_family():
    tr = es_text.text_fields("tr", "İdlib'deki ateşkes", "Isparta")
    assert tr == {
        "headline_tr": "İdlib'deki ateşkes",
        "body_tr": "Isparta",
        "headline_words": "idlib ateşkes",
        "body_words": "ısparta",
    }
    ar = es_text.text_fields("ar", "الهُدْنَة", "")
    assert ar["headline_ar"] == "الهُدْنَة" and ar["headline_words"] == "هدنه"


def test_a_word_is_matched_in_every_family_field_with_the_headline_boosted_and_a_scope_narrows_it():
    q = es_text.leaf_query(parse("ceasefire").must[0])  # type: ignore[arg-type]
    mm = q["multi_match"]
    assert mm["query"] == "ceasefire" and mm["operator"] == "and" and mm["type"] == "best_fields"
    assert sorted(f.split("^")[0] for f in mm["fields"]) == sorted(ALL_FIELDS)
    assert "headline_ar^2" in mm["fields"] and "body_ar" in mm["fields"]
    scoped = es_text.leaf_query(parse("headline:strike").must[0])  # type: ignore[arg-type]
    assert scoped["multi_match"]["fields"] == [f"headline_{f}^2" for f in FAMILIES]
    phrase = es_text.leaf_query(parse('"talks resume"').must[0])  # type: ignore[arg-type]
    assert phrase["multi_match"]["type"] == "phrase" and phrase["multi_match"]["query"] == "talks resume"


def test_a_prefix_looks_up_the_folded_words_in_each_family_spelling():
    q = es_text.leaf_query(parse("Istanbul*").must[0])  # type: ignore[arg-type]
    values = {
        (next(iter(c["prefix"])), next(iter(c["prefix"].values()))["value"]) for c in q["bool"]["should"]
    }
    # Turkish folds a capital I to a dotless ı; the other families to i.
    assert values == {(w, v) for w in ("headline_words", "body_words") for v in ("istanbul", "ıstanbul")}
    body_only = es_text.leaf_query(parse("body:negotiat*").must[0])  # type: ignore[arg-type]
    assert body_only["bool"]["should"] == [{"prefix": {"body_words": {"value": "negotiat"}}}]


def test_text_query_keeps_the_desk_structure():
    assert es_text.text_query(parse("")) is None
    only_not = es_text.text_query(parse("-derby"))
    assert only_not is not None
    assert only_not["bool"]["must"] == [{"match_all": {}}] and len(only_not["bool"]["must_not"]) == 1
    any_of = es_text.text_query(parse("(strike OR ateşkes) grain"))
    assert any_of is not None
    first, second = any_of["bool"]["must"]
    assert first["bool"]["minimum_should_match"] == 1 and len(first["bool"]["should"]) == 2
    assert second["multi_match"]["query"] == "grain"


def test_filters_normalise_languages_and_places_keep_providers_and_leave_out_empty_ones():
    assert es_text.attribute_filters() == []
    assert es_text.attribute_filters(["tr-TR", "EN", "en-GB"], ["AP", "Reuters"], ["IDLIB", "Gaza"]) == [
        {"terms": {"lang": ["en", "tr"]}},
        {"terms": {"provider": ["AP", "Reuters"]}},
        {"terms": {"place": ["idlib", "gaza"]}},
    ]
    assert es_text.attribute_filters(places=["Odesa"]) == [{"terms": {"place": ["odesa"]}}]


def test_bool_query_puts_words_under_must_and_filters_under_filter():
    filters = es_text.attribute_filters(["ar"])
    assert es_text.bool_query(parse(""), filters) == {"bool": {"filter": filters}}
    with_words = es_text.bool_query(parse("ceasefire"), filters)
    assert with_words["bool"]["filter"] == filters
    assert with_words["bool"]["must"] == [es_text.text_query(parse("ceasefire"))]
