from __future__ import annotations

import json
import logging

import pytest

from wirewatch_common.logs import JsonFormatter, TextFormatter

pytestmark = pytest.mark.unit


def _record(**extra) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "wirewatch.test", "levelname": "INFO", "msg": "indexed %s", "args": ("x",)}
    )
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_message_fields():
    line = JsonFormatter("index").format(_record(story_id="ww-1", topic="t", partition=2, offset=41))
    doc = json.loads(line)
    assert doc["msg"] == "indexed x"
    assert doc["service"] == "index"
    assert (doc["story_id"], doc["topic"], doc["partition"], doc["offset"]) == ("ww-1", "t", 2, 41)
    assert doc["ts"].endswith("+00:00")


def test_json_lines_keep_non_ascii_readable():
    doc = JsonFormatter("x").format(_record(headline="İdlib'deki çatışma"))
    assert "İdlib'deki çatışma" in doc


def test_text_lines_append_fields():
    assert "story_id=ww-9" in TextFormatter("ingest").format(_record(story_id="ww-9"))
