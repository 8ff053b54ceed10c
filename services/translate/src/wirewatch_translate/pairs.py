"""Which installed packages translate one language into another: directly, or through a pivot."""

from __future__ import annotations

from collections.abc import Mapping
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

    @property
    def pair(self) -> Pair:
        """The (source, target) pair it translates."""
        return (self.from_code, self.to_code)


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
