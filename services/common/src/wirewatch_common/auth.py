"""API keys with roles, shared by every service's API: one rule for who may do what.

A key is presented in `X-API-Key` or as `Authorization: Bearer KEY`. It is compared with every
configured key in constant time, so the response time says nothing about how close a guess was.
A writer key may also read. With no keys configured the APIs are open (loopback use).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from .settings import ApiKey, Role


class AccessDenied(Exception):
    """The request may not do this: `status` is 401 (no or unknown key) or 403 (key lacks the role)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """Return the key a request presents, from `X-API-Key` or a Bearer `Authorization` header."""
    if x_api_key:
        return x_api_key.strip() or None
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def role_of(keys: Sequence[ApiKey], presented: str) -> Role | None:
    """Return the role of the matching key, comparing against every key in constant time."""
    candidate = presented.encode()
    found: Role | None = None
    for key in keys:
        if hmac.compare_digest(candidate, key.key.get_secret_value().encode()):
            found = key.role
    return found


def authorize(keys: Sequence[ApiKey], needed: Role, x_api_key: str | None, authorization: str | None) -> None:
    """Allow the request or raise AccessDenied saying what is missing."""
    if not keys:
        return
    presented = presented_key(x_api_key, authorization)
    if presented is None:
        msg = f"this needs a {needed} API key in X-API-Key or Authorization: Bearer"
        raise AccessDenied(401, "unauthorized", msg)
    role = role_of(keys, presented)
    if role is None:
        raise AccessDenied(401, "unauthorized", "unknown API key")
    if needed == "writer" and role != "writer":
        raise AccessDenied(403, "forbidden", "this needs a writer API key")
