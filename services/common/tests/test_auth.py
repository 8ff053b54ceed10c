from __future__ import annotations

import pytest
from pydantic import SecretStr

from wirewatch_common.auth import AccessDenied, authorize, presented_key, role_of
from wirewatch_common.settings import ApiKey

pytestmark = pytest.mark.unit

READER = "reader-key-0123456789"
WRITER = "writer-key-0123456789"
KEYS = (ApiKey(role="reader", key=SecretStr(READER)), ApiKey(role="writer", key=SecretStr(WRITER)))


@pytest.mark.parametrize(
    ("x_api_key", "authorization", "expected"),
    [
        ("abc", None, "abc"),
        (None, "Bearer abc", "abc"),
        (None, "bearer  abc ", "abc"),
        (None, "Basic abc", None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_presented_key(x_api_key, authorization, expected):
    assert presented_key(x_api_key, authorization) == expected


def test_roles_are_found_by_key():
    assert role_of(KEYS, READER) == "reader"
    assert role_of(KEYS, WRITER) == "writer"
    assert role_of(KEYS, WRITER + "x") is None


def test_no_keys_configured_means_open():
    authorize((), "writer", None, None)


def test_writer_may_read_and_write():
    authorize(KEYS, "reader", WRITER, None)
    authorize(KEYS, "writer", None, f"Bearer {WRITER}")


def test_reader_may_read_but_not_write():
    authorize(KEYS, "reader", READER, None)
    with pytest.raises(AccessDenied) as denied:
        authorize(KEYS, "writer", READER, None)
    assert (denied.value.status, denied.value.code) == (403, "forbidden")


@pytest.mark.parametrize(
    ("x_api_key", "message"), [(None, "needs a reader API key"), ("guess", "unknown API key")]
)
def test_missing_or_unknown_key_is_401(x_api_key, message):
    with pytest.raises(AccessDenied, match=message) as denied:
        authorize(KEYS, "reader", x_api_key, None)
    assert denied.value.status == 401
