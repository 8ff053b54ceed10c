"""`wirewatch-translate`: list and install Argos packages, re-translate stories that waited for a model.

    wirewatch-translate list
    wirewatch-translate install ar tr                # from the Argos index (network), with X↔en pairs
    wirewatch-translate install --from-path DIR      # offline: every .argosmodel in DIR (or one file)
    wirewatch-translate retranslate                  # translate stories left `unavailable`, now
    wirewatch-translate test-packages DIR            # build meaningless TEST packages for demos

Models go to WIREWATCH_MODEL_DIR (default DATA_DIR/models); nothing is downloaded unless `install`
is given language codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wirewatch_common.logs import configure_logging

from .models import ModelError, install_from_index, install_from_path, installed_packages
from .pairs import PackageInfo
from .settings import TranslateSettings


def _show(packages: Sequence[PackageInfo]) -> None:
    for info in sorted(packages, key=lambda i: i.pair):
        print(f"{info.from_code}→{info.to_code}\t{info.name}\t{info.version}\t{info.path}")  # noqa: T201


def retranslate_now(settings: TranslateSettings) -> dict[str, Any]:
    """Translate, now, the stories whose renditions were unavailable and publish the renditions."""
    from wirewatch_common.bus import Producer
    from wirewatch_common.topics import load_contract

    from .bootstrap import make_engine, pending_store
    from .translator import StoryTranslator
    from .worker import Retranslator, publisher

    engine = make_engine(settings)
    store = pending_store(settings)
    producer = Producer.from_settings(settings)
    try:
        publish = publisher(producer, load_contract().renditions.name)
        translator = StoryTranslator(engine, settings.targets)
        return Retranslator(
            engine, translator, store, publish, max_attempts=settings.kafka_max_attempts
        ).rescan()
    finally:
        producer.close()
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="wirewatch-translate", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="installed pairs with package versions")
    install = sub.add_parser("install", help="install packages from the Argos index or a file/folder")
    install.add_argument("languages", nargs="*", help="language codes, e.g. ar tr (needs the network)")
    install.add_argument("--from-path", type=Path, help=".argosmodel file or folder of them (offline)")
    sub.add_parser("retranslate", help="translate stories whose renditions were unavailable, now")
    build = sub.add_parser("test-packages", help="build tiny TEST packages (meaningless output)")
    build.add_argument("output_dir", type=Path)
    args = parser.parse_args(argv)

    settings = TranslateSettings()
    configure_logging("translate-cli", settings.log_level, "text")
    models_dir = settings.models_path
    try:
        if args.command == "list":
            packages = list(installed_packages(models_dir).values())
            if not packages:
                print(f"no translation packages in {models_dir}")  # noqa: T201
            _show(packages)
        elif args.command == "install":
            if bool(args.from_path) == bool(args.languages):
                parser.error("give language codes (index) or --from-path (offline), not both")
            if args.from_path:
                _show(install_from_path(models_dir, args.from_path))
            else:
                _show(
                    install_from_index(
                        models_dir,
                        list(args.languages),
                        settings.translate_pivot,
                        settings.translate_package_index,
                    )
                )
        elif args.command == "retranslate":
            print(json.dumps(retranslate_now(settings)))  # noqa: T201
        elif args.command == "test-packages":
            from .testpackages import TEST_LABEL, build_test_packages

            for path in build_test_packages(args.output_dir):
                print(f"{path}  ({TEST_LABEL})")  # noqa: T201
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
