"""The drop folder: settled files only, done/ and failed/ with the reason (publishing is recorded, not sent)."""

from __future__ import annotations

import json
import os
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wirewatch_common.bus import DeliveryError
from wirewatch_ingest.dropfolder import DropFolder, is_candidate, refusal

pytestmark = [pytest.mark.unit]

STORY = "Ferry service resumes\n\nHELSINKI (STT) - Ferries to Tallinn sailed again on Monday.\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def folder(make_pipeline, recorder, tmp_path: Path):
    pipeline = make_pipeline(publisher=recorder, ingest_max_document_bytes=10_000)
    clock = Clock()
    drop = DropFolder(tmp_path / "drop", pipeline.ingestor, settle=2.0, monotonic=clock)
    drop.setup()
    drop.clock = clock  # type: ignore[attr-defined]
    drop.ledger = pipeline.ledger  # type: ignore[attr-defined]
    drop.publisher = pipeline.publisher  # type: ignore[attr-defined]
    return drop


def report(drop: DropFolder, name: str) -> dict[str, Any]:
    """The error body written beside a failed file: `{"error": {"code", "message", "where"?}}`."""
    body: dict[str, Any] = json.loads((drop.failed / f"{name}.error.txt").read_text(encoding="utf-8"))
    assert body.keys() == {"error"} and {"code", "message"} <= body["error"].keys() <= {
        "code",
        "message",
        "where",
    }
    return body["error"]


def settle(drop: DropFolder) -> dict[str, str]:
    """Scan, let the settle time pass, scan again; return what either scan handled."""
    first = drop.scan_once()
    drop.clock.now += 3  # type: ignore[attr-defined]
    return first | drop.scan_once()


def test_temporary_and_hidden_names_are_ignored() -> None:
    assert is_candidate("story.txt")
    for name in (".story.txt", "story.txt.part", "story.tmp", "~story.txt", "story.txt~"):
        assert not is_candidate(name), name


def test_refusal_names_dot_dot_separators_links_and_special_files() -> None:
    regular = stat.S_IFREG | 0o644
    assert refusal("story.txt", regular) is None
    for name in ("a..b.txt", "..", "x\\..\\y.txt", "/etc/passwd"):
        refused = refusal(name, regular)
        assert refused is not None and refused.code == "unsafe_file_name", name
        assert "'..' or a path separator" in refused.message, name
    for mode, code, word in [
        (stat.S_IFLNK | 0o777, "symlink_refused", "symlink"),
        (stat.S_IFIFO | 0o644, "not_a_regular_file", "FIFO"),
        (stat.S_IFSOCK | 0o644, "not_a_regular_file", "socket"),
        (stat.S_IFCHR | 0o644, "not_a_regular_file", "device"),
    ]:
        refused = refusal("x.txt", mode)
        assert refused is not None and refused.code == code and word in refused.message
        assert refused.body() == {"error": {"code": code, "message": refused.message}}


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
    broken = report(folder, "broken.json")
    assert broken["code"] == "malformed_document"
    assert broken["message"].startswith("JSON is not well formed")
    assert broken["where"]["in"] == "document" and broken["where"]["line"] == 1
    big = report(folder, "big.txt")
    assert big["code"] == "document_too_large" and "10000" in big["message"]
    link = report(folder, "link.txt")
    assert link["code"] == "symlink_refused" and "symlink" in link["message"]
    pipe = report(folder, "pipe.txt")
    assert pipe["code"] == "not_a_regular_file" and "FIFO" in pipe["message"]
    assert (folder.failed / "link.txt").is_symlink() and outside.read_text(encoding="utf-8") == STORY
    assert (folder.directory / "upload.txt.part").exists()  # never touched


def test_the_same_story_dropped_twice_is_a_duplicate_and_both_files_are_done(folder: DropFolder) -> None:
    (folder.directory / "a.txt").write_text(STORY, encoding="utf-8")
    (folder.directory / "b.txt").write_text(STORY, encoding="utf-8")
    assert settle(folder) == {"a.txt": "done", "b.txt": "done"}
    assert (folder.done / "a.txt").exists() and (folder.done / "b.txt").exists()
    ledger = folder.ledger  # type: ignore[attr-defined]
    assert ledger.counts()["versions"] == 1
    (sent,) = folder.publisher.sent  # type: ignore[attr-defined]
    assert sent.key == ledger.unconfirmed(datetime.now(UTC) + timedelta(days=1), timedelta(0))[0].id


def test_dot_dot_names_sockets_and_linked_folders_go_to_failed_unread(folder: DropFolder) -> None:
    (folder.directory / "a..b.txt").write_text(STORY, encoding="utf-8")
    (folder.directory / "..story.txt").write_text(STORY, encoding="utf-8")  # hidden: left alone
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(folder.directory / "sock.txt"))
        target = folder.directory.parent / "elsewhere"
        target.mkdir()
        (target / "inside.txt").write_text(STORY, encoding="utf-8")
        (folder.directory / "dirlink").symlink_to(target, target_is_directory=True)
        assert settle(folder) == {"a..b.txt": "failed", "sock.txt": "failed", "dirlink": "failed"}
    finally:
        listener.close()
    assert report(folder, "a..b.txt")["code"] == "unsafe_file_name"
    assert "'..'" in report(folder, "a..b.txt")["message"]
    assert "socket" in report(folder, "sock.txt")["message"]
    assert report(folder, "dirlink")["code"] == "symlink_refused"
    assert stat.S_ISSOCK(os.lstat(folder.failed / "sock.txt").st_mode)
    assert (target / "inside.txt").read_text(encoding="utf-8") == STORY  # the linked folder was not entered
    assert (folder.directory / "..story.txt").exists()
    assert folder.ledger.counts()["versions"] == 0  # type: ignore[attr-defined]


def test_a_device_file_goes_to_failed_unread(folder: DropFolder) -> None:
    try:
        os.mknod(folder.directory / "null.txt", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device file needs CAP_MKNOD, which this user lacks")
    assert settle(folder) == {"null.txt": "failed"}
    assert "device" in report(folder, "null.txt")["message"]
    assert stat.S_ISCHR(os.lstat(folder.failed / "null.txt").st_mode)


def test_a_fifo_swapped_in_after_the_scan_is_refused_without_blocking(folder: DropFolder) -> None:
    path = folder.directory / "story.txt"
    path.write_text(STORY, encoding="utf-8")
    assert folder.scan_once() == {}
    path.unlink()
    os.mkfifo(path)  # the check after opening catches it; O_NONBLOCK keeps the open from waiting
    assert folder._ingest(["story.txt"]) == {"story.txt": "failed"}
    refused = report(folder, "story.txt")
    assert refused["code"] == "not_a_regular_file" and "FIFO" in refused["message"]


def test_a_file_swapped_for_a_symlink_after_the_scan_is_refused_unfollowed(folder: DropFolder) -> None:
    path = folder.directory / "story.txt"
    path.write_text(STORY, encoding="utf-8")
    assert folder.scan_once() == {}
    outside = folder.directory.parent / "secret.txt"
    outside.write_text(STORY, encoding="utf-8")
    path.unlink()
    path.symlink_to(outside)  # O_NOFOLLOW refuses it (ELOOP)
    assert folder._ingest(["story.txt"]) == {"story.txt": "failed"}
    assert report(folder, "story.txt")["code"] == "symlink_refused"
    assert folder.ledger.counts()["versions"] == 0  # type: ignore[attr-defined]


def test_a_broker_outage_leaves_the_files_for_the_next_scan(folder: DropFolder) -> None:
    (folder.directory / "story.txt").write_text(STORY, encoding="utf-8")
    folder.publisher.failure = DeliveryError("no broker answered")  # type: ignore[attr-defined]
    assert settle(folder) == {"story.txt": "retry"}
    assert (folder.directory / "story.txt").exists() and not list(folder.failed.iterdir())
    assert folder.ledger.counts()["versions"] == 0  # type: ignore[attr-defined]
    folder.publisher.failure = None  # type: ignore[attr-defined]
    assert settle(folder) == {"story.txt": "done"}


def test_an_error_report_is_never_written_through_a_planted_link(folder: DropFolder) -> None:
    victim = folder.directory.parent / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (folder.failed / "broken.json.error.txt").symlink_to(victim)
    (folder.directory / "broken.json").write_text("{", encoding="utf-8")
    assert settle(folder) == {"broken.json": "failed"}  # the report is not written (ELOOP), only logged
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert (folder.failed / "broken.json").read_text(encoding="utf-8") == "{"


def test_files_settled_in_one_scan_share_one_ledger_commit(folder: DropFolder) -> None:
    ledger = folder.ledger  # type: ignore[attr-defined]
    for n in range(5):
        (folder.directory / f"s{n}.txt").write_text(
            f"Ferry {n} resumes\n\nHELSINKI (STT) - Ferry {n} sailed again on Monday.\n", encoding="utf-8"
        )
    (folder.directory / "bad.json").write_text("[", encoding="utf-8")
    before = ledger.commits
    handled = settle(folder)
    assert handled == {**{f"s{n}.txt": "done" for n in range(5)}, "bad.json": "failed"}
    assert ledger.commits == before + 1
    assert ledger.counts() == {"versions": 5, "delivered": 5, "confirmed": 0}
