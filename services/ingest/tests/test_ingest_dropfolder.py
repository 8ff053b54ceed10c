"""The drop folder against the real session broker: settled files only, done/ and failed/ with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wirewatch_common.bus import Admin, Producer
from wirewatch_ingest.delivery import ResilientPublisher
from wirewatch_ingest.dropfolder import DropFolder, is_candidate
from wirewatch_ingest.ledger import Ledger
from wirewatch_ingest.pipeline import Ingestor

pytestmark = [pytest.mark.integration]

STORY = "Ferry service resumes\n\nHELSINKI (STT) - Ferries to Tallinn sailed again on Monday.\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def folder(broker, make_settings, make_contract, tmp_path: Path):
    settings = make_settings(broker.bootstrap_servers, ingest_max_document_bytes=10_000)
    contract = make_contract()
    admin = Admin.from_settings(settings)
    admin.provision(contract)
    admin.close()
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    publisher = ResilientPublisher(lambda: Producer.from_settings(settings))
    ingestor = Ingestor(ledger, publisher, contract.stories.name, settings.limits)
    clock = Clock()
    drop = DropFolder(tmp_path / "drop", ingestor, settle=2.0, monotonic=clock)
    drop.setup()
    drop.clock = clock  # type: ignore[attr-defined]
    drop.ledger = ledger  # type: ignore[attr-defined]
    try:
        yield drop
    finally:
        publisher.close()
        ledger.close()


def settle(drop: DropFolder) -> dict[str, str]:
    """Scan, let the settle time pass, scan again; return what either scan handled."""
    first = drop.scan_once()
    drop.clock.now += 3  # type: ignore[attr-defined]
    return first | drop.scan_once()


def test_temporary_and_hidden_names_are_ignored() -> None:
    assert is_candidate("story.txt")
    for name in (".story.txt", "story.txt.part", "story.tmp", "~story.txt", "story.txt~", "a..b.txt"):
        assert not is_candidate(name), name


def test_a_file_is_read_only_once_its_size_settled(folder: DropFolder) -> None:
    path = folder.directory / "story.txt"
    path.write_text(STORY[:20], encoding="utf-8")
    assert folder.scan_once() == {}
    folder.clock.now += 1  # type: ignore[attr-defined]
    with path.open("a", encoding="utf-8") as handle:
        handle.write(STORY[20:])  # the writer is still at work: the clock restarts
    assert folder.scan_once() == {}
    folder.clock.now += 1.5  # type: ignore[attr-defined]
    assert folder.scan_once() == {}
    folder.clock.now += 1  # type: ignore[attr-defined]
    assert folder.scan_once() == {"story.txt": "done"}
    assert (folder.done / "story.txt").read_text(encoding="utf-8") == STORY
    assert not path.exists()


def test_failures_move_to_failed_with_the_reason(folder: DropFolder) -> None:
    (folder.directory / "broken.json").write_text('{"headline": ', encoding="utf-8")
    (folder.directory / "big.txt").write_text("x" * 20_000, encoding="utf-8")
    (folder.directory / "upload.txt.part").write_text(STORY, encoding="utf-8")
    outside = folder.directory.parent / "secret.txt"
    outside.write_text(STORY, encoding="utf-8")
    (folder.directory / "link.txt").symlink_to(outside)
    os.mkfifo(folder.directory / "pipe.txt")
    handled = settle(folder)
    assert handled == {
        "broken.json": "failed",
        "big.txt": "failed",
        "link.txt": "failed",
        "pipe.txt": "failed",
    }
    reason = (folder.failed / "broken.json.error.txt").read_text(encoding="utf-8")
    assert reason.startswith("MalformedDocument: JSON is not well formed") and "line 1" in reason
    assert "DocumentTooLarge" in (folder.failed / "big.txt.error.txt").read_text(encoding="utf-8")
    assert "symlink" in (folder.failed / "link.txt.error.txt").read_text(encoding="utf-8")
    assert "not a regular file" in (folder.failed / "pipe.txt.error.txt").read_text(encoding="utf-8")
    assert (folder.failed / "link.txt").is_symlink() and outside.read_text(encoding="utf-8") == STORY
    assert (folder.directory / "upload.txt.part").exists()  # never touched


def test_the_same_story_dropped_twice_is_a_duplicate_and_both_files_are_done(folder: DropFolder) -> None:
    (folder.directory / "a.txt").write_text(STORY, encoding="utf-8")
    (folder.directory / "b.txt").write_text(STORY, encoding="utf-8")
    assert settle(folder) == {"a.txt": "done", "b.txt": "done"}
    assert (folder.done / "a.txt").exists() and (folder.done / "b.txt").exists()
    ledger = folder.ledger  # type: ignore[attr-defined]
    assert ledger.counts()["versions"] == 1
