"""Fetch a feed URL for `wirewatch ingest URL` with the common bounded GET (http and https, size and time).

The document is fetched here and posted to the ingest API with the content type the server gave,
so the ingest service parses it exactly as it parses an upload. No address policy applies: the
operator names the URL on their own machine, where a feed on localhost or the office network is
a fair thing to ingest (the ingest service's own poller does refuse those by default).
"""

from __future__ import annotations

from dataclasses import dataclass

from wirewatch_common.fetch import bounded_get

DEFAULT_MAX_BYTES = 5_000_000
"""The ingest service's own default limit (WIREWATCH_INGEST_MAX_DOCUMENT_BYTES)."""
DEFAULT_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class FeedDocument:
    """A fetched document and the content type to post it with."""

    url: str
    data: bytes
    content_type: str


def fetch(
    url: str, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT_S
) -> FeedDocument:
    """GET a feed, at most `max_bytes` and `timeout` seconds in all; raise FetchError with the reason."""
    fetched = bounded_get(
        url,
        max_bytes=max_bytes,
        timeout=timeout,
        headers={
            "user-agent": "wirewatch-cli",
            "accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
        },
    )
    return FeedDocument(url, fetched.body, fetched.content_type or "application/octet-stream")
