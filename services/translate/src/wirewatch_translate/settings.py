"""Settings of the translate service: the shared ones plus WIREWATCH_TRANSLATE_*."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wirewatch_common.settings import Languages, Settings, parse_languages

__all__ = ["Languages", "TranslateSettings", "parse_languages"]


class TranslateSettings(Settings):
    """Settings of the translate service; every field is one WIREWATCH_ variable."""

    translate_pivot: str = Field(
        default="en", description="Language to pivot through when no direct package exists (fr→en→ar)."
    )
    translate_keep_pivot: bool = Field(
        default=True,
        description=(
            "Keep the text a pivot makes (ar→en→tr) as a rendition in the pivot language, marked kept_pivot, "
            "unless that language is a target or the original's."
        ),
    )
    translate_package_index: str = Field(
        default="https://raw.githubusercontent.com/argosopentech/argospm-index/main/",
        description="Folder URL of the Argos package index (index.json) that `install LANG...` reads.",
    )
    translate_device: Literal["cpu", "cuda", "auto"] = Field(
        default="cpu", description="CTranslate2 device; auto uses CUDA when a GPU is visible."
    )
    translate_compute_type: str = Field(
        default="int8", description="CTranslate2 compute type (int8 on CPU; int8_float16 is used on CUDA)."
    )
    translate_inter_threads: int = Field(
        default=1, ge=1, description="CTranslate2 batches run in parallel per model."
    )
    translate_intra_threads: int = Field(
        default=0, ge=0, description="CTranslate2 threads per batch; 0 lets it use every core."
    )
    translate_max_batch_tokens: int = Field(
        default=1024, ge=16, description="Token budget of one translate_batch call (padded source tokens)."
    )
    translate_beam_size: int = Field(default=4, ge=1, description="Beam size (Argos's default is 4).")
    translate_max_decoding_length: int = Field(
        default=256, ge=1, description="Most target tokens generated per sentence."
    )
    translate_max_sentence_tokens: int = Field(
        default=1024,
        ge=8,
        description=(
            "Most source tokens the model is given at once (also kept within max_decoding_length / 1.5); "
            "longer text is split at line breaks, separators, then between words, never cut off."
        ),
    )
    translate_unsplittable: Literal["copy", "fail"] = Field(
        default="copy",
        description=(
            "A run without spaces longer than the model accepts (a URL, a hash): copy it into the "
            "rendition unchanged, or fail the story's renditions."
        ),
    )
    translate_max_text_chars: int = Field(
        default=20_000, ge=1, description="Longest text POST /v1/translate accepts."
    )
    translate_rescan_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "How often the models dir is re-read; stories left unavailable, or failed because their "
            "package did not load, are then re-translated (and once at start)."
        ),
    )
    translate_memory_mb: int = Field(
        default=256,
        ge=0,
        description=(
            "Size bound of the translation memory (DATA_DIR/translate/memory.sqlite3, shared by the "
            "replicas of one host): sentences a package translated before are reused, least recently "
            "used evicted first. 0 turns it off."
        ),
    )
    translate_headlines_first: bool = Field(
        default=True,
        description=(
            "Translate every story's headline in a batch first, then summaries and first paragraphs, then "
            "the rest, publishing a `partial` rendition after a stage when enough work is ahead; false "
            "translates each batch in one stage with full renditions only."
        ),
    )
    translate_lead_paragraphs: int = Field(
        default=2,
        ge=0,
        description="Paragraphs translated with the summary, right after the headlines (headlines first).",
    )
    translate_partial_min_sentences: int = Field(
        default=8,
        ge=1,
        description=(
            "A partial rendition is published only when at least this many sentences of the batch are "
            "still to be translated by a model (not in the memory) before the full one."
        ),
    )
    translate_slice_s: float = Field(
        default=8.0,
        gt=0,
        description=(
            "Headlines first: a batch's work goes in slices of about this much model time (at most a "
            "quarter of the poll interval), every story's headline before any story's body; between two "
            "slices the consumer polls and commits the stories done, and stories that arrived meanwhile "
            "join the batch, their headlines next. Lower gets a burst's later headlines out sooner, with "
            "smaller engine batches."
        ),
    )
