"""The translation memory's store: exact entries, keys that keep packages apart, LRU eviction, shared by processes."""

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from wirewatch_translate.engine import DecodeOptions, EngineOptions
from wirewatch_translate.memory import (
    ROW_OVERHEAD,
    Remembered,
    TranslationMemory,
    open_memory,
    package_key,
)
from wirewatch_translate.pairs import PackageInfo
from wirewatch_translate.quality import TokenScores

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _entry(text: str, log_prob: float | None = -1.25) -> Remembered:
    scores = None if log_prob is None else TokenScores(log_prob, 7)
    return Remembered(text, 5, scores, 0)


def _package(tmp_path: Path, *, test: bool, version: str = "1.9") -> PackageInfo:
    path = tmp_path / ("test" if test else "real")
    (path / "model").mkdir(parents=True, exist_ok=True)
    (path / "model" / "model.bin").write_bytes(b"weights")
    (path / "sentencepiece.model").write_bytes(b"pieces")
    return PackageInfo("en", "ar", "translate-en_ar", version, path, test=test)


def test_entries_come_back_exactly_with_what_quality_needs(tmp_path):
    memory = TranslationMemory(tmp_path / "memory.sqlite3", 1 << 20)
    try:
        exact = Remembered("الميناء مغلق", 11, TokenScores(-3.141592653589793, 9), 4)
        unscored = _entry("بلا درجات", log_prob=None)
        memory.remember("pkg", {"The port is shut.": exact, "No scores.": unscored})
        hits, misses = (
            _metric("wirewatch_translate_memory_hits_total", pair="en-ar"),
            _metric("wirewatch_translate_memory_misses_total", pair="en-ar"),
        )
        found = memory.recall(
            "pkg", ["The port is shut.", "No scores.", "Never seen.", "The port is shut."], "en-ar"
        )
        assert found == {"The port is shut.": exact, "No scores.": unscored}
        assert _metric("wirewatch_translate_memory_hits_total", pair="en-ar") - hits == 2
        assert _metric("wirewatch_translate_memory_misses_total", pair="en-ar") - misses == 1, "counted once"
        assert memory.recall("other package", ["The port is shut."]) == {}
        assert memory.recall("pkg", ["the port is shut."]) == {}, "the exact sentence, not a folded one"
        entries, used = memory.usage()
        assert entries == 2 and used == sum(len(e.output.encode()) + ROW_OVERHEAD for e in (exact, unscored))
        assert _metric("wirewatch_translate_memory_bytes") == used
    finally:
        memory.close()


def test_a_test_package_a_real_one_and_other_decoding_never_share_keys(tmp_path):
    real, test = _package(tmp_path, test=False), _package(tmp_path, test=True)
    profile = DecodeOptions().profile(EngineOptions())
    assert package_key(real, profile) != package_key(test, profile)
    assert package_key(real, profile) != package_key(_package(tmp_path, test=False, version="1.10"), profile)
    assert package_key(real, profile) != package_key(
        real, DecodeOptions(beam_size=2).profile(EngineOptions())
    )
    assert package_key(real, profile) == package_key(
        real, DecodeOptions(max_batch_tokens=64).profile(EngineOptions())
    )
    before = package_key(test, profile)
    (test.path / "model" / "model.bin").write_bytes(b"other random weights")  # a rebuilt test package
    assert package_key(test, profile) != before


def test_least_recently_used_entries_are_evicted_in_a_batch_when_over_the_bound(tmp_path):
    clock = Clock()
    row = len(b"x" * 100) + ROW_OVERHEAD
    memory = TranslationMemory(tmp_path / "memory.sqlite3", 20 * row, clock=clock)
    try:
        evicted = _metric("wirewatch_translate_memory_evictions_total")
        for i in range(20):
            clock.now += 120
            memory.remember("pkg", {f"sentence {i}": _entry("x" * 100)})
        assert memory.usage() == (20, 20 * row), "at the bound: nothing evicted yet"
        clock.now += 120
        assert memory.recall("pkg", ["sentence 0", "sentence 1"]).keys() == {"sentence 0", "sentence 1"}
        clock.now += 120
        memory.remember("pkg", {"sentence 20": _entry("x" * 100)})  # over: down to 90% of the bound
        entries, used = memory.usage()
        assert used <= 18 * row and entries == 18
        assert _metric("wirewatch_translate_memory_evictions_total") - evicted == 3
        kept = memory.recall("pkg", [f"sentence {i}" for i in range(21)])
        assert {"sentence 0", "sentence 1", "sentence 20"} <= kept.keys(), "recently used ones stay"
        assert not {"sentence 2", "sentence 3", "sentence 4"} & kept.keys(), "the oldest unused go first"
    finally:
        memory.close()


def test_off_at_zero_megabytes_and_a_bound_is_required(tmp_path):
    assert open_memory(tmp_path / "memory.sqlite3", 0) is None
    assert not (tmp_path / "memory.sqlite3").exists()
    with pytest.raises(ValueError, match="positive size bound"):
        TranslationMemory(tmp_path / "memory.sqlite3", 0)


def test_replicas_share_one_file_from_separate_processes(tmp_path):
    path = tmp_path / "translate" / "memory.sqlite3"
    memory = open_memory(path, 1)
    assert memory is not None
    try:
        memory.remember("pkg", {"From the first replica.": _entry("أول")})
        script = textwrap.dedent(
            f"""
            from pathlib import Path
            from wirewatch_translate.memory import Remembered, TranslationMemory
            memory = TranslationMemory(Path({str(path)!r}), 1 << 20)
            assert memory.recall("pkg", ["From the first replica."])["From the first replica."].output == "أول"
            memory.remember("pkg", {{"From the second replica.": Remembered("ثان", 3, None, 0)}})
            memory.close()
            """
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        found = memory.recall("pkg", ["From the second replica."])
        assert found["From the second replica."] == Remembered("ثان", 3, None, 0)
        assert memory.usage()[0] == 2, "the running totals count both processes' entries"
        (mode,) = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
        assert mode == "wal"
    finally:
        memory.close()
