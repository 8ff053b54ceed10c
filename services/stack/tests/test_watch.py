"""`wirewatch watch add|list|remove` against a real alerts API, and where `wirewatch up` finds the service."""

from __future__ import annotations

import json

import pytest

from wirewatch_alerts.bootstrap import build
from wirewatch_alerts.settings import AlertsSettings
from wirewatch_common.broker import free_port
from wirewatch_common.settings import Settings
from wirewatch_stack.cli import main
from wirewatch_stack.supervisor import installed_services, service_port
from wirewatch_testkit.servers import serving

READER = "reader-key-0123456789"
WRITER = "writer-key-0123456789"


@pytest.fixture
def alerts(tmp_path):
    """The alerts app served on a real loopback port, with keys; yields (base URL, service)."""
    settings = AlertsSettings(
        _env_file=None, data_dir=tmp_path, api_keys=f"reader:{READER},writer:{WRITER}", alerts_worker=False
    )
    service = build(settings)
    with serving(service.app) as (host, port):
        yield f"http://{host}:{port}", service


@pytest.mark.integration
def test_watch_add_list_remove_round_trip(alerts, capsys):
    url, service = alerts
    code = main(
        [
            "watch", "add", "Quakes", "deprem OR earthquake",
            "--lang", "tr", "--lang", "en", "--place", "Hatay",
            "--webhook", "https://hooks.example.org/q", "--notify-updates",
            "--url", url, "--api-key", WRITER,
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    (stored,) = service.store.all()
    assert f"created {stored.id}  Quakes" in out
    secret = stored.channels[0].secret.get_secret_value()
    assert f"webhook secret for https://hooks.example.org/q (shown once, keep it): {secret}" in out
    token = out.split("feed token (shown once, keep it): ")[1].split()[0]
    assert stored.filters.languages == ("tr", "en") and stored.filters.places == ("Hatay",)
    assert stored.notify_updates and stored.query == "deprem OR earthquake"

    assert main(["watch", "add", "Turkish wire", "--lang", "tr", "--url", url, "--api-key", WRITER]) == 0
    capsys.readouterr()
    assert main(["watch", "list", "--url", url, "--api-key", READER]) == 0
    table = capsys.readouterr().out
    assert table.startswith("2 watchlists\n")
    assert f"{stored.id}  Quakes" in table and "lang=tr,en place=Hatay  [webhook]  +updates" in table
    assert "[desk only]" in table
    assert secret not in table and token not in table
    assert main(["watch", "list", "--json", "--url", url, "--api-key", READER]) == 0
    assert [w["name"] for w in json.loads(capsys.readouterr().out)] == ["Quakes", "Turkish wire"]

    assert main(["watch", "remove", stored.id, "--url", url, "--api-key", WRITER]) == 0
    assert capsys.readouterr().out == f"removed {stored.id}\n"
    assert [w.name for w in service.store.all()] == ["Turkish wire"]


@pytest.mark.integration
def test_watch_reports_what_the_api_refused_and_exits_1(alerts, capsys):
    url, _ = alerts
    assert main(["watch", "add", "Everything", "--url", url, "--api-key", WRITER]) == 1
    err = capsys.readouterr().err
    assert "alerts API answered HTTP 422" in err and "would match nearly every story" in err
    assert "(in body, field query)" in err
    assert main(["watch", "add", "Quakes", "deprem", "--url", url, "--api-key", READER]) == 1
    assert "HTTP 403" in capsys.readouterr().err
    assert main(["watch", "remove", "wl-000000000000", "--url", url, "--api-key", WRITER]) == 1
    err = capsys.readouterr().err
    assert "HTTP 404" in err and "no watchlist 'wl-000000000000'" in err
    short = ["--webhook", "https://hooks.example.org/", "--webhook-secret", "short"]
    assert main(["watch", "add", "Hooked", "deprem", *short, "--url", url, "--api-key", WRITER]) == 1
    assert "16 to 256 characters" in capsys.readouterr().err


@pytest.mark.unit
def test_watch_says_plainly_when_nothing_answers(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["watch", "list", "--url", url]) == 1
    err = capsys.readouterr().err
    assert f"alerts API unreachable at {url}" in err and "is `wirewatch up` running?" in err


@pytest.mark.unit
def test_the_alerts_service_is_started_last_on_its_own_port(monkeypatch):
    monkeypatch.setenv("WIREWATCH_ALERTS_PORT", "18383")
    settings = Settings(_env_file=None, host="127.0.0.1", index_port=18080)
    specs = {spec.name: spec for spec in installed_services(settings)}
    assert list(specs)[-1] == "alerts" and list(specs)[:3] == ["ingest", "translate", "index"]
    assert specs["alerts"].url == "http://127.0.0.1:18383"
    assert specs["alerts"].argv[1:] == ["-m", "wirewatch_alerts"]
    assert specs["index"].url == "http://127.0.0.1:18080"
    own = AlertsSettings(_env_file=None, alerts_port=18484)
    assert service_port(own, "alerts") == 18484, "a settings object that has the field is read first"
    assert service_port(settings, "nothing-installed") is None
