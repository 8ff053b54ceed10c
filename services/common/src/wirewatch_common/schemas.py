"""Publish the message contracts as JSON Schema files: `python -m wirewatch_common.schemas DIR`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from .alert_event import AlertEvent
from .story import CONTRACTS, json_schema

PUBLISHED: dict[str, type[BaseModel]] = {**CONTRACTS, "alert": AlertEvent}
"""Every message contract, by file stem: the story contract's and the alert event."""


def render_schemas() -> dict[str, str]:
    """Return each contract's schema file name and text, exactly as checked in."""
    return {
        f"{stem}.schema.json": json.dumps(json_schema(model), indent=2, ensure_ascii=False, sort_keys=True)
        + "\n"
        for stem, model in PUBLISHED.items()
    }


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema file into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    """Write the schemas to the directory given, default deploy/schemas."""
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("deploy/schemas")
    for path in write_schemas(target):
        print(path)  # noqa: T201 - a command-line tool reports what it wrote


if __name__ == "__main__":
    main()
