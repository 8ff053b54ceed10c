from __future__ import annotations

import dataclasses
import os
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from wirewatch_common.broker import free_port
from wirewatch_common.bus import Admin
from wirewatch_common.topics import TopicContract, load_contract
from wirewatch_stack.provision import run
from wirewatch_testkit.processes import run_command

pytestmark = pytest.mark.integration

CONTRACT_FILE = Path(__file__).resolve().parents[3] / "deploy" / "kafka" / "topics.yaml"


def _private_contract() -> TopicContract:
    """The shipped contract with names private to this test, so runs never see each other's topics."""
    tag = uuid.uuid4().hex[:8]
    contract = load_contract()
    return dataclasses.replace(
        contract,
        topics={
            role: dataclasses.replace(spec, name=f"test-provision-{tag}-{spec.name}")
            for role, spec in contract.topics.items()
        },
    )


def _partitions(bootstrap: str) -> dict[str, int]:
    admin = Admin({"bootstrap_servers": [bootstrap]})
    try:
        return admin.topic_partitions()
    finally:
        admin.close()


def _run_module(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 90) -> tuple[int, str]:
    """Run `python -m wirewatch_stack.provision`, stopped by its pid whatever happens."""
    return run_command([sys.executable, "-m", "wirewatch_stack.provision", *args], env, cwd, timeout)


def _env(tmp_path: Path, bootstrap: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    return env | {
        "WIREWATCH_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "WIREWATCH_DATA_DIR": str(tmp_path / "data"),
        "WIREWATCH_LOG_FORMAT": "text",
        **extra,
    }


def test_run_creates_every_contract_topic_and_a_second_run_changes_nothing(broker_settings):
    contract = _private_contract()
    names = {spec.name: spec.partitions for spec in contract.topics.values()}

    first = run(broker_settings, contract, timeout=60)
    assert {name: first[name] for name in names} == dict.fromkeys(names, "created")
    assert first["elasticsearch"].startswith("skipped")
    have = _partitions(broker_settings.kafka_bootstrap_servers)
    assert {name: have.get(name) for name in names} == names

    second = run(broker_settings, contract, timeout=60)
    assert {name: second[name] for name in names} == dict.fromkeys(names, "exists")
    assert _partitions(broker_settings.kafka_bootstrap_servers) == have


def test_module_applies_a_contract_file_and_exits_zero(broker, tmp_path):
    doc = yaml.safe_load(CONTRACT_FILE.read_text())
    tag = uuid.uuid4().hex[:8]
    for spec in doc["topics"].values():
        spec["name"] = f"test-provision-cli-{tag}-{spec['name']}"
    contract_file = tmp_path / "topics.yaml"
    contract_file.write_text(yaml.safe_dump(doc))

    code, output = _run_module(
        ["--contract", str(contract_file), "--timeout", "60"],
        _env(tmp_path, broker.bootstrap_servers),
        tmp_path,
    )

    assert code == 0, output
    have = _partitions(broker.bootstrap_servers)
    assert {spec["name"]: have.get(spec["name"]) for spec in doc["topics"].values()} == {
        spec["name"]: spec["partitions"] for spec in doc["topics"].values()
    }
    assert "outcome=created" in output


def test_module_exits_non_zero_with_the_reason_when_no_broker_answers(tmp_path):
    code, output = _run_module(
        ["--timeout", "3"], _env(tmp_path, f"127.0.0.1:{free_port()}"), tmp_path, timeout=60
    )

    assert code == 1, output
    assert "error: creating the Kafka topics failed" in output


@pytest.mark.slow
def test_elasticsearch_step_uses_the_index_setup_and_reports_an_unreachable_cluster(broker, tmp_path):
    contract_file = tmp_path / "topics.yaml"
    doc = yaml.safe_load(CONTRACT_FILE.read_text())
    tag = uuid.uuid4().hex[:8]
    for spec in doc["topics"].values():
        spec["name"] = f"test-provision-es-{tag}-{spec['name']}"
    contract_file.write_text(yaml.safe_dump(doc))
    env = _env(
        tmp_path,
        broker.bootstrap_servers,
        WIREWATCH_ELASTICSEARCH_URL=f"http://127.0.0.1:{free_port()}",
        WIREWATCH_ELASTICSEARCH_USERNAME="elastic",
        WIREWATCH_ELASTICSEARCH_PASSWORD="not-a-real-password",
    )

    code, output = _run_module(["--contract", str(contract_file), "--timeout", "3"], env, tmp_path)

    assert code == 1, output
    # Topics come first, then the index service's own setup() says what is wrong with the cluster.
    assert "error: installing the Elasticsearch index failed" in output
    assert "cannot reach Elasticsearch" in output
    assert "not-a-real-password" not in output
    have = _partitions(broker.bootstrap_servers)
    assert all(spec["name"] in have for spec in doc["topics"].values())
