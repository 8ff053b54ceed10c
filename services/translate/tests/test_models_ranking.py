"""The package ranking (real beats test, then the highest version) and the check's verdicts, as pure functions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wirewatch_translate.cli import CHECK_SENTENCES, verdict
from wirewatch_translate.pairs import PackageInfo, choose_packages, rank_packages, version_key
from wirewatch_translate.testpackages import TEST_VERSION

pytestmark = pytest.mark.unit

ARABIC = re.compile(r"[\u0600-\u06FF]")


def _info(
    folder: str, version: str, *, test: bool = False, pair: tuple[str, str] = ("en", "ar")
) -> PackageInfo:
    return PackageInfo(
        pair[0], pair[1], f"translate-{pair[0]}_{pair[1]}", version, Path("/m") / folder, test=test
    )


def test_versions_compare_as_numbers_and_odd_ones_rank_lowest():
    ordered = ["1.10", "1.9", "1.5", "1.0", "1.0-test", "0.0.1", "0.0.1-test", "unknown"]
    assert sorted(ordered, key=version_key, reverse=True) == ordered
    assert version_key("1") == version_key("1.0") == version_key("1.0.0")
    assert version_key("2.0rc10") > version_key("2.0rc2"), "numbers inside a suffix count as numbers"
    assert version_key("") == version_key("unknown") < version_key("0")


def test_a_real_package_beats_any_test_package_then_the_highest_version_wins():
    packages = [
        _info("translate-en_ar-test", "9.9", test=True),
        _info("en_ar", "1.9"),
        _info("en_ar-1_10", "1.10"),
        _info("en_ar-old", "1.0"),
        _info("en_ar-odd", "unknown"),
    ]
    ranked = rank_packages(packages)
    assert [i.folder for i in ranked] == [
        "en_ar-1_10",
        "en_ar",
        "en_ar-old",
        "en_ar-odd",
        "translate-en_ar-test",
    ]
    pick = choose_packages(packages)[("en", "ar")]
    assert pick.active.folder == "en_ar-1_10" and pick.conflict and not pick.test_only
    assert pick.why(pick.active) == "highest version (1.10 > 1.9 of en_ar)"
    assert pick.why(packages[0]) == "test package; the real package en_ar-1_10 wins"
    assert pick.why(packages[1]) == "older version (1.9 < 1.10 of en_ar-1_10)"
    assert pick.why(packages[4]) == "version 'unknown' is not a number; en_ar-1_10 1.10 wins"
    assert rank_packages(reversed(packages)) == ranked, "the order they come in does not matter"


def test_real_over_test_is_said_and_ties_go_to_the_folder_that_sorts_first():
    demo, real = _info("translate-en_ar-test", TEST_VERSION, test=True), _info("en_ar", "1.0")
    pick = choose_packages([demo, real])[("en", "ar")]
    assert (
        pick.active is real and pick.why(real) == "a real package beats the test package translate-en_ar-test"
    )
    twin = _info("translate-en_ar-1_0", "1.0")
    pick = choose_packages([twin, real])[("en", "ar")]
    assert pick.active is real and pick.why(twin) == "same version as en_ar, whose folder name sorts first"
    alone = choose_packages([demo, _info("translate-en_tr-test", "0.1", test=True, pair=("en", "tr"))])
    assert list(alone) == [("en", "ar"), ("en", "tr")]
    assert alone[("en", "ar")].test_only and not alone[("en", "ar")].conflict
    assert alone[("en", "ar")].why(demo) == "only package (a TEST package: meaningless text)"


def test_check_verdicts():
    assert verdict("The port reopened.", "أعيد فتح الميناء.") == "ok"
    assert verdict("The port reopened.", "  the port   REOPENED. ") == "COPY"
    assert verdict("The port reopened.", " ") == "EMPTY"
    assert set(CHECK_SENTENCES) == {"en", "ar", "tr"}
    assert ARABIC.search(" ".join(CHECK_SENTENCES["ar"])) and "ü" in " ".join(CHECK_SENTENCES["tr"])
