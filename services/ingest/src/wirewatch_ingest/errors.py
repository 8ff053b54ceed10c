"""Ingest's domain errors: why a document was refused or nothing was accepted, with a code and where.

Nothing here knows HTTP: `api.ERRORS` gives each its status. The drop folder writes the same
body the API answers (`to_json()`) to its reports, the poller returns it as a poll's outcome, and
both log its fields (`log_fields`).
"""

from __future__ import annotations

from typing import Any

from wirewatch_common.errors import Where, WirewatchError


def _where(line: int | None, field: str | None) -> Where | None:
    """Place a problem inside the document, or None when the parser could not say where."""
    where: Where = {}
    if line is not None:
        where["line"] = line
    if field is not None:
        where["field"] = field
    return {"in": "document", **where} if where else None


class ParseError(WirewatchError):
    """A document could not become a story; `line` and `field` say where, when known."""

    code = "parse_error"

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        super().__init__(message, where=_where(line, field))
        self.line = line
        self.field = field


class MalformedDocument(ParseError):
    """The bytes are not a well-formed document of the format (syntax, encoding, empty)."""

    code = "malformed_document"


class UnsafeDocument(MalformedDocument):
    """The document declares entities or external references, which are refused unread."""

    code = "unsafe_document"


class InvalidStory(ParseError):
    """The document is well formed but is not a usable story (no text, bad date, bad field)."""

    code = "invalid_story"


class LimitExceeded(InvalidStory):
    """A field is longer than the configured limit; the story is refused, never truncated."""

    code = "limit_exceeded"


class DocumentTooLarge(ParseError):
    """The document is larger than the configured byte limit."""

    code = "document_too_large"


class StoryTooLarge(DocumentTooLarge):
    """A story would be larger on Kafka than a message may be (its renditions included)."""

    code = "story_too_large"


class UnsupportedFormat(ParseError):
    """The content type or sniffed format is not one ingest reads."""

    code = "unsupported_format"


class NoStories(WirewatchError):
    """The document parsed but held no text story (e.g. a picture item or an empty feed)."""

    code = "no_stories"


LEDGER_MESSAGE = "the ingest ledger could not record the story; retry"


class LedgerUnavailable(WirewatchError):
    """The ledger could not record an admission or a delivery: nothing was accepted, a retry may succeed."""

    code = "ledger_unavailable"

    def __init__(self, message: str = LEDGER_MESSAGE) -> None:
        super().__init__(message)


def log_fields(body: dict[str, Any]) -> dict[str, Any]:
    """An error body as log fields, `code`, `error` (the message) and `where`, as the API's refusals are logged.

    Flat rather than nested, so `error` is text in every log line a log store indexes.
    """
    error = body["error"]
    fields = {"code": error["code"], "error": error["message"]}
    if "where" in error:
        fields["where"] = error["where"]
    return fields
