"""Watchlists: a desk's standing query, its filters, and the channels to tell when a story matches.

Pure: the shapes, and the rules of making and changing a watchlist; storage is `store.py`, HTTP is
`api.py`. The query is parsed when a watchlist is written, with the parser search uses
(`wirewatch_common.query`), so a query search would refuse is refused here with the same code
(`bad_query`), and a stored watchlist always parses.

Channels are validated now and delivered by later parts of the service: `webhook` (JSON POST signed
with HMAC-SHA256 under its `secret`), `email` (at once, or a digest every `digest_minutes`), `feed`
(Atom, read with the watchlist's feed token) and `kafka` (the `wirewatch.alerts` topic).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
import urllib.parse
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    field_serializer,
    field_validator,
)

from wirewatch_common.errors import Where
from wirewatch_common.query import ParsedQuery, QueryError, parse
from wirewatch_common.story import normalize_language, primary_language, unicode_text

from .errors import InvalidWatchlist

MAX_NAME_CHARS = 200
MAX_QUERY_CHARS = 10_000
"""Hard cap of the request model; the configured limit (`alerts_max_query_chars`) is usually lower."""
MAX_FILTER_VALUES = 20
MAX_FILTER_CHARS = 200
MAX_CHANNELS = 10
MAX_RECIPIENTS = 20
MAX_DIGEST_MINUTES = 1440
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 256
MAX_URL_CHARS = 2000
ID_PATTERN = r"^wl-[0-9a-f]{12}$"
MASK = "**********"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def _name(value: str) -> str:
    value = unicodedata.normalize("NFC", unicode_text(value).strip())
    if not value:
        msg = "a name needs at least one character besides spaces"
        raise ValueError(msg)
    if _CONTROL.search(value):
        msg = "a name may not hold control characters (line breaks, tabs)"
        raise ValueError(msg)
    return value


def _text(value: str) -> str:
    return unicode_text(value).strip()


def _language(value: str) -> str:
    return primary_language(normalize_language(value))


def _filter_value(value: str) -> str:
    value = unicode_text(value).strip()
    if not value:
        msg = "a filter value may not be empty"
        raise ValueError(msg)
    return value


def _webhook_url(value: str) -> str:
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = f"a webhook URL is http(s)://host/path; got {value!r}"
        raise ValueError(msg)
    if parts.username is not None or parts.password is not None:
        msg = "a webhook URL may not carry a user or password (they would be shown to every reader); use the secret"
        raise ValueError(msg)
    if parts.fragment:
        msg = "a webhook URL may not have a #fragment"
        raise ValueError(msg)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port outside 0-65535
    except ValueError:
        msg = f"the port of webhook URL {value!r} is not a number from 1 to 65535"
        raise ValueError(msg) from None
    return urllib.parse.urlunsplit(parts._replace(scheme=parts.scheme.lower()))


def _secret(value: Any) -> Any:
    if isinstance(value, str) and not MIN_SECRET_CHARS <= len(value) <= MAX_SECRET_CHARS:
        msg = f"a webhook secret has {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters; this one has {len(value)}"
        raise ValueError(msg)
    return value


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        msg = f"{value!r} is not an email address such as desk@example.org"
        raise ValueError(msg)
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(_name)]
QueryText = Annotated[str, Field(max_length=MAX_QUERY_CHARS), AfterValidator(_text)]
Language = Annotated[str, Field(max_length=35), AfterValidator(_language)]
FilterValue = Annotated[str, Field(min_length=1, max_length=MAX_FILTER_CHARS), AfterValidator(_filter_value)]
EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(_email)]


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    """Keep the first of values that are equal without case (`Reuters`, `reuters`)."""
    seen: set[str] = set()
    kept = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return tuple(kept)


class Filters(BaseModel):
    """Only language versions, providers and places named here match; an empty list means any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: tuple[Language, ...] = Field(
        default=(),
        max_length=MAX_FILTER_VALUES,
        description="Language versions that may match, as BCP 47 primary subtags (`tr-TR` is kept as `tr`).",
        examples=[["ar", "tr"]],
    )
    providers: tuple[FilterValue, ...] = Field(
        default=(),
        max_length=MAX_FILTER_VALUES,
        description="Provider or source names.",
        examples=[["Reuters"]],
    )
    places: tuple[FilterValue, ...] = Field(
        default=(),
        max_length=MAX_FILTER_VALUES,
        description="Dateline place names or codes.",
        examples=[["SY"]],
    )

    @field_validator("languages", "providers", "places")
    @classmethod
    def dedupe(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        """Name each value once."""
        return _unique(values)

    @property
    def any(self) -> bool:
        """Tell whether any filter narrows the watchlist."""
        return bool(self.languages or self.providers or self.places)


class FiltersPatch(BaseModel):
    """New values for some filters: a list replaces that filter (`[]` clears it), an absent one stays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: tuple[Language, ...] | None = Field(default=None, max_length=MAX_FILTER_VALUES)
    providers: tuple[FilterValue, ...] | None = Field(default=None, max_length=MAX_FILTER_VALUES)
    places: tuple[FilterValue, ...] | None = Field(default=None, max_length=MAX_FILTER_VALUES)


class WebhookChannel(BaseModel):
    """POST each alert as JSON to `url`, signed with HMAC-SHA256 under `secret`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook"]
    url: Annotated[str, Field(max_length=MAX_URL_CHARS), AfterValidator(_webhook_url)] = Field(
        description="http(s) address that receives the alerts.",
        examples=["https://hooks.example.org/wirewatch"],
    )
    secret: Annotated[SecretStr, BeforeValidator(_secret)] | None = Field(
        default=None,
        # No minLength in the schema: answers show the masked value, which is shorter.
        description=(
            f"Signing key, {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters; required when the URL is new to the "
            f"watchlist, kept when a change repeats the URL without it. Always shown as {MASK}."
        ),
        examples=["a-long-random-shared-secret"],
    )

    @field_serializer("secret", when_used="json")
    def _reveal(self, secret: SecretStr | None, info: SerializationInfo) -> str | None:
        """Mask the secret in every JSON answer; only the store asks for it in the clear."""
        if secret is None:
            return None
        context = info.context if isinstance(info.context, dict) else {}
        return secret.get_secret_value() if context.get("reveal_secrets") else MASK


class EmailChannel(BaseModel):
    """Mail alerts to `to`, each at once (`digest_minutes` 0) or gathered into a digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["email"]
    to: tuple[EmailAddress, ...] = Field(
        min_length=1, max_length=MAX_RECIPIENTS, description="Recipients.", examples=[["desk@example.org"]]
    )
    digest_minutes: int = Field(
        default=0,
        ge=0,
        le=MAX_DIGEST_MINUTES,
        description="0 sends each alert at once; N gathers the alerts of N minutes into one mail.",
    )

    @field_validator("to")
    @classmethod
    def dedupe(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        """Name each recipient once."""
        return _unique(values)


class FeedChannel(BaseModel):
    """Keep the alerts as an Atom feed, read with the reader key or the watchlist's feed token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["feed"]


class KafkaChannel(BaseModel):
    """Publish the alerts on the `wirewatch.alerts` topic, keyed by watchlist id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["kafka"]


Channel = Annotated[WebhookChannel | EmailChannel | FeedChannel | KafkaChannel, Field(discriminator="type")]


def _channel_identity(channel: WebhookChannel | EmailChannel | FeedChannel | KafkaChannel) -> tuple[Any, ...]:
    if isinstance(channel, WebhookChannel):
        return ("webhook", channel.url)
    if isinstance(channel, EmailChannel):
        return ("email", tuple(sorted(channel.to)), channel.digest_minutes)
    return (channel.type,)


def _distinct_channels(channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
    seen: dict[tuple[Any, ...], int] = {}
    for number, channel in enumerate(channels):
        identity = _channel_identity(channel)
        if identity in seen:
            msg = (
                f"channel {number} repeats channel {seen[identity]} ({channel.type}); name each channel once"
            )
            raise ValueError(msg)
        seen[identity] = number
    return channels


Channels = Annotated[tuple[Channel, ...], Field(max_length=MAX_CHANNELS), AfterValidator(_distinct_channels)]


class WatchlistCreate(BaseModel):
    """A new watchlist: what to look for, where, and whom to tell."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Ceasefire talks",
                    "query": '"ceasefire talks" OR truce -football',
                    "filters": {"languages": [], "providers": [], "places": ["Gaza"]},
                    "channels": [
                        {"type": "webhook", "url": "https://hooks.example.org/wirewatch", "secret": "x" * 24},
                        {"type": "email", "to": ["desk@example.org"], "digest_minutes": 15},
                        {"type": "feed"},
                    ],
                    "notify_updates": False,
                }
            ]
        },
    )

    name: Name = Field(description="Shown on the desk; unique without regard to case.")
    query: QueryText = Field(
        default="",
        description=(
            'Desk syntax, as in search: words, "exact phrases", OR, -exclude, prefix*, headline: or body:. '
            "Empty only with at least one filter."
        ),
    )
    filters: Filters = Field(default_factory=Filters)
    channels: Channels = Field(default=(), description="Where alerts go; none keeps them on the desk only.")
    notify_updates: bool = Field(
        default=False,
        description="Notify again when a new version of an already matched story still matches.",
    )


class WatchlistPatch(BaseModel):
    """Fields to change; an absent (or null) field stays as it is, `channels` is replaced as a whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"query": "ceasefire OR truce", "filters": {"languages": ["ar", "tr"]}}]
        },
    )

    name: Name | None = None
    query: QueryText | None = None
    filters: FiltersPatch | None = None
    channels: Channels | None = None
    notify_updates: bool | None = None


class Watchlist(BaseModel):
    """A stored watchlist; `feed_token_sha256` is the digest of its feed token, never the token."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=ID_PATTERN, examples=["wl-3f9a0c2b7d41"])
    name: str
    query: str
    filters: Filters
    channels: tuple[Channel, ...]
    notify_updates: bool
    created_at: AwareDatetime
    updated_at: AwareDatetime
    feed_token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @property
    def name_key(self) -> str:
        """The name as uniqueness sees it."""
        return name_key(self.name)

    def stored(self) -> str:
        """JSON for the store, webhook secrets in the clear (they sign deliveries)."""
        return self.model_dump_json(context={"reveal_secrets": True})


def name_key(name: str) -> str:
    """Fold a name for uniqueness: compatibility forms, case and runs of spaces do not tell names apart."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def new_id() -> str:
    """A fresh watchlist id: `wl-` and 12 hex digits (48 random bits)."""
    return "wl-" + secrets.token_hex(6)


def token_digest(token: str) -> str:
    """The SHA-256 of a feed token, as stored (the token has 256 random bits: no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_token_matches(watchlist: Watchlist, token: str) -> bool:
    """Tell whether `token` is this watchlist's feed token, in constant time."""
    return hmac.compare_digest(token_digest(token), watchlist.feed_token_sha256)


QUERY_FIELD: Where = {"in": "body", "field": "query"}


def check_query(text: str, max_chars: int) -> ParsedQuery:
    """Parse a watchlist query as search would; raise QueryError (naming the body's `query`) if refused."""
    if len(text) > max_chars:
        msg = f"the query is longer than {max_chars} characters"
        raise QueryError(msg, where=QUERY_FIELD)
    try:
        return parse(text)
    except QueryError as exc:
        raise QueryError(exc.message, where=QUERY_FIELD) from None


def problems(watchlist: Watchlist, parsed: ParsedQuery) -> list[tuple[str, Where]]:
    """What keeps a watchlist from working, with where: empty if it can be stored."""
    found: list[tuple[str, Where]] = []
    if not parsed.must and not watchlist.filters.any:
        what = (
            f"the query {watchlist.query!r} has no word or phrase that must appear"
            if watchlist.query
            else ("the query is empty")
        )
        found.append(
            (
                f"{what} and no filter narrows it, so it would match nearly every story: give a word or "
                "phrase to look for, or at least one filter (languages, providers, places)",
                QUERY_FIELD,
            )
        )
    for number, channel in enumerate(watchlist.channels):
        if isinstance(channel, WebhookChannel) and channel.secret is None:
            found.append(
                (
                    f"webhook {channel.url} needs a secret of at least {MIN_SECRET_CHARS} characters to sign "
                    "its deliveries",
                    {"in": "body", "field": f"channels.{number}.secret"},
                )
            )
    return found


def new_watchlist(spec: WatchlistCreate, *, now: datetime, max_query_chars: int) -> tuple[Watchlist, str]:
    """Make a watchlist from a request; returns it and its feed token (the only time the token is seen).

    Raises QueryError for a query search would refuse, and `errors.InvalidWatchlist` (via `ensure_valid`)
    for one that cannot work.
    """
    parsed = check_query(spec.query, max_query_chars)
    token = secrets.token_urlsafe(32)
    watchlist = Watchlist(
        id=new_id(),
        name=spec.name,
        query=spec.query,
        filters=spec.filters,
        channels=spec.channels,
        notify_updates=spec.notify_updates,
        created_at=now,
        updated_at=now,
        feed_token_sha256=token_digest(token),
    )
    ensure_valid(watchlist, parsed)
    return watchlist, token


def _keep_secrets(
    channels: tuple[Channel, ...], current: tuple[Channel, ...]
) -> tuple[WebhookChannel | EmailChannel | FeedChannel | KafkaChannel, ...]:
    """Give a webhook named without its secret the secret it already has under the same URL."""
    known = {c.url: c.secret for c in current if isinstance(c, WebhookChannel) and c.secret is not None}
    return tuple(
        c.model_copy(update={"secret": known[c.url]})
        if isinstance(c, WebhookChannel) and c.secret is None and c.url in known
        else c
        for c in channels
    )


def apply_patch(
    current: Watchlist, patch: WatchlistPatch, *, now: datetime, max_query_chars: int
) -> Watchlist:
    """Return the watchlist with the patch's fields changed; `updated_at` moves only if something did.

    The result is checked as a whole (a patch clearing the filters of a watchlist without query
    words is refused), and a new query is parsed as on creation.
    """
    changes: dict[str, Any] = {}
    if patch.name is not None:
        changes["name"] = patch.name
    if patch.query is not None:
        check_query(patch.query, max_query_chars)
        changes["query"] = patch.query
    if patch.filters is not None:
        given = {k: v for k, v in patch.filters.model_dump().items() if v is not None}
        changes["filters"] = Filters.model_validate(current.filters.model_dump() | given)
    if patch.channels is not None:
        changes["channels"] = _keep_secrets(patch.channels, current.channels)
    if patch.notify_updates is not None:
        changes["notify_updates"] = patch.notify_updates
    changed = current.model_copy(update=changes)
    if changed == current:
        return current
    changed = changed.model_copy(update={"updated_at": now})
    ensure_valid(changed, parse(changed.query))
    return changed


def ensure_valid(watchlist: Watchlist, parsed: ParsedQuery) -> None:
    """Raise InvalidWatchlist naming the first problem, if the watchlist cannot work."""
    found = problems(watchlist, parsed)
    if found:
        message, where = found[0]
        raise InvalidWatchlist(message, where=where)
