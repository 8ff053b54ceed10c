"""Match language versions against standing queries (watchlists, live streams) exactly as search would.

A standing query matches a language version when the same search, run over an index holding
that version, would return it:

- every leaf (word or phrase) is analysed with every family's chain and compared with the
  version's own family field, since a version is indexed only in its family's fields: one token
  is a term, several are a phrase (consecutive positions; a token the chain drops for being
  overlong still takes a position, as in tantivy);
- a prefix word (`negotiat*`) whose unstemmed analysis gives one token in every family matches
  when an unstemmed word of the version (its text folded for its family, analysed by the `std`
  chain) starts with one of those tokens; otherwise it is read as plain words, as search does.
  Search also caps the expansions of a prefix at 50 terms of the whole index, which a matcher
  seeing one batch cannot reproduce: the one documented difference (the matcher finds what a
  search without the cap would);
- `headline:`/`body:`/`place:` scopes (an unscoped leaf reads all three, the dateline's place
  names included), OR inside a clause, every must clause, no must_not leaf (only exclusions:
  every version but those), and the language (primary subtag), provider (exact) and place
  (casefolded) filters, each satisfied by any one of its values.

The analysis function is passed in, so this module needs no engine: the alerts service passes
`wirewatch_common.analyzers.Analyzers().analyze`, the very chains the index registers.

Presearch, after Lucene's Monitor (Luwak): running 10,000 queries against every version costs
10,000 evaluations each, though a version shares terms with few of them. A query can match only
a version holding, for every must clause, a key of one of that clause's options. So each query
is filed under the keys of ONE must clause, per family: for an option of one token, that term;
for a phrase, its two rarest-looking neighbouring terms as a pair (a version holding the phrase
holds them next to each other); for a prefix, its first six letters (a version looks up the
beginnings of its words). A language filter limits the families a query is filed in. Queries
without a must clause (exclusions and filters only) are checked on every version. A version of
family F collects the queries filed under its terms, its neighbouring pairs and its words'
beginnings, plus the always-checked ones; only these candidates are verified, exactly. When a
version holds the very term an unscoped one-token option was filed under, that clause is known
to match and is not checked again: a query of that one clause and nothing else is a match
outright.

Which clause: the one whose keys the fewest versions are expected to hold. Until the matcher has
seen the stream, a guess from length (short words are the common ones); then the share of recent
versions of each family holding each term, learnt as versions pass, and queries filed under
terms that turn out common are refiled under a rarer clause. The choice changes cost, never
results. A version's terms, pairs, positions and words are computed once, however many
candidates it has, and each leaf's verdict is remembered per version (leaves equal across
queries are shared).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise, repeat

from .analysis import FAMILIES, Family, family, fold
from .query import FIELDS, AnyOf, FieldName, Leaf, ParsedQuery, Phrase, Word
from .searchable import place_text, places_of, providers_of, searchable_text
from .story import Story, primary_language

Analyze = Callable[[str, Family, bool], list[str]]
"""(text, family, stem) -> tokens: fold for the family, then its chain (without the stemmer if not stem)."""

MAX_TOKEN_BYTES = 64
"""The chains drop tokens of this many UTF-8 bytes (`analyzers.MAX_TOKEN_CHARS`; tantivy counts bytes)."""
PREFIX_KEY_CHARS = 6
"""Prefix options are filed under their first letters; a version looks up its words' beginnings."""
REVIEW_EVERY = 1000
"""Versions between two reviews of the filing (refile queries filed under terms found common); the
first reviews come sooner (after 100, 200, 400, 800 versions), while the guesses are still raw."""
FIRST_REVIEW = 100
DF_WINDOW = 2000
"""Term counts are halved when a family has seen this many versions: shares follow the recent stream."""
COMMON_SHARE = 0.02
"""A term held by more than this share of recent versions of its family is common: refile its queries."""
RECHECK_AFTER = 4000
"""Versions before a query checked at a review (and left where it was) is checked again."""
_MIN_SEEN = 50
_BEGINNINGS_ENTRIES = 200_000

# The simple tokenizer's tokens: runs of letters and digits.
_RUN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Standing:
    """A query that stays registered: a watchlist, or a live stream's query while it is open."""

    id: str
    query: ParsedQuery
    languages: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Version:
    """One searchable language version of a story: what a standing query is matched against."""

    key: str
    lang: str
    family: Family
    headline: str
    body: str
    providers: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    place: str = ""
    """The dateline's place names as text (`searchable.place_text`), read by `place:` and unscoped leaves."""


def version_of(story: Story) -> Version | None:
    """Describe a story version for matching; None when search would not return it (not searchable).

    `key` is the version's document id (`<story id>.<language>`).
    """
    searchable, headline, body = searchable_text(story)
    if not searchable:
        return None
    return Version(
        key=story.document_id,
        lang=primary_language(story.language),
        family=family(story.language),
        headline=headline,
        body=body,
        providers=providers_of(story),
        places=places_of(story),
        place=place_text(story),
    )


@dataclass
class MatchStats:
    """Running counters: versions matched, candidates the presearch let through, matches, refilings."""

    versions: int = 0
    candidates: int = 0
    matches: int = 0
    refiled: int = 0


def _length_guess(token: str) -> float:
    """Guess the share of versions holding a term before any are seen: short words are the common ones."""
    return min(1.0, 4.0 / max(1, len(token)) ** 2)


def _prefix_guess(prefix: str) -> float:
    """Guess the share of versions with a word starting with the filing key of `prefix`."""
    return min(1.0, 8.0 / max(1, min(len(prefix), PREFIX_KEY_CHARS)) ** 2)


class _Leaf:
    """One analysed leaf: tokens per family, or the prefixes of a prefix word; shared by equal leaves."""

    __slots__ = ("both", "fields", "lengths", "prefixes", "source", "tokens", "uses")

    def __init__(self, leaf: Leaf, analyze: Analyze) -> None:
        self.source = leaf
        self.fields: tuple[FieldName, ...] = (leaf.field,) if leaf.field else FIELDS
        self.both = leaf.field is None
        self.prefixes: tuple[str, ...] = ()
        self.lengths: frozenset[int] = frozenset()
        self.tokens: dict[Family, tuple[str, ...]] = {}
        self.uses = 0
        if isinstance(leaf, Word) and leaf.prefix:
            found = [analyze(leaf.text, fam, False) for fam in FAMILIES]
            # Search reads a prefix that analyses to several tokens (or none) as plain words.
            if all(len(p) == 1 for p in found):
                self.prefixes = tuple(sorted({p[0] for p in found}))
                self.lengths = frozenset(map(len, self.prefixes))
                return
        text = " ".join(leaf.words) if isinstance(leaf, Phrase) else leaf.text
        self.tokens = {fam: tuple(analyze(text, fam, True)) for fam in FAMILIES}

    def simple(self, fam: Family) -> str | None:
        """The token, when this leaf is one unscoped token in `fam` (matched by set membership)."""
        if self.prefixes or not self.both:
            return None
        tokens = self.tokens[fam]
        return tokens[0] if len(tokens) == 1 else None

    def matches(self, doc: _Doc) -> bool:
        """Tell whether the leaf matches the version (exactly as its search query would)."""
        if self.prefixes:
            return doc.has_prefix(self)
        tokens = self.tokens[doc.family]
        if not tokens:
            return False
        if len(tokens) == 1:
            if self.both:
                return tokens[0] in doc.all_terms
            return tokens[0] in doc.terms(self.fields[0])
        return doc.has_phrase(self, tokens)


def _positions(text: str, fam: Family, count: int) -> Sequence[int]:
    """Positions of a field's tokens: 0..n-1 unless the chain dropped an overlong token on the way.

    tantivy keeps the position of a token it drops, so a phrase around it does not match; the
    positions are recounted only when the text holds a run long enough to have been dropped.
    """
    # A token lies within a whitespace-separated chunk, and folding at most doubles a chunk's bytes
    # (Turkish `I→ı`): no chunk of 32 bytes, no dropped token (such a chunk has 8 characters or more).
    # Stemming never decides a drop (`analysis.STEM_MAX_BYTES`): the folded runs tell.
    half = MAX_TOKEN_BYTES // 2
    if not any(len(c.encode()) >= half for c in text.split() if len(c) >= half // 4):
        return range(count)
    runs = _RUN.findall(fold(text, fam))
    kept = [i for i, run in enumerate(runs) if len(run.encode()) < MAX_TOKEN_BYTES]
    # Python's letters and Rust's differ in rare scripts: keep plain positions when the counts disagree.
    return kept if len(kept) == count else range(count)


class _Doc:
    """One version analysed once: its terms, and lazily per-field sets, positions and unstemmed words."""

    __slots__ = (
        "_analyze",
        "_key_lengths",
        "_keys",
        "_memo",
        "_plain",
        "_positions",
        "_sorted",
        "_terms",
        "_words",
        "all_terms",
        "family",
        "texts",
        "tokens",
        "version",
    )

    def __init__(self, version: Version, analyze: Analyze, *, words: bool) -> None:
        self.version = version
        fam = self.family = version.family
        self._analyze = analyze
        self.texts: dict[FieldName, str] = {
            "headline": version.headline,
            "body": version.body,
            "place": version.place,
        }
        self.tokens: dict[FieldName, list[str]] = {}
        self._plain: dict[FieldName, list[str]] = {}
        for name, text in self.texts.items():
            self.tokens[name] = analyze(text, fam, True)
            if words:
                self._plain[name] = analyze(text, fam, False)
        self.all_terms = set(chain.from_iterable(self.tokens.values()))
        self._terms: dict[FieldName, set[str]] = {}
        self._words: dict[FieldName | None, set[str]] = {}
        self._sorted: dict[FieldName | None, list[str]] = {}
        self._keys: set[str] | None = None
        self._key_lengths: frozenset[int] = frozenset()
        self._positions: dict[FieldName, Sequence[int]] = {}
        self._memo: dict[_Leaf, bool] = {}

    def terms(self, name: FieldName) -> set[str]:
        """The field's stemmed terms."""
        found = self._terms.get(name)
        if found is None:
            found = self._terms[name] = set(self.tokens[name])
        return found

    def words(self, name: FieldName | None) -> set[str]:
        """The unstemmed words (what search's prefix fields hold) of a field, or of both (None)."""
        found = self._words.get(name)
        if found is None:
            if not self._plain:
                self._plain = {n: self._analyze(t, self.family, False) for n, t in self.texts.items()}
            found = set(chain.from_iterable(self._plain.values())) if name is None else set(self._plain[name])
            self._words[name] = found
        return found

    def pairs(self) -> set[tuple[str, str]]:
        """Terms next to each other in the token list of a field (a phrase's neighbours must be)."""
        found: set[tuple[str, str]] = set()
        for tokens in self.tokens.values():
            found.update(pairwise(tokens))
        return found

    def prefix_keys(self, lengths: tuple[int, ...], beginnings: dict[str, tuple[str, ...]]) -> set[str]:
        """Beginnings of the version's unstemmed words, in the lengths prefix options are filed under.

        A word shorter than a length gives itself, which only a prefix it starts with can equal. So,
        for a prefix of a length among these, being in the set means that a word starts with it.
        `beginnings` remembers each word's beginnings in these lengths across versions.
        """
        if self._keys is None:
            words = self.words(None)
            new = words.difference(beginnings)
            if new:
                if len(beginnings) > _BEGINNINGS_ENTRIES:
                    beginnings.clear()
                    new = words
                for word in new:
                    beginnings[word] = tuple({word[:n] for n in lengths})
            keys = set(chain.from_iterable(map(beginnings.__getitem__, words)))
            self._keys = keys
            self._key_lengths = frozenset(lengths)
        return self._keys

    def has_prefix(self, leaf: _Leaf) -> bool:
        """Tell whether a word of the leaf's fields starts with one of its prefixes (remembered per leaf)."""
        if leaf.both and self._keys is not None and leaf.lengths <= self._key_lengths:
            return not self._keys.isdisjoint(leaf.prefixes)
        found = self._memo.get(leaf)
        if found is None:
            scope = None if leaf.both else leaf.fields[0]
            ordered = self._sorted.get(scope)
            if ordered is None:
                ordered = self._sorted[scope] = sorted(self.words(scope))
            found = False
            for prefix in leaf.prefixes:
                i = bisect_left(ordered, prefix)
                if i < len(ordered) and ordered[i].startswith(prefix):
                    found = True
                    break
            self._memo[leaf] = found
        return found

    def _positions_of(self, name: FieldName) -> Sequence[int]:
        """The field's token positions (0..n-1 unless an overlong token was dropped)."""
        found = self._positions.get(name)
        if found is None:
            found = self._positions[name] = _positions(self.texts[name], self.family, len(self.tokens[name]))
        return found

    def has_phrase(self, leaf: _Leaf, tokens: tuple[str, ...]) -> bool:
        """Tell whether the tokens occur at consecutive positions in one of the leaf's fields."""
        found = self._memo.get(leaf)
        if found is None:
            found = False
            n = len(tokens)
            wanted = list(tokens)
            for name in leaf.fields:
                terms = self.terms(name)
                if not all(t in terms for t in tokens):
                    continue
                seq = self.tokens[name]
                i = -1
                while not found:
                    try:
                        i = seq.index(tokens[0], i + 1)
                    except ValueError:
                        break
                    if seq[i : i + n] == wanted:
                        # Next to each other in the list; a token dropped between them would part them.
                        positions = self._positions_of(name)
                        found = positions[i + n - 1] - positions[i] == n - 1
                if found:
                    break
            self._memo[leaf] = found
        return found


_Check = tuple[frozenset[str], tuple[_Leaf, ...]]
"""One clause as a family sees it: unscoped one-token options (any in the version's terms), other leaves."""


def _check(leaves: Iterable[_Leaf], fam: Family) -> _Check:
    simple = frozenset(t for leaf in leaves if (t := leaf.simple(fam)) is not None)
    return simple, tuple(leaf for leaf in leaves if leaf.simple(fam) is None)


_Key = str | tuple[str, str]
"""A filing key: a term or a word's beginning, or two terms next to each other (a phrase's)."""


class _Postings:
    """Queries filed under keys, with the set of keys for C-speed intersection with a version's keys."""

    __slots__ = ("by_key", "keys")

    def __init__(self) -> None:
        self.by_key: dict[_Key, set[_Compiled]] = {}
        self.keys: set[_Key] = set()

    def add(self, key: _Key, compiled: _Compiled) -> None:
        filed = self.by_key.get(key)
        if filed is None:
            self.by_key[key] = {compiled}
            self.keys.add(key)
        else:
            filed.add(compiled)
        compiled.filed.append((self, key))

    def discard(self, key: _Key, compiled: _Compiled) -> None:
        filed = self.by_key.get(key)
        if filed is None:
            return
        filed.discard(compiled)
        if not filed:
            del self.by_key[key]
            self.keys.discard(key)


class _Compiled:
    """A standing query ready to verify: clauses (the filed one first) and normalised filters."""

    __slots__ = (
        "checked",
        "checks",
        "families",
        "filed",
        "filtered",
        "fixed",
        "id",
        "languages",
        "must",
        "must_not",
        "places",
        "providers",
        "standing",
        "trivial",
    )

    def __init__(
        self, standing: Standing, must: list[tuple[_Leaf, ...]], must_not: tuple[_Leaf, ...]
    ) -> None:
        self.standing = standing
        self.id = standing.id
        self.must = must
        self.must_not = must_not
        # The same normalisation as search's filters: primary subtag, exact provider, casefolded place.
        self.languages = frozenset(lang.split("-")[0].lower() for lang in standing.languages)
        self.providers = standing.providers
        self.places = frozenset(p.casefold() for p in standing.places)
        self.filtered = bool(self.languages or self.providers or self.places)
        self.trivial = len(must) == 1 and not must_not and not self.filtered
        # Versions in other families cannot pass a language filter: the query is filed in these only.
        self.families = (
            tuple(f for f in FAMILIES if f in {family(lang) for lang in self.languages})
            if self.languages
            else FAMILIES
        )
        self.checks: dict[Family, tuple[tuple[_Check, ...], _Check]] = {}
        self.filed: list[tuple[_Postings, _Key]] = []
        """Where the presearch filed it, so removing it is as cheap as adding it."""
        # One clause of single words can be filed nowhere else; the others are checked at reviews.
        self.fixed = len(must) <= 1 and all(
            len(t) < 2 for clause in must for leaf in clause for t in leaf.tokens.values()
        )
        self.checked = -RECHECK_AFTER

    def prepare(self) -> None:
        """Build each family's checks from the clauses in their current order."""
        self.checks = {
            fam: (tuple(_check(clause, fam) for clause in self.must), _check(self.must_not, fam))
            for fam in FAMILIES
        }

    def verify(self, doc: _Doc, known: int) -> bool:
        """Verify exactly: filters, every must clause after the first `known` ones, then no exclusion."""
        if self.filtered:
            v = doc.version
            if self.languages and v.lang not in self.languages:
                return False
            if self.providers and self.providers.isdisjoint(v.providers):
                return False
            if self.places and self.places.isdisjoint(v.places):
                return False
        terms = doc.all_terms
        clauses, (excluded, others) = self.checks[doc.family]
        for simple, leaves in clauses[known:] if known else clauses:
            if simple and not simple.isdisjoint(terms):
                continue
            for leaf in leaves:
                if leaf.matches(doc):
                    break
            else:
                return False
        if excluded and not excluded.isdisjoint(terms):
            return False
        return all(not leaf.matches(doc) for leaf in others)


class Matcher:
    """Standing queries filed for presearch; `match` says which of them each version matches.

    Matching is single-threaded (one core). `add`, `remove` and `match` may be called from
    different threads (one lock), so an API thread can register a watchlist while a worker matches.
    """

    def __init__(self, analyze: Analyze, standings: Iterable[Standing] = ()) -> None:
        self._analyze = analyze
        self._lock = threading.Lock()
        self._standings: dict[str, _Compiled] = {}
        self._leaves: dict[Leaf, _Leaf] = {}
        self._sure = {fam: _Postings() for fam in FAMILIES}
        self._maybe = {fam: _Postings() for fam in FAMILIES}
        self._pairs = {fam: _Postings() for fam in FAMILIES}
        self._lengths: tuple[int, ...] = ()
        self._beginnings: dict[str, tuple[str, ...]] = {}
        self._prefixes = _Postings()
        self._always: set[_Compiled] = set()
        self._df: dict[Family, Counter[str]] = {fam: Counter() for fam in FAMILIES}
        self._seen: dict[Family, int] = dict.fromkeys(FAMILIES, 0)
        self._since_review = 0
        self._learnt = 0
        self.stats = MatchStats()
        for standing in standings:
            self.add(standing)

    def __len__(self) -> int:
        return len(self._standings)

    def __contains__(self, standing_id: object) -> bool:
        return standing_id in self._standings

    # -- registering ---------------------------------------------------------------------------

    def add(self, standing: Standing) -> None:
        """Register a standing query, replacing one with the same id."""
        with self._lock:
            self._remove(standing.id)
            query = standing.query
            must = [
                tuple(self._leaf(o) for o in (c.options if isinstance(c, AnyOf) else (c,)))
                for c in query.must
            ]
            compiled = _Compiled(standing, must, tuple(self._leaf(leaf) for leaf in query.must_not))
            self._standings[standing.id] = compiled
            self._file(compiled)

    def remove(self, standing_id: str) -> None:
        """Forget a standing query; an unknown id is ignored (deletes may be replayed)."""
        with self._lock:
            self._remove(standing_id)

    def _leaf(self, leaf: Leaf) -> _Leaf:
        # Equal leaves of different queries share one analysis and one verdict per version.
        found = self._leaves.get(leaf)
        if found is None:
            found = self._leaves[leaf] = _Leaf(leaf, self._analyze)
        found.uses += 1
        return found

    def _remove(self, standing_id: str) -> None:
        compiled = self._standings.pop(standing_id, None)
        if compiled is None:
            return
        self._unfile(compiled)
        for clause in (*compiled.must, compiled.must_not):
            for leaf in clause:
                leaf.uses -= 1
                if leaf.uses == 0:
                    del self._leaves[leaf.source]

    # -- filing --------------------------------------------------------------------------------

    def _share(self, fam: Family, token: str) -> float:
        """The expected share of versions of `fam` holding `token`: learnt, or guessed from its length."""
        seen = self._seen[fam]
        guess = _length_guess(token)
        if seen < _MIN_SEEN:
            return guess
        return (self._df[fam][token] + guess) / (seen + 1)

    def _leaf_cost(self, leaf: _Leaf, fam: Family) -> float:
        """Expected share of versions of `fam` holding the key the leaf would be filed under."""
        if leaf.prefixes:
            return sum(_prefix_guess(p) for p in leaf.prefixes)
        tokens = leaf.tokens[fam]
        if not tokens:
            return 0.0
        if len(tokens) == 1:
            return self._share(fam, tokens[0])
        first, second = self._pair(tokens, fam)
        # Two terms next to each other: far rarer than both present; the product is a fair guess.
        return self._share(fam, first) * self._share(fam, second)

    def _cost(self, clause: tuple[_Leaf, ...], families: tuple[Family, ...] = FAMILIES) -> float:
        """Expected number of the clause's keys a version holds, over the families' share of traffic."""
        total = sum(self._seen.values())
        cost = 0.0
        for fam in families:
            weight = (self._seen[fam] + 1) / (total + len(FAMILIES))
            cost += weight * sum(self._leaf_cost(leaf, fam) for leaf in clause)
        return cost

    def _file(self, compiled: _Compiled) -> None:
        """File the query under the keys of its rarest-looking must clause (see the module docstring)."""
        compiled.must.sort(key=lambda clause: self._cost(clause, compiled.families))
        compiled.prepare()
        if not compiled.must:
            self._always.add(compiled)
            return
        for postings, key in self._keys(compiled.must[0], compiled.families):
            postings.add(key, compiled)
        # A clause none of whose options can match in any family is filed nowhere: never a match.

    def _keys(self, clause: tuple[_Leaf, ...], families: tuple[Family, ...]) -> list[tuple[_Postings, _Key]]:
        """Where a clause is filed: prefix buckets, then per family sure terms, phrases' pairs, scoped terms."""
        keys: list[tuple[_Postings, _Key]] = [
            (self._prefixes, prefix[:PREFIX_KEY_CHARS]) for leaf in clause for prefix in leaf.prefixes
        ]
        for fam in families:
            for leaf in clause:
                if leaf.prefixes or not (tokens := leaf.tokens[fam]):
                    continue
                if (simple := leaf.simple(fam)) is not None:
                    keys.append((self._sure[fam], simple))
                elif len(tokens) > 1:
                    keys.append((self._pairs[fam], self._pair(tokens, fam)))
                else:
                    keys.append((self._maybe[fam], tokens[0]))
        return keys

    def _pair(self, tokens: tuple[str, ...], fam: Family) -> tuple[str, str]:
        """The rarest-looking two neighbours of a phrase: a version must hold them next to each other."""
        pairs = list(pairwise(tokens))
        return min(pairs, key=lambda p: self._share(fam, p[0]) * self._share(fam, p[1]))

    def _unfile(self, compiled: _Compiled) -> None:
        self._always.discard(compiled)
        for postings, key in compiled.filed:
            postings.discard(key, compiled)
        compiled.filed.clear()

    def _learn(self, doc: _Doc) -> None:
        """Count the version's terms, and now and then refile queries filed under common terms."""
        self._df[doc.family].update(doc.all_terms)
        self._seen[doc.family] += 1
        self._since_review += 1
        self._learnt += 1
        if self._since_review >= min(REVIEW_EVERY, max(FIRST_REVIEW, self._learnt // 2)):
            self._review()

    def _review(self) -> None:
        """Refile the queries filed under terms found common, if another clause now looks rarer."""
        self._since_review = 0
        for fam in FAMILIES:
            seen = self._seen[fam]
            if seen < _MIN_SEEN:
                continue
            threshold = COMMON_SHARE * seen
            common = {t for t, n in self._df[fam].items() if n > threshold}
            refile: set[_Compiled] = set()
            for postings in (self._sure[fam], self._maybe[fam]):
                for key in postings.keys & common:
                    refile.update(postings.by_key[key])
            pairs = self._pairs[fam]
            for key in pairs.keys:
                if key[0] in common and key[1] in common:
                    refile.update(pairs.by_key[key])
            for compiled in refile:
                if compiled.fixed or self._learnt - compiled.checked < RECHECK_AFTER:
                    continue
                compiled.checked = self._learnt
                if self._refile(compiled):
                    self.stats.refiled += 1
        # Halve the counts now and then: the shares follow the recent stream, forgotten words leave.
        for fam in FAMILIES:
            if self._seen[fam] >= DF_WINDOW:
                self._df[fam] = Counter({t: n // 2 for t, n in self._df[fam].items() if n > 1})
                self._seen[fam] //= 2

    def _refile(self, compiled: _Compiled) -> bool:
        """File a query again if another clause (or another pair of a phrase) now looks rarer."""
        best = min(compiled.must, key=lambda clause: self._cost(clause, compiled.families))
        keys = self._keys(best, compiled.families)
        if [(id(p), k) for p, k in keys] == [(id(p), k) for p, k in compiled.filed]:
            return False
        self._unfile(compiled)
        self._file(compiled)
        return True

    # -- matching ------------------------------------------------------------------------------

    def match(self, versions: Sequence[Version]) -> list[tuple[int, str]]:
        """Return (index into `versions`, standing id) for every match, sorted."""
        out: list[tuple[int, str]] = []
        with self._lock:
            prefixes = self._prefixes
            lengths = tuple(sorted({len(k) for k in prefixes.keys if isinstance(k, str)}))
            if lengths != self._lengths:
                self._lengths, self._beginnings = lengths, {}
            candidates = 0
            for i, version in enumerate(versions):
                doc = _Doc(version, self._analyze, words=bool(lengths))
                terms = doc.all_terms
                filed = self._sure[doc.family]
                sure: set[_Compiled] = set()
                for term in terms & filed.keys:
                    sure |= filed.by_key[term]
                filed = self._maybe[doc.family]
                maybe = set(self._always)
                for term in terms & filed.keys:
                    maybe |= filed.by_key[term]
                filed = self._pairs[doc.family]
                if filed.keys:
                    for pair in doc.pairs() & filed.keys:
                        maybe |= filed.by_key[pair]
                if lengths:
                    for key in doc.prefix_keys(lengths, self._beginnings) & prefixes.keys:
                        maybe |= prefixes.by_key[key]
                maybe -= sure
                candidates += len(sure) + len(maybe)
                hits = [c.id for c in sure if c.trivial or c.verify(doc, 1)]
                for c in maybe:
                    if c.trivial:  # one clause and nothing else: any option will do
                        for leaf in c.must[0]:
                            if leaf.matches(doc):
                                hits.append(c.id)
                                break
                    elif c.verify(doc, 0):
                        hits.append(c.id)
                hits.sort()
                out.extend(zip(repeat(i), hits))
                self._learn(doc)
            self.stats.versions += len(versions)
            self.stats.candidates += candidates
            self.stats.matches += len(out)
        return out
