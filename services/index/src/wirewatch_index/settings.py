"""Settings of the index service, on top of the shared ones (same WIREWATCH_ prefix)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from wirewatch_common.settings import Settings


class IndexSettings(Settings):
    """Index worker and search API settings."""

    index_elasticsearch_alias: str = Field(
        default="wirewatch-stories",
        description="Alias the Elasticsearch backend reads and writes; the index behind it is '<alias>-v<N>'.",
    )
    index_cursor_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs page cursors (never logged); unset means a random key per process.",
    )
    index_max_query_chars: int = Field(
        default=500, ge=10, le=10_000, description="Longest accepted search query, in characters."
    )
    index_stream_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often /v1/stream looks for new matching stories where nothing wakes it: "
        "an API-only replica (index_worker false), or index_stream_push false.",
    )
    index_stream_push: bool = Field(
        default=True,
        description="Wake /v1/stream connections when this process's worker writes a matching story; "
        "false: every stream searches every index_stream_interval_s.",
    )
    index_stream_fallback_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How often the live hub scans once for stories this process's worker did not write "
        "(partitions another replica consumes) and wakes the /v1/stream connections they match.",
    )
    index_stream_max: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Open /v1/stream connections per process; beyond it a new one is answered 503.",
    )
    index_writer_heap_mb: int = Field(
        default=64, ge=15, le=4096, description="Memory budget of the tantivy writer (index worker)."
    )
    index_worker: bool = Field(
        default=True, description="Run the index worker in this process; false serves the API only."
    )

    # The desk's watchlists: /v1/watchlists requests passed on to the alerts service (same origin).
    alerts_port: int = Field(
        default=8083,
        ge=1,
        le=65535,
        description="Watchlists API (alerts service).",  # the same variable the alerts service reads
    )
    index_alerts_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="Alerts API the desk's /v1/watchlists requests go to; unset: http://127.0.0.1:ALERTS_PORT.",
    )
    index_alerts_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Most seconds the alerts API may take to answer a desk request.",
    )
    index_alerts_max_bytes: int = Field(
        default=4_000_000,
        ge=1024,
        le=100_000_000,
        description="Largest alerts API answer passed on to the desk.",
    )

    @property
    def alerts_url(self) -> str:
        """The alerts API's base URL, without a trailing slash."""
        if self.index_alerts_url:
            return self.index_alerts_url.rstrip("/")
        return f"http://127.0.0.1:{self.alerts_port}"
