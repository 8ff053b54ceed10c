"""Domain errors of the translate service: text it will not take, languages it cannot read or reach.

Nothing here knows HTTP: `api.ERRORS` gives each error its status, and the worker records an
engine error's type and message on the `failed` rendition.
"""

from __future__ import annotations

from wirewatch_common.errors import Where, WirewatchError

TEXT: Where = {"in": "body", "field": "text"}
"""The text a desk asked to translate."""


class TranslateError(WirewatchError):
    """Something about a translation request or its text that the service refuses."""

    code = "translate_error"


class TextTooLong(TranslateError):
    """The text is longer than the service translates in one request."""

    code = "text_too_long"

    def __init__(self, chars: int, limit: int) -> None:
        super().__init__(f"text has {chars} characters; the limit is {limit}", where=TEXT)
        self.chars = chars
        self.limit = limit


class BadLanguage(TranslateError):
    """A language tag that is not BCP 47 (`field` says which one: source or target)."""

    code = "bad_language"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", where={"in": "body", "field": field})
        self.field = field


class NoModel(TranslateError):
    """No installed package, nor two through the pivot, translates this pair."""

    code = "no_model"

    def __init__(self, source: str, target: str, installed: list[str]) -> None:
        super().__init__(
            f"no model for {source}→{target}; installed: {', '.join(installed) or 'none'}",
            where={"in": "body", "field": "target"},
        )
        self.source = source
        self.target = target


class UntranslatableText(TranslateError):
    """The text cannot be translated faithfully: a run without any cut point, under the `fail` policy.

    The engine raises it without `where` (it does not know whose text it is); the free-text
    translation raises it again pointing at the request's text.
    """

    code = "untranslatable"
