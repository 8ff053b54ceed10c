"""Opaque, signed page cursors: where the last page ended, bound to the search it came from.

A cursor is `base64url(json).base64url(hmac)`; a cursor that was edited, or that belongs to
another query, filter set or sort, is rejected instead of silently paging something else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from wirewatch_common.errors import Where

from .errors import CursorError as CursorError  # raised here; callers catch it from either module
from .search import SearchRequest, SortKey

CURSOR: Where = {"in": "query", "field": "cursor"}

_VERSION = 1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(request: SearchRequest) -> str:
    """Digest of everything that decides the result order, so a cursor cannot cross searches."""
    shape = {
        "q": request.query.raw.strip(),
        "lang": sorted(request.languages),
        "provider": sorted(request.providers),
        "place": sorted(request.places),
        "from": request.date_from.isoformat() if request.date_from else None,
        "to": request.date_to.isoformat() if request.date_to else None,
        "sort": request.sort,
    }
    if request.quality != "any":  # absent when unset, so cursors issued before the filter still verify
        shape["quality"] = request.quality
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def encode(key: SortKey, request: SearchRequest, secret: bytes) -> str:
    """Sign where a page ended, for the search `request` describes."""
    payload = json.dumps(
        {"v": _VERSION, "k": key.value.hex(), "s": key.story_key, "f": fingerprint(request)},
        separators=(",", ":"),
    ).encode()
    mac = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(mac)}"


def decode(cursor: str, request: SearchRequest, secret: bytes) -> SortKey:
    """Verify a cursor and return its key; raise CursorError when it is not one of ours for this search."""
    head, sep, tail = cursor.partition(".")
    try:
        payload, mac = _unb64(head), _unb64(tail)
    except (binascii.Error, ValueError) as exc:
        msg = "the cursor is not valid: pass back the `next_cursor` of the previous page unchanged"
        raise CursorError(msg, where=CURSOR) from exc
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    if not sep or not hmac.compare_digest(mac, expected):
        msg = "the cursor is not valid: pass back the `next_cursor` of the previous page unchanged"
        raise CursorError(msg, where=CURSOR)
    data: dict[str, Any] = json.loads(payload)
    if data.get("v") != _VERSION or data.get("f") != fingerprint(request):
        msg = "the cursor belongs to a different search: keep q, filters and sort the same while paging"
        raise CursorError(msg, where=CURSOR)
    return SortKey(float.fromhex(data["k"]), int(data["s"]))
