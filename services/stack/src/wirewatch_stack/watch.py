"""`wirewatch watch add|list|remove`: watchlists through the alerts API, over `client.call`.

The requests and the lines printed for them live here; cli.py only reads the command line.
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
from collections.abc import Sequence
from typing import Any

from .client import Unreachable, call, error_message

PAGE = 1000


class WatchFailed(Exception):
    """The alerts API could not be reached or refused the request; the message says which and why."""


def _request(
    base_url: str, method: str, path: str, api_key: str | None, body: dict[str, Any] | None = None
) -> Any:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    try:
        answer = call(
            f"{base_url}{path}",
            timeout=30,
            api_key=api_key,
            data=data,
            content_type="application/json" if data is not None else None,
            method=method,
        )
    except Unreachable as exc:
        msg = f"alerts API unreachable at {base_url}: {exc.reason}; is `wirewatch up` running?"
        raise WatchFailed(msg) from exc
    try:
        value = json.loads(answer.body) if answer.body else None
    except ValueError:
        value = None
    if not 200 <= answer.status < 300:
        detail = error_message(value) if isinstance(value, dict) else answer.reason
        msg = f"alerts API answered HTTP {answer.status}: {detail}"
        raise WatchFailed(msg)
    return value


def watchlist_spec(
    name: str,
    query: str,
    *,
    languages: Sequence[str] = (),
    providers: Sequence[str] = (),
    places: Sequence[str] = (),
    webhooks: Sequence[tuple[str, str]] = (),
    notify_updates: bool = False,
) -> dict[str, Any]:
    """The body of `POST /v1/watchlists` for what the command line gave; webhooks are (url, secret)."""
    return {
        "name": name,
        "query": query,
        "filters": {"languages": list(languages), "providers": list(providers), "places": list(places)},
        "channels": [{"type": "webhook", "url": url, "secret": secret} for url, secret in webhooks],
        "notify_updates": notify_updates,
    }


def new_secret() -> str:
    """A webhook signing secret for an operator who did not give one."""
    return secrets.token_urlsafe(32)


def add_watchlist(base_url: str, spec: dict[str, Any], api_key: str | None) -> dict[str, Any]:
    """Create a watchlist; return the API's answer (with the feed token, shown once)."""
    created = _request(base_url, "POST", "/v1/watchlists", api_key, spec)
    return created if isinstance(created, dict) else {}


def list_watchlists(base_url: str, api_key: str | None) -> list[dict[str, Any]]:
    """Every watchlist, oldest first, reading page after page."""
    found: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        query = urllib.parse.urlencode({"limit": PAGE, "offset": offset})
        page = _request(base_url, "GET", f"/v1/watchlists?{query}", api_key)
        if not isinstance(page, dict):
            break
        found += [w for w in page.get("watchlists") or [] if isinstance(w, dict)]
        next_offset = page.get("next_offset")
        offset = next_offset if isinstance(next_offset, int) and next_offset > offset else None
    return found


def remove_watchlist(base_url: str, watchlist_id: str, api_key: str | None) -> None:
    """Delete one watchlist."""
    _request(base_url, "DELETE", f"/v1/watchlists/{urllib.parse.quote(watchlist_id, safe='')}", api_key)


def _filters(watchlist: dict[str, Any]) -> str:
    filters = watchlist.get("filters") or {}
    parts = [
        f"{label}={','.join(filters.get(key) or [])}"
        for key, label in (("languages", "lang"), ("providers", "provider"), ("places", "place"))
        if filters.get(key)
    ]
    return " ".join(parts) or "-"


def _channels(watchlist: dict[str, Any]) -> str:
    channels = [c for c in watchlist.get("channels") or [] if isinstance(c, dict)]
    return ",".join(str(c.get("type")) for c in channels) or "desk only"


def watchlists_table(watchlists: Sequence[dict[str, Any]]) -> str:
    """One line per watchlist: id, name, query, filters, channels, and whether updates notify."""
    rows = [f"{len(watchlists)} watchlist{'s' if len(watchlists) != 1 else ''}"]
    for w in watchlists:
        updates = "  +updates" if w.get("notify_updates") else ""
        rows.append(
            f"{w.get('id', '')}  {str(w.get('name', ''))[:30]:<30}  {str(w.get('query', ''))[:40]:<40}  "
            f"{_filters(w)}  [{_channels(w)}]{updates}"
        )
    return "\n".join(rows) + "\n"


def created_lines(created: dict[str, Any], generated: dict[str, str]) -> str:
    """What `watch add` prints: the new id, and the secrets shown this once (feed token, generated webhook secrets)."""
    lines = [
        f"created {created.get('id')}  {created.get('name')}",
        f"feed token (shown once, keep it): {created.get('feed_token')}",
    ]
    lines += [
        f"webhook secret for {url} (shown once, keep it): {secret}" for url, secret in generated.items()
    ]
    return "\n".join(lines) + "\n"
