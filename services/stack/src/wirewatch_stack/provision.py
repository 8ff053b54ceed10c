"""Provision a cluster before the services start: the Kafka topics, then the Elasticsearch index.

    python -m wirewatch_stack.provision [--contract deploy/kafka/topics.yaml] [--timeout 120]

The one-shot `provision` job of docker-compose.yml runs this; on an existing cluster an operator
runs it once (or creates the topics by hand from deploy/kafka/topics.yaml). Both steps are
idempotent: topics that exist are left alone, and the Elasticsearch step is the index service's own
`setup()` (template, versioned index, alias), so the job and the service can never disagree.
The Elasticsearch step runs only when WIREWATCH_ELASTICSEARCH_URL is set, and needs the
wirewatch-index package (installed in the index image, which is the image the job runs in).
Exit status: 0 when everything is provisioned, 1 with a one-line reason otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from wirewatch_common.bus import Admin
from wirewatch_common.logs import configure_logging
from wirewatch_common.service import log_settings
from wirewatch_common.settings import Settings
from wirewatch_common.topics import TopicContract, load_contract

log = logging.getLogger(__name__)

T = TypeVar("T")


class ProvisionError(Exception):
    """A step could not be completed before the deadline; the message says which and why."""


def retry_until(step: Callable[[], T], what: str, deadline: float, pause: float = 2.0) -> T:
    """Run `step` until it succeeds or the monotonic `deadline` passes, then raise ProvisionError.

    A cluster that is still starting refuses connections for a while; the job waits for it
    instead of failing the whole `docker compose up` on the first refusal.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return step()
        # The bus hides the Kafka client's exception types, and the search client has its own:
        # any failure is retried until the deadline, then reported with its message.
        except Exception as exc:
            if time.monotonic() + pause >= deadline:
                msg = f"{what} failed after {attempt} attempt(s): {exc}"
                raise ProvisionError(msg) from exc
            log.warning("will retry", extra={"step": what, "attempt": attempt, "error": str(exc)[:300]})
            time.sleep(pause)


def provision_topics(
    settings: Settings, contract: TopicContract, deadline: float, request_timeout_ms: int = 10_000
) -> dict[str, str]:
    """Create the contract's topics (or report that they exist); returns each topic's outcome."""

    def step() -> dict[str, str]:
        admin = Admin.from_settings(settings, request_timeout_ms=request_timeout_ms)
        try:
            return admin.provision(contract, settings.kafka_replication_factor)
        finally:
            admin.close()

    return retry_until(step, "creating the Kafka topics", deadline)


def provision_search(deadline: float) -> str:
    """Install the Elasticsearch template, versioned index and alias with the index service's code."""
    try:
        from wirewatch_index.bootstrap import make_backend
        from wirewatch_index.settings import IndexSettings
    except ImportError as exc:
        msg = (
            "WIREWATCH_ELASTICSEARCH_URL is set but the wirewatch-index package is not installed here; "
            "run the provision job from the index image"
        )
        raise ProvisionError(msg) from exc
    settings = IndexSettings()

    def step() -> str:
        backend = make_backend(settings)  # connects, checks the version, runs setup()
        backend.close()
        return settings.index_elasticsearch_alias

    return retry_until(step, "installing the Elasticsearch index", deadline)


def run(settings: Settings, contract: TopicContract, timeout: float = 120.0) -> dict[str, str]:
    """Provision everything the settings point at; returns what was done, for the log and for tests."""
    deadline = time.monotonic() + timeout
    request_ms = int(min(10.0, max(1.0, timeout / 3)) * 1000)
    done = dict(provision_topics(settings, contract, deadline, request_ms))
    if settings.elasticsearch_url:
        done["elasticsearch"] = f"alias {provision_search(deadline)} ready"
    else:
        done["elasticsearch"] = "skipped: WIREWATCH_ELASTICSEARCH_URL is not set (embedded tantivy index)"
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: provision, log each outcome, exit 0 on success and 1 with the reason otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m wirewatch_stack.provision",
        description="Create the Kafka topics and the Elasticsearch index wirewatch needs (idempotent).",
    )
    parser.add_argument(
        "--contract", type=Path, help="topic contract to apply (default: the one shipped with the code)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the clusters (default 120)"
    )
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging("provision", settings.log_level, settings.log_format)
    log_settings(settings)
    try:
        contract = load_contract(args.contract)
        done = run(settings, contract, args.timeout)
    except (ProvisionError, OSError, ValueError, KeyError) as exc:
        log.error("provisioning failed", extra={"error": str(exc)})
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 - the one line an operator reads
        return 1
    for name, outcome in done.items():
        log.info("provisioned", extra={"resource": name, "outcome": outcome})
    return 0


if __name__ == "__main__":
    sys.exit(main())
