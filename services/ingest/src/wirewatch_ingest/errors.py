"""Errors a parser raises, each saying what was wrong and where; the HTTP layer maps them to status codes."""

from __future__ import annotations


class ParseError(Exception):
    """A document could not become a story; `line` and `field` say where, when known."""

    status = 422

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field

    def to_dict(self) -> dict[str, object]:
        """Return the JSON error body: what was wrong and where."""
        where: dict[str, object] = {}
        if self.line is not None:
            where["line"] = self.line
        if self.field is not None:
            where["field"] = self.field
        return {"error": type(self).__name__, "message": self.message, **where}


class MalformedDocument(ParseError):
    """The bytes are not a well-formed document of the format (syntax, encoding, empty): HTTP 400."""

    status = 400


class UnsafeDocument(MalformedDocument):
    """The document declares entities or external references, which are refused unread: HTTP 400."""


class InvalidStory(ParseError):
    """The document is well formed but is not a usable story (no text, bad date, bad field): HTTP 422."""


class LimitExceeded(InvalidStory):
    """A field is longer than the configured limit; the story is refused, never truncated: HTTP 422."""


class DocumentTooLarge(ParseError):
    """The document is larger than the configured byte limit: HTTP 413."""

    status = 413


class StoryTooLarge(DocumentTooLarge):
    """A story would be larger on Kafka than a message may be (its renditions included): HTTP 413."""


class UnsupportedFormat(ParseError):
    """The content type or sniffed format is not one ingest reads: HTTP 415."""

    status = 415
