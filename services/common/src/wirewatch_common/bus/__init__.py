"""The Kafka bus: a producer that confirms delivery and a consumer that commits only after its handler succeeded.

This package is the only code that imports the Kafka client: `config` (connection, broker kind,
group timing), `producer`, `consumer`, `admin`, `messages` and `errors`. Delivery is at least
once, so handlers write idempotently.
"""

from __future__ import annotations

from ..clusters import EMBEDDED_CLUSTER_ID, TANSU_CLUSTER_IDS
from .admin import Admin
from .config import (
    CLUSTER_SESSION_TIMEOUT_MS,
    EMBEDDED_SESSION_TIMEOUT_MS,
    PRODUCER_DEFAULTS,
    client_config,
    group_timing,
    is_tansu,
)
from .consumer import ERROR_HEADER_PREFIX, Consumer
from .errors import DeliveryError, MessageTooLarge, SendFailed, Stopping, TransientError
from .messages import Delivery, Handler, Message, Outgoing, story_message
from .producer import Producer

__all__ = [
    "CLUSTER_SESSION_TIMEOUT_MS",
    "EMBEDDED_CLUSTER_ID",
    "EMBEDDED_SESSION_TIMEOUT_MS",
    "ERROR_HEADER_PREFIX",
    "PRODUCER_DEFAULTS",
    "TANSU_CLUSTER_IDS",
    "Admin",
    "Consumer",
    "Delivery",
    "DeliveryError",
    "Handler",
    "Message",
    "MessageTooLarge",
    "Outgoing",
    "Producer",
    "SendFailed",
    "Stopping",
    "TransientError",
    "client_config",
    "group_timing",
    "is_tansu",
    "story_message",
]
