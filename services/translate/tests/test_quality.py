"""Quality signals: every rule on constructed outputs, then through the real engine and translator.

The first part needs no model: sources, outputs and token scores are written here. The second runs
the tiny TEST packages (meaningless output) and one model built here whose decoder copies English
into an Arabic rendition, through the real CTranslate2 and SentencePiece.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime

import numpy as np
import pytest
import sentencepiece as spm
from prometheus_client import REGISTRY

from wirewatch_common.story import Quality, QualityFlag, RenditionStatus, Story
from wirewatch_translate.engine import DecodeOptions, Engine, translate_scored
from wirewatch_translate.pairs import PackageInfo
from wirewatch_translate.quality import (
    LOW_CONFIDENCE,
    SentenceOutput,
    SentenceQuality,
    TokenScores,
    assess_sentence,
    best,
    copy_through,
    dominant_script,
    length_bounds,
    length_outlier,
    longest_run,
    rendition_quality,
    repetition,
    token_scores,
)
from wirewatch_translate.randommodel import build_random_model
from wirewatch_translate.sampletext import SAMPLE_TEXT
from wirewatch_translate.translator import StoryTranslator

WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
SOURCE = "Dockworkers walked out on Tuesday and said talks would resume after the holiday."
ARABIC_OUT = "أضرب عمال الموانئ يوم الثلاثاء وقالوا إن المحادثات ستستأنف بعد العطلة."
TURKISH_OUT = "Liman işçileri salı günü iş bıraktı ve görüşmelerin tatilden sonra süreceğini söyledi."
SURE = TokenScores(log_prob=-0.3 * 20, tokens=20)  # geometric mean 0.74


def _sentence(
    output: str,
    source: str = SOURCE,
    pair: str = "en-ar",
    scores: TokenScores | None = SURE,
    copied_chars: int = 0,
) -> SentenceOutput:
    src, tgt = pair.split("-")
    return SentenceOutput(source, output, src, tgt, scores, copied_chars)


def _flags(
    output: str, source: str = SOURCE, scores: TokenScores | None = SURE, copied_chars: int = 0
) -> set[QualityFlag]:
    return set(assess_sentence(_sentence(output, source, "en-ar", scores, copied_chars)).flags)


# --- scores ----------------------------------------------------------------------------------------


def test_token_scores_undo_ctranslate2s_length_normalisation():
    # 2 tokens and the end token, log-probabilities summing to -6, length penalty 0.2
    normalised = -6.0 / 3**0.2
    scores = token_scores(normalised, 2, length_penalty=0.2, ended=True)
    assert scores.tokens == 3 and scores.log_prob == pytest.approx(-6.0)
    assert scores.confidence == pytest.approx(math.exp(-2.0))
    stopped = token_scores(-6.0 / 4**0.2, 4, length_penalty=0.2, ended=False)
    assert stopped.tokens == 4 and stopped.log_prob == pytest.approx(-6.0), "no end token at the limit"
    assert token_scores(-6.0, 2, length_penalty=0.0, ended=True) == TokenScores(-6.0, 3)
    prefixed = token_scores(-4.0 / 3**0.2, 2, length_penalty=0.2, ended=True, prefix_length=1)
    assert prefixed.tokens == 2 and prefixed.log_prob == pytest.approx(-4.0), (
        "the forced prefix is not scored"
    )
    assert token_scores(float("nan"), 2, length_penalty=0.2, ended=True).confidence is None


# --- copy-through ----------------------------------------------------------------------------------


def test_copy_through_same_text_or_the_sources_script():
    assert copy_through(
        SOURCE, "  dockworkers WALKED out on tuesday and said talks would resume after the holiday. ", "tr"
    )
    assert copy_through(SOURCE, SOURCE, "ar")
    assert copy_through(SOURCE, "Dockworkers walked out, talks resume عمال", "ar"), "mostly Latin in Arabic"
    assert copy_through(ARABIC_OUT, "أضرب عمال الموانئ يوم الثلاثاء", "en"), (
        "Arabic left in an English rendition"
    )
    assert not copy_through(SOURCE, ARABIC_OUT, "ar")
    assert not copy_through(SOURCE, "قال حلف NATO إن BBC", "ar"), "names kept in Latin are not a copy"
    assert not copy_through(SOURCE, TURKISH_OUT, "tr"), "one script: only an identical output is a copy"
    assert not copy_through("Recep Tayyip", "Recep Tayyip", "tr"), "two words, most likely a name"
    assert not copy_through(SOURCE, "Dockworkers walked", "xx"), "a script this module does not know"
    assert dominant_script(ARABIC_OUT + " NATO") == "ARABIC" and dominant_script("2026 - 3.5") is None


# --- length ratio ----------------------------------------------------------------------------------


def test_length_ratio_bounds_per_pair_and_short_sources_skipped():
    low, high = length_bounds("en", "ar")
    assert (round(low, 2), round(high, 3)) == (0.34, 2.125), "Arabic runs shorter than English"
    assert length_bounds("en", "xx") == (0.4, 2.5)
    assert not length_outlier(SOURCE, ARABIC_OUT, "en", "ar")
    assert not length_outlier(SOURCE, TURKISH_OUT, "en", "tr")
    assert length_outlier(SOURCE, "أضرب عمال", "en", "ar")
    assert length_outlier(SOURCE, TURKISH_OUT * 3, "en", "tr")
    assert not length_outlier(
        "Talks resume.", "Görüşmeler, uzun bir aradan sonra yeniden başlıyor.", "en", "tr"
    )


# --- repetition ------------------------------------------------------------------------------------


def test_repetition_loops_back_to_back_or_filling_the_output():
    assert longest_run(list("ababababc")) == 4
    assert repetition(SOURCE, "Liman işçileri işçileri işçileri işçileri iş bıraktı.")
    assert repetition(SOURCE, "görüşmeler yeniden görüşmeler yeniden görüşmeler yeniden görüşmeler yeniden")
    looping = "liman işçileri grev yaptı ve " * 4 + "liman işçileri grev"
    assert longest_run(looping.split()) < 4 < len(looping.split()) and repetition(SOURCE, looping)
    assert not repetition(SOURCE, TURKISH_OUT)
    chant = "Go go go go, the crowd sang."
    assert not repetition(chant, "Hadi hadi hadi hadi, diye şarkı söyledi kalabalık."), (
        "the source says it so"
    )
    assert repetition("港口工人罢工", "港口港口港口港口港口"), "spaceless scripts count characters"
    assert repetition(SOURCE, "liman " * 100_000), "one pass per phrase length, even over a long loop"


# --- untranslated and low confidence ------------------------------------------------------------------


def test_text_the_length_rule_copied_is_untranslated_not_a_copy():
    blob = "ZmFrZS1oYXNo" * 420
    flags = _flags(blob, source=blob, copied_chars=len(blob))
    assert flags == {QualityFlag.UNTRANSLATED}


def test_low_confidence_per_sentence_and_for_a_rendition_of_short_sentences():
    unsure = TokenScores(log_prob=math.log(0.2) * 10, tokens=10)
    assert _flags(ARABIC_OUT, scores=unsure) == {QualityFlag.LOW_CONFIDENCE}
    assert _flags(ARABIC_OUT, scores=None) == set(), "no scores asked for: no confidence to judge"
    short = TokenScores(log_prob=math.log(0.2) * 2, tokens=2)
    assert _flags(ARABIC_OUT, scores=short) == set(), "two tokens alone say little"
    quality = rendition_quality([assess_sentence(_sentence(ARABIC_OUT, scores=short))] * 3)
    assert quality.flags == [QualityFlag.LOW_CONFIDENCE] and quality.flagged_sentences == 0
    assert quality.confidence == pytest.approx(0.2) and quality.confidence < LOW_CONFIDENCE
    assert "Model confidence 0.20 (under 0.35)" in (quality.reason or "")


# --- a rendition ----------------------------------------------------------------------------------


def test_a_clean_rendition_has_no_flags_and_no_reason():
    sentences = [
        assess_sentence(_sentence(ARABIC_OUT)),
        assess_sentence(_sentence(TURKISH_OUT, pair="en-tr")),
    ]
    assert all(not s.flags for s in sentences)
    quality = rendition_quality(sentences)
    assert quality == Quality(confidence=round(math.exp(-0.3), 4), sentences=2)
    assert quality.reason is None and not quality.low


def test_a_rendition_gathers_flags_counts_and_confidence_over_all_tokens():
    sentences = [
        SentenceQuality(frozenset(), TokenScores(-1.0, 1)),
        SentenceQuality(frozenset({QualityFlag.COPY_THROUGH}), TokenScores(-3.0, 3)),
        SentenceQuality(frozenset({QualityFlag.COPY_THROUGH, QualityFlag.REPETITION}), TokenScores(-2.0, 4)),
    ]
    quality = rendition_quality(sentences, pivot=["en"])
    assert quality.flags == [QualityFlag.COPY_THROUGH, QualityFlag.REPETITION, QualityFlag.PIVOT]
    assert (quality.sentences, quality.flagged_sentences) == (3, 2)
    assert quality.confidence == pytest.approx(math.exp(-6.0 / 8), abs=1e-4), "geometric mean over tokens"
    assert quality.reason == (
        "2 of 3 sentences flagged: copy of the source (2); phrase repeated in a loop (1). Translated through en."
    )
    assert quality.low


def test_a_pivot_alone_is_informative_not_low_quality():
    quality = rendition_quality([SentenceQuality(frozenset(), SURE)], pivot=["en"])
    assert quality.flags == [QualityFlag.PIVOT] and not quality.low
    assert quality.reason == "Translated through en."


def test_two_hops_of_a_sentence_join_flags_and_tokens():
    first = SentenceQuality(frozenset({QualityFlag.LENGTH_RATIO}), TokenScores(-1.0, 2))
    second = SentenceQuality(frozenset({QualityFlag.REPETITION}), TokenScores(-3.0, 2))
    joined = first + second
    assert joined.flags == {QualityFlag.LENGTH_RATIO, QualityFlag.REPETITION}
    assert joined.scores == TokenScores(-4.0, 4) and joined.confidence == pytest.approx(math.exp(-1.0))
    assert (first + SentenceQuality()).scores == first.scores


def test_the_best_candidate_has_fewest_flags_then_no_copy_then_confidence():
    copy = ("copy", SentenceQuality(frozenset({QualityFlag.COPY_THROUGH}), SURE))
    short = ("short", SentenceQuality(frozenset({QualityFlag.LENGTH_RATIO}), TokenScores(-20.0, 10)))
    worse = ("worse", SentenceQuality(frozenset({QualityFlag.LENGTH_RATIO, QualityFlag.LOW_CONFIDENCE})))
    clean = ("clean", SentenceQuality(frozenset(), TokenScores(-9.0, 10)))
    assert best([copy, short]) == 1, "a tie on flags: not a copy"
    assert best([copy, worse]) == 0, "a readable copy beats a candidate with more flags"
    assert best([copy, short, clean]) == 2
    assert best([copy, copy]) == 0, "a tie keeps the first decoding"
    with pytest.raises(ValueError, match="at least one candidate"):
        best([])


# --- through the engine ---------------------------------------------------------------------------

COPIED_WORD = "internationally"


@pytest.fixture(scope="module")
def copier(tmp_path_factory: pytest.TempPathFactory) -> PackageInfo:
    """An en→ar model that decodes one English word, then stops, unless its first token is forced.

    Its output bias leaves only Arabic pieces, one English piece (a single 15-letter word) and the
    end token: the English word wins the first step, the end token the second. So its best output
    copies English into Arabic; alternatives for the first token are Arabic.
    """
    root = tmp_path_factory.mktemp("copier")
    lines = [line for code in ("en", "ar") for line in SAMPLE_TEXT[code].strip().splitlines()]
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=proto,
        vocab_size=400,
        hard_vocab_limit=False,
        character_coverage=1.0,
        minloglevel=2,
        user_defined_symbols=[f"▁{COPIED_WORD}"],
    )
    tokenizer = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = [tokenizer.id_to_piece(i) for i in range(tokenizer.get_piece_size())]
    arabic = [
        dominant_script(p) == "ARABIC" and not any(c.isascii() and c.isalpha() for c in p) for p in vocab
    ]
    bias = np.where(arabic, 0.0, -50.0).astype(np.float32)
    bias[vocab.index(f"▁{COPIED_WORD}")] = 6.0
    bias[tokenizer.eos_id()] = 10.0
    build_random_model(root / "model", vocab, vocab, seed=0, quantization="int8", output_bias=bias)
    (root / "sentencepiece.model").write_bytes(proto.getvalue())
    return PackageInfo("en", "ar", "translate-en_ar", "0.0.1-copier", root)


def _story(**fields: object) -> Story:
    base = {
        "id": "ww-q-1",
        "uri": "urn:test:q:1",
        "version": 1,
        "firstcreated": WHEN,
        "versioncreated": WHEN,
        "language": "en",
        "headline": "Port strike halts grain exports",
        "body": [
            "Dockworkers walked out on Tuesday. Dr. Smith said talks resume.",
            "Prices rose 3.5 percent.",
        ],
    }
    return Story.model_validate(base | fields)


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_copy_is_decoded_again_and_a_better_candidate_kept(copier):
    engine = Engine(copier.path.parent, scan=lambda _: {copier.pair: copier})
    model = engine.model(copier)
    sentences = ["Port strike halts grain exports.", "Talks resume on Friday after a long meeting."]
    assert [model.decode(h) for h in model.translate_tokens(model.encode(sentences), engine.decode)] == [
        COPIED_WORD,
        COPIED_WORD,
    ], "the model's best output is the English word"
    kept = translate_scored(model, sentences, DecodeOptions(retry_copies=False))
    assert kept.texts == [COPIED_WORD, COPIED_WORD]
    improved_before = _sample(
        "wirewatch_translate_copy_retries_total", {"pair": "en-ar", "outcome": "improved"}
    )
    retried = translate_scored(model, sentences, DecodeOptions())
    assert all(dominant_script(t) == "ARABIC" for t in retried.texts), retried.texts
    assert _sample("wirewatch_translate_copy_retries_total", {"pair": "en-ar", "outcome": "improved"}) == (
        improved_before + 2
    )
    assert all(s is not None and s.tokens == 2 for s in retried.scores), "the kept candidate's own scores"

    translator = StoryTranslator(engine, ["ar"], clock=lambda: WHEN)
    engine.decode = DecodeOptions(retry_copies=False)
    (copied,) = translator.translate([_story()])
    assert copied.translation.status is RenditionStatus.TRANSLATED, "a flag never changes the status"
    assert QualityFlag.COPY_THROUGH in copied.translation.quality.flags
    assert copied.translation.test_package is False, "not a test package"
    engine.decode = DecodeOptions()
    (fixed,) = translator.translate([_story()])
    assert QualityFlag.COPY_THROUGH not in fixed.translation.quality.flags


def test_engine_scores_are_the_models_token_log_probabilities(models_dir):
    engine = Engine(models_dir)
    info = engine.route("en", "ar")[0]
    model = engine.model(info)
    sentences = [
        "Port strike halts grain exports.",
        "Talks resume on Friday after a long meeting of the union.",
    ]
    done = engine.translate_scored(info, sentences)
    outputs = model.translate_tokens(model.encode(sentences), engine.decode)
    rescored = model.score(model.encode(sentences), outputs, engine.decode)
    for ours, theirs in zip(done.scores, rescored, strict=True):
        assert ours is not None and ours.tokens == theirs.tokens
        assert ours.log_prob == pytest.approx(theirs.log_prob, rel=0.02), "int8 decoding vs scoring"
    off = Engine(models_dir, decode=DecodeOptions(return_scores=False)).translate_scored(info, sentences)
    assert off.texts == done.texts and off.scores == [None, None]


def test_test_package_renditions_carry_quality_and_say_they_are_test_packages(models_dir):
    translator = StoryTranslator(Engine(models_dir), ["ar", "tr"], clock=lambda: WHEN)
    arabic = _story(
        id="ww-q-2", language="ar", headline="إضراب في الميناء", body=["قالت الهيئة إن الصادرات ستستأنف."]
    )
    flagged_before = _sample("wirewatch_translate_quality_flags_total", {"pair": "ar-tr", "flag": "pivot"})
    observed_before = _sample("wirewatch_translate_confidence_count", {"pair": "en-ar"})
    renditions = {(r.id, r.language): r for r in translator.translate([_story(), arabic])}
    for rendition in renditions.values():
        t = rendition.translation
        assert t.status is RenditionStatus.TRANSLATED and t.test_package is True
        assert t.quality is not None and t.quality.confidence is not None and 0 < t.quality.confidence <= 1
        assert t.quality.flagged_sentences <= t.quality.sentences
        assert Story.from_json(rendition.to_json()) == rendition
    assert renditions[("ww-q-1", "ar")].translation.quality.sentences == 4, "headline and three sentences"
    assert QualityFlag.PIVOT not in renditions[("ww-q-1", "tr")].translation.quality.flags
    pivoted = renditions[("ww-q-2", "tr")].translation.quality
    assert QualityFlag.PIVOT in pivoted.flags and pivoted.sentences == 2
    assert pivoted.reason and pivoted.reason.endswith("Translated through en.")
    assert (
        _sample("wirewatch_translate_quality_flags_total", {"pair": "ar-tr", "flag": "pivot"})
        == flagged_before + 1
    )
    assert _sample("wirewatch_translate_confidence_count", {"pair": "en-ar"}) == observed_before + 1


def test_a_run_copied_by_the_length_rule_flags_its_sentence_untranslated(models_dir):
    token = "ZmFrZS1oYXNo" * 420
    translator = StoryTranslator(Engine(models_dir), ["ar"], clock=lambda: WHEN)
    (rendition,) = translator.translate([_story(body=[f"Checksum: {token}", "Talks resume on Friday."])])
    quality = rendition.translation.quality
    assert rendition.translation.status is RenditionStatus.TRANSLATED and token in rendition.body[0]
    assert QualityFlag.UNTRANSLATED in quality.flags
    assert "left untranslated (too long for the model) (1)" in (quality.reason or "")
