"""Every sample in the shared corpus (written by others) parses or gives its documented error; 20+ get exact fields."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wirewatch_common.http_errors import status_of
from wirewatch_common.story import Story
from wirewatch_ingest.api import ERRORS
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.sources import (
    InvalidStory,
    MalformedDocument,
    ParseError,
    UnsafeDocument,
    UnsupportedFormat,
    parse_document,
)

pytestmark = pytest.mark.unit

RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
LIMITS = Limits()

# Samples that are not a supported format, or are ill-formed, and the error each must give.
DOCUMENTED_ERRORS: dict[str, type[ParseError]] = {
    "ritzau_feed.xml": UnsupportedFormat,  # Ritzau's own XML
    "ritzau_news.xml": UnsupportedFormat,
    "ritzau_news_test_ednote.xml": UnsupportedFormat,
    "aap-finance-lite.xml": InvalidStory,  # NITF with neither headline nor body
    "illformed__rss_empty_document.xml": MalformedDocument,  # only a comment
    "wellformed__rdf__doctype_contains_entity_decl.xml": UnsafeDocument,  # external parameter entity
}


CORPUS = (Path(__file__).resolve().parents[3] / "../shared/corpus").resolve()


def _samples() -> list[Path]:
    folders = [CORPUS / "agency", CORPUS / "feeds"]
    return sorted(
        p for folder in folders if folder.is_dir() for p in folder.iterdir() if p.name != "SOURCES.md"
    )


def _content_type(data: bytes) -> str | None:
    """Feed samples say in their leading comment which HTTP content type they were served with."""
    match = re.search(rb"Header:\s*Content-type:\s*([^\r\n]+)", data[:800], re.IGNORECASE)
    return match.group(1).decode().strip() if match else None


def parse(corpus: Path, name: str) -> list[Story]:
    folder = "feeds" if "__" in name else "agency"
    data = (corpus / folder / name).read_bytes()
    return parse_document(data, _content_type(data), received=RECEIVED, limits=LIMITS)[1]


def one(corpus: Path, name: str) -> Story:
    stories = parse(corpus, name)
    assert len(stories) == 1, f"{name} gave {len(stories)} stories"
    return stories[0]


@pytest.mark.parametrize("path", _samples(), ids=lambda p: p.name)
def test_every_sample_parses_or_gives_its_documented_error(path: Path, corpus: Path) -> None:
    data = path.read_bytes()
    expected = DOCUMENTED_ERRORS.get(path.name)
    if expected is not None:
        with pytest.raises(expected) as info:
            parse_document(data, _content_type(data), received=RECEIVED, limits=LIMITS)
        assert info.value.message and status_of(info.value, ERRORS) in (400, 415, 422)
        return
    _fmt, stories = parse_document(data, _content_type(data), received=RECEIVED, limits=LIMITS)
    for story in stories:
        assert Story.from_json(story.to_json()) == story  # every story survives the wire
        assert story.headline.strip() or story.body


def test_iptc7901_control_characters_dateline_and_keywords(corpus: Path) -> None:
    s = one(corpus, "IPTC7901.txt")
    assert s.format == "iptc7901"
    assert s.headline == "Germany Social Democrats: Coalition talks with Merkel could fail"
    assert s.dateline is not None and s.dateline.text == "Berlin (dpa)"
    assert [p.name for p in s.dateline.places] == ["Berlin"]
    assert s.provider is not None and s.provider.name == "dpa"
    assert s.keywords == ["Germany-politics"]
    assert s.urgency == 4
    assert s.language == "en"
    assert s.body[0].startswith("Negotiations between German conservatives")
    assert not any("\x02" in p or "NOTEBOOK" in p for p in s.body)


def test_dpa_byline_line_is_not_the_headline(corpus: Path) -> None:
    s = one(corpus, "dpa_two_by_line.txt")
    assert s.headline == "Chiefs-Rams 2.0? Would be a fun Super Bowl, but don't count on it"
    assert s.byline == "Tom Krasovic, The San Diego Union-Tribune"
    assert s.dateline is not None and [p.name for p in s.dateline.places] == ["San Diego"]
    assert s.source is not None and s.source.name == "tca/dpa"
    assert s.keywords == ["American Football", "NFL"]


def test_dpa_four_line_header(corpus: Path) -> None:
    s = one(corpus, "dpa_four_line.txt")
    assert s.headline == "Switzerland joins list of countries resisting UN migration pact"
    assert s.byline == "dpa correspondents"
    assert s.urgency == 3


def test_anpa_headline_byline_place_and_transmission_time(corpus: Path) -> None:
    s = one(corpus, "anpa-1.tst")
    assert s.format == "anpa"
    assert s.headline == "For Argentine chemo patients, mirrors can hurt"
    assert s.byline == "PAUL BYRNE and ALMUDENA CALATRAVA, Associated Press"
    assert s.dateline is not None and [p.name for p in s.dateline.places] == ["BUENOS AIRES", "Argentina"]
    assert s.versioncreated == datetime(2013, 11, 13, 15, 9, tzinfo=UTC)
    assert s.urgency == 1  # ANPA priority f (flash)
    assert any("\u201cLook Good Feel Better\u201d" in p for p in s.body)  # `` '' became curly quotes
    assert "___" not in s.body


def test_anpa_writethru_numbers_give_versions(corpus: Path) -> None:
    assert one(corpus, "ap_anpa-3.tst").version == 2  # 1stLd-Writethru
    assert one(corpus, "ap_anpa-4.tst").version == 4  # 3rdLd-Writethru
    lobster = one(corpus, "ap_anpa-3.tst")
    assert lobster.headline == "$210 lobster is found dead"
    assert lobster.dateline is not None and [p.name for p in lobster.dateline.places] == ["CHATHAM", "Mass."]
    assert lobster.body == ["A lobster died."]


def test_reuters_newsml_item_guid_version_dateline_and_credit(corpus: Path) -> None:
    s = one(corpus, "tag_reuters.com_2014_newsml_KBN0FL0NN_version_5")
    assert s.uri == "tag_reuters.com_2014_newsml_KBN0FL0NN"
    assert s.version == 5
    assert s.language == "en-US"
    assert s.headline == "Confident Assad launches new term in stronger position"
    assert s.byline == "Marwan Makdisi"
    assert s.dateline is not None and s.dateline.text == "DAMASCUS (Reuters)"
    assert [p.name for p in s.dateline.places] == ["DAMASCUS"]
    assert s.body[0].startswith("Bashar al-Assad was sworn in")
    assert s.versioncreated == datetime(2014, 7, 16, 15, 53, 10, tzinfo=UTC)


def test_reuters_update_headline_keeps_its_printed_prefix_and_declared_language(
    corpus: Path,
) -> None:
    s = one(corpus, "tag_reuters.com,2018_newsml_MTZXEE13ZXCZES_2")
    assert s.headline == "UPDATE 2-Primeira Liga Results"
    assert s.version == 2  # NewsML's own version wins over the headline's hint
    assert s.dateline is not None and s.dateline.places == []  # `Jan 3 (OPTA) - ` names no place
    assert s.language == "en-US"
    assert s.language_detected != "en"  # never a "disagreement" that agrees


def test_reuters_versions_of_one_story_share_an_id_and_order_by_version(corpus: Path) -> None:
    base = (corpus / "agency" / "tag_reuters.com_2014_newsml_KBN0FL0ZP_version_2").read_bytes()
    later = base.replace(b'version="2"', b'version="3"').replace(
        b"<versionCreated>2014-07-16T13:00:03.000Z", b"<versionCreated>2014-07-16T14:00:03.000Z"
    )
    v2 = parse_document(base, None, received=RECEIVED, limits=LIMITS)[1][0]
    v3 = parse_document(later, None, received=RECEIVED, limits=LIMITS)[1][0]
    assert v2.id == v3.id
    assert (v2.version, v3.version) == (2, 3)
    assert v3.versioncreated > v2.versioncreated
    other = one(corpus, "tag_reuters.com_2014_newsml_KBN0FL0NN_version_5")
    assert other.id != v2.id


def test_picture_and_package_items_hold_no_text_story(corpus: Path) -> None:
    assert parse(corpus, "tag_reuters.com_2014_newsml_LYNXMPEA6F13M_version_1") == []
    assert parse(corpus, "tag_reuters.com_2014_newsml_KBN0FL0NM_version_10") == []
    assert parse(corpus, "ninjs3.json") == []


def test_stt_items_with_one_guid_share_an_id(corpus: Path) -> None:
    with_headline = one(corpus, "stt_newsml_test.xml")
    without = one(corpus, "stt_newsml_test_no_hl.xml")
    assert with_headline.id == without.id
    assert without.headline == ""
    assert with_headline.language == "fi-FI" and with_headline.language_detected == "en"


def test_stt_en_dash_kept(corpus: Path) -> None:
    s = one(corpus, "stt_newsml_endash.xml")
    assert s.credit == "STT–Sourcefabric"
    assert s.headline.startswith("Reilu kolmannes Korkeasaaren eläinpotilaista")


def test_iptc_listing_1(corpus: Path) -> None:
    s = one(corpus, "LISTING 1 A NewsML-G2 News Item.xml")
    assert s.headline == 'Fed to halt QE to avert "bubble"'
    assert s.version == 9
    assert s.language == "en-GB"
    assert s.dateline is not None and [p.name for p in s.dateline.places] == ["Berlin"]


def test_dpa_newsml_german_umlauts(corpus: Path) -> None:
    s = one(corpus, "dpa.xml")
    assert s.headline == "Eintracht in London: Hintereggers Tränen und Attacke auf Reporter"
    assert s.language == "de"
    assert s.dateline is not None and s.dateline.text == "London (dpa)"


def test_ap_newsml_message_holds_three_stories(corpus: Path) -> None:
    stories = parse(corpus, "ap.xml")
    assert [s.headline for s in stories] == [
        "Nutrisystem beats 4Q earnings and revenue expectations",
        "DiamondRock Hospitality posts 4Q FFO of $50.7 million, results top expectations",
        "Scripps Networks tops 4Q profit and revenue expectations",
    ]
    assert len({s.id for s in stories}) == 3
    assert stories[0].dateline is not None and stories[0].dateline.text == "FORT WASHINGTON, Pa. (AP)"


def test_efe_nitf_dateline_with_dot_dash(corpus: Path) -> None:
    s = one(corpus, "efe_nitf.xml")
    assert s.format == "nitf"
    assert s.headline == "Honduran president announces Cabinet changes"
    assert s.dateline is not None and s.dateline.text == "Tegucigalpa, Jan 2 (EFE)"
    assert [p.name for p in s.dateline.places] == ["Tegucigalpa"]
    assert s.body == ["Test body."]
    assert s.urgency == 5


def test_ntb_nitf_norwegian(corpus: Path) -> None:
    s = one(corpus, "nitf-ntb.xml")
    assert s.language == "no"
    assert s.byline == "Geir Molnes / Faktisk.no"
    assert s.uri == "urn:nitf:NTB:faktisk-d9cde75b-256e-4989-b6a3-b8ad27f43a5c_47"


def test_pa_nitf_pound_sign(corpus: Path) -> None:
    s = one(corpus, "pa5.xml")
    assert s.headline == "HARD BREXIT TO COST UK UP TO £66BN A YEAR, SAYS TREASURY"
    assert s.byline == "Sam Lister, Press Association Political Correspondent"


def test_ninjs_1_declared_french_detected_english(corpus: Path) -> None:
    s = one(corpus, "ninjs1.json")
    assert s.format == "ninjs"
    assert s.version == 2  # "2" as a string in the sample
    assert (s.language, s.language_detected) == ("fr", "en")
    assert s.byline == "Peter and Jane"
    assert s.body == ["The story so far."]
    assert s.summary == "abstract"


def test_ninjs_reuters_credit_trailer_and_identical_twin(corpus: Path) -> None:
    s = one(corpus, "ninjs2.json")
    assert s.credit == "(Reporting by Henning Gloystein; Editing by Richard Pullin)"
    assert s.byline == "Henning Gloystein"
    assert s.dateline is not None and s.dateline.text == "Singapore"
    assert not any(p.startswith("(Reporting by") for p in s.body)
    twin = one(corpus, "ninjs5.json")
    assert twin.id == s.id


def test_ninjs_german_and_ap_example(corpus: Path) -> None:
    de = one(corpus, "ninjs4.json")
    assert de.language == "de" and de.headline == "China behauptet, einen Polizeihund geklont zu haben"
    ap = one(corpus, "ninjsExSimpleText1.json")
    assert ap.dateline is not None and [p.name for p in ap.dateline.places] == ["GROSSETO", "Italy"]
    assert ap.body[0].startswith("The trial of the captain")


def test_feed_entry_language_from_xml_lang(corpus: Path) -> None:
    s = one(corpus, "wellformed__lang__entry_content_xml_lang.xml")
    assert s.language == "en" and s.body == ["Example Atom"]


def test_feed_scripts_are_dropped_not_kept_as_text(corpus: Path) -> None:
    for name in (
        "wellformed__sanitize__entry_content_script.xml",
        "wellformed__sanitize__entry_content_iframe.xml",
    ):
        s = one(corpus, name)
        assert s.body == ["safe description"]


def test_feed_charset_from_http_header_and_chardet(corpus: Path) -> None:
    s = one(corpus, "illformed__chardet__koi8r.xml")
    assert s.headline.startswith("Как ")  # KOI8-R decoded, not mojibake
    assert s.language == "ru"


def test_ids_are_stable_across_parses(corpus: Path) -> None:
    for name in ("IPTC7901.txt", "anpa-1.tst", "dpa.xml", "ninjs1.json", "efe_nitf.xml"):
        assert one(corpus, name).id == one(corpus, name).id


@pytest.mark.parametrize("path", _samples(), ids=lambda p: p.name)
def test_truncated_or_corrupted_samples_give_a_parse_error_never_a_crash(path: Path) -> None:
    data = path.read_bytes()
    rng = random.Random(path.name)  # the same corruptions on every run
    variants = [data[: len(data) // 3], data[: len(data) // 2], data[: len(data) * 9 // 10]]
    for _ in range(5):
        corrupted = bytearray(data)
        for _ in range(5):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        variants.append(bytes(corrupted))
    statuses = set()
    for variant in variants:
        for ctype in (None, "text/plain", "application/json", "application/xml"):
            try:
                parse_document(variant, ctype, received=RECEIVED, limits=LIMITS)
            except ParseError as exc:  # anything else fails the test
                statuses.add(status_of(exc, ERRORS))
    assert statuses <= {400, 413, 415, 422}


def test_newsml_1_afp_revision_and_origin(corpus: Path) -> None:
    s = one(corpus, "afp.xml")
    assert s.format == "newsml1"
    assert s.uri == "urn:newsml:afp.com:20140829T135002Z:TX-PAR-FXW86"  # revision left out: one id per item
    assert s.version == 1
    assert s.headline == "Sweden court accepts receivership for Saab carmaker"
    assert s.dateline is not None and s.dateline.text == "STOCKHOLM, Aug 29, 2014 (AFP)"
    assert [p.name for p in s.dateline.places] == ["Stockholm"]
    assert s.versioncreated == datetime(2014, 8, 29, 13, 49, 51, tzinfo=UTC)
    assert len(s.body) == 9  # the editors' initials closing the copy are its credit, not a paragraph
    assert s.credit == "hh/ph/ts/hd"


def test_newsml_1_ana_cdata_html_body(corpus: Path) -> None:
    s = one(corpus, "ana1.xml")
    assert s.headline == "Wage employment balance positive in Jan-March"
    assert s.credit == "ΑΠΕ-ΜΠΕ"
    assert s.body[0].startswith("Wage employment in the private sector grew in March")
    assert s.language == "en"
