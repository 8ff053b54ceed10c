"""Tables keep their line structure (one paragraph, one line per row); prose is still joined into one line.

A wire table joined with spaces became one "sentence" of thousands of tokens that translation
refused (issue 12); these tests pin what a table looks like after ingest, from plain text, ANPA,
HTML, NITF and NewsML-G2, on documents written here and the corpus's ANPA weather table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from wirewatch_common.story import Story
from wirewatch_ingest.normalize import Limits, clean_inline, html_to_paragraphs, text_to_paragraphs
from wirewatch_ingest.sources import parse_document
from wirewatch_ingest.tables import is_table, render_rows, table_lines

pytestmark = pytest.mark.unit

RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)

RESULTS = """Team          P   W   D   L   Pts
Galatasaray  12  10   1   1    31
Fenerbahce   12   9   2   1    29
Besiktas     12   7   3   2    24"""

PRICES = "Gold\t2,345.10\t+0.4%\nSilver\t27.80\t-1.1%\nBrent\t82.15\t+0.9%"

AGATE = ";MIN;MAX;COND\nAmsterdam;42;50;rn\nAthens;60;69;rn\nBuenos Aires;65;84;pc"


def parse(data: str | bytes, content_type: str | None = None) -> Story:
    raw = data.encode() if isinstance(data, str) else data
    [story] = parse_document(raw, content_type, received=RECEIVED, limits=Limits())[1]
    return story


# --- detection -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        RESULTS,
        PRICES,
        AGATE,
        "Name | Votes | Share\nSmith | 12,345 | 51.2%\nJones | 11,780 | 48.8%",
        "Arsenal 2 Chelsea 1\nLiverpool 3 Everton 0\nLeeds 1 Spurs 1",
    ],
    ids=["aligned", "tabs", "agate", "pipes", "scores"],
)
def test_tables_are_recognised(text: str) -> None:
    assert is_table(text.split("\n"))


@pytest.mark.parametrize(
    "text",
    [
        "The council met on Tuesday.  It voted to close the bridge\nfor repairs until March, officials said.",
        "Police said 34 people were hurt in the crash on the A1\n"
        "near Newcastle on Sunday, and 12 were taken to hospital.",
        "He came; he saw; he left;\nand nobody asked him why.",
        # typewriter-justified prose: double spaces where the line needed them, never in a column
        "The  ministers met in Brussels on Monday to\ndiscuss the budget,  which has been delayed\nfor "
        "months by  disputes between the member\nstates over  farm subsidies and the cost of",
        "A single line  with  gaps",
    ],
    ids=["double-spaced-sentences", "figures-in-prose", "semicolons-in-prose", "justified", "one-line"],
)
def test_prose_is_not_a_table(text: str) -> None:
    assert not is_table(text.split("\n"))
    assert "\n" not in clean_inline(text)


def test_a_table_keeps_its_rows_and_columns_and_cleaning_it_again_changes_nothing() -> None:
    cleaned = clean_inline("  " + RESULTS.replace("\n", " \r\n") + "\n\n")
    assert cleaned.split("\n") == [line.strip() for line in RESULTS.split("\n")]
    assert clean_inline(cleaned) == cleaned
    assert clean_inline(PRICES) == PRICES
    assert table_lines("no line break at all") is None


def test_a_table_row_is_cleaned_but_its_columns_kept() -> None:
    rows = clean_inline("Caf\u00e9\u00a0noir\t1,20 &amp; up\x07\nTh\u00e9 vert\t0,90 &amp; up", entities=True)
    assert rows == "Café noir\t1,20 & up\nThé vert\t0,90 & up"


def test_text_to_paragraphs_joins_prose_and_keeps_tables() -> None:
    text = f"Results after round 12:\nthe leaders stay level.\n\n{RESULTS}\n\nMore next week."
    assert text_to_paragraphs(text) == [
        "Results after round 12: the leaders stay level.",
        "\n".join(line.strip() for line in RESULTS.split("\n")),
        "More next week.",
    ]


def test_render_rows_uses_tabs_and_drops_empty_rows() -> None:
    assert (
        render_rows([["Team", " Pts "], [], ["", ""], ["Galatasaray", "31", ""]])
        == "Team\tPts\nGalatasaray\t31"
    )


# --- HTML (feeds, ninjs body_html) ---------------------------------------------------------------


def test_an_html_table_is_one_paragraph_with_a_line_per_row() -> None:
    markup = (
        "<p>Standings after\n round 12.</p>"
        "<table><caption>Süper Lig</caption><thead><tr><th>Team</th><th>Pts</th></tr></thead>"
        "<tbody><tr><td>Galatasaray</td><td>31</td></tr>"
        "<tr><td><p>Fener</p><p>bahce</p></td><td>29<script>alert(1)</script></td></tr>"
        "<tr><td>Besiktas <b>JK</b></td><td>24</td></tr></tbody></table><p>Next round on Friday.</p>"
    )
    assert html_to_paragraphs(markup) == [
        "Standings after round 12.",
        "Süper Lig\nTeam\tPts\nGalatasaray\t31\nFener bahce\t29\nBesiktas JK\t24",
        "Next round on Friday.",
    ]


def test_a_nested_table_stays_in_its_cell_and_an_unclosed_table_is_still_read() -> None:
    markup = "<table><tr><td>a<table><tr><td>x</td><td>y</td></tr></table></td><td>b</td></tr><tr><td>c</td><td>d</td>"
    assert html_to_paragraphs(markup) == ["a x y\tb\nc\td"]


def test_pre_keeps_a_table_and_joins_prose() -> None:
    markup = f"<pre>{RESULTS}</pre><pre>just some\npreformatted prose</pre><p>a\nb</p>"
    assert html_to_paragraphs(markup) == [
        "\n".join(line.strip() for line in RESULTS.split("\n")),
        "just some preformatted prose",
        "a b",
    ]


def test_html_whitespace_outside_pre_never_makes_lines() -> None:
    markup = "<p>\n  12  34  56\n  78  90  12\n  34  56  78\n</p>"  # figures, but HTML says one line
    assert html_to_paragraphs(markup) == ["12 34 56 78 90 12 34 56 78"]


# --- whole documents -------------------------------------------------------------------------------


def test_nitf_table_and_pre_keep_their_rows() -> None:
    story = parse(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<nitf><head><docdata><doc-id regsrc="TEST" id-string="tables-1"/></docdata></head>
<body><body.head><hedline><hl1>Super League standings</hl1></hedline></body.head>
<body.content>
  <p>ISTANBUL (TEST) - Galatasaray lead after round 12.</p>
  <table>
    <tr><th>Team</th><th>Pts</th></tr>
    <tr><td>Galatasaray</td><td>31</td></tr>
    <tr><td><p>Fenerbahce</p></td><td>29</td></tr>
  </table>
  <pre>{RESULTS}</pre>
  <p>The next round is on Friday.</p>
</body.content></body></nitf>"""
    )
    assert story.body == [
        "Galatasaray lead after round 12.",
        "Team\tPts\nGalatasaray\t31\nFenerbahce\t29",
        "\n".join(line.strip() for line in RESULTS.split("\n")),
        "The next round is on Friday.",
    ]
    assert Story.from_json(story.to_json()) == story  # "\n" in a paragraph is within the contract


def test_newsml_xhtml_table_keeps_its_rows() -> None:
    story = parse(
        """<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:test:tables:2" version="1">
<itemMeta><itemClass qcode="ninat:text"/></itemMeta>
<contentMeta><headline>Metal prices</headline></contentMeta>
<contentSet><inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml"><body>
<p>LONDON (TEST) - Metals at the close:</p>
<table><tbody><tr><td>Gold</td><td>2,345.10</td><td>+0.4%</td></tr>
<tr><td>Silver</td><td>27.80</td><td>-1.1%</td></tr></tbody></table>
</body></html></inlineXML></contentSet></newsItem>"""
    )
    assert story.body == ["Metals at the close:", "Gold\t2,345.10\t+0.4%\nSilver\t27.80\t-1.1%"]


def test_a_2000_row_agency_table_is_one_paragraph_of_2000_lines() -> None:
    rows = "\n".join(f"Station {n:04d}   {n % 40 - 5:>4}   {n % 90:>3}%" for n in range(2000))
    story = parse(f"Temperatures at noon\n\nGENEVA (TEST) - Readings:\n\n{rows}\n", "text/plain")
    assert story.body[0] == "Readings:"
    assert len(story.body) == 2
    lines = story.body[1].split("\n")
    assert len(lines) == 2000 and lines[0] == "Station 0000     -5     0%"


def test_corpus_anpa_weather_table_keeps_one_line_per_city(corpus: Path) -> None:
    data = (corpus / "agency" / "anpa-3.tst").read_bytes()
    [story] = parse_document(data, None, received=RECEIVED, limits=Limits())[1]
    assert story.dateline is not None and story.dateline.text == "NEW YORK (AP)"
    table = story.body[0]
    lines = table.split("\n")
    assert lines[0].startswith("Minimum and maximum temperatures in Fahrenheit")
    assert lines[1] == ";MIN;MAX;COND;PRECIP;MIN;MAX;COND;MIN;MAX;COND"
    assert "Amsterdam;42;50;rn;0.08;39;52;pc;39;48;rn" in lines
    assert "Tel Aviv;66;84;clr;0.00;61;81;clr;59;82;clr" in lines
    assert len(lines) > 100 and max(len(line) for line in lines[1:]) < 80  # rows, not one long sentence
    assert "<" not in table  # ANPA's quad-left line ends are layout, not text
    assert all("\n" not in p for p in story.body[1:])  # the legend below is prose
