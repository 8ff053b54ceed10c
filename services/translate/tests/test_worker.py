"""The consumer against a real tansu broker and the tiny TEST packages (meaningless output)."""

import logging
import re
import threading
import time
import uuid

import pytest
from prometheus_client import REGISTRY

from wirewatch_common.bus import Consumer, Message, Producer, TransientError
from wirewatch_common.story import RenditionStatus, Story
from wirewatch_translate.bootstrap import build
from wirewatch_translate.models import install_from_path
from wirewatch_translate.settings import TranslateSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEADLINE = 60.0
ARABIC = re.compile(r"[\u0600-\u06FF]")


def _settings(broker, tmp_path, **extra):
    return TranslateSettings(
        _env_file=None,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        data_dir=tmp_path / "data",
        model_dir=tmp_path / "models",
        log_format="text",
        kafka_max_attempts=2,
        translate_group_id=f"translate-{uuid.uuid4().hex[:8]}",
        translate_rescan_seconds=3600,
        **extra,
    )


class Collector:
    """Read a topic from the beginning in a background thread."""

    def __init__(self, broker, topic, producer):
        self.messages: list[Message] = []
        settings = TranslateSettings(_env_file=None, kafka_bootstrap_servers=broker.bootstrap_servers)
        self.consumer = Consumer.from_settings(
            settings,
            [topic],
            f"collect-{uuid.uuid4().hex[:8]}",
            self.messages.extend,
            producer=producer,
            dead_letter_topic="unused",
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.consumer.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def wait(self, done, what):
        deadline = time.monotonic() + DEADLINE
        while not done(self.messages):
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {len(self.messages)} seen"
            time.sleep(0.2)

    def close(self):
        self.stop.set()
        self.thread.join(15)


def _renditions(messages):
    return [Story.from_json(m.value) for m in messages]


def _by(renditions, status=None):
    return {(r.id, r.language): r for r in renditions if status is None or r.translation.status is status}


@pytest.fixture
def topics(new_topic):
    return {
        "stories": new_topic(2, "-stories"),
        "renditions": new_topic(2, "-renditions"),
        "dlq": new_topic(1, "-dlq"),
    }


def test_renditions_unavailable_then_translated_and_poison_dead_lettered(
    broker, topics, tmp_path, test_archives, make_story, caplog
):
    settings = _settings(broker, tmp_path, translate_unsplittable="fail")
    install_from_path(settings.models_path, test_archives[("en", "ar")])
    install_from_path(settings.models_path, test_archives[("ar", "en")])
    service = build(
        settings,
        stories_topic=topics["stories"],
        renditions_topic=topics["renditions"],
        deadletter_topic=topics["dlq"],
    )
    producer = Producer({"bootstrap_servers": [broker.bootstrap_servers]})
    renditions = Collector(broker, topics["renditions"], producer)
    dead = Collector(broker, topics["dlq"], producer)
    stop = threading.Event()
    worker = threading.Thread(target=service.consumer.run, args=(stop,), daemon=True)
    unavailable_before = (
        REGISTRY.get_sample_value("wirewatch_renditions_unavailable_total", {"source": "en", "target": "tr"})
        or 0.0
    )
    caplog.set_level(logging.INFO)
    worker.start()
    try:
        english = make_story(id="ww-en-1")
        english2 = make_story(
            id="ww-en-2", headline="Central bank holds rates", body=["The U.S. dollar rose."]
        )
        arabic = make_story(
            id="ww-ar-1",
            language="ar",
            headline="إضراب في الميناء",
            body=["قالت الهيئة إن الصادرات ستستأنف."],
        )
        producer.publish_stories(topics["stories"], [english, english2, arabic])
        renditions.wait(lambda ms: len(ms) >= 5, "first renditions")
        first = _renditions(renditions.messages)
        assert sorted((r.id, r.language) for r in first) == [
            ("ww-ar-1", "tr"),
            ("ww-en-1", "ar"),
            ("ww-en-1", "tr"),
            ("ww-en-2", "ar"),
            ("ww-en-2", "tr"),
        ], "one rendition per target, and none into the story's own language"
        ar = _by(first)[("ww-en-1", "ar")]
        assert ar.translation.status is RenditionStatus.TRANSLATED and ARABIC.search(ar.headline)
        assert ar.translation.package == "translate-en_ar" and ar.translation.package_version == "0.0.1-test"
        assert len(ar.body) == 2 and ar.uri == english.uri
        missing = _by(first, RenditionStatus.UNAVAILABLE)
        assert set(missing) == {("ww-en-1", "tr"), ("ww-en-2", "tr"), ("ww-ar-1", "tr")}
        assert "en→tr" in missing[("ww-en-1", "tr")].translation.error
        lines = [r for r in caplog.records if r.getMessage().startswith("no model for language pair")]
        assert sorted((r.source, r.target) for r in lines) == [("ar", "tr"), ("en", "tr")], (
            "one line per pair"
        )
        after = REGISTRY.get_sample_value(
            "wirewatch_renditions_unavailable_total", {"source": "en", "target": "tr"}
        )
        assert after - unavailable_before == 2
        assert service.store.count() == 3

        # install the missing pair, then the documented re-translation (no re-ingest)
        install_from_path(settings.models_path, test_archives[("en", "tr")])
        outcome = service.retranslator.rescan()
        assert outcome["retranslated"] == 3 and outcome["pending"] == 0
        renditions.wait(lambda ms: len(ms) >= 9, "re-translated renditions and the kept English")
        late = _by(_renditions(renditions.messages[5:]))
        assert set(late) == {*missing, ("ww-ar-1", "en")}, "the pivot's English is kept as a rendition"
        assert all(r.translation.status is RenditionStatus.TRANSLATED for r in late.values())
        assert late[("ww-ar-1", "tr")].translation.pivot == ["en"]
        assert late[("ww-ar-1", "en")].translation.kept_pivot
        assert not ARABIC.search(late[("ww-en-1", "tr")].headline)

        # a story the translator throws on is retried, gets failed renditions, is dead-lettered; the next passes
        poison = make_story(id="ww-poison", body=["Checksum " + "x" * 5000])  # refused under `fail`
        after_poison = make_story(id="ww-after", headline="Talks resume on Friday")
        producer.publish_stories(topics["stories"], [poison, after_poison])
        dead.wait(lambda ms: len(ms) == 1, "the dead letter")
        letter = dead.messages[0]
        assert letter.key == "ww-poison" and letter.header("wirewatch-attempts") == "2"
        assert "5000 characters without spaces" in letter.header("wirewatch-error")
        renditions.wait(
            lambda ms: (
                {("ww-after", "ar"), ("ww-after", "tr"), ("ww-poison", "ar"), ("ww-poison", "tr")}
                <= {(r.id, r.language) for r in _renditions(ms)}
            ),
            "renditions after the poison story",
        )
        final = _by(_renditions(renditions.messages))
        assert final[("ww-after", "ar")].translation.status is RenditionStatus.TRANSLATED
        assert final[("ww-after", "tr")].translation.status is RenditionStatus.TRANSLATED
        assert final[("ww-poison", "ar")].translation.status is RenditionStatus.FAILED
        assert "UntranslatableText" in final[("ww-poison", "ar")].translation.error
    finally:
        stop.set()
        worker.join(15)
        renditions.close()
        dead.close()
        producer.close()
        service.producer.close()
        service.store.close()


def test_retranslate_command_wiring(broker, tmp_path, monkeypatch, install, make_story):
    from wirewatch_common.bus import Admin
    from wirewatch_common.topics import load_contract
    from wirewatch_translate.cli import retranslate_now
    from wirewatch_translate.pending import PendingStore

    admin = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
    try:
        admin.provision(load_contract())  # the command publishes on the contract's renditions topic
    finally:
        admin.close()
    settings = _settings(broker, tmp_path)
    install(("en", "ar"), models_dir=settings.models_path)
    store = PendingStore(settings.data_dir / "translate" / "pending.sqlite3")
    store.add(make_story(id="ww-wait-ar"), "ar", "no model installed for en→ar")
    store.add(make_story(id="ww-wait-tr"), "tr", "no model installed for en→tr")
    store.close()
    outcome = retranslate_now(settings)
    assert outcome == {"retranslated": 1, "pending": 1, "installed": 1}, "en→tr still has no model"


def _service(settings, topics):
    return build(
        settings,
        stories_topic=topics["stories"],
        renditions_topic=topics["renditions"],
        deadletter_topic=topics["dlq"],
    )


def test_retranslation_isolates_a_poison_story_and_gives_up_on_it(
    broker, topics, tmp_path, test_archives, make_story, caplog
):
    settings = _settings(broker, tmp_path, translate_unsplittable="fail")  # two attempts
    install_from_path(settings.models_path, test_archives[("en", "ar")])
    service = _service(settings, topics)
    producer = Producer({"bootstrap_servers": [broker.bootstrap_servers]})
    renditions = Collector(broker, topics["renditions"], producer)
    retranslator = service.retranslator
    try:
        stories = [make_story(id=f"ww-wait-{i}", headline=f"Talks resume on day {i}") for i in range(10)]
        stories[6] = make_story(id="ww-wait-poison", body=["Checksum " + "x" * 5000])
        for story in stories:
            service.store.add(story, "tr", "no model installed for en→tr")
        install_from_path(settings.models_path, test_archives[("en", "tr")])

        # the broker cannot take renditions: everything stays pending, no attempt is counted
        publish = retranslator.publish

        def broker_down(_renditions):
            raise TransientError("broker unreachable")

        retranslator.publish = broker_down
        with pytest.raises(TransientError):
            retranslator.rescan()
        assert service.store.count() == 10
        assert {e.attempts for e in service.store.entries() if e.story.id != "ww-wait-poison"} == {0}

        retranslator.publish = publish
        caplog.set_level(logging.WARNING)
        first = retranslator.rescan()
        assert first["retranslated"] == 9, "the poison story's neighbours are not held back"
        assert any(
            r.getMessage().startswith("re-translation of a chunk failed; halving") for r in caplog.records
        )
        rescans = 1
        while service.store.count() and rescans < settings.kafka_max_attempts:
            retranslator.rescan()
            rescans += 1
        assert service.store.count() == 0, "given up on after its attempts, not retried forever"
        renditions.wait(lambda ms: len(ms) >= 10, "nine translated renditions and one failed")
        published = _renditions(renditions.messages)
        assert sorted(r.id for r in published) == sorted(s.id for s in stories), "each exactly once"
        by_id = {r.id: r for r in published}
        assert by_id["ww-wait-poison"].translation.status is RenditionStatus.FAILED
        assert "UntranslatableText" in by_id["ww-wait-poison"].translation.error
        assert all(
            r.translation.status is RenditionStatus.TRANSLATED and r.language == "tr"
            for r in published
            if r.id != "ww-wait-poison"
        )
        assert retranslator.rescan() == {"retranslated": 0, "pending": 0, "installed": 2}
        time.sleep(1)
        assert len(renditions.messages) == 10, "nothing published again"
    finally:
        renditions.close()
        producer.close()
        service.consumer.close()
        service.producer.close()
        service.store.close()


def _break(models_dir, pair):
    """Corrupt a package's model file; return a function that puts the original back."""
    (model_bin,) = [p for p in models_dir.rglob("model.bin") if pair in str(p)]
    good = model_bin.read_bytes()
    model_bin.write_bytes(b"not a CTranslate2 model")
    return lambda: model_bin.write_bytes(good)


def test_renditions_failed_by_a_broken_package_heal_once_it_is_repaired(
    broker, topics, tmp_path, install, make_story
):
    """Consumer: failed once, pending without attempts; rescans while broken publish nothing; repaired: translated."""
    settings = _settings(broker, tmp_path)  # two attempts: a story's own failures would be given up on
    install(("en", "ar"), ("en", "tr"), models_dir=settings.models_path)
    repair = _break(settings.models_path, "en_tr")
    service = _service(settings, topics)
    producer = Producer({"bootstrap_servers": [broker.bootstrap_servers]})
    renditions = Collector(broker, topics["renditions"], producer)
    stop = threading.Event()
    worker = threading.Thread(target=service.consumer.run, args=(stop,), daemon=True)
    worker.start()
    try:
        stories = [make_story(id=f"ww-heal-{i}", headline=f"Talks resume on day {i}") for i in range(3)]
        producer.publish_stories(topics["stories"], stories)
        renditions.wait(lambda ms: len(ms) >= 6, "ar translated and tr failed")
        first = _by(_renditions(renditions.messages))
        assert {k: r.translation.status.value for k, r in first.items()} == {
            **{(s.id, "ar"): "translated" for s in stories},
            **{(s.id, "tr"): "failed" for s in stories},
        }, "a batch of several stories is not blamed for its package"
        assert "translate-en_tr" in first[("ww-heal-0", "tr")].translation.error
        entries = service.store.entries()
        assert sorted(e.story.id for e in entries) == [s.id for s in stories]
        assert {(e.target, e.attempts) for e in entries} == {("tr", 0)}

        for _ in range(settings.kafka_max_attempts + 1):  # more rescans than a story's attempts
            assert service.retranslator.rescan() == {"retranslated": 0, "pending": 3, "installed": 2}
        assert {e.attempts for e in service.store.entries()} == {0}, "waiting for a package costs no attempt"
        time.sleep(1)
        assert len(renditions.messages) == 6, "no new failed rendition on each failed retry"

        repair()
        assert service.retranslator.rescan() == {"retranslated": 3, "pending": 0, "installed": 2}
        renditions.wait(lambda ms: len(ms) >= 9, "the healed tr renditions")
        healed = _renditions(renditions.messages[6:])
        assert sorted((r.id, r.language) for r in healed) == [(s.id, "tr") for s in stories]
        assert all(r.translation.status is RenditionStatus.TRANSLATED for r in healed)
    finally:
        stop.set()
        worker.join(15)
        renditions.close()
        producer.close()
        service.producer.close()
        service.store.close()


def test_retranslation_waits_for_a_broken_package_without_counting_attempts(
    broker, topics, tmp_path, install, make_story
):
    """A pair installed but broken: its failed rendition is published once, its stories wait, neighbours go on."""
    settings = _settings(broker, tmp_path)
    install(("en", "tr"), ("ar", "en"), models_dir=settings.models_path)
    repair = _break(settings.models_path, "ar_en")
    service = _service(settings, topics)
    producer = Producer({"bootstrap_servers": [broker.bootstrap_servers]})
    renditions = Collector(broker, topics["renditions"], producer)
    try:
        arabic = make_story(
            id="ww-wait-ar", language="ar", headline="إضراب في الميناء", body=["قالت الهيئة."]
        )
        for story in (make_story(id="ww-wait-en1"), arabic, make_story(id="ww-wait-en2")):
            service.store.add(story, "tr", "no model installed")
        assert service.retranslator.rescan()["retranslated"] == 2
        (entry,) = service.store.entries()
        assert entry.story.id == "ww-wait-ar" and entry.attempts == 0 and "ar_en" in entry.reason
        renditions.wait(lambda ms: len(ms) >= 3, "the two English stories and the failed rendition")
        by = _by(_renditions(renditions.messages))
        assert by[("ww-wait-ar", "tr")].translation.status is RenditionStatus.FAILED, "the desk sees it once"
        for _ in range(settings.kafka_max_attempts + 1):
            assert service.retranslator.rescan()["pending"] == 1
        assert service.store.entries()[0].attempts == 0
        time.sleep(1)
        assert len(renditions.messages) == 3, "the same error is not published again"

        repair()
        assert service.retranslator.rescan() == {"retranslated": 1, "pending": 0, "installed": 2}
        renditions.wait(lambda ms: len(ms) >= 5, "the tr rendition and the kept English")
        late = _by(_renditions(renditions.messages[3:]))
        assert set(late) == {("ww-wait-ar", "tr"), ("ww-wait-ar", "en")}
        assert all(r.translation.status is RenditionStatus.TRANSLATED for r in late.values())
        assert late[("ww-wait-ar", "en")].translation.kept_pivot
    finally:
        renditions.close()
        producer.close()
        service.consumer.close()
        service.producer.close()
        service.store.close()


def test_headlines_go_out_as_partial_renditions_before_the_full_ones_and_updates_come_from_memory(
    broker, topics, tmp_path, test_archives, make_story
):
    settings = _settings(broker, tmp_path, translate_partial_min_sentences=3, translate_lead_paragraphs=1)
    for pair in (("en", "ar"), ("en", "tr")):
        install_from_path(settings.models_path, test_archives[pair])
    service = _service(settings, topics)
    producer = Producer({"bootstrap_servers": [broker.bootstrap_servers]})
    renditions = Collector(broker, topics["renditions"], producer)
    stop = threading.Event()
    worker = threading.Thread(target=service.consumer.run, args=(stop,), daemon=True)
    worker.start()
    paragraphs = [f"Dockworkers said on day {i} that the strike would go on." for i in range(5)]
    try:
        story = make_story(id="ww-long-1", body=paragraphs)
        producer.publish_stories(topics["stories"], [story])
        renditions.wait(lambda ms: len(ms) >= 4, "the headline's partial and the full rendition per language")
        for language in ("ar", "tr"):
            mine = [r for r in _renditions(renditions.messages) if r.language == language]
            assert [(r.translation.status.value, len(r.body)) for r in mine] == [
                ("partial", 0),
                ("translated", 5),
            ], (
                "in topic order: the headline, then the whole story (in the consumer, the rest goes in one slice)"
            )
            assert {r.version for r in mine} == {1}

        assert service.memory is not None
        hits = REGISTRY.get_sample_value("wirewatch_translate_memory_hits_total", {"pair": "en-ar"}) or 0.0
        update = make_story(id="ww-long-1", version=2, body=[*paragraphs, "The strike ended on Friday."])
        producer.publish_stories(topics["stories"], [update])
        renditions.wait(
            lambda ms: sum(Story.from_json(m.value).version == 2 for m in ms) >= 2, "the update's renditions"
        )
        after = REGISTRY.get_sample_value("wirewatch_translate_memory_hits_total", {"pair": "en-ar"})
        assert after - hits == 6, "the headline and five paragraphs come from the memory"
        late = [Story.from_json(m.value) for m in renditions.messages[4:]]
        assert [r.translation.status for r in late] == [RenditionStatus.TRANSLATED] * 2, (
            "one new sentence per language ahead, fewer than three: no partial is worth sending"
        )
    finally:
        stop.set()
        worker.join(15)
        renditions.close()
        producer.close()
        service.producer.close()
        service.store.close()
