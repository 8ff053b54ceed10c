"""Talking to the running services over HTTP (standard library only): readiness, uploads, search, status.

Watchlist requests (`wirewatch watch`) are in watch.py, on top of `call`.

Every request to a wirewatch service goes through `call`; a URL someone else serves (a feed) is
fetched with `wirewatch_common.fetch.bounded_get` instead (see feeds.py).
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTENT_TYPES = {
    ".txt": "text/plain; charset=utf-8",
    ".tst": "text/plain",
    ".json": "application/json",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
}
"""By file ending; the ingest service sniffs further where a type is generic."""


def content_type_for(path: Path) -> str:
    """Pick the content type for a file: `.rss.xml` and `.atom.xml` name feeds, other endings map directly."""
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in (".rss", ".atom"):
            return CONTENT_TYPES[suffix]
    return CONTENT_TYPES.get(suffixes[-1] if suffixes else "", "application/octet-stream")


def documents(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and the files inside folders named (sorted, hidden names and READMEs skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not child.name.startswith(".") and child.stem.upper() != "README":
                    yield child
        else:
            yield path


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def is_url(item: str) -> bool:
    """Tell whether a command-line item names a URL (`scheme://...`) rather than a file."""
    return _URL.match(item) is not None


class Unreachable(Exception):
    """Nothing answered at a URL: refused, timed out or cut off."""

    def __init__(self, url: str, reason: object) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    """What a service answered, whatever the status."""

    status: int
    reason: str
    body: bytes


def call(
    url: str,
    *,
    timeout: float,
    api_key: str | None = None,
    data: bytes | None = None,
    content_type: str | None = None,
    method: str | None = None,
) -> Answer:
    """Send one request to a wirewatch service; raise Unreachable if none answers.

    The method is GET, or POST when `data` is given, unless `method` names another (PATCH, DELETE).
    Every HTTP status is an answer: /readyz says 503 with a body worth reading.
    """
    headers = {"content-type": content_type} if content_type else {}
    if api_key:
        headers["x-api-key"] = api_key
    method = method or ("GET" if data is None else "POST")
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - our services
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(int(response.status), str(response.reason), response.read())
    except urllib.error.HTTPError as exc:
        try:
            return Answer(exc.code, str(exc.reason), exc.read())
        finally:
            exc.close()
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise Unreachable(url, getattr(exc, "reason", exc)) from exc


@dataclass(frozen=True)
class Upload:
    """What the ingest API answered for one file or feed URL."""

    path: Path | str
    status: int
    body: dict[str, object]

    @property
    def ok(self) -> bool:
        """202 means accepted."""
        return self.status == 202

    def line(self) -> str:
        """One result line for the terminal."""
        if self.ok:
            stories = self.body.get("stories")
            stories = stories if isinstance(stories, list) else []
            outcomes = ", ".join(
                f"{s['id']} v{s['version']} {s['outcome']}" for s in stories if isinstance(s, dict)
            )
            return f"ok     {self.path}: {self.body.get('format')} → {outcomes}"
        message = error_message(self.body)
        if self.status == 0:  # nothing answered: the message says what could not be reached
            return f"failed {self.path}: {message}"
        return f"failed {self.path}: HTTP {self.status} {message}"


def error_message(body: dict[str, Any]) -> str:
    """The message of a service's JSON error (`{"error": {"code", "message", "where"}}`), with where."""
    error = body.get("error")
    if not isinstance(error, dict):
        return str(body.get("message") or body)
    message = str(error.get("message") or error.get("code") or error)
    where = error.get("where")
    if isinstance(where, dict) and where:
        message += " (" + ", ".join(f"{k} {v}" for k, v in where.items()) + ")"
    return message


def upload(base_url: str, path: Path, api_key: str | None = None, timeout: float = 60.0) -> Upload:
    """POST one file to the ingest API."""
    return post_document(base_url, path, path.read_bytes(), content_type_for(path), api_key, timeout)


def post_document(
    base_url: str,
    source: Path | str,
    data: bytes,
    content_type: str,
    api_key: str | None = None,
    timeout: float = 60.0,
) -> Upload:
    """POST one document to the ingest API; `source` only names it in the result line."""
    try:
        answer = call(
            f"{base_url}/v1/stories", timeout=timeout, api_key=api_key, data=data, content_type=content_type
        )
    except Unreachable as exc:
        return Upload(source, 0, {"message": f"ingest API unreachable at {base_url}: {exc.reason}"})
    try:
        body = json.loads(answer.body or b"{}")
    except ValueError:
        body = {"message": answer.reason}
    return Upload(source, answer.status, body if isinstance(body, dict) else {"message": body})


def ready(base_url: str, timeout: float = 2.0) -> bool:
    """Tell whether a service answers 200 on /readyz."""
    try:
        return call(f"{base_url}/readyz", timeout=timeout).status == 200
    except Unreachable:
        return False


def wait_ready(base_url: str, deadline_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll /readyz until it answers 200, the process behind it dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and alive():
        if ready(base_url):
            return True
        time.sleep(0.25)
    return False


def search(
    base_url: str, query: str, lang: str | None = None, size: int = 20, api_key: str | None = None
) -> dict[str, object]:
    """Run one search on the index API and return its JSON answer (raises SearchFailed)."""
    params = {"q": query, "size": str(size)}
    if lang:
        params["lang"] = lang
    try:
        answer = call(f"{base_url}/v1/search?{urllib.parse.urlencode(params)}", timeout=30, api_key=api_key)
    except Unreachable as exc:
        msg = f"search API unreachable at {base_url}: {exc.reason}"
        raise SearchFailed(msg) from exc
    if not 200 <= answer.status < 300:
        msg = f"search API answered HTTP {answer.status}: {answer.body.decode('utf-8', 'replace')[:500]}"
        raise SearchFailed(msg)
    try:
        value = json.loads(answer.body)
    except ValueError as exc:
        msg = f"search API answered HTTP {answer.status} with a body that is not JSON: {answer.body[:200]!r}"
        raise SearchFailed(msg) from exc
    return value if isinstance(value, dict) else {}


class SearchFailed(Exception):
    """The search API could not answer."""


def hits_table(answer: dict[str, object]) -> str:
    """Render search hits as a plain-text table: time, languages, provider, headline."""
    hits = answer.get("hits")
    rows = [f"{answer.get('total', 0)} stories"]
    for hit in hits if isinstance(hits, list) else []:
        if not isinstance(hit, dict):
            continue
        when = str(hit.get("versioncreated", ""))[:16].replace("T", " ")
        langs = ",".join(hit.get("languages") or [])
        rows.append(
            f"{when:<16}  {hit.get('language', ''):<3} [{langs:<8}]  {str(hit.get('provider') or '')[:20]:<20}  "
            f"{hit.get('headline', '')}"
        )
    return "\n".join(rows) + "\n"
