"""Nothing fails translation for its length: tables, run-on paragraphs and long runs, end to end.

Real TEST packages (meaningless output) through the real StoryTranslator, Engine, CTranslate2 and
SentencePiece; the table comes from the shared corpus (AP's global weather agate table, ANPA 1312).
"""

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wirewatch_common.story import RenditionStatus, Story
from wirewatch_translate.engine import DecodeOptions, Engine, split_for_model
from wirewatch_translate.translator import StoryTranslator
from wirewatch_translate.units import is_verbatim

pytestmark = pytest.mark.integration

CORPUS = (Path(__file__).resolve().parents[3] / "../shared/corpus/agency").resolve()
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the shared corpus is not on this machine ({CORPUS})"
)
ARABIC = re.compile(r"[\u0600-\u06FF]")
WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def _story(body: list[str], **fields) -> Story:
    base = {
        "id": "ww-long-1",
        "uri": "urn:test:long:1",
        "version": 1,
        "firstcreated": WHEN,
        "versioncreated": WHEN,
        "language": "en",
        "headline": "Global weather",
        "body": body,
    }
    return Story.model_validate(base | fields)


def _translate(models_dir: Path, story: Story, decode: DecodeOptions | None = None) -> dict[str, Story]:
    engine = Engine(models_dir, decode=decode or DecodeOptions())
    translator = StoryTranslator(engine, ["ar", "tr"], clock=lambda: WHEN)
    renditions = {r.language: r for r in translator.translate([story])}
    assert set(renditions) == {"ar", "tr"}
    for rendition in renditions.values():
        assert rendition.translation.status is RenditionStatus.TRANSLATED, rendition.translation.error
        assert len(rendition.body) == len(story.body)
    return renditions


def _anpa_weather() -> tuple[str, str, str]:
    """Intro, table and legend of anpa-3.tst, lines kept, control bytes and `<` markers dropped."""
    raw = (CORPUS / "anpa-3.tst").read_bytes().decode("latin-1")
    lines = [
        re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", line).strip().removesuffix("<") for line in raw.splitlines()
    ]
    lines = [line for line in lines if line]
    table = [line for line in lines if line.count(";") >= 10]
    intro = next(line for line in lines if line.startswith("NEW YORK (AP)"))
    legend = lines[lines.index("clr - clear") : lines.index("Source: Weather Underground") + 1]
    return intro, "\n".join(table), "\n".join(legend)


def _cells(line: str) -> list[str]:
    return re.split(r"[ \t]*;|\t+| {2,}", line)


@needs_corpus
def test_the_corpus_weather_table_translates_and_keeps_its_lines_and_figures(models_dir):
    intro, table, legend = _anpa_weather()
    assert table.count("\n") > 90 and len(table) > 4000
    renditions = _translate(models_dir, _story([intro, table, legend]))
    for rendition in renditions.values():
        rendered = rendition.body[1].split("\n")
        source = table.split("\n")
        assert len(rendered) == len(source), "one line per line of the table"
        for before, after in zip(source, rendered, strict=True):
            cells_before, cells_after = _cells(before), _cells(after)
            assert len(cells_after) == len(cells_before), (before, after)
            for a, b in zip(cells_before, cells_after, strict=True):
                if is_verbatim(a):
                    assert a == b, "figures and codes are copied, not translated"
        assert rendition.body[2].count("\n") == legend.count("\n")
    assert ARABIC.search(renditions["ar"].body[1].split("\n")[1]), "Amsterdam's row has a translated city"


@needs_corpus
def test_the_weather_table_as_one_collapsed_paragraph_translates(models_dir):
    """What ingest sent before it kept table lines: the whole table on one line, about 4,000 tokens."""
    intro, table, legend = _anpa_weather()
    collapsed = " ".join([intro, *table.split("\n")])
    renditions = _translate(models_dir, _story([collapsed, " ".join(legend.split("\n"))]))
    for rendition in renditions.values():
        assert rendition.body[0].count(";") == collapsed.count(";"), "cells kept"
        assert ";42;50;" in rendition.body[0] and ";0.08;" in rendition.body[0], "figures copied"


@needs_corpus
def test_the_standings_table_keeps_number_lines_verbatim(models_dir):
    text = (CORPUS / "tag_reuters.com,0000_newsml_ISS149709_1618095828").read_text(encoding="utf-8")
    block = text[text.index("Monday, January 30") : text.index("16-18: Relegation") + 17].replace("\r", "")
    lines = [line.rstrip() for line in block.split("\n")]
    renditions = _translate(models_dir, _story(["\n".join(lines)], headline="Turkish championship"))
    verbatim = [i for i, line in enumerate(lines) if is_verbatim(line)]
    assert verbatim, "the table has rule lines"
    for rendition in renditions.values():
        rendered = rendition.body[0].split("\n")
        assert len(rendered) == len(lines)
        assert all(rendered[i] == lines[i] for i in verbatim)
        row = next(r for r in rendered if r.startswith("1  "))
        assert row.endswith("19 13 5 1  39 15 44"), row


def test_a_50000_character_paragraph_without_full_stops_translates(models_dir):
    clauses = [f"the {i}th delegation from the northern provinces arrived with grain" for i in range(1000)]
    paragraph = "; ".join(", ".join(clauses[i : i + 4]) for i in range(0, len(clauses), 4))
    assert len(paragraph) >= 50_000 and "." not in paragraph
    renditions = _translate(models_dir, _story([paragraph, "Talks resume on Friday."]))
    engine = Engine(models_dir)
    model = engine.model(engine.packages()[("en", "ar")])
    pieces = split_for_model(model, paragraph, engine.decode)
    assert len(pieces) > 100 and all(p.fits for p in pieces)
    assert all(len(t) <= 170 for t in model.encode([p.text for p in pieces]))
    assert all(p.text.endswith((";", ",")) for p in pieces[:-1]), "cut at separators, not inside clauses"
    words = renditions["ar"].body[0].split()
    assert ARABIC.search(renditions["ar"].body[0]) and len(words) >= len(pieces), "every piece translated"


def test_a_2000_row_table_translates_quickly_and_keeps_every_row(models_dir):
    cities = ["Ankara", "Istanbul", "Izmir", "Amman", "Beirut", "Cairo", "Doha", "London", "Madrid", "Rome"]
    rows = []
    for i in range(2000):
        if i % 10 == 9:
            rows.append(f"{i % 40}  -{i % 7}  {i % 50}/{i % 33}")  # a line of figures alone
        else:
            rows.append(f"{cities[i % 10]} station {i}\t{i % 35}\t-{i % 9}\tclear skies")
    table = "\n".join(rows)
    started = time.perf_counter()
    # random weights may decode to the limit instead of stopping; a short limit keeps the test quick
    renditions = _translate(models_dir, _story([table]), DecodeOptions(max_decoding_length=24))
    assert time.perf_counter() - started < 20
    for rendition in renditions.values():
        rendered = rendition.body[0].split("\n")
        assert len(rendered) == 2000
        assert all(rendered[i] == rows[i] for i in range(9, 2000, 10)), "number lines copied"
        assert all(r.count("\t") == 3 for i, r in enumerate(rendered) if i % 10 != 9), "cells kept"
        assert rendered[0].split("\t")[1:3] == ["0", "-0"]


def test_a_5000_character_token_is_copied_unchanged(models_dir):
    token = "ZmFrZS1oYXNo" * 420  # 5,040 characters of base64, no whitespace
    renditions = _translate(models_dir, _story([f"Checksum: {token}", token]))
    for rendition in renditions.values():
        assert token in rendition.body[0] and rendition.body[1] == token
