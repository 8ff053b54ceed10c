"""Ingest settings: read from WIREWATCH_INGEST_* variables, every field documented, limits passed through."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from wirewatch_ingest.settings import IngestSettings

pytestmark = pytest.mark.unit


def test_feeds_and_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_INGEST_FEEDS", '[{"url": "https://wire.example/rss", "interval_s": 120}]')
    monkeypatch.setenv("WIREWATCH_INGEST_MAX_DOCUMENT_BYTES", "12345")
    monkeypatch.setenv("WIREWATCH_DATA_DIR", "/srv/ww")
    settings = IngestSettings(_env_file=None)  # type: ignore[call-arg]
    assert [(f.url, f.interval_s) for f in settings.ingest_feeds] == [("https://wire.example/rss", 120.0)]
    assert settings.limits.max_document_bytes == 12345
    assert settings.ledger_file == Path("/srv/ww/ingest/ledger.sqlite3")


def test_only_http_feeds_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_INGEST_FEEDS", '[{"url": "file:///etc/passwd"}]')
    with pytest.raises(ValidationError):
        IngestSettings(_env_file=None)  # type: ignore[call-arg]


def test_every_ingest_setting_is_documented() -> None:
    own = {k: v for k, v in IngestSettings.model_fields.items() if k.startswith("ingest_")}
    assert len(own) >= 15
    assert all(info.description for info in own.values())
