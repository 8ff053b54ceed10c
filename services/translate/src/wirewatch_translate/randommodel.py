"""Build CTranslate2 Transformer models with seeded random weights, for test packages and the benchmark.

Speed depends on a model's shape, not its weights, so a random model with the shape of a real Argos
package measures real throughput; the text it produces is meaningless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ctranslate2.specs import TransformerSpec, model_spec  # type: ignore[import-untyped]


@dataclass(frozen=True)
class ModelShape:
    """Hyper-parameters of an encoder-decoder Transformer."""

    layers: int = 6
    heads: int = 8
    d_model: int = 512
    ffn: int = 2048


ARGOS_SHAPE = ModelShape()
"""What argos-train configures: Transformer base, 6+6 layers, d_model 512, 8 heads, FFN 2048."""

TINY_SHAPE = ModelShape(layers=2, heads=4, d_model=64, ffn=128)
"""Small enough to build and load in a fraction of a second, for tests."""


def _shape_of(name: str, shape: ModelShape, vocab: dict[str, int]) -> tuple[int, ...]:
    """Return the weight shape CTranslate2 expects for a spec variable, from its scoped name."""
    d, f = shape.d_model, shape.ffn
    parts = name.split("/")
    leaf, owner = parts[-1], parts[-2]
    side = parts[0]
    if "embeddings" in owner:
        return (vocab[side], d)
    if owner == "projection":
        return (vocab["decoder"], d) if leaf == "weight" else (vocab["decoder"],)
    if owner == "layer_norm":
        return (d,)
    block = parts[-3]
    if block == "ffn":
        out, inp = (f, d) if owner == "linear_0" else (d, f)
    elif block == "self_attention":
        out, inp = (3 * d, d) if owner == "linear_0" else (d, d)
    else:  # encoder-decoder attention: queries, fused keys/values, output
        out, inp = (2 * d, d) if owner == "linear_1" else (d, d)
    return (out, inp) if leaf == "weight" else (out,)


def build_random_model(
    output_dir: Path,
    source_vocabulary: Sequence[str],
    target_vocabulary: Sequence[str],
    *,
    shape: ModelShape = TINY_SHAPE,
    seed: int = 0,
    quantization: str | None = None,
    output_bias: np.ndarray[Any, np.dtype[np.float32]] | None = None,
    projection_scale: float = 1.0,
) -> None:
    """Write a CTranslate2 model directory whose weights are seeded random numbers.

    `output_bias` is added to the output projection's bias: test packages use it to keep the
    decoder inside the target language's pieces, so output is in the right script.
    `projection_scale` sharpens the output distribution the way a trained model's is sharp, so
    beam search does not hinge on near-ties (the benchmark compares texts across batchings).
    """
    spec = TransformerSpec.from_config((shape.layers, shape.layers), shape.heads)
    vocab = {"encoder": len(source_vocabulary), "decoder": len(target_vocabulary)}
    rng = np.random.default_rng(seed)

    def fill(layer: Any, name: str, value: Any) -> None:
        leaf = name.split("/")[-1]
        is_unset = value is None or (leaf == "bias" and isinstance(value, str))
        if not is_unset:
            return
        dims = _shape_of(name, shape, vocab)
        if leaf == "gamma":
            array = np.ones(dims, dtype=np.float32)
        elif leaf in ("beta", "bias"):
            array = np.zeros(dims, dtype=np.float32)
        else:
            array = rng.normal(0.0, 1.0 if "embeddings" in name else dims[-1] ** -0.5, dims).astype(
                np.float32
            )
        if name == "decoder/projection/weight":
            array = array * np.float32(projection_scale)
        if name == "decoder/projection/bias" and output_bias is not None:
            array = array + output_bias.astype(np.float32)
        setattr(layer, leaf, array)

    model_spec.visit_spec(spec, fill)
    spec.register_source_vocabulary(list(source_vocabulary))
    spec.register_target_vocabulary(list(target_vocabulary))
    spec.validate()
    spec.optimize(quantization=quantization)
    output_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(output_dir))
