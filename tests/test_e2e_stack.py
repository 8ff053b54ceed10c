"""The whole product, end to end: `wirewatch up` on free ports with test translation packages.

Stories in every wire format and language go in through the CLI (files and a feed URL) and the
API; each must become searchable in its original language and its ar/tr renditions (Arabic and
Turkish originals in English too: the text their pivot made is kept), through the search API and
`wirewatch search --json`. An independent Kafka client (confluent-kafka) reads
the renditions topic and every message must validate against the published JSON Schema. Then
the translate process is SIGKILLed mid-stream; the supervisor must restart it and every story
must end up indexed exactly once per language.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from wirewatch_common.topics import load_contract
from wirewatch_stack.client import post_document
from wirewatch_testkit.harness import RunningStack, read_topic
from wirewatch_testkit.processes import process_alive

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SCHEMAS = ROOT / "deploy" / "schemas"
TARGETS = ("ar", "tr")
DEADLINE_S = 90.0

SAMPLE_LANGUAGES = {
    "harbour-fire.txt": "en",  # agency text
    "grain-corridor.nitf.xml": "en",  # NITF
    "desalination.ninjs.json": "ar",  # ninjs
    "earthquake-drill.newsml.xml": "tr",  # NewsML-G2
    "regional-wire.rss.xml": "tr",  # RSS
    "market-briefs.atom.xml": "en",  # Atom
    "date-harvest.txt": "ar",  # agency text
}

# Written for this test: the format/language pairs the samples do not cover.
EXTRA_DOCUMENTS = {
    "kopru.txt": (
        "tr",
        "Boğaz'daki eski köprüde bakım çalışması tamamlandı\n\n"
        "İSTANBUL (Wirewatch Test) - Boğaz'daki eski asma köprüde üç ay süren bakım çalışması "
        "pazartesi günü tamamlandı.\n\nKöprü salı sabahından itibaren yeniden trafiğe açılacak.\n",
    ),
    "library.ninjs.json": (
        "en",
        json.dumps(
            {
                "uri": "urn:wirewatch-test:ninjs:library-0001",
                "type": "text",
                "version": "1",
                "versioncreated": "2026-11-24T09:00:00Z",
                "language": "en",
                "headlines": [{"role": "main", "value": "City library opens a night reading room"}],
                "bodies": [
                    {
                        "role": "main",
                        "contenttype": "text/plain",
                        "value": "The central library will keep one reading room open until midnight.",
                    }
                ],
            }
        ),
    ),
    "souq.nitf.xml": (
        "ar",
        '<?xml version="1.0" encoding="UTF-8"?>\n<nitf><head><title>افتتاح سوق جديد للحرفيين</title>'
        '<docdata><doc-id id-string="wwt-nitf-ar-0001"/><date.issue norm="20261124T080000Z"/>'
        '<du-key version="1"/></docdata></head><body><body.head><hedline><hl1>افتتاح سوق جديد للحرفيين'
        "</hl1></hedline></body.head><body.content><p>افتتحت البلدية يوم الثلاثاء سوقا جديدا يضم أربعين "
        "متجرا للحرفيين المحليين.</p></body.content></body></nitf>\n",
    ),
}

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Wirewatch test feed</title><link>https://test.wirewatch.invalid/</link>
<description>Written for the end-to-end test</description><language>en</language>
<item><title>Ferry timetable changes for the winter season</title>
<link>https://test.wirewatch.invalid/ferry</link><guid isPermaLink="false">wwt-rss-en-0001</guid>
<pubDate>Tue, 24 Nov 2026 08:00:00 +0000</pubDate>
<description>The harbour ferry will sail every forty minutes from December.</description></item>
</channel></rss>
"""

ACCEPTED = re.compile(r"(ww-[0-9a-f]+) v(\d+) (accepted|updated|duplicate)")


class _FeedHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = FEED.encode()
        self.send_response(200)
        self.send_header("content-type", "application/rss+xml; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _searchable(stack: RunningStack, lang: str) -> list[str]:
    query = urllib.parse.urlencode({"q": "", "lang": lang, "size": 100, "sort": "newest"})
    return [h["story_id"] for h in _get(f"{stack.url('index')}/v1/search?{query}")["hits"]]


def _wait_searchable(stack: RunningStack, expected: dict[str, set[str]], timeout: float) -> None:
    """Wait until every story is found under each of its languages."""
    deadline = time.monotonic() + timeout
    while True:
        missing = {}
        for lang in ("en", "ar", "tr"):
            want = {sid for sid, langs in expected.items() if lang in langs}
            gone = want - set(_searchable(stack, lang))
            if gone:
                missing[lang] = sorted(gone)
        if not missing:
            return
        assert time.monotonic() < deadline, f"not searchable in time: {missing}\n{stack.output()}"
        time.sleep(0.5)


def _validated(stack: RunningStack, role: str, schema: str) -> list[dict]:
    """Every message of a contract topic, each checked against a published JSON Schema."""
    spec = load_contract().topics[role]
    validator = Draft202012Validator(json.loads((SCHEMAS / schema).read_text()))
    docs = []
    for message in read_topic(stack.bootstrap_servers, spec.name, spec.partitions):
        doc = json.loads(message.value())
        errors = sorted(validator.iter_errors(doc), key=str)
        assert not errors, f"{spec.name} {message.key()}: {errors[0]}"
        headers = dict(message.headers() or [])
        assert headers["wirewatch-schema-version"] == b"1"
        assert headers["wirewatch-language"].decode() == doc["language"]
        docs.append(doc)
    return docs


def _ids(text: str) -> list[str]:
    return [m.group(1) for m in ACCEPTED.finditer(text)]


def test_the_stack_end_to_end_with_a_translate_crash(tmp_path):
    contract = load_contract()
    stack = RunningStack(tmp_path, env={"WIREWATCH_INGEST_REPUBLISH_GRACE_S": "600"})
    feed_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FeedHandler)
    threading.Thread(target=feed_server.serve_forever, daemon=True).start()
    try:
        stack.install_test_packages()
        stack.start(timeout=120)
        assert "no translation packages" not in stack.output(200), "the models hint is only for an empty dir"

        # Every format and language through the CLI: files, a folder, and a feed URL.
        extra = tmp_path / "extra"
        extra.mkdir()
        for name, (_, text) in EXTRA_DOCUMENTS.items():
            (extra / name).write_text(text, encoding="utf-8")
        feed_url = f"http://127.0.0.1:{feed_server.server_address[1]}/feed.rss"
        sent = stack.command("ingest", str(SAMPLES), str(extra), feed_url)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "\r" not in sent.stderr, "no progress bar when stderr is not a terminal"
        originals: dict[str, str] = {}
        for line in sent.stdout.splitlines():
            name = line.split(": ", 1)[0].rsplit("/", 1)[-1]
            lang = {**SAMPLE_LANGUAGES, **{k: v[0] for k, v in EXTRA_DOCUMENTS.items()}}.get(name)
            if name == "feed.rss":
                lang = "en"
            assert lang is not None, line
            for story_id in _ids(line):
                originals[story_id] = lang
        # Arabic and Turkish originals pivot through English for each other: that English is kept.
        expected = {
            sid: {lang, *TARGETS, *(("en",) if lang != "en" else ())} for sid, lang in originals.items()
        }
        assert len(sent.stdout.splitlines()) == len(SAMPLE_LANGUAGES) + len(EXTRA_DOCUMENTS) + 1
        assert len(originals) == 9 + len(EXTRA_DOCUMENTS) + 1

        _wait_searchable(stack, expected, DEADLINE_S)

        # The CLI finds them too, in every language.
        for lang in ("en", "ar", "tr"):
            found = stack.command("search", "", "--lang", lang, "--size", "100", "--json")
            assert found.returncode == 0, found.stderr
            ids = {h["story_id"] for h in json.loads(found.stdout)["hits"]}
            assert {sid for sid, langs in expected.items() if lang in langs} <= ids

        # Downstream view: every rendition on the topic, read by librdkafka, validates against the schema.
        wanted = {(sid, lang) for sid, langs in expected.items() for lang in langs if lang != originals[sid]}
        renditions = _validated(stack, "renditions", "story.schema.json")
        assert {(d["id"], d["language"]) for d in renditions} == wanted
        # Headlines first: a long story's rendition may come as `partial` first; each ends translated.
        assert {d["translation"]["status"] for d in renditions} <= {"translated", "partial"}
        assert {
            (d["id"], d["language"]) for d in renditions if d["translation"]["status"] == "translated"
        } == wanted
        renditions = [d for d in renditions if d["translation"]["status"] == "translated"]
        kept = {d["id"]: d for d in renditions if d["translation"].get("kept_pivot")}
        assert set(kept) == {sid for sid, lang in originals.items() if lang != "en"}
        assert all(d["language"] == "en" and not d["translation"].get("pivot") for d in kept.values())

        # The kept English is searchable in English like any rendition (meaningless words: test packages).
        arabic = next(sid for sid, lang in originals.items() if lang == "ar")
        word = max(re.findall(r"\w+", kept[arabic]["headline"]), key=len)
        query = urllib.parse.urlencode({"q": word, "lang": "en", "size": 100})
        hits = _get(f"{stack.url('index')}/v1/search?{query}")["hits"]
        assert arabic in {h["story_id"] for h in hits}, (word, hits[:3])

        # Crash translate with SIGKILL while more stories arrive; the supervisor restarts it.
        old_pid = stack.pid("translate")
        assert old_pid is not None and process_alive(old_pid)
        mark = len(stack.lines)
        crash_ids: list[str] = []

        def post_stream() -> None:
            for n in range(12):
                text = f"Storm test {n} closes mountain pass\n\nSnow closed the mountain pass number {n} on Tuesday.\n"
                result = post_document(stack.url("ingest"), f"storm-{n}", text.encode(), "text/plain")
                assert result.ok, result.line()
                crash_ids.extend(_ids(result.line()))
                time.sleep(0.25)

        poster = threading.Thread(target=post_stream)
        poster.start()
        time.sleep(1.0)
        os.kill(old_pid, signal.SIGKILL)
        poster.join(60)
        assert len(crash_ids) == 12
        stack.wait_for_line(
            lambda line: line.startswith("wirewatch | translate ") and "restarted" in line, 60, mark
        )
        new_pid = stack.pid("translate")
        assert new_pid is not None and new_pid != old_pid and process_alive(new_pid)
        assert not process_alive(old_pid)
        for story_id in crash_ids:
            originals[story_id] = "en"
            expected[story_id] = {"en", *TARGETS}
        _wait_searchable(stack, expected, DEADLINE_S)

        # Exactly once: one hit per story in each language, one current version per language.
        for lang in ("en", "ar", "tr"):
            ids = _searchable(stack, lang)
            assert len(ids) == len(set(ids)), Counter(ids).most_common(3)
            assert set(ids) == {sid for sid, langs in expected.items() if lang in langs}
        everything = _get(f"{stack.url('index')}/v1/search?size=100")
        assert everything["total"] == len(expected)
        for story_id in crash_ids:
            record = _get(f"{stack.url('index')}/v1/stories/{story_id}")
            assert sorted(r["language"] for r in record["renditions"]) == ["ar", "en", "tr"]
            versions = [(v["language"], v["version"]) for v in record["versions"]]
            assert len(versions) == len(set(versions)) == 3, versions

        # The operator's view: everything up, counts and models reported, every group caught up.
        deadline = time.monotonic() + 30
        while True:
            status = stack.command("status", "--json")
            assert status.returncode == 0, status.stdout + status.stderr
            report = json.loads(status.stdout)
            groups = {(row["group"], row["topic"]): row for row in report["lag"]}
            translated = groups[("wirewatch-translate", contract.stories.name)]
            caught_up = all(row["lag"] in (0, None) for row in report["lag"])
            if (translated["committed"] == len(expected) and caught_up) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert translated["committed"] == len(expected), report["lag"]
        assert all(row["lag"] in (0, None) for row in report["lag"]), report["lag"]
        assert report["ok"] and not report["unreachable"]
        assert {s["name"] for s in report["services"] if s["ok"]} == {
            "ingest",
            "translate",
            "index",
            "alerts",
        }
        assert report["stories"]["accepted"] == len(expected)
        assert report["stories"]["searchable"] == len(expected)
        assert len(report["models"]["packages"]) == 4
        assert groups[("wirewatch-index", contract.renditions.name)]["committed"] >= len(wanted)
        assert groups[("wirewatch-ingest-receipts", contract.receipts.name)]["committed"] > 0

        # Every message on every topic, after the crash too, matches the published schemas.
        stories = _validated(stack, "stories", "story.schema.json")
        assert sorted(d["id"] for d in stories) == sorted(expected), "each story version published once"
        renditions = _validated(stack, "renditions", "story.schema.json")
        assert {(d["id"], d["language"]) for d in renditions} == {
            (sid, lang) for sid, langs in expected.items() for lang in langs if lang != originals[sid]
        }
        receipts = _validated(stack, "receipts", "receipt.schema.json")
        assert {(r["story_id"], r["language"]) for r in receipts} == {
            (sid, lang) for sid, langs in expected.items() for lang in langs
        }
    finally:
        feed_server.shutdown()
        feed_server.server_close()
        code = stack.stop()
    assert code == 0, stack.output()
    for name in ("broker", "ingest", "translate", "index", "alerts"):
        assert stack.pid(name) is None, f"{name} left a pid file: it was not stopped by `wirewatch up`"
