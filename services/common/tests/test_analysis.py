"""The analysis search and watchlists share: what folds, what stems, and what deliberately does not.

Real tantivy chains (`Analyzers`), as the index and the alerts matcher run them. The Arabic cases
follow the published light10 rules (Larkey, Ballesteros & Connell) as Lucene implements them.
"""

from __future__ import annotations

import pytest

from wirewatch_common.analysis import (
    STEM_MAX_BYTES,
    arabic_suffixes,
    fold,
    fold_arabic,
    fold_words,
    normalize_arabic,
    stem_arabic_word,
    stemmable,
)
from wirewatch_common.analyzers import MAX_TOKEN_CHARS, Analyzers

pytestmark = pytest.mark.unit

ANALYZERS = Analyzers()


def _same(fam: str, *texts: str) -> list[str]:
    """The one token list every text analyses to in `fam` (fails when they differ)."""
    found = {tuple(ANALYZERS.tokens(t, fam)) for t in texts}  # type: ignore[arg-type]
    assert len(found) == 1, {t: ANALYZERS.tokens(t, fam) for t in texts}  # type: ignore[arg-type]
    return list(found.pop())


# -- Turkish ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ("IDLIB", "İDLİB", "İdlib", "idlib", "ıdlıb", "Idlib'deki", "İdlib’de", "İDLİB'DEKİ"),
        ("ISTANBUL", "İSTANBUL", "İstanbul", "istanbul", "İstanbul'da", "ISTANBUL'DA"),
        ("GAZIANTEP", "Gaziantep", "gaziantep'te"),
        ("INSANI", "insani", "İnsani"),
    ],
)
def test_dotted_and_dotless_i_meet_in_every_case_with_and_without_the_apostrophe(spellings):
    (token,) = _same("tr", *spellings)
    assert "ı" not in token


def test_turkish_stems_on_proper_turkish_lower_case_and_only_then_folds_the_dotless_i():
    # Turkish lower case for the stemmer (KAPISI is kapısı, not kapisi); the stem then loses its ı.
    assert ANALYZERS.tokens("KAPISI", "tr") == ANALYZERS.tokens("kapısı", "tr") == ["kapis"]
    # Capitals typed on another keyboard reach the same stem.
    _same("tr", "SEÇIMLER", "seçimler", "SEÇİMLER", "seçim")


@pytest.mark.parametrize(
    "forms",
    [
        ("seçim", "seçimler", "seçimi", "seçimlerin"),
        ("öğretmen", "öğretmenler", "öğretmenleri"),
        ("hisse", "hisseleri", "hisselerindeki"),
        ("liman", "limanında", "Limanı'nda", "limanlar"),
        ("asker", "askerler"),
        ("hükümet", "hükümetin"),
    ],
)
def test_turkish_suffix_chains_of_a_noun_meet(forms):
    _same("tr", *forms)


def test_every_apostrophe_a_turkish_writer_uses_cuts_the_suffix():
    for apostrophe in "'\u2019\u2018\u02bc\u00b4`":
        assert ANALYZERS.tokens(f"Ankara{apostrophe}da", "tr", stem=False) == ["ankara"]


def test_the_second_turkish_pass_leaves_short_stems_alone_so_unrelated_words_stay_apart():
    # One pass: yardım → yar; yarısında → yarı. A second pass on the four-letter stem would join them.
    assert ANALYZERS.tokens("yardım", "tr") != ANALYZERS.tokens("yarısında", "tr")
    assert ANALYZERS.tokens("oranı", "tr") != ANALYZERS.tokens("ortasında", "tr")


# -- Arabic -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forms",
    [
        ("مساعدة", "مساعدات", "المساعدات", "والمساعدات"),  # feminine ة, sound feminine plural ات
        ("مخيم", "مخيمات", "المخيمات"),
        ("مفاوض", "مفاوضون", "المفاوضين", "للمفاوضين"),  # sound masculine plural ون / ين
        ("هدنة", "الهدنة", "والهدنة", "بالهدنة", "كالهدنة", "فالهدنة", "الهُدْنَةُ", "هدنـــة"),
        ("إدلب", "ادلب", "أدلب", "وإدلب", "بإدلب"),  # alef forms; glued و and ب
        ("مستشفى", "مستشفي", "المستشفى", "بمستشفى"),  # alef maksura; glued ب
        ("دمشق", "بدمشق"),
        ("مترو", "لمترو"),
        ("اعادة", "إعادة", "بإعادة"),
    ],
)
def test_arabic_light_stemming_joins_plurals_feminine_article_particles_and_letter_variants(forms):
    _same("ar", *forms)


def test_light10_follows_lucene_rules_for_lengths_and_order():
    # One prefix, the first that applies; it must leave two letters (three after a lone و).
    assert fold_arabic("الكتاب") == "كتاب"
    assert fold_arabic("والكتاب") == "كتاب"
    assert fold_arabic("وكتاب") == "كتاب"
    assert fold_arabic("ولد") == "ولد"  # و before two letters stays
    assert fold_arabic("الم") == "الم"  # the article before one letter stays
    assert fold_arabic("للحرب") == "حرب"
    # Suffixes in order, each if two letters remain: several may go.
    assert arabic_suffixes("مدرستها") == "مدرست"
    assert arabic_suffixes("منه") == "من" and arabic_suffixes("به") == "به"  # two letters must remain
    assert arabic_suffixes("مستشفيات") == "مستشف"  # ات then ي


def test_a_glued_preposition_without_the_article_goes_only_from_a_long_stem():
    assert stem_arabic_word("بدمشق") == "دمشق"
    # A root letter ب ك ل ف in a short stem stays, so singular and plural still meet.
    assert stem_arabic_word("لاعب") == stem_arabic_word("لاعبين") == "لاعب"
    assert stem_arabic_word("باحث") == stem_arabic_word("باحثون") == "باحث"
    assert stem_arabic_word("كتاب") == "كتاب"


def test_arabic_normalisation_runs_in_every_family_and_digits_become_ascii():
    for fam in ("en", "tr", "std", "ar"):
        assert ANALYZERS.tokens("إدلب ٢٠٢٤ ۱۲", fam, stem=False) == ["ادلب", "2024", "12"]
    assert normalize_arabic("ٱلْقُرْآن") == "القران"
    assert normalize_arabic("Istanbul") == "Istanbul"


def test_outside_turkish_a_dotless_or_dotted_i_is_an_i():
    assert fold("Iğdır İdlib", "en") == "Iğdir idlib"
    assert ANALYZERS.tokens("IĞDIR", "en") == ANALYZERS.tokens("Iğdır", "std") == ["iğdir"]


def test_prefix_words_are_folded_but_never_stemmed():
    assert fold_words("İdlib'deki ISPARTA", "tr") == "idlib isparta"
    assert fold_words("والمستشفيات", "ar") == "مستشفيات"
    assert ANALYZERS.tokens("المستشفيات", "ar", stem=False) == ["مستشفيات"]


def test_words_near_the_token_limit_are_not_stemmed_so_a_drop_depends_on_the_folded_word_alone():
    long_tr = "c" * (STEM_MAX_BYTES - 1)
    assert stemmable(long_tr) and not stemmable("c" * STEM_MAX_BYTES)
    assert not stemmable("ب" * (STEM_MAX_BYTES // 2))
    word = "ı" * (MAX_TOKEN_CHARS // 2)  # 64 bytes: dropped, even though i would make it 32
    assert ANALYZERS.tokens(f"{word} ok", "tr") == ["ok"]
    assert ANALYZERS.prepare(f"{word} ok", "tr").split()[0] == word


def test_long_texts_are_prepared_chunk_by_chunk_as_a_whole_text_would_be():
    text = " ".join(["İdlib'deki çatışmalar SEÇIMLER والمستشفيات بدمشق"] * 40)
    fresh = Analyzers()
    for fam in ("tr", "ar"):
        assert fresh.prepare(text, fam) == " ".join(fresh._prepare_chunk(text, fam).split())  # type: ignore[arg-type]
        assert fresh.prepare(text, fam) == fresh.prepare(text, fam)  # type: ignore[arg-type]
