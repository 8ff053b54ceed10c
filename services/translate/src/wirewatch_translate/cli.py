"""`wirewatch-translate`: list, install, remove, check Argos packages; re-translate stories that waited.

    wirewatch-translate list                         # every package per pair, which is active and why
    wirewatch-translate install ar tr                # from the Argos index (network), with X↔en pairs
    wirewatch-translate install --from-path DIR      # offline: every .argosmodel in DIR (or one file)
    wirewatch-translate remove en-ar                 # every package of a pair, or one folder by name
    wirewatch-translate check                        # translate fixed sentences with each active package
    wirewatch-translate retranslate                  # translate stories left `unavailable`, now
    wirewatch-translate test-packages DIR            # build meaningless TEST packages for demos

Per pair, a real package beats a test package, then the highest version wins.

Models go to WIREWATCH_MODEL_DIR (default DATA_DIR/models); nothing is downloaded unless `install`
is given language codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wirewatch_common.logs import configure_logging

from .models import (
    ModelError,
    PackageChoice,
    install_from_index,
    install_from_path,
    package_choice,
    remove_packages,
)
from .pairs import PackageInfo, Pair, pair_label
from .settings import TranslateSettings

if TYPE_CHECKING:
    from .engine import Engine

CHECK_SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The port reopened on Monday after a two-day strike.",
        "The central bank left interest rates unchanged.",
        "Rescue teams reached the village before nightfall.",
    ),
    "ar": (
        "أعيد فتح الميناء يوم الاثنين بعد إضراب استمر يومين.",
        "أبقى البنك المركزي أسعار الفائدة دون تغيير.",
        "وصلت فرق الإنقاذ إلى القرية قبل حلول الليل.",
    ),
    "tr": (
        "Liman, iki günlük grevin ardından pazartesi günü yeniden açıldı.",
        "Merkez bankası faiz oranlarını değiştirmedi.",
        "Kurtarma ekipleri akşam olmadan köye ulaştı.",
    ),
}
"""Fixed sentences `models check` translates with each active package, by source language."""


def _say(line: str = "") -> None:
    print(line)  # noqa: T201 - command-line output


def package_lines(choice: PackageChoice) -> list[str]:
    """The `list` table: a line per usable package (pair, state, folder, version, kind, why), then the rest.

    Lines of usable packages start with the pair then a tab, which scripts grep for;
    unusable packages are listed after, on lines that start otherwise, so they never count.
    """
    rows = [
        (
            pair_label(pair),
            "active" if info is pick.active else "standby",
            info.folder,
            info.version,
            info.kind,
        )
        for pair, pick in choice.pairs.items()
        for info in pick.ranked
    ]
    whys = [pick.why(info) for pick in choice.pairs.values() for info in pick.ranked]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(5)]
    lines = [
        f"{row[0]}\t"
        + "  ".join(cell.ljust(w) for cell, w in zip(row[1:], widths[1:], strict=True))
        + f"  {why}"
        for row, why in zip(rows, whys, strict=True)
    ]
    lines += warnings_for_test_packages(choice, list(choice.pairs))
    for bad in choice.unusable:
        where = f" ({pair_label(bad.pair)} {bad.version})" if bad.pair else ""
        lines.append(f"not usable: {bad.folder}{where}: {bad.reason}")
    return lines


def warnings_for_test_packages(choice: PackageChoice, pairs: Sequence[Pair]) -> list[str]:
    """One warning naming the pairs (of `pairs`) whose active package is a test package; none if there are none."""
    tested = [choice.pairs[p] for p in sorted(set(pairs)) if p in choice.pairs and choice.pairs[p].test_only]
    if len(tested) == 1:
        label, folder = pair_label(tested[0].pair), tested[0].active.folder
        return [
            f"warning: {label} is translated by the TEST package {folder} (meaningless text): "
            f"no real {label} package is installed"
        ]
    if tested:
        labels = ", ".join(pair_label(pick.pair) for pick in tested)
        return [
            f"warning: {labels} are translated by TEST packages (meaningless text): no real package is installed"
        ]
    return []


def active_lines(choice: PackageChoice, pairs: Sequence[Pair]) -> list[str]:
    """What is active now for each of `pairs`, and why; then the test-package warnings."""
    lines = []
    for pair in sorted(set(pairs)):
        pick = choice.pairs.get(pair)
        if pick is None:
            lines.append(f"{pair_label(pair)}: no usable package left")
            continue
        info = pick.active
        line = f"{pair_label(pair)}: active {info.folder} {info.version} ({info.kind}): {pick.why(info)}"
        standby = [f"{i.folder} {i.version} ({i.kind})" for i in pick.ranked[1:]]
        lines.append(line + (f"; also installed: {', '.join(standby)}" if standby else ""))
    return lines + warnings_for_test_packages(choice, pairs)


def _show_installed(models_dir: Path, installed: Sequence[PackageInfo]) -> None:
    for info in sorted(installed, key=lambda i: (i.pair, i.folder)):
        _say(f"installed {info.folder} ({pair_label(info.pair)} {info.version}, {info.kind})")
    for line in active_lines(package_choice(models_dir), [i.pair for i in installed]):
        _say(line)


def verdict(source: str, output: str) -> str:
    """Judge one check translation: `EMPTY`, `COPY` (the input came back), or `ok`."""
    if not output.strip():
        return "EMPTY"
    if " ".join(output.split()).casefold() == " ".join(source.split()).casefold():
        return "COPY"
    return "ok"


def check_packages(engine: Engine) -> int:
    """Translate CHECK_SENTENCES with every active package and print each output with its verdict.

    Returns 0 when every checked pair translated every sentence into something other than its
    input, 1 otherwise (including when nothing could be checked).
    """
    packages = engine.packages()
    if not packages:
        _say(f"no translation packages in {engine.models_dir}")
        return 1
    bad = checked = 0
    for pair, info in sorted(packages.items()):
        label = f"{pair_label(pair)}  {info.folder} {info.version} ({info.kind})"
        sentences = CHECK_SENTENCES.get(info.from_code)
        if sentences is None:
            _say(f"{label}: not checked, no check sentences in {info.from_code!r}")
            continue
        checked += 1
        try:
            outputs, _ = engine.translate(info, sentences)
        except Exception as exc:  # noqa: BLE001 - whatever breaks a package is reported, and the check goes on
            bad += 1
            _say(f"{label}: FAILED: {type(exc).__name__}: {exc}")
            continue
        verdicts = [verdict(s, o) for s, o in zip(sentences, outputs, strict=True)]
        bad += any(v != "ok" for v in verdicts)
        note = " - a TEST package: meaningless text by design" if info.test else ""
        _say(f"{label}{note}")
        for source, output, said in zip(sentences, outputs, verdicts, strict=True):
            _say(f"  {said:<5}  {source}  →  {output}")
    return 1 if bad or not checked else 0


def retranslate_now(settings: TranslateSettings) -> dict[str, Any]:
    """Translate, now, the stories whose renditions were unavailable and publish the renditions."""
    from wirewatch_common.bus import Producer
    from wirewatch_common.topics import load_contract

    from .bootstrap import make_engine, make_translator, pending_store, translation_memory
    from .worker import Retranslator, publisher

    engine = make_engine(settings)
    store = pending_store(settings)
    memory = translation_memory(settings)
    producer = Producer.from_settings(settings)
    try:
        publish = publisher(producer, load_contract().renditions.name)
        translator = make_translator(settings, engine, memory)
        return Retranslator(
            engine, translator, store, publish, max_attempts=settings.kafka_max_attempts
        ).rescan()
    finally:
        producer.close()
        store.close()
        if memory is not None:
            memory.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="wirewatch-translate", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every installed package per pair, which is active and why")
    install = sub.add_parser("install", help="install packages from the Argos index or a file/folder")
    install.add_argument("languages", nargs="*", help="language codes, e.g. ar tr (needs the network)")
    install.add_argument("--from-path", type=Path, help=".argosmodel file or folder of them (offline)")
    remove = sub.add_parser("remove", help="remove every package of a pair, or one package by folder name")
    remove.add_argument("package", metavar="PAIR|NAME", help="a pair (en-ar, or en_ar) or a folder name")
    sub.add_parser("check", help="translate a few fixed sentences with each active package and show them")
    sub.add_parser("retranslate", help="translate stories whose renditions were unavailable, now")
    build = sub.add_parser("test-packages", help="build tiny TEST packages (meaningless output)")
    build.add_argument("output_dir", type=Path)
    args = parser.parse_args(argv)

    settings = TranslateSettings()
    configure_logging("translate-cli", settings.log_level, "text")
    models_dir = settings.models_path
    try:
        if args.command == "list":
            choice = package_choice(models_dir)
            if not choice.pairs and not choice.unusable:
                _say(f"no translation packages in {models_dir}")
            for line in package_lines(choice):
                _say(line)
        elif args.command == "install":
            if bool(args.from_path) == bool(args.languages):
                parser.error("give language codes (index) or --from-path (offline), not both")
            if args.from_path:
                installed = install_from_path(models_dir, args.from_path)
            else:
                installed = install_from_index(
                    models_dir,
                    list(args.languages),
                    settings.translate_pivot,
                    settings.translate_package_index,
                )
            _show_installed(models_dir, installed)
        elif args.command == "remove":
            removed = remove_packages(models_dir, args.package)
            for package in removed:
                where = f" ({pair_label(package.pair)} {package.version})" if package.pair else ""
                _say(f"removed {package.folder}{where}")
            for line in active_lines(package_choice(models_dir), [p.pair for p in removed if p.pair]):
                _say(line)
        elif args.command == "check":
            from .bootstrap import make_engine

            return check_packages(make_engine(settings))
        elif args.command == "retranslate":
            _say(json.dumps(retranslate_now(settings)))
        elif args.command == "test-packages":
            from .testpackages import TEST_LABEL, build_test_packages

            for path in build_test_packages(args.output_dir):
                _say(f"{path}  ({TEST_LABEL})")
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
