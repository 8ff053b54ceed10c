"""Settings of the alerts service, on top of the shared ones (same WIREWATCH_ prefix)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from pydantic import Field, SecretStr

from wirewatch_common.netguard import AddressPolicy
from wirewatch_common.settings import Settings

from .backoff import Backoff


class AlertsSettings(Settings):
    """Watchlist API and store settings."""

    alerts_port: int = Field(default=8083, ge=1, le=65535, description="Watchlists API (alerts service).")
    alerts_store_path: Path | None = Field(
        default=None,
        description="SQLite file of the watchlists; defaults to DATA_DIR/alerts/watchlists.sqlite3.",
    )
    alerts_max_watchlists: int = Field(
        default=50_000, ge=1, description="Most watchlists the store holds; one more is refused (409)."
    )
    alerts_max_query_chars: int = Field(
        default=500, ge=10, le=10_000, description="Longest accepted watchlist query, in characters."
    )

    alerts_worker: bool = Field(
        default=True, description="Run the matching worker in this process; false serves the API only."
    )
    alerts_group_id: str = Field(
        default="wirewatch-alerts",
        description="Consumer group of the matching worker (stories and renditions).",
    )

    @property
    def alerts_path(self) -> Path:
        """Where alerts and their deliveries live: next to the watchlists."""
        return self.watchlists_path.with_name("alerts.sqlite3")

    @property
    def watchlists_path(self) -> Path:
        """Where the watchlists live."""
        if self.alerts_store_path is not None:
            return self.alerts_store_path
        return self.data_dir / "alerts" / "watchlists.sqlite3"

    # Matching on Elasticsearch (the percolator); the cluster and its credentials are the shared
    # WIREWATCH_ELASTICSEARCH_* settings.
    alerts_percolator_index: str = Field(
        default="wirewatch-watchlists",
        max_length=255,
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="Elasticsearch index that holds the watchlists' queries for percolation.",
    )
    alerts_percolator_shards: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Primary shards of the percolator index; more spread each batch's matching over more nodes.",
    )
    alerts_percolator_page: int = Field(
        default=5000,
        ge=1,
        le=10_000,
        description="Matching watchlists read per percolate request; a batch matching more is paged.",
    )

    # Delivery (webhooks, email; the lanes of delivery.py): retries, the webhook address policy, SMTP.
    alerts_delivery_poll_s: float = Field(
        default=0.5, gt=0, le=60, description="How often the delivery worker looks for lanes with alerts due."
    )
    alerts_delivery_batch: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Most deliveries one lane takes at a time (and one digest mail holds).",
    )
    alerts_delivery_max_lanes: int = Field(
        default=256,
        ge=1,
        description="Most endpoints delivered to at once, each in its own thread; more wait for a free one.",
    )
    alerts_retry_base_s: float = Field(
        default=2.0,
        gt=0,
        description="Wait before the second try of a failed delivery; it doubles after each try.",
    )
    alerts_retry_cap_s: float = Field(
        default=600.0,
        gt=0,
        description="Longest wait between tries (a Retry-After answer is honoured up to it).",
    )
    alerts_retry_max_attempts: int = Field(
        default=0,
        ge=0,
        description="Tries before a delivery is given up as failed; 0 leaves it to the age limit.",
    )
    alerts_retry_max_age_s: float = Field(
        default=86_400.0,
        gt=0,
        description="A delivery still failing this long after it was due is given up as failed.",
    )
    alerts_webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="Most seconds one webhook POST may take, answer included."
    )
    alerts_webhook_allow_private: bool = Field(
        default=False,
        description=(
            "Let webhook URLs reach loopback, private, link-local, multicast and reserved addresses"
            " (off: only public addresses, against server-side request forgery)."
        ),
    )
    alerts_webhook_allowed_networks: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description=(
            'Networks webhook URLs may reach although not public, as JSON: ["10.20.0.0/16"]'
            " (e.g. an internal receiver); every address a webhook host resolves to is checked."
        ),
    )
    alerts_smtp_host: str | None = Field(
        default=None, description="SMTP server for email alerts; unset, email deliveries wait and retry."
    )
    alerts_smtp_port: int = Field(default=587, ge=1, le=65535, description="Port of the SMTP server.")
    alerts_smtp_starttls: bool = Field(
        default=True,
        description="Upgrade the SMTP connection with STARTTLS (certificate verified) before sending.",
    )
    alerts_smtp_from: str = Field(
        default="wirewatch@localhost", max_length=254, description="Sender address of alert mails."
    )
    alerts_smtp_username: str | None = Field(default=None, description="SMTP login; unset sends without one.")
    alerts_smtp_password: SecretStr | None = Field(default=None, description="SMTP password (never logged).")
    alerts_smtp_timeout_s: float = Field(
        default=30.0, gt=0, le=300, description="Most seconds one SMTP conversation step may take."
    )

    @property
    def webhook_policy(self) -> AddressPolicy:
        """Which addresses webhooks may be posted to."""
        return AddressPolicy(
            allow_private=self.alerts_webhook_allow_private,
            allowed_networks=self.alerts_webhook_allowed_networks,
            settings_hint="WIREWATCH_ALERTS_WEBHOOK_ALLOWED_NETWORKS or WIREWATCH_ALERTS_WEBHOOK_ALLOW_PRIVATE",
        )

    @property
    def retry_policy(self) -> Backoff:
        """When failed deliveries are tried again, and when they are given up."""
        return Backoff(
            base_s=self.alerts_retry_base_s,
            cap_s=self.alerts_retry_cap_s,
            max_attempts=self.alerts_retry_max_attempts,
            max_age_s=self.alerts_retry_max_age_s,
        )

    # Reading alerts: the desk's story links, the Atom feed, the SSE stream.
    alerts_desk_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="Desk page that alert links open (the index's `/`); unset: http://127.0.0.1:INDEX_PORT.",
    )
    alerts_feed_entries: int = Field(
        default=50, ge=1, le=500, description="Alerts in a watchlist's Atom feed, latest change first."
    )
    alerts_stream_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="How often an open alert stream reads the store for changes."
    )
    alerts_stream_heartbeat_s: float = Field(
        default=15.0, gt=0, le=300, description="Seconds without an event before a stream sends a keep-alive."
    )
    alerts_stream_max_s: float = Field(
        default=60.0,
        ge=1,
        le=86_400,
        description=(
            "An alert stream closes after this long and its client reconnects with Last-Event-ID, missing "
            "nothing; it also bounds how long an open stream keeps a stopping server waiting."
        ),
    )

    @property
    def desk_url(self) -> str:
        """The desk's base URL, without a trailing slash."""
        if self.alerts_desk_url:
            return self.alerts_desk_url.rstrip("/")
        return f"http://127.0.0.1:{self.index_port}"
