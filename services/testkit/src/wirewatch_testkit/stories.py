"""Sample stories written for wirewatch's tests, in English, Arabic and Turkish, and builders for more.

One set shared by the index's tests, the cross-service tests and the benchmarks; nothing here
touches an engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wirewatch_common.story import Story

DAY = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def original(story_id: str, headline: str, body: list[str], **fields: Any) -> Story:
    """Build an original story (English by default); keyword arguments override any field."""
    base: dict[str, Any] = {
        "id": story_id,
        "uri": f"urn:wirewatch:test:{story_id}",
        "version": 1,
        "firstcreated": DAY,
        "versioncreated": DAY,
        "language": "en",
        "headline": headline,
        "body": body,
        "provider": {"name": "Reuters"},
    }
    return Story.model_validate(base | fields)


def rendition(of: Story, language: str, headline: str, body: list[str], status: str = "translated") -> Story:
    """Build a rendition of `of` in `language` with the given text and status."""
    return Story.model_validate(
        of.model_dump()
        | {
            "language": language,
            "headline": headline,
            "body": body,
            "translation": {
                "of_id": of.id,
                "of_version": of.version,
                "source_language": of.language,
                "target_language": language,
                "status": status,
                "translated_at": of.versioncreated + timedelta(minutes=1),
            },
        }
    )


CEASEFIRE = original(
    "ww-ceasefire",
    "Ceasefire holds in Idlib as talks resume",
    [
        "The ceasefire agreed on Monday held overnight in İdlib province, officials said.",
        "Negotiators from both sides meet in Geneva on Friday.",
    ],
    dateline={"text": "IDLIB, Syria", "places": [{"name": "Idlib", "code": "SY"}]},
)
CEASEFIRE_AR = rendition(
    CEASEFIRE,
    "ar",
    "صمود وقف إطلاق النار في إدلب مع استئناف المحادثات",
    ["صَمَدَت الهُدْنَةُ التي اتُّفِقَ عليها يوم الاثنين في محافظة إدلب.", "يلتقي المفاوضون في جنيف يوم الجمعة."],
)
CEASEFIRE_TR = rendition(
    CEASEFIRE,
    "tr",
    "İdlib'de ateşkes sürüyor, görüşmeler yeniden başlıyor",
    [
        "Pazartesi günü varılan ateşkes İdlib'deki çatışmaları durdurdu.",
        "Müzakereciler Cuma günü Cenevre'de bir araya gelecek.",
    ],
)
STRIKE = original(
    "ww-strike",
    "Port strike halts grain exports",
    ["Dockworkers walked out on Tuesday.", "Negotiations with the union resume on Friday."],
    provider={"name": "AP"},
    dateline={"text": "ODESA, Ukraine", "places": [{"name": "Odesa", "code": "UA"}]},
    versioncreated=DAY + timedelta(days=1),
)
DERBY = original(
    "ww-derby",
    "Ceasefire talks overshadow football derby",
    ["Fans marked the ceasefires before kick-off; the teams resume training on Monday."],
    provider={"name": "AP"},
    versioncreated=DAY + timedelta(hours=3),
)
SECIM = original(
    "ww-secim",
    "İSTANBUL'DA SEÇİM SONUÇLARI AÇIKLANDI",
    ["Isparta ve Iğdır'da sandıklar kapandı."],
    language="tr",
    provider={"name": "Anadolu"},
    versioncreated=DAY + timedelta(hours=5),
)
SAMPLES = [CEASEFIRE, CEASEFIRE_AR, CEASEFIRE_TR, STRIKE, DERBY, SECIM]
