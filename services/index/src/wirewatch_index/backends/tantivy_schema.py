"""The tantivy index layout: fields and documents built from stories.

Text is prepared in Python (`Analyzers.prepare`: folding, and the Turkish and Arabic stemming a
tantivy chain cannot hold) and then analysed by a tantivy chain per language family
(`wirewatch_common.analyzers`, shared with the alerts matcher; re-exported here for the index's
code). Headline, body and the dateline's place names each have a field per family; prefix
queries use unstemmed copies.
"""

from __future__ import annotations

from datetime import UTC, datetime

import tantivy

from wirewatch_common.analysis import FAMILIES, Family
from wirewatch_common.analyzers import MAX_TOKEN_CHARS as MAX_TOKEN_CHARS
from wirewatch_common.analyzers import Analyzers as Analyzers
from wirewatch_common.analyzers import analyzer as analyzer
from wirewatch_common.query import FIELDS, FieldName
from wirewatch_common.searchable import place_text

from .. import documents
from ..documents import KIND_CURRENT, KIND_DELETED, KIND_HISTORY, IndexDoc, story_key

SCHEMA_VERSION = 2
"""Part of the index directory name: a schema change builds a new index (replay the topics).

2: place-name fields (`place_<family>`, `place_words`); Turkish `ı→i` after stemming, Arabic light10."""

_RAW = "raw"
PREFIX_FIELDS: dict[FieldName, str] = {
    "headline": "headline_words",
    "body": "body_words",
    "place": "place_words",
}


def text_field(fam: Family, name: FieldName) -> str:
    """The stemmed text field of a family: `headline_tr`, `body_ar`..."""
    return f"{name}_{fam}"


def build_schema() -> tantivy.Schema:
    """Fields of every document, current or history."""
    sb = tantivy.SchemaBuilder()
    for name in ("kind", "story_id", "language", "lang", "status", "searchable", "provider", "place"):
        sb.add_text_field(
            name, stored=name in ("kind", "story_id", "language"), fast=True, tokenizer_name=_RAW
        )
    # `indexed_ts` is when a version becomes visible (`IndexDoc.visible_at`): indexing, or a later embargo.
    for name in ("doc_key", "story_key", "version", "ts", "sort_ts", "indexed_ts"):
        sb.add_integer_field(name, stored=False, indexed=True, fast=True)
    sb.add_date_field("day", indexed=True, fast=True)
    for fam in FAMILIES:
        for field in FIELDS:
            sb.add_text_field(text_field(fam, field), tokenizer_name=f"ww_{fam}")
    # Unstemmed words (folded, lowercased) for prefix queries: a stemmer cannot stem half a word.
    for name in PREFIX_FIELDS.values():
        sb.add_text_field(name, tokenizer_name="ww_std", index_option="freq")
    sb.add_bytes_field("source", stored=True)
    return sb.build()


def newest_key(doc: IndexDoc) -> int:
    """Milliseconds * 1024 + 10 bits of the story key: newest-first order with (almost) no ties.

    Ties would stop the collapse from proving a page complete; the value stays below 2**53, so it
    survives the float in `SortKey` exactly.
    """
    return documents.micros(doc.versioncreated) // 1000 * 1024 + (doc.story_key & 1023)


def doc_key(doc_id: str) -> int:
    """Integer id of a document, so version checks read fast fields instead of stored text."""
    return story_key(doc_id)


def current_document(doc: IndexDoc, analyzers: Analyzers) -> tantivy.Document:
    """The searchable document of one language version (text prepared for its family's chains)."""
    d = tantivy.Document()
    d.add_text("kind", KIND_CURRENT)
    d.add_text("story_id", doc.story_id)
    d.add_text("language", doc.language)
    d.add_text("lang", doc.lang)
    for status in documents.statuses(doc):
        d.add_text("status", status)
    d.add_text("searchable", "1" if doc.searchable else "0")
    for p in doc.providers:
        d.add_text("provider", p)
    for p in doc.places:
        d.add_text("place", p)
    d.add_integer("doc_key", doc_key(doc.doc_id))
    d.add_integer("story_key", doc.story_key)
    _add_version(d, doc)
    d.add_integer("ts", documents.micros(doc.versioncreated))
    d.add_integer("sort_ts", newest_key(doc))
    d.add_integer("indexed_ts", documents.micros(doc.visible_at))
    try:
        d.add_date("day", doc.versioncreated.astimezone(UTC))
    except ValueError as exc:
        msg = f"versioncreated {doc.versioncreated.isoformat()} cannot be indexed by tantivy: {exc}"
        raise ValueError(msg) from exc
    if doc.searchable:
        texts: dict[FieldName, str] = {
            "headline": doc.headline,
            "body": doc.body,
            "place": place_text(doc.source),
        }
        for name, text in texts.items():
            if text:
                stemmed, words = analyzers.prepare_both(text, doc.family)
                d.add_text(text_field(doc.family, name), stemmed)
                d.add_text(PREFIX_FIELDS[name], words)
    d.add_bytes("source", doc.source.to_json())
    return d


def history_document(doc: IndexDoc) -> tantivy.Document:
    """The version record of one language version, kept after newer versions replace it."""
    d = tantivy.Document()
    d.add_text("kind", KIND_HISTORY)
    d.add_text("story_id", doc.story_id)
    d.add_text("language", doc.language)
    d.add_integer("doc_key", doc_key(documents.history_id(doc.source)))
    d.add_integer("story_key", doc.story_key)
    _add_version(d, doc)
    # Hides the record of a version under embargo (records written before embargoes have no value).
    d.add_integer("indexed_ts", documents.micros(doc.visible_at))
    d.add_bytes("source", documents.version_record(doc).model_dump_json().encode())
    return d


def withdrawal_document(
    doc_id: str, story_id: str, language: str, version: int, when: datetime
) -> tantivy.Document:
    """A withdrawn language version (or, with no language, a story's marker) that blocks older versions."""
    d = tantivy.Document()
    d.add_text("kind", KIND_DELETED)
    d.add_text("story_id", story_id)
    if language:
        d.add_text("language", language)
    d.add_integer("doc_key", doc_key(doc_id))
    d.add_integer("story_key", story_key(story_id))
    d.add_integer("version", version)
    d.add_integer("indexed_ts", documents.micros(when))
    return d


def _add_version(d: tantivy.Document, doc: IndexDoc) -> None:
    try:
        d.add_integer("version", doc.version)
    except OverflowError as exc:
        msg = f"version {doc.version} does not fit tantivy's 64-bit integers"
        raise OverflowError(msg) from exc
