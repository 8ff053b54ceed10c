"""The receipts consumer's handler: an index receipt confirms its version in the ledger."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import Counter

from wirewatch_common.bus import Message
from wirewatch_common.story import Receipt

from .ledger import Ledger

RECEIPTS = Counter("wirewatch_ingest_receipts_total", "Index receipts that confirmed a ledger entry.")


def receipts_handler(ledger: Ledger) -> Callable[[Sequence[Message]], None]:
    """Build the handler: mark the ledger; a malformed receipt raises (and is dead-lettered)."""

    def handle(batch: Sequence[Message]) -> None:
        receipts = [Receipt.model_validate_json(m.value) for m in batch]
        RECEIPTS.inc(ledger.mark_receipts(receipts))

    return handle
