"""Headlines first, each language when ready, and the translation memory: the real engine and tiny TEST packages.

Model work is counted with the engine's own metrics (`wirewatch_translate_sentences_total` and
`wirewatch_translate_call_seconds_count`, per pair), so nothing here stands in for the engine.
The test packages' output is meaningless; what is compared is that it is the same.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from wirewatch_common.bus import Message, TransientError
from wirewatch_common.story import RenditionStatus, Story
from wirewatch_translate.engine import Engine
from wirewatch_translate.memory import TranslationMemory
from wirewatch_translate.pending import PendingStore
from wirewatch_translate.translator import StoryTranslator
from wirewatch_translate.worker import StoryHandler

pytestmark = pytest.mark.integration

WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
PAIRS = ("en-ar", "en-tr", "ar-en")

PARAGRAPHS = [
    "Dockworkers at the port walked out on Tuesday over pay.",
    "Grain exports were halted for a third day, traders said.",
    "The union said talks with the port authority would resume on Friday.",
    "Prices of wheat rose sharply in the capital. Bakers warned of shortages.",
    "Shipping agents said dozens of vessels were waiting at anchor.",
    "The ministry of transport declined to comment.",
]
BOILERPLATE = "(Reporting by Jane Doe; Editing by John Roe)"


def _story(story_id: str, paragraphs: list[str], **fields: Any) -> Story:
    base: dict[str, Any] = {
        "id": story_id,
        "uri": f"urn:test:{story_id}",
        "version": 1,
        "firstcreated": WHEN,
        "versioncreated": WHEN,
        "language": "en",
        "headline": "Port strike halts grain exports",
        "body": paragraphs,
    }
    return Story.model_validate(base | fields)


def _arabic(story_id: str, paragraphs: list[str], **fields: Any) -> Story:
    return _story(story_id, paragraphs, language="ar", headline="إضراب في الميناء", **fields)


ARABIC = [
    "قالت الهيئة إن الصادرات ستستأنف.",
    "وتستأنف المحادثات يوم الجمعة.",
    "ارتفعت أسعار القمح في العاصمة.",
]


class Work:
    """Sentences and engine calls the model was given per pair since the last look."""

    def __init__(self) -> None:
        self._seen = self._now()

    @staticmethod
    def _now() -> dict[str, tuple[float, float]]:
        def value(name: str, pair: str) -> float:
            return REGISTRY.get_sample_value(name, {"pair": pair}) or 0.0

        return {
            p: (
                value("wirewatch_translate_sentences_total", p),
                value("wirewatch_translate_call_seconds_count", p),
            )
            for p in PAIRS
        }

    def take(self) -> dict[str, tuple[int, int]]:
        now = self._now()
        done = {p: (int(now[p][0] - self._seen[p][0]), int(now[p][1] - self._seen[p][1])) for p in PAIRS}
        self._seen = now
        return done


def _same(rendition: Story) -> dict[str, Any]:
    """A rendition field by field, without what only the clock decides (the model's time)."""
    document = rendition.model_dump()
    document["translation"].pop("duration_ms")
    return document


def _key(rendition: Story) -> tuple[str, str]:
    return (rendition.id, rendition.language)


@pytest.fixture
def memory(tmp_path) -> Iterator[TranslationMemory]:
    store = TranslationMemory(tmp_path / "translate" / "memory.sqlite3", 64 << 20)
    try:
        yield store
    finally:
        store.close()


def test_a_story_from_the_memory_reads_exactly_as_translating_it_again_pivot_included(models_dir, memory):
    stories = [_story("ww-en-1", [*PARAGRAPHS, BOILERPLATE]), _arabic("ww-ar-1", ARABIC)]
    plain = StoryTranslator(Engine(models_dir), ["ar", "tr"], clock=lambda: WHEN).translate(stories)
    remembering = StoryTranslator(Engine(models_dir), ["ar", "tr"], clock=lambda: WHEN, memory=memory)
    work = Work()
    first = remembering.translate(stories)
    assert all(sentences > 0 for sentences, _ in work.take().values())
    again = remembering.translate(stories)
    assert work.take() == dict.fromkeys(PAIRS, (0, 0)), "no model time at all, on either hop of the pivot"
    assert {_key(r) for r in again} == {
        ("ww-en-1", "ar"),
        ("ww-en-1", "tr"),
        ("ww-ar-1", "tr"),
        ("ww-ar-1", "en"),
    }
    translated, plain_by_key = {_key(r): r for r in first}, {_key(r): r for r in plain}
    for remembered in again:
        earlier = translated[_key(remembered)]
        assert _same(remembered) == _same(earlier) == _same(plain_by_key[_key(remembered)])
        t = remembered.translation
        assert t.status is RenditionStatus.TRANSLATED and t.quality is not None and t.quality.sentences > 0


def test_an_update_and_repeated_boilerplate_cost_only_their_new_sentences(models_dir, memory):
    translator = StoryTranslator(Engine(models_dir), ["ar", "tr"], clock=lambda: WHEN, memory=memory)
    translator.translate([_story("ww-en-1", [*PARAGRAPHS, BOILERPLATE]), _arabic("ww-ar-1", ARABIC)])
    work = Work()
    update = _story(
        "ww-en-1",
        [
            *PARAGRAPHS[:4],
            "The strike ended late on Wednesday, the union said.",
            *PARAGRAPHS[4:],
            BOILERPLATE,
        ],
        version=2,
        headline="UPDATE 1-Port strike ends after three days",
    )
    other = _story(
        "ww-en-2", ["Rain delayed the harvest in the north.", BOILERPLATE], headline="Rain delays harvest"
    )
    done = {_key(r): r for r in translator.translate([update, other])}
    new = 4  # two headlines, the update's new paragraph, the other story's first paragraph
    assert work.take() == {"en-ar": (new, 1), "en-tr": (new, 1), "ar-en": (0, 0)}, (
        "one call each, new text only"
    )
    assert done[("ww-en-1", "tr")].translation.of_version == 2 and len(done[("ww-en-1", "tr")].body) == 8

    arabic_update = _arabic("ww-ar-1", [*ARABIC, "وانتهى الإضراب مساء الأربعاء."], version=2)
    translator.translate([arabic_update])
    sentences = work.take()
    assert sentences["ar-en"] == (1, 1), "the first hop translates the new sentence only"
    assert sentences["en-tr"][0] <= 1, "the second hop, memoised on its own, at most the new English one"


def _staged(models_dir, **options: Any) -> StoryTranslator:
    settings = {"lead_paragraphs": 1, "partial_min_sentences": 1} | options
    return StoryTranslator(Engine(models_dir), ["ar", "tr"], clock=lambda: WHEN, **settings)


def test_every_headline_goes_out_first_then_the_leads_then_each_language_as_soon_as_it_is_done(models_dir):
    stories = [
        _story(f"ww-burst-{i}", [f"{p} (item {i})" for p in PARAGRAPHS], summary=f"Summary {i}.")
        for i in range(3)
    ]
    calls: list[list[Story]] = []
    work = Work()
    full = _staged(models_dir).render(stories, emit=calls.append)
    staged_work = work.take()
    flat = [(n, r) for n, call in enumerate(calls) for r in call]
    statuses = [r.translation.status for _, r in flat]
    pairs = {(s.id, t) for s in stories for t in ("ar", "tr")}

    headlines = [r for _, r in flat[: len(pairs)]]
    assert {_key(r) for r in headlines} == pairs and {r.translation.status for r in headlines} == {
        RenditionStatus.PARTIAL
    }, "every story's headline in both languages before anything else"
    assert all(r.headline and r.body == [] and r.summary is None for r in headlines)
    assert all(r.translation.quality.sentences == 1 for r in headlines)
    leads = [r for _, r in flat[len(pairs) : 2 * len(pairs)]]
    assert {r.translation.status for r in leads} == {RenditionStatus.PARTIAL} and {
        _key(r) for r in leads
    } == pairs
    assert all(len(r.body) == 1 and r.summary for r in leads), "then the summary and the first paragraph"
    assert (
        statuses.count(RenditionStatus.TRANSLATED) == len(pairs)
        and RenditionStatus.PARTIAL not in statuses[2 * len(pairs) :]
    )
    last = {r.language: n for n, r in flat if r.translation.status is RenditionStatus.TRANSLATED}
    first = {r.language: n for n, r in reversed(flat) if r.translation.status is RenditionStatus.TRANSLATED}
    assert last["ar"] < first["tr"] or last["tr"] < first["ar"], "one language is out before the other starts"

    emitted = [r for _, r in flat if r.translation.status is RenditionStatus.TRANSLATED]
    assert full.stories == emitted, "what is returned is what went out in full"
    one_stage = _staged(models_dir, headlines_first=False).render(stories, emit=lambda _: None)
    assert sorted(map(_same, full.stories), key=str) == sorted(map(_same, one_stage.stories), key=str), (
        "the same text and quality either way"
    )
    assert work.take()["en-ar"][1] == 1, "without headlines first, one engine call per package"
    assert staged_work["en-ar"][1] == 3, "headlines first: one call per stage per package, across the stories"


def test_a_partial_goes_out_only_when_enough_model_work_is_ahead(models_dir, memory):
    calls: list[list[Story]] = []
    short = _story("ww-short", ["Dockworkers walked out."])
    _staged(models_dir, partial_min_sentences=8).render([short], emit=calls.append)
    assert [r.translation.status for call in calls for r in call] == [RenditionStatus.TRANSLATED] * 2

    long = _story("ww-long", PARAGRAPHS)
    # After the headlines, 7 sentences per language are ahead (14); after the first paragraph, 12.
    translator = _staged(models_dir, partial_min_sentences=13, memory=memory)
    calls.clear()
    translator.render([long], emit=calls.append)
    made = [r for call in calls for r in call]
    assert [(r.language, r.translation.status, len(r.body)) for r in made] == [
        ("ar", RenditionStatus.PARTIAL, 0),
        ("tr", RenditionStatus.PARTIAL, 0),
        ("ar", RenditionStatus.TRANSLATED, 6),
        ("tr", RenditionStatus.TRANSLATED, 6),
    ], "a partial after the headlines only: the lead leaves too little ahead"
    calls.clear()
    work = Work()
    translator.render([long], emit=calls.append)
    assert work.take() == dict.fromkeys(PAIRS, (0, 0))
    assert [r.translation.status for call in calls for r in call] == [RenditionStatus.TRANSLATED] * 2, (
        "all in the memory: nothing ahead, so no partial"
    )


def test_without_headlines_first_only_full_renditions_go_out_each_language_on_its_own(models_dir):
    calls: list[list[Story]] = []
    stories = [_story("ww-1", PARAGRAPHS), _arabic("ww-ar-1", ARABIC)]
    done = _staged(models_dir, headlines_first=False).render(stories, emit=calls.append)
    assert all(r.translation.status is not RenditionStatus.PARTIAL for call in calls for r in call)
    assert sorted(_key(r) for call in calls for r in call) == sorted(_key(r) for r in done.stories)
    assert all(len({r.language for r in call}) == 1 for call in calls), "no call waits for another language"
    returned = _staged(models_dir).render(stories).stories  # no emit: one stage, all returned at the end
    assert sorted(map(_same, returned), key=str) == sorted(map(_same, done.stories), key=str)


def _message(story: Story, offset: int) -> Message:
    return Message("stories", 0, offset, story.id, story.to_json(), {}, 0)


def test_the_handler_returns_once_every_full_rendition_is_out_and_a_broker_outage_costs_no_attempt(
    models_dir, tmp_path
):
    store = PendingStore(tmp_path / "pending.sqlite3")
    published: list[Story] = []
    try:
        handler = StoryHandler(_staged(models_dir), store, published.extend, max_attempts=2)
        stories = [_story("ww-1", PARAGRAPHS), _story("ww-2", PARAGRAPHS[:2], headline="Rain delays harvest")]
        handler([_message(s, i) for i, s in enumerate(stories)])
        full = [(r.id, r.language) for r in published if r.translation.status is RenditionStatus.TRANSLATED]
        assert sorted(full) == sorted((s.id, t) for s in stories for t in ("ar", "tr")), "all out on return"
        partial = [i for i, r in enumerate(published) if r.translation.status is RenditionStatus.PARTIAL]
        assert partial and max(partial) < min(
            i for i, r in enumerate(published) if r.translation.status is RenditionStatus.TRANSLATED
        )

        def broker_down(_renditions: Sequence[Story]) -> None:
            raise TransientError("broker unreachable")

        handler.publish = broker_down
        with pytest.raises(TransientError):
            handler([_message(stories[0], 5)])
        assert handler._failures == {}, "an outage is no attempt of the story's"
    finally:
        store.close()


def test_an_update_with_little_new_text_costs_one_engine_call_per_package_not_one_per_stage(
    models_dir, memory
):
    story = _story("ww-en-1", PARAGRAPHS, summary="Dockworkers walked out over pay.")
    new = "The strike ended late on Wednesday, the union said."
    update = _story(
        "ww-en-1",
        [*PARAGRAPHS[:3], new, *PARAGRAPHS[3:]],
        version=2,
        headline="UPDATE 1-Port strike ends after three days",
        summary="Dockworkers walked out over pay.",
    )
    # A partial threshold of 1 keeps the stages (2 sentences per language are ahead of the headline).
    staged = _staged(models_dir, memory=memory)
    staged.render([story], emit=lambda _: None)
    work = Work()
    staged.render([update], emit=lambda _: None)
    assert work.take() == {"en-ar": (2, 2), "en-tr": (2, 2), "ar-en": (0, 0)}, (
        "headline, then the new paragraph"
    )

    # Below the threshold no partial would go out: one stage, one call per package.
    translator = _staged(models_dir, memory=memory, partial_min_sentences=8)
    again = update.model_copy(
        update={
            "version": 3,
            "headline": "UPDATE 2-Port strike ends",
            "body": [*update.body, new + " Ships sailed."],
        }
    )
    calls: list[list[Story]] = []
    done = translator.render([again], emit=calls.append)
    assert work.take() == {"en-ar": (2, 1), "en-tr": (2, 1), "ar-en": (0, 0)}
    assert [r.translation.status for call in calls for r in call] == [RenditionStatus.TRANSLATED] * 2
    plain = _staged(models_dir, partial_min_sentences=8).render([again], emit=lambda _: None)
    assert sorted(map(_same, done.stories), key=str) == sorted(map(_same, plain.stories), key=str)


def test_stories_arriving_during_a_batch_get_their_headlines_before_the_bodies_still_ahead(
    models_dir, tmp_path
):
    stories = [_story(f"ww-{i}", [f"{p} (item {i})" for p in PARAGRAPHS]) for i in range(3)]
    late = _story("ww-late", [f"{p} (late)" for p in PARAGRAPHS], headline="Breaking: port closed")
    # Nothing after the headlines; the late story after ww-0's body; then a redelivery of ww-0.
    arrivals = [[], [_message(late, 7)], [_message(stories[0], 8)]]
    polls: list[int] = []
    reported: list[list[int]] = []
    published: list[Story] = []

    def between(done: Sequence[Message]) -> list[Message]:
        polls.append(len(published))
        reported.append(sorted(m.offset for m in done))
        return arrivals.pop(0) if arrivals else []

    store = PendingStore(tmp_path / "pending.sqlite3")
    try:
        translator = _staged(models_dir, slice_seconds=1e-9)  # one story per slice
        handler = StoryHandler(translator, store, published.extend, max_attempts=2, between=between)
        handler([_message(s, i) for i, s in enumerate(stories)])
    finally:
        store.close()

    def first(story_id: str, status: RenditionStatus) -> int:
        return next(i for i, r in enumerate(published) if r.id == story_id and r.translation.status is status)

    partial, full = RenditionStatus.PARTIAL, RenditionStatus.TRANSLATED
    assert first("ww-0", full) < first("ww-late", partial) < first("ww-1", full), (
        "the late headline goes out after the first slice, ahead of the other stories' bodies"
    )
    assert all(first(s.id, partial) < first("ww-0", full) for s in stories), "the batch's headlines first"
    assert len(polls) == 5, "after the headlines, ww-0, the late headline, ww-1 and ww-2; not after the last"
    assert reported == [[], [0], [0], [0, 1, 8], [0, 1, 2, 8]], (
        "each story is reported done once both its languages are out in full (the redelivery with it)"
    )
    fulls = sorted((r.id, r.language) for r in published if r.translation.status is full)
    assert fulls == sorted((i, t) for i in ["ww-0", "ww-1", "ww-2", "ww-late"] for t in ("ar", "tr")), (
        "every story once in full, the redelivered one not again"
    )
    whole = _staged(models_dir).render([*stories, late], emit=lambda _: None).stories
    made = [r for r in published if r.translation.status is full]
    assert sorted(map(_same, made), key=str) == sorted(map(_same, whole), key=str), "same text either way"


def test_once_the_speed_is_measured_headlines_go_in_slices_too_with_a_poll_after_each(models_dir):
    translator = _staged(models_dir, slice_seconds=1e-9)  # one story per slice once a speed is known
    warm = _story("ww-warm", [f"{p} (warm)" for p in PARAGRAPHS])
    translator.render([warm], emit=lambda _: None, more=list)  # a first slice measures the models
    stories = [_story(f"ww-{i}", [f"{p} (item {i})" for p in PARAGRAPHS]) for i in range(3)]
    published: list[Story] = []
    polls: list[list[tuple[str, RenditionStatus]]] = []

    def more() -> list[Story]:
        polls.append([(r.id, r.translation.status) for r in published])
        return []

    translator.render(stories, emit=published.extend, more=more)
    partial, full = RenditionStatus.PARTIAL, RenditionStatus.TRANSLATED
    statuses = [r.translation.status for r in published]
    assert statuses.index(full) == 6, "three stories' headlines in two languages before any body"
    assert len(polls) == 5, "a poll after each headline slice and each body slice but the last"
    assert [sorted({i for i, s in seen if s is partial}) for seen in polls[:3]] == [
        ["ww-0"],
        ["ww-0", "ww-1"],
        ["ww-0", "ww-1", "ww-2"],
    ], "one story's headline per slice, then a poll"
