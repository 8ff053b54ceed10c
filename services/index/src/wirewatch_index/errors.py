"""The index service's domain errors: what a search, a cursor, a story lookup or the engine refused."""

from __future__ import annotations

from wirewatch_common.errors import WirewatchError


class QueryError(WirewatchError, ValueError):
    """The query or a filter is outside the limits (too many clauses, a phrase too long)."""

    code = "bad_query"


class CursorError(WirewatchError, ValueError):
    """The cursor is malformed, forged, or belongs to another search."""

    code = "bad_cursor"


class StoryNotFound(WirewatchError):
    """No story with this id is visible (absent, or under embargo: the two read alike)."""

    code = "not_found"


class BackendUnavailable(WirewatchError):
    """The engine cannot be reached or cannot write now (an outage): retry later, commit nothing."""

    code = "backend_unavailable"
    public = "the search backend is unavailable; retry shortly"
