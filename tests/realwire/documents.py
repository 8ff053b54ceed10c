"""Hostile-but-valid wire documents, written for the real-wire soak.

Each is something agencies and feeds really send, pushed to an edge: dates centuries away, a
paragraph of 50,000 characters, a table of 2,000 rows, a headline of punctuation, bidi controls
and zero-width characters, mixed scripts and emoji, control bytes inside CDATA, a feed of
thousands of items, one guid with two contents, and an embargo a little ahead.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

STAMP = "2026-11-20T08:00:00Z"


def _ninjs(uri: str, headline: str, body: str, **extra: object) -> str:
    doc: dict[str, object] = {
        "uri": uri,
        "type": "text",
        "version": "1",
        "versioncreated": STAMP,
        "language": "en",
        "headlines": [{"role": "main", "value": headline}],
        "bodies": [{"role": "main", "contenttype": "text/plain", "value": body}],
    }
    doc.update(extra)
    return json.dumps(doc, ensure_ascii=False)


def _rss(items: list[tuple[str, str, str, str]]) -> str:
    """items: (guid, title, description, pubDate)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        "<title>Soak desk wire</title><link>https://soak.wirewatch.invalid/</link>"
        "<description>Written for the real-wire soak</description><language>en</language>"
    ]
    for guid, title, description, date in items:
        parts.append(
            f'<item><guid isPermaLink="false">{guid}</guid><title>{title}</title>'
            f"<link>https://soak.wirewatch.invalid/{guid}</link>"
            f"<description>{description}</description><pubDate>{date}</pubDate></item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts)


def _sentence(i: int) -> str:
    towns = ("Larkspur", "Eastmoor", "Quayside", "Fernhill", "Oldbridge", "Saltmarsh")
    return (
        f"crews in {towns[i % len(towns)]} cleared drain number {i} and checked the pumps along the "
        f"river road, the council said"
    )


def hostile_documents(when: datetime, *, feed_items: int, embargo_in: float) -> dict[str, bytes]:
    """File name → bytes; `when` is now, for the embargo and the 'tomorrow-plus' date."""
    docs: dict[str, str | bytes] = {}
    far_future = format_datetime(datetime(2900, 1, 1, tzinfo=UTC))
    docs["far-future.rss.xml"] = _rss(
        [
            (
                "soak-future-1",
                "Town hall clock repaired after a year",
                "The clock strikes again.",
                far_future,
            ),
            (
                "soak-future-2",
                "Harbour lights switched to LED",
                "The new lamps use a third of the power.",
                format_datetime(when + timedelta(days=30)),
            ),
        ]
    )
    docs["far-past.ninjs.json"] = _ninjs(
        "urn:wirewatch-soak:far-past",
        "Archive photographs of the old tram line found",
        "A box of glass negatives turned up in the depot attic.",
        versioncreated="0001-01-01T00:00:00Z",
        firstcreated="1066-10-14T09:00:00Z",
    )
    long_paragraph = ", ".join(_sentence(i) for i in range(400))[:50_000]
    docs["long-paragraph.txt"] = (
        f"Council publishes its drainage log\n\nLARKSPUR (Soak Wire) - {long_paragraph}.\n"
    )
    rows = "\n".join(
        f"{('Larkspur', 'Eastmoor', 'Quayside', 'Fernhill')[i % 4]}{i:<6}  {i % 31:>3}  {-(i % 9):>3}  "
        f"{(i * 7) % 100:>3}/{(i * 3) % 50:<3} {('sunny', 'rain', 'fog', 'snow')[i % 4]}"
        for i in range(2000)
    )
    docs["table-2000.txt"] = (
        "Regional temperatures\n\nEASTMOOR (Soak Wire) - Temperatures recorded at noon:\n\n"
        f"{rows}\n\nForecasters expect frost overnight.\n"
    )
    docs["punctuation-headline.ninjs.json"] = _ninjs(
        "urn:wirewatch-soak:punctuation",
        "!!! ??? ... --- ***",
        "The headline of this story is punctuation only; the body says the ferry sails at noon.",
    )
    docs["bidi-zero-width.ninjs.json"] = _ninjs(
        "urn:wirewatch-soak:bidi",
        "\u202eelbat\u202c Port \u200breopens\u200d after \ufeffstorm \u2066السفينة\u2069",
        "The port of Quayside\u200b reopened on Monday. \u202bالميناء\u202c welcomed the first ship.",
    )
    docs["mixed-scripts.ninjs.json"] = _ninjs(
        "urn:wirewatch-soak:mixed",
        "Festival 🎉 draws crowds: İstanbul, إسطنبول, Москва, 東京",
        "Visitors from İzmir 🇹🇷, الإسكندرية and Санкт-Петербург filled the square 🎶 on Sunday.",
    )
    docs["control-cdata.rss.xml"] = _rss(
        [
            (
                "soak-cdata-1",
                "<![CDATA[Market report \x01\x02 with control bytes]]>",
                "<![CDATA[Prices\x0b rose\x0c slightly \x1f at the weekly market.]]>",
                format_datetime(when - timedelta(hours=1)),
            )
        ]
    )
    docs["same-guid.rss.xml"] = _rss(
        [
            (
                "soak-same-guid",
                "Bridge closed for repairs",
                "The old bridge closes on Monday.",
                format_datetime(when - timedelta(hours=3)),
            ),
            (
                "soak-same-guid",
                "Bridge repairs postponed",
                "The repairs will now start in spring.",
                format_datetime(when - timedelta(hours=2)),
            ),
        ]
    )
    docs["many-items.rss.xml"] = _rss(
        [
            (
                f"soak-many-{i}",
                f"Parish notice {i}: bin collection moves",
                f"Collections in ward {i} move to Thursday.",
                format_datetime(when - timedelta(minutes=i)),
            )
            for i in range(feed_items)
        ]
    )
    docs["embargoed.ninjs.json"] = _ninjs(
        "urn:wirewatch-soak:embargo",
        "Quarterly jobs figures show hiring steady",
        "The statistics office will say hiring held steady in the quarter.",
        embargoed=(when + timedelta(seconds=embargo_in)).isoformat().replace("+00:00", "Z"),
    )
    return {name: value.encode() if isinstance(value, str) else value for name, value in docs.items()}


def write_documents(folder: Path, documents: dict[str, bytes]) -> list[Path]:
    """Write each document into `folder` and return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in documents.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths
