"""Encodings resolved as a careful reader would, every departure recorded: lying declarations, BOMs, mojibake.

The documents are written for these tests (the agency case of issue 12: a NewsML-G2 item declaring
iso-8859-1 whose bytes are UTF-8), plus the feedparser project's `encoding__*` feeds in the corpus.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wirewatch_common.http_errors import status_of
from wirewatch_common.story import RepairKind, Story
from wirewatch_ingest.api import ERRORS
from wirewatch_ingest.encoding import decode_xml, mend, text_as_utf8, xml_as_utf8
from wirewatch_ingest.normalize import Limits
from wirewatch_ingest.sources import MalformedDocument, ParseError, parse_document

pytestmark = pytest.mark.unit

RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
HEADLINE = "Décès de l'acteur Jean-Paul Belmondo à 88 ans"
BODY = "PARIS (AFP) - Le comédien français est décédé lundi à Paris, a annoncé sa famille — «un géant»."


def newsml(encoding: str, headline: str = HEADLINE, body: str = BODY) -> str:
    """A NewsML-G2 news item declaring `encoding` (what its bytes are is up to the caller)."""
    return f"""<?xml version="1.0" encoding="{encoding}"?>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:test:encoding:{encoding}" version="1">
 <itemMeta><itemClass qcode="ninat:text"/><versionCreated>2025-12-31T10:00:00Z</versionCreated></itemMeta>
 <contentMeta><language tag="fr"/><headline>{headline}</headline></contentMeta>
 <contentSet><inlineXML contenttype="application/xhtml+xml">
  <html xmlns="http://www.w3.org/1999/xhtml"><body>
   <p>{body}</p><p>Il avait tourné dans plus de 80 films.</p>
  </body></html>
 </inlineXML></contentSet>
</newsItem>
"""


def nitf(encoding: str, headline: str = HEADLINE, body: str = BODY) -> str:
    """An NITF document declaring `encoding`."""
    return f"""<?xml version="1.0" encoding="{encoding}"?>
<nitf><head><docdata><doc-id regsrc="TEST" id-string="encoding-{encoding}"/></docdata></head>
<body><body.head><hedline><hl1>{headline}</hl1></hedline></body.head>
<body.content><p>{body}</p></body.content></body></nitf>
"""


def rss(encoding: str, headline: str = HEADLINE, body: str = BODY) -> str:
    """An RSS 2.0 feed of one item declaring `encoding`."""
    return f"""<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0"><channel><title>Fil test</title><link>https://wire.invalid/</link><language>fr</language>
<item><guid>https://wire.invalid/deces</guid><title>{headline}</title><description>{body}</description></item>
</channel></rss>
"""


def parse(data: bytes, content_type: str | None = None) -> list[Story]:
    return parse_document(data, content_type, received=RECEIVED, limits=Limits())[1]


def only(data: bytes, content_type: str | None = None) -> Story:
    stories = parse(data, content_type)
    assert len(stories) == 1
    return stories[0]


MOJIBAKE = re.compile("[\u0080-\u009f]|Ã[\u0080-\u00bf©¨¢§ ]|â€")


def text_of(story: Story) -> str:
    return "\n".join([story.headline, *story.body, story.summary or ""])


def encoding_repairs(story: Story) -> list[tuple[str, str | None, str | None]]:
    return [(r.field, r.original, r.detail) for r in story.repairs if r.kind is RepairKind.ENCODING]


# --- the declaration lies: 8-bit declared, bytes are UTF-8 ------------------------------------------


@pytest.mark.parametrize("declared", ["iso-8859-1", "ISO-8859-1", "windows-1252", "latin1", "us-ascii"])
@pytest.mark.parametrize("build", [newsml, nitf, rss], ids=["newsml", "nitf", "rss"])
def test_an_8bit_declaration_over_utf8_bytes_is_read_as_utf8_and_recorded(build, declared: str) -> None:
    story = only(build(declared).encode("utf-8"))
    assert story.headline == HEADLINE  # not "DÃ©cÃ¨s de l'acteur"
    assert "Le comédien français est décédé" in " ".join(story.body)
    assert not MOJIBAKE.search(text_of(story))
    [(field, original, detail)] = encoding_repairs(story)
    assert field == "document" and original == declared
    assert detail is not None and "bytes are UTF-8" in detail and "read as UTF-8" in detail


def test_the_issue_case_newsml_declaring_iso_8859_1_is_searchable_as_written() -> None:
    story = only(newsml("iso-8859-1", headline="Décès de Jean-Paul Belmondo").encode(), "application/xml")
    assert story.headline == "Décès de Jean-Paul Belmondo"
    assert story.language == "fr"
    assert Story.from_json(story.to_json()).repairs == story.repairs  # the record travels with the story


@pytest.mark.parametrize("build", [newsml, nitf, rss], ids=["newsml", "nitf", "rss"])
def test_a_true_latin_1_document_is_read_as_declared_without_a_repair(build) -> None:
    story = only(build("iso-8859-1").encode("cp1252"))
    assert story.headline == HEADLINE
    assert "«un géant»" in " ".join(story.body)
    assert encoding_repairs(story) == []


def test_an_http_charset_is_checked_against_the_bytes_too() -> None:
    data = rss("utf-8").encode("utf-8")
    story = only(data, "application/rss+xml; charset=iso-8859-1")
    assert story.headline == HEADLINE
    assert encoding_repairs(story)[0][1] == "iso-8859-1"
    latin = rss("utf-8").encode("cp1252")  # the header is right and the declaration wrong
    assert only(latin, "application/rss+xml; charset=windows-1252").headline == HEADLINE


# --- byte-order marks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mark", "codec"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
    ids=["utf8", "utf16le", "utf16be"],
)
@pytest.mark.parametrize("build", [newsml, nitf, rss], ids=["newsml", "nitf", "rss"])
def test_a_byte_order_mark_wins_over_the_declaration(build, mark: bytes, codec: str) -> None:
    story = only(mark + build("iso-8859-1").encode(codec))
    assert story.headline == HEADLINE
    [(field, original, detail)] = encoding_repairs(story)
    assert (field, original) == ("document", "iso-8859-1")
    assert detail is not None and "byte-order mark" in detail and "the mark wins" in detail


def test_a_byte_order_mark_that_agrees_is_no_repair() -> None:
    story = only(codecs.BOM_UTF16_LE + nitf("UTF-16").encode("utf-16-le"))
    assert story.headline == HEADLINE and story.repairs == []


# --- invalid bytes ---------------------------------------------------------------------------------


def test_stray_invalid_bytes_in_utf8_are_replaced_and_recorded_not_refused() -> None:
    data = nitf("utf-8").encode().replace(b"Le com", b"Le \xff\xfecom")
    story = only(data)
    assert story.headline == HEADLINE
    assert "\ufffd" in story.body[0] and "décédé" in story.body[0]
    [(_, original, detail)] = encoding_repairs(story)
    assert original == "utf-8" and detail is not None and "2 invalid byte sequence(s)" in detail


def test_undeclared_windows_1252_is_detected_not_turned_into_replacement_characters() -> None:
    data = nitf("utf-8").replace('<?xml version="1.0" encoding="utf-8"?>\n', "").encode("cp1252")
    story = only(data)
    assert story.headline == HEADLINE and "«un géant»" in story.body[0]
    [(_, original, detail)] = encoding_repairs(story)
    assert original is None and detail is not None and "windows-1252" in detail


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Москва объявила о новых мерах поддержки экономики", "cp1251"),
        ("Καλημέρα από την Αθήνα, σήμερα βρέχει", "cp1253"),
        (
            "İstanbul'da bugün hava güneşli ve sıcak olacak. Meteoroloji, hafta sonu için yağış "
            "beklenmediğini açıkladı; sıcaklıkların 30 dereceyi aşacağı öngörülüyor.",
            "cp1254",
        ),
        ("Zażółć gęślą jaźń w Łodzi i w Gdańsku", "cp1250"),
    ],
    ids=["russian", "greek", "turkish", "polish"],
)
def test_a_legacy_code_page_declared_as_utf8_is_found_by_charset_normalizer(text: str, codec: str) -> None:
    decoded = decode_xml(f'<?xml version="1.0" encoding="utf-8"?><p>{text}</p>'.encode(codec))
    assert text in decoded.text
    assert decoded.repairs and "charset-normalizer" in (decoded.repairs[0].detail or "")


def test_json_and_agency_text_must_still_be_utf8() -> None:
    with pytest.raises(MalformedDocument, match="UTF-8"):
        parse(b'{"uri": "urn:x", "headline": "\xff\xfe", "body_text": "x"}', "application/json")
    with pytest.raises(MalformedDocument, match="UTF-8"):
        parse(b"Headline\n\nBody \xff\xfe broken", "text/plain")


def test_agency_text_with_a_charset_parameter_is_read_in_it() -> None:
    text = "Décès d'un acteur\n\nPARIS (AFP) - Le comédien est décédé lundi.\n"
    story = only(text.encode("cp1252"), "text/plain; charset=windows-1252")
    assert story.headline == "Décès d'un acteur" and story.repairs == []


# --- double encoding (ftfy) ------------------------------------------------------------------------


def double(text: str) -> str:
    """UTF-8 read as Windows-1252 and written again: what a misconfigured relay does."""
    return text.encode("utf-8").decode("cp1252")


@pytest.mark.parametrize("build", [newsml, nitf, rss], ids=["newsml", "nitf", "rss"])
def test_double_encoded_utf8_is_repaired_and_recorded(build) -> None:
    story = only(build("utf-8", headline=double(HEADLINE), body=double(BODY)).encode())
    assert story.headline == HEADLINE
    assert "Le comédien français est décédé" in story.body[0]
    repairs = encoding_repairs(story)
    assert repairs and repairs[0][0] == "document"
    assert repairs[0][1] is not None and "DÃ©cÃ¨s" in repairs[0][1]  # the text as the source sent it
    assert "double encoding" in (repairs[0][2] or "")


def test_double_encoding_behind_json_escapes_is_repaired_field_by_field() -> None:
    document = {
        "uri": "urn:test:encoding:json",
        "language": "fr",
        "headline": double(HEADLINE),
        "body_text": "Premier paragraphe sans souci.\n\n" + double(BODY),
    }
    story = only(json.dumps(document).encode(), "application/json")  # ensure_ascii: \u00c3\u00a9
    assert story.headline == HEADLINE
    assert story.body[1].endswith(BODY.split(" - ", 1)[1])
    fields = [field for field, _, _ in encoding_repairs(story)]
    assert fields == ["headline", "body[1]"]


@pytest.mark.parametrize(
    "text",
    [
        "naïve café, São Paulo, NÃO É VERDADE, Ørsted, Ærø, İstanbul, Göteborg",
        "Hintereggers Tränen — «guillemets» ‚so‘ „so“ ‘single’ “double” … € £ ¥ © ® ™ ° ± ½",
        "Москва, Αθήνα, القاهرة, 東京, 서울, ירושלים, हिन्दी, ไทย 🙂",
        "Ã la carte is how the menu printed it",  # a lone Ã before a space is not evidence enough
    ],
)
def test_legitimate_text_is_not_repaired(text: str) -> None:
    assert mend(text).text == text
    assert mend(text).repair("headline") is None


def test_windows_1252_punctuation_sent_as_c1_controls_is_read_as_punctuation() -> None:
    fixed = mend("don\x92t stop \x93now\x94")
    assert fixed.text == "don\u2019t stop \u201cnow\u201d"
    repair = fixed.repair("document")
    assert repair is not None and "C1 control codes" in (repair.detail or "")


def test_clean_utf8_documents_are_passed_through_untouched() -> None:
    data = nitf("UTF-8").encode()
    assert xml_as_utf8(data) == (data, [])
    assert text_as_utf8(b'{"headline": "Caf\xc3\xa9"}') == (b'{"headline": "Caf\xc3\xa9"}', [])


def test_unknown_or_dangerous_declarations_are_not_obeyed() -> None:
    for label in ("bogus", "utf-7", "unicode_escape"):
        story = only(nitf(label).encode())
        assert story.headline == HEADLINE
        assert any(label in (original or "") for _, original, _ in encoding_repairs(story))


# --- the corpus: feedparser's encoding__* feeds ----------------------------------------------------

CORPUS = (Path(__file__).resolve().parents[3] / "../shared/corpus").resolve()
FEEDS = sorted((CORPUS / "feeds").glob("encoding__*")) if (CORPUS / "feeds").is_dir() else []

# What each feed's leading comment says feedparser expects of an entry's text, as wirewatch shows it
# (plain text, entities decoded). Where feedparser expects its own mojibake (`bozo_linenoise`: a
# Windows-1252 reading of mostly UTF-8 bytes) wirewatch reads the UTF-8 and replaces the one bad byte.
EXPECTED_TEXT = {
    "encoding__bozo_double-encoded-html.xml": "\u2026",
    "encoding__double-encoded-html.xml": "\u2026",
    "encoding__demoronize-1.xml": "don\u2019t",
    "encoding__demoronize-2.xml": "don\u2019t",
    "encoding__demoronize-3.xml": "don\u2019t",
    "encoding__euc-kr-item.xml": "\ub144",
    "encoding__bozo_linenoise.xml": "\u2019\u201d\ufffd",
    "encoding__bozo_encoding_mismatch_crash.xml": "\u00a4",
}


def _content_type(data: bytes) -> str | None:
    match = re.search(rb"Header:\s*Content-type:\s*([^\r\n]+)", data[:800], re.IGNORECASE)
    return match.group(1).decode().strip() if match else None


def _outcome(data: bytes) -> list[Story] | ParseError:
    try:
        return parse(data, _content_type(data))
    except ParseError as exc:
        return exc


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: p.name)
def test_corpus_encoding_feeds_read_cleanly_or_are_refused_with_a_4xx(path: Path, corpus: Path) -> None:
    data = path.read_bytes()
    stories = _outcome(data)
    if isinstance(stories, ParseError):
        assert status_of(stories, ERRORS) in (400, 415, 422) and stories.message
        return
    for story in stories:
        text = text_of(story)
        assert not MOJIBAKE.search(text), text
        assert unicodedata.is_normalized("NFC", text)
        assert Story.from_json(story.to_json()) == story
    if path.name in EXPECTED_TEXT:
        [story] = stories
        assert story.body == [EXPECTED_TEXT[path.name]]
    else:
        assert stories == [], "a feed without an expected text holds no item (ingest answers 422 no_stories)"


def test_corpus_feeds_are_all_covered(corpus: Path) -> None:
    names = {p.name for p in FEEDS}
    assert len(names) >= 30
    assert set(EXPECTED_TEXT) <= names
