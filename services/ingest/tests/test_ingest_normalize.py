"""Text cleaning, ids, versions, language and limits, on samples written for these tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wirewatch_ingest.normalize import (
    Draft,
    Limits,
    clean_inline,
    finish,
    html_to_paragraphs,
    normalized_headline,
    story_id,
    update_number,
)
from wirewatch_ingest.sources import InvalidStory, LimitExceeded, MalformedDocument, parse_document
from wirewatch_ingest.sources.agency import parse_agency

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

REUTERS_STYLE = """UPDATE 1-Port strike halts grain exports at Odesa

By Jane Roe

ODESA/KYIV (Reuters): Dockworkers walked out on Tuesday, halting “all” grain loading, the union said.

Talks resume on Friday, officials said.

(Reporting by Jane Roe; Editing by John Doe)
"""

TURKISH = """Ankara'da ihracat rekoru kırıldı

ANKARA, Nov 25 (Anadolu) - Türkiye'nin ihracatı kasım ayında rekor kırarak İstanbul ve İzmir
limanlarında yoğunluk yarattı.

Ticaret Bakanlığı açıklamasında, ihracatçıların yeni pazarlara yöneldiğini belirtti.
"""

ARABIC = """ارتفاع صادرات الحبوب من الموانئ المصرية

القاهرة (رويترز): قالت وزارة التموين المصرية يوم الثلاثاء إن صادرات الحبوب ارتفعت بشكل ملحوظ خلال الشهر الماضي.

وأضافت الوزارة أن المحادثات مع الشركاء التجاريين ستستأنف يوم الجمعة.
"""


def agency(text: str, **kw: object) -> object:
    return parse_agency(text.encode(), received=NOW, limits=Limits(), **kw)[0]  # type: ignore[arg-type]


def test_agency_copy_headline_dateline_byline_credit() -> None:
    s = agency(REUTERS_STYLE)
    assert s.headline == "UPDATE 1-Port strike halts grain exports at Odesa"
    assert s.version == 2  # UPDATE 1 is the second version
    assert s.byline == "Jane Roe"
    assert s.dateline.text == "ODESA/KYIV (Reuters)"
    assert [p.name for p in s.dateline.places] == ["ODESA", "KYIV"]
    assert s.source.name == "Reuters" and s.provider.name == "Reuters"
    assert s.credit == "(Reporting by Jane Roe; Editing by John Doe)"
    assert s.body == [
        "Dockworkers walked out on Tuesday, halting “all” grain loading, the union said.",
        "Talks resume on Friday, officials said.",
    ]
    assert s.language == "en" and s.language_detected is None


def test_update_keeps_the_id_of_the_first_version() -> None:
    first = agency(REUTERS_STYLE.replace("UPDATE 1-", ""))
    update = agency(REUTERS_STYLE)
    assert first.id == update.id
    assert (first.version, update.version) == (1, 2)


def test_turkish_copy_with_month_day_dateline() -> None:
    s = agency(TURKISH)
    assert s.dateline.text == "ANKARA, Nov 25 (Anadolu)"
    assert [p.name for p in s.dateline.places] == ["ANKARA"]
    assert s.language == "tr"
    assert "İstanbul" in s.body[0] and s.body[0].startswith("Türkiye'nin")


def test_arabic_copy() -> None:
    s = agency(ARABIC)
    assert s.headline == "ارتفاع صادرات الحبوب من الموانئ المصرية"
    assert [p.name for p in s.dateline.places] == ["القاهرة"]
    assert s.source.name == "رويترز"
    assert s.language == "ar"


def test_declared_language_is_kept_and_disagreement_recorded() -> None:
    draft = Draft(format="agency", headline="Ankara'da ihracat rekoru kırıldı", language="en-gb")
    draft.body = ["Türkiye'nin ihracatı kasım ayında rekor kırarak limanlarda yoğunluk yarattı."]
    s = finish(draft, received=NOW, limits=Limits())
    assert s.language == "en-GB" and s.language_detected == "tr"


def test_invalid_declared_language_falls_back_to_detection() -> None:
    draft = Draft(format="ninjs", headline="Dockworkers walked out on Tuesday", language="not a tag!")
    draft.body = ["Talks resume on Friday, officials said, after a long week of strikes."]
    assert finish(draft, received=NOW, limits=Limits()).language == "en"


def test_cleaning_removes_controls_decodes_entities_and_composes() -> None:
    assert clean_inline("  Caf\u0065\u0301 &amp; bar\x07\x1b  \u00a0 crème ") == "Café & bar crème"
    assert html_to_paragraphs("<p>One &eacute;<br>Two</p><script>alert(1)</script><div>Three</div>") == [
        "One é",
        "Two",
        "Three",
    ]


def test_limits_refuse_rather_than_truncate() -> None:
    draft = Draft(format="agency", headline="x" * 50, body=["short"])
    with pytest.raises(LimitExceeded) as info:
        finish(draft, received=NOW, limits=Limits(max_headline_chars=40))
    assert info.value.field == "headline" and info.value.code == "limit_exceeded"
    assert info.value.where == {"in": "document", "field": "headline"}
    draft = Draft(format="agency", headline="ok", body=["a" * 10, "b" * 30])
    with pytest.raises(LimitExceeded) as info:
        finish(draft, received=NOW, limits=Limits(max_paragraph_chars=20))
    assert info.value.field == "body[1]"


def test_ids_from_identifier_or_text() -> None:
    assert story_id("uri", "a") == story_id("uri", "a") != story_id("uri", "b")
    assert normalized_headline("UPDATE 2-Port strike: halts exports!") == "port strike halts exports"
    assert update_number("CORRECTED-UPDATE 3-Storm") == 4
    assert update_number("Storm hits coast") is None
    s = agency(REUTERS_STYLE)
    assert s.uri == f"urn:wirewatch:story:{s.id}"


def test_invalid_utf8_names_its_line() -> None:
    with pytest.raises(MalformedDocument) as info:
        parse_agency(b"Headline\n\nBody \xff here", received=NOW, limits=Limits())
    assert info.value.line == 3 and info.value.code == "malformed_document"
    assert info.value.body()["error"]["where"] == {"in": "document", "line": 3}


def test_empty_and_textless_documents() -> None:
    with pytest.raises(MalformedDocument):
        parse_document(b"", None, received=NOW, limits=Limits())
    with pytest.raises(InvalidStory):
        parse_document(b'{"type": "text", "uri": "urn:x"}', "application/json", received=NOW, limits=Limits())


def test_json_syntax_error_names_its_line() -> None:
    with pytest.raises(MalformedDocument) as info:
        parse_document(b'{\n"headline": "x",\n oops}', "application/json", received=NOW, limits=Limits())
    assert info.value.line == 3


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedDocument, match="nested too deeply"):
        parse_document(b"[" * 100_000 + b"]" * 100_000, None, received=NOW, limits=Limits())


def test_a_feed_with_more_entries_than_the_limit_is_refused() -> None:
    items = b"".join(b"<item><title>Entry %d</title></item>" % i for i in range(6))
    feed = b"<rss version='2.0'><channel><title>t</title>" + items + b"</channel></rss>"
    with pytest.raises(LimitExceeded) as info:
        parse_document(feed, "application/rss+xml", received=NOW, limits=Limits(max_stories=5))
    assert info.value.field == "entries"
    assert (
        len(parse_document(feed, "application/rss+xml", received=NOW, limits=Limits(max_stories=6))[1]) == 6
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [("Usable", "usable"), ("withheld", "withheld"), ("Cancelled", "canceled"), ("stat:other", "usable")],
)
def test_publication_status_spellings(given: str, expected: str) -> None:
    draft = Draft(format="newsml", headline="Storm hits the coast", pubstatus=given)
    assert finish(draft, received=NOW, limits=Limits()).pubstatus == expected
