"""The `wirewatch` command."""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from wirewatch_common.broker import BrokerError
from wirewatch_common.fetch import FetchError
from wirewatch_common.logs import configure_logging
from wirewatch_common.settings import Settings, settings_table

from .client import SearchFailed, Upload, documents, hits_table, is_url, post_document, search, upload
from .feeds import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_S, fetch
from .progress import ProgressBar
from .report import no_models_hint, render
from .status import collect, installed_models
from .supervisor import Supervisor, installed_services, service_port
from .watch import (
    WatchFailed,
    add_watchlist,
    created_lines,
    list_watchlists,
    new_secret,
    remove_watchlist,
    watchlist_spec,
    watchlists_table,
)


def _ingest_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.ingest_port}"


Item = Path | str
"""A file or folder (Path), or a feed URL (str)."""


def expand(items: Sequence[Item]) -> list[Item]:
    """Files named, files inside folders named, and URLs, in the order given."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        else:
            out.extend(documents([item]))
    return out


def send_one(base_url: str, item: Item, api_key: str | None, feed_timeout: float, max_bytes: int) -> Upload:
    """Upload a file, or fetch a feed URL and post what it returned."""
    if isinstance(item, Path):
        return upload(base_url, item, api_key)
    try:
        fetched = fetch(item, max_bytes=max_bytes, timeout=feed_timeout)
    except FetchError as exc:
        return Upload(item, 0, {"message": str(exc)})
    return post_document(base_url, item, fetched.data, fetched.content_type, api_key)


def send_documents(
    base_url: str,
    items: Sequence[Item],
    api_key: str | None,
    out: IO[str],
    err: IO[str] | None = None,
    *,
    feed_timeout: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> int:
    """Send files, folders and feed URLs to the ingest API, one result line each; return how many failed.

    Result lines go to `out`; a progress bar goes to `err` when it is a terminal.
    """
    jobs = expand(items)
    bar = ProgressBar(
        err if err is not None else io.StringIO(), len(jobs), shutil.get_terminal_size().columns
    )
    failed = 0
    for number, item in enumerate(jobs, 1):
        bar.show(number - 1, failed, str(item))
        result = send_one(base_url, item, api_key, feed_timeout, max_bytes)
        failed += not result.ok
        bar.clear()
        out.write(f"[{number}/{len(jobs)}] {result.line()}\n")
        out.flush()
    bar.show(len(jobs), failed)
    bar.clear()
    return failed


def program_name() -> str:
    """How the operator ran us: `.venv/bin/wirewatch` under `make run`, else `wirewatch`."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "wirewatch":
        return "wirewatch"
    try:
        return str(argv0.resolve().relative_to(Path.cwd()))
    except ValueError:
        return "wirewatch"


def models_hint(settings: Settings, supervisor: Supervisor, api_key: str | None) -> list[str]:
    """The lines to print once when translate runs without packages (none when it has some or is absent)."""
    spec = next((s for s in supervisor.services if s.name == "translate"), None)
    models = installed_models(spec, api_key)
    if spec is None or models is None or models.get("packages"):
        return []
    rescan: float | None = None
    try:
        from wirewatch_translate.settings import TranslateSettings

        rescan = TranslateSettings().translate_rescan_seconds
    except ModuleNotFoundError:
        pass
    return no_models_hint(program_name(), str(settings.models_path), rescan)


def _up(settings: Settings, args: argparse.Namespace) -> int:
    """Run the stack in the foreground until SIGINT or SIGTERM: 0 once stopped, 2 when the broker cannot start."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    supervisor = Supervisor(settings, installed_services(settings))

    def when_ready() -> None:
        for line in models_hint(settings, supervisor, args.api_key):
            supervisor.say(line)
        if args.load and any(spec.name == "ingest" for spec in supervisor.services):
            failed = send_documents(_ingest_url(settings), args.load, args.api_key, supervisor.out)
            supervisor.say(f"loaded {', '.join(map(str, args.load))} ({failed} failed)")

    try:
        supervisor.run(stop, when_ready)
    except BrokerError as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)  # noqa: T201 - the user's terminal
        return 2
    return 0


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    url = args.url or _ingest_url(settings)
    items: list[Item] = [item if is_url(item) else Path(item) for item in args.paths]
    failed = send_documents(
        url, items, args.api_key, sys.stdout, sys.stderr, feed_timeout=args.timeout, max_bytes=args.max_bytes
    )
    return 1 if failed else 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    report = collect(settings, installed_services(settings), args.api_key)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(render(report))
    if report.unreachable:
        return 2
    return 0 if report.ok else 1


SERVICE_SETTINGS = (
    ("wirewatch_ingest.settings", "IngestSettings"),
    ("wirewatch_translate.settings", "TranslateSettings"),
    ("wirewatch_index.settings", "IndexSettings"),
    ("wirewatch_alerts.settings", "AlertsSettings"),
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


def _alerts_url(settings: Settings, args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url).rstrip("/")
    return f"http://{settings.host}:{service_port(settings, 'alerts') or 8083}"


def _watch(settings: Settings, args: argparse.Namespace) -> int:
    url = _alerts_url(settings, args)
    try:
        if args.watch_command == "add":
            generated = {hook: new_secret() for hook in args.webhook} if not args.webhook_secret else {}
            webhooks = [(hook, generated.get(hook) or args.webhook_secret) for hook in args.webhook]
            spec = watchlist_spec(
                args.name,
                args.query,
                languages=args.lang,
                providers=args.provider,
                places=args.place,
                webhooks=webhooks,
                notify_updates=args.notify_updates,
            )
            created = add_watchlist(url, spec, args.api_key)
            sys.stdout.write(
                json.dumps(created, ensure_ascii=False, indent=2) + "\n"
                if args.json
                else created_lines(created, generated)
            )
        elif args.watch_command == "list":
            found = list_watchlists(url, args.api_key)
            sys.stdout.write(
                json.dumps(found, ensure_ascii=False, indent=2) + "\n"
                if args.json
                else watchlists_table(found)
            )
        else:
            remove_watchlist(url, args.id, args.api_key)
            sys.stdout.write(f"removed {args.id}\n")
    except WatchFailed as exc:
        sys.stderr.write(f"wirewatch: {exc}\n")
        return 1
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


def build_parser() -> argparse.ArgumentParser:
    """The `wirewatch` command line (sub-commands and their flags)."""
    parser = argparse.ArgumentParser(prog="wirewatch", description="Multilingual news monitoring.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the embedded stack in the foreground (Ctrl-C stops it)")
    up.add_argument(
        "--load", type=Path, nargs="*", default=[], help="files or folders to ingest once it is ready"
    )
    up.add_argument("--api-key", default=os.environ.get("WIREWATCH_CLI_API_KEY"), help=argparse.SUPPRESS)
    ingest = commands.add_parser("ingest", help="send files, folders or feed URLs to the running ingest API")
    ingest.add_argument(
        "paths", nargs="+", metavar="PATH|URL", help="files, folders (every file inside), http(s) feed URLs"
    )
    ingest.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="most seconds to fetch one feed URL"
    )
    ingest.add_argument(
        "--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="largest feed document fetched"
    )
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
        "models",
        help="translation packages: list | install LANG... | install --from-path P | remove PAIR|NAME | check",
    )
    models.add_argument("rest", nargs=argparse.REMAINDER, help="passed to wirewatch-translate")
    status = commands.add_parser(
        "status", help="health, consumer lag, story counts and models of the running stack"
    )
    status.add_argument("--json", action="store_true", help="print the report as JSON")
    status.add_argument("--api-key", default=os.environ.get("WIREWATCH_CLI_API_KEY"), help="reader key")
    commands.add_parser("settings", help="print every WIREWATCH_ setting as the README's Markdown table")
    _watch_parser(commands)
    return parser


def _watch_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    watch = commands.add_parser("watch", help="watchlists on the running alerts API: add | list | remove")
    actions = watch.add_subparsers(dest="watch_command", required=True)
    add = actions.add_parser(
        "add", help="create a watchlist: alerts for every story that matches, in any language"
    )
    add.add_argument("name", help="the watchlist's name (unique without regard to case)")
    add.add_argument(
        "query",
        nargs="?",
        default="",
        help='desk syntax, as in search: words, "phrases", OR, -exclude, prefix*, headline: (empty needs a filter)',
    )
    add.add_argument("--lang", action="append", default=[], help="only this language version (repeatable)")
    add.add_argument("--provider", action="append", default=[], help="only this provider (repeatable)")
    add.add_argument("--place", action="append", default=[], help="only this dateline place (repeatable)")
    add.add_argument(
        "--webhook", action="append", default=[], metavar="URL", help="POST alerts here (repeatable)"
    )
    add.add_argument(
        "--webhook-secret",
        default=os.environ.get("WIREWATCH_CLI_WEBHOOK_SECRET"),
        help="webhook signing secret, 16+ characters (or WIREWATCH_CLI_WEBHOOK_SECRET); made and shown if absent",
    )
    add.add_argument(
        "--notify-updates",
        action="store_true",
        help="notify again when a matched story's new version still matches",
    )
    add.add_argument("--json", action="store_true", help="print the API's JSON answer")
    listed = actions.add_parser("list", help="every watchlist, oldest first")
    listed.add_argument("--json", action="store_true", help="print the watchlists as JSON")
    remove = actions.add_parser("remove", help="delete a watchlist by id")
    remove.add_argument("id", help="the watchlist's id, e.g. wl-3f9a0c2b7d41")
    for sub in (add, listed, remove):
        sub.add_argument("--url", help="alerts API base URL (default: from WIREWATCH_HOST/ALERTS_PORT)")
        sub.add_argument(
            "--api-key",
            default=os.environ.get("WIREWATCH_CLI_API_KEY"),
            help="writer key to add or remove, reader key to list (or WIREWATCH_CLI_API_KEY)",
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run a sub-command."""
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging("wirewatch", settings.log_level, settings.log_format)
    handlers = {
        "up": _up,
        "ingest": _ingest,
        "search": _search,
        "models": _models,
        "status": _status,
        "settings": _settings,
        "watch": _watch,
    }
    return handlers[args.command](settings, args)


if __name__ == "__main__":
    sys.exit(main())
