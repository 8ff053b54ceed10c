"""Agency conventions with exact fields: ANSA's agency-first dateline, dpa's notebook, AFP's initials trailer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from wirewatch_common.story import Story
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.sources import parse_document
from wirewatch_ingest.sources.text import is_credit, split_dateline

pytestmark = pytest.mark.unit

RECEIVED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def one(data: bytes, content_type: str | None = None) -> Story:
    _, stories = parse_document(data, content_type, received=RECEIVED, limits=Limits())
    assert len(stories) == 1
    return stories[0]


def sample(corpus: Path, name: str) -> Story:
    return one((corpus / "agency" / name).read_bytes())


@pytest.mark.parametrize(
    ("lead", "text", "places", "agency", "rest"),
    [
        (
            "(ANSA) - ROMA, 25 NOV - Sciopero dei treni.",
            "(ANSA) - ROMA, 25 NOV",
            ["ROMA"],
            "ANSA",
            "Sciopero dei treni.",
        ),
        (
            "(ANSA) - Rome, October 11 - Talks resumed.",
            "(ANSA) - Rome, October 11",
            ["Rome"],
            "ANSA",
            "Talks resumed.",
        ),
        (
            "(ANSA) – Reggio Emilia – Il sindaco.",
            "(ANSA) – Reggio Emilia",
            ["Reggio Emilia"],
            "ANSA",
            "Il sindaco.",
        ),
    ],
)
def test_agency_first_datelines(lead: str, text: str, places: list[str], agency: str, rest: str) -> None:
    match = split_dateline(lead)
    assert match is not None
    assert (match.text, match.places, match.agency, match.rest) == (text, places, agency, rest)


def test_a_parenthesis_opening_prose_is_not_a_dateline() -> None:
    assert split_dateline("(Updated) - the ferry sailed at noon - officials said.") is None


def test_ansa_copy_written_here() -> None:
    story = one(
        "Sciopero dei treni a Milano\n\n(ANSA) - MILANO, 25 NOV - Treni fermi per otto ore in tutta la"
        " Lombardia, hanno detto i sindacati, che chiedono più personale.\n".encode(),
        "text/plain",
    )
    assert story.headline == "Sciopero dei treni a Milano"
    assert story.dateline is not None and story.dateline.text == "(ANSA) - MILANO, 25 NOV"
    assert [p.name for p in story.dateline.places] == ["MILANO"]
    assert story.source is not None and story.source.name == "ANSA"
    assert story.body == [
        "Treni fermi per otto ore in tutta la Lombardia, hanno detto i sindacati, che chiedono più personale."
    ]
    assert story.language == "it"


def test_ansa_newsml_agency_first_dateline(corpus: Path) -> None:
    story = sample(corpus, "ansa-newsmlg2-text.xml")
    assert story.headline == "Catalan independence declaration unacceptable - Alfano"
    assert story.dateline is not None and story.dateline.text == "(ANSA) - Rome, October 11"
    assert [p.name for p in story.dateline.places] == ["Rome"]
    assert story.body[0].startswith("Italian Foreign Minister Angelino Alfano has said")
    assert story.language == "it" and story.language_detected == "en"  # declared Italian, written in English


def test_ansa_newsml_italian_day_month_dateline(corpus: Path) -> None:
    story = sample(corpus, "ansa_culture.xml")
    assert story.dateline is not None and story.dateline.text == "(ANSA) - ROMA, 1 LUG"
    assert [p.name for p in story.dateline.places] == ["ROMA"]
    assert story.body == ["TEST FROM XAWES (ANSA)."]


def test_dpa_notebook_and_sign_off_are_not_body(corpus: Path) -> None:
    story = sample(corpus, "dpa_two_line.txt")
    assert story.headline == "Peace talks on Yemen to take place in Sweden next month, Mattis says"
    assert story.dateline is not None and story.dateline.text == "Washington (dpa)"
    assert story.body[-1] == (
        "Mattis also said progress is being made to end the fighting, and in recent days it has decreased"
        " considerably."
    )
    text = " ".join(story.body)
    assert "Notebook" not in text and "dpaq.de" not in text and "dpa grj" not in text
    assert len(story.body) == 4


def test_dpa_notebook_with_editors_notes_is_cut(corpus: Path) -> None:
    story = sample(corpus, "dpa_four_line.txt")
    text = " ".join(story.body)
    assert "Note to editors" not in text and "Editorial contacts" not in text and "Refile" not in text
    assert story.body[-1].startswith("The countries that have rejected the migration pact so far are Austria")


def test_afp_initials_trailer_is_the_credit(corpus: Path) -> None:
    story = sample(corpus, "afp.xml")
    assert story.credit == "hh/ph/ts/hd"
    assert story.body[-1].startswith("Saab automobile offers only one model today")


@pytest.mark.parametrize("trailer", ["hh/ph/ts/hd", "bur-sst/jj", "cjo/mm"])
def test_initials_trailers(trailer: str) -> None:
    assert is_credit(trailer)


@pytest.mark.parametrize("text", ["He said yes/no.", "Paris/Berlin", "tax", "HH/PH", "a/b/c/d/e/f-long/x y"])
def test_body_text_is_not_an_initials_trailer(text: str) -> None:
    assert not is_credit(text)
