"""Ingest settings: the shared `Settings` plus what only ingest reads (limits, ledger, drop folder, feeds)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from wirewatch_common.netguard import AddressPolicy
from wirewatch_common.settings import Settings

from .normalize import Limits

FEED_POLICY_HINT = "WIREWATCH_INGEST_FEED_ALLOWED_NETWORKS or WIREWATCH_INGEST_FEED_ALLOW_PRIVATE"
"""The settings a refused feed address names."""


class FeedSource(BaseModel):
    """One feed to poll."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(pattern=r"^https?://", max_length=2000)
    interval_s: float = Field(default=300.0, ge=5.0)


class IngestSettings(Settings):
    """Settings of the ingest service (WIREWATCH_INGEST_*)."""

    ingest_ledger_path: Path | None = Field(
        default=None,
        description="SQLite ledger of accepted stories; defaults to DATA_DIR/ingest/ledger.sqlite3.",
    )
    ingest_max_document_bytes: int = Field(
        default=5_000_000,
        ge=1,
        description="Largest document accepted (HTTP body, drop-folder file, feed); larger is 413.",
    )
    ingest_max_headline_chars: int = Field(
        default=2000,
        ge=1,
        le=2000,
        description="Longest headline accepted; a longer one is refused, not cut.",
    )
    ingest_max_summary_chars: int = Field(
        default=10_000,
        ge=1,
        le=10_000,
        description="Longest summary accepted; a longer one is refused, not cut.",
    )
    ingest_max_paragraphs: int = Field(default=5000, ge=1, description="Most body paragraphs in one story.")
    ingest_max_paragraph_chars: int = Field(
        default=100_000, ge=1, description="Longest body paragraph accepted."
    )
    ingest_max_body_chars: int = Field(
        default=1_000_000, ge=1, description="Most body characters in one story."
    )
    ingest_max_stories_per_document: int = Field(
        default=1000,
        ge=1,
        description="Most stories (feed entries, NewsML items) in one document; more is refused.",
    )
    ingest_publish_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a request waits for the broker's confirmation before failing (503).",
    )
    ingest_republish_grace_s: float = Field(
        default=120.0,
        ge=0,
        description=(
            "A story with no index receipt this long after its last delivery is checked: re-published "
            "if the broker lost it or every stage passed it; one still waiting or in progress is left alone."
        ),
    )
    ingest_republish_interval_s: float = Field(
        default=60.0, gt=0, description="How often the ledger is checked for stories without a receipt."
    )
    ingest_republish_check_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Most seconds one broker question of the re-publish check may take; unanswered, nothing is sent.",
    )
    ingest_ledger_keep_days: float = Field(
        default=30.0,
        gt=0,
        description="Confirmed older versions leave the ledger after this long; each story's newest stays.",
    )
    ingest_confirm_alerts: bool = Field(
        default=False,
        description=(
            "Keep a version unconfirmed (re-published after the grace period) until the alerts service "
            "matched every language version too; `wirewatch up` and the compose file turn it on."
        ),
    )
    ingest_receipts_group: str = Field(
        default="wirewatch-ingest-receipts", description="Consumer group reading index receipts."
    )
    ingest_drop_dir: Path | None = Field(
        default=None,
        description="Drop folder watched for files to ingest (done/ and failed/ inside it); unset: off.",
    )
    ingest_drop_interval_s: float = Field(
        default=2.0, gt=0, description="How often the drop folder is scanned."
    )
    ingest_drop_settle_s: float = Field(
        default=2.0,
        ge=0,
        description="A dropped file is read once its size and mtime stayed unchanged this long.",
    )
    ingest_feeds: tuple[FeedSource, ...] = Field(
        default=(), description='Feeds to poll, as JSON: [{"url": "https://...", "interval_s": 300}].'
    )
    ingest_feed_timeout_s: float = Field(
        default=20.0, gt=0, description="Most seconds one feed fetch may take."
    )
    ingest_feed_max_backoff_s: float = Field(
        default=3600.0,
        gt=0,
        description="Longest wait between tries of a failing feed (backoff doubles up to it).",
    )
    ingest_feed_allow_private: bool = Field(
        default=False,
        description=(
            "Let feed URLs reach loopback, private, link-local, multicast and reserved addresses"
            " (off: only public addresses, against server-side request forgery)."
        ),
    )
    ingest_feed_allowed_networks: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description=(
            'Networks feed URLs may reach although not public, as JSON: ["10.20.0.0/16"]'
            " (e.g. an internal feed server); every address a feed host resolves to is checked."
        ),
    )

    @property
    def ledger_file(self) -> Path:
        """Where the ledger lives."""
        return self.ingest_ledger_path or self.data_dir / "ingest" / "ledger.sqlite3"

    @property
    def feed_policy(self) -> AddressPolicy:
        """Which addresses the feed poller may connect to."""
        return AddressPolicy(
            allow_private=self.ingest_feed_allow_private,
            allowed_networks=self.ingest_feed_allowed_networks,
            settings_hint=FEED_POLICY_HINT,
        )

    @property
    def limits(self) -> Limits:
        """The parsing limits."""
        return Limits(
            max_document_bytes=self.ingest_max_document_bytes,
            max_headline_chars=self.ingest_max_headline_chars,
            max_summary_chars=self.ingest_max_summary_chars,
            max_paragraphs=self.ingest_max_paragraphs,
            max_paragraph_chars=self.ingest_max_paragraph_chars,
            max_body_chars=self.ingest_max_body_chars,
            max_stories=self.ingest_max_stories_per_document,
            max_story_bytes=int(self.kafka_max_message_bytes * 0.4),
        )
