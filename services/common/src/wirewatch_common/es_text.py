"""Elasticsearch text analysis, text fields and text queries, shared by search and alert matching.

The index service's stories index and the alerts service's percolator index are built from the
same analysis chains and field mappings, documents carry the same text fields, and a desk query
becomes the same query on both: a watchlist matches exactly what a search would find. Pure: plain
dicts, no Elasticsearch client.

User text never reaches Elasticsearch's query parsers: every leaf becomes a `multi_match`, a
phrase or a prefix on the folded words, across each language family's fields. Analysis per
language runs in Elasticsearch (the chains below); the prefix fields (`*_words`) get text folded
by `analysis.fold` in Python, the same as tantivy's, so prefixes behave alike on both engines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .analysis import FAMILIES, Family, fold
from .query import AnyOf, FieldName, Leaf, ParsedQuery, Phrase

PREFIX_FIELDS: dict[FieldName, str] = {"headline": "headline_words", "body": "body_words"}
"""The unstemmed words of each field, for prefix queries."""
HEADLINE_BOOST = 2.0

ANALYSIS: dict[str, Any] = {
    "filter": {
        "ww_english_possessive": {"type": "stemmer", "language": "possessive_english"},
        # Snowball English (Porter2), the stemmer tantivy uses, so both engines fold the same forms.
        "ww_english_stemmer": {"type": "snowball", "language": "English"},
        "ww_turkish_lowercase": {"type": "lowercase", "language": "turkish"},
        "ww_turkish_stemmer": {"type": "stemmer", "language": "turkish"},
        "ww_arabic_stemmer": {"type": "stemmer", "language": "arabic"},
    },
    "analyzer": {
        "ww_en": {
            "tokenizer": "standard",
            "filter": ["ww_english_possessive", "lowercase", "ww_english_stemmer"],
        },
        # apostrophe: İdlib'deki → İdlib; Turkish lowercase: İ → i, I → ı.
        "ww_tr": {
            "tokenizer": "standard",
            "filter": ["apostrophe", "ww_turkish_lowercase", "ww_turkish_stemmer"],
        },
        # Normalisation: diacritics, tatweel, alef forms, taa marbuta, alef maksura; then light10, which
        # also strips the article and glued particles (tantivy gets those stripped by analysis.fold).
        "ww_ar": {
            "tokenizer": "standard",
            "filter": ["lowercase", "decimal_digit", "arabic_normalization", "ww_arabic_stemmer"],
        },
        "ww_std": {"tokenizer": "standard", "filter": ["lowercase"]},
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
        for name in ("headline", "body"):
            properties[text_field(fam, name)] = {"type": "text", "analyzer": f"ww_{fam}"}
    for field in PREFIX_FIELDS.values():
        properties[field] = {"type": "text", "analyzer": "ww_std", "index_options": "docs", "norms": False}
    return properties


def text_fields(fam: Family, headline: str, body: str) -> dict[str, str]:
    """The text of a searchable version as a document carries it: its family's fields, then folded words."""
    return {
        text_field(fam, "headline"): headline,
        text_field(fam, "body"): body,
        PREFIX_FIELDS["headline"]: fold(headline, fam),
        PREFIX_FIELDS["body"]: fold(body, fam),
    }


def _fields(scope: FieldName | None) -> list[str]:
    names: tuple[FieldName, ...] = (scope,) if scope else ("headline", "body")
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
        values = sorted({fold(leaf.text, fam).lower() for fam in FAMILIES})
        names: tuple[FieldName, ...] = (leaf.field,) if leaf.field else ("headline", "body")
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
