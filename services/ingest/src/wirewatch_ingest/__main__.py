"""`python -m wirewatch_ingest`: run the ingest service (API, drop folder, feed poller, re-publisher)."""

from __future__ import annotations

from wirewatch_common.logs import configure_logging
from wirewatch_common.service import log_settings, serve

from .bootstrap import build
from .settings import IngestSettings


def main() -> None:
    """Read settings, set up logging, build the service and serve it until SIGTERM/SIGINT."""
    settings = IngestSettings()
    configure_logging("ingest", settings.log_level, settings.log_format)
    log_settings(settings)
    serve(build(settings).app, settings.host, settings.ingest_port)


if __name__ == "__main__":
    main()
