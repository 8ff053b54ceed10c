"""Build tiny but real Argos packages offline: TEST PACKAGES THAT PRODUCE MEANINGLESS TEXT.

Each package is a zipped `.argosmodel` with `metadata.json` (marked `"wirewatch_test": true`, so a
real package of the same pair always wins over it), a SentencePiece model trained on the sample
text written for wirewatch, and a random-weight CTranslate2 Transformer. Every loading and
translation path is real; the output is nonsense in the target language's script.

    python -m wirewatch_translate.testpackages DIR [en-ar en-tr ar-en tr-en]

writes `translate-<from>_<to>-test.argosmodel` files into DIR; install them with
`wirewatch-translate install --from-path DIR`.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm

from .models import TEST_LABEL, TEST_MARKER
from .randommodel import TINY_SHAPE, ModelShape, build_random_model
from .sampletext import SAMPLE_TEXT

__all__ = [
    "TEST_LABEL",
    "TEST_MARKER",
    "TEST_PAIRS",
    "TEST_VERSION",
    "build_test_package",
    "build_test_packages",
]

TEST_PAIRS: tuple[tuple[str, str], ...] = (("en", "ar"), ("en", "tr"), ("ar", "en"), ("tr", "en"))
TEST_VERSION = "0.0.1-test"
LANGUAGE_NAMES = {"en": "English", "ar": "Arabic", "tr": "Turkish"}
_EOS_BIAS = 1.5  # makes the random decoder stop after a handful of pieces instead of running to the limit
_OUTSIDE_TARGET_BIAS = -50.0  # pieces never seen in the target sample text are never emitted


def package_name(from_code: str, to_code: str) -> str:
    """Return Argos's own name for a pair's package, e.g. `translate-en_ar`."""
    return f"translate-{from_code}_{to_code}"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _pad_pieces(model_proto: bytes, size: int) -> bytes:
    """Append never-matching pieces to a SentencePiece model until it has `size` pieces.

    A protobuf message may repeat a field anywhere, so each piece is appended as one more
    `pieces` entry (field 1). The fillers start with a private-use character that news text does
    not contain, and score below every trained piece, so segmentation is unchanged; what grows is
    the vocabulary, hence the model's embeddings and output layer.
    """
    processor = spm.SentencePieceProcessor(model_proto=model_proto)
    have = processor.get_piece_size()
    score = min(processor.get_score(i) for i in range(have)) - 10.0
    extra = bytearray()
    for i in range(size - have):
        piece = f"\ue000{i}".encode()
        entry = b"\x0a" + _varint(len(piece)) + piece + b"\x15" + struct.pack("<f", score)
        extra += b"\x0a" + _varint(len(entry)) + entry
    return model_proto + bytes(extra)


def _train_tokenizer(
    from_code: str,
    to_code: str,
    more_text: Sequence[str] = (),
    vocab_size: int | None = None,
    model_type: str = "unigram",
) -> spm.SentencePieceProcessor:
    lines = [line for code in (from_code, to_code) for line in SAMPLE_TEXT[code].strip().splitlines()]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([*lines, *more_text]),
        model_writer=model,
        vocab_size=vocab_size or 400,
        hard_vocab_limit=False,
        character_coverage=1.0,
        model_type=model_type,
        minloglevel=2,
    )
    proto = model.getvalue() if vocab_size is None else _pad_pieces(model.getvalue(), vocab_size)
    return spm.SentencePieceProcessor(model_proto=proto)


def build_test_package(
    output_dir: Path,
    from_code: str,
    to_code: str,
    seed: int = 0,
    *,
    shape: ModelShape = TINY_SHAPE,
    vocab_size: int | None = None,
    more_text: Sequence[str] = (),
    eos_bias: float = _EOS_BIAS,
    projection_scale: float = 1.0,
    tokenizer_type: str = "unigram",
) -> Path:
    """Write one `.argosmodel` test package for a pair and return its path.

    The defaults build the tiny package tests use. bench/e2e.py builds packages of the real Argos
    shape with the keywords: `shape`; a tokenizer trained on the sample text plus `more_text` and
    padded to exactly `vocab_size` pieces (`tokenizer_type` `bpe`: from a few thousand generated
    sentences it learns whole words, as a real vocabulary holds news words, where `unigram` stays
    near single letters); an end token it never picks (a large negative `eos_bias`, so every
    sentence costs the decoding length cap, as in bench/translate.py); and a sharper output layer
    (`projection_scale`, see `build_random_model`).
    """
    tokenizer = _train_tokenizer(from_code, to_code, more_text, vocab_size, tokenizer_type)
    vocab = [tokenizer.id_to_piece(i) for i in range(tokenizer.get_piece_size())]
    target_pieces = {
        piece
        for line in SAMPLE_TEXT[to_code].strip().splitlines()
        for piece in tokenizer.encode(line, out_type=str)
    }
    outside = _OUTSIDE_TARGET_BIAS * projection_scale  # logits grow with the scale; the bias must too
    bias = np.array([0.0 if p in target_pieces else outside for p in vocab], dtype=np.float32)
    bias[tokenizer.eos_id()] = eos_bias
    name = package_name(from_code, to_code)
    top = f"{name}-test"
    metadata = {
        "package_version": TEST_VERSION,
        "argos_version": "1.9.0",
        "from_code": from_code,
        "from_name": LANGUAGE_NAMES.get(from_code, from_code),
        "to_code": to_code,
        "to_name": LANGUAGE_NAMES.get(to_code, to_code),
        "type": "translate",
        "description": TEST_LABEL,
        TEST_MARKER: True,  # what makes it a test package: a real package of the pair always beats it
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    archive = output_dir / f"{top}.argosmodel"
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        build_random_model(
            model_dir,
            vocab,
            vocab,
            shape=shape,
            seed=seed,
            quantization="int8",
            output_bias=bias,
            projection_scale=projection_scale,
        )
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{top}/metadata.json", json.dumps(metadata, indent=2))
            zf.writestr(f"{top}/README.md", f"# {name} {TEST_VERSION}\n\n{TEST_LABEL}\n")
            zf.writestr(f"{top}/sentencepiece.model", tokenizer.serialized_model_proto())
            for path in sorted(model_dir.iterdir()):
                zf.write(path, f"{top}/model/{path.name}")
    return archive


def build_test_packages(output_dir: Path, pairs: Sequence[tuple[str, str]] = TEST_PAIRS) -> list[Path]:
    """Write test packages for every pair (seeded, so builds are reproducible)."""
    return [build_test_package(output_dir, src, tgt, seed=i) for i, (src, tgt) in enumerate(pairs)]


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: build test packages into a folder."""
    parser = argparse.ArgumentParser(
        prog="python -m wirewatch_translate.testpackages",
        description="Build tiny Argos TEST packages (random weights, meaningless output) for demos and tests.",
    )
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("pairs", nargs="*", default=[f"{s}-{t}" for s, t in TEST_PAIRS], help="e.g. en-ar")
    args = parser.parse_args(argv)
    pairs = []
    for pair in args.pairs:
        src, _, tgt = pair.partition("-")
        if src not in SAMPLE_TEXT or tgt not in SAMPLE_TEXT:
            parser.error(f"pair {pair!r}: test packages exist for {', '.join(sorted(SAMPLE_TEXT))} only")
        pairs.append((src, tgt))
    for path in build_test_packages(args.output_dir, pairs):
        print(f"{path}  ({TEST_LABEL})")  # noqa: T201 - command-line output


if __name__ == "__main__":
    main()
