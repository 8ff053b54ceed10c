from __future__ import annotations

import io
from pathlib import Path

import pytest

from wirewatch_common.broker import free_port
from wirewatch_stack.cli import send_documents
from wirewatch_stack.client import content_type_for, documents, error_message

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("story.txt", "text/plain; charset=utf-8"),
        ("item.newsml.xml", "application/xml"),
        ("wire.rss.xml", "application/rss+xml"),
        ("briefs.atom.xml", "application/atom+xml"),
        ("item.ninjs.json", "application/json"),
        ("ANPA.TST", "text/plain"),
        ("noext", "application/octet-stream"),
    ],
)
def test_content_type_follows_the_file_name(name, expected):
    assert content_type_for(Path(name)) == expected


def test_folders_expand_to_their_documents_without_readmes():
    found = list(documents([SAMPLES]))
    assert len(found) == 7
    assert all(p.name != "README.md" for p in found)


def test_unreachable_api_fails_every_file_with_a_clear_line(tmp_path):
    doc = tmp_path / "one.txt"
    doc.write_text("Headline\n\nBody.\n")
    out = io.StringIO()
    failed = send_documents(f"http://127.0.0.1:{free_port()}", [doc], None, out)
    assert failed == 1
    assert "[1/1] failed" in out.getvalue()
    assert "ingest API unreachable" in out.getvalue()


def test_models_command_delegates_to_the_translate_service(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, WIREWATCH_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "wirewatch_stack.cli", "models", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"no translation packages in {tmp_path / 'models'}" in result.stdout


def test_search_against_no_api_fails_plainly():
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wirewatch_stack.cli",
            "search",
            "x",
            "--url",
            f"http://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "search API unreachable" in result.stderr


def test_a_refusal_line_carries_the_services_message_and_where():
    body = {"error": {"code": "malformed_document", "message": "not well-formed", "where": {"line": 3}}}
    assert error_message(body) == "not well-formed (line 3)"
    assert error_message({"error": {"code": "too_large"}}) == "too_large"
