"""Pure layout and cutting: what is copied, how tables keep their shape, where long text is cut."""

import random
import re
from pathlib import Path

import pytest

from wirewatch_translate.units import (
    _CUTS,
    Piece,
    cut,
    fit,
    glue,
    is_verbatim,
    layout,
    written_without_spaces,
)

pytestmark = pytest.mark.unit

CORPUS = (Path(__file__).resolve().parents[3] / "../shared/corpus/agency").resolve()
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the shared corpus is not on this machine ({CORPUS})"
)


@pytest.mark.parametrize(
    "text",
    [
        "12  -3  45/32  ",
        "BUE 03 12 NNW",
        "1-0",
        "14:30",
        "6:10 p.m.",
        "2026-11-25",
        "29.08.2016",
        "1,204.75",
        "+3.5%",
        "-4 °C",
        "12 km/h",
        "$210",
        "3{",  # ANPA's half
        ".639",
        "L-1",
        "XNP101, XNP102",
        "-------------------------",
        "___=",
        "NNW",
        "١٢ - ٣",
        "",
        "   ",
    ],
)
def test_numbers_codes_and_punctuation_are_copied(text):
    assert is_verbatim(text)


@pytest.mark.parametrize(
    "text",
    [
        "NEW YORK",  # two bare capital words: more likely a name than a code
        "Amsterdam;42;50;rn",
        "16-18: Relegation",
        "Monday, January 30",
        "Prices rose 3.5 percent",
        "rn",
        "Pct",
        "PRECIP",
        "الساعة 14:30",
        "Saat 14:30'da başladı",
        "COVID-19 cases 12",
    ],
)
def test_words_are_translated(text):
    assert not is_verbatim(text)


def _anpa_lines(name: str) -> list[str]:
    """Text lines of an ANPA file the way ingest reads them: control bytes and `<` markers gone."""
    raw = (CORPUS / name).read_bytes().decode("latin-1")
    lines = [
        re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", line).strip().removesuffix("<") for line in raw.splitlines()
    ]
    return [line for line in lines if line]


@needs_corpus
def test_real_table_lines_from_the_corpus_are_classified():
    weather = [line for line in _anpa_lines("anpa-3.tst") if line.count(";") >= 10]
    assert len(weather) > 90
    for line in weather:
        assert not is_verbatim(line), line  # a city and condition codes in every row
        cells = line.split(";")
        assert all(is_verbatim(c) for c in cells[1:] if re.fullmatch(r"[\d.]+", c)), line
    standings = (CORPUS / "tag_reuters.com,0000_newsml_ISS149709_1618095828").read_text(encoding="utf-8")
    rows = [r.rstrip() for r in standings.splitlines() if re.match(r"\d+ +[A-Z]", r)]
    assert len(rows) >= 18
    for row in rows:
        assert not is_verbatim(row)
        figures = re.split(r" {2,}", row)[1:]
        assert is_verbatim(figures[-1]), row  # "39 15 44"
    assert is_verbatim("-------------------------")


def test_a_multi_line_table_keeps_its_lines_and_cells():
    table = "Standings   P  W  Pts\n1  Besiktas   19 13  44\n-----\n2  Istanbul Basaksehir   19 12  42"
    shape = layout(table)
    assert shape.segments == ("Standings", "Pts", "Besiktas", "Istanbul Basaksehir")
    rendered = shape.render(["TABLO", "Puan", "BJK", "IBFK"])
    assert rendered == "TABLO   P  W  Puan\n1  BJK   19 13  44\n-----\n2  IBFK   19 12  42"
    assert rendered.count("\n") == table.count("\n")
    piped = layout("Team | W | L\nAnkaragucu | 3 | 1")
    assert piped.segments == ("Team", "Ankaragucu")
    assert piped.render(["Takim", "AGC"]) == "Takim | W | L\nAGC | 3 | 1"


def test_semicolon_records_and_tabs_are_cells_in_any_paragraph():
    collapsed = "Conditions as of 0700 GMT: ;MIN;MAX;COND Amsterdam;42;50;rn Athens;60;69;rn"
    shape = layout(collapsed)
    assert shape.segments == ("Conditions as of 0700 GMT:", "COND Amsterdam", "rn Athens", "rn")
    assert shape.render(list(shape.segments)) == collapsed
    tabbed = layout("Ankara\t12\t-3\tsunny")
    assert tabbed.segments == ("Ankara", "sunny")
    assert tabbed.render(["A", "S"]) == "A\t12\t-3\tS"


def test_running_text_is_one_segment_and_double_spaces_stay_inside_it():
    prose = "Dockworkers walked out.  Talks resume on Friday; both sides agree."
    shape = layout(prose)
    assert shape.segments == (prose,)
    assert shape.render(["X"]) == "X"
    assert layout("12 - 3").segments == ()
    assert layout("12 - 3").render([]) == "12 - 3"
    with pytest.raises(ValueError, match="1 translations for 0 segments"):
        layout("12").render(["x"])


def test_cut_gives_the_text_back_for_every_level():
    rng = random.Random(5)
    alphabet = ["word", " ", "  ", "\t", "\n", ";", "; ", ",", ", ", ":", ". ", "。", "x", "–", " – "]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        for pattern in _CUTS:
            parts = cut(text, pattern)
            assert "".join(f + s for f, s in parts) == text
            assert all(f for f, _ in parts[1:]), "no empty fragment after the first"


def _words(texts):
    return [len(t.split()) for t in texts]


def test_fit_cuts_at_the_gentlest_boundary_and_packs_up_to_the_limit():
    text = "alpha beta gamma; delta epsilon, zeta eta theta; iota kappa"
    pieces = fit(text, _words, 5)
    assert pieces == [Piece("alpha beta gamma;", " "), Piece("delta epsilon, zeta eta theta;", " "),
                      Piece("iota kappa", "")]  # fmt: skip
    lines = "one two three\nfour five six seven\neight"
    assert [p.text for p in fit(lines, _words, 7)] == ["one two three\nfour five six seven", "eight"]
    assert [p.text for p in fit(lines, _words, 6)] == ["one two three", "four five six seven\neight"]
    run_on = ", ".join(f"item {i} and item {i + 1}" for i in range(200))
    pieces = fit(run_on, _words, 20)
    assert all(_words([p.text])[0] <= 20 for p in pieces)
    assert "".join(p.text + p.sep for p in pieces) == run_on
    assert all(p.text.endswith(",") for p in pieces[:-1]), "cut after commas, not inside a clause"


def test_fit_falls_back_to_words_and_leaves_a_run_without_cut_points_to_the_caller():
    def chars(texts):
        return [len(t) for t in texts]

    text = "short words here " + "h" * 50 + " and more"
    pieces = fit(text, chars, 20)
    assert "".join(p.text + p.sep for p in pieces) == text
    assert [p for p in pieces if not p.fits] == [Piece("h" * 50, " ", fits=False)]
    assert all(len(p.text) <= 20 for p in pieces if p.fits)
    with pytest.raises(ValueError, match="at least 1 token"):
        fit(text, chars, 0)


def test_glue_spaces_only_between_scripts_that_use_spaces():
    assert glue("abc", "def") == "abc def"
    assert glue("一二", "三四") == "一二三四"
    assert glue("abc ", "def") == "abc def"
    assert glue("", "x") == "x"
    assert written_without_spaces("ภาษาไทย") and not written_without_spaces("مرحبا بالعالم")
