"""Ingest's domain errors: the codes and statuses the API has always answered, `where` from line and field,
and a closed ledger or a silent broker turned into the errors that say so."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wirewatch_common.bus import DeliveryError
from wirewatch_common.errors import WirewatchError
from wirewatch_common.http_errors import status_of
from wirewatch_ingest.api import ERRORS
from wirewatch_ingest.errors import (
    DocumentTooLarge,
    InvalidStory,
    LedgerUnavailable,
    LimitExceeded,
    MalformedDocument,
    NoStories,
    ParseError,
    StoryTooLarge,
    UnsafeDocument,
    UnsupportedFormat,
    log_fields,
)
from wirewatch_ingest.ledger import Ledger
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.pipeline import BrokerUnavailable, Ingestor
from wirewatch_ingest.sources import parse_document

pytestmark = [pytest.mark.unit]

AGENCY = b"Harbour reopens\n\nGDANSK (PAP) - The harbour reopened on Tuesday.\n"


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (MalformedDocument("m"), "malformed_document", 400),
        (UnsafeDocument("m"), "unsafe_document", 400),
        (InvalidStory("m"), "invalid_story", 422),
        (LimitExceeded("m"), "limit_exceeded", 422),
        (DocumentTooLarge("m"), "document_too_large", 413),
        (StoryTooLarge("m"), "story_too_large", 413),
        (UnsupportedFormat("m"), "unsupported_format", 415),
        (NoStories("m"), "no_stories", 422),
        (BrokerUnavailable(), "broker_unavailable", 503),
        (LedgerUnavailable(), "ledger_unavailable", 503),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_error_keeps_the_code_and_status_the_api_answered(
    error: WirewatchError, code: str, status: int
) -> None:
    assert error.code == code
    assert status_of(error, ERRORS) == status
    assert not hasattr(error, "status") and not hasattr(error, "to_dict")  # HTTP lives in api.ERRORS


def test_where_is_built_from_line_and_field() -> None:
    assert MalformedDocument("bad byte", line=3).body() == {
        "error": {"code": "malformed_document", "message": "bad byte", "where": {"in": "document", "line": 3}}
    }
    both = LimitExceeded("too long", line=2, field="headline")
    assert (both.line, both.field) == (2, "headline")
    assert both.where == {"in": "document", "line": 2, "field": "headline"}
    assert InvalidStory("no text").body() == {"error": {"code": "invalid_story", "message": "no text"}}


def test_a_parser_refusal_carries_its_place_in_the_document() -> None:
    with pytest.raises(ParseError) as info:
        parse_document(
            b'{\n"headline": "x",\n oops}', "application/json", received=datetime.now(UTC), limits=Limits()
        )
    assert info.value.code == "malformed_document" and info.value.where == {"in": "document", "line": 3}
    assert '"line": 3' in info.value.to_json()


def test_log_fields_flatten_the_body_so_error_is_always_text() -> None:
    assert log_fields(LimitExceeded("too long", field="headline").body()) == {
        "code": "limit_exceeded",
        "error": "too long",
        "where": {"in": "document", "field": "headline"},
    }
    assert log_fields(NoStories("empty feed").body()) == {"code": "no_stories", "error": "empty feed"}


def test_the_broker_error_is_still_a_bus_delivery_error() -> None:
    assert isinstance(BrokerUnavailable(), DeliveryError)
    assert BrokerUnavailable().message == "the broker did not confirm delivery; nothing was accepted, retry"


@pytest.mark.parametrize("action", ["admit", "forget", "delivered"])
def test_a_failing_ledger_raises_ledger_unavailable_with_the_sqlite_cause(
    tmp_path: Path, action: str
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.close()
    now = datetime.now(UTC)
    calls = {
        "admit": lambda: ledger.admit([], now),
        "forget": lambda: ledger.forget([]),
        "delivered": lambda: ledger.delivered([], now),
    }
    with pytest.raises(LedgerUnavailable) as info:
        calls[action]()
    assert info.value.code == "ledger_unavailable"
    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_a_publish_the_broker_did_not_confirm_is_broker_unavailable_and_forgotten(
    make_pipeline, recorder
) -> None:
    pipeline = make_pipeline(publisher=recorder)
    recorder.failure = DeliveryError("no broker answered")
    with pytest.raises(BrokerUnavailable) as info:
        pipeline.ingestor.ingest(AGENCY, "text/plain", via="test")
    assert isinstance(info.value.__cause__, DeliveryError) and "no broker answered" in str(
        info.value.__cause__
    )
    assert pipeline.ledger.counts()["versions"] == 0  # the retry is not taken for a duplicate
    recorder.failure = None
    result = pipeline.ingestor.ingest(AGENCY, "text/plain", via="test")
    assert result.admissions[0].outcome.value == "accepted"


def test_an_ingestor_over_a_closed_ledger_refuses_with_ledger_unavailable(tmp_path: Path, recorder) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.close()
    ingestor = Ingestor(ledger, recorder, "unused", Limits())
    with pytest.raises(LedgerUnavailable):
        ingestor.ingest(AGENCY, "text/plain", via="test")
    (outcome,) = ingestor.ingest_many([(AGENCY, "text/plain")], via="test")
    assert isinstance(outcome, LedgerUnavailable)
    assert recorder.sent == []
