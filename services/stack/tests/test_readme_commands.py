"""Every `wirewatch` and `wirewatch-translate` command the README shows must parse as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from wirewatch_stack.cli import build_parser

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[3] / "README.md"
BLOCK = re.compile(r"```sh\n(.*?)```", re.S)


def _commands(program: str) -> list[list[str]]:
    found = []
    for block in BLOCK.findall(README.read_text(encoding="utf-8")):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith(f".venv/bin/{program} "):
                found.append(shlex.split(line)[1:])
    return found


def _check_translate_command(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from wirewatch_translate.cli import main as translate_cli

    with pytest.raises(SystemExit) as done:
        translate_cli([args[0], "--help"])
    assert done.value.code == 0, args
    help_text = capsys.readouterr().out
    for flag in (a for a in args[1:] if a.startswith("--")):
        assert flag in help_text, f"wirewatch-translate {args[0]} has no {flag}"


def test_the_readme_shows_the_tour_commands():
    shown = {tuple(args[:1]) for args in _commands("wirewatch")}
    assert {("ingest",), ("search",), ("status",), ("models",), ("watch",)} <= shown


@pytest.mark.parametrize("args", _commands("wirewatch"), ids=" ".join)
def test_each_wirewatch_command_in_the_readme_parses(args, capsys):
    parsed = build_parser().parse_args(args)
    if parsed.command == "models":
        _check_translate_command(parsed.rest, capsys)


@pytest.mark.parametrize("args", _commands("wirewatch-translate"), ids=" ".join)
def test_each_wirewatch_translate_command_in_the_readme_parses(args, capsys):
    _check_translate_command(args, capsys)
