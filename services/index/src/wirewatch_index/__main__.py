"""Run the index service: the worker (stories and renditions → search backend) and the /v1 API."""

from __future__ import annotations

from wirewatch_common.bus import Consumer, Producer
from wirewatch_common.logs import configure_logging
from wirewatch_common.service import BrokerCheck, log_settings, serve
from wirewatch_common.topics import load_contract

from .app import build_app, make_backend
from .settings import IndexSettings
from .worker import IndexHandler


def main() -> None:
    """Wire settings, backend, worker and API, then serve until SIGTERM."""
    settings = IndexSettings()
    configure_logging("index", settings.log_level, settings.log_format)
    log_settings(settings)
    backend = make_backend(settings)
    contract = load_contract()
    check = BrokerCheck(settings)
    workers = []
    shutdown = [check.close, backend.close]
    if settings.index_worker:
        producer = Producer.from_settings(settings)
        handler = IndexHandler(backend, producer.publish_many, contract.receipts.name)
        workers.append(
            Consumer.from_settings(
                settings,
                [contract.stories.name, contract.renditions.name],
                settings.index_group_id,
                handler,
                producer=producer,
                dead_letter_topic=contract.deadletter.name,
            )
        )
        shutdown.insert(0, producer.close)
    app = build_app(settings, backend, checks={"broker": check}, workers=workers, on_shutdown=shutdown)
    serve(app, settings.host, settings.index_port)


if __name__ == "__main__":
    main()
