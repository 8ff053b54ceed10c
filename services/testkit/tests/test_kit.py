"""The kit's own promises: a recording publisher that behaves like a broker's, consistent samples,
and test support that stays out of the product (no service imports it, depends on it or loads it)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from wirewatch_common.bus import DeliveryError, Outgoing
from wirewatch_testkit.publishers import RecordingPublisher
from wirewatch_testkit.stories import CEASEFIRE, SAMPLES

pytestmark = pytest.mark.unit

SERVICES = Path(__file__).resolve().parents[2]
KIT_IMPORT = re.compile(r"^\s*(from|import)\s+(wirewatch_testkit|pytest)\b", re.M)


def test_recorded_offsets_rise_per_topic_as_a_brokers_would():
    publisher = RecordingPublisher()
    first = publisher.publish_many([Outgoing("a", "k1", b"1"), Outgoing("b", "k1", b"1")])
    second = publisher.publish_many([Outgoing("a", "k2", b"2")])
    assert [(d.topic, d.offset) for d in first + second] == [("a", 0), ("b", 0), ("a", 1)]
    assert [m.key for m in publisher.sent] == ["k1", "k1", "k2"]


def test_a_set_failure_is_raised_and_nothing_is_recorded_until_it_is_cleared():
    publisher = RecordingPublisher()
    publisher.failure = DeliveryError("no broker answered")
    with pytest.raises(DeliveryError, match="no broker answered"):
        publisher.publish_many([Outgoing("a", "k", b"x")])
    assert publisher.sent == []
    publisher.failure = None
    assert publisher.publish_many([Outgoing("a", "k", b"x")])[0].offset == 0


def test_sample_renditions_point_at_their_original_in_another_language():
    renditions = [s for s in SAMPLES if s.translation is not None]
    assert {s.language for s in renditions} == {"ar", "tr"}
    for story in renditions:
        assert story.translation is not None
        assert (story.translation.of_id, story.translation.source_language) == (CEASEFIRE.id, "en")
        assert story.id == CEASEFIRE.id and story.headline != CEASEFIRE.headline
    assert len({(s.id, s.language) for s in SAMPLES}) == len(SAMPLES)


def test_the_pytest_plugin_is_the_kits_and_no_product_package_registers_one():
    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "wirewatch"]
    assert plugin.value == "wirewatch_testkit.fixtures"
    for pyproject in SERVICES.glob("*/pyproject.toml"):
        if pyproject.parent.name == "testkit":
            continue
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        assert "pytest11" not in project.get("entry-points", {}), pyproject
        assert not [d for d in project["dependencies"] if d.startswith(("wirewatch-testkit", "pytest"))], (
            pyproject
        )


def test_no_product_module_imports_the_kit_or_pytest():
    offenders = [
        str(path.relative_to(SERVICES))
        for path in SERVICES.glob("*/src/**/*.py")
        if "testkit" not in path.parts and KIT_IMPORT.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
