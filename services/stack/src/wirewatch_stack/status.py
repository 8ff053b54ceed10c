"""Gather `wirewatch status`: each service's operations endpoints, the consumer groups' offsets, the counts.

Everything is read from what the services already expose (/healthz, /readyz, /metrics, the
translate API's /v1/models, the search API's facets) and from the broker's committed offsets;
nothing here changes state.
"""

from __future__ import annotations

import importlib
import json
import logging
import socket
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from wirewatch_common.bus import Admin, client_config
from wirewatch_common.settings import Settings
from wirewatch_common.topics import load_contract

from .client import Unreachable, call
from .report import Report, ServiceState, TopicLag, language_counts, metric_sum, topic_lag
from .supervisor import ServiceSpec

log = logging.getLogger(__name__)

DEFAULT_GROUPS = {
    "translate": (
        "wirewatch_translate.settings",
        "TranslateSettings",
        "translate_group_id",
        "wirewatch-translate",
    ),
    "index": ("wirewatch_index.settings", "IndexSettings", "index_group_id", "wirewatch-index"),
    "alerts": ("wirewatch_alerts.settings", "AlertsSettings", "alerts_group_id", "wirewatch-alerts"),
    "ingest": (
        "wirewatch_ingest.settings",
        "IngestSettings",
        "ingest_receipts_group",
        "wirewatch-ingest-receipts",
    ),
}
"""Where each service's consumer-group name is set, and its default when the service is not installed here."""


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def service_state(spec: ServiceSpec, api_key: str | None, timeout: float = 3.0) -> ServiceState:
    """Ask one service's /healthz and /readyz."""
    url = spec.url or ""
    try:
        health_answer = call(f"{url}/healthz", timeout=timeout, api_key=api_key)
    except Unreachable as exc:
        return ServiceState(spec.name, url, None, None, detail=f"unreachable: {exc}")
    health_code = health_answer.status
    try:
        ready_answer = call(f"{url}/readyz", timeout=timeout, api_key=api_key)
    except Unreachable as exc:
        return ServiceState(spec.name, url, health_code == 200, None, detail=f"readyz unreachable: {exc}")
    ready_code = ready_answer.status
    health = _json(health_answer.body)
    ready = _json(ready_answer.body)
    checks = {str(k): str(v) for k, v in (ready.get("checks") or {}).items()}
    failing = health.get("workers") or {}
    detail = "; ".join(f"worker {k}: {v}" for k, v in failing.items()) if isinstance(failing, dict) else ""
    stalls = [x for x in health.get("stalls") or [] if isinstance(x, dict)]
    return ServiceState(spec.name, url, health_code == 200, ready_code == 200, checks, detail, stalls)


def bootstrap_servers(settings: Settings) -> str:
    """The cluster to read offsets from: the one configured, else the embedded broker's port."""
    if "kafka_bootstrap_servers" in settings.model_fields_set:
        return settings.kafka_bootstrap_servers
    return f"{settings.host}:{settings.broker_port}"


def group_names() -> dict[str, str]:
    """Each service's consumer group, read from its settings (environment) when it is installed."""
    names = {}
    for service, (module_name, class_name, field, default) in DEFAULT_GROUPS.items():
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except ModuleNotFoundError:
            names[service] = default
            continue
        names[service] = str(getattr(cls(), field))
    return names


def _accepts(server: str) -> bool:
    """Try a plain TCP connect first: the Kafka client retries a refused broker for its whole timeout."""
    host, _, port = server.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def consumer_lag(settings: Settings, timeout_ms: int = 3000) -> tuple[list[TopicLag], str | None, list[str]]:
    """Committed and end offsets of every wirewatch consumer group; returns (lags, broker error, notes)."""
    contract = load_contract()
    groups = group_names()
    subscriptions = [
        (groups["translate"], (contract.stories.name,)),
        (groups["index"], (contract.stories.name, contract.renditions.name)),
        (groups["alerts"], (contract.stories.name, contract.renditions.name)),
        (groups["ingest"], (contract.receipts.name,)),
    ]
    servers = [s.strip() for s in bootstrap_servers(settings).split(",") if s.strip()]
    if not any(_accepts(server) for server in servers):
        return [], "nothing accepts connections there", []
    config = client_config(settings) | {"bootstrap_servers": servers}
    try:
        admin = Admin(config, request_timeout_ms=timeout_ms)
    except Exception as exc:  # noqa: BLE001 - kafka-python raises several types for an absent broker
        return [], f"{type(exc).__name__}: {exc}"[:300], []
    notes: list[str] = []
    try:
        if not admin.ping():
            return [], "no answer to a metadata request", []
        partitions = admin.topic_partitions()
        topics = sorted({t for _, names in subscriptions for t in names})
        end: Mapping[tuple[str, int], int] | None = None
        end_offsets: Callable[[list[str]], Mapping[tuple[str, int], int]] | None = getattr(
            admin, "end_offsets", None
        )
        if end_offsets is None:
            notes.append("lag needs Admin.end_offsets in wirewatch_common.bus; committed offsets only")
        else:
            end = end_offsets(topics)
        lags = []
        for group, names in subscriptions:
            committed = admin.committed_offsets(group)
            lags += [topic_lag(group, t, partitions.get(t, 0), committed, end) for t in names]
        return lags, None, notes
    except Exception as exc:  # noqa: BLE001 - reported as the broker's state, never raised at the operator
        return [], f"{type(exc).__name__}: {exc}"[:300], notes
    finally:
        admin.close()


def _metrics(spec: ServiceSpec | None, api_key: str | None, timeout: float) -> str | None:
    if spec is None or spec.url is None:
        return None
    try:
        answer = call(f"{spec.url}/metrics", timeout=timeout, api_key=api_key)
    except Unreachable:
        return None
    return answer.body.decode("utf-8", "replace") if answer.status == 200 else None


def story_counts(
    specs: Mapping[str, ServiceSpec], api_key: str | None, timeout: float = 5.0
) -> dict[str, Any]:
    """Stories accepted (ingest metrics), language versions indexed (index metrics), searchable (search API)."""
    counts: dict[str, Any] = {"accepted": None, "indexed_versions": None, "searchable": None}
    ingest = _metrics(specs.get("ingest"), api_key, timeout)
    if ingest is not None:
        counts["accepted"] = metric_sum(ingest, "wirewatch_ingest_stories_total", outcome="accepted")
        counts["duplicates"] = metric_sum(ingest, "wirewatch_ingest_duplicates_total")
    index_spec = specs.get("index")
    index = _metrics(index_spec, api_key, timeout)
    if index is not None:
        counts["indexed_versions"] = metric_sum(index, "wirewatch_index_documents_total")
    if index_spec is not None and index_spec.url is not None:
        query = urllib.parse.urlencode({"q": "", "size": 1, "facets": "true", "facet_size": 50})
        try:
            search = call(f"{index_spec.url}/v1/search?{query}", timeout=timeout, api_key=api_key)
        except Unreachable:
            search = None
        if search is not None and search.status == 200:
            answer = _json(search.body)
            counts["searchable"] = answer.get("total")
            facets = answer.get("facets") or {}
            counts["searchable_by_language"] = language_counts(facets.get("language") or [])
    return counts


def installed_models(
    spec: ServiceSpec | None, api_key: str | None, timeout: float = 5.0
) -> dict[str, Any] | None:
    """The translate API's /v1/models answer, or None when it does not answer."""
    if spec is None or spec.url is None:
        return None
    try:
        answer = call(f"{spec.url}/v1/models", timeout=timeout, api_key=api_key)
    except Unreachable:
        return None
    return _json(answer.body) if answer.status == 200 else None


def alerts_status(
    spec: ServiceSpec | None, api_key: str | None, timeout: float = 5.0
) -> dict[str, Any] | None:
    """The alerts service's matching and delivery state, or None when it does not answer."""
    if spec is None or spec.url is None:
        return None
    try:
        answer = call(f"{spec.url}/v1/alerts/status", timeout=timeout, api_key=api_key)
    except Unreachable:
        return None
    return _json(answer.body) if answer.status == 200 else None


def collect(settings: Settings, specs: list[ServiceSpec], api_key: str | None) -> Report:
    """Gather the whole report; never raises for a part that is down."""
    by_name = {s.name: s for s in specs}
    services = [service_state(s, api_key) for s in specs if s.url]
    lags, broker_error, notes = consumer_lag(settings)
    return Report(
        broker=bootstrap_servers(settings),
        broker_error=broker_error,
        services=services,
        lag=lags,
        stories=story_counts(by_name, api_key),
        models=installed_models(by_name.get("translate"), api_key),
        notes=notes,
        alerts=alerts_status(by_name.get("alerts"), api_key),
    )
