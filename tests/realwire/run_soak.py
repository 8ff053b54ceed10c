"""The real-wire soak: every real sample and hostile-but-valid document through `wirewatch up`.

    python tests/realwire/run_soak.py --short   # part of make test (feed of 300 items)
    python tests/realwire/run_soak.py           # make test-faults (feed of 10,000 items)

The embedded stack runs with the offline test translation packages. Every file of
../shared/corpus/ (skipped, with the reason, where absent) and the documents of `documents.py`
go through `wirewatch ingest`. Then, per document: refused with a 4xx and its reason, or every
story it held is searchable in its own language with `translated`/`unavailable` renditions; an
embargoed story stays invisible until its moment and then appears without re-ingest; the lag
of every consumer group returns to 0; nothing is dead-lettered; `wirewatch status` exits 0.
Prints what it found and, last, one JSON line; exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from documents import hostile_documents, write_documents

from wirewatch_common.topics import load_contract
from wirewatch_testkit.harness import RunningStack, read_topic

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
TARGETS = ("ar", "tr")
LINE = re.compile(r"^\[\d+/\d+\] (ok|failed) +(\S+): (.*)$")
STORY = re.compile(r"(ww-[0-9a-f]+) v(\d+) (\w+)")


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=15) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def searchable_ids(stack: RunningStack, lang: str) -> set[str]:
    """Every story id the search API lists under one language, paged with its cursor."""
    found: set[str] = set()
    cursor = None
    while True:
        params = {"q": "", "lang": lang, "size": 100, "sort": "newest"}
        if cursor:
            params["cursor"] = cursor
        status, page = _get(f"{stack.url('index')}/v1/search?{urllib.parse.urlencode(params)}")
        if status != 200:
            msg = f"search answered {status}: {page}"
            raise AssertionError(msg)
        found |= {h["story_id"] for h in page["hits"]}
        cursor = page.get("next_cursor")
        if not cursor or not page["hits"]:
            return found


def parse_results(output: str) -> tuple[dict[str, list[tuple[str, int, str]]], dict[str, str]]:
    """`wirewatch ingest` lines → accepted documents with their stories, and refused ones with the reason."""
    accepted: dict[str, list[tuple[str, int, str]]] = {}
    refused: dict[str, str] = {}
    for line in output.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        kind, path, rest = match.groups()
        if kind == "ok":
            accepted[path] = [(sid, int(v), outcome) for sid, v, outcome in STORY.findall(rest)]
        else:
            refused[path] = rest
    return accepted, refused


def wait_drained(stack: RunningStack, timeout: float) -> dict[str, Any]:
    """Wait until every consumer group's lag is 0; return the last status report."""
    deadline = time.monotonic() + timeout
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = stack.command("status", "--json", timeout=60)
        try:
            report = json.loads(result.stdout)
        except ValueError:
            time.sleep(2)
            continue
        lags = [x.get("lag") for x in report.get("lag", [])]
        if lags and all(x == 0 for x in lags):
            return report
        time.sleep(2)
    msg = f"lag did not return to 0 within {timeout:.0f} s: {json.dumps(report.get('lag'))}"
    raise AssertionError(msg)


def check_story(stack: RunningStack, story_id: str) -> tuple[str | None, list[str]]:
    """The story's own language and what is wrong with its language versions (empty when all is well)."""
    status, record = _get(f"{stack.url('index')}/v1/stories/{story_id}")
    if status != 200:
        return None, [f"story view answered {status}"]
    problems = []
    original = record.get("original_language")
    versions = {r["language"]: r for r in record["renditions"]}
    if original not in versions:
        problems.append(f"original {original} not indexed")
    for target in TARGETS:
        if original and original.split("-")[0] == target:
            continue
        rendition = versions.get(target)
        if rendition is None:
            problems.append(f"no {target} rendition")
        elif rendition["translation"]["status"] not in ("translated", "unavailable"):
            t = rendition["translation"]
            problems.append(f"{target} rendition {t['status']}: {t.get('error', '')[:200]}")
    usable = versions.get(original or "", {}).get("pubstatus", "usable") == "usable"
    return (original if usable else None), problems


def hidden_now(stack: RunningStack, story_id: str, until: datetime) -> list[str]:
    """An embargoed story, indexed, is absent from story view and search before `until`."""
    if datetime.now(tz=UTC) >= until:
        return ["the embargo passed before it could be checked: make it later"]
    problems = []
    status, _ = _get(f"{stack.url('index')}/v1/stories/{story_id}")
    if status != 404:
        problems.append(f"embargoed story view answered {status} before its moment")
    if story_id in searchable_ids(stack, "en"):
        problems.append("embargoed story searchable before its moment")
    return problems


def shown_after(stack: RunningStack, story_id: str, until: datetime) -> list[str]:
    """After `until`, story view shows the story within 30 s, and search lists it, without re-ingest."""
    while datetime.now(tz=UTC) < until:
        time.sleep(0.5)
    deadline = time.monotonic() + 30
    while _get(f"{stack.url('index')}/v1/stories/{story_id}")[0] != 200:
        if time.monotonic() > deadline:
            return ["embargoed story not shown by story view 30 s after its moment"]
        time.sleep(1)
    return (
        [] if story_id in searchable_ids(stack, "en") else ["embargoed story not searchable after its moment"]
    )


def run(short: bool) -> dict[str, Any]:
    """Run the soak; the result says what failed (an empty `failures` list means it passed)."""
    contract = load_contract()
    failures: list[str] = []
    embargo_in = 45.0 if short else 60.0
    with tempfile.TemporaryDirectory(prefix="wirewatch-soak-") as tmp:
        root = Path(tmp)
        env = {
            "WIREWATCH_INGEST_MAX_STORIES_PER_DOCUMENT": "20000",
            "WIREWATCH_KAFKA_STALL_AFTER_S": "60",
        }
        with RunningStack(root, env=env) as stack:
            stack.install_test_packages()
            stack.start(timeout=180)
            now = datetime.now(tz=UTC)
            hostile = write_documents(
                root / "hostile",
                hostile_documents(now, feed_items=300 if short else 10_000, embargo_in=embargo_in),
            )
            # The embargoed story goes first, alone: once the stack is drained it is indexed but must be hidden.
            first = stack.command("ingest", *[str(p) for p in hostile if p.name == "embargoed.ninjs.json"])
            accepted, refused = parse_results(first.stdout)
            embargoed = [sid for stories in accepted.values() for sid, *_ in stories]
            until = now + timedelta(seconds=embargo_in)
            if len(embargoed) != 1:
                failures.append(f"the embargoed document was not accepted: {first.stdout[-500:]}")
            else:
                wait_drained(stack, timeout=embargo_in / 2)
                failures += [f"embargo: {p}" for p in hidden_now(stack, embargoed[0], until)]
            inputs = [str(p) for p in hostile if p.name != "embargoed.ninjs.json"]
            if CORPUS.is_dir():
                inputs += [str(CORPUS / "agency"), str(CORPUS / "feeds")]
            else:
                print(f"soak: {CORPUS} is absent: only the team's own documents are sent")  # noqa: T201
            sent = stack.command("ingest", *inputs, timeout=1800)
            more_accepted, more_refused = parse_results(sent.stdout)
            accepted |= more_accepted
            refused |= more_refused
            for path, reason in refused.items():
                if not re.match(r"HTTP 4\d\d ", reason):
                    failures.append(f"{path}: refused without a 4xx: {reason}")
            if embargoed:
                failures += [f"embargo: {p}" for p in shown_after(stack, embargoed[0], until)]
            report = wait_drained(stack, timeout=600 if short else 3600)
            story_ids = {sid for stories in accepted.values() for sid, *_ in stories}
            own: dict[str, set[str]] = {}
            for sid in sorted(story_ids):
                language, problems = check_story(stack, sid)
                failures += [f"{sid}: {p}" for p in problems]
                if language:
                    own.setdefault(language, set()).add(sid)
            for language, ids in own.items():
                missing = ids - searchable_ids(stack, language)
                failures += [f"{sid}: not searchable in {language}" for sid in sorted(missing)]
            dead = read_topic(
                stack.bootstrap_servers, contract.deadletter.name, contract.deadletter.partitions
            )
            for message in dead:
                headers = dict(message.headers() or [])
                reason = headers.get("wirewatch-error", b"").decode(errors="replace")[:200]
                failures.append(f"dead-lettered {message.key()!r}: {reason}")
            status = stack.command("status", timeout=60)
            if status.returncode != 0:
                failures.append(f"wirewatch status exited {status.returncode}:\n{status.stdout[-2000:]}")
            return {
                "short": short,
                "documents_sent": len(accepted) + len(refused),
                "documents_accepted": len(accepted),
                "documents_refused": len(refused),
                "refused": refused,
                "stories": len(story_ids),
                "dead_lettered": len(dead),
                "lag": [x.get("lag") for x in report.get("lag", [])],
                "corpus": CORPUS.is_dir(),
                "failures": failures,
            }


def main(argv: list[str] | None = None) -> int:
    """Run and print the result; exit 1 when anything failed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--short", action="store_true", help="a feed of 300 items instead of 10,000")
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = run(args.short)
    result["seconds"] = round(time.monotonic() - started, 1)
    for failure in result["failures"]:
        print(f"FAIL {failure}")  # noqa: T201
    for path, reason in result["refused"].items():
        print(f"refused {path}: {reason}")  # noqa: T201
    print(json.dumps(result, ensure_ascii=False))  # noqa: T201
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
