"""Implausible values are normalised at ingest, never dropped silently: dates set aside, metadata cut, repairs kept."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from wirewatch_common.story import Repair, RepairKind, Story
from wirewatch_ingest.dates import from_struct_time, read_date
from wirewatch_ingest.ledger import content_hash
from wirewatch_ingest.normalize import Draft, Limits, SubjectDraft, finish, story_id
from wirewatch_ingest.repairs import count_repairs, field_label
from wirewatch_ingest.sources import LimitExceeded, parse_document

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def build(received: datetime = NOW, **fields: object) -> Story:
    draft = Draft(format="ninjs", headline="Storm closes coastal roads", body=["Heavy rain closed roads."])
    for name, value in fields.items():
        setattr(draft, name, value)
    return finish(draft, received=received, limits=Limits())


def only(story: Story) -> Repair:
    assert len(story.repairs) == 1, story.repairs
    return story.repairs[0]


def ninjs(**fields: object) -> bytes:
    item = {"uri": "urn:test:plausible", "headline": "Storm closes coastal roads", "body_text": "Heavy rain."}
    return json.dumps({**item, **fields}).encode()


@pytest.mark.unit
def test_a_version_time_centuries_ahead_gives_way_to_the_received_time_and_is_kept() -> None:
    story = build(versioncreated=datetime(2400, 1, 1, tzinfo=UTC))
    assert story.versioncreated == NOW and story.firstcreated == NOW
    repair = only(story)
    assert repair.kind is RepairKind.IMPLAUSIBLE_DATE and repair.field == "versioncreated"
    assert repair.original == "2400-01-01T00:00:00+00:00"
    assert repair.detail is not None and "received time stands in" in repair.detail


@pytest.mark.unit
def test_a_day_of_clock_skew_is_tolerated_and_no_more() -> None:
    ahead = NOW + timedelta(hours=23)
    assert build(versioncreated=ahead).versioncreated == ahead
    assert build(versioncreated=NOW + timedelta(hours=25)).versioncreated == NOW


@pytest.mark.unit
def test_a_first_creation_before_1900_gives_way_to_the_version_time() -> None:
    version = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    story = build(versioncreated=version, firstcreated=datetime(1899, 12, 31, tzinfo=UTC))
    assert story.firstcreated == version == story.versioncreated
    repair = only(story)
    assert (repair.field, repair.original) == ("firstcreated", "1899-12-31T00:00:00+00:00")


@pytest.mark.unit
def test_a_plausible_first_creation_survives_an_impossible_version_time() -> None:
    first = datetime(2026, 11, 24, tzinfo=UTC)
    story = build(firstcreated=first, versioncreated="20261325T000000Z")
    assert story.firstcreated == first and story.versioncreated == NOW
    assert only(story).original == "20261325T000000Z"


@pytest.mark.parametrize(
    ("body", "ctype", "fields"),
    [
        (
            ninjs(versioncreated="10000-01-01T00:00:00Z", firstcreated="0000-01-01T00:00:00Z"),
            "application/json",
            {"versioncreated": "10000-01-01T00:00:00Z", "firstcreated": "0000-01-01T00:00:00Z"},
        ),
        (
            ninjs(versioncreated=1_700_000_000),  # a number is no date, but the desk sees what came
            "application/json",
            {"versioncreated": "1700000000"},
        ),
        (
            b"<newsItem xmlns='http://iptc.org/std/nar/2006-10-01/' guid='urn:g2:1' version='1'>"
            b"<itemMeta><itemClass qcode='ninat:text'/><versionCreated>+12026-11-25T08:00:00Z</versionCreated>"
            b"<firstCreated>0001-01-01T00:00:00+01:00</firstCreated></itemMeta>"
            b"<contentMeta><headline>Storm</headline></contentMeta></newsItem>",
            "application/xml",
            {"versioncreated": "+12026-11-25T08:00:00Z", "firstcreated": "0001-01-01T00:00:00+01:00"},
        ),
        (
            b"<nitf><head><docdata><date.issue norm='99991231T235959-1200'/></docdata></head><body><body.head>"
            b"<hedline><hl1>Storm</hl1></hedline></body.head></body></nitf>",
            "application/xml",
            {"versioncreated": "9999-12-31T23:59:59-12:00"},
        ),
        (
            b"<NewsML><NewsItem><NewsManagement><FirstCreated>00000101T000000</FirstCreated>"
            b"<ThisRevisionCreated>20261125T080000Z</ThisRevisionCreated><Status FormalName='Usable'/>"
            b"</NewsManagement><NewsComponent><NewsLines><HeadLine>Storm</HeadLine></NewsLines>"
            b"</NewsComponent></NewsItem></NewsML>",
            "application/xml",
            {"firstcreated": "00000101T000000"},
        ),
    ],
    ids=["ninjs-years-0-and-10000", "ninjs-number", "newsml-g2", "nitf-past-9999-in-utc", "newsml1-year-0"],
)
@pytest.mark.unit
def test_dates_python_cannot_hold_reach_finish_as_implausible_not_as_a_failed_document(
    body: bytes, ctype: str, fields: dict[str, str]
) -> None:
    _fmt, [story] = parse_document(body, ctype, received=NOW, limits=Limits())
    found = {r.field: r.original for r in story.repairs if r.kind is RepairKind.IMPLAUSIBLE_DATE}
    assert found == fields
    assert story.versioncreated <= NOW + timedelta(days=1) and story.firstcreated >= datetime(
        1900, 1, 1, tzinfo=UTC
    )
    assert Story.from_json(story.to_json()) == story


@pytest.mark.unit
def test_a_redelivery_hours_later_is_still_the_same_content() -> None:
    """Repairs say nothing about the receipt time, so the ledger still sees a re-delivery as a duplicate."""
    early = build(NOW, versioncreated=datetime(2400, 1, 1, tzinfo=UTC))
    late = build(NOW + timedelta(hours=5), versioncreated=datetime(2400, 1, 1, tzinfo=UTC))
    assert early.versioncreated != late.versioncreated
    assert content_hash(early) == content_hash(late)


@pytest.mark.unit
def test_feed_dates_keep_their_text_when_feedparser_cannot_hold_or_misreads_them() -> None:
    year_zero = time.struct_time((0, 1, 1, 0, 0, 0, 5, 1, 0))
    assert from_struct_time(year_zero, "0000-01-01T00:00:00Z") == "0000-01-01T00:00:00Z"
    misread = time.struct_time((2010, 11, 1, 0, 0, 0, 0, 305, 0))  # what feedparser makes of year 10000
    assert from_struct_time(misread, "10000-01-01T00:00:00Z") == "10000-01-01T00:00:00Z"
    fine = time.struct_time((2400, 1, 1, 0, 0, 0, 5, 1, 0))
    assert from_struct_time(fine, "Mon, 01 Jan 2400 00:00:00 GMT") == datetime(2400, 1, 1, tzinfo=UTC)
    assert from_struct_time(fine, None) == datetime(2400, 1, 1, tzinfo=UTC)
    assert from_struct_time(None, "  ") is None
    assert read_date("Fri, 01 Jan 10000 00:00:00 GMT") == "Fri, 01 Jan 10000 00:00:00 GMT"
    assert read_date("20160909T000100+0100") == datetime(2016, 9, 8, 23, 1, tzinfo=UTC)


@pytest.mark.unit
def test_over_long_metadata_is_cut_to_the_contract_with_the_original_kept() -> None:
    long_uri = "urn:test:" + "a" * 3000
    story = build(
        uri=long_uri,
        provider="P" * 600,
        source="S" * 501,
        byline="B" * 1500,
        credit="C" * 1001,
        dateline="D" * 1200,
        places=["Q" * 700, "Ankara"],
        keywords=["short", "🌍" * 9000],
        subjects=[SubjectDraft(name="n" * 700, code="c" * 300, scheme="s" * 201, uri="u" * 2001)],
        copyrightnotice="©" * 2500,
        usageterms="T" * 2001,
    )
    assert story.id == story_id("uri", long_uri)  # the id comes from the whole identifier
    assert story.uri == long_uri[:2000]
    assert story.provider is not None and story.provider.name == "P" * 499 + "…"
    assert story.source is not None and len(story.source.name) == 500
    assert story.byline is not None and len(story.byline) == 1000
    assert story.dateline is not None and len(story.dateline.text) == 1000
    assert [len(p.name) for p in story.dateline.places] == [500, 6]
    assert story.keywords[0] == "short" and len(story.keywords[1]) == 500
    assert len(story.keywords[1].encode()) < 32_766  # Elasticsearch's longest keyword term, in bytes
    subject = story.subjects[0]
    assert (len(subject.name), subject.code, subject.scheme, subject.uri) == (
        500,
        "c" * 200,
        "s" * 200,
        "u" * 2000,
    )
    cut = {r.field: r for r in story.repairs}
    assert set(cut) == {
        "uri",
        "provider.name",
        "source.name",
        "byline",
        "credit",
        "dateline.text",
        "dateline.places[0].name",
        "keywords[1]",
        "subjects[0].name",
        "subjects[0].code",
        "subjects[0].scheme",
        "subjects[0].uri",
        "copyrightnotice",
        "usageterms",
    }
    assert all(r.kind is RepairKind.TRUNCATED for r in story.repairs)
    assert cut["provider.name"].original == "P" * 600
    assert (
        cut["uri"].original == long_uri[:2000]
    )  # a repair keeps at most 2,000 characters of the source's value
    assert Story.from_json(story.to_json()) == story


@pytest.mark.unit
def test_text_over_its_limit_is_still_refused_not_cut() -> None:
    with pytest.raises(LimitExceeded) as info:
        build(headline="x" * 2001)
    assert info.value.code == "limit_exceeded" and info.value.field == "headline"


@pytest.mark.unit
def test_a_newsml_qcode_longer_than_the_contract_no_longer_fails_the_document() -> None:
    qcode = "medtop:" + "9" * 400
    doc = (
        "<newsItem xmlns='http://iptc.org/std/nar/2006-10-01/' guid='urn:g2:qcode' version='1'>"
        "<itemMeta><itemClass qcode='ninat:text'/></itemMeta><contentMeta><headline>Storm</headline>"
        f"<subject qcode='{qcode}'><name>Weather</name></subject></contentMeta></newsItem>"
    ).encode()
    _fmt, [story] = parse_document(doc, "application/xml", received=NOW, limits=Limits())
    assert story.subjects[0].name == "Weather" and story.subjects[0].code == qcode[:200]
    assert only(story).field == "subjects[0].code"


@pytest.mark.unit
def test_a_story_lists_at_most_fifty_repairs() -> None:
    story = build(keywords=[f"{i}" + "k" * 600 for i in range(80)])
    assert len(story.repairs) == 50
    assert (
        story.repairs[-1].field == "*"
        and story.repairs[-1].detail == "31 more repairs of the same story not listed"
    )
    assert len(story.to_json()) < 200_000


@pytest.mark.unit
def test_repairs_are_counted_by_kind_and_field_without_positions() -> None:
    def sample(kind: str, field: str) -> float:
        labels = {"kind": kind, "field": field}
        return REGISTRY.get_sample_value("wirewatch_ingest_repairs_total", labels) or 0.0

    before_date = sample("implausible_date", "versioncreated")
    before_kw = sample("truncated", "keywords")
    story = build(versioncreated=datetime(2400, 1, 1, tzinfo=UTC), keywords=["a" * 501, "b" * 501])
    assert count_repairs([story]) == 3
    assert sample("implausible_date", "versioncreated") == before_date + 1
    assert sample("truncated", "keywords") == before_kw + 2
    assert field_label("dateline.places[12].name") == "dateline.places.name"


@pytest.fixture(scope="module")
def client(broker, tmp_path_factory, api_client_factory):
    with api_client_factory(
        broker.bootstrap_servers, tmp_path_factory.mktemp("ingest-plausible"), "plausible"
    ) as test_client:
        yield test_client


@pytest.mark.integration
@pytest.mark.slow
def test_a_story_dated_centuries_ahead_is_accepted_and_published_with_its_repair(
    client, read_stories
) -> None:
    body = ninjs(uri="urn:test:plausible:api", versioncreated="2400-01-01T00:00:00Z", language="en")
    response = client.post("/v1/stories", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 202, response.text
    [accepted] = response.json()["stories"]
    assert accepted["outcome"] == "accepted"
    seen = read_stories(client.settings, client.contract.stories.name, {accepted["id"]})
    story = seen[accepted["id"]][0].story()
    assert story.received is not None and story.versioncreated == story.received
    assert [(r.kind, r.field, r.original) for r in story.repairs] == [
        (RepairKind.IMPLAUSIBLE_DATE, "versioncreated", "2400-01-01T00:00:00+00:00")
    ]
