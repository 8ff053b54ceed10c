"""Count the repairs ingest made to what sources sent: `wirewatch_ingest_repairs_total{kind, field}`.

`finish` is pure and only records repairs in `story.repairs`; whoever parses a document counts
them here once, so the desk sees each story's repairs and operations see their rate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from prometheus_client import Counter

from wirewatch_common.story import Story

REPAIRS = Counter(
    "wirewatch_ingest_repairs_total",
    "Source values ingest replaced or cut (implausible dates, over-long fields, encodings), by kind and field.",
    ["kind", "field"],
)

_INDEX = re.compile(r"\[\d+\]")


def field_label(field: str) -> str:
    """Label a repaired field without list positions (`keywords[7]` counts as `keywords`), bounding the series."""
    return _INDEX.sub("", field)[:100]


def count_repairs(stories: Iterable[Story]) -> int:
    """Add the stories' repairs to the counter; return how many there were."""
    total = 0
    for story in stories:
        for repair in story.repairs:
            REPAIRS.labels(repair.kind.value, field_label(repair.field)).inc()
            total += 1
    return total
