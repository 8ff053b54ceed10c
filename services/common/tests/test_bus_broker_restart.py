"""A Producer reaches a broker that was restarted empty on the same address (tansu keeps nothing)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wirewatch_common.broker import EmbeddedBroker
from wirewatch_common.bus import Admin, DeliveryError, Outgoing, Producer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _create_topic(config: dict[str, object]) -> None:
    admin = Admin(config)
    try:
        admin.create_topic("restart-test", partitions=1)
    finally:
        admin.close()


def test_a_producer_publishes_again_after_the_broker_restarted_empty(tmp_path: Path) -> None:
    first = EmbeddedBroker(log_file=tmp_path / "tansu-1.log").start()
    second: EmbeddedBroker | None = None
    producer: Producer | None = None
    try:
        config = {"bootstrap_servers": [first.bootstrap_servers]}
        _create_topic(config)
        producer = Producer(config, delivery_timeout_ms=8_000, request_timeout_ms=4_000)
        producer.publish(Outgoing("restart-test", "a", b"before"))
        first.stop()
        second = EmbeddedBroker(port=first.port, log_file=tmp_path / "tansu-2.log").start()
        _create_topic(config)
        # The old client's producer id is unknown to the new broker: at most a few failed
        # deliveries, then a renewed client gets through.
        failures = 0
        deadline = time.monotonic() + 60
        while True:
            try:
                delivery = producer.publish(Outgoing("restart-test", "b", b"after"), timeout=10)
                break
            except DeliveryError:
                failures += 1
                assert time.monotonic() < deadline, f"never published again ({failures} failures)"
                time.sleep(0.5)
        assert delivery.topic == "restart-test"
        assert delivery.offset == 0, "the new broker's topic is empty: the first message after the restart"
        assert failures <= 3
    finally:
        if producer is not None:
            producer.close(timeout=1)
        for broker in (second, first):
            if broker is not None:
                broker.stop()
