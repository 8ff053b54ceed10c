"""The pure rules of a watchlist: its query, its filters, its channels, and how a change applies."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from wirewatch_alerts.errors import InvalidWatchlist
from wirewatch_alerts.watchlists import (
    MASK,
    MAX_CHANNELS,
    WatchlistCreate,
    WatchlistPatch,
    apply_patch,
    feed_token_matches,
    name_key,
    new_watchlist,
)
from wirewatch_common.query import MAX_CLAUSES, QueryError

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SECRET = "a-webhook-secret-of-24ch"


def make(**fields):
    spec = WatchlistCreate.model_validate({"name": "Ceasefire", "query": "ceasefire"} | fields)
    return new_watchlist(spec, now=NOW, max_query_chars=500)


def errors_of(exc: ValidationError) -> list[tuple[str, str]]:
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]


def test_a_watchlist_is_made_with_a_fresh_id_and_a_feed_token_kept_only_as_a_digest():
    first, token = make()
    second, other = make()
    assert first.id != second.id and first.id.startswith("wl-") and len(first.id) == 15
    assert token != other and len(token) >= 40
    assert token not in first.stored() and feed_token_matches(first, token)
    assert not feed_token_matches(first, other)
    assert first.created_at == first.updated_at == NOW


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (" ".join(f"w{i}" for i in range(MAX_CLAUSES + 1)), f"at most {MAX_CLAUSES} words or phrases"),
        ('"' + " ".join(f"w{i}" for i in range(17)) + '"', "a phrase may have at most 16 words"),
        ("x" * 501, "longer than 500 characters"),
    ],
)
def test_a_query_search_would_refuse_is_a_bad_query_naming_the_field(query, message):
    with pytest.raises(QueryError, match=message) as refused:
        make(query=query)
    assert refused.value.code == "bad_query"
    assert refused.value.where == {"in": "body", "field": "query"}


@pytest.mark.parametrize("query", ["", "   ", "-football", '-"premier league" -cup', "!!! ?"])
def test_a_query_with_nothing_that_must_appear_needs_a_filter(query):
    with pytest.raises(InvalidWatchlist, match="would match nearly every story") as refused:
        make(query=query)
    assert refused.value.code == "invalid_watchlist"
    assert refused.value.where == {"in": "body", "field": "query"}
    watchlist, _ = make(query=query, filters={"places": ["Gaza"]})
    assert watchlist.filters.places == ("Gaza",)


def test_filters_are_normalised_deduplicated_and_bounded():
    watchlist, _ = make(
        filters={
            "languages": ["tr-TR", "TR", "ar"],
            "providers": [" Reuters ", "reuters", "AP"],
            "places": [],
        }
    )
    assert watchlist.filters.languages == ("tr", "ar")
    assert watchlist.filters.providers == ("Reuters", "AP")
    with pytest.raises(ValidationError) as refused:
        make(filters={"languages": ["not a tag!"]})
    assert errors_of(refused.value)[0][0] == "filters.languages.0"
    with pytest.raises(ValidationError) as refused:
        make(filters={"providers": [f"p{i}" for i in range(21)]})
    assert errors_of(refused.value)[0][0] == "filters.providers"
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        make(filters={"language": ["ar"]})


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "at least 1 character"),
        ("   ", "besides spaces"),
        ("a\nb", "control characters"),
        ("x" * 201, "200"),
    ],
)
def test_names_are_one_to_two_hundred_printable_characters(name, problem):
    with pytest.raises(ValidationError, match=problem):
        make(name=name)


def test_names_compare_without_case_width_or_extra_spaces():
    assert name_key("Gaza  Ceasefire") == name_key("gaza ceasefire") == name_key("ＧＡＺＡ ceasefire")
    watchlist, _ = make(name="  Ateşkes İdlib ")
    assert watchlist.name == "Ateşkes İdlib"


@pytest.mark.parametrize(
    ("channel", "field", "problem"),
    [
        ({"type": "webhook", "url": "ftp://hooks.example.org/x", "secret": SECRET}, "url", "http(s)://host"),
        (
            {"type": "webhook", "url": "https://user:pw@hooks.example.org/", "secret": SECRET},
            "url",
            "password",
        ),
        ({"type": "webhook", "url": "https://hooks.example.org:99999/", "secret": SECRET}, "url", "port"),
        ({"type": "webhook", "url": "https://hooks.example.org/", "secret": "short"}, "secret", "16 to 256"),
        (
            {"type": "webhook", "url": "https://hooks.example.org/", "secret": SECRET, "x": 1},
            "x",
            "Extra inputs",
        ),
        ({"type": "email", "to": []}, "to", "at least 1 item"),
        ({"type": "email", "to": ["not-an-address"]}, "to.0", "not an email address"),
        ({"type": "email", "to": ["desk@example.org"], "digest_minutes": 1441}, "digest_minutes", "1440"),
        ({"type": "feed", "token": "mine"}, "token", "Extra inputs"),
        ({"type": "kafka", "topic": "other"}, "topic", "Extra inputs"),
    ],
)
def test_each_channel_type_has_its_shape_and_a_wrong_one_names_the_field(channel, field, problem):
    with pytest.raises(ValidationError) as refused:
        make(channels=[channel])
    where, message = errors_of(refused.value)[0]
    assert where == f"channels.0.{channel['type']}.{field}"
    assert problem in message


def test_unknown_duplicate_or_too_many_channels_are_refused():
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        make(channels=[{"type": "sms", "to": "+90"}])
    with pytest.raises(ValidationError, match="channel 1 repeats channel 0"):
        make(channels=[{"type": "feed"}, {"type": "feed"}])
    hooks = [
        {"type": "webhook", "url": f"https://hooks.example.org/{i}", "secret": SECRET}
        for i in range(MAX_CHANNELS + 1)
    ]
    with pytest.raises(ValidationError, match=f"at most {MAX_CHANNELS} items"):
        make(channels=hooks)


def test_valid_channels_are_kept_and_secrets_shown_only_to_the_store():
    watchlist, _ = make(
        channels=[
            {"type": "webhook", "url": "HTTPS://hooks.example.org/in", "secret": SECRET},
            {"type": "email", "to": ["Desk@Example.ORG", "desk@example.org"], "digest_minutes": 15},
            {"type": "feed"},
            {"type": "kafka"},
        ]
    )
    assert [c.type for c in watchlist.channels] == ["webhook", "email", "feed", "kafka"]
    assert watchlist.channels[0].url == "https://hooks.example.org/in"
    assert watchlist.channels[1].to == ("Desk@example.org",)
    shown = watchlist.model_dump_json()
    assert SECRET not in shown and MASK in shown
    assert SECRET in watchlist.stored()


def test_a_webhook_without_its_secret_is_refused_on_creation():
    with pytest.raises(InvalidWatchlist, match="needs a secret") as refused:
        make(channels=[{"type": "feed"}, {"type": "webhook", "url": "https://hooks.example.org/"}])
    assert refused.value.where == {"in": "body", "field": "channels.1.secret"}


def test_a_patch_changes_only_what_it_names_and_keeps_a_repeated_webhooks_secret():
    hook = {"type": "webhook", "url": "https://hooks.example.org/in", "secret": SECRET}
    current, _ = make(channels=[hook], filters={"languages": ["ar"], "places": ["Gaza"]})
    later = NOW + timedelta(minutes=5)
    patch = WatchlistPatch.model_validate(
        {
            "query": "truce OR ceasefire",
            "filters": {"languages": ["tr"]},
            "channels": [{"type": "webhook", "url": "https://hooks.example.org/in"}, {"type": "feed"}],
        }
    )
    changed = apply_patch(current, patch, now=later, max_query_chars=500)
    assert changed.query == "truce OR ceasefire" and changed.name == current.name
    assert changed.filters.languages == ("tr",) and changed.filters.places == ("Gaza",)
    assert changed.channels[0].secret is not None and changed.channels[0].secret.get_secret_value() == SECRET
    assert changed.created_at == NOW and changed.updated_at == later
    assert changed.feed_token_sha256 == current.feed_token_sha256
    same = apply_patch(
        changed, WatchlistPatch(notify_updates=False), now=later + timedelta(hours=1), max_query_chars=500
    )
    assert same.updated_at == later, "nothing changed, so nothing moves"


def test_a_patch_is_checked_as_a_whole():
    current, _ = make(query="", filters={"providers": ["Reuters"]})
    with pytest.raises(InvalidWatchlist, match="would match nearly every story"):
        apply_patch(
            current,
            WatchlistPatch.model_validate({"filters": {"providers": []}}),
            now=NOW,
            max_query_chars=500,
        )
    with pytest.raises(InvalidWatchlist, match="needs a secret"):
        apply_patch(
            current,
            WatchlistPatch.model_validate(
                {"channels": [{"type": "webhook", "url": "https://new.example.org/"}]}
            ),
            now=NOW,
            max_query_chars=500,
        )
    with pytest.raises(QueryError):
        apply_patch(current, WatchlistPatch(query="x" * 600), now=NOW, max_query_chars=500)


def test_the_shared_search_language_and_the_watchlist_rules_import_no_engine_broker_or_web_framework():
    probe = (
        "import sys; import wirewatch_common.query, wirewatch_common.analysis, wirewatch_alerts.watchlists; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'tantivy', 'elasticsearch', 'kafka', 'fastapi', 'starlette', 'uvicorn', 'sqlite3', 'wirewatch_index'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
