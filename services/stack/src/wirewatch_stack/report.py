"""What `wirewatch status` shows, as pure functions: metric sums, consumer lag, the rendered report.

The figures are gathered elsewhere (status.py talks HTTP and Kafka); here they are only added up
and laid out, so every rule can be tested without a running stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def metric_sum(text: str, name: str, **labels: str) -> float | None:
    """Add up every sample of `name` whose labels include `labels`; None when the metric is absent.

    `name` is the sample name as exposed, e.g. `wirewatch_ingest_stories_total`.
    """
    total: float | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != name:
                continue
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                total = (total or 0.0) + sample.value
    return total


@dataclass(frozen=True)
class TopicLag:
    """How far one consumer group is behind on one topic, over all its partitions."""

    group: str
    topic: str
    partitions: int
    committed: int
    end: int | None
    lag: int | None
    """Messages written but not yet committed by the group; None when end offsets are unknown."""


def topic_lag(
    group: str,
    topic: str,
    partitions: int,
    committed: Mapping[tuple[str, int], int],
    end: Mapping[tuple[str, int], int] | None,
) -> TopicLag:
    """Sum a group's lag on a topic: per partition, end offset minus committed offset (0 if none yet)."""
    done = sum(committed.get((topic, p), 0) for p in range(partitions))
    if end is None:
        return TopicLag(group, topic, partitions, done, None, None)
    written = sum(end.get((topic, p), 0) for p in range(partitions))
    behind = sum(max(0, end.get((topic, p), 0) - committed.get((topic, p), 0)) for p in range(partitions))
    return TopicLag(group, topic, partitions, done, written, behind)


@dataclass(frozen=True)
class ServiceState:
    """One service as its operations endpoints describe it."""

    name: str
    url: str
    healthy: bool | None
    """None: /healthz did not answer at all."""
    ready: bool | None
    checks: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    stalls: list[dict[str, Any]] = field(default_factory=list)
    """Consumers stuck at one position, as /healthz names them (group, topic, partition, offset, error)."""

    @property
    def reachable(self) -> bool:
        """Whether anything answered."""
        return self.healthy is not None or self.ready is not None

    @property
    def ok(self) -> bool:
        """Healthy, ready, and no consumer stalled."""
        return bool(self.healthy and self.ready and not self.stalls)


@dataclass(frozen=True)
class Report:
    """Everything `wirewatch status` prints."""

    broker: str
    broker_error: str | None
    services: list[ServiceState]
    lag: list[TopicLag]
    stories: dict[str, Any]
    models: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    alerts: dict[str, Any] | None = None
    """The alerts service's /v1/alerts/status answer, or None when it did not answer."""

    @property
    def unreachable(self) -> list[str]:
        """Names of the parts that did not answer."""
        down = [s.name for s in self.services if not s.reachable]
        return (["broker"] if self.broker_error else []) + down

    @property
    def ok(self) -> bool:
        """True when the broker and every service are healthy and ready."""
        return self.broker_error is None and all(s.ok for s in self.services)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (`wirewatch status --json`)."""
        return {
            "ok": self.ok,
            "unreachable": self.unreachable,
            "broker": {"bootstrap_servers": self.broker, "error": self.broker_error},
            "services": [asdict(s) | {"reachable": s.reachable, "ok": s.ok} for s in self.services],
            "lag": [asdict(lag) for lag in self.lag],
            "stories": self.stories,
            "models": self.models,
            "alerts": self.alerts,
            "notes": self.notes,
        }


def _state_word(value: bool | None, yes: str, no: str) -> str:
    return "unreachable" if value is None else (yes if value else no)


def _count(value: Any) -> str:
    return "?" if value is None else str(int(value)) if isinstance(value, float) else str(value)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def render(report: Report) -> str:
    """Lay the report out for a terminal."""
    lines: list[str] = []
    if report.broker_error:
        lines.append(f"broker     {report.broker}: unreachable ({report.broker_error})")
    else:
        lines.append(f"broker     {report.broker}: ok")
    rows = [["service", "url", "health", "ready", "checks"]]
    for s in report.services:
        checks = ", ".join(f"{k}={v}" for k, v in s.checks.items()) or s.detail
        rows.append(
            [
                s.name,
                s.url,
                "degraded" if s.healthy and s.stalls else _state_word(s.healthy, "ok", "failing"),
                _state_word(s.ready, "ready", "not ready"),
                checks,
            ]
        )
    lines += ["", "services", *_table(rows)]
    stalled = [(s.name, x) for s in report.services for x in s.stalls]
    if stalled:
        rows = [["service", "group", "topic", "partition", "offset", "for", "last error"]]
        rows += [
            [
                name,
                str(x.get("group")),
                str(x.get("topic")),
                str(x.get("partition")),
                str(x.get("offset")),
                f"{float(x.get('seconds') or 0):.0f} s",
                str(x.get("error"))[:120],
            ]
            for name, x in stalled
        ]
        lines += ["", "STALLED (stuck at one position; see the service's log for that offset)", *_table(rows)]
    if report.lag:
        rows = [["group", "topic", "committed", "end", "lag"]]
        rows += [[x.group, x.topic, str(x.committed), _count(x.end), _count(x.lag)] for x in report.lag]
        lines += ["", "consumer lag (messages written but not yet committed)", *_table(rows)]
    stories = report.stories
    lines += ["", "stories"]
    lines.append(f"  accepted by ingest since it started: {_count(stories.get('accepted'))}")
    lines.append(
        f"  language versions indexed since index started: {_count(stories.get('indexed_versions'))}"
    )
    by_language = stories.get("searchable_by_language") or {}
    per_lang = ", ".join(f"{lang} {count}" for lang, count in sorted(by_language.items()))
    lines.append(
        f"  searchable stories: {_count(stories.get('searchable'))}"
        + (f"; with a version in {per_lang}" if per_lang else "")
    )
    lines += ["", "translation models"]
    if report.models is None:
        lines.append("  unknown (the translate API did not answer)")
    elif not report.models.get("packages"):
        lines.append("  none installed: renditions are marked unavailable (see `wirewatch models --help`)")
    else:
        for p in report.models["packages"]:
            loaded = "loaded" if p.get("loaded") else "not loaded yet"
            lines.append(f"  {p['source']}→{p['target']}  {p['package']} {p['version']}  {loaded}")
    lines += ["", "watchlists", *alerts_lines(report.alerts)]
    lines += [f"note: {n}" for n in report.notes]
    if report.unreachable:
        lines += [
            "",
            f"NOT RUNNING: {', '.join(report.unreachable)} did not answer; is `wirewatch up` running?",
        ]
    elif not report.ok:
        lines += ["", "DEGRADED: some service is not healthy, not ready or stalled (see above)"]
    return "\n".join(lines) + "\n"


def alerts_lines(alerts: dict[str, Any] | None) -> list[str]:
    """Each watchlist's last match and each delivery endpoint's backlog and failures."""
    if alerts is None:
        return ["  unknown (the alerts service did not answer)"]
    watchlists = alerts.get("watchlists") or []
    if not watchlists:
        return ["  none (add one: `wirewatch watch add NAME QUERY`)"]
    rows = [["watchlist", "name", "last match", "channel", "pending", "failed", "delivered", "last error"]]
    for w in watchlists:
        lanes = w.get("lanes") or [{}]
        for i, lane in enumerate(lanes):
            first = i == 0
            rows.append(
                [
                    str(w.get("id")) if first else "",
                    str(w.get("name"))[:30] if first else "",
                    str(w.get("last_match") or "never") if first else "",
                    str(lane.get("channel", "desk only")),
                    _count(lane.get("pending", "-")),
                    _count(lane.get("failed", "-")),
                    _count(lane.get("delivered", "-")),
                    str(lane.get("last_error") or "")[:80],
                ]
            )
    return _table(rows)


def language_counts(buckets: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Turn the search API's language facet buckets into {language: stories}."""
    return {str(b["value"]): int(b["count"]) for b in buckets if "value" in b and "count" in b}


def no_models_hint(program: str, models_dir: str, rescan_s: float | None = None) -> list[str]:
    """What `wirewatch up` says, once, when the translate service has no packages."""
    later = (
        f"translate picks new packages up within {rescan_s:.0f}s and translates the stories that waited"
        if rescan_s
        else "translate picks new packages up by itself and translates the stories that waited"
    )
    return [
        f"no translation packages in {models_dir}: stories are served in their original language "
        "and their renditions are marked `unavailable`.",
        f"  real Argos packages (needs the network):  {program} models install ar tr",
        "  test packages for a demo (offline; MEANINGLESS output):",
        f"    {program} models test-packages var/test-packages",
        f"    {program} models install --from-path var/test-packages",
        f"  {later}.",
    ]
