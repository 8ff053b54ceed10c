"""The shared matcher: search semantics on single versions, the presearch, and what it may import.

Real tantivy chains (`wirewatch_common.analyzers`) analyse the text, as in the alerts service;
tests/test_matching_vs_search.py checks the same matcher against the index's search at scale.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from wirewatch_common import analyzers as analyzers_module
from wirewatch_common import matching
from wirewatch_common.analysis import fold, fold_words, stem_arabic
from wirewatch_common.analyzers import CACHE_MAX_CHARS, MAX_TOKEN_CHARS, Analyzers, analyzer
from wirewatch_common.matching import Matcher, Standing, Version, version_of
from wirewatch_common.query import parse
from wirewatch_common.searchable import places_of, providers_of, searchable_text
from wirewatch_testkit.stories import (
    CEASEFIRE,
    CEASEFIRE_AR,
    CEASEFIRE_TR,
    SECIM,
    STRIKE,
    original,
    rendition,
)

pytestmark = pytest.mark.unit

ANALYZERS = Analyzers()


def _version(headline: str, body: str = "", lang: str = "en", **fields: object) -> Version:
    story = original("ww-t", headline, [body] if body else [], language=lang, **fields)
    found = version_of(story)
    assert found is not None
    return found


def _matches(query: str, version: Version, **filters: frozenset[str]) -> bool:
    matcher = Matcher(ANALYZERS.analyze, [Standing("s", parse(query), **filters)])
    return matcher.match([version]) == [(0, "s")]


# -- semantics, one version at a time --------------------------------------------------------------


def test_words_match_any_form_the_stemmer_folds_together_and_all_words_are_needed():
    v = _version("Ceasefires resumed in Idlib", "Negotiators met on Friday.")
    assert _matches("ceasefire", v)
    assert _matches("CEASEFIRE resume", v)
    assert not _matches("ceasefire football", v)


def test_phrases_need_the_words_next_to_each_other_and_in_order():
    v = _version("Port strike halts grain exports", "Dockworkers walked out.")
    assert _matches('"grain exports"', v)
    assert _matches('"grain export"', v)  # stemmed, as search does
    assert not _matches('"exports grain"', v)
    assert not _matches('"strike exports"', v)
    # A phrase does not run from the headline into the body.
    assert not _matches('"exports dockworkers"', v)


def test_a_token_the_chain_drops_still_separates_a_phrase():
    long = "z" * MAX_TOKEN_CHARS
    v = _version("Report", f"grain {long} exports, then grain exports again")
    assert _matches('"grain exports"', v)
    gap = _version("Report", f"grain {long} exports")
    assert not _matches('"grain exports"', gap)
    assert _matches("grain exports", gap)
    kept = "z" * (MAX_TOKEN_CHARS - 1)
    shorter = _version("Report", f"grain {kept} exports")
    assert _matches(f'"grain {kept} exports"', shorter) and not _matches('"grain exports"', shorter)


def test_a_word_that_analyses_to_several_tokens_is_a_phrase():
    v = _version("Covid-19 cases rise", "")
    assert _matches("covid-19", v)
    assert _matches('"covid 19"', v)
    assert not _matches("19-covid", v)


def test_prefixes_match_unstemmed_words_of_the_version():
    v = _version("Negotiations resume", "The negotiators met.")
    assert _matches("negotiat*", v)
    assert _matches("NEGO*", v)
    assert not _matches("negotiatx*", v)
    # The stem of "negotiations" is "negoti": a prefix longer than the stem still matches the word.
    assert _matches("negotiatio*", v)
    # A prefix that analyses to two tokens is read as a phrase of words.
    assert not _matches("resume-nego*", v)
    assert _matches("negotiations-resume*", v)


def test_field_scopes_restrict_words_phrases_and_prefixes():
    v = _version("Port strike halts grain exports", "Dockworkers walked out on Tuesday.")
    assert _matches("headline:strike", v)
    assert not _matches("body:strike", v)
    assert _matches('body:"walked out"', v)
    assert not _matches('headline:"walked out"', v)
    assert _matches("body:dock*", v)
    assert not _matches("headline:dock*", v)


def test_or_needs_one_option_and_exclusions_remove():
    v = _version("Flood waters rise in the delta", "")
    assert _matches("earthquake OR flood", v)
    assert _matches('storm OR "waters rise" OR quake*', v)
    assert not _matches("earthquake OR storm", v)
    assert not _matches("flood -delta", v)
    assert not _matches('flood -"waters rise"', v)
    assert _matches('flood -"rise waters"', v)
    assert _matches("-football", v)  # only an exclusion: every version but those
    assert not _matches("-flood", v)


def test_filters_read_primary_languages_exact_providers_and_casefolded_places():
    v = version_of(CEASEFIRE)
    assert v is not None and v.providers == ("Reuters",) and v.places == ("idlib", "sy")
    assert _matches("ceasefire", v, languages=frozenset({"EN-gb"}))
    assert not _matches("ceasefire", v, languages=frozenset({"ar", "tr"}))
    assert _matches("ceasefire", v, providers=frozenset({"Reuters", "AP"}))
    assert not _matches("ceasefire", v, providers=frozenset({"reuters"}))
    assert _matches("ceasefire", v, places=frozenset({"IDLIB"}))
    assert _matches("ceasefire", v, places=frozenset({"Sy"}))
    assert not _matches("ceasefire", v, places=frozenset({"Gaza"}))
    assert _matches("", v, providers=frozenset({"Reuters"}))  # filters alone: a filtered stream


def test_turkish_dotted_and_dotless_capitals_fold_as_search_folds_them():
    v = version_of(SECIM)  # "İSTANBUL'DA SEÇİM SONUÇLARI AÇIKLANDI", "Isparta ve Iğdır'da ..."
    assert v is not None and v.family == "tr"
    assert _matches("istanbul", v)
    assert _matches("İstanbul'daki seçim", v)
    assert _matches("ığdır", v)
    assert _matches("IĞDIR", v)
    assert _matches("Isparta", v)
    assert not _matches("ankara", v)


def test_arabic_article_and_diacritics_fold_and_arabic_queries_match_arabic_versions_only():
    ar = version_of(CEASEFIRE_AR)
    en = version_of(CEASEFIRE)
    tr = version_of(CEASEFIRE_TR)
    assert ar is not None and en is not None and tr is not None
    assert ar.family == "ar"
    for query in ("الهدنة", "هدنة", "والهدنة", "الهُدْنَةُ", '"محافظة إدلب"', "إدل*"):
        assert _matches(query, ar), query
        assert not _matches(query, en), query
    # And the reverse: the English word reaches the English version, not the Arabic rendition.
    assert _matches("ceasefire", en) and not _matches("ceasefire", ar)
    assert _matches("ateşkes", tr) and not _matches("ateşkes", en)


def test_dateline_places_are_text_for_unscoped_words_and_for_the_place_scope():
    story = original(
        "ww-idlib",
        "قصف على مخيمات النازحين",
        ["قال الدفاع المدني إن القصف استمر ليلا."],
        language="ar",
        dateline={"text": "إدلب (رويترز):", "places": [{"name": "إدلب", "code": "SY"}]},
    )
    v = version_of(story)
    assert v is not None and v.place == "إدلب" and "sy" in v.places
    assert _matches("إدلب", v) and _matches("ادلب", v) and _matches("place:إدلب", v)
    assert _matches("place:ادل*", v) and _matches("بإدلب قصف", v)
    assert not _matches("headline:إدلب", v) and not _matches("body:إدلب", v)
    assert not _matches("place:قصف", v), "place: reads the dateline's names only"
    assert not _matches("sy", v), "a country code is a filter value, not text"
    assert not _matches("مخيمات -إدلب", v)
    # A rendition keeps the original's dateline: the Turkish version is found by the same name.
    tr = version_of(rendition(story, "tr", "Kamplara bombardıman", ["Sivil savunma konuştu."]))
    assert tr is not None and _matches("place:إدلب", tr) and _matches("إدلب", tr)
    tr_story = original(
        "ww-ist",
        "Seçim",
        ["Oylar sayıldı."],
        language="tr",
        dateline={"text": "İSTANBUL", "places": [{"name": "İstanbul"}]},
    )
    tv = version_of(tr_story)
    assert tv is not None and _matches("place:ISTANBUL", tv) and _matches("place:istanbul'da", tv)


def test_unsearchable_versions_are_not_matched():
    failed = rendition(STRIKE, "ar", "", [], status="failed")
    unavailable = rendition(STRIKE, "tr", "Port strike", ["copy"], status="unavailable")
    killed = original("ww-k", "Strike", ["x"], pubstatus="canceled")
    withheld = original("ww-w", "Strike", ["x"], pubstatus="withheld")
    assert [version_of(s) for s in (failed, unavailable, killed, withheld)] == [None] * 4
    v = version_of(STRIKE)
    assert v is not None and v.key == "ww-strike.en" and v.lang == "en"


def test_searchable_text_is_headline_and_summary_then_paragraphs():
    story = original("ww-s", "Head", ["one", "two"], summary="Lede", source={"name": "AFP"})
    assert searchable_text(story) == (True, "Head", "Lede\none\ntwo")
    assert providers_of(story) == ("Reuters", "AFP")
    assert places_of(STRIKE) == ("odesa", "ua")
    assert searchable_text(rendition(STRIKE, "tr", "x", ["y"], status="failed")) == (False, "", "")


# -- the matcher as a registry: batches, presearch, add/replace/remove ----------------------------


def test_a_batch_reports_every_match_sorted_and_counts_candidates():
    versions = [version_of(s) for s in (CEASEFIRE, CEASEFIRE_AR, STRIKE, CEASEFIRE_TR)]
    assert all(versions)
    batch = [v for v in versions if v is not None]
    matcher = Matcher(
        ANALYZERS.analyze,
        [
            Standing("truce", parse("ceasefire OR الهدنة OR ateşkes")),
            Standing("port", parse("headline:port")),
            Standing("not-port", parse("-port")),
            Standing("nothing", parse("zzzyzx")),
        ],
    )
    assert matcher.match(batch) == [
        (0, "not-port"),
        (0, "truce"),
        (1, "not-port"),
        (1, "truce"),
        (2, "port"),
        (3, "not-port"),
        (3, "truce"),
    ]
    assert matcher.stats.versions == 4 and matcher.stats.matches == 7
    # Verified: "not-port" (no must clause) everywhere, "truce" and "port" where their terms are (3 + 1);
    # "nothing" shares no term with any version and is never verified.
    assert matcher.stats.candidates == 4 + 3 + 1


def test_queries_sharing_no_term_with_a_version_are_never_verified():
    matcher = Matcher(ANALYZERS.analyze, [Standing(f"w{i}", parse(f"word{i} common")) for i in range(1000)])
    matcher.add(Standing("hit", parse("ceasefire idlib")))
    v = version_of(CEASEFIRE)
    assert v is not None
    assert matcher.match([v]) == [(0, "hit")]
    assert matcher.stats.candidates == 1


def test_the_rarest_looking_clause_files_the_query():
    matcher = Matcher(ANALYZERS.analyze, [Standing("s", parse("the negotiations"))])
    v = _version("The talks", "The weather")
    matcher.match([v])
    assert matcher.stats.candidates == 0  # filed under "negoti", not under "the"


def test_add_replaces_by_id_and_remove_forgets_and_ignores_unknown_ids():
    v = version_of(STRIKE)
    assert v is not None
    matcher = Matcher(ANALYZERS.analyze)
    matcher.add(Standing("w", parse("ceasefire")))
    assert matcher.match([v]) == [] and len(matcher) == 1
    matcher.add(Standing("w", parse("grain*")))
    assert matcher.match([v]) == [(0, "w")] and len(matcher) == 1
    matcher.add(Standing("x", parse("-grain")))
    matcher.remove("w")
    matcher.remove("w")
    matcher.remove("never-added")
    assert matcher.match([v]) == [] and len(matcher) == 1
    matcher.remove("x")
    assert len(matcher) == 0
    # Nothing stays filed: the presearch structures are empty again.
    filed = [matcher._prefixes, *matcher._sure.values(), *matcher._maybe.values()]
    assert not any(p.by_key or p.keys for p in filed) and not matcher._always
    assert not matcher._leaves


def test_equal_leaves_are_analysed_once_and_shared_while_used():
    matcher = Matcher(
        ANALYZERS.analyze, [Standing("a", parse('"grain exports" port')), Standing("b", parse("port"))]
    )
    assert len(matcher._leaves) == 2
    matcher.remove("a")
    assert len(matcher._leaves) == 1
    v = version_of(STRIKE)
    assert v is not None and matcher.match([v]) == [(0, "b")]


def test_queries_filed_under_a_term_found_common_are_refiled_under_a_rarer_clause():
    # "zephyr" is longer than "rare", so the length guess files the query under it first.
    matcher = Matcher(ANALYZERS.analyze, [Standing("s", parse("zephyrs rare"))])
    common = [_version(f"Zephyrs story {i}", "More zephyrs.") for i in range(matching.FIRST_REVIEW)]
    assert matcher.match(common) == []
    assert matcher.stats.candidates == matching.FIRST_REVIEW  # filed under "zephyr": every version
    assert matcher.stats.refiled == 1
    # Now filed under "rare": the next common versions are not even candidates, and results hold.
    assert matcher.match(common[:10]) == []
    assert matcher.stats.candidates == matching.FIRST_REVIEW
    assert matcher.match([_version("Rare zephyrs")]) == [(0, "s")]


def test_watchlists_can_change_from_another_thread_while_batches_are_matched():
    versions = [version_of(s) for s in (STRIKE, CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, SECIM)]
    batch = [v for v in versions if v is not None] * 40
    # Many queries on common words: every review of the filing walks and refiles them.
    common = [Standing(f"c{n}", parse(f"the{n} strike port grain")) for n in range(300)]
    matcher = Matcher(ANALYZERS.analyze, [Standing("steady", parse("grain")), *common])
    stop = threading.Event()
    errors: list[Exception] = []

    def churn() -> None:
        n = 0
        try:
            while not stop.is_set():
                matcher.add(Standing(f"w{n % 200}", parse(f"strike{n % 7}* OR grain -word{n} uniq{n}")))
                matcher.remove(f"w{(n + 100) % 200}")
                n += 1
        except Exception as exc:  # noqa: BLE001  # reported by the test below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a race shows within the run
    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(15):
            found = matcher.match(batch)
            assert [i for i, sid in found if sid == "steady"] == list(range(0, len(batch), 5))
    finally:
        stop.set()
        worker.join(10)
        sys.setswitchinterval(interval)
    assert not errors and not worker.is_alive() and "steady" in matcher
    assert matcher.stats.refiled > 0


def test_an_empty_batch_matches_nothing():
    assert Matcher(ANALYZERS.analyze, [Standing("s", parse("-x"))]).match([]) == []


def test_a_query_whose_words_analyse_to_nothing_never_matches():
    matcher = Matcher(ANALYZERS.analyze, [Standing("long", parse("z" * 80))])
    assert matcher.match([_version("z" * 80)]) == []


# -- the analysis chains moved out of the index -----------------------------------------------------


@pytest.mark.parametrize(
    ("family", "text", "tokens"),
    [
        ("en", "Ceasefires resumed", ["ceasefir", "resum"]),
        ("tr", "İSTANBUL'DA ateşkesler", ["istanbul", "ateşkes"]),
        ("ar", "والهُدْنَةُ", ["هدن"]),
        ("std", "Über ÇA", ["über", "ça"]),
    ],
)
def test_analyzers_fold_then_run_the_family_chain(family, text, tokens):
    assert ANALYZERS.tokens(text, family) == tokens
    assert ANALYZERS.analyze(text, family, True) == tokens


def test_unstemmed_analysis_and_the_overlong_token_limit_in_bytes():
    assert ANALYZERS.tokens("Negotiations İdlib'deki", "tr", stem=False) == ["negotiations", "idlib"]
    assert analyzer("std").analyze("a" * (MAX_TOKEN_CHARS - 1) + " b") == ["a" * (MAX_TOKEN_CHARS - 1), "b"]
    assert analyzer("std").analyze("a" * MAX_TOKEN_CHARS + " b") == ["b"]
    assert analyzer("std").analyze("ب" * (MAX_TOKEN_CHARS // 2) + " b") == ["b"]  # 64 bytes
    assert matching.MAX_TOKEN_BYTES == MAX_TOKEN_CHARS


TRICKY = (
    "İSTANBUL'DA İdlib’deki seçim; ΟΔΟΣ ΣΟΦΟΚΛΕΟΥΣ, word\u00a0joined\u2028line\x1fsep "
    "والهُدْنَةُ بالهدنة الالف ـهدنةـ « اقتباس » U.S.-led 2024-25 e-mail (Reuters) -- "
    + "x" * 70
    + " tail "
    + "ب" * 40
    + " ok\tTab\nNew  double  space Iğdır'da IĞDIR"
)


def _direct(text: str, fam: str, stem: bool) -> list[str]:
    """The whole text prepared at once (no chunks), then the chain the index registers."""
    if not stem:
        return analyzer("std").analyze(fold_words(text, fam))
    folded = fold(text, fam)
    if fam == "ar":
        folded = stem_arabic(folded)
    elif fam == "tr":
        folded = Analyzers()._prepare_chunk(text, "tr")
    return analyzer(fam).analyze(folded)


@pytest.mark.parametrize("family", ["en", "ar", "tr", "std"])
def test_long_texts_analysed_by_chunk_give_the_engines_tokens(family):
    fresh = Analyzers()
    text = " ".join([TRICKY] * 5)
    assert len(text) > CACHE_MAX_CHARS
    for stem in (True, False):
        assert fresh.tokens(text, family, stem=stem) == _direct(text, family, stem)
        assert fresh.tokens(text, family, stem=stem) == _direct(text, family, stem)  # from the cache


def test_long_real_wire_texts_analysed_by_chunk_give_the_engines_tokens():
    corpus = (Path(__file__).resolve().parents[3] / "../shared/corpus").resolve()
    if not corpus.is_dir():
        pytest.skip(f"the shared corpus is absent at {corpus}")
    fresh = Analyzers()
    checked = 0
    for path in sorted(corpus.rglob("*")):
        if not path.is_file() or path.suffix == ".md":
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        if len(text) <= CACHE_MAX_CHARS:
            continue
        for family in ("en", "ar", "tr", "std"):
            for stem in (True, False):
                assert fresh.tokens(text, family, stem=stem) == _direct(text, family, stem), (
                    path.name,
                    family,
                )
        checked += 1
    assert checked > 100


def test_only_short_texts_are_cached():
    fresh = Analyzers()
    fresh.tokens("word", "en")
    fresh.tokens("x" * (CACHE_MAX_CHARS + 1), "en")
    assert list(fresh._cache) == [("en", True, "word")]
    assert analyzers_module.Analyzers is Analyzers


def test_the_matcher_imports_no_engine_broker_web_framework_or_database():
    probe = (
        "import sys; import wirewatch_common.matching, wirewatch_common.searchable; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'tantivy', 'elasticsearch', 'kafka', 'fastapi', 'starlette', 'uvicorn', 'sqlite3', 'wirewatch_index'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
