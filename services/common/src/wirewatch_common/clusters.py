"""How clients tell the embedded broker from a Kafka cluster: by the cluster id it reports."""

from __future__ import annotations

EMBEDDED_CLUSTER_ID = "wirewatch-embedded"
"""The cluster id the embedded tansu broker is started with."""

TANSU_CLUSTER_IDS = frozenset({EMBEDDED_CLUSTER_ID, "tansu_cluster"})
"""Cluster ids of a tansu broker: the embedded one, and tansu's own default."""
