"""Client settings: connection, the broker's kind (tansu or Kafka), group timing, producer defaults."""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient

from ..clusters import TANSU_CLUSTER_IDS
from ..settings import Settings


def client_config(settings: Settings) -> dict[str, Any]:
    """Connection settings shared by producers, consumers and the admin client."""
    config: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()],
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            config["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(settings, f"kafka_{name}")
        if value is not None:
            config[name] = str(value)
    return config


EMBEDDED_SESSION_TIMEOUT_MS = 6_000
"""On tansu: a member that died is replaced within seconds (the broker's minimum by default)."""
CLUSTER_SESSION_TIMEOUT_MS = 45_000
"""On a Kafka cluster: Kafka's own default, which rides out a GC pause or a short network cut."""


def is_tansu(config: dict[str, Any], timeout_ms: int = 10_000) -> bool:
    """Ask the cluster its id: tansu (embedded or standalone) needs shorter timeouts and a lag fix."""
    admin = KafkaAdminClient(**config, request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
    try:
        return str(admin.describe_cluster().get("cluster_id")) in TANSU_CLUSTER_IDS
    finally:
        admin.close()


def group_timing(settings: Settings, *, tansu: bool | None = None) -> dict[str, int]:
    """A consumer's session timeout and heartbeat: the setting if given, else one fit for the broker."""
    session = settings.kafka_session_timeout_ms
    if session is None:
        if tansu is None:
            tansu = is_tansu(client_config(settings))
        session = EMBEDDED_SESSION_TIMEOUT_MS if tansu else CLUSTER_SESSION_TIMEOUT_MS
    return {"session_timeout_ms": session, "heartbeat_interval_ms": max(500, session // 3)}


PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "compression_type": "gzip",
    "linger_ms": 5,
    "delivery_timeout_ms": 60_000,
}
"""Durable by default: every in-sync replica confirms, retries cannot duplicate or reorder."""
