"""The translation engine: one CTranslate2 model and SentencePiece tokenizer per pair, loaded lazily and kept.

Sentences are tokenized with the package's own SentencePiece model, grouped into length-sorted,
token-budgeted batches (`translate_batch(batch_type="tokens")`) and decoded back. Identical
sentences are translated once per call. The model's scores come back with every sentence
(`return_scores`), turned into token log-probabilities for the quality signals (`quality`); a
model input whose output is a copy of its source is decoded once more with alternatives for its
first token, and the candidate the quality rules rank best is kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ctranslate2  # type: ignore[import-untyped]
import sentencepiece as spm
from prometheus_client import Counter, Histogram

from .batcher import plan_batches
from .errors import UntranslatableText
from .models import installed_packages
from .pairs import PackageInfo, Pair, Route, plan_route
from .quality import SentenceOutput, TokenScores, assess_sentence, best, copy_through, token_scores
from .translator import PackageFailed
from .units import Piece, fit, glue, written_without_spaces

log = logging.getLogger(__name__)

SENTENCES = Counter("wirewatch_translate_sentences_total", "Sentences translated.", ["pair"])
LONG_TEXT = Counter(
    "wirewatch_translate_long_text_total",
    "Over-long text: sentences split, runs without a cut point copied, translations cut by the decoder.",
    ["pair", "outcome"],
)
CALL_SECONDS = Histogram(
    "wirewatch_translate_call_seconds", "Time to translate one group of sentences with one model.", ["pair"]
)
COPY_RETRIES = Counter(
    "wirewatch_translate_copy_retries_total",
    "Model outputs that copied their source, decoded again: improved (another candidate kept) or kept.",
    ["pair", "outcome"],
)


TARGET_RATIO = 1.5
"""Target tokens allowed per source token when sizing pieces: a piece of max_decoding_length / 1.5
source tokens still fits the decoder when its translation runs half as long again as the source
(a margin, not a measurement; `wirewatch_translate_long_text_total{outcome="truncated"}` counts
translations that hit the decoding limit anyway)."""


@dataclass(frozen=True)
class EngineOptions:
    """How models are loaded: device, quantization, threads."""

    device: str = "cpu"
    compute_type: str = "int8"
    inter_threads: int = 1
    intra_threads: int = 0


@dataclass(frozen=True)
class DecodeOptions:
    """How sentences are batched and decoded; Argos's own defaults for beam and length penalty."""

    max_batch_tokens: int = 1024
    beam_size: int = 4
    length_penalty: float = 0.2
    max_decoding_length: int = 256
    min_decoding_length: int = 1  # a sentence never vanishes from a rendition
    max_sentence_tokens: int = 1024
    target_ratio: float = TARGET_RATIO
    unsplittable: Literal["copy", "fail"] = "copy"
    """A run with no cut point that is still too long (a URL, a hash): copy it unchanged, or fail."""
    return_scores: bool = True
    """Ask CTranslate2 for each output's score, from which the rendition's confidence is computed."""
    retry_copies: bool = True
    """Decode an output that copied its source once more (see `retry_alternatives`)."""
    retry_alternatives: int = 8
    """Candidates of a retry: the output decoded from each of the 8 likeliest first tokens
    (`return_alternatives`), with the same beam. A copy usually starts with a source-language first
    token; the alternatives force other starts, so the quality rules can pick a real translation."""

    def profile(self, engine: EngineOptions | None = None) -> str:
        """Name every option that changes what a model outputs (a part of the translation memory's keys).

        The token budget is left out: it changes how sentences are grouped, not what comes out.
        """
        fields = (
            self.beam_size,
            self.length_penalty,
            self.max_decoding_length,
            self.min_decoding_length,
            self.max_piece_tokens,
            self.unsplittable,
            self.return_scores,
            self.retry_copies,
            self.retry_alternatives,
        )
        device = "" if engine is None else f"{engine.device}/{engine.compute_type}"
        return ",".join(str(f) for f in fields) + (f",{device}" if device else "")

    @property
    def max_piece_tokens(self) -> int:
        """Most source tokens sent to the model at once; longer text is cut (see `units.fit`).

        Within the encoder's limit (`max_sentence_tokens`), and short enough that its translation
        fits in `max_decoding_length` at `target_ratio` target tokens per source token. When the
        decoding length is fixed (min = max, as benchmarks set it) the output length does not
        depend on the source, so only the encoder's limit applies.
        """
        if self.min_decoding_length >= self.max_decoding_length or self.target_ratio <= 0:
            return self.max_sentence_tokens
        by_decoder = int(self.max_decoding_length / self.target_ratio)
        return max(1, min(self.max_sentence_tokens, by_decoder))


def resolve_device(device: str) -> str:
    """Turn `auto` into `cuda` when CTranslate2 sees a GPU, else `cpu`."""
    if device != "auto":
        return device
    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


class LoadedModel:
    """A package's CTranslate2 translator and SentencePiece tokenizer."""

    def __init__(self, info: PackageInfo, options: EngineOptions) -> None:
        self.info = info
        device = resolve_device(options.device)
        compute_type = options.compute_type
        if device == "cuda" and compute_type == "int8":
            compute_type = "int8_float16"
        self.translator: Any = ctranslate2.Translator(
            str(info.path / "model"),
            device=device,
            compute_type=compute_type,
            inter_threads=options.inter_threads,
            intra_threads=options.intra_threads,
        )
        self.tokenizer = spm.SentencePieceProcessor(model_file=str(info.path / "sentencepiece.model"))

    def encode(self, sentences: Sequence[str]) -> list[list[str]]:
        """Tokenize sentences into pieces."""
        return [list(p) for p in self.tokenizer.encode(list(sentences), out_type=str)]

    def decode(self, pieces: Sequence[str]) -> str:
        """Detokenize pieces, dropping the package's target prefix."""
        if self.info.target_prefix and pieces and pieces[0] == self.info.target_prefix:
            pieces = pieces[1:]
        return str(self.tokenizer.decode_pieces(list(pieces))).strip()

    @property
    def prefix_length(self) -> int:
        """Tokens the package forces at the start of every output (its target prefix)."""
        return 1 if self.info.target_prefix else 0

    def submit(self, batch: list[list[str]], options: DecodeOptions) -> list[Any]:
        """Queue one batch on the model's workers; with inter_threads > 1 batches run in parallel."""
        return self._translate_batch(batch, options, asynchronous=True)

    def translate_tokens(self, batch: list[list[str]], options: DecodeOptions) -> list[list[str]]:
        """Translate one batch of tokenized sentences; returns the best hypothesis of each."""
        return [list(r.hypotheses[0]) for r in self._translate_batch(batch, options, asynchronous=False)]

    def alternatives(self, batch: list[list[str]], options: DecodeOptions) -> list[list[list[str]]]:
        """Decode each input from its `retry_alternatives` likeliest first tokens; hypotheses per input."""
        count = max(1, options.retry_alternatives)
        results = self._translate_batch(
            batch, options, asynchronous=False, num_hypotheses=count, return_alternatives=count > 1
        )
        return [[list(h) for h in r.hypotheses] for r in results]

    def score(
        self, sources: list[list[str]], outputs: list[list[str]], options: DecodeOptions
    ) -> list[TokenScores]:
        """The model's log-probabilities of given outputs (`score_batch`), without the forced prefix.

        `score_batch` always scores an end token; an output that stopped at `max_decoding_length`
        had none, so that last log-probability is left out.
        """
        results = self.translator.score_batch(
            sources,
            outputs,
            max_batch_size=options.max_batch_tokens,
            batch_type="tokens",
            max_input_length=0,
            offset=self.prefix_length,
        )
        scores = []
        for output, result in zip(outputs, results, strict=True):
            log_probs = list(result.log_probs)
            if len(output) >= options.max_decoding_length and log_probs:
                log_probs = log_probs[:-1]
            scores.append(TokenScores(float(sum(log_probs)), len(log_probs)))
        return scores

    def scores_of(self, result: Any, options: DecodeOptions) -> TokenScores | None:
        """Token log-probabilities of a translation result's best hypothesis (see `quality.token_scores`)."""
        if not options.return_scores or not result.scores:
            return None
        hypothesis = result.hypotheses[0]
        return token_scores(
            float(result.scores[0]),
            len(hypothesis),
            length_penalty=options.length_penalty,
            ended=len(hypothesis) < options.max_decoding_length,
            prefix_length=self.prefix_length,
        )

    def _translate_batch(
        self, batch: list[list[str]], options: DecodeOptions, *, asynchronous: bool, **extra: Any
    ) -> list[Any]:
        prefix = [[self.info.target_prefix] for _ in batch] if self.info.target_prefix else None
        settings: dict[str, Any] = {
            "max_batch_size": options.max_batch_tokens,
            "batch_type": "tokens",
            "beam_size": options.beam_size,
            "num_hypotheses": 1,
            "length_penalty": options.length_penalty,
            "max_decoding_length": options.max_decoding_length,
            "min_decoding_length": options.min_decoding_length,
            "max_input_length": 0,  # lengths are checked before, never silently truncated
            "replace_unknowns": True,
            "return_scores": options.return_scores,
        }
        results = self.translator.translate_batch(
            batch, target_prefix=prefix, asynchronous=asynchronous, **(settings | extra)
        )
        return list(results)


_Plan = list[tuple[int | str, str]]
"""How one sentence is rebuilt: (model input index, or text copied as is; the separator after it)."""


class _Inputs:
    """Token sequences to send to the model, each once, in order of first use, with their source text."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, ...], int] = {}
        self.texts: list[str] = []

    def add(self, tokens: Sequence[str], text: str) -> int:
        """Index of a token sequence among the inputs, adding it the first time it is seen."""
        key = tuple(tokens)
        if key not in self.index:
            self.index[key] = len(self.index)
            self.texts.append(text)
        return self.index[key]

    def sequences(self) -> list[list[str]]:
        return [list(t) for t in self.index]


def split_for_model(model: LoadedModel, text: str, options: DecodeOptions) -> list[Piece]:
    """Cut a text longer than `options.max_piece_tokens` into pieces the model accepts (`units.fit`)."""

    def count(texts: Sequence[str]) -> list[int]:
        return [len(t) for t in model.encode(texts)]

    return fit(text, count, options.max_piece_tokens)


def _plan_long(model: LoadedModel, text: str, options: DecodeOptions, inputs: _Inputs) -> _Plan:
    """Plan an over-long sentence as pieces; a run with no cut point is copied, windowed or refused."""
    limit = options.max_piece_tokens
    pieces = split_for_model(model, text, options)
    tokens = model.encode([p.text for p in pieces])
    pair = f"{model.info.from_code}-{model.info.to_code}"
    plan: _Plan = []
    for piece, piece_tokens in zip(pieces, tokens, strict=True):
        if piece.fits or len(piece_tokens) <= limit:
            plan.append((inputs.add(piece_tokens, piece.text), piece.sep))
        elif written_without_spaces(piece.text):
            # a script without spaces: the tokenizer's pieces are the only word boundaries there are
            windows = [piece_tokens[i : i + limit] for i in range(0, len(piece_tokens), limit)]
            plan += [(inputs.add(w, model.decode(w)), "") for w in windows[:-1]]
            plan.append((inputs.add(windows[-1], model.decode(windows[-1])), piece.sep))
        elif options.unsplittable == "fail":
            msg = (
                f"a run of {len(piece.text)} characters without spaces ({len(piece_tokens)} tokens) is "
                f"longer than the limit of {limit} tokens ({model.info.name}): {piece.text[:80]!r}..."
            )
            raise UntranslatableText(msg)
        else:
            LONG_TEXT.labels(pair, "copied").inc()
            log.warning(
                "text without a cut point copied untranslated",
                extra={"package": model.info.name, "chars": len(piece.text), "start": piece.text[:80]},
            )
            plan.append((piece.text, piece.sep))
    LONG_TEXT.labels(pair, "split").inc()
    return plan


def _assemble(plan: _Plan, outputs: Sequence[str]) -> str:
    """Join a sentence's translated pieces with the source's separators (a space where there was none)."""
    text = ""
    joined = True
    for source, sep in plan:
        part = outputs[source] if isinstance(source, int) else source
        text = text + part if joined else glue(text, part)
        text += sep
        joined = sep != ""
    return text.strip()


@dataclass(frozen=True)
class Translated:
    """Translated sentences, in the order given, with what the quality signals need of each."""

    texts: list[str]
    source_tokens: list[int]
    """Source tokens of each sentence (to share a call's time among stories)."""
    scores: list[TokenScores | None]
    """The model's token log-probabilities over each sentence's pieces; None when scores are off."""
    copied_chars: list[int]
    """Source characters of each sentence copied untranslated (a run too long without a cut point)."""


def _sentence_scores(plan: _Plan, scores: Sequence[TokenScores | None]) -> TokenScores | None:
    total = TokenScores(0.0, 0)
    for source, _ in plan:
        if isinstance(source, int):
            score = scores[source]
            if score is None:
                return None
            total = total + score
    return total


def _retry_copies(
    model: LoadedModel,
    sequences: list[list[str]],
    texts: list[str],
    outputs: list[str],
    hypotheses: list[list[str]],
    scores: list[TokenScores | None],
    options: DecodeOptions,
) -> None:
    """Decode inputs whose output copied the source once more; keep the candidate the quality rules rank best."""
    info = model.info
    suspects = [i for i, out in enumerate(outputs) if copy_through(texts[i], out, info.to_code)]
    if not suspects:
        return
    pair = f"{info.from_code}-{info.to_code}"
    alternatives = model.alternatives([sequences[i] for i in suspects], options)
    for index, others in zip(suspects, alternatives, strict=True):
        candidates = [hypotheses[index], *(h for h in others if h != hypotheses[index])]
        rescored = model.score([sequences[index]] * len(candidates), candidates, options)
        ranked = []
        for tokens, score in zip(candidates, rescored, strict=True):
            text = model.decode(tokens)
            sentence = SentenceOutput(texts[index], text, info.from_code, info.to_code, score)
            ranked.append((text, assess_sentence(sentence)))
        chosen = best(ranked)
        COPY_RETRIES.labels(pair, "improved" if chosen else "kept").inc()
        outputs[index] = ranked[chosen][0]
        if options.return_scores:
            scores[index] = rescored[chosen]


def translate_scored(model: LoadedModel, sentences: Sequence[str], options: DecodeOptions) -> Translated:
    """Translate sentences through one model in token-budgeted batches, with their scores.

    A sentence longer than `options.max_piece_tokens` is cut into pieces that are translated
    in the same batches as everything else and joined again with the source's separators.
    """
    unique = list(dict.fromkeys(sentences))
    tokens = model.encode(unique)
    inputs = _Inputs()
    plans: list[_Plan] = []
    for sentence, pieces in zip(unique, tokens, strict=True):
        if len(pieces) <= options.max_piece_tokens:
            plans.append([(inputs.add(pieces, sentence), "")])
        else:
            plans.append(_plan_long(model, sentence, options, inputs))
    sequences = inputs.sequences()
    outputs: list[str] = [""] * len(sequences)
    hypotheses: list[list[str]] = [[] for _ in sequences]
    scores: list[TokenScores | None] = [None] * len(sequences)
    pair = f"{model.info.from_code}-{model.info.to_code}"
    started = time.perf_counter()
    batches = plan_batches([len(t) for t in sequences], options.max_batch_tokens)
    pending = [(batch, model.submit([sequences[i] for i in batch], options)) for batch in batches]
    truncated = 0
    for batch, futures in pending:
        for index, future in zip(batch, futures, strict=True):
            result = future.result()
            hypothesis = list(result.hypotheses[0])
            truncated += len(hypothesis) >= options.max_decoding_length
            hypotheses[index] = hypothesis
            outputs[index] = model.decode(hypothesis)
            scores[index] = model.scores_of(result, options)
    if truncated and options.min_decoding_length < options.max_decoding_length:
        LONG_TEXT.labels(pair, "truncated").inc(truncated)
        log.warning("translations reached max_decoding_length", extra={"pair": pair, "count": truncated})
    if options.retry_copies:
        _retry_copies(model, sequences, inputs.texts, outputs, hypotheses, scores, options)
    CALL_SECONDS.labels(pair).observe(time.perf_counter() - started)
    SENTENCES.labels(pair).inc(len(sentences))
    by_sentence = {
        s: (
            _assemble(plan, outputs),
            _sentence_scores(plan, scores),
            sum(len(part) for part, _ in plan if isinstance(part, str)),
        )
        for s, plan in zip(unique, plans, strict=True)
    }
    lengths = dict(zip(unique, (len(t) for t in tokens), strict=True))
    return Translated(
        texts=[by_sentence[s][0] for s in sentences],
        source_tokens=[lengths[s] for s in sentences],
        scores=[by_sentence[s][1] for s in sentences],
        copied_chars=[by_sentence[s][2] for s in sentences],
    )


def translate_sentences(
    model: LoadedModel, sentences: Sequence[str], options: DecodeOptions
) -> tuple[list[str], list[int]]:
    """Translate sentences through one model; return texts and source lengths (see `translate_scored`)."""
    done = translate_scored(model, sentences, options)
    return done.texts, done.source_tokens


class Engine:
    """Installed packages, routes between languages, and the loaded models of this process."""

    def __init__(
        self,
        models_dir: Path,
        options: EngineOptions = EngineOptions(),
        decode: DecodeOptions = DecodeOptions(),
        pivot: str = "en",
        scan: Callable[[Path], dict[Pair, PackageInfo]] = installed_packages,
    ) -> None:
        self.models_dir = models_dir
        self.options = options
        self.decode = decode
        self.pivot = pivot
        self._scan = scan
        self._lock = threading.Lock()
        self._packages: dict[Pair, PackageInfo] | None = None
        self._models: dict[Path, LoadedModel] = {}

    def packages(self) -> dict[Pair, PackageInfo]:
        """Installed packages by pair (scanned once, then on `refresh`)."""
        with self._lock:
            if self._packages is None:
                self._packages = self._scan(self.models_dir)
            return dict(self._packages)

    def refresh(self) -> dict[Pair, PackageInfo]:
        """Re-read the models directory, e.g. after an install; loaded models of removed packages are dropped."""
        found = self._scan(self.models_dir)
        with self._lock:
            self._packages = found
            live = {info.path for info in found.values()}
            for path in [p for p in self._models if p not in live]:
                del self._models[path]
        return dict(found)

    def route(self, source: str, target: str) -> Route | None:
        """Packages from source to target, direct or through the pivot; None when a pair is missing."""
        return plan_route(self.packages(), source, target, self.pivot)

    def model(self, info: PackageInfo) -> LoadedModel:
        """The loaded model of a package, loading it on first use.

        A package whose model or tokenizer does not load raises `PackageFailed`; nothing is kept,
        so the next call tries the files again (they may have been repaired meanwhile).
        """
        with self._lock:
            loaded = self._models.get(info.path)
            if loaded is None:
                started = time.perf_counter()
                try:
                    loaded = LoadedModel(info, self.options)
                except Exception as exc:
                    raise PackageFailed(info.name, info.version, exc) from exc
                self._models[info.path] = loaded
                log.info(
                    "model loaded",
                    extra={
                        "package": info.name,
                        "version": info.version,
                        "seconds": round(time.perf_counter() - started, 3),
                    },
                )
            return loaded

    def loaded(self) -> list[PackageInfo]:
        """Packages whose models this process holds."""
        with self._lock:
            return [m.info for m in self._models.values()]

    def translate(self, info: PackageInfo, sentences: Sequence[str]) -> tuple[list[str], list[int]]:
        """Translate sentences with one package; see `translate_sentences`."""
        return translate_sentences(self.model(info), sentences, self.decode)

    def translate_scored(self, info: PackageInfo, sentences: Sequence[str]) -> Translated:
        """Translate sentences with one package, with their scores; see `translate_scored`."""
        return translate_scored(self.model(info), sentences, self.decode)
