"""Embargoes read from every format that carries one, and only where the moment is unambiguous."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wirewatch_common.story import RepairKind, Story
from wirewatch_ingest.embargo import read_embargo
from wirewatch_ingest.normalize import Draft, Limits, finish
from wirewatch_ingest.sources import parse_document

FRIDAY = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday afternoon
MOMENT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # the Tuesday after


def one(body: bytes, ctype: str | None = None, received: datetime = FRIDAY) -> Story:
    _fmt, stories = parse_document(body, ctype, received=received, limits=Limits())
    assert len(stories) == 1
    return stories[0]


def corpus_story(corpus: Path, name: str) -> Story:
    return one((corpus / "agency" / name).read_bytes(), received=datetime(2026, 1, 1, tzinfo=UTC))


NINJS_1 = {"uri": "urn:test:ninjs1", "headline": "Prize winner named", "body_text": "The jury met."}
NINJS_2 = {
    "uri": "urn:test:ninjs2",
    "headlines": [{"role": "main", "value": "Prize winner named"}],
    "bodies": [{"role": "main", "contenttype": "text/plain", "value": "The jury met."}],
}


@pytest.mark.unit
@pytest.mark.parametrize("item", [NINJS_1, NINJS_2], ids=["ninjs-1.x", "ninjs-2.x"])
def test_ninjs_embargoed_is_read_in_both_versions_and_kept_in_utc(item: dict[str, object]) -> None:
    story = one(json.dumps({**item, "embargoed": "2026-12-01T11:00:00+01:00"}).encode(), "application/json")
    assert story.embargoed == MOMENT and story.embargoed.utcoffset() == timedelta(0)
    assert story.embargoed_at(FRIDAY) and not story.embargoed_at(MOMENT)
    assert story.repairs == []


@pytest.mark.unit
@pytest.mark.parametrize("value", [None, "", False])
def test_ninjs_without_an_embargo_value_is_not_embargoed(value: object) -> None:
    assert one(json.dumps({**NINJS_1, "embargoed": value}).encode(), "application/json").embargoed is None


def g2(embargoed: str) -> bytes:
    return (
        "<newsItem xmlns='http://iptc.org/std/nar/2006-10-01/' guid='urn:g2:embargo' version='1'>"
        f"<itemMeta><itemClass qcode='ninat:text'/><versionCreated>2026-11-27T14:00:00Z</versionCreated>{embargoed}"
        "</itemMeta><contentMeta><headline>Prize winner named</headline></contentMeta></newsItem>"
    ).encode()


@pytest.mark.unit
def test_newsml_g2_item_meta_embargoed() -> None:
    assert one(g2("<embargoed>2026-12-01T10:00:00Z</embargoed>")).embargoed == MOMENT
    assert one(g2("<embargoed/>")).embargoed is None  # no moment named: Scoop sends it empty on every item
    assert one(g2("")).embargoed is None


@pytest.mark.unit
def test_newsml_g2_corpus_embargo(corpus: Path) -> None:
    story = corpus_story(corpus, "LISTING 1 A NewsML-G2 News Item.xml")
    assert story.embargoed == datetime(2016, 10, 23, 12, 0, tzinfo=UTC)
    assert corpus_story(corpus, "scoop.xml").embargoed is None


def newsml1(status: str, change: str = "") -> bytes:
    return (
        "<NewsML><NewsItem><NewsManagement><FirstCreated>20261127T140000Z</FirstCreated>"
        f"<ThisRevisionCreated>20261127T140000Z</ThisRevisionCreated><Status FormalName='{status}'/>{change}"
        "</NewsManagement><NewsComponent><NewsLines><HeadLine>Prize winner named</HeadLine></NewsLines>"
        "</NewsComponent></NewsItem></NewsML>"
    ).encode()


@pytest.mark.unit
def test_newsml1_status_will_change_to_usable_is_the_embargo() -> None:
    change = (
        "<StatusWillChange><FutureStatus FormalName='Usable'/>"
        "<DateAndTime>20261201T110000+0100</DateAndTime></StatusWillChange>"
    )
    story = one(newsml1("Embargoed", change))
    assert story.embargoed == MOMENT and story.pubstatus == "usable"
    held = one(newsml1("Embargoed"))  # embargoed, but no moment: withheld, never released early
    assert held.embargoed is None and held.pubstatus == "withheld"
    assert one(newsml1("Usable")).embargoed is None


def nitf(docdata: str) -> bytes:
    return (
        f"<nitf><head><docdata {docdata}</docdata></head><body><body.head><hedline><hl1>Prize winner named"
        "</hl1></hedline></body.head><body.content><p>The jury met.</p></body.content></body></nitf>"
    ).encode()


@pytest.mark.unit
def test_nitf_date_release_after_issue_is_the_embargo_and_date_expire_is_not() -> None:
    story = one(
        nitf(
            "><date.issue norm='20261127T140000Z'/><date.release norm='20261201T100000Z'/>"
            "<date.expire norm='20261231T000000Z'/>"
        )
    )
    assert story.embargoed == MOMENT
    assert story.firstcreated == story.versioncreated == datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    same = one(nitf("><date.issue norm='20261127T140000Z'/><date.release norm='20261127T140000Z'/>"))
    assert same.embargoed is None  # released as issued: AAP's habit, no embargo
    expiring = one(nitf("><date.issue norm='20261127T140000Z'/><date.expire norm='20261201T100000Z'/>"))
    assert expiring.embargoed is None
    alone = one(nitf("><date.release norm='20261201T100000Z'/>"))  # no issue date: later than received
    assert alone.embargoed == MOMENT
    status = one(nitf("management-status='embargoed'><date.issue norm='20261127T140000Z'/>"))
    assert status.embargoed is None and status.pubstatus == "withheld"


@pytest.mark.unit
def test_nitf_corpus_embargoes(corpus: Path) -> None:
    pa = corpus_story(corpus, "pa3.xml")  # date.release 0001 BST the next day, management-status embargoed
    assert pa.embargoed == datetime(2016, 9, 8, 23, 1, tzinfo=UTC)
    assert corpus_story(corpus, "nitf-fishing.xml").embargoed == datetime(2002, 2, 26, 14, 30, tzinfo=UTC)
    assert corpus_story(corpus, "aap.xml").embargoed is None


@pytest.mark.unit
def test_agency_notice_above_the_headline_is_read_against_the_received_date() -> None:
    text = (
        "EMBARGOED UNTIL 0001 GMT MONDAY\n\nPrize winner named\n\n"
        "STOCKHOLM (Reuters) - The jury met on Friday.\n"
    )
    story = one(text.encode(), "text/plain")
    assert story.headline == "Prize winner named"
    assert story.embargoed == datetime(2026, 11, 30, 0, 1, tzinfo=UTC)
    assert story.body == ["The jury met on Friday."]


@pytest.mark.unit
def test_agency_notice_in_the_first_paragraph_leaves_the_text() -> None:
    text = "Prize winner named\n\nEMBARGO: 2026-12-01 10:00 GMT\n\nSTOCKHOLM (Reuters) - The jury met.\n"
    story = one(text.encode(), "text/plain")
    assert story.embargoed == MOMENT
    assert story.body == ["The jury met."] and story.dateline is not None


@pytest.mark.unit
def test_an_ambiguous_notice_is_no_embargo_and_stays_for_the_desk() -> None:
    text = "Prize winner named\n\nEMBARGOED UNTIL 0001 FRIDAY\n\nSTOCKHOLM (Reuters) - The jury met.\n"
    story = one(text.encode(), "text/plain")
    assert story.embargoed is None
    assert story.body[0] == "EMBARGOED UNTIL 0001 FRIDAY"


@pytest.mark.unit
def test_dpa_sperrfrist_among_the_header_lines() -> None:
    wire = (
        "\x01eca062 4 i 211 ccccb   dpa 061\r\nKultur/Preise/\r\nSperrfrist: 1. Dezember 2026, 11:00 Uhr MEZ\r\n"
        "\x02Preisträger benannt =\r\n\r\n   Stockholm (dpa) - Die Jury tagte am Freitag.\r\n\x03"
    ).encode()
    story = one(wire)
    assert story.embargoed == MOMENT
    assert story.headline == "Preisträger benannt" and story.keywords == ["Kultur", "Preise"]


@pytest.mark.unit
def test_anpa_editors_note_embargo() -> None:
    wire = (
        b"\x16\x16\x01a0001 \r\nr a BC-Prize-Winner     11-27 0100\r\n\x02^BC-Prize-Winner,0100<\r\n"
        b"^Eds: Embargoed until 5 a.m. EST Tuesday, Dec. 1<\r\n^Prize winner named<\r\n"
        b"\t   STOCKHOLM (AP) _ The jury met on Friday.\r\n\x03\r\nAP-WF-11-27-26 1400GMT\r\n"
    )
    story = one(wire)
    assert story.embargoed == MOMENT
    assert story.headline == "Prize winner named"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "until"),
    [
        ("EMBARGOED UNTIL 0001 GMT MONDAY", datetime(2026, 11, 30, 0, 1, tzinfo=UTC)),
        ("EMBARGO: 2026-12-01 10:00 GMT", MOMENT),
        ("HOLD FOR RELEASE UNTIL 5 A.M. EST TUESDAY", MOMENT),
        ("Embargoed until 10:00 GMT on Tuesday, December 1, 2026", MOMENT),
        ("Embargoed until 10:00 GMT 1 December", MOMENT),  # the year nearest the received date
        ("NOT FOR PUBLICATION BEFORE 1800 GMT", datetime(2026, 11, 27, 18, 0, tzinfo=UTC)),
        ("Embargo jusqu'au 1er décembre 2026 à 11h00 GMT+1", MOMENT),
        ("EMBARGOED UNTIL 10:00:00Z 2026-12-01", MOMENT),
        ("EMBARGOED UNTIL 0001 MONDAY", None),  # no zone
        ("EMBARGOED UNTIL MIDNIGHT GMT TUESDAY", None),  # start or end of the day?
        ("EMBARGOED UNTIL 10:00 CST", None),  # China or US Central?
        ("EMBARGOED UNTIL 10:00 GMT MONDAY DECEMBER 1 2026", None),  # December 1, 2026 is a Tuesday
        ("EMBARGOED UNTIL 10:00 GMT OR 11:00 CET", None),  # two zones
    ],
)
def test_embargo_lines(line: str, until: datetime | None) -> None:
    notice = read_embargo(line, FRIDAY)
    assert notice is not None and notice.until == until


@pytest.mark.unit
@pytest.mark.parametrize(
    "line", ["Embargo to stay until 2027, EU says", "The embargo on grain ends", "EMBARGOED", "Holding on"]
)
def test_prose_about_embargoes_is_no_notice(line: str) -> None:
    assert read_embargo(line, FRIDAY) is None


def embargoed(value: object) -> Story:
    draft = Draft(format="ninjs", headline="Prize winner named", embargoed=value)  # type: ignore[arg-type]
    return finish(draft, received=FRIDAY, limits=Limits())


@pytest.mark.unit
def test_implausible_embargoes_hold_the_story_for_the_horizon_or_are_dropped_when_long_past() -> None:
    horizon = FRIDAY + timedelta(days=366)
    far = embargoed(datetime(2062, 12, 1, tzinfo=UTC))  # a mistyped year: held a year, never released early
    assert far.embargoed == horizon
    assert [(r.kind, r.field, r.original) for r in far.repairs] == [
        (RepairKind.IMPLAUSIBLE_DATE, "embargoed", "2062-12-01T00:00:00+00:00")
    ]
    unreadable = embargoed("10000-12-01T10:00:00Z")
    assert unreadable.embargoed == horizon and unreadable.repairs[0].original == "10000-12-01T10:00:00Z"
    ancient = embargoed(datetime(1899, 1, 1, tzinfo=UTC))
    assert ancient.embargoed is None and ancient.repairs[0].field == "embargoed"
    past = embargoed(datetime(2020, 1, 1, tzinfo=UTC))  # plausible, already lifted: kept as the source said
    assert past.embargoed == datetime(2020, 1, 1, tzinfo=UTC) and past.repairs == []


@pytest.fixture(scope="module")
def client(broker, tmp_path_factory, api_client_factory):
    with api_client_factory(
        broker.bootstrap_servers, tmp_path_factory.mktemp("ingest-embargo"), "embargo"
    ) as test_client:
        yield test_client


@pytest.mark.integration
@pytest.mark.slow
def test_an_embargoed_ninjs_story_is_published_with_its_embargo_field_and_header(
    client, read_stories
) -> None:
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    body = json.dumps({**NINJS_1, "uri": "urn:test:embargo:api", "embargoed": until.isoformat()}).encode()
    response = client.post("/v1/stories", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 202, response.text
    [accepted] = response.json()["stories"]
    message = read_stories(client.settings, client.contract.stories.name, {accepted["id"]})[accepted["id"]][0]
    assert message.story().embargoed == until
    header = message.header("wirewatch-embargoed")
    assert header is not None and datetime.fromisoformat(header) == until
