"""Fetch a feed URL for `wirewatch ingest URL`: http and https only, bounded in size and in time.

The document is fetched here and posted to the ingest API with the content type the server gave,
so the ingest service parses it exactly as it parses an upload.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import IO

from wirewatch_common.redirects import CheckedRedirects

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_MAX_BYTES = 5_000_000
"""The ingest service's own default limit (WIREWATCH_INGEST_MAX_DOCUMENT_BYTES)."""
DEFAULT_TIMEOUT_S = 20.0
_CHUNK = 64 * 1024


class FetchFailed(Exception):
    """The feed could not be fetched; the message says why, for the result line."""


@dataclass(frozen=True)
class Fetched:
    """A fetched document and the content type to post it with."""

    url: str
    data: bytes
    content_type: str


def check_url(url: str) -> None:
    """Refuse anything but an http(s) URL with a host (file://, ftp://, data: ...)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        msg = f"only http:// and https:// feed URLs can be ingested, not {url!r}"
        raise FetchFailed(msg)


def read_bounded(stream: IO[bytes], max_bytes: int, deadline: float, url: str) -> bytes:
    """Read at most `max_bytes` before `deadline` (time.monotonic); raise FetchFailed past either."""
    chunks: list[bytes] = []
    size = 0
    read = getattr(
        stream, "read1", stream.read
    )  # read1 returns what has arrived instead of waiting for a full chunk
    while True:
        if time.monotonic() > deadline:
            msg = f"{url} took longer than the time limit to send"
            raise FetchFailed(msg)
        chunk = read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            msg = f"{url} is larger than {max_bytes} bytes"
            raise FetchFailed(msg)
        chunks.append(chunk)


def fetch(url: str, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT_S) -> Fetched:
    """GET a feed, at most `max_bytes` and `timeout` seconds in all; raise FetchFailed with the reason."""
    check_url(url)
    opener = urllib.request.build_opener(CheckedRedirects(check_url))
    request = urllib.request.Request(  # noqa: S310 - scheme checked above and on every redirect
        url,
        headers={
            "user-agent": "wirewatch-cli",
            "accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
        },
    )
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                msg = f"{url} is larger than {max_bytes} bytes ({declared})"
                raise FetchFailed(msg)
            data = read_bounded(response, max_bytes, deadline, url)
            content_type = response.headers.get("content-type") or "application/octet-stream"
    except urllib.error.HTTPError as exc:
        msg = f"{url} answered HTTP {exc.code} {exc.reason}"
        raise FetchFailed(msg) from exc
    except (urllib.error.URLError, OSError) as exc:
        msg = f"could not fetch {url}: {getattr(exc, 'reason', exc)}"
        raise FetchFailed(msg) from exc
    return Fetched(url, data, content_type)
