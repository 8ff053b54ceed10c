"""Translation throughput: argostranslate's naive driving vs the service's batching vs raw CTranslate2.

The model has the shape of a real Argos package as argos-train configures it (Transformer 6+6
layers, d_model 512, 8 heads, FFN 2048, a 50,000-entry shared vocabulary, int8) with seeded
random weights; speed depends on shape, not weights. Every sentence decodes to exactly
`--length` target tokens (min = max decoding length), so all paths do the same work. The
SentencePiece tokenizer is trained on the sentences below; the CTranslate2 vocabulary is its
pieces padded with filler entries to 50,000, so embeddings and the output softmax have the real size.

The same news sentences (generated from phrases written here, grouped into paragraphs and
stories) are translated four times in one run:

- naive: the way argostranslate's `translate()` drives CTranslate2 (one `translate_batch` per
  paragraph, `max_batch_size=32` tokens, beam 4, length penalty 0.2, `return_scores=True`), one
  story after another the way LibreTranslate handles a list of texts;
- batched, scores off: the service's path (`StoryTranslator` -> `Engine` -> token-budgeted,
  length-sorted batches across paragraphs and stories, quality rules on every sentence)
  without `return_scores`;
- batched, scores on: the same with `return_scores=True`, as the service runs; the goals are
  measured on this row. The two batched
  runs alternate `--repeats` times and the fastest of each counts, so a slower moment of a
  shared machine does not land on one of them only;
- ceiling: raw `translate_batch` on pre-tokenized, length-sorted input with the best settings
  found (`--ceiling-budget` tokens per batch), same beam and length, no scores.

All use the same loaded model; the naive and batched texts must be identical, with scores on or
off. The copy-through retry is off: this random model writes English pieces into its "Arabic",
so every output would count as a copy and be decoded again, which a real model does for a few
sentences at most. Peak RSS is measured with two such models loaded in the engine (en->ar and en->tr).

Usage: `uv run python bench/translate.py [--sentences 160] [--length 48] [--budget 1024]`. A table
goes to stdout and, last, one JSON line; progress to stderr. Goals, with scores on: batched >= 3x
naive and >= 85% of the ceiling on 2 cores; RSS <= 1.2 GB with two models loaded.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sentencepiece as spm

from wirewatch_common.story import Story
from wirewatch_translate.engine import DecodeOptions, Engine, EngineOptions, LoadedModel
from wirewatch_translate.randommodel import ARGOS_SHAPE, build_random_model
from wirewatch_translate.segment import split_sentences
from wirewatch_translate.translator import StoryTranslator

VOCAB_SIZE = 50_000
BEAM = 4  # argostranslate's default
LENGTH_PENALTY = 0.2
ARGOS_BATCH = 32  # argostranslate's default ARGOS_BATCH_SIZE, in tokens

WHO = [
    "The central bank",
    "The port authority",
    "The foreign minister",
    "Parliament",
    "The union",
    "Police in the capital",
    "The national team",
    "The energy company",
    "Regional officials",
    "A spokesman for the ministry",
    "The opposition leader",
    "Scientists at the institute",
]
DID = [
    "said on Tuesday that",
    "warned late on Friday that",
    "confirmed in a statement that",
    "told reporters in Ankara that",
    "announced after a long meeting that",
    "denied reports that",
]
WHAT = [
    "grain exports would resume next week",
    "interest rates would stay unchanged",
    "talks with the employers had broken down",
    "more than 400 people were evacuated from the north",
    "the budget would be put to a vote before the end of the month",
    "prices of wheat and maize had risen by 3.5 percent in early trading",
    "the new pipeline would carry gas to three neighbouring countries by 2028",
    "the damage from the floods was estimated at several million euros",
    "nobody had been injured in the fire at the warehouse on the edge of the city",
    "the agreement would double bilateral trade within five years",
]
WHY = [
    "",
    "",
    " after a two-day strike",
    " citing slower inflation",
    " despite strong objections from the unions",
    " according to figures published by the statistics office on Monday morning",
]


def make_stories(count: int, seed: int = 7) -> list[Story]:
    """Stories of 2-4 paragraphs of 1-4 sentences each, `count` sentences in all."""
    rng = random.Random(seed)
    sentences = [
        f"{rng.choice(WHO)} {rng.choice(DID)} {rng.choice(WHAT)}{rng.choice(WHY)}." for _ in range(count)
    ]
    when = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    stories: list[Story] = []
    position = 0
    while position < len(sentences):
        paragraphs = []
        for _ in range(rng.randint(2, 4)):
            take = rng.randint(1, 4)
            if position < len(sentences):
                paragraphs.append(" ".join(sentences[position : position + take]))
                position += take
        headline = f"Bench story {len(stories) + 1}"
        stories.append(
            Story(
                id=f"bench-{len(stories) + 1}",
                uri=f"urn:bench:{len(stories) + 1}",
                version=1,
                firstcreated=when,
                versioncreated=when,
                language="en",
                headline=headline,
                body=paragraphs,
            )
        )
    return stories


def build_package(root: Path, texts: Sequence[str], seed: int) -> Path:
    """Write an Argos-layout package (model/, sentencepiece.model, metadata.json) with the real shape."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        vocab_size=8000,
        hard_vocab_limit=False,
        character_coverage=1.0,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab = pieces + [f"▁filler{i}" for i in range(VOCAB_SIZE - len(pieces))]
    root.mkdir(parents=True, exist_ok=True)
    build_random_model(
        root / "model", vocab, vocab, shape=ARGOS_SHAPE, seed=seed, quantization="int8", projection_scale=32.0
    )
    (root / "sentencepiece.model").write_bytes(model.getvalue())
    return root


def install_pair(models: Path, package: Path, source: str, target: str) -> None:
    """Make the package appear as one pair in a models dir (model files shared through a symlink)."""
    folder = models / f"translate-{source}_{target}-bench"
    folder.mkdir(parents=True)
    (folder / "model").symlink_to(package / "model")
    shutil.copy(package / "sentencepiece.model", folder / "sentencepiece.model")
    meta = {"from_code": source, "to_code": target, "package_version": "bench", "type": "translate"}
    (folder / "metadata.json").write_text(json.dumps(meta))


def rss_mb() -> float:
    """Resident set size now, in MB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Result:
    """One path's figures."""

    name: str
    seconds: float
    sentences: int
    target_tokens: int

    @property
    def sentences_per_s(self) -> float:
        """Sentences per second."""
        return self.sentences / self.seconds

    @property
    def tokens_per_s(self) -> float:
        """Target tokens per second."""
        return self.target_tokens / self.seconds


def run_naive(model: LoadedModel, stories: Sequence[Story], length: int) -> tuple[Result, list[list[str]]]:
    """argostranslate's translate(): per story, per paragraph, one small-token-batch call."""
    out: list[list[str]] = []
    sentences = tokens = 0
    started = time.perf_counter()
    for story in stories:
        paragraphs = []
        for paragraph in [story.headline, *story.body]:
            batch = model.encode(split_sentences(paragraph, "en"))
            results = model.translator.translate_batch(
                batch,
                replace_unknowns=True,
                max_batch_size=ARGOS_BATCH,
                batch_type="tokens",
                beam_size=BEAM,
                num_hypotheses=1,
                length_penalty=LENGTH_PENALTY,
                return_scores=True,
                min_decoding_length=length,
                max_decoding_length=length,
            )
            hyps = [list(r.hypotheses[0]) for r in results]
            paragraphs.append(" ".join(model.decode(h) for h in hyps))
            sentences += len(batch)
            tokens += sum(len(h) for h in hyps)
        out.append(paragraphs)
    return Result("naive (argostranslate-style)", time.perf_counter() - started, sentences, tokens), out


def run_batched(
    translator: StoryTranslator, stories: Sequence[Story], length: int, chunk: int, name: str
) -> tuple[Result, list[list[str]]]:
    """The service path: whole polled batches of stories through StoryTranslator."""
    out: list[list[str]] = []
    started = time.perf_counter()
    for start in range(0, len(stories), chunk):
        for rendition in translator.translate(stories[start : start + chunk], targets=["ar"]):
            out.append([rendition.headline, *rendition.body])
    seconds = time.perf_counter() - started
    count = sum(len(split_sentences(p, "en")) for s in stories for p in [s.headline, *s.body])
    return Result(name, seconds, count, count * length), out


def run_ceiling(model: LoadedModel, stories: Sequence[Story], length: int, budget: int) -> Result:
    """Raw translate_batch on pre-tokenized, length-sorted input: one call, CTranslate2 splits by tokens."""
    sentences = [s for st in stories for p in [st.headline, *st.body] for s in split_sentences(p, "en")]
    tokens = sorted(model.encode(sentences), key=len, reverse=True)
    started = time.perf_counter()
    results = model.translator.translate_batch(
        tokens,
        max_batch_size=budget,
        batch_type="tokens",
        beam_size=BEAM,
        num_hypotheses=1,
        length_penalty=LENGTH_PENALTY,
        min_decoding_length=length,
        max_decoding_length=length,
        replace_unknowns=True,
    )
    seconds = time.perf_counter() - started
    produced = sum(len(r.hypotheses[0]) for r in results)
    return Result(f"ceiling (raw, {budget} tokens)", seconds, len(tokens), produced)


def main(argv: Sequence[str] | None = None) -> None:
    """Build, translate three ways, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sentences", type=int, default=160, help="news sentences to translate")
    parser.add_argument("--length", type=int, default=48, help="fixed target tokens per sentence")
    parser.add_argument(
        "--budget",
        type=int,
        default=DecodeOptions().max_batch_tokens,
        help="service token budget per batch (the service's default)",
    )
    parser.add_argument(
        "--ceiling-budgets", default="1024,4096", help="token budgets tried in the raw run (best counts)"
    )
    parser.add_argument("--chunk", type=int, default=500, help="stories per service batch (a polled batch)")
    parser.add_argument(
        "--repeats", type=int, default=2, help="batched runs with scores off and on, alternating; best counts"
    )
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 intra_threads (0 = all cores)")
    parser.add_argument("--inter", type=int, default=1, help="CTranslate2 inter_threads (parallel batches)")
    parser.add_argument("--model-dir", type=Path, help="reuse/keep the built model here")
    parser.add_argument("--build-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stories = make_stories(args.sentences)
    texts = [s for st in stories for p in st.body for s in split_sentences(p, "en")]
    if args.build_only:  # in a child process, so building does not count towards peak RSS
        build_package(args.build_only, texts, seed=1)
        return

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="wirewatch-bench-"))
    try:
        package = args.model_dir or work / "package"
        if not (package / "model" / "model.bin").exists():
            progress(f"building a random {ARGOS_SHAPE} model with a {VOCAB_SIZE}-entry vocabulary ...")
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--build-only", str(package), "--sentences", str(args.sentences)],
                check=True,
            )
            progress(f"  built in {time.perf_counter() - started:.1f} s")
        models = work / "models"
        install_pair(models, package, "en", "ar")
        install_pair(models, package, "en", "tr")
        rss_before = rss_mb()
        decode = DecodeOptions(
            max_batch_tokens=args.budget,
            beam_size=BEAM,
            length_penalty=LENGTH_PENALTY,
            min_decoding_length=args.length,
            max_decoding_length=args.length,
            retry_copies=False,  # see the module docstring
        )
        engine = Engine(models, EngineOptions(inter_threads=args.inter, intra_threads=args.threads), decode)
        translator = StoryTranslator(engine, ["ar", "tr"])
        warm = stories[:2]
        progress("loading two models (en->ar, en->tr) and warming up ...")
        translator.translate(warm)  # loads both models and touches their buffers
        rss_two = rss_mb()
        model = engine.model(engine.packages()[("en", "ar")])

        progress(f"naive: {args.sentences} sentences ...")
        naive, naive_text = run_naive(model, stories, args.length)
        progress(f"  {naive.sentences_per_s:.1f} sentences/s")
        unscored = batched = None
        for round_ in range(1, args.repeats + 1):  # alternating, so drift on a shared machine hits both
            for scores in (False, True):
                name = "batched, scores on (service)" if scores else "batched, scores off"
                progress(f"{name}, run {round_} of {args.repeats} ...")
                engine.decode = replace(decode, return_scores=scores)
                result, text = run_batched(translator, stories, args.length, args.chunk, name)
                progress(f"  {result.sentences_per_s:.1f} sentences/s")
                if scores:
                    batched_text = text
                    batched = result if batched is None or result.seconds < batched.seconds else batched
                else:
                    unscored_text = text
                    unscored = result if unscored is None or result.seconds < unscored.seconds else unscored
        assert unscored is not None and batched is not None
        peak_service = peak_rss_mb()
        tried = []
        for budget in (int(b) for b in args.ceiling_budgets.split(",")):
            progress(f"ceiling, {budget} tokens per batch ...")
            tried.append(run_ceiling(model, stories, args.length, budget))
            progress(f"  {tried[-1].sentences_per_s:.1f} sentences/s")
        ceiling = max(tried, key=lambda r: r.tokens_per_s)
        pairs = [
            (a, b) for n, t in zip(naive_text, batched_text, strict=True) for a, b in zip(n, t, strict=True)
        ]
        same = sum(a == b for a, b in pairs)
        identical = same == len(pairs)
        scores_change_nothing = unscored_text == batched_text
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [naive, unscored, batched, ceiling]
    print(f"{'path':<34} {'seconds':>8} {'sentences/s':>12} {'tokens/s':>10}")
    for r in rows:
        print(f"{r.name:<34} {r.seconds:>8.2f} {r.sentences_per_s:>12.2f} {r.tokens_per_s:>10.1f}")
    speedup = batched.sentences_per_s / naive.sentences_per_s
    of_ceiling = batched.tokens_per_s / ceiling.tokens_per_s
    scores_cost = unscored.sentences_per_s / batched.sentences_per_s - 1
    print(f"batched / naive: {speedup:.2f}x   batched / ceiling: {of_ceiling:.0%}   (scores on)")
    print(
        f"return_scores costs {scores_cost:+.1%} time "
        f"({unscored.seconds:.2f} s off, {batched.seconds:.2f} s on); same text: {scores_change_nothing}"
    )
    print(f"naive and batched texts identical: {identical} ({same} of {len(pairs)} paragraphs identical)")
    print(
        f"RSS: {rss_before:.0f} MB before models, {rss_two:.0f} MB with two models loaded, "
        f"peak {peak_service:.0f} MB through the batched run, {peak_rss_mb():.0f} MB after the ceiling runs"
    )
    figures: dict[str, Any] = {
        "sentences": naive.sentences,
        "target_tokens_per_sentence": args.length,
        "beam_size": BEAM,
        "budget_tokens": args.budget,
        "ceiling_budget_tokens": int(ceiling.name.split(", ")[1].split()[0]),
        "naive_sentences_per_s": round(naive.sentences_per_s, 2),
        "batched_no_scores_sentences_per_s": round(unscored.sentences_per_s, 2),
        "batched_sentences_per_s": round(batched.sentences_per_s, 2),
        "ceiling_sentences_per_s": round(ceiling.sentences_per_s, 2),
        "naive_tokens_per_s": round(naive.tokens_per_s, 1),
        "batched_tokens_per_s": round(batched.tokens_per_s, 1),
        "ceiling_tokens_per_s": round(ceiling.tokens_per_s, 1),
        "batched_over_naive": round(speedup, 3),
        "batched_over_ceiling": round(of_ceiling, 3),
        "return_scores_cost": round(scores_cost, 4),
        "return_scores_same_text": scores_change_nothing,
        "identical_text": identical,
        "identical_paragraphs": f"{same}/{len(pairs)}",
        "rss_mb_two_models": round(rss_two, 1),
        "peak_rss_mb_service": round(peak_service, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
