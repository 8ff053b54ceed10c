"""Domain errors: a stable code, a message that says what to fix, and where, when known.

Nothing here knows HTTP: a service's API maps its errors to statuses in one table (see
`http_errors`), and the drop folder, the poller and the logs write the same body shape.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

Where = dict[str, str | int]
"""Where the problem is: `in` (query, path, header, body, document), `field`, `line`."""


def error_body(code: str, message: str, where: Where | None = None) -> dict[str, Any]:
    """The one error shape: `{"error": {"code", "message", "where"?}}`."""
    body: dict[str, Any] = {"code": code, "message": message}
    if where:
        body["where"] = where
    return {"error": body}


class WirewatchError(Exception):
    """An error of the product's own logic, told apart by `code`; subclasses set their code."""

    code: ClassVar[str] = "error"
    public: ClassVar[str | None] = None
    """What a caller is told instead of the message, when the message names internals (hosts, indices)."""

    def __init__(self, message: str, *, where: Where | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def body(self, *, public: bool = False) -> dict[str, Any]:
        """This error in the one shape; `public` for a caller outside (the message may be withheld)."""
        return error_body(self.code, (self.public if public else None) or self.message, self.where)

    def to_json(self) -> str:
        """The body as indented JSON, for a `failed/*.error.txt` a person reads."""
        return json.dumps(self.body(), ensure_ascii=False, indent=2) + "\n"


def brief(exc: BaseException, limit: int = 300) -> str:
    """Describe an exception on one bounded line for logs and health answers: `Type: message`.

    A long message (a whole HTTP body, a broker's error dump) would flood a log line, so the text
    is cut to `limit` characters, ending in `…` when cut; line breaks and runs of spaces become one.
    """
    if limit < 1:
        msg = f"limit must be at least 1, got {limit}"
        raise ValueError(msg)
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
