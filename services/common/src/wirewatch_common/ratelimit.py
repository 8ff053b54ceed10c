"""Token buckets in memory: each caller may make `burst` requests at once and `rate` per second after.

Pure logic with an injected clock; the HTTP layer decides who a caller is (a key's digest, or the
client address when keys are off) and turns a wait into `429` with `Retry-After`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RateLimit(BaseModel):
    """A sustained rate in requests per second and the burst allowed on top; rate 0 turns it off."""

    model_config = ConfigDict(frozen=True)

    rate: float = Field(ge=0)
    burst: int = Field(ge=0)

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.rate > 0

    def __str__(self) -> str:
        """Write the limit the way the setting is written: `RATE:BURST`, or `0` when off."""
        if not self.enabled:
            return "0"
        return f"{self.rate:g}:{self.burst}"


def parse_rate_limit(value: Any) -> Any:
    """Read `RATE:BURST` (requests per second : burst), `RATE` (burst = one second's worth), or `0`/`off`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text in ("", "0", "off", "none"):
        return RateLimit(rate=0, burst=0)
    rate_text, sep, burst_text = text.partition(":")
    try:
        rate = float(rate_text)
        burst = int(burst_text) if sep else max(1, math.ceil(rate))
    except ValueError:
        msg = (
            f"a rate limit is written RATE:BURST, e.g. '50:200' (50 per second, bursts of 200); got {value!r}"
        )
        raise ValueError(msg) from None
    if not math.isfinite(rate) or rate < 0 or (rate > 0 and burst < 1):
        msg = f"a rate limit needs a rate of 0 or more and a burst of at least 1; got {value!r}"
        raise ValueError(msg)
    return RateLimit(rate=rate, burst=burst)


class TokenBuckets:
    """One token bucket per caller, the least recently seen forgotten beyond `max_callers`."""

    def __init__(
        self, limit: RateLimit, *, clock: Callable[[], float] = time.monotonic, max_callers: int = 10_000
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max = max_callers
        # caller -> (tokens left, when they were counted)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """Spend one token: return 0.0 when allowed, else the seconds until the next token."""
        if not self.limit.enabled:
            return 0.0
        rate, burst = self.limit.rate, float(self.limit.burst)
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.pop(caller, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - then) * rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / rate
            self._buckets[caller] = (tokens, now)
            while len(self._buckets) > self._max:
                # A forgotten caller starts again with a full bucket: the cap bounds memory, not fairness.
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        """How many callers are remembered."""
        return len(self._buckets)
