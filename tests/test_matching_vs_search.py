"""The alerts matcher agrees with search: ~200 generated desk queries over ~50 stories in en/ar/tr.

Words, phrases and prefixes, unscoped or scoped to the headline, the body or the dateline's places
(`place:`, whose names come in Latin, Turkish and Arabic spellings).

One real tantivy index built by the index service's own backend, and the shared matcher fed the
same language versions: for every query, the stories (and the language versions) the matcher
says match must be exactly those search returns. The only tolerated difference is search's cap
of 50 expansions per prefix over the whole index, detected per query and checked as a subset.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from wirewatch_common.analysis import FAMILIES
from wirewatch_common.analyzers import Analyzers
from wirewatch_common.matching import Matcher, Standing, Version, version_of
from wirewatch_common.query import ParsedQuery, Word, parse
from wirewatch_common.story import Story
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.backends.tantivy_query import MAX_PREFIX_EXPANSIONS
from wirewatch_index.backends.tantivy_schema import PREFIX_FIELDS
from wirewatch_index.documents import newest_per_document
from wirewatch_index.search import SearchRequest
from wirewatch_testkit.stories import DAY, original, rendition

pytestmark = pytest.mark.integration


def _vocab(text: str) -> list[str]:
    return text.split()


EN = _vocab(
    "ceasefire ceasefires talks talked negotiations negotiators negotiate strike strikes striking grain "
    "exports exported port ports police protest protesters election elections results flood flooding "
    "earthquake rescue rescued minister ministers government governor bank banking rates oil prices gas "
    "pipeline court ruling president visit summit aid convoy hospital refugees camp border troops army "
    "drone attack attacked village city officials said week water power schools farmers harvest wheat "
    "market fuel winter storm roads bridge the of in on and to with after as for by from at"
)
AR = _vocab(
    "الهدنة هدنة والهدنة بالهدنة الهُدْنَةُ وقف إطلاق إِطْلَاق النار المحادثات محادثات الحدود القوات الحكومة "
    "حكومة الوزير وزير الانتخابات انتخابات النتائج احتجاج الشرطة الميناء ميناء إضراب الحبوب الصادرات "
    "الشحن الجفاف الفيضانات زلزال المساعدات قافلة المستشفى مستشفى اللاجئين المخيم البرلمان الرئيس رئيس "
    "زيارة القمة اتفاق المفاوضون الجيش هجوم القرية المدينة مدينة المسؤولون قال بيان إدلب غزة بغداد أنقرة "
    "انقرة في من على إلى مع بعد"
)
TR = _vocab(
    "ateşkes ateşkesler ateşkesin görüşmeler görüşme sınır askerler hükümet hükümetin bakan bakanı seçim "
    "seçimler sonuçları protesto polis liman limanı grev tahıl ihracat ihracatı kuraklık sel deprem "
    "depremde yardım konvoy hastane hastanede mülteciler kamp meclis bütçe enflasyon banka faiz petrol "
    "fiyatları gaz mahkeme karar cumhurbaşkanı ziyaret zirve anlaşma heyet ordu saldırı köy şehir "
    "yetkililer açıklama İdlib'de İstanbul'da Iğdır Isparta İSTANBUL IĞDIR ISPARTA ve bir ile için da de"
)
VOCAB = {"en": EN, "ar": AR, "tr": TR}
PROVIDERS = ["Reuters", "AP", "AFP", "Anadolu"]
PLACES = [
    ("Idlib", "SY"),
    ("Istanbul", "TR"),
    ("Gaza", "PS"),
    ("Odesa", "UA"),
    ("Baghdad", None),
    ("إدلب", "SY"),
    ("İstanbul", "TR"),
    ("بغداد", None),
    ("Iğdır", "TR"),
]
PLACE_WORDS = ["IDLIB", "idlib", "İSTANBUL", "istanbul", "ادلب", "إدلب", "بغداد", "IĞDIR", "gaza", "Odesa"]
LONG_EN = "x" * 70  # one token of 70 bytes: dropped by the chains, its position kept
LONG_AR = "ب" * 33  # 66 bytes


def _text(rng: random.Random, lang: str, n: int) -> str:
    words = [rng.choice(VOCAB[lang]) for _ in range(n)]
    if rng.random() < 0.3:
        words[0] = words[0].upper() if lang != "ar" else words[0]
    return " ".join(words)


def _body(rng: random.Random, lang: str) -> list[str]:
    return [
        _text(rng, lang, rng.randint(6, 25)) + rng.choice([".", ",", "!", ""])
        for _ in range(rng.randint(1, 4))
    ]


def _stories() -> list[Story]:
    """About 50 stories with renditions, updates, kills, failed renditions and overlong tokens."""
    rng = random.Random(16)
    out: list[Story] = []
    for i in range(50):
        lang = ("en", "ar", "tr")[i % 3]
        place, code = PLACES[i % len(PLACES)]
        fields: dict[str, Any] = {
            "language": lang,
            "provider": {"name": PROVIDERS[i % len(PROVIDERS)]},
            "versioncreated": DAY + timedelta(minutes=i),
        }
        if i % 4:
            places = [{"name": place, **({"code": code} if code else {})}]
            if i % 9 == 1:
                places.append({"name": "Syria" if code == "SY" else "Türkiye"})
            fields["dateline"] = {"text": place.upper(), "places": places}
        if i % 7 == 0:
            fields["source"] = {"name": "Xinhua"}
        if i % 5 == 0:
            fields["summary"] = _text(rng, lang, 8)
        body = _body(rng, lang)
        if i == 3:
            body.append(f"report {LONG_EN} grain exports")
        if i == 7:
            body.append(f"الحبوب {LONG_AR} الصادرات")
        if i == 6:
            fields["pubstatus"] = "canceled"
        story = original(f"ww-x{i:02d}", _text(rng, lang, rng.randint(3, 9)), body, **fields)
        out.append(story)
        if i % 2 == 0:
            out.append(original(story.id, _text(rng, lang, 5), _body(rng, lang), **fields | {"version": 2}))
            story = out[-1]
        for other in ("en", "ar", "tr"):
            if other == lang or rng.random() < 0.3:
                continue
            status = "translated" if rng.random() < 0.85 else rng.choice(["failed", "unavailable"])
            out.append(
                rendition(story, other, _text(rng, other, rng.randint(3, 9)), _body(rng, other), status)
            )
    return out


def _word(rng: random.Random) -> str:
    lang = rng.choice(("en", "ar", "tr"))
    word = rng.choice(VOCAB[lang])
    return word.capitalize() if lang == "en" and rng.random() < 0.2 else word


def _phrase(rng: random.Random, texts: list[str]) -> str:
    words = rng.choice(texts).replace(".", "").replace(",", "").replace("!", "").split()
    if len(words) < 2:
        return f'"{_word(rng)} {_word(rng)}"'
    n = rng.randint(2, min(3, len(words)))
    start = rng.randrange(len(words) - n + 1)
    chosen = words[start : start + n]
    if rng.random() < 0.2:
        chosen.reverse()  # the same words out of order must not match
    return '"' + " ".join(chosen) + '"'


def _prefix(rng: random.Random) -> str:
    word = _word(rng).lower()
    return word[: rng.randint(3, max(3, min(6, len(word))))] + "*"


def _leaf(rng: random.Random, texts: list[str]) -> str:
    kind = rng.random()
    if kind < 0.4:
        text = _word(rng)
    elif kind < 0.65:
        text = _phrase(rng, texts)
    elif kind < 0.85:
        text = _prefix(rng)
    else:  # a place name, as a word, a prefix or a phrase with the country
        name = rng.choice(PLACE_WORDS)
        text = rng.choice((name, name[:3] + "*", f'"{name} Syria"'))
    if rng.random() < 0.25:
        text = rng.choice(("headline:", "body:", "place:", "place:")) + text
    return text


def _queries(stories: list[Story]) -> list[tuple[str, dict[str, frozenset[str]]]]:
    rng = random.Random(1616)
    texts = [p for s in stories for p in (s.headline, *s.body)]
    fixed = [
        "ceasefire",
        '"report grain"',  # spans the dropped overlong token: no match, as in search
        '"grain exports"',
        '"الحبوب الصادرات"',
        "IĞDIR",
        "iğdır",
        "İstanbul'daki",
        "الهُدْنَةُ",
        "والهدنة",
        "negotiat*",
        "-the",
        "",
        "grain-expo*",  # a prefix of several tokens is read as words (a phrase here)
        "ceasefire-talks*",
        "a*",
        "place:idlib",
        "place:IDLIB",
        "place:إدلب",
        "place:ادل*",
        "place:İSTANBUL",
        'place:"Idlib Syria"',
        "gaza -place:gaza",
        "IĞDIR",
    ]
    out: list[tuple[str, dict[str, frozenset[str]]]] = [(q, {}) for q in fixed]
    while len(out) < 200:
        parts = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            if rng.random() < 0.25:
                parts.append(" OR ".join(_leaf(rng, texts) for _ in range(rng.randint(2, 3))))
            else:
                parts.append(_leaf(rng, texts))
        if rng.random() < 0.3:
            parts.append("-" + (_word(rng) if rng.random() < 0.7 else _phrase(rng, texts)))
        if rng.random() < 0.05:
            parts = ["-" + _word(rng)]
        filters: dict[str, frozenset[str]] = {}
        if rng.random() < 0.2:
            filters["languages"] = frozenset(rng.sample(["en", "ar", "tr", "en-GB", "TR"], rng.randint(1, 2)))
        if rng.random() < 0.15:
            filters["providers"] = frozenset(rng.sample([*PROVIDERS, "Xinhua"], rng.randint(1, 2)))
        if rng.random() < 0.15:
            filters["places"] = frozenset(
                rng.sample(["IDLIB", "gaza", "sy", "Ua", "Baghdad"], rng.randint(1, 2))
            )
        out.append((" ".join(parts), filters))
    return out


@pytest.fixture(scope="module")
def corpus(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TantivyBackend, list[Version], list[Story]]]:
    stories = _stories()
    backend = TantivyBackend(
        Path(tmp_path_factory.mktemp("xcheck")), writer_heap_bytes=15_000_000, writer_threads=1
    )
    backend.write(stories)
    newest = newest_per_document(stories)
    versions = [v for v in map(version_of, newest) if v is not None]
    try:
        yield backend, versions, newest
    finally:
        backend.close()


def _capped(backend: TantivyBackend, query: ParsedQuery, analyzers: Analyzers) -> bool:
    """Whether a prefix of the query expands past search's cap in this index (search may then miss)."""
    searcher = backend._index.searcher()
    leaves = [*query.leaves(), *query.must_not]
    for leaf in leaves:
        if not (isinstance(leaf, Word) and leaf.prefix):
            continue
        prefixes = {
            analyzers.tokens(leaf.text, fam, stem=False)[0]
            for fam in FAMILIES
            if analyzers.tokens(leaf.text, fam, stem=False)
        }
        for field in PREFIX_FIELDS.values():
            found: set[str] = set()
            for prefix in prefixes:
                found.update(
                    t for t, _ in searcher.terms_with_prefix(field, prefix, limit=MAX_PREFIX_EXPANSIONS + 1)
                )
            if len(found) > MAX_PREFIX_EXPANSIONS:
                return True
    return False


def _search(backend: TantivyBackend, standing: Standing, languages: frozenset[str]) -> set[str]:
    page = backend.search(
        SearchRequest(
            query=standing.query,
            languages=tuple(sorted(languages)),
            providers=tuple(sorted(standing.providers)),
            places=tuple(sorted(standing.places)),
            size=100,
        )
    )
    assert page.next_after is None, "the cross-check expects every match on one page"
    return {h.story_id for h in page.hits}


def test_the_matcher_matches_exactly_what_search_returns(corpus):
    backend, versions, newest = corpus
    stories = newest
    analyzers = Analyzers()
    queries = _queries(stories)
    standings = [Standing(f"q{n}", parse(q), **f) for n, (q, f) in enumerate(queries)]
    matcher = Matcher(analyzers.analyze, standings)
    first = matcher.match(versions)
    # Matching teaches the matcher which terms are common and it refiles queries: same answers after.
    assert matcher.match(versions) == first
    assert matcher.match(versions) == first
    assert matcher.stats.refiled > 0
    assert Matcher(analyzers.analyze, reversed(standings)).match(versions[::-1]) == sorted(
        (len(versions) - 1 - i, sid) for i, sid in first
    )
    matched: dict[str, set[tuple[str, str]]] = {s.id: set() for s in standings}
    story_of = {v.key: v.key.rsplit(".", 1) for v in versions}
    for index, sid in first:
        story_id, language = story_of[versions[index].key]
        matched[sid].add((story_id, language))

    exact = capped = nonempty = places = 0
    for standing, (raw, _) in zip(standings, queries, strict=True):
        langs = {lang.split("-")[0].lower() for lang in standing.languages} or {"en", "ar", "tr"}
        expected_stories = _search(backend, standing, standing.languages)
        expected = {(sid, lang) for lang in langs for sid in _search(backend, standing, frozenset({lang}))}
        got = matched[standing.id]
        got_stories = {sid for sid, _ in got}
        if _capped(backend, standing.query, analyzers):
            capped += 1
            assert expected <= got, f"{raw!r} {standing}: search found versions the matcher missed"
            continue
        exact += 1
        nonempty += bool(got)
        places += bool(got) and "place:" in raw
        assert got_stories == expected_stories, (
            f"{raw!r} {standing}: matcher-only {sorted(got_stories - expected_stories)}, "
            f"search-only {sorted(expected_stories - got_stories)}"
        )
        assert got == expected, (
            f"{raw!r}: matcher-only {sorted(got - expected)}, search-only {sorted(expected - got)}"
        )
    assert exact >= 180 and capped <= 20, (exact, capped)
    assert nonempty >= 80, f"only {nonempty} queries matched anything: the comparison would prove little"
    assert places >= 10, f"only {places} place: queries matched anything"
    assert matcher.stats.candidates < 2 * len(standings) * len(versions) / 3, matcher.stats


def test_the_corpus_exercises_what_it_claims(corpus):
    _, versions, newest = corpus
    assert len({s.id for s in newest}) == 50
    assert {v.lang for v in versions} == {"en", "ar", "tr"}
    # Killed, failed and unavailable versions are in the index but never match.
    assert len(versions) < len(newest)
    assert any(LONG_EN in v.body for v in versions) and any(LONG_AR in v.body for v in versions)


def test_specific_answers_of_the_cross_check_corpus(corpus):
    backend, versions, _ = corpus
    analyzers = Analyzers()
    matcher = Matcher(analyzers.analyze)
    for sid, q in (("gap", '"report grain"'), ("next", '"grain exports"'), ("ar-gap", '"الحبوب الصادرات"')):
        matcher.add(Standing(sid, parse(q)))
    found = {(versions[i].key, sid) for i, sid in matcher.match(versions)}
    assert ("ww-x03.en", "next") in found
    assert ("ww-x03.en", "gap") not in found
    assert not _search(backend, Standing("gap", parse('"report grain"')), frozenset({"en"})) & {"ww-x03"}
    assert ("ww-x07.ar", "ar-gap") not in found


def test_the_index_still_reaches_the_moved_pieces_where_it_imported_them():
    from wirewatch_common import analyzers, searchable
    from wirewatch_index import documents
    from wirewatch_index.backends import tantivy_schema

    assert tantivy_schema.Analyzers is analyzers.Analyzers and tantivy_schema.analyzer is analyzers.analyzer
    assert tantivy_schema.MAX_TOKEN_CHARS == analyzers.MAX_TOKEN_CHARS
    assert documents.providers_of is searchable.providers_of and documents.places_of is searchable.places_of


def test_a_dateline_place_is_found_in_every_language_version_under_any_spelling_the_folding_joins(corpus):
    backend, versions, _ = corpus
    analyzers = Analyzers()
    datelined = {v.key for v in versions if "إدلب" in v.place.split("\n")}
    assert {k.rsplit(".", 1)[1] for k in datelined} == {"ar", "en", "tr"}, "renditions keep the dateline"
    for query in ("place:ادلب", "إدلب", "place:إدلب"):
        matcher = Matcher(analyzers.analyze, [Standing("p", parse(query))])
        found = {versions[i].key for i, _ in matcher.match(versions)}
        assert datelined <= found, query
        assert {k.split(".")[0] for k in datelined} <= _search(
            backend, Standing("p", parse(query)), frozenset()
        )
    # Turkish capitals typed with a dotless I find the dotted İ in every case.
    matcher = Matcher(analyzers.analyze, [Standing("p", parse("place:ISTANBUL"))])
    found = {versions[i].key for i, _ in matcher.match(versions)}
    assert {v.key for v in versions if v.place.split("\n")[0] in ("Istanbul", "İstanbul")} == found
