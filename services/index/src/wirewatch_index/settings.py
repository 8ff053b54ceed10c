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
        default=1.0, gt=0, le=60, description="How often /v1/stream looks for new matching stories."
    )
    index_writer_heap_mb: int = Field(
        default=64, ge=15, le=4096, description="Memory budget of the tantivy writer (index worker)."
    )
    index_worker: bool = Field(
        default=True, description="Run the index worker in this process; false serves the API only."
    )
