"""Elasticsearch text analysis, text fields and text queries, shared by search and alert matching.

The index service's stories index and the alerts service's percolator index are built from the
same analysis chains and field mappings, documents carry the same text fields, and a desk query
becomes the same query on both: a watchlist matches exactly what a search would find. Pure: plain
dicts, no Elasticsearch client.

User text never reaches Elasticsearch's query parsers: every leaf becomes a `multi_match`, a
phrase or a prefix on the folded words, across each language family's fields (headline, body and
the dateline's place names). Analysis per language runs in Elasticsearch (the chains below, the
same algorithms as the embedded analysis of `analysis.py`/`analyzers.py`); the prefix fields
(`*_words`) get text folded by `analysis.fold_words` in Python, the same as tantivy's, so prefixes
behave alike on both engines. The differences that remain are listed in the index's README.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .analysis import (
    APOSTROPHES,
    AR_LETTERS,
    AR_PROCLITIC_MIN,
    AR_PROCLITICS,
    FAMILIES,
    TURKISH_AGAIN_MIN,
    Family,
    fold_words,
)
from .query import FIELDS, AnyOf, FieldName, Leaf, ParsedQuery, Phrase

PREFIX_FIELDS: dict[FieldName, str] = {
    "headline": "headline_words",
    "body": "body_words",
    "place": "place_words",
}
"""The unstemmed words of each field, for prefix queries."""
HEADLINE_BOOST = 2.0

# `analysis.fold` before the tokenizer: ٱ (the other alef forms are `arabic_normalization`'s) and
# Arabic-Indic digits everywhere; outside Turkish a dotless ı is an i; in Turkish the apostrophes
# a writer may use become the one the `apostrophe` filter knows (' and ’).
_ARABIC_FOLD = [
    *(f"{v} => {p}" for v, p in AR_LETTERS if v == "\u0671"),
    *(f"{chr(base + d)} => {d}" for base in (0x0660, 0x06F0) for d in range(10)),
]
_FOLD = ["\u0131 => i", "\u0130 => i", *_ARABIC_FOLD]
_TR_FOLD = [*(f"{a} => '" for a in APOSTROPHES if a not in "'\u2019"), *_ARABIC_FOLD]
MARKS_PATTERN = r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]"
"""`analysis.AR_MARKS` as a Java regular expression."""

ANALYSIS: dict[str, Any] = {
    "char_filter": {
        "ww_fold": {"type": "mapping", "mappings": _FOLD},
        "ww_tr_fold": {"type": "mapping", "mappings": _TR_FOLD},
        # The marks `analysis.fold` removes beyond `arabic_normalization`'s harakat and tatweel.
        "ww_marks": {"type": "pattern_replace", "pattern": MARKS_PATTERN, "replacement": ""},
    },
    "filter": {
        "ww_english_possessive": {"type": "stemmer", "language": "possessive_english"},
        # Snowball English (Porter2), the stemmer tantivy uses, so both engines fold the same forms.
        "ww_english_stemmer": {"type": "snowball", "language": "English"},
        "ww_turkish_lowercase": {"type": "lowercase", "language": "turkish"},
        # Snowball Turkish (Lucene's `TurkishStemmer`), as tantivy's; a stem of five letters or more
        # once more (`analysis.TURKISH_AGAIN_MIN`).
        "ww_turkish_stemmer": {"type": "stemmer", "language": "turkish"},
        "ww_turkish_stemmer_again": {
            "type": "condition",
            "filter": ["ww_turkish_stemmer"],
            "script": {"source": f"token.getTerm().length() >= {TURKISH_AGAIN_MIN}"},
        },
        # After light10: a glued ب ك ل ف off a stem of five letters or more (`analysis.stem_arabic_word`).
        "ww_arabic_proclitic": {
            "type": "pattern_replace",
            "pattern": f"^[{AR_PROCLITICS}](?=.{{{AR_PROCLITIC_MIN - 1}}})",
            "replacement": "",
        },
        # After the stemmer, which must see proper Turkish lower case: dotted and dotless i meet.
        "ww_dotless_i": {"type": "pattern_replace", "pattern": "ı", "replacement": "i"},
    },
    "analyzer": {
        "ww_en": {
            "char_filter": ["ww_fold", "ww_marks"],
            "tokenizer": "standard",
            "filter": ["ww_english_possessive", "lowercase", "arabic_normalization", "ww_english_stemmer"],
        },
        # apostrophe: İdlib'deki → İdlib; Turkish lowercase: İ → i, I → ı; stem; then ı → i.
        "ww_tr": {
            "char_filter": ["ww_tr_fold", "ww_marks"],
            "tokenizer": "standard",
            "filter": [
                "apostrophe",
                "ww_turkish_lowercase",
                "arabic_normalization",
                "ww_turkish_stemmer",
                "ww_turkish_stemmer_again",
                "ww_dotless_i",
            ],
        },
        # Lucene's light10: normalisation (harakat, tatweel, alef forms, taa marbuta, alef maksura),
        # then one prefix (article with glued particles, or و) and the suffixes (`arabic_stem`);
        # then a glued preposition without the article.
        "ww_ar": {
            "char_filter": ["ww_fold", "ww_marks"],
            "tokenizer": "standard",
            "filter": ["lowercase", "arabic_normalization", "arabic_stem", "ww_arabic_proclitic"],
        },
        "ww_std": {
            "char_filter": ["ww_fold", "ww_marks"],
            "tokenizer": "standard",
            "filter": ["lowercase", "arabic_normalization"],
        },
    },
}
"""The `analysis` index setting: one chain per language family, `ww_<family>`."""


def text_field(fam: Family, name: FieldName) -> str:
    """The analysed text field of a language family: `headline_tr`, `body_ar`..."""
    return f"{name}_{fam}"


def filter_properties() -> dict[str, Any]:
    """Mappings of the fields the language, provider and place filters read (exact keywords)."""
    keyword = {"type": "keyword"}
    return {"lang": keyword, "provider": keyword, "place": keyword}


def text_properties() -> dict[str, Any]:
    """Mappings of the text a query reads: a field per family and field name, then the prefix words."""
    properties: dict[str, Any] = {}
    for fam in FAMILIES:
        for name in FIELDS:
            properties[text_field(fam, name)] = {"type": "text", "analyzer": f"ww_{fam}"}
    for field in PREFIX_FIELDS.values():
        properties[field] = {"type": "text", "analyzer": "ww_std", "index_options": "docs", "norms": False}
    return properties


def text_fields(fam: Family, headline: str, body: str, place: str = "") -> dict[str, str]:
    """The text of a searchable version as a document carries it: its family's fields, then folded words.

    The place fields are left out when the dateline names no place, so a document without them
    fits a mapping made before they existed.
    """
    out = {
        text_field(fam, "headline"): headline,
        text_field(fam, "body"): body,
        PREFIX_FIELDS["headline"]: fold_words(headline, fam),
        PREFIX_FIELDS["body"]: fold_words(body, fam),
    }
    if place:
        out[text_field(fam, "place")] = place
        out[PREFIX_FIELDS["place"]] = fold_words(place, fam)
    return out


def _fields(scope: FieldName | None) -> list[str]:
    names: tuple[FieldName, ...] = (scope,) if scope else FIELDS
    out = []
    for name in names:
        for fam in FAMILIES:
            field = text_field(fam, name)
            out.append(f"{field}^{HEADLINE_BOOST:g}" if name == "headline" else field)
    return out


def leaf_query(leaf: Leaf) -> dict[str, Any]:
    """One word, prefix or phrase across every language's fields (each analyses with its own chain)."""
    if isinstance(leaf, Phrase):
        return {
            "multi_match": {"query": " ".join(leaf.words), "type": "phrase", "fields": _fields(leaf.field)}
        }
    if leaf.prefix:
        values = sorted({fold_words(leaf.text, fam).lower() for fam in FAMILIES})
        names: tuple[FieldName, ...] = (leaf.field,) if leaf.field else FIELDS
        should = [{"prefix": {PREFIX_FIELDS[name]: {"value": value}}} for name in names for value in values]
        return {"bool": {"should": should, "minimum_should_match": 1}}
    return {
        "multi_match": {
            "query": leaf.text,
            "type": "best_fields",
            "operator": "and",
            "fields": _fields(leaf.field),
        }
    }


def text_query(parsed: ParsedQuery) -> dict[str, Any] | None:
    """The bool query for the desk's words; None for a browse (no words)."""
    if parsed.is_empty:
        return None
    must = []
    for clause in parsed.must:
        if isinstance(clause, AnyOf):
            must.append(
                {"bool": {"should": [leaf_query(o) for o in clause.options], "minimum_should_match": 1}}
            )
        else:
            must.append(leaf_query(clause))
    query: dict[str, Any] = {"must": must or [{"match_all": {}}]}
    if parsed.must_not:
        query["must_not"] = [leaf_query(leaf) for leaf in parsed.must_not]
    return {"bool": query}


def attribute_filters(
    languages: Iterable[str] = (), providers: Iterable[str] = (), places: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Filter clauses of the desk's filters: any of the languages (primary subtags), providers, places.

    An empty list leaves that attribute unfiltered. Providers match exactly; places without case.
    """
    out: list[dict[str, Any]] = []
    langs = sorted({lang.split("-")[0].lower() for lang in languages})
    if langs:
        out.append({"terms": {"lang": langs}})
    names = list(providers)
    if names:
        out.append({"terms": {"provider": names}})
    spots = [p.casefold() for p in places]
    if spots:
        out.append({"terms": {"place": spots}})
    return out


def bool_query(parsed: ParsedQuery, filters: list[dict[str, Any]]) -> dict[str, Any]:
    """The desk's words (scored) under filter clauses (not scored)."""
    text = text_query(parsed)
    body: dict[str, Any] = {"filter": filters}
    if text is not None:
        body["must"] = [text]
    return {"bool": body}
