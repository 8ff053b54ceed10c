from __future__ import annotations

import json
import os

import pytest
from pydantic import ValidationError

from wirewatch_common.bus import client_config
from wirewatch_common.settings import Settings

pytestmark = pytest.mark.unit


def test_defaults_are_loopback_ports(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("WIREWATCH_"):
            monkeypatch.delenv(name)
    s = Settings(_env_file=None)
    assert (s.broker_port, s.index_port, s.ingest_port, s.translate_port) == (9092, 8080, 8081, 8082)
    assert s.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert s.host == "127.0.0.1"
    assert s.models_path == s.data_dir / "models"


def test_environment_with_prefix_wins(monkeypatch):
    monkeypatch.setenv("WIREWATCH_INDEX_PORT", "9999")
    monkeypatch.setenv("WIREWATCH_KAFKA_BOOTSTRAP_SERVERS", "a:1, b:2")
    s = Settings(_env_file=None)
    assert s.index_port == 9999
    assert client_config(s)["bootstrap_servers"] == ["a:1", "b:2"]


def test_dotenv_file_is_read(tmp_path):
    env = tmp_path / ".env"
    env.write_text("WIREWATCH_DATA_DIR=/srv/wirewatch\nWIREWATCH_LOG_FORMAT=text\n")
    s = Settings(_env_file=env)
    assert str(s.data_dir) == "/srv/wirewatch"
    assert s.log_format == "text"


def test_settings_are_frozen():
    s = Settings(_env_file=None)
    with pytest.raises(ValidationError):
        s.index_port = 1


def test_api_keys_parse_with_roles(monkeypatch):
    monkeypatch.setenv("WIREWATCH_API_KEYS", "reader:r-0123456789abcdef, writer:w-0123456789abcdef")
    s = Settings(_env_file=None)
    assert [(k.role, k.key.get_secret_value()) for k in s.api_keys] == [
        ("reader", "r-0123456789abcdef"),
        ("writer", "w-0123456789abcdef"),
    ]


@pytest.mark.parametrize("value", ["admin:0123456789abcdef0", "reader-0123456789abcdef", "reader:short"])
def test_bad_api_keys_are_refused_clearly(monkeypatch, value):
    monkeypatch.setenv("WIREWATCH_API_KEYS", value)
    with pytest.raises(ValidationError, match="API key"):
        Settings(_env_file=None)


def test_secrets_never_appear_in_the_logged_settings(monkeypatch):
    monkeypatch.setenv("WIREWATCH_API_KEYS", "writer:supersecret-key-123456")
    monkeypatch.setenv("WIREWATCH_KAFKA_SASL_PASSWORD", "kafka-password-xyz")
    monkeypatch.setenv("WIREWATCH_ELASTICSEARCH_PASSWORD", "es-password-xyz")
    s = Settings(_env_file=None)
    dumped = json.dumps(s.masked())
    for secret in ("supersecret-key-123456", "kafka-password-xyz", "es-password-xyz"):
        assert secret not in dumped
        assert secret not in repr(s)


def test_sasl_and_tls_pass_through(monkeypatch, tmp_path):
    monkeypatch.setenv("WIREWATCH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("WIREWATCH_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("WIREWATCH_KAFKA_SASL_USERNAME", "ww")
    monkeypatch.setenv("WIREWATCH_KAFKA_SASL_PASSWORD", "pw")
    monkeypatch.setenv("WIREWATCH_KAFKA_SSL_CAFILE", str(tmp_path / "ca.pem"))
    config = client_config(Settings(_env_file=None))
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert config["sasl_plain_password"] == "pw"
    assert config["ssl_cafile"] == str(tmp_path / "ca.pem")


@pytest.mark.parametrize("value", ["1000", "5999", "1800001"])
def test_a_session_timeout_brokers_refuse_is_refused_at_start(monkeypatch, value):
    monkeypatch.setenv("WIREWATCH_KAFKA_SESSION_TIMEOUT_MS", value)
    with pytest.raises(ValidationError, match="kafka_session_timeout_ms"):
        Settings(_env_file=None)


def test_the_start_up_line_names_only_what_differs_from_the_defaults_with_secrets_masked(monkeypatch):
    for name in [n for n in os.environ if n.startswith("WIREWATCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIREWATCH_KAFKA_SASL_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("WIREWATCH_INDEX_PORT", "9090")
    changed = Settings(_env_file=None).changed()
    assert changed == {"WIREWATCH_KAFKA_SASL_PASSWORD": "**********", "WIREWATCH_INDEX_PORT": 9090}
    assert Settings(_env_file=None, kafka_sasl_password=None, index_port=8080).changed() == {}
