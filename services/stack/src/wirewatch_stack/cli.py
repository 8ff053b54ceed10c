"""The `wirewatch` command."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from wirewatch_common.broker import BrokerError
from wirewatch_common.logs import configure_logging
from wirewatch_common.settings import Settings, settings_table

from .supervisor import Supervisor, installed_services


def _up(settings: Settings) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    supervisor = Supervisor(settings, installed_services(settings))
    try:
        supervisor.run(stop)
    except BrokerError as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)  # noqa: T201 - the user's terminal
        return 2
    return 0


SERVICE_SETTINGS = (
    ("wirewatch_ingest.settings", "IngestSettings"),
    ("wirewatch_translate.settings", "TranslateSettings"),
    ("wirewatch_index.settings", "IndexSettings"),
)


def all_settings_classes() -> list[type[Settings]]:
    """The shared settings, then each installed service's own, in README order."""
    classes: list[type[Settings]] = [Settings]
    for module_name, class_name in SERVICE_SETTINGS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        classes.append(getattr(module, class_name))
    return classes


def _settings(settings: Settings) -> int:
    sys.stdout.write(settings_table(all_settings_classes()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run a sub-command."""
    parser = argparse.ArgumentParser(prog="wirewatch", description="Multilingual news monitoring.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="run the embedded stack in the foreground (Ctrl-C stops it)")
    commands.add_parser("settings", help="print every WIREWATCH_ setting as the README's Markdown table")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging("wirewatch", settings.log_level, settings.log_format)
    handlers = {"up": _up, "settings": _settings}
    return handlers[args.command](settings)


if __name__ == "__main__":
    sys.exit(main())
