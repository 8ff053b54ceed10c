"""The Elasticsearch text pieces search and the percolator share: analysis, text fields, text queries."""

from __future__ import annotations

import pytest

from wirewatch_common import es_text
from wirewatch_common.analysis import AR_MARKS, FAMILIES
from wirewatch_common.query import FIELDS, parse

pytestmark = pytest.mark.unit

BUILTIN_FILTERS = {"lowercase", "apostrophe", "arabic_normalization", "arabic_stem"}
ALL_FIELDS = [f"{n}_{f}" for n in ("headline", "body", "place") for f in FAMILIES]


def test_every_text_field_names_an_analyzer_the_settings_define_from_known_filters():
    props = es_text.text_properties()
    analyzers = es_text.ANALYSIS["analyzer"]
    for fam in FAMILIES:
        for name in ("headline", "body", "place"):
            assert props[f"{name}_{fam}"] == {"type": "text", "analyzer": f"ww_{fam}"}
    for words in ("headline_words", "body_words", "place_words"):
        assert props[words]["analyzer"] == "ww_std" and props[words]["index_options"] == "docs"
    assert {p["analyzer"] for p in props.values()} <= set(analyzers)
    used = {f for a in analyzers.values() for f in a["filter"]}
    assert used <= BUILTIN_FILTERS | set(es_text.ANALYSIS["filter"])
    chars = {f for a in analyzers.values() for f in a["char_filter"]}
    assert chars == set(es_text.ANALYSIS["char_filter"])
    assert es_text.filter_properties() == {k: {"type": "keyword"} for k in ("lang", "provider", "place")}


def test_a_document_carries_its_family_text_and_the_words_folded_for_its_family():
    tr = es_text.text_fields("tr", "İdlib'deki ateşkes", "Isparta")
    assert tr == {
        "headline_tr": "İdlib'deki ateşkes",
        "body_tr": "Isparta",
        "headline_words": "idlib ateşkes",
        "body_words": "isparta",  # the prefix words have no stemmer: ı→i at once
    }
    ar = es_text.text_fields("ar", "الهُدْنَة", "", "إدلب")
    assert ar["headline_ar"] == "الهُدْنَة" and ar["headline_words"] == "هدنه"
    assert ar["place_ar"] == "إدلب" and ar["place_words"] == "ادلب"


def test_a_word_is_matched_in_every_family_field_with_the_headline_boosted_and_a_scope_narrows_it():
    q = es_text.leaf_query(parse("ceasefire").must[0])  # type: ignore[arg-type]
    mm = q["multi_match"]
    assert mm["query"] == "ceasefire" and mm["operator"] == "and" and mm["type"] == "best_fields"
    assert sorted(f.split("^")[0] for f in mm["fields"]) == sorted(ALL_FIELDS)
    assert "headline_ar^2" in mm["fields"] and "body_ar" in mm["fields"]
    scoped = es_text.leaf_query(parse("headline:strike").must[0])  # type: ignore[arg-type]
    assert scoped["multi_match"]["fields"] == [f"headline_{f}^2" for f in FAMILIES]
    place = es_text.leaf_query(parse("place:إدلب").must[0])  # type: ignore[arg-type]
    assert place["multi_match"]["fields"] == [f"place_{f}" for f in FAMILIES]
    assert FIELDS == ("headline", "body", "place")
    phrase = es_text.leaf_query(parse('"talks resume"').must[0])  # type: ignore[arg-type]
    assert phrase["multi_match"]["type"] == "phrase" and phrase["multi_match"]["query"] == "talks resume"


def test_a_prefix_looks_up_the_folded_words_in_each_family_spelling():
    q = es_text.leaf_query(parse("Istanbul*").must[0])  # type: ignore[arg-type]
    values = {
        (next(iter(c["prefix"])), next(iter(c["prefix"].values()))["value"]) for c in q["bool"]["should"]
    }
    # Turkish folds a capital I to a dotless ı, then (no stemmer on these words) to i, as the others do.
    assert values == {(w, "istanbul") for w in ("headline_words", "body_words", "place_words")}
    arabic = es_text.leaf_query(parse("الهدن*").must[0])  # type: ignore[arg-type]
    assert {next(iter(c["prefix"].values()))["value"] for c in arabic["bool"]["should"]} == {"الهدن", "هدن"}
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


def test_the_chains_run_the_embedded_algorithms_in_the_embedded_order():
    chains = es_text.ANALYSIS["analyzer"]
    filters = es_text.ANALYSIS["filter"]
    # Turkish: apostrophe suffix off, Turkish lower case, Snowball Turkish, and only then ı → i.
    tr = chains["ww_tr"]["filter"]
    assert tr.index("apostrophe") < tr.index("ww_turkish_lowercase") < tr.index("ww_turkish_stemmer")
    assert tr[-1] == "ww_dotless_i" and filters["ww_dotless_i"]["pattern"] == "ı"
    assert filters["ww_turkish_stemmer"] == {"type": "stemmer", "language": "turkish"}
    assert chains["ww_tr"]["char_filter"] == ["ww_tr_fold", "ww_marks"]
    # Elsewhere ı is an i before anything else; Arabic normalisation and marks in every chain.
    for fam in ("en", "ar", "std"):
        assert chains[f"ww_{fam}"]["char_filter"] == ["ww_fold", "ww_marks"]
    assert all("arabic_normalization" in chains[f"ww_{f}"]["filter"] for f in FAMILIES)
    assert chains["ww_ar"]["filter"][-2:] == ["arabic_stem", "ww_arabic_proclitic"]
    assert filters["ww_arabic_proclitic"]["pattern"] == "^[بكلف](?=.{4})"  # a stem of five letters or more
    # The second Turkish pass: the same stemmer, on stems of five letters or more.
    again = filters["ww_turkish_stemmer_again"]
    assert again["filter"] == ["ww_turkish_stemmer"] and again["script"]["source"].endswith(">= 5")
    assert tr.index("ww_turkish_stemmer") + 1 == tr.index("ww_turkish_stemmer_again") == len(tr) - 2
    fold = es_text.ANALYSIS["char_filter"]["ww_fold"]["mappings"]
    assert {"ı => i", "ٱ => ا", "٣ => 3", "۷ => 7"} <= set(fold)
    tr_fold = es_text.ANALYSIS["char_filter"]["ww_tr_fold"]["mappings"]
    assert {"‘ => '", "ʼ => '", "´ => '", "` => '", "٣ => 3"} <= set(tr_fold) and "ı => i" not in tr_fold
    # The marks pattern is analysis.AR_MARKS, written for Java.
    pattern = es_text.ANALYSIS["char_filter"]["ww_marks"]["pattern"]
    assert pattern.encode().decode("unicode_escape") == f"[{AR_MARKS}]"
