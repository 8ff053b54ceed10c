"""tantivy specifics: one writer, readers that reload after commits, analysis chains, refusals, restarts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import tantivy

from wirewatch_common.query import parse
from wirewatch_index.backends.base import BackendUnavailable, DocumentRejected
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.backends.tantivy_schema import Analyzers, analyzer
from wirewatch_index.search import SearchRequest
from wirewatch_testkit.stories import CEASEFIRE, CEASEFIRE_TR, STRIKE, original

pytestmark = pytest.mark.integration


def test_a_separate_reader_sees_commits_without_restarting(tmp_path):
    writer = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    reader = TantivyBackend(tmp_path)  # what an API-only process opens
    try:
        writer.write([STRIKE])
        assert [h.story_id for h in reader.search(SearchRequest(query=parse("grain"))).hits] == [STRIKE.id]
        writer.write([CEASEFIRE])
        assert [h.story_id for h in reader.search(SearchRequest(query=parse("idlib"))).hits] == [CEASEFIRE.id]
        assert reader.get_story(CEASEFIRE.id) is not None
    finally:
        writer.close()
        reader.close()


@pytest.mark.parametrize(
    ("family", "text", "tokens"),
    [
        ("en", "Ceasefires resumed", ["ceasefir", "resum"]),
        ("tr", "İSTANBUL'DA ateşkesler", ["istanbul", "ateşkes"]),
        ("ar", "والهُدْنَةُ", ["هدن"]),
        ("std", "Über ÇA", ["über", "ça"]),
    ],
)
def test_analysis_chains(family, text, tokens):
    # What the index writes into a field (prepared text), analysed by the tokenizer it registers.
    assert analyzer(family).analyze(Analyzers().prepare(text, family)) == tokens


# -- what the richer analysis finds, and how it is shown ---------------------------------------------

IDLIB_AR = original(
    "ww-idlib-ar",
    "مفاوضات الهدنة تتعثر",
    ["قال المفاوضون إن المحادثات بدمشق توقفت."],
    language="ar",
    dateline={"text": "إدلب (رويترز):", "places": [{"name": "إدلب", "code": "SY"}]},
)


def _hits(backend: TantivyBackend, q: str, *langs: str) -> list[tuple[str, str, str, str]]:
    page = backend.search(SearchRequest(query=parse(q), languages=langs))
    return [(h.story_id, h.language, h.headline_html, h.snippet) for h in page.hits]


def test_a_folded_or_stemmed_match_highlights_the_word_as_the_story_writes_it(tmp_path):
    backend = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    try:
        backend.write([CEASEFIRE, CEASEFIRE_TR, IDLIB_AR])
        ((_, lang, headline, snippet),) = _hits(backend, "IDLIB", "tr")
        assert lang == "tr" and headline.startswith("<mark>İdlib&#x27;de</mark> ")
        assert "<mark>İdlib&#x27;deki</mark>" in snippet
        ((story, _, headline, snippet),) = _hits(backend, "مفاوض")
        assert story == IDLIB_AR.id and headline == "<mark>مفاوضات</mark> الهدنة تتعثر"
        assert "<mark>المفاوضون</mark>" in snippet
        assert "<mark>بدمشق</mark>" in _hits(backend, "دمشق")[0][3]
    finally:
        backend.close()


def test_dateline_places_are_searchable_text_scoped_by_place_and_still_a_filter(tmp_path):
    backend = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    try:
        backend.write([CEASEFIRE, IDLIB_AR, STRIKE])
        # The Arabic story names إدلب only in its dateline, which ingest took off the body.
        for q in ("إدلب", "ادلب", "place:إدلب", "place:ادل*", '"إدلب"'):
            assert [h[0] for h in _hits(backend, q)] == [IDLIB_AR.id], q
        assert _hits(backend, "headline:إدلب") == [] and _hits(backend, "place:مفاوضات") == []
        assert [h[0] for h in _hits(backend, "place:idlib")] == [CEASEFIRE.id]
        assert _hits(backend, "sy") == [], "the country code is a filter value, not text"
        page = backend.search(SearchRequest(query=parse(""), places=("SY",)))
        assert {h.story_id for h in page.hits} == {CEASEFIRE.id, IDLIB_AR.id}
        assert backend.path.name == "tantivy-v2", "a new schema builds a new index"
    finally:
        backend.close()


# -- a document's own problem versus an outage ------------------------------------------------------


def test_a_date_tantivy_cannot_index_rejects_that_version_and_writes_nothing_of_the_batch(tmp_path):
    backend = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    far = original(
        "ww-far", "Centuries ahead", ["A post dated 2900."], versioncreated=datetime(2900, 1, 1, tzinfo=UTC)
    )
    try:
        with pytest.raises(DocumentRejected) as caught:
            backend.write([CEASEFIRE, far, STRIKE])
        (refusal,) = caught.value.refusals
        assert (refusal.story_id, refusal.language, refusal.version) == ("ww-far", "en", 1)
        assert "versioncreated 2900-01-01" in refusal.reason and "out of range" in refusal.reason
        assert "ww-far (en, v1)" in str(caught.value)
        # All or nothing: the batch's other versions were not written either (the consumer splits it).
        assert backend.search(SearchRequest()).hits == []
        assert backend.get_story(CEASEFIRE.id, embargoed=True) is None
        backend.write([CEASEFIRE, STRIKE])  # the writer is still usable: no outage came of it
        assert {h.story_id for h in backend.search(SearchRequest()).hits} == {CEASEFIRE.id, STRIKE.id}
    finally:
        backend.close()


def test_a_version_beyond_64_bits_is_rejected_and_a_far_but_indexable_date_is_kept(tmp_path):
    backend = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    huge = original("ww-huge", "Version overflow", ["x"], version=2**64)
    late = original(
        "ww-2250", "Dated 2250", ["Within tantivy's range."], versioncreated=datetime(2250, 1, 1, tzinfo=UTC)
    )
    try:
        with pytest.raises(
            DocumentRejected, match=r"ww-huge \(en, v18446744073709551616\): OverflowError: version"
        ):
            backend.write([huge])
        backend.write([late])
        assert [h.story_id for h in backend.search(SearchRequest(query=parse("2250"))).hits] == ["ww-2250"]
    finally:
        backend.close()


def test_an_unwritable_index_directory_is_an_outage_not_the_documents_fault(tmp_path):
    backend = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    backend.write([STRIKE])
    # As root, permissions stop nothing: put a plain file where the directory was.
    aside = backend.path.with_name(backend.path.name + ".aside")
    backend.path.rename(aside)
    backend.path.write_text("not a directory")
    try:
        with pytest.raises(BackendUnavailable, match="tantivy write failed"):
            backend.write([CEASEFIRE])
    finally:
        backend.path.unlink()
        aside.rename(backend.path)
    try:
        backend.write([CEASEFIRE])  # the same version succeeds once the directory is back
        assert backend.get_story(CEASEFIRE.id) is not None
    finally:
        backend.close()


def test_only_current_versions_carry_the_searchable_term_the_filters_rely_on(tmp_path):
    backend = TantivyBackend(tmp_path)
    try:
        v1 = original("ww-port", "Port strike", ["Dockers walk out at the port."])
        v2 = v1.model_copy(update={"version": 2, "headline": "Port strike ends"})
        gone = original("ww-gone", "Port closed", ["The port shut."])
        backend.write([v1, gone])
        backend.write([v2])
        assert backend.delete(gone.id) == 1
        searcher = backend._index.searcher()
        live = searcher.search(
            tantivy.Query.term_query(backend.schema, "searchable", "1"), limit=10, count=False
        ).hits
        assert [searcher.doc(addr)["kind"] for _, addr in live] == [["current"]]
        page = backend.search(SearchRequest(query=parse("port"), facets=True))
        assert page.total == 1 and [(h.story_id, h.version) for h in page.hits] == [(v1.id, 2)]
    finally:
        backend.close()


# -- embargo across a restart -----------------------------------------------------------------------


def test_an_embargo_survives_a_restart_and_lifts_without_a_rewrite(tmp_path):
    lifts = datetime.now(tz=UTC) + timedelta(seconds=2)
    story = original("ww-rates", "Central bank cuts rates", ["Rates fall by half a point."], embargoed=lifts)
    writer = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    writer.write([story, STRIKE])
    writer.close()
    reopened = TantivyBackend(tmp_path)  # a restarted process on the same directory
    try:
        assert datetime.now(tz=UTC) < lifts, "the write took longer than the embargo: raise the margin"
        assert [h.story_id for h in reopened.search(SearchRequest()).hits] == [STRIKE.id]
        held = reopened.search(SearchRequest(facets=True))
        assert held.total == 1 and held.facets is not None
        assert sum(b.count for b in held.facets.day) == sum(b.count for b in held.facets.language) == 1
        assert reopened.get_story(story.id) is None
        assert reopened.get_story(story.id, embargoed=True) is not None  # indexed ahead of time
        time.sleep(max(0.0, (lifts - datetime.now(tz=UTC)).total_seconds()) + 0.05)
        assert [h.story_id for h in reopened.search(SearchRequest(query=parse("rates"))).hits] == [story.id]
        lifted = reopened.search(SearchRequest(facets=True))
        assert lifted.total == 2 and lifted.facets is not None
        assert sum(b.count for b in lifted.facets.language) == 2
        record = reopened.get_story(story.id)
        assert record is not None and [v.version for v in record.versions] == [1]
    finally:
        reopened.close()


def test_newest_first_pages_go_past_ten_thousand_stories_without_gaps_or_repeats(tmp_path):
    """A desk paging a big listing newest-first reaches the end (the cursor bounds the query)."""
    backend = TantivyBackend(tmp_path)
    try:
        start = datetime(2026, 11, 1, tzinfo=UTC)
        count = 10_050
        backend.write(
            [
                original(
                    f"ww-deep-{i:05d}",
                    f"Notice {i}",
                    ["Bins move."],
                    firstcreated=start,
                    versioncreated=start + timedelta(minutes=i),
                )
                for i in range(count)
            ]
        )
        seen: list[str] = []
        after = None
        while True:
            page = backend.search(
                SearchRequest(query=parse(""), languages=("en",), sort="newest", size=100, after=after)
            )
            seen += [h.story_id for h in page.hits]
            after = page.next_after
            if after is None:
                break
        assert len(seen) == len(set(seen)) == count
        assert seen[0] == f"ww-deep-{count - 1:05d}" and seen[-1] == "ww-deep-00000"
    finally:
        backend.close()
