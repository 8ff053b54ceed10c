"""The SQLite ledger: duplicates, stale versions, version bumps, receipts, re-publish selection, durability."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wirewatch_common.story import Receipt, RenditionStatus
from wirewatch_ingest.ledger import Ledger, Outcome, content_hash

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # make_story's creation time


@pytest.fixture
def ledger(tmp_path: Path):
    db = Ledger(tmp_path / "ledger.sqlite3")
    try:
        yield db
    finally:
        db.close()


def receipt(story_id: str, version: int, **kw) -> Receipt:
    return Receipt(story_id=story_id, version=version, language="en", indexed_at=T0, backend="tantivy", **kw)


def test_identical_redelivery_is_a_duplicate_even_with_another_received_time(ledger, make_story) -> None:
    story = make_story(received=T0)
    again = make_story(received=T0 + timedelta(hours=1))
    assert content_hash(story) == content_hash(again)
    (first,) = ledger.admit([story], T0)
    (second,) = ledger.admit([again], T0)
    assert (first.outcome, second.outcome) == (Outcome.ACCEPTED, Outcome.DUPLICATE)
    assert ledger.get(story.id) == [(1, False)]


def test_changed_text_gets_a_higher_version(ledger, make_story) -> None:
    ledger.admit([make_story()], T0)
    (corrected,) = ledger.admit(
        [make_story(body=["Dockworkers walked out on Wednesday."], versioncreated=T0 + timedelta(minutes=5))],
        T0,
    )
    assert corrected.outcome is Outcome.ACCEPTED and corrected.story.version == 2
    (newsml,) = ledger.admit(
        [make_story(headline="New", version=7, versioncreated=T0 + timedelta(hours=1))], T0
    )
    assert newsml.story.version == 7  # a source's own higher version is kept
    assert [v for v, _ in ledger.get(corrected.story.id)] == [1, 2, 7]


def test_an_older_version_arriving_late_is_stale(ledger, make_story) -> None:
    ledger.admit([make_story(version=3, versioncreated=datetime(2026, 11, 25, 12, 0, tzinfo=UTC))], T0)
    (late,) = ledger.admit([make_story(version=2, headline="Earlier")], T0)
    assert late.outcome is Outcome.STALE
    assert [v for v, _ in ledger.get(late.story.id)] == [3]


def test_receipts_confirm_that_version_and_older_ones_only(ledger, make_story) -> None:
    ledger.admit([make_story()], T0)
    ledger.admit([make_story(headline="v2", versioncreated=T0 + timedelta(minutes=1))], T0)
    ledger.admit([make_story(headline="v3", versioncreated=T0 + timedelta(minutes=2))], T0)
    rendition = receipt("ww-test-0001", 3, status=RenditionStatus.TRANSLATED)
    assert ledger.mark_receipts([rendition]) == 0  # a rendition's receipt confirms no original
    assert ledger.mark_receipts([receipt("ww-test-0001", 2)]) == 2
    assert ledger.get("ww-test-0001") == [(1, True), (2, True), (3, False)]


def test_with_targets_a_version_is_confirmed_once_every_language_version_is_indexed(tmp_path, make_story):
    ledger = Ledger(tmp_path / "ledger.sqlite3", expect=("ar", "tr"))
    try:
        story = make_story()  # English: renditions in ar and tr are expected
        ledger.admit([story], T0)
        ledger.delivered([story], T0)
        grace = timedelta(minutes=5)
        later = T0 + timedelta(hours=1)
        assert ledger.mark_receipts([receipt(story.id, 1)]) == 0, "the original alone confirms nothing"
        ar = Receipt(
            story_id=story.id, version=1, language="ar", indexed_at=T0, backend="tantivy",
            status=RenditionStatus.TRANSLATED,
        )  # fmt: skip
        assert ledger.mark_receipts([ar]) == 0
        # The Turkish rendition was lost with the broker: the story is re-published.
        assert [s.id for s in ledger.unconfirmed(later, grace)] == [story.id]
        tr = ar.model_copy(update={"language": "tr", "status": RenditionStatus.UNAVAILABLE})
        assert ledger.mark_receipts([tr]) == 1, "an unavailable rendition is indexed too"
        assert ledger.unconfirmed(later, grace) == []
        assert ledger.get(story.id) == [(1, True)]
        # An original in a target language expects only the other target.
        turkish = make_story(id="ww-test-0002", language="tr")
        ledger.admit([turkish], T0)
        ledger.mark_receipts([receipt(turkish.id, 1), ar.model_copy(update={"story_id": turkish.id})])
        assert ledger.get(turkish.id) == [(1, True)]
    finally:
        ledger.close()


def test_with_alerts_a_version_waits_for_the_alerts_service_to_match_every_language(tmp_path, make_story):
    ledger = Ledger(tmp_path / "ledger.sqlite3", expect=("ar",), alerts=True)
    try:
        story = make_story()
        ledger.admit([story], T0)
        ar = Receipt(
            story_id=story.id, version=1, language="ar", indexed_at=T0, backend="tantivy",
            status=RenditionStatus.TRANSLATED,
        )  # fmt: skip
        assert ledger.mark_receipts([receipt(story.id, 1), ar]) == 0, "indexed, but not yet matched"
        matched_en = receipt(story.id, 1, service="alerts")
        assert ledger.mark_receipts([matched_en]) == 0, "the Arabic version is not matched yet"
        later = T0 + timedelta(hours=1)
        assert [s.id for s in ledger.unconfirmed(later, timedelta(minutes=5))] == [story.id]
        partial = ar.model_copy(update={"service": "alerts", "status": RenditionStatus.PARTIAL})
        assert ledger.mark_receipts([partial]) == 0, "a partial rendition (headline first) confirms nothing"
        assert ledger.mark_receipts([ar.model_copy(update={"service": "alerts"})]) == 1
        assert ledger.get(story.id) == [(1, True)]
    finally:
        ledger.close()


def test_unconfirmed_waits_for_the_grace_period(ledger, make_story) -> None:
    story = make_story()
    ledger.admit([story], T0)
    ledger.delivered([story], T0)
    grace = timedelta(minutes=5)
    assert ledger.unconfirmed(T0 + timedelta(minutes=4), grace) == []
    assert [s.id for s in ledger.unconfirmed(T0 + timedelta(minutes=6), grace)] == [story.id]
    ledger.mark_receipts([receipt(story.id, 1)])
    assert ledger.unconfirmed(T0 + timedelta(hours=1), grace) == []


def test_forget_drops_only_never_delivered_versions(ledger, make_story) -> None:
    story = make_story()
    ledger.admit([story], T0)
    ledger.forget([story])
    assert ledger.get(story.id) == []
    ledger.admit([story], T0)
    ledger.delivered([story], T0)
    ledger.forget([story])
    assert ledger.get(story.id) == [(1, False)]


def test_the_ledger_survives_a_reopen(tmp_path: Path, make_story) -> None:
    path = tmp_path / "ledger.sqlite3"
    first = Ledger(path)
    story = make_story()
    first.admit([story], T0)
    first.close()
    again = Ledger(path)
    try:
        assert [s.id for s in again.unconfirmed(T0 + timedelta(days=1), timedelta(0))] == [story.id]
        assert again.unconfirmed(T0 + timedelta(days=1), timedelta(0))[0] == story
    finally:
        again.close()


def _corpus_story(corpus: Path, name: str):
    from wirewatch_ingest.normalize import Limits
    from wirewatch_ingest.sources import parse_document

    return parse_document((corpus / "agency" / name).read_bytes(), None, received=T0, limits=Limits())[1][0]


def test_corpus_versions_of_one_item_are_ordered_by_their_creation_time(ledger, corpus: Path) -> None:
    october = _corpus_story(corpus, "stt_newsml_test.xml")  # version 4, created 2017-10-18
    december = _corpus_story(corpus, "stt_newsml_test_no_hl.xml")  # same guid, version 4, created 2017-12-19
    assert october.id == december.id and october.version == december.version == 4
    (first,) = ledger.admit([october], T0)
    (second,) = ledger.admit([december], T0)
    assert (first.story.version, second.story.version) == (4, 5)  # the later text gets a higher version
    (again,) = ledger.admit([october], T0)
    assert again.outcome is Outcome.DUPLICATE


def test_corpus_item_arriving_after_a_newer_one_is_stale(ledger, corpus: Path) -> None:
    ledger.admit([_corpus_story(corpus, "stt_newsml_test_no_hl.xml")], T0)
    (late,) = ledger.admit([_corpus_story(corpus, "stt_newsml_test.xml")], T0)
    assert late.outcome is Outcome.STALE


def test_corpus_ninjs_twin_with_another_copyright_notice_is_a_new_version(ledger, corpus: Path) -> None:
    (first,) = ledger.admit([_corpus_story(corpus, "ninjs2.json")], T0)
    (twin,) = ledger.admit([_corpus_story(corpus, "ninjs5.json")], T0)  # same guid and text, longer notice
    assert (first.outcome, twin.outcome) == (Outcome.ACCEPTED, Outcome.ACCEPTED)
    assert (first.story.version, twin.story.version) == (4, 5)
    (again,) = ledger.admit([_corpus_story(corpus, "ninjs5.json")], T0)
    assert again.outcome is Outcome.DUPLICATE


def test_prune_drops_confirmed_old_versions_but_keeps_the_newest_and_the_unconfirmed(
    ledger, make_story
) -> None:
    ledger.admit([make_story()], T0)
    ledger.admit([make_story(headline="v2", versioncreated=T0 + timedelta(minutes=1))], T0)
    ledger.admit([make_story(id="ww-other", uri="urn:other")], T0)
    ledger.mark_receipts([receipt("ww-test-0001", 2)])
    assert ledger.prune(T0 + timedelta(days=31)) == 1
    assert ledger.get("ww-test-0001") == [(2, True)]
    assert ledger.get("ww-other") == [(1, False)]  # never confirmed: kept whatever its age
    (late,) = ledger.admit([make_story()], T0)  # the pruned first version, re-delivered
    assert late.outcome is Outcome.STALE


def test_concurrent_admissions_share_one_synced_commit(ledger, make_story) -> None:
    stories = [make_story(id=f"ww-group-{n}", uri=f"urn:group:{n}") for n in range(8)]
    results: dict[int, list] = {}

    def admit(n: int) -> None:
        results[n] = ledger.admit([stories[n]], T0)

    with ledger._lock:  # hold the database: the first caller leads a commit and waits here
        first = threading.Thread(target=admit, args=(0,))
        first.start()
        deadline = time.monotonic() + 10
        while not ledger._committing:
            assert time.monotonic() < deadline, "no commit started"
            time.sleep(0.001)
        others = [threading.Thread(target=admit, args=(n,)) for n in range(1, 8)]
        for thread in others:
            thread.start()
        while len(ledger._queue) < 7:  # the other seven queue for the next commit
            assert time.monotonic() < deadline, f"only {len(ledger._queue)} callers queued"
            time.sleep(0.001)
    for thread in [first, *others]:
        thread.join(timeout=10)
    assert ledger.commits == 2  # the first caller's commit, then one for the seven that queued meanwhile
    assert sorted(results) == list(range(8))
    assert all(r[0].outcome is Outcome.ACCEPTED for r in results.values())
    assert ledger.counts()["versions"] == 8


def test_stories_of_one_commit_see_the_versions_written_before_them(ledger, make_story) -> None:
    original = make_story()
    update = make_story(headline="Updated", versioncreated=T0 + timedelta(minutes=1))
    (a,) = ledger.admit([original, update], T0)[:1]
    assert a.outcome is Outcome.ACCEPTED
    assert ledger.get(original.id) == [(1, False), (2, False)]


def test_admissions_are_synced_in_wal_mode(ledger) -> None:
    assert ledger._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: the WAL is fsynced per commit


def test_an_accepted_story_carries_the_json_the_ledger_stored(ledger, make_story) -> None:
    (admission,) = ledger.admit([make_story()], T0)
    assert admission.value == admission.story.to_json()
    assert ledger.unconfirmed(T0 + timedelta(days=1), timedelta(0)) == [admission.story]


class _At:
    """A broker position, as `Producer.publish_many` returns them."""

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset


def test_each_delivery_records_where_the_broker_stored_the_version(ledger, make_story) -> None:
    first, second = make_story(id="ww-pos-1"), make_story(id="ww-pos-2", uri="urn:test:pos-2")
    ledger.admit([first, second], T0)
    ledger.delivered([first, second], T0, [_At("stories", 2, 40), _At("stories", 0, 7)])
    assert ledger.position(first.id, 1) == ("stories", 2, 40)
    assert ledger.position(second.id, 1) == ("stories", 0, 7)
    later = T0 + timedelta(minutes=10)
    ledger.delivered([first], later, [_At("stories", 1, 3)])  # re-published: the new place wins
    overdue = {v.id: v for v in ledger.overdue(later + timedelta(minutes=10), timedelta(minutes=5))}
    assert (overdue[first.id].partition, overdue[first.id].offset, overdue[first.id].deliveries) == (1, 3, 2)
    assert overdue[first.id].delivered_at == later and overdue[first.id].story() == first
    ledger.delivered([second], later)  # a delivery whose place is unknown forgets the old one
    assert ledger.position(second.id, 1) is None
    with pytest.raises(ValueError, match="1 positions for 2 stories"):
        ledger.delivered([first, second], later, [_At("stories", 0, 1)])


def test_overdue_pages_through_every_unconfirmed_version_once(ledger, make_story) -> None:
    stories = [make_story(id=f"ww-page-{i}", uri=f"urn:test:page-{i}") for i in range(7)]
    ledger.admit(stories, T0)
    ledger.mark_receipts([receipt(stories[3].id, 1)])
    seen: list[str] = []
    after = 0
    while page := ledger.overdue(T0 + timedelta(hours=1), timedelta(0), after=after, limit=3):
        seen += [v.id for v in page]
        after = page[-1].row
    assert seen == [s.id for i, s in enumerate(stories) if i != 3]
    assert ledger.confirmed([(stories[3].id, 1), (stories[4].id, 1)]) == {(stories[3].id, 1)}


def test_a_ledger_from_before_positions_is_migrated_on_open(tmp_path: Path, make_story) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    story = make_story()
    with sqlite3.connect(path) as db:  # the schema as released before positions were recorded
        db.execute(
            "CREATE TABLE versions (id TEXT NOT NULL, version INTEGER NOT NULL, content_hash TEXT NOT NULL,"
            " versioncreated TEXT NOT NULL, language TEXT NOT NULL, story TEXT NOT NULL,"
            " accepted_at TEXT NOT NULL, delivered_at TEXT, deliveries INTEGER NOT NULL DEFAULT 0,"
            " receipt_at TEXT, PRIMARY KEY (id, version))"
        )
        db.execute(
            "INSERT INTO versions VALUES (?, 1, ?, ?, 'en', ?, ?, ?, 1, NULL)",
            (
                story.id,
                content_hash(story),
                T0.isoformat(),
                story.to_json().decode(),
                T0.isoformat(),
                T0.isoformat(),
            ),
        )
    ledger = Ledger(path)
    try:
        (old,) = ledger.overdue(T0 + timedelta(hours=1), timedelta(0))
        assert (old.id, old.deliveries, old.topic, old.partition, old.offset) == (
            story.id,
            1,
            None,
            None,
            None,
        )
        ledger.delivered([story], T0, [_At("stories", 0, 9)])
    finally:
        ledger.close()
    again = Ledger(path)  # opening a migrated ledger again changes nothing
    try:
        assert again.position(story.id, 1) == ("stories", 0, 9)
        assert again.get(story.id) == [(1, False)]
    finally:
        again.close()
