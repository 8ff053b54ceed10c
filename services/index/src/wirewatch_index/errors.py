"""The index service's domain errors: what a cursor, a story lookup or the engine refused.

A query outside the limits is `wirewatch_common.query.QueryError` (code `bad_query`), raised by the
parser the index shares with the alerts service.
"""

from __future__ import annotations

from wirewatch_common.errors import WirewatchError


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
