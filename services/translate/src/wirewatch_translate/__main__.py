"""Run the translate service: `python -m wirewatch_translate` (the supervisor starts it this way)."""

from __future__ import annotations

from wirewatch_common.logs import configure_logging
from wirewatch_common.service import log_settings, serve

from .bootstrap import build
from .settings import TranslateSettings


def main() -> None:
    """Read settings, set up logging, build the service and serve it until SIGTERM."""
    settings = TranslateSettings()
    configure_logging("translate", settings.log_level, settings.log_format)
    log_settings(settings)
    serve(build(settings).app, settings.host, settings.translate_port)


if __name__ == "__main__":
    main()
