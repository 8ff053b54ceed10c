"""Which installed packages translate one language into another: directly, or through a pivot.

Also which of several packages for one pair is the active one (`choose_packages`): a real package
beats a test package, then the highest version wins, then the folder name that sorts first, so the
choice never depends on the order packages were installed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

Pair = tuple[str, str]


@dataclass(frozen=True)
class PackageInfo:
    """An installed Argos translation package, as its metadata describes it."""

    from_code: str
    to_code: str
    name: str
    version: str
    path: Path
    target_prefix: str = ""
    test: bool = False
    """A wirewatch test package (random weights, meaningless text), never a real translation."""

    @property
    def pair(self) -> Pair:
        """The (source, target) pair it translates."""
        return (self.from_code, self.to_code)

    @property
    def folder(self) -> str:
        """The folder it is installed in (what `models remove NAME` takes)."""
        return self.path.name

    @property
    def kind(self) -> str:
        """`real` or `test`, as listings show it."""
        return "test" if self.test else "real"


def pair_label(pair: Pair) -> str:
    """Write a pair the way listings do, e.g. `en→ar`."""
    return f"{pair[0]}→{pair[1]}"


_VERSION = re.compile(r"\s*[vV]?(\d+(?:\.\d+)*)(.*)", re.S)
_CHUNK = re.compile(r"\d+|[^\d]+")

VersionKey = tuple[bool, tuple[int, ...], bool, tuple[tuple[int, int, str], ...]]


def version_key(version: str) -> VersionKey:
    """Order package versions as versions, not strings: `1.10` > `1.9` > `1.5` > `1.0` = `1`.

    A version is dotted numbers, maybe followed by a suffix. Trailing zeros do not count, and a
    suffix (`-test`, `rc1`, `beta`) ranks below the same numbers without one, as a pre-release does.
    A version that does not start with a number (`unknown`, empty) ranks below every one that does.
    """
    match = _VERSION.fullmatch(version)
    if match is None:
        return (False, (), False, ())
    release = tuple(int(n) for n in match.group(1).split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    suffix = match.group(2).strip().lower()
    chunks = tuple((0, int(c), "") if c.isdigit() else (1, 0, c) for c in _CHUNK.findall(suffix))
    return (True, release, not suffix, chunks)


def version_parses(version: str) -> bool:
    """Whether `version_key` reads the version as numbers (else it ranks below every one that does)."""
    return version_key(version)[0]


def rank_packages(packages: Iterable[PackageInfo]) -> list[PackageInfo]:
    """Order one pair's packages best first: real before test, then highest version, then folder name."""
    ordered = sorted(packages, key=lambda i: i.folder)
    ordered.sort(key=lambda i: version_key(i.version), reverse=True)
    ordered.sort(key=lambda i: i.test)
    return ordered


@dataclass(frozen=True)
class PairChoice:
    """Every usable package installed for one pair, best first: the first is the active one."""

    pair: Pair
    ranked: tuple[PackageInfo, ...]

    @property
    def active(self) -> PackageInfo:
        """The package that translates the pair."""
        return self.ranked[0]

    @property
    def conflict(self) -> bool:
        """Whether more than one package is installed for the pair."""
        return len(self.ranked) > 1

    @property
    def test_only(self) -> bool:
        """Whether the pair is translated by a test package because no real one is installed."""
        return self.active.test

    def why(self, info: PackageInfo) -> str:
        """Say why a package of this pair is active, or why it is not."""
        active = self.active
        if info.path == active.path:
            if not self.conflict:
                return "only package" + (" (a TEST package: meaningless text)" if info.test else "")
            return _beats(active, self.ranked[1])
        if info.test and not active.test:
            return f"test package; the real package {active.folder} wins"
        if version_key(info.version) < version_key(active.version):
            if not version_parses(info.version):
                return f"version {info.version!r} is not a number; {active.folder} {active.version} wins"
            return f"older version ({info.version} < {active.version} of {active.folder})"
        return f"same version as {active.folder}, whose folder name sorts first"


def _beats(active: PackageInfo, runner_up: PackageInfo) -> str:
    if runner_up.test and not active.test:
        return f"a real package beats the test package {runner_up.folder}"
    if version_key(active.version) > version_key(runner_up.version):
        return f"highest version ({active.version} > {runner_up.version} of {runner_up.folder})"
    return f"same version as {runner_up.folder}; its folder name sorts first"


def choose_packages(packages: Iterable[PackageInfo]) -> dict[Pair, PairChoice]:
    """Group usable packages by pair and rank each group (`rank_packages`); pairs in sorted order."""
    by_pair: dict[Pair, list[PackageInfo]] = {}
    for info in packages:
        by_pair.setdefault(info.pair, []).append(info)
    return {pair: PairChoice(pair, tuple(rank_packages(by_pair[pair]))) for pair in sorted(by_pair)}


Route = tuple[PackageInfo, ...]


def plan_route(
    packages: Mapping[Pair, PackageInfo], source: str, target: str, pivot: str = "en"
) -> Route | None:
    """Return the packages that take `source` to `target` (one, or two through `pivot`), or None."""
    direct = packages.get((source, target))
    if direct is not None:
        return (direct,)
    if pivot in (source, target):
        return None
    first, second = packages.get((source, pivot)), packages.get((pivot, target))
    if first is None or second is None:
        return None
    return (first, second)


def missing_pairs(
    packages: Mapping[Pair, PackageInfo], source: str, target: str, pivot: str = "en"
) -> list[Pair]:
    """Name the pairs to install so `source` reaches `target` (direct if pivoting is impossible)."""
    if plan_route(packages, source, target, pivot) is not None:
        return []
    if pivot in (source, target):
        return [(source, target)]
    return [p for p in ((source, pivot), (pivot, target)) if p not in packages]


def pairs_for_languages(languages: list[str], pivot: str = "en") -> list[Pair]:
    """Pairs an index install needs so every listed language reaches every other through the pivot."""
    pairs: list[Pair] = []
    for lang in languages:
        if lang == pivot:
            continue
        for pair in ((lang, pivot), (pivot, lang)):
            if pair not in pairs:
                pairs.append(pair)
    return pairs
