"""`brief`: one bounded line per exception, for logs and health answers."""

from __future__ import annotations

import pytest

from wirewatch_common.errors import brief

pytestmark = pytest.mark.unit


def test_names_the_type_and_keeps_a_short_message_whole():
    assert brief(ValueError("size must be at most 100, got 400")) == (
        "ValueError: size must be at most 100, got 400"
    )


def test_an_exception_without_a_message_is_its_type():
    assert brief(TimeoutError()) == "TimeoutError"


def test_a_long_message_is_cut_to_the_limit_and_says_so():
    text = brief(RuntimeError("x" * 1000), 50)
    assert len(text) == 50
    assert text.startswith("RuntimeError: xxx") and text.endswith("…")
    assert len(brief(RuntimeError("x" * 1000))) == 300, "300 characters unless told otherwise"


def test_a_message_exactly_at_the_limit_is_not_marked_as_cut():
    exc = OSError("y" * (40 - len("OSError: ")))
    assert brief(exc, 40) == f"OSError: {exc}"
    assert len(brief(exc, 40)) == 40


def test_line_breaks_in_the_message_become_single_spaces():
    exc = ValueError("1 validation error for Story\nheadline\n    Field required")
    assert brief(exc) == "ValueError: 1 validation error for Story headline Field required"


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="limit must be at least 1, got 0"):
        brief(ValueError("x"), 0)
