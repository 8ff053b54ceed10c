"""Shared library of the wirewatch services: story contract, Kafka bus, embedded broker, settings, service skeleton."""
