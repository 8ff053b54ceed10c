"""Talking to the running services over HTTP (standard library only): readiness, uploads, feeds, status."""

from __future__ import annotations

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
    headers = {"content-type": content_type}
    if api_key:
        headers["x-api-key"] = api_key
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own ingest API
        f"{base_url}/v1/stories", data=data, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Upload(source, response.status, json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {"message": exc.reason}
        return Upload(source, exc.code, body if isinstance(body, dict) else {"message": body})
    except (urllib.error.URLError, OSError) as exc:
        return Upload(source, 0, {"message": f"ingest API unreachable at {base_url}: {exc}"})


def ready(base_url: str, timeout: float = 2.0) -> bool:
    """Tell whether a service answers 200 on /readyz."""
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
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
    request = urllib.request.Request(  # noqa: S310 - the operator's own search API
        f"{base_url}/v1/search?{urllib.parse.urlencode(params)}",
        headers={"x-api-key": api_key} if api_key else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        msg = f"search API answered HTTP {exc.code}: {exc.read().decode('utf-8', 'replace')[:500]}"
        raise SearchFailed(msg) from exc
    except (urllib.error.URLError, OSError) as exc:
        msg = f"search API unreachable at {base_url}: {exc}"
        raise SearchFailed(msg) from exc
    return answer if isinstance(answer, dict) else {}


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
