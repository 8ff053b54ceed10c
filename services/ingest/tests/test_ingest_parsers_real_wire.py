"""What agencies really send comes out right: NITF bylines with titles, datelines dated in six languages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from wirewatch_common.story import Story
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.sources import parse_document
from wirewatch_ingest.sources.agency import parse_agency
from wirewatch_ingest.sources.text import split_dateline

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def one(body: bytes, ctype: str | None = None) -> Story:
    _fmt, stories = parse_document(body, ctype, received=NOW, limits=Limits())
    assert len(stories) == 1
    return stories[0]


def corpus_story(corpus: Path, name: str) -> Story:
    return one((corpus / "agency" / name).read_bytes())


def nitf_byline(byline: str) -> str | None:
    doc = (
        "<nitf><body><body.head><hedline><hl1>Tide tables</hl1></hedline>"
        f"{byline}</body.head><body.content><p>Tides as usual.</p></body.content></body></nitf>"
    )
    return one(doc.encode(), "application/xml").byline


@pytest.mark.parametrize(
    ("byline", "expected"),
    [
        (
            "<byline>By <person>Alan Karben</person><byttl>Staff Writer</byttl></byline>",
            "Alan Karben, Staff Writer",
        ),
        (
            "<byline>By<person>Staff Reporter</person><byttl>BusinessDesk</byttl></byline>",
            "Staff Reporter, BusinessDesk",
        ),
        (
            "<byline><person>Mia Rabson</person>, <byttl>The Canadian Press</byttl></byline>",
            "Mia Rabson, The Canadian Press",
        ),
        (
            "<byline>\n  By <person>Ann Lee</person>\n  <byttl>Science <org>Desk</org></byttl>\n</byline>",
            "Ann Lee, Science Desk",
        ),
        ("<byline>By Jane Roe</byline><byline>By John Doe</byline>", "Jane Roe; John Doe"),
    ],
)
def test_nitf_byline_keeps_the_title_apart_from_the_name(byline: str, expected: str) -> None:
    assert nitf_byline(byline) == expected


def test_nitf_corpus_bylines_and_structured_datelines(corpus: Path) -> None:
    fishing = corpus_story(corpus, "nitf-fishing.xml")
    assert fishing.byline == "Alan Karben, NITF Network News Online"
    assert fishing.dateline is not None and [p.name for p in fishing.dateline.places] == [
        "Newport News",
        "VA",
    ]
    cp = corpus_story(corpus, "handle_invalid_fields.xml")
    assert cp.byline == "Mia Rabson and Jordan Press, The Canadian Press"
    assert cp.dateline is not None and cp.dateline.text == "Ottawa, Ontario, Canada"
    assert [p.name for p in cp.dateline.places] == ["Ottawa", "Ontario", "Canada"]
    assert cp.body[0].startswith("A Manitoba man is facing")  # `OTTAWA - ` is the dateline, not text


@pytest.mark.parametrize(
    ("lead", "text", "places", "agency", "rest"),
    [
        ("PARIS, 29 nov (AFP) - Le texte.", "PARIS, 29 nov (AFP)", ["PARIS"], "AFP", "Le texte."),
        ("PARIS, 29 novembre - Le texte.", "PARIS, 29 novembre", ["PARIS"], "", "Le texte."),
        ("PARIS, 29 nov 2026 (AFP) - Le texte.", "PARIS, 29 nov 2026 (AFP)", ["PARIS"], "AFP", "Le texte."),
        (
            "BERLIN, 29. November (dpa) - Der Text.",
            "BERLIN, 29. November (dpa)",
            ["BERLIN"],
            "dpa",
            "Der Text.",
        ),
        ("MADRID, 29 nov (EFE).- El texto.", "MADRID, 29 nov (EFE)", ["MADRID"], "EFE", "El texto."),
        ("ROMA, 29 NOV - Il testo.", "ROMA, 29 NOV", ["ROMA"], "", "Il testo."),
        ("ANKARA, 29 Kasım (AA) - Metin.", "ANKARA, 29 Kasım (AA)", ["ANKARA"], "AA", "Metin."),
        ("İSTANBUL, 29 KASIM (AA) - Metin.", "İSTANBUL, 29 KASIM (AA)", ["İSTANBUL"], "AA", "Metin."),
        ("القاهرة 29 نوفمبر (رويترز) - النص.", "القاهرة 29 نوفمبر (رويترز)", ["القاهرة"], "رويترز", "النص."),
        ("بيروت، ٢٩ تشرين الثاني - النص.", "بيروت، ٢٩ تشرين الثاني", ["بيروت"], "", "النص."),
        (
            "LISBOA, 29 de novembro (Lusa) - O texto.",
            "LISBOA, 29 de novembro (Lusa)",
            ["LISBOA"],
            "Lusa",
            "O texto.",
        ),
        (
            "SEOUL, Nov 26 AFP - Samsung sold units.",
            "SEOUL, Nov 26 AFP",
            ["SEOUL"],
            "AFP",
            "Samsung sold units.",
        ),
        ("København /ritzau/: En mand.", "København /ritzau/", ["København"], "ritzau", "En mand."),
        ("STOCKHOLM, Aug 29, 2014 (AFP) - A.", "STOCKHOLM, Aug 29, 2014 (AFP)", ["STOCKHOLM"], "AFP", "A."),
    ],
)
def test_datelines_that_carry_a_date_still_give_their_place(
    lead: str, text: str, places: list[str], agency: str, rest: str
) -> None:
    match = split_dateline(lead)
    assert match is not None
    assert (match.text, match.places, match.agency, match.rest) == (text, places, agency, rest)


@pytest.mark.parametrize(
    "prose",
    [
        "Le 29 novembre - une date à retenir.",  # no place, no comma
        "In May 20 - the first tests began.",
        "Either/or/both: a choice.",
        "the ferry sailed, 29 nov - officials said.",
    ],
)
def test_prose_that_looks_dated_is_not_a_dateline(prose: str) -> None:
    assert split_dateline(prose) is None


def test_a_french_dispatch_through_the_agency_parser() -> None:
    text = "Grève dans les ports\n\nMARSEILLE, 29 nov 2026 (AFP) - Les dockers ont cessé le travail.\n\nvl/ab/cd\n"
    [story] = parse_agency(text.encode(), received=NOW, limits=Limits())
    assert story.dateline is not None and story.dateline.text == "MARSEILLE, 29 nov 2026 (AFP)"
    assert [p.name for p in story.dateline.places] == ["MARSEILLE"]
    assert story.source is not None and story.source.name == "AFP"
    assert story.body == ["Les dockers ont cessé le travail."] and story.credit == "vl/ab/cd"


def test_dpa_xhtml_header_is_not_body_text(corpus: Path) -> None:
    story = corpus_story(corpus, "dpa.xml")
    assert story.body[0].startswith("2019 gab es bittere Tränen")
    assert "Fußball" not in story.body and story.headline not in story.body
    assert story.dateline is not None and story.dateline.text == "London (dpa)"


def test_newsml_g2_with_inline_nitf_takes_its_headline_from_the_nitf(corpus: Path) -> None:
    story = corpus_story(corpus, "scoop.xml")
    assert story.headline.startswith("Dick Smith receivers install Don Grover")
    assert story.byline == "Jonathan Underhill" and story.credit == "(BusinessDesk)"
    assert story.body[-1].startswith("It bought Dick Smith")


def test_newsml_g2_provider_qcode_names_the_provider(corpus: Path) -> None:
    story = corpus_story(corpus, "LISTING 1 A NewsML-G2 News Item.xml")
    assert story.provider is not None and story.provider.name == "REUTERS"


def test_aap_dateline_without_parentheses_and_sign_off(corpus: Path) -> None:
    story = corpus_story(corpus, "aap-finance.xml")
    assert story.dateline is not None and story.dateline.text == "SEOUL, Nov 26 AFP"
    assert [p.name for p in story.dateline.places] == ["SEOUL"]
    assert story.body[0].startswith("Samsung has announced") and story.credit == "AFP sn"
    cyber = corpus_story(corpus, "aap-cyber.xml")  # `<dateline>SYDNEY March 22 AAP -</dateline>`
    assert cyber.dateline is not None and [p.name for p in cyber.dateline.places] == ["SYDNEY"]
    assert corpus_story(corpus, "aap.xml").credit == "AAP RTV ar"


def test_pa_end_marker_is_not_body_text(corpus: Path) -> None:
    for name in ("pa1.xml", "pa4.xml", "pa5.xml"):
        assert corpus_story(corpus, name).body[-1] != "ends"


def test_ntb_printed_dateline_names_its_place(corpus: Path) -> None:
    story = corpus_story(corpus, "nitf-ntb.xml")
    assert story.dateline is not None and [p.name for p in story.dateline.places] == ["Oslo"]


def test_ritzau_slashed_dateline_and_trailer(corpus: Path) -> None:
    story = corpus_story(corpus, "mapping_test.xml")
    assert story.source is not None and story.source.name == "ritzau"
    assert story.dateline is not None and len(story.dateline.places) == 1
    assert story.credit == "/ritzau/" and story.body[-1] != "/ritzau/"
