"""tantivy specifics: one writer, readers that reload after commits, analysis chains."""

from __future__ import annotations

import pytest

from wirewatch_index.analysis import fold
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.backends.tantivy_schema import analyzer
from wirewatch_index.model import SearchRequest
from wirewatch_index.query import parse
from wirewatch_index.testing import CEASEFIRE, STRIKE

pytestmark = pytest.mark.integration


def test_a_separate_reader_sees_commits_without_restarting(tmp_path):
    writer = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    reader = TantivyBackend(tmp_path)  # what an API-only process opens
    try:
        writer.write([STRIKE])
        assert [h.story_id for h in reader.search(SearchRequest(query=parse("grain"))).hits] == [STRIKE.id]
        writer.write([CEASEFIRE])
        assert [h.story_id for h in reader.search(SearchRequest(query=parse("idlib"))).hits] == [CEASEFIRE.id]
        assert reader.get_story(CEASEFIRE.id) is not None
    finally:
        writer.close()
        reader.close()


@pytest.mark.parametrize(
    ("family", "text", "tokens"),
    [
        ("en", "Ceasefires resumed", ["ceasefir", "resum"]),
        ("tr", "İSTANBUL'DA ateşkesler", ["istanbul", "ateşkes"]),
        ("ar", "والهُدْنَةُ", ["هدن"]),
        ("std", "Über ÇA", ["über", "ça"]),
    ],
)
def test_analysis_chains(family, text, tokens):
    assert analyzer(family).analyze(fold(text, family)) == tokens
