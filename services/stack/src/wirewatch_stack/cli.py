"""The `wirewatch` command."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from wirewatch_common.broker import BrokerError
from wirewatch_common.logs import configure_logging
from wirewatch_common.settings import Settings, settings_table

from .client import SearchFailed, documents, hits_table, search, upload
from .supervisor import Supervisor, installed_services


def _ingest_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.ingest_port}"


def send_documents(base_url: str, paths: Sequence[Path], api_key: str | None, out: IO[str]) -> int:
    """Upload files and folders to the ingest API, one result line each; return how many failed."""
    files = list(documents(paths))
    failed = 0
    for number, path in enumerate(files, 1):
        result = upload(base_url, path, api_key)
        failed += not result.ok
        out.write(f"[{number}/{len(files)}] {result.line()}\n")
        out.flush()
    return failed


def _up(settings: Settings, args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    supervisor = Supervisor(settings, installed_services(settings))
    try:
        supervisor.start()
        if args.load and any(spec.name == "ingest" for spec in supervisor.services):
            failed = send_documents(_ingest_url(settings), args.load, args.api_key, sys.stdout)
            sys.stdout.write(f"wirewatch | loaded {', '.join(map(str, args.load))} ({failed} failed)\n")
        while not stop.wait(0.5):
            supervisor.watch_once()
    except BrokerError as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)  # noqa: T201 - the user's terminal
        return 2
    finally:
        supervisor.shutdown()
    return 0


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    url = args.url or _ingest_url(settings)
    return 1 if send_documents(url, args.paths, args.api_key, sys.stdout) else 0


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


def _search(settings: Settings, args: argparse.Namespace) -> int:
    url = args.url or f"http://{settings.host}:{settings.index_port}"
    try:
        answer = search(url, " ".join(args.query), args.lang, args.size, args.api_key)
    except SearchFailed as exc:
        sys.stderr.write(f"wirewatch: {exc}\n")
        return 1
    sys.stdout.write(
        json.dumps(answer, ensure_ascii=False, indent=2) + "\n" if args.json else hits_table(answer)
    )
    return 0


def _models(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from wirewatch_translate.cli import main as translate_cli
    except ModuleNotFoundError:
        sys.stderr.write("wirewatch: the translate service is not installed here\n")
        return 2
    return translate_cli(args.rest)


def _settings(settings: Settings, args: argparse.Namespace) -> int:
    sys.stdout.write(settings_table(all_settings_classes()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run a sub-command."""
    parser = argparse.ArgumentParser(prog="wirewatch", description="Multilingual news monitoring.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the embedded stack in the foreground (Ctrl-C stops it)")
    up.add_argument(
        "--load", type=Path, nargs="*", default=[], help="files or folders to ingest once it is ready"
    )
    up.add_argument("--api-key", default=os.environ.get("WIREWATCH_CLI_API_KEY"), help=argparse.SUPPRESS)
    ingest = commands.add_parser("ingest", help="send files or folders to the running ingest API")
    ingest.add_argument("paths", type=Path, nargs="+", help="files or folders (every file inside)")
    ingest.add_argument("--url", help="ingest API base URL (default: from WIREWATCH_HOST/INGEST_PORT)")
    ingest.add_argument(
        "--api-key",
        default=os.environ.get("WIREWATCH_CLI_API_KEY"),
        help="writer key (or WIREWATCH_CLI_API_KEY)",
    )
    found = commands.add_parser("search", help="search the running index API and print a table (or JSON)")
    found.add_argument(
        "query", nargs="+", help='desk syntax: words, "phrases", OR, -exclude, prefix*, headline:'
    )
    found.add_argument("--lang", help="only this language version, e.g. ar")
    found.add_argument("--size", type=int, default=20, help="how many stories (default 20)")
    found.add_argument("--json", action="store_true", help="print the API's JSON answer")
    found.add_argument("--url", help="index API base URL (default: from WIREWATCH_HOST/INDEX_PORT)")
    found.add_argument("--api-key", default=os.environ.get("WIREWATCH_CLI_API_KEY"), help="reader key")
    models = commands.add_parser(
        "models", help="translation packages: list | install LANG... | install --from-path P"
    )
    models.add_argument("rest", nargs=argparse.REMAINDER, help="passed to wirewatch-translate")
    commands.add_parser("settings", help="print every WIREWATCH_ setting as the README's Markdown table")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging("wirewatch", settings.log_level, settings.log_format)
    handlers = {"up": _up, "ingest": _ingest, "search": _search, "models": _models, "settings": _settings}
    return handlers[args.command](settings, args)


if __name__ == "__main__":
    sys.exit(main())
