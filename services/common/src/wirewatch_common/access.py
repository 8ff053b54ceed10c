"""FastAPI dependencies that guard a route: the caller's API key and role, then its rate limit.

`Depends(require(keys, "reader", limiter))` answers 401/403 in the shared error shape when the key is
missing or lacks the role, and 429 with `Retry-After` when the caller spent its tokens. A caller
is its key (a digest of it: the bucket table never holds keys) or, with keys off, its address.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Header, Request

from .auth import AccessDenied, authorize, presented_key
from .http_errors import ApiError
from .ratelimit import RateLimit, TokenBuckets
from .settings import ApiKey, Role

Guard = Callable[..., Awaitable[None]]


def caller_of(request: Request, keys: Sequence[ApiKey], presented: str | None) -> str:
    """Name the caller for rate limiting: its key's digest when keys are on, else its address."""
    if keys and presented:
        return "key:" + hashlib.sha256(presented.encode()).hexdigest()[:32]
    host = request.client.host if request.client else "unknown"
    return "addr:" + host


def limiter(limit: RateLimit) -> TokenBuckets | None:
    """Token buckets for a limit, or None when the limit is off."""
    return TokenBuckets(limit) if limit.enabled else None


def require(keys: Sequence[ApiKey], role: Role, buckets: TokenBuckets | None = None) -> Guard:
    """Build the dependency that lets a request through only with a `role` key and tokens left."""

    # async: a key check is a few comparisons, and a sync dependency costs a threadpool hop.
    async def guard(
        request: Request,
        x_api_key: Annotated[str | None, Header(description="API key (or `Authorization: Bearer`).")] = None,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> None:
        try:
            authorize(keys, role, x_api_key, authorization)
        except AccessDenied as denied:
            headers = {"WWW-Authenticate": "Bearer"} if denied.status == 401 else None
            raise ApiError(denied.status, denied.code, denied.message, headers=headers) from None
        if buckets is None:
            return
        wait = buckets.take(caller_of(request, keys, presented_key(x_api_key, authorization)))
        if wait > 0:
            retry = max(1, math.ceil(wait))
            limit = buckets.limit
            msg = f"too many requests: at most {limit.rate:g} per second, bursts of {limit.burst}; retry in {retry} s"
            raise ApiError(429, "rate_limited", msg, headers={"Retry-After": str(retry)})

    return guard
