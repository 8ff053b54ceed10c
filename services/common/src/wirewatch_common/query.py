"""The desks' query syntax, parsed by us into a small tree; user text never reaches an engine's parser.

One implementation for every service that reads desk queries (the index's search, the alerts
service's watchlists), so a watchlist means exactly what the same search means. Pure: no engine.

    ceasefire talks            both words (any form the language's stemmer folds together)
    "grain corridor"           the exact phrase
    gaza OR rafah              either word; OR binds tighter than the implicit AND
    -football                  exclude a word or a "phrase"
    negotiat*                  words starting with a prefix
    headline:strike            only in the headline (fields: headline, body, place)
    place:idlib                only in the dateline's place names

An unscoped word or phrase is looked for in every field, the dateline's places included, so a
story datelined `إدلب (رويترز):` is found by `إدلب` although the body never names it.

Anything the grammar does not recognise is read as plain words, so a desk never gets a syntax
error for a stray quote or colon; only size limits are errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from .errors import WirewatchError

FieldName = Literal["headline", "body", "place"]
FIELDS: tuple[FieldName, ...] = ("headline", "body", "place")
"""The text a desk query can scope: headline, body (summary and paragraphs), dateline place names."""
MAX_CLAUSES = 32
MAX_PHRASE_WORDS = 16
MIN_PREFIX_CHARS = 2


class QueryError(WirewatchError, ValueError):
    """The query or a filter is outside the limits (too many clauses, a phrase too long)."""

    code = "bad_query"


@dataclass(frozen=True)
class Word:
    """One word, optionally a prefix (`negotiat*`) and optionally scoped to a field."""

    text: str
    field: FieldName | None = None
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words that must appear next to each other, in order."""

    words: tuple[str, ...]
    field: FieldName | None = None


Leaf = Word | Phrase


@dataclass(frozen=True)
class AnyOf:
    """At least one of its options must match (`a OR b OR "c d"`)."""

    options: tuple[Leaf, ...]


Clause = Leaf | AnyOf


@dataclass(frozen=True)
class ParsedQuery:
    """Every `must` clause matches and no `must_not` clause does; empty `must` means all stories."""

    must: tuple[Clause, ...] = ()
    must_not: tuple[Leaf, ...] = ()
    raw: str = field(default="", compare=False)

    @property
    def is_empty(self) -> bool:
        """Tell a browse (no query words) from a search."""
        return not self.must and not self.must_not

    def leaves(self) -> list[Leaf]:
        """Return the positive leaves, for highlighting."""
        out: list[Leaf] = []
        for clause in self.must:
            out.extend(clause.options if isinstance(clause, AnyOf) else (clause,))
        return out


_TOKEN = re.compile(
    r"""
    (?P<neg>-)?
    (?:(?P<field>[A-Za-z_]+):)?
    (?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))
    """,
    re.VERBOSE,
)
_HAS_WORD = re.compile(r"\w")
_WORD_PARTS = re.compile(r"[^\s\"]+")


@dataclass
class _Item:
    leaf: Leaf
    negated: bool


def _leaf(field_name: str | None, phrase: str | None, word: str | None) -> Leaf | None:
    scope: FieldName | None = None
    if field_name is not None:
        lowered = field_name.lower()
        if lowered in FIELDS:
            scope = lowered
        elif word is not None:  # `foo:bar` with an unknown field is just text
            word = f"{field_name}:{word}"
        else:
            phrase = f"{field_name} {phrase}"
    if phrase is not None:
        words = tuple(w for w in _WORD_PARTS.findall(phrase) if _HAS_WORD.search(w))
        if not words:
            return None
        if len(words) > MAX_PHRASE_WORDS:
            msg = f"a phrase may have at most {MAX_PHRASE_WORDS} words"
            raise QueryError(msg)
        return Word(words[0], scope) if len(words) == 1 else Phrase(words, scope)
    assert word is not None
    prefix = word.endswith("*")
    text = word.replace("*", "")
    if not _HAS_WORD.search(text):
        return None
    if prefix and len(text) < MIN_PREFIX_CHARS:
        prefix = False  # `a*` would expand to half the vocabulary; read it as the word
    return Word(text, scope, prefix)


def _scan(text: str) -> list[_Item | str]:
    """Split into leaves and the OR operator."""
    items: list[_Item | str] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        match = _TOKEN.match(text, pos)
        if match is None:  # a lone `-` or quote: skip the character
            pos += 1
            continue
        pos = match.end()
        if match.group("word") == "OR" and not match.group("neg") and not match.group("field"):
            items.append("OR")
            continue
        leaf = _leaf(match.group("field"), match.group("phrase"), match.group("word"))
        if leaf is not None:
            items.append(_Item(leaf, negated=bool(match.group("neg"))))
    return items


def parse(text: str) -> ParsedQuery:
    """Parse desk syntax into a `ParsedQuery`; raises QueryError only when limits are exceeded."""
    items = _scan(text)
    must: list[Clause] = []
    must_not: list[Leaf] = []
    join_next = False
    prev_positive = False  # OR joins two positive neighbours only
    for item in items:
        if isinstance(item, str):
            join_next = prev_positive
            continue
        prev_positive = not item.negated
        if item.negated:
            must_not.append(item.leaf)
            join_next = False
            continue
        if join_next:
            last = must[-1]
            options = last.options if isinstance(last, AnyOf) else (last,)
            must[-1] = AnyOf((*options, item.leaf))
        else:
            must.append(item.leaf)
        join_next = False
    count = sum(len(c.options) if isinstance(c, AnyOf) else 1 for c in must) + len(must_not)
    if count > MAX_CLAUSES:
        msg = f"a query may have at most {MAX_CLAUSES} words or phrases; this one has {count}"
        raise QueryError(msg)
    return ParsedQuery(tuple(must), tuple(must_not), raw=text)
