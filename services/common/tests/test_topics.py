from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wirewatch_common.topics import ROLES, load_contract, parse_contract, story_headers

pytestmark = pytest.mark.unit

DEPLOY_YAML = Path(__file__).resolve().parents[3] / "deploy" / "kafka" / "topics.yaml"


def test_packaged_contract_is_the_deploy_file():
    assert load_contract() == load_contract(DEPLOY_YAML)


def test_contract_names_every_role_and_a_dead_letter_topic():
    contract = load_contract()
    names = {spec.name for spec in contract.topics.values()}
    assert len(names) == len(ROLES) == 5
    assert contract.deadletter.name in names
    assert all(spec.partitions >= 1 and spec.retention_ms > 0 for spec in contract.topics.values())
    assert contract.stories.configs()["retention.ms"] == str(contract.stories.retention_ms)


def test_missing_role_is_a_clear_error():
    doc = yaml.safe_load(DEPLOY_YAML.read_text())
    del doc["topics"]["receipts"]
    with pytest.raises(ValueError, match="no 'receipts' topic"):
        parse_contract(doc)


def test_story_headers_are_the_documented_ones(make_story):
    contract = load_contract()
    headers = dict(story_headers(make_story(version=4, language="tr")))
    assert set(headers) <= set(contract.headers)
    assert headers["wirewatch-story-version"] == b"4"
    assert headers["wirewatch-language"] == b"tr"
    assert headers["content-type"].startswith(b"application/json")


def test_an_embargoed_story_says_until_when_in_a_documented_header(make_story):
    from datetime import UTC, datetime

    contract = load_contract()
    until = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    headers = dict(story_headers(make_story().model_copy(update={"embargoed": until})))
    assert "wirewatch-embargoed" in contract.headers
    assert datetime.fromisoformat(headers["wirewatch-embargoed"].decode()) == until
    assert "wirewatch-embargoed" not in dict(story_headers(make_story()))
