"""Feed poller: GET each configured feed when it is due, conditionally (ETag/Last-Modified), and ingest what changed.

The fetch is `wirewatch_common.fetch.bounded_get`: http and https only, bounded in size (the
document limit) and in time, with `wirewatch_common.netguard.AddressPolicy` checking the host of
every redirect hop (default: public addresses only). A feed that fails waits twice as long after
each failure, up to the configured maximum; one that succeeds waits its own interval. A failed poll
is logged and reported in the one error shape: a refused document's own body, or a code for the
failed fetch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

from wirewatch_common.errors import error_body
from wirewatch_common.fetch import Fetched, FetchError, Reason, Wording, bounded_get
from wirewatch_common.netguard import AddressPolicy, Resolver, system_resolver

from .errors import NoStories, ParseError, log_fields
from .pipeline import BrokerUnavailable, Ingestor
from .settings import FEED_POLICY_HINT, FeedSource

log = logging.getLogger(__name__)

DEFAULT_POLICY = AddressPolicy(settings_hint=FEED_POLICY_HINT)
"""Public addresses only, as the settings' defaults say."""

FEED_WORDING = Wording(
    bad_url="refused URL {url!r}: only http and https feeds are polled",
    refused="{cause}",
    status="HTTP {status} from feed",
    too_large_declared="feed declares {declared} bytes; the limit is {limit}",
    too_large="feed is larger than the limit of {limit} bytes",
    timeout="feed took longer than {timeout:g}s",
    network="fetch failed: {cause}",
)
"""How poll failures read in the log and in poll outcomes (the URL is logged beside them)."""

FETCH_CODES = {
    Reason.URL: "feed_url_refused",
    Reason.REFUSED: "feed_address_refused",
    Reason.STATUS: "feed_http_error",
    Reason.TOO_LARGE: "document_too_large",
    Reason.TIMEOUT: "feed_timeout",
    Reason.NETWORK: "feed_unreachable",
}
"""The error code of each way a fetch fails; an over-limit feed is the API's `document_too_large`."""


def fetch_error_body(exc: FetchError) -> dict[str, Any]:
    """A failed fetch in the one error shape."""
    return error_body(FETCH_CODES.get(exc.reason, "feed_fetch_failed"), str(exc))


def fetch(
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    timeout: float,
    policy: AddressPolicy | None = None,
    resolver: Resolver = system_resolver,
) -> Fetched:
    """GET a feed conditionally: a 304 is returned (not modified, no body), any other failure raises FetchError.

    `policy` says which addresses may be reached (default: public addresses only); `resolver`
    turns a host name into addresses (the system resolver; tests name a host of their own).
    """
    headers = {
        "User-Agent": "wirewatch-ingest/0.1",
        "Accept": "application/rss+xml, application/atom+xml, */*",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return bounded_get(
        url,
        max_bytes=max_bytes,
        timeout=timeout,
        headers=headers,
        address_policy=partial((policy or DEFAULT_POLICY).resolve, resolver=resolver),
        also_accept=(HTTPStatus.NOT_MODIFIED,),
        wording=FEED_WORDING,
    )


@dataclass
class FeedState:
    """What the poller remembers of one feed."""

    source: FeedSource
    etag: str | None = None
    last_modified: str | None = None
    next_due: float = 0.0
    failures: int = 0


Fetcher = Callable[..., Fetched]


class FeedPoller:
    """Worker: poll each due feed and ingest what changed."""

    name = "feed-poller"

    def __init__(
        self,
        feeds: Sequence[FeedSource],
        ingestor: Ingestor,
        *,
        timeout: float = 20.0,
        max_backoff: float = 3600.0,
        policy: AddressPolicy | None = None,
        fetcher: Fetcher = fetch,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.states = [FeedState(source) for source in feeds]
        self._policy = policy or DEFAULT_POLICY
        self._ingestor = ingestor
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._fetch = fetcher
        self._monotonic = monotonic

    def poll_due(self) -> dict[str, Any]:
        """Poll every feed that is due; return {url: outcome}.

        An outcome is 'not modified', 'no stories', an ingest result, or an error body
        (`{"error": {"code", "message", "where"?}}`).
        """
        outcomes: dict[str, Any] = {}
        for state in self.states:
            if self._monotonic() < state.next_due:
                continue
            outcomes[state.source.url] = self._poll(state)
        return outcomes

    def _poll(self, state: FeedState) -> Any:
        url = state.source.url
        try:
            fetched = self._fetch(
                url,
                etag=state.etag,
                last_modified=state.last_modified,
                max_bytes=self._ingestor.limits.max_document_bytes,
                timeout=self._timeout,
                policy=self._policy,
            )
            if fetched.status == 304:
                outcome: Any = "not modified"
            else:
                outcome = self._ingestor.ingest(
                    fetched.body, fetched.content_type or "application/rss+xml", via="feed"
                )
                outcome = outcome.to_dict()
        except NoStories:
            outcome = "no stories"
        except (FetchError, ParseError, BrokerUnavailable) as exc:
            body = fetch_error_body(exc) if isinstance(exc, FetchError) else exc.body()
            state.failures += 1
            wait = min(self._max_backoff, state.source.interval_s * 2 ** (state.failures - 1))
            state.next_due = self._monotonic() + wait
            log.warning(
                "feed poll failed",
                extra={"url": url, "failures": state.failures, "retry_in_s": wait, **log_fields(body)},
            )
            return body
        state.failures = 0
        state.etag = fetched.etag or state.etag
        state.last_modified = fetched.last_modified or state.last_modified
        state.next_due = self._monotonic() + state.source.interval_s
        return outcome

    def run(self, stop: threading.Event) -> None:
        """Poll until stopped."""
        while not stop.is_set():
            self.poll_due()
            due = min((s.next_due for s in self.states), default=self._monotonic() + 60)
            stop.wait(max(0.5, min(60.0, due - self._monotonic())))
