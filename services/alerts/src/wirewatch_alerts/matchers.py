"""The embedded matcher: presearch over the watchlists' terms, then exact verification, in process.

The Elasticsearch percolator (`percolator.py`) answers the same question on a cluster; the worker
holds either behind its `BatchMatcher` port.
"""

from __future__ import annotations

from collections.abc import Sequence

from wirewatch_common.analysis import Family
from wirewatch_common.analyzers import Analyzers
from wirewatch_common.matching import Matcher, Standing, Version


class EmbeddedMatcher:
    """`wirewatch_common.matching.Matcher` with the engine's own analysis chains, kept in step with the store."""

    name = "embedded"

    def __init__(self) -> None:
        self._analyzers = Analyzers()
        self._matcher = Matcher(self._analyze)
        self._held: dict[str, Standing] = {}

    def _analyze(self, text: str, fam: Family, stem: bool) -> list[str]:
        return self._analyzers.tokens(text, fam, stem=stem)

    def sync(self, standings: Sequence[Standing]) -> None:
        """Hold exactly these standings: add the new and changed, remove the gone."""
        wanted = {s.id: s for s in standings}
        for gone in self._held.keys() - wanted.keys():
            self._matcher.remove(gone)
        for sid, standing in wanted.items():
            if self._held.get(sid) != standing:
                self._matcher.add(standing)
        self._held = wanted

    def match(self, versions: Sequence[Version]) -> list[tuple[int, str]]:
        """Every (version index, watchlist id) that matches."""
        return self._matcher.match(versions)

    def __len__(self) -> int:
        return len(self._held)
