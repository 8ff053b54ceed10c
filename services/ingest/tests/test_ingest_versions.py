"""The duplicate, stale and new-version rule on its own: no ledger, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wirewatch_ingest.versions import Decision, Outcome, Version, content_hash, decide

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def v(version: int, minutes: int, digest: str) -> Version:
    return Version(version, T0 + timedelta(minutes=minutes), digest)


def test_the_first_version_of_a_story_is_accepted_with_its_own_number():
    assert decide(v(1, 0, "a"), []) == Decision(Outcome.ACCEPTED, 1)
    assert decide(v(4, 0, "a"), []) == Decision(Outcome.ACCEPTED, 4), "a source's own numbering is kept"


def test_the_same_content_is_a_duplicate_whatever_its_number_or_time():
    held = [v(1, 0, "a"), v(2, 10, "b")]
    assert decide(v(1, 0, "a"), held).outcome is Outcome.DUPLICATE
    assert decide(v(9, 60, "a"), held).outcome is Outcome.DUPLICATE, "an old text sent again later"
    assert decide(v(2, 10, "b"), held) == Decision(Outcome.DUPLICATE, 2)


def test_a_duplicate_wins_over_stale():
    # Identical to an older held version and created before the newest: still only a duplicate.
    assert decide(v(1, 0, "a"), [v(1, 0, "a"), v(2, 30, "b")]).outcome is Outcome.DUPLICATE


def test_changed_content_gets_the_next_number_above_the_newest_held():
    held = [v(1, 0, "a"), v(2, 5, "b")]
    assert decide(v(1, 10, "c"), held) == Decision(Outcome.ACCEPTED, 3)


def test_a_higher_number_from_the_source_is_kept():
    assert decide(v(7, 60, "c"), [v(1, 0, "a"), v(2, 5, "b")]) == Decision(Outcome.ACCEPTED, 7)


def test_a_version_created_before_the_newest_held_is_stale():
    held = [v(3, 150, "a")]
    assert decide(v(2, 0, "b"), held) == Decision(Outcome.STALE, 2)
    assert decide(v(5, 149, "b"), held).outcome is Outcome.STALE, "a higher number does not save it"


def test_the_same_creation_time_as_the_newest_is_not_stale():
    assert decide(v(1, 150, "b"), [v(3, 150, "a")]) == Decision(Outcome.ACCEPTED, 4)


def test_newest_means_the_highest_number_not_the_latest_time():
    # Version 5 was created earlier than version 2 (a source renumbered): staleness is judged
    # against version 5's time, and the next number goes above 5.
    held = [v(2, 100, "a"), v(5, 50, "b")]
    assert decide(v(1, 60, "c"), held) == Decision(Outcome.ACCEPTED, 6)
    assert decide(v(1, 40, "c"), held).outcome is Outcome.STALE
    assert decide(v(1, 60, "c"), list(reversed(held))) == Decision(Outcome.ACCEPTED, 6), "order-free"


def test_the_content_hash_ignores_times_and_version_but_not_the_text(make_story):
    story = make_story()
    later = make_story(
        version=4,
        received=T0 + timedelta(hours=1),
        versioncreated=T0 + timedelta(hours=1),
        firstcreated=T0 - timedelta(days=1),
    )
    assert content_hash(story) == content_hash(later)
    assert content_hash(story) != content_hash(make_story(headline="Port strike ends"))
    assert content_hash(story) != content_hash(make_story(language="tr"))


def test_version_of_reads_an_incoming_story(make_story):
    story = make_story(version=3, versioncreated=T0 + timedelta(minutes=2))
    assert Version.of(story) == Version(3, T0 + timedelta(minutes=2), content_hash(story))
