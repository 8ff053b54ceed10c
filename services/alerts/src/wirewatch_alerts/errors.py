"""The alerts service's domain errors: what a watchlist or the watchlist store refused.

A query outside the limits is `wirewatch_common.query.QueryError` (code `bad_query`), the one search
raises too.
"""

from __future__ import annotations

from wirewatch_common.errors import WirewatchError


class InvalidWatchlist(WirewatchError):
    """The watchlist as a whole cannot work: nothing to look for, a webhook without its secret."""

    code = "invalid_watchlist"


class WatchlistNotFound(WirewatchError):
    """No watchlist has this id (never made, or deleted)."""

    code = "not_found"


class DuplicateName(WirewatchError):
    """Another watchlist already has this name (names compare without case)."""

    code = "duplicate_name"


class TooManyWatchlists(WirewatchError):
    """The store holds as many watchlists as its limit allows."""

    code = "too_many_watchlists"


class StoreUnavailable(WirewatchError):
    """The watchlist store cannot be read or written now (disk, lock held too long): retry later."""

    code = "store_unavailable"
    public = "the watchlist store is unavailable; retry shortly"


class MatcherUnavailable(WirewatchError):
    """The matcher cannot answer now (the percolator's cluster is down): the batch is retried."""

    code = "matcher_unavailable"
    public = "alert matching is unavailable; retry shortly"
