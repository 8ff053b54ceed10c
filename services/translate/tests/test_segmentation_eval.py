"""The segmentation evaluation set (segmentation_cases.json) as a quality floor, and the issue's own examples."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirewatch_translate.segment import split_sentences

pytestmark = pytest.mark.unit

CASES_FILE = Path(__file__).with_name("segmentation_cases.json")
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))
LANGUAGES = ("en", "ar", "tr")
FLOOR = 0.99
TAGS = {
    "plain", "question", "exclamation", "abbreviation", "final_abbreviation", "initials", "ordinal", "date",
    "number", "quote", "url", "ellipsis", "dateline", "mixed", "arabic_punctuation", "latin_in_arabic",
}  # fmt: skip


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_set_is_large_varied_and_well_formed(lang):
    cases = CASES[lang]
    assert len(cases) >= 100
    paragraphs = [" ".join(case["sentences"]) for case in cases]
    assert len(set(paragraphs)) == len(paragraphs), "no paragraph twice"
    for case in cases:
        assert case["tag"] in TAGS, case
        assert case["sentences"], case
        assert all(s and s == s.strip() and "  " not in s for s in case["sentences"]), case
    tags = {case["tag"] for case in cases}
    assert {"abbreviation", "quote", "number", "date", "dateline", "url", "ellipsis"} <= tags
    assert ("ordinal" in tags) == (lang == "tr")
    assert ("arabic_punctuation" in tags) == (lang == "ar")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_splitter_keeps_the_accuracy_floor_on_the_set(lang):
    """A case counts only when every boundary is right; the floor is quality, not timing."""
    cases = CASES[lang]
    wrong = []
    for case in cases:
        got = split_sentences(" ".join(case["sentences"]), lang)
        if got != case["sentences"]:
            wrong.append(f"expected {case['sentences']}\n     got {got}")
    accuracy = 1 - len(wrong) / len(cases)
    assert accuracy >= FLOOR, f"{lang}: {accuracy:.1%} < {FLOOR:.0%}\n" + "\n".join(wrong)


# --- the examples ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Bakan, 2. Dünya Savaşı sırasında kentin iki kez bombalandığını hatırlattı.",
        "Galatasaray 1. Lig maçında sahaya genç bir kadroyla çıktı.",
        "Kent 19. yüzyılda bir ticaret merkeziydi.",
        "Toplantı 29.11.2026 tarihinde Ankara'da yapılacak.",
        "Seçimler 29 Kasım 2026 Pazar günü yapılacak.",
        "IV. Murat döneminden kalan çeşme onarıldı.",
        "Dava İstanbul 5. Ağır Ceza Mahkemesi'nde görülüyor.",
    ],
)
def test_turkish_ordinals_and_dates_do_not_end_sentences(text):
    assert split_sentences(text, "tr") == [text]


def test_turkish_number_ends_a_sentence_when_it_is_a_quantity_a_date_or_an_opener_follows():
    assert split_sentences("Ölü sayısı 25. Yaralılar hastaneye kaldırıldı.", "tr") == [
        "Ölü sayısı 25.",
        "Yaralılar hastaneye kaldırıldı.",
    ]
    assert split_sentences("Takım ligi 3. bitirdi. Bu bir rekor.", "tr") == [
        "Takım ligi 3. bitirdi.",
        "Bu bir rekor.",
    ]
    assert split_sentences("Karar tarihi 29.11.2026. Tebligat sonra yapıldı.", "tr") == [
        "Karar tarihi 29.11.2026.",
        "Tebligat sonra yapıldı.",
    ]
    assert split_sentences("Büyüme yüzde 5,2. Beklenti 4'tü.", "tr") == [
        "Büyüme yüzde 5,2.",
        "Beklenti 4'tü.",
    ]


def test_the_same_text_splits_by_the_rules_of_its_language():
    """`2.` before a capital is an ordinal in Turkish and a sentence end in English."""
    text = "Takım 2. Dünya sıralamasında geriledi."
    assert split_sentences(text, "tr") == [text]
    assert split_sentences("The score was 2. Then it rained.", "en") == [
        "The score was 2.",
        "Then it rained.",
    ]
    assert split_sentences("Bunu yapan sen. Ben değil.", "tr") == ["Bunu yapan sen.", "Ben değil."]
    assert split_sentences("Sen. Warren spoke.", "en") == ["Sen. Warren spoke."]
    assert split_sentences(text, "tr-TR") == split_sentences(text, "tr_TR") == [text]


def test_arabic_punctuation():
    ar = "هل تصمد الهدنة؟ قال الوزير، في بيان، إن المحادثات مستمرة؛ لكن الخلافات كبيرة. انتهى الاجتماع! وسيستأنف۔ غداً."
    assert split_sentences(ar, "ar") == [
        "هل تصمد الهدنة؟",
        "قال الوزير، في بيان، إن المحادثات مستمرة؛ لكن الخلافات كبيرة.",
        "انتهى الاجتماع!",
        "وسيستأنف۔",
        "غداً.",
    ]


def test_arabic_abbreviations_and_latin_inside_arabic():
    assert split_sentences("قال د. محمد العلي إن الأدوية نفدت.", "ar") == [
        "قال د. محمد العلي إن الأدوية نفدت."
    ]
    assert split_sentences("تأسست عام 1919 م. وتعد من أقدم الجامعات.", "ar") == [
        "تأسست عام 1919 م.",
        "وتعد من أقدم الجامعات.",
    ]
    assert split_sentences("قالت شركة Apple Inc. إن مبيعاتها ارتفعت.", "ar") == [
        "قالت شركة Apple Inc. إن مبيعاتها ارتفعت."
    ]
    assert split_sentences("استحوذت على حصة في Tesla Inc. وقال محللون إنها مربحة.", "ar") == [
        "استحوذت على حصة في Tesla Inc.",
        "وقال محللون إنها مربحة.",
    ]


def test_arabic_quotation_ending_in_a_question_carries_on_into_its_attribution():
    assert split_sentences("«هل انتهت الحرب؟» تساءلت الصحيفة. ولم تجب.", "ar") == [
        "«هل انتهت الحرب؟» تساءلت الصحيفة.",
        "ولم تجب.",
    ]
    assert split_sentences("هتفوا: «ارحلوا!» ثم تفرقوا.", "ar") == ["هتفوا: «ارحلوا!»", "ثم تفرقوا."]


def test_sentence_final_abbreviations_split_only_before_a_sentence_opener():
    assert split_sentences("The drone was made in the U.S. The next batch is Polish.") == [
        "The drone was made in the U.S.",
        "The next batch is Polish.",
    ]
    assert split_sentences("The U.S. Navy said the destroyer was hit.") == [
        "The U.S. Navy said the destroyer was hit."
    ]
    assert split_sentences("Shelling began before 5 a.m. The army fired back.") == [
        "Shelling began before 5 a.m.",
        "The army fired back.",
    ]
    assert split_sentences("Polls close at 8 p.m. Eastern time.") == ["Polls close at 8 p.m. Eastern time."]
    assert split_sentences("J. R. R. Tolkien met A. Yilmaz on Nov. 29 at No. 10.") == [
        "J. R. R. Tolkien met A. Yilmaz on Nov. 29 at No. 10."
    ]


def test_a_quote_left_open_splits_and_a_closed_one_stays_whole():
    opened = "“We will rebuild. Every house will stand again. Nobody will be left behind."
    assert len(split_sentences(opened)) == 3
    closed = opened + "”"
    assert split_sentences(closed) == [closed]
    assert len(split_sentences(closed, respect_quotes=False)) == 3


_PIECES = [*"aAbTtİıŞş  .?!…؟،؛۔\"“”«»'()0123456789,ود", "U.S.", "Dr.", "2. ", "vb. ", "Bu ", "The "]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, lang=st.sampled_from(LANGUAGES))
def test_nothing_is_lost_reordered_or_left_blank(text, lang):
    sentences = split_sentences(text, lang)
    assert all(s and s == s.strip() for s in sentences)
    assert "".join(sentences).replace(" ", "") == "".join(text.split())
