"""`python -m wirewatch_index`: run the index service (worker, search API, desk page)."""

from __future__ import annotations

from wirewatch_common.logs import configure_logging
from wirewatch_common.service import log_settings, serve

from .bootstrap import build
from .settings import IndexSettings


def main() -> None:
    """Build settings, logging and the service, then serve until SIGTERM/SIGINT."""
    settings = IndexSettings()
    configure_logging("index", settings.log_level, settings.log_format)
    log_settings(settings)
    serve(build(settings).app, settings.host, settings.index_port)


if __name__ == "__main__":
    main()
