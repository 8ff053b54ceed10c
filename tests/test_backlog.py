"""A backlog drains: 200 stories at once, packages slow enough to outlast a short poll interval.

Translate would once poll the whole backlog, translate it in one call for longer than Kafka's
poll interval, be dropped from its group, fail its commit and poll the same stories again
forever, while ingest re-published them all for want of receipts. Here the poll interval is
8 s and the 200 stories take ~20 s to translate: the stack must drain them, translate each story
exactly once per language, re-publish nothing, and stop translate within one slice when asked.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sentencepiece as spm

from wirewatch_common.topics import load_contract
from wirewatch_stack.client import post_document
from wirewatch_testkit.harness import RunningStack, read_topic
from wirewatch_translate.randommodel import ModelShape, build_random_model
from wirewatch_translate.sampletext import SAMPLE_TEXT

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.long, pytest.mark.timeout(600)]

STORIES = 200
POLL_INTERVAL_MS = 8000
SLOW_SHAPE = ModelShape(layers=3, heads=4, d_model=384, ffn=1536)
"""~25 ms a sentence at a 32-token decoding on 2 cores: 200 stories take ~20 s, over twice the interval."""


def install_slow_packages(models: Path) -> None:
    """Random-weight packages in the Argos layout, slower than the test packages by about 30x."""
    lines = [line for code in ("en", "ar", "tr") for line in SAMPLE_TEXT[code].strip().splitlines()]
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=proto,
        vocab_size=800,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    tokenizer = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = [tokenizer.id_to_piece(i) for i in range(tokenizer.get_piece_size())]
    for target in ("ar", "tr"):
        folder = models / f"translate-en_{target}-slow"
        build_random_model(
            folder / "model",
            vocab,
            vocab,
            shape=SLOW_SHAPE,
            seed=5,
            quantization="int8",
            projection_scale=32.0,
        )
        (folder / "sentencepiece.model").write_bytes(proto.getvalue())
        meta = {"from_code": "en", "to_code": target, "package_version": "0.0.1-slow", "type": "translate"}
        (folder / "metadata.json").write_text(json.dumps(meta))


def story(n: int, run: str) -> bytes:
    return (
        f"Ferry {n} returns to service after repairs {run}\n\n"
        f"QUAYSIDE (Wirewatch Test) - Ferry number {n} sailed again on Tuesday after engine repairs.\n\n"
        "The operator said the timetable would be back to normal by the weekend.\n"
    ).encode()


def read_renditions(bootstrap: str) -> Counter[tuple[str, str]]:
    spec = load_contract().renditions
    seen: Counter[tuple[str, str]] = Counter()
    for message in read_topic(bootstrap, spec.name, spec.partitions):
        doc = json.loads(message.value() or b"{}")
        if (doc.get("translation") or {}).get("status") == "partial":
            continue  # a headline sent first (headlines first); the full rendition follows and counts
        seen[(doc["id"], doc["language"])] += 1
    return seen


def test_a_backlog_longer_than_the_poll_interval_drains_and_each_story_is_translated_once(tmp_path):
    env = {
        "WIREWATCH_KAFKA_MAX_POLL_INTERVAL_MS": str(POLL_INTERVAL_MS),
        "WIREWATCH_TRANSLATE_MAX_DECODING_LENGTH": "32",
        "WIREWATCH_INGEST_REPUBLISH_GRACE_S": "3",
        "WIREWATCH_INGEST_REPUBLISH_INTERVAL_S": "2",
    }
    with RunningStack(tmp_path, env=env) as stack:
        install_slow_packages(stack.model_dir)
        stack.start(timeout=180)
        run = uuid.uuid4().hex[:6]
        ids = []
        for n in range(STORIES):
            answer = post_document(stack.url("ingest"), f"story-{n}", story(n, run), "text/plain")
            assert answer.ok, answer.body
            stories = answer.body["stories"]
            assert isinstance(stories, list)
            ids += [s["id"] for s in stories]
        started = time.monotonic()

        # Mid-backlog, translate is asked to stop: it finishes and commits its slice, then exits.
        time.sleep(4)
        pid = stack.pid("translate")
        assert pid is not None
        mark = len(stack.lines)
        asked = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        stack.wait_for_line(lambda line: "translate restarted" in line, timeout=60, start=mark)
        stopped_in = time.monotonic() - asked

        deadline = time.monotonic() + 300
        while True:
            seen = read_renditions(stack.bootstrap_servers)
            if len(seen) >= 2 * STORIES:
                break
            assert time.monotonic() < deadline, (
                f"backlog not drained: {len(seen)} of {2 * STORIES} renditions\n{stack.output()}"
            )
            time.sleep(5)
        drained_in = time.monotonic() - started
        while True:
            status = json.loads(stack.command("status", "--json").stdout)
            lags = [
                x["lag"] for x in status["lag"] if x["group"] in ("wirewatch-translate", "wirewatch-index")
            ]
            if lags and all(lag == 0 for lag in lags):
                break
            assert time.monotonic() < deadline, f"lag stays: {status['lag']}"
            time.sleep(2)
        output = "".join(stack.lines)

    assert set(seen) == {(i, lang) for i in ids for lang in ("ar", "tr")}
    duplicated = {k: v for k, v in seen.items() if v > 1}
    assert not duplicated, f"translated more than once: {list(duplicated.items())[:5]}"
    assert "commit failed" not in output, "a poll outlived the poll interval and the group dropped translate"
    assert "re-published stories without a receipt" not in output, "waiting stories were re-published"
    assert stopped_in < 30, f"translate took {stopped_in:.1f} s to stop: more than a slice"
    assert drained_in > POLL_INTERVAL_MS / 1000, (
        "the backlog must outlast one poll interval to prove anything"
    )
