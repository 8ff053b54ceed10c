"""Real ninjs items from the shared corpus, indexed and found again (English, German, French)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wirewatch_common.query import parse
from wirewatch_common.story import Story
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.search import SearchRequest

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[3] / "../shared/corpus/agency"
FILES = ["ninjs1.json", "ninjs2.json", "ninjs3.json", "ninjs4.json", "ninjsExSimpleText1.json"]
TAG = re.compile(r"<[^>]+>")


def _story(path: Path) -> Story:
    """Just enough of ninjs for the index: the ingest service owns real parsing."""
    item = json.loads(path.read_text())
    body = item.get("body_text") or TAG.sub(" ", item.get("body_html") or item.get("body_xhtml") or "")
    when = datetime(2026, 11, 25, tzinfo=UTC)
    return Story(
        id=f"corpus-{path.stem}",
        uri=str(item.get("uri") or item.get("guid") or path.name),
        version=1,
        firstcreated=when,
        versioncreated=when,
        language=item.get("language") or "en",
        headline=item.get("headline") or item.get("description_text") or path.stem,
        body=[p for p in body.split("\n") if p.strip()],
    )


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
def test_real_items_are_found_by_a_headline_word_in_their_own_language(tmp_path):
    stories = [_story(CORPUS / name) for name in FILES if (CORPUS / name).is_file()]
    assert stories, "no ninjs samples in the corpus"
    backend = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    try:
        backend.write(stories)
        for story in stories:
            word = max(re.findall(r"\w+", story.headline), key=len)
            page = backend.search(SearchRequest(query=parse(word), size=10))
            found = {h.story_id: h for h in page.hits}
            assert story.id in found, (word, story.language)
            assert found[story.id].language == story.language
            assert "<mark>" in found[story.id].headline_html
            assert "<script" not in found[story.id].snippet
    finally:
        backend.close()
