import json
from pathlib import Path

import pytest

from wirewatch_translate.segment import ABBREVIATIONS, guess_language, split_paragraphs, split_sentences

pytestmark = pytest.mark.unit


def test_splits_plain_sentences_and_keeps_text():
    text = "Dockworkers walked out on Tuesday. Talks resume on Friday! Will exports recover? Nobody knows."
    parts = split_sentences(text)
    assert parts == [
        "Dockworkers walked out on Tuesday.",
        "Talks resume on Friday!",
        "Will exports recover?",
        "Nobody knows.",
    ]
    assert " ".join(parts) == text


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Smith met Gen. Ali in Washington on Jan. 5 to discuss the deal.",
        "The U.S. Senate voted on the bill late on Tuesday.",
        "Prices rose 3.5 percent to 1,204.75 dollars a tonne.",
        "J. R. Hartley wrote the book in 1987.",
        "The firm, Acme Inc. Ltd. of London, denied it.",
    ],
)
def test_abbreviations_initials_and_numbers_stay_whole(text):
    assert split_sentences(text) == [text]


def test_quotes_stay_whole_and_end_at_the_closing_quote():
    text = 'He said: "We will win. They will lose." Then he left the hall.'
    assert split_sentences(text) == ['He said: "We will win. They will lose."', "Then he left the hall."]
    curly = "“Prices are up. Wages are not.” The minister disagreed."
    assert split_sentences(curly) == ["“Prices are up. Wages are not.”", "The minister disagreed."]


def test_arabic_and_turkish():
    ar = "قالت الهيئة إن الصادرات ستستأنف. وتستأنف المحادثات يوم الجمعة؟ نعم."
    assert split_sentences(ar, "ar") == [
        "قالت الهيئة إن الصادرات ستستأنف.",
        "وتستأنف المحادثات يوم الجمعة؟",
        "نعم.",
    ]
    tr = "Prof. Dr. Ayşe Yılmaz Ankara'da konuştu. Görüşmeler cuma günü sürecek."
    assert split_sentences(tr, "tr") == [
        "Prof. Dr. Ayşe Yılmaz Ankara'da konuştu.",
        "Görüşmeler cuma günü sürecek.",
    ]


def test_lower_case_after_period_is_not_a_boundary_and_empty_is_empty():
    assert split_sentences("It sold 5 mln. tonnes in total.") == ["It sold 5 mln. tonnes in total."]
    assert split_sentences("   ") == []


def test_unbalanced_quote_in_a_long_paragraph_falls_back_to_plain_splitting():
    text = '"An opening quote never closed. ' + "Another sentence follows here. " * 20
    assert len(split_sentences(text)) == 21


def test_paragraphs_and_language_guess():
    assert split_paragraphs("One.\n\nTwo.\nThree.\n") == ["One.", "Two.", "Three."]
    assert guess_language("قالت الهيئة") == "ar"
    assert guess_language("Görüşmeler cuma günü sürecek") == "tr"
    assert guess_language("Talks resume on Friday") == "en"
    assert guess_language("123") == "en"


CORPUS = Path(__file__).resolve().parents[3] / "../shared/corpus/agency"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus (../shared/corpus) is not on this machine")
@pytest.mark.parametrize("name", ["ninjsExMediumText1.json", "ninjsExSimpleText1.json"])
def test_real_agency_copy_splits_without_losing_text(name):
    body = json.loads((CORPUS / name).read_text(encoding="utf-8"))["body_text"]
    paragraphs = [p for p in body.split("\n") if p.strip()]
    total = 0
    for paragraph in paragraphs:
        sentences = split_sentences(paragraph, "en")
        total += len(sentences)
        assert " ".join(sentences) == " ".join(paragraph.split()), "nothing lost or reordered"
        for sentence in sentences[:-1]:
            assert sentence[-1] in ".!?\"'”’)", sentence
            last_word = sentence.rsplit(None, 1)[-1].rstrip(".").lower()
            assert last_word not in ABBREVIATIONS["en"], sentence
    assert total > len(paragraphs), "agency paragraphs hold several sentences"
