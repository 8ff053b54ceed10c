"""Settings of the alerts service, on top of the shared ones (same WIREWATCH_ prefix)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from wirewatch_common.settings import Settings


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

    @property
    def watchlists_path(self) -> Path:
        """Where the watchlists live."""
        if self.alerts_store_path is not None:
            return self.alerts_store_path
        return self.data_dir / "alerts" / "watchlists.sqlite3"
