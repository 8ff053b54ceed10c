"""The parse errors, re-exported for the parsers (defined in wirewatch_ingest.errors, which imports nothing)."""

from ..errors import (
    DocumentTooLarge,
    InvalidStory,
    LimitExceeded,
    MalformedDocument,
    ParseError,
    UnsafeDocument,
    UnsupportedFormat,
)

__all__ = [
    "DocumentTooLarge",
    "InvalidStory",
    "LimitExceeded",
    "MalformedDocument",
    "ParseError",
    "UnsafeDocument",
    "UnsupportedFormat",
]
