"""The backend contract: every SearchBackend must pass these, tantivy always, Elasticsearch when reachable."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from wirewatch_common.query import parse
from wirewatch_common.story import Quality, QualityFlag, RenditionStatus
from wirewatch_index.backends.base import DocumentRejected, SearchBackend
from wirewatch_index.search import SearchPage, SearchRequest
from wirewatch_testkit.stories import (
    CEASEFIRE,
    CEASEFIRE_AR,
    CEASEFIRE_TR,
    DAY,
    DERBY,
    SAMPLES,
    SECIM,
    STRIKE,
    original,
    rendition,
)

pytestmark = pytest.mark.integration


def search(backend: SearchBackend, q: str = "", **options) -> SearchPage:
    return backend.search(SearchRequest(query=parse(q), **options))


def ids(page: SearchPage) -> list[str]:
    return [h.story_id for h in page.hits]


def test_english_stemming(loaded):
    assert set(ids(search(loaded, "ceasefires"))) == {"ww-ceasefire", "ww-derby"}
    hit = next(h for h in search(loaded, "ceasefires").hits if h.story_id == "ww-ceasefire")
    assert hit.language == "en"
    assert "<mark>" in hit.headline_html + hit.snippet


def test_turkish_casing_and_apostrophe_suffixes(loaded):
    assert ids(search(loaded, "istanbul")) == ["ww-secim"]  # İSTANBUL'DA in the headline
    assert ids(search(loaded, "Isparta")) == ["ww-secim"]
    assert ids(search(loaded, "ığdır")) == ["ww-secim"]  # Iğdır'da: dotless ı, suffix after apostrophe
    page = (
        search(loaded, "İdlib'deki", lang=("tr",))
        if False
        else search(loaded, "İdlib'deki", languages=("tr",))
    )
    assert ids(page) == ["ww-ceasefire"] and page.hits[0].language == "tr"


def test_arabic_normalisation_with_and_without_diacritics_and_article(loaded):
    for q in ("الهدنة", "هدنة", "الهُدْنَةُ", "هدنه", "اطلاق", "إطلاق"):
        page = search(loaded, q)
        assert ids(page) == ["ww-ceasefire"], q
        assert page.hits[0].language == "ar", q


def test_query_in_another_language_finds_the_english_story_through_its_rendition(loaded):
    page = search(loaded, "ateşkesler")
    assert ids(page) == ["ww-ceasefire"]
    hit = page.hits[0]
    assert hit.language == "tr" and hit.original_language == "en"
    assert hit.languages == ["ar", "en", "tr"]
    assert "<mark>ateşkes</mark>" in hit.headline_html + hit.snippet
    assert search(loaded, "ateşkes", languages=("en",)).hits == []


def test_phrase_or_exclusion_prefix_and_field(loaded):
    assert ids(search(loaded, '"talks resume"')) == ["ww-ceasefire"]  # the derby has "resume" elsewhere
    assert set(ids(search(loaded, "grain OR derby"))) == {"ww-strike", "ww-derby"}
    assert ids(search(loaded, "ceasefire -football")) == ["ww-ceasefire"]
    assert set(ids(search(loaded, "negotiat*"))) == {"ww-strike", "ww-ceasefire"}
    assert ids(search(loaded, "headline:talks")) == ["ww-derby", "ww-ceasefire"] or set(
        ids(search(loaded, "headline:talks"))
    ) == {"ww-derby", "ww-ceasefire"}
    assert ids(search(loaded, "headline:dockworkers")) == []
    assert ids(search(loaded, "body:dockworkers")) == ["ww-strike"]


def test_filters_provider_language_place_and_dates(loaded):
    assert set(ids(search(loaded, providers=("AP",)))) == {"ww-strike", "ww-derby"}
    assert ids(search(loaded, places=("sy",))) == ["ww-ceasefire"]
    assert ids(search(loaded, places=("Odesa",))) == ["ww-strike"]
    assert set(ids(search(loaded, languages=("tr",)))) == {"ww-ceasefire", "ww-secim"}
    late = search(loaded, date_from=DAY + timedelta(hours=4))
    assert set(ids(late)) == {"ww-strike", "ww-secim"}
    early = search(loaded, date_to=DAY + timedelta(hours=4))
    assert set(ids(early)) == {"ww-ceasefire", "ww-derby"}


def test_sort_newest_and_relevance(loaded):
    assert ids(search(loaded, sort="newest")) == ["ww-strike", "ww-secim", "ww-derby", "ww-ceasefire"]
    page = search(loaded, "ceasefire", sort="relevance")
    scores = [h.score for h in page.hits]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)


def test_facets_count_stories_not_renditions(loaded):
    facets = search(loaded, facets=True).facets
    assert facets is not None
    assert {(b.value, b.count) for b in facets.provider} == {("AP", 2), ("Reuters", 1), ("Anadolu", 1)}
    assert {(b.value, b.count) for b in facets.language} == {("en", 3), ("tr", 2), ("ar", 1)}
    assert [(b.value, b.count) for b in facets.day] == [("2026-11-24", 3), ("2026-11-25", 1)]
    assert search(loaded, "ceasefire", facets=True).facets.provider[0].value in ("AP", "Reuters")


@pytest.mark.parametrize("sort", ["newest", "relevance"])
def test_cursor_paging_has_no_gaps_or_repeats(backend, sort):
    stories = []
    for i in range(23):
        s = original(
            f"ww-page-{i:02d}",
            f"Flood warning {i} for the river valley",
            ["Rivers rose overnight." if i % 2 else "Rivers rose again overnight, flood defences held."],
            versioncreated=DAY + timedelta(minutes=i % 5),  # ties on purpose
        )
        stories += [s, rendition(s, "tr", f"Sel uyarısı {i}", ["Nehirler gece yükseldi."])]
    backend.write(stories)
    seen: list[str] = []
    after = None
    for _ in range(20):
        page = search(backend, "flood OR sel", sort=sort, size=5, after=after)
        assert len(page.hits) <= 5
        seen += ids(page)
        after = page.next_after
        if after is None:
            break
    assert len(seen) == len(set(seen)) == 23


def test_newer_version_replaces_older_and_older_never_overwrites(backend):
    v1 = STRIKE
    v2 = original(
        STRIKE.id,
        "Port strike ends, grain ships sail",
        ["The union accepted the offer."],
        version=2,
        provider={"name": "AP"},
        versioncreated=DAY + timedelta(days=1, hours=2),
    )
    backend.write([v1])
    result = backend.write([v2])
    assert result.written == [v2]
    assert ids(search(backend, "sail")) == [STRIKE.id]
    assert ids(search(backend, "dockworkers")) == []
    late = backend.write([v1])  # a redelivered older version arrives after the newer one
    assert late.written == [] and late.stale == [v1]
    assert ids(search(backend, "sail")) == [STRIKE.id]
    assert search(backend, "sail").hits[0].version == 2
    record = backend.get_story(STRIKE.id)
    assert record is not None
    assert [(v.language, v.version) for v in record.versions] == [("en", 1), ("en", 2)]
    assert [s.version for s in record.renditions] == [2]


def test_batch_with_two_versions_keeps_the_newest(backend):
    v2 = STRIKE.model_copy(update={"version": 2, "headline": "Strike over"})
    backend.write([v2, STRIKE])
    assert search(backend, "strike").hits[0].version == 2


def test_redelivery_leaves_one_hit_and_story_has_renditions_side_by_side(loaded):
    loaded.write(SAMPLES)
    loaded.write(SAMPLES[:3])
    page = search(loaded, "Idlib")
    assert ids(page) == ["ww-ceasefire"]
    assert page.total == 1
    record = loaded.get_story("ww-ceasefire")
    assert record is not None and record.original_language == "en"
    assert [s.language for s in record.renditions] == ["en", "ar", "tr"]
    assert record.renditions[1].translation is not None
    assert {(v.language, v.version) for v in record.versions} == {("en", 1), ("ar", 1), ("tr", 1)}
    assert loaded.get_story("ww-missing") is None


def test_failed_rendition_is_kept_but_not_searchable(backend):
    failed = rendition(DERBY, "ar", "", [], status="failed")
    backend.write([DERBY, failed])
    assert search(backend, "derby").hits[0].languages == ["en"]
    record = backend.get_story(DERBY.id)
    assert record is not None and [s.language for s in record.renditions] == ["en", "ar"]


def test_delete_removes_every_language_version(loaded):
    assert loaded.delete(CEASEFIRE.id) == 3
    assert ids(search(loaded, "Idlib")) == []
    assert ids(search(loaded, "istanbul")) == [SECIM.id]


def test_a_withdrawn_story_stays_out_through_a_replay_and_late_renditions_but_a_new_version_returns(loaded):
    assert loaded.delete(CEASEFIRE.id) == 3
    # Reset to earliest: every version comes again, and a rendition that was still being made arrives.
    late = CEASEFIRE_TR.model_copy(update={"language": "tr-CY"})
    result = loaded.write([CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, late])
    assert result.written == [] and len(result.stale) == 4
    assert ids(search(loaded, "Idlib")) == []
    record = loaded.get_story(CEASEFIRE.id)
    assert record is not None and record.renditions == [] and record.versions, "history stays"
    assert loaded.delete(CEASEFIRE.id) == 0, "nothing left to withdraw"
    update = CEASEFIRE.model_copy(update={"version": CEASEFIRE.version + 1})
    assert loaded.write([update]).written == [update]  # the agency sent new copy: it is news again
    assert [(h.story_id, h.version) for h in search(loaded, "Idlib").hits] == [(CEASEFIRE.id, 2)]


def _flagged(story, **translation):
    t = story.translation.model_copy(update=translation)
    return story.model_copy(update={"translation": t})


def test_the_quality_filter_leaves_out_or_finds_flagged_renditions_and_hits_carry_the_marks(backend):
    doubtful = Quality(confidence=0.21, flags=[QualityFlag.COPY_THROUGH], sentences=3, flagged_sentences=2)
    pivoted = Quality(confidence=0.8, flags=[QualityFlag.PIVOT], sentences=3)
    arabic = _flagged(CEASEFIRE_AR, quality=doubtful)
    turkish = _flagged(CEASEFIRE_TR, quality=pivoted, test_package=True)
    backend.write([CEASEFIRE, arabic, turkish, STRIKE])
    assert ids(search(backend, "الهدنة")) == [CEASEFIRE.id]
    assert ids(search(backend, "الهدنة", quality="good")) == [], "the only match is a doubtful rendition"
    (low,) = search(backend, "الهدنة", quality="low").hits
    assert low.language == "ar" and low.quality == doubtful and not low.test_package
    (tr,) = search(backend, "ateşkes", quality="good").hits
    assert tr.quality == pivoted and tr.test_package, "a pivot alone is not low quality; the test mark shows"
    assert set(ids(search(backend, quality="good"))) == {CEASEFIRE.id, STRIKE.id}, "originals are never low"
    assert [(h.story_id, h.language) for h in search(backend, quality="low").hits] == [(CEASEFIRE.id, "ar")]


def test_hostile_query_text_is_only_text(loaded):
    for q in ['headline:"<script>"', "title:(a OR", "*:*", "body:", '"', "-", "a AND b NOT c", "\\"]:
        page = search(loaded, q)
        for hit in page.hits:
            assert "<script>" not in hit.snippet + hit.headline_html
    assert len(search(loaded, "*:*").hits) == 4  # nothing searchable left: a browse, not an error


@pytest.mark.parametrize("sort", ["newest", "relevance"])
def test_with_nothing_to_match_each_story_shows_in_its_own_language(backend, sort):
    # A rendition is stamped when it was translated, after its original, so it sorts first.
    later = CEASEFIRE.versioncreated + timedelta(minutes=5)
    renditions = [r.model_copy(update={"versioncreated": later}) for r in (CEASEFIRE_TR, CEASEFIRE_AR)]
    backend.write([*renditions, STRIKE, CEASEFIRE])
    hits = search(backend, sort=sort).hits
    assert {h.story_id: h.languages for h in hits}["ww-ceasefire"] == ["ar", "en", "tr"]
    assert [(h.story_id, h.language) for h in hits] == [(h.story_id, h.original_language) for h in hits]
    # A language filter still shows the rendition it asked for.
    arabic = search(backend, sort=sort, languages=("ar",)).hits
    assert [(h.story_id, h.language) for h in arabic] == [("ww-ceasefire", "ar")]


def test_an_embargoed_story_is_hidden_everywhere_until_its_moment_then_shown_without_a_rewrite(backend):
    lifts = datetime.now(tz=UTC) + timedelta(seconds=3)
    story = original(
        "ww-rates",
        "Central bank cuts rates",
        ["Rates fall by half a point."],
        provider={"name": "Bank wire"},
        embargoed=lifts,
    )
    turkish = rendition(story, "tr", "Merkez bankası faizleri indirdi", ["Faizler yarım puan düştü."])
    assert turkish.embargoed == lifts  # a rendition carries its original's embargo
    backend.write([story, turkish, STRIKE])
    written = datetime.now(tz=UTC)
    assert written < lifts, "the write took longer than the embargo: raise the margin"

    assert ids(search(backend, "rates OR faizleri")) == []
    browse = search(backend, facets=True)
    assert ids(browse) == [STRIKE.id] and browse.total == 1
    assert browse.facets is not None
    assert [b.value for b in browse.facets.provider] == ["AP"]
    assert {b.value for b in browse.facets.language} == {"en"}
    assert backend.get_story(story.id) is None
    held = backend.get_story(story.id, embargoed=True)  # indexed ahead, for internal reads
    assert held is not None and [s.language for s in held.renditions] == ["en", "tr"]
    # What the stream asks each poll: nothing became visible since the write.
    assert ids(search(backend, visible_after=written, sort="newest")) == []
    # The boundary: visible from the embargo's moment on, not a microsecond before.
    assert ids(search(backend, "rates", now=lifts - timedelta(microseconds=1))) == []
    assert ids(search(backend, "rates", now=lifts)) == [story.id]

    time.sleep(max(0.0, (lifts - datetime.now(tz=UTC)).total_seconds()) + 0.05)
    page = search(backend, "faizleri", facets=True)
    assert ids(page) == [story.id] and page.hits[0].languages == ["en", "tr"]
    assert page.facets is not None and [b.value for b in page.facets.provider] == ["Bank wire"]
    assert search(backend, facets=True).total == 2
    # Indexed before `written`, yet new to the stream now that its embargo has lifted.
    assert ids(search(backend, visible_after=written, sort="newest")) == [story.id]
    record = backend.get_story(story.id)
    assert record is not None and [s.language for s in record.renditions] == ["en", "tr"]
    assert {(v.language, v.version) for v in record.versions} == {("en", 1), ("tr", 1)}


def test_an_embargo_already_past_hides_nothing_and_delete_still_reaches_an_embargoed_story(backend):
    past = original("ww-past", "Old embargo", ["Long published."], embargoed=DAY)
    held = original(
        "ww-held", "Held embargo", ["Not yet."], embargoed=datetime.now(tz=UTC) + timedelta(hours=1)
    )
    backend.write([past, held])
    assert ids(search(backend, "embargo")) == [past.id]
    assert backend.delete(held.id) == 1  # a withdrawal must not wait for the embargo
    record = backend.get_story(held.id, embargoed=True)
    assert record is not None and record.renditions == [] and len(record.versions) == 1  # history stays


def test_elasticsearch_refuses_a_version_over_its_limits_as_that_documents_problem(elasticsearch_backend):
    # A valid BCP 47 tag of ~33 KB: over the keyword term limit (32,766 bytes) of `language`, and
    # over the 512-byte `_id` limit; Elasticsearch refuses it, per item or for the whole bulk.
    tag = "en-" + "-".join(["abcdefgh"] * 3700)
    immense = original("ww-immense", "Immense language tag", ["x"], language=tag)
    with pytest.raises(DocumentRejected) as caught:
        elasticsearch_backend.write([immense, STRIKE])
    assert "ww-immense" in {r.story_id for r in caught.value.refusals}
    elasticsearch_backend.write([STRIKE])  # written alone, as the consumer isolates the refused one
    assert ids(search(elasticsearch_backend, "dockworkers")) == [STRIKE.id]
    assert elasticsearch_backend.get_story("ww-immense", embargoed=True) is None


def test_newest_first_paging_lists_a_story_once_while_its_versions_sort_apart(backend):
    """An original at v2 sorts newer than its v1 rendition: the cursor bound must not list it twice."""
    stories = []
    for i in range(12):
        s = original(
            f"ww-split-{i:02d}",
            f"Harbour notice {i}",
            ["Berths reopen."],
            versioncreated=DAY + timedelta(hours=i),
        )
        stories += [s, rendition(s, "tr", f"Liman duyurusu {i}", ["Rıhtımlar açılıyor."])]
    moved = original(
        "ww-split-05",
        "Harbour notice 5, corrected",
        ["Berths reopen at noon."],
        version=2,
        versioncreated=DAY + timedelta(hours=30),
    )
    backend.write([*stories, moved])  # its tr rendition stays at v1, eleven hours older
    seen: list[str] = []
    after = None
    for _ in range(30):
        page = search(backend, "", sort="newest", size=2, after=after)
        seen += ids(page)
        after = page.next_after
        if after is None:
            break
    assert len(seen) == len(set(seen)) == 12
    assert seen[0] == "ww-split-05", "listed once, by its newest version"


PARTIAL_TR = rendition(
    CEASEFIRE, "tr", "İdlib'de ateşkes sürüyor, görüşmeler yeniden başlıyor", [], "partial"
)
"""The Turkish headline alone, published while the paragraphs are translated."""


def _turkish(backend: SearchBackend):
    record = backend.get_story(CEASEFIRE.id)
    assert record is not None
    (current,) = [r for r in record.renditions if r.language == "tr"]
    (history,) = [v for v in record.versions if v.language == "tr"]
    return current, history


def test_a_partial_rendition_is_searchable_with_its_mark_until_the_full_one_replaces_it(backend):
    backend.write([CEASEFIRE, PARTIAL_TR])
    (hit,) = search(backend, "ateşkes", languages=("tr",)).hits
    assert hit.partial and hit.language == "tr", "the headline is searchable at once, marked partial"
    assert not search(backend, "Cenevre").hits, "its paragraphs are not there yet"
    assert not search(backend, "ceasefire").hits[0].partial, "an original is never partial"
    result = backend.write([CEASEFIRE_TR])
    assert result.written == [CEASEFIRE_TR] and result.stale == []
    (hit,) = search(backend, "Cenevre").hits
    assert not hit.partial and hit.version == 1
    current, history = _turkish(backend)
    assert current == CEASEFIRE_TR and history.status is RenditionStatus.TRANSLATED


def test_a_partial_rendition_after_the_full_one_of_its_version_is_stale_and_changes_nothing(backend):
    backend.write([CEASEFIRE, CEASEFIRE_TR])
    result = backend.write([PARTIAL_TR])  # a batch redelivered after its full renditions went out
    assert result.written == [] and result.stale == [PARTIAL_TR]
    (hit,) = search(backend, "Cenevre").hits
    assert not hit.partial
    current, history = _turkish(backend)
    assert current == CEASEFIRE_TR and history.status is RenditionStatus.TRANSLATED
    # In one batch the full one wins on a tie whatever the order; a partial of a newer version is news.
    assert backend.write([CEASEFIRE_TR, PARTIAL_TR]).written == [CEASEFIRE_TR]
    assert backend.write([PARTIAL_TR, CEASEFIRE_TR]).written == [CEASEFIRE_TR]
    v2 = CEASEFIRE.model_copy(update={"version": 2})
    newer = rendition(v2, "tr", "İdlib'de ateşkes bozuldu", [], "partial")
    assert backend.write([v2, newer]).written == [v2, newer]
    (hit,) = search(backend, "bozuldu").hits
    assert hit.partial and hit.version == 2
