from __future__ import annotations

import io

import pytest

from wirewatch_stack.progress import ProgressBar, bar_line
from wirewatch_stack.report import (
    Report,
    ServiceState,
    alerts_lines,
    language_counts,
    metric_sum,
    no_models_hint,
    render,
    topic_lag,
)

pytestmark = pytest.mark.unit

METRICS = """# HELP wirewatch_ingest_stories_total Story versions by outcome.
# TYPE wirewatch_ingest_stories_total counter
wirewatch_ingest_stories_total{outcome="accepted"} 9.0
wirewatch_ingest_stories_total{outcome="duplicate"} 2.0
wirewatch_ingest_stories_created{outcome="accepted"} 1.7e+09
# HELP wirewatch_index_documents_total Language versions written to the backend.
# TYPE wirewatch_index_documents_total counter
wirewatch_index_documents_total{backend="tantivy"} 22.0
"""


def test_metric_sums_add_matching_samples_only():
    assert metric_sum(METRICS, "wirewatch_ingest_stories_total", outcome="accepted") == 9
    assert metric_sum(METRICS, "wirewatch_ingest_stories_total") == 11
    assert metric_sum(METRICS, "wirewatch_index_documents_total") == 22
    assert metric_sum(METRICS, "wirewatch_ingest_stories_total", outcome="failed") is None
    assert metric_sum(METRICS, "wirewatch_missing_total") is None


def test_lag_is_end_minus_committed_per_partition():
    committed = {("s", 0): 5, ("s", 1): 7}  # partition 2: nothing committed yet
    end = {("s", 0): 5, ("s", 1): 10, ("s", 2): 4}
    lag = topic_lag("g", "s", 3, committed, end)
    assert (lag.committed, lag.end, lag.lag) == (12, 19, 7)


def test_lag_is_unknown_without_end_offsets():
    lag = topic_lag("g", "s", 2, {("s", 0): 3}, None)
    assert (lag.committed, lag.end, lag.lag) == (3, None, None)


def _report(**overrides):
    fields = {
        "broker": "127.0.0.1:9092",
        "broker_error": None,
        "services": [
            ServiceState("ingest", "http://i", True, True, {"broker": "ok"}),
            ServiceState("index", "http://x", True, False, {"broker": "ok", "backend": "not ready"}),
        ],
        "lag": [topic_lag("wirewatch-index", "wirewatch.stories", 1, {("wirewatch.stories", 0): 4}, None)],
        "stories": {
            "accepted": 9.0,
            "indexed_versions": 22.0,
            "searchable": 9,
            "searchable_by_language": {"ar": 9},
        },
        "models": {"pivot": "en", "packages": []},
    }
    return Report(**(fields | overrides))


def test_a_degraded_stack_is_not_ok_and_says_which_check_fails():
    report = _report()
    text = render(report)
    assert not report.ok and report.unreachable == []
    assert "backend=not ready" in text
    assert "DEGRADED" in text
    assert "accepted by ingest since it started: 9" in text
    assert "searchable stories: 9; with a version in ar 9" in text
    assert "none installed" in text


def test_a_stack_that_is_down_names_every_part_that_did_not_answer():
    report = _report(
        broker_error="nothing accepts connections there",
        services=[ServiceState("ingest", "http://i", None, None, detail="unreachable")],
        lag=[],
        models=None,
    )
    assert report.unreachable == ["broker", "ingest"]
    assert report.to_dict()["unreachable"] == ["broker", "ingest"]
    assert "NOT RUNNING: broker, ingest did not answer" in render(report)


def test_language_facets_become_counts():
    assert language_counts([{"value": "ar", "count": 3}, {"value": "tr", "count": 1}]) == {"ar": 3, "tr": 1}


def test_the_models_hint_names_both_ways_to_get_packages():
    text = "\n".join(no_models_hint(".venv/bin/wirewatch", "var/models", 30.0))
    assert "no translation packages in var/models" in text
    assert ".venv/bin/wirewatch models install ar tr" in text
    assert ".venv/bin/wirewatch models test-packages var/test-packages" in text
    assert ".venv/bin/wirewatch models install --from-path var/test-packages" in text
    assert "within 30s" in text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_is_drawn_on_a_terminal_only():
    assert bar_line(3, 10, 1, "a.xml", width=10) == "[###.......] 3/10 (1 failed) a.xml"
    tty, pipe = _Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream, 2)
        bar.show(1, 0, "a.xml")
        bar.clear()
    assert "1/2 a.xml" in tty.getvalue() and tty.getvalue().endswith("\r\x1b[2K")
    assert pipe.getvalue() == ""


def test_status_reads_the_embedded_broker_unless_a_cluster_is_configured(monkeypatch):
    monkeypatch.delenv("WIREWATCH_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    from wirewatch_common.settings import Settings
    from wirewatch_stack.status import bootstrap_servers

    assert bootstrap_servers(Settings(_env_file=None, broker_port=19092)) == "127.0.0.1:19092"
    configured = Settings(
        _env_file=None, broker_port=19092, kafka_bootstrap_servers="kafka-1:9092,kafka-2:9092"
    )
    assert bootstrap_servers(configured) == "kafka-1:9092,kafka-2:9092"


def test_a_stalled_consumer_is_named_with_its_position_and_the_stack_is_not_ok():
    stall = {
        "group": "wirewatch-index",
        "topic": "wirewatch.renditions",
        "partition": 3,
        "offset": 118,
        "seconds": 241.7,
        "error": "tantivy write failed: datetime out of range",
        "kind": "retrying",
    }
    report = _report(services=[ServiceState("index", "http://x", True, True, {"broker": "ok"}, "", [stall])])
    text = render(report)
    assert not report.ok and report.unreachable == []
    assert "degraded" in text
    assert "STALLED" in text
    row = next(line for line in text.splitlines() if "wirewatch.renditions" in line and "118" in line)
    assert "wirewatch-index" in row and " 3 " in row and "242 s" in row and "datetime out of range" in row
    assert report.to_dict()["services"][0]["stalls"] == [stall]


def test_watchlists_show_their_last_match_and_each_lanes_backlog_and_failures():
    alerts = {
        "watchlists": [
            {
                "id": "wl-000000000001",
                "name": "Ceasefire",
                "last_match": "2026-11-30T09:00:00Z",
                "lanes": [
                    {
                        "channel": "webhook:https://hooks.example.org",
                        "pending": 3,
                        "failed": 1,
                        "delivered": 7,
                        "last_error": "HTTP 503",
                    },
                    {"channel": "kafka", "pending": 0, "failed": 0, "delivered": 10},
                ],
            },
            {"id": "wl-000000000002", "name": "Quiet", "lanes": []},
        ],
        "lanes": [],
    }
    lines = alerts_lines(alerts)
    webhook = next(line for line in lines if "webhook:" in line)
    assert "wl-000000000001" in webhook and " 3 " in webhook and "HTTP 503" in webhook
    quiet = next(line for line in lines if "Quiet" in line)
    assert "never" in quiet and "desk only" in quiet
    assert alerts_lines(None) == ["  unknown (the alerts service did not answer)"]
    assert "wirewatch watch add" in alerts_lines({"watchlists": []})[0]
