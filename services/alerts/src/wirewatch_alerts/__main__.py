"""`python -m wirewatch_alerts`: run the alerts service (the watchlists API)."""

from __future__ import annotations

from wirewatch_common.logs import configure_logging
from wirewatch_common.service import log_settings, serve

from .bootstrap import build
from .settings import AlertsSettings


def main() -> None:
    """Build settings, logging and the service, then serve until SIGTERM/SIGINT."""
    settings = AlertsSettings()
    configure_logging("alerts", settings.log_level, settings.log_format)
    log_settings(settings)
    serve(build(settings).app, settings.host, settings.alerts_port)


if __name__ == "__main__":
    main()
