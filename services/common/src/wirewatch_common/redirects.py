"""A urllib redirect handler that puts every hop through the caller's URL check."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from http.client import HTTPMessage
from typing import IO


class CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only once `check` accepted its target (it raises to refuse), at most 5 hops."""

    max_redirections = 5

    def __init__(self, check: Callable[[str], None]) -> None:
        super().__init__()
        self._check = check

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        """Check the next hop, then let urllib build its request."""
        self._check(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)
