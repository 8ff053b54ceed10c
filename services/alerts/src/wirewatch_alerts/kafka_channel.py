"""The `kafka` channel: alert events on the `wirewatch.alerts` topic, keyed by watchlist id.

Downstream systems read one topic for every watchlist that chose the channel; the value is the
alert event (deploy/schemas/alert.schema.json) and the headers say its schema version and kind,
so a consumer can route without parsing. A batch is sent in one go and counts as delivered only
when the broker confirmed every message of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from wirewatch_common.alert_event import SCHEMA_VERSION
from wirewatch_common.bus import DeliveryError, Outgoing
from wirewatch_common.errors import brief
from wirewatch_common.topics import CONTENT_TYPE, H_CONTENT_TYPE, H_SCHEMA

from .delivery import LaneBatch, Outcome

H_EVENT = "wirewatch-alert-event"

Publish = Callable[[Sequence[Outgoing]], Any]
"""Publishes messages and returns only when the broker confirmed them (Producer.publish_many)."""


class KafkaSender:
    """Deliver a lane's events to the alerts topic through the service's producer."""

    def __init__(self, publish: Publish, topic: str) -> None:
        self._publish = publish
        self._topic = topic

    def send(self, batch: LaneBatch) -> Sequence[Outcome]:
        """Publish the whole batch; a broker that did not confirm means every event is retried."""
        messages = [
            Outgoing(
                self._topic,
                d.watchlist_id,
                d.body,
                [
                    (H_SCHEMA, str(SCHEMA_VERSION).encode()),
                    (H_CONTENT_TYPE, CONTENT_TYPE),
                    (H_EVENT, d.event.value.encode()),
                ],
            )
            for d in batch.deliveries
        ]
        try:
            self._publish(messages)
        except DeliveryError as exc:
            return [Outcome.retry(d.id, f"broker did not confirm: {brief(exc)}") for d in batch.deliveries]
        return [Outcome.delivered(d.id) for d in batch.deliveries]
