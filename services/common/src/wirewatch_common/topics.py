"""The topic contract, read from topics.yaml (deploy/kafka/topics.yaml), and the headers every message carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .story import SCHEMA_VERSION, Receipt, Story

CONTENT_TYPE = b"application/json; charset=utf-8"
H_SCHEMA = "wirewatch-schema-version"
H_CONTENT_TYPE = "content-type"
H_STORY_VERSION = "wirewatch-story-version"
H_LANGUAGE = "wirewatch-language"
H_EMBARGOED = "wirewatch-embargoed"

Headers = list[tuple[str, bytes]]


ROLES = ("stories", "renditions", "receipts", "alerts", "deadletter")
"""Every topic the contract must name."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the contract declares it."""

    role: str
    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"
    description: str = ""
    value: str = "story"
    extra_headers: dict[str, str] = field(default_factory=dict)

    def configs(self) -> dict[str, str]:
        """Topic-level configs for CreateTopics."""
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


@dataclass(frozen=True)
class TopicContract:
    """All topics plus the documented headers."""

    topics: dict[str, TopicSpec]
    headers: dict[str, str]

    @property
    def stories(self) -> TopicSpec:
        """Originals as ingested."""
        return self.topics["stories"]

    @property
    def renditions(self) -> TopicSpec:
        """Translations."""
        return self.topics["renditions"]

    @property
    def receipts(self) -> TopicSpec:
        """Index receipts."""
        return self.topics["receipts"]

    @property
    def alerts(self) -> TopicSpec:
        """Alert events of watchlists with the kafka channel."""
        return self.topics["alerts"]

    @property
    def deadletter(self) -> TopicSpec:
        """Messages consumers gave up on."""
        return self.topics["deadletter"]


def parse_contract(doc: dict[str, Any]) -> TopicContract:
    """Build the contract from the parsed YAML, failing loudly on a missing role or field."""
    topics = {}
    for role in ROLES:
        spec = doc["topics"].get(role)
        if spec is None:
            msg = f"topics.yaml has no {role!r} topic"
            raise ValueError(msg)
        topics[role] = TopicSpec(role=role, **spec)
    return TopicContract(topics=topics, headers=dict(doc.get("headers", {})))


def load_contract(path: Path | None = None) -> TopicContract:
    """Read the contract shipped with the package, or another file for a test or a cluster."""
    text = path.read_text() if path else resources.files(__package__).joinpath("topics.yaml").read_text()
    return parse_contract(yaml.safe_load(text))


def message_headers(version: int, language: str) -> Headers:
    """The contract's headers for a message about one story version in one language."""
    return [
        (H_SCHEMA, str(SCHEMA_VERSION).encode()),
        (H_CONTENT_TYPE, CONTENT_TYPE),
        (H_STORY_VERSION, str(version).encode()),
        (H_LANGUAGE, language.encode()),
    ]


def story_headers(story: Story) -> Headers:
    """Headers for a story or rendition message; an embargoed one says until when, so no consumer must parse."""
    headers = message_headers(story.version, story.language)
    if story.embargoed is not None:
        headers.append((H_EMBARGOED, story.embargoed.isoformat().encode()))
    return headers


def receipt_headers(receipt: Receipt) -> Headers:
    """Headers for a receipt message."""
    return message_headers(receipt.version, receipt.language)
