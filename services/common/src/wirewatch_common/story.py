"""The story contract: one JSON document per story version or rendition, modelled on IPTC ninjs 2.x.

Every message on a wirewatch topic is a `Story` (or a `Receipt`). An original carries no
`translation` block; a rendition in another language carries one that says which story and
version it renders, with which engine and model package, and whether it succeeded.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION: Literal[1] = 1
"""Bumped on any change a consumer could notice; carried in every message and header."""

_BCP47 = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
STORY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"


def normalize_language(tag: str) -> str:
    """Return a BCP 47 tag in canonical case (`en`, `en-GB`, `zh-Hant-TW`) or raise ValueError."""
    tag = tag.strip().replace("_", "-")
    if len(tag) > 35 or not _BCP47.match(tag):  # 35: the longest tag RFC 5646 asks every system to hold
        msg = f"{tag!r} is not a BCP 47 language tag such as 'en', 'ar' or 'tr-TR'"
        raise ValueError(msg)
    head, *rest = tag.split("-")
    parts = [head.lower()]
    for part in rest:
        if len(part) == 2 and part.isalpha():
            parts.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            parts.append(part.title())
        else:
            parts.append(part.lower())
    return "-".join(parts)


def primary_language(tag: str) -> str:
    """Return the primary subtag (`en` for `en-GB`), the unit translation pairs are chosen by."""
    return tag.split("-", 1)[0].lower()


_SURROGATE = re.compile("[\ud800-\udfff]")


def unicode_text(value: str) -> str:
    """Refuse lone UTF-16 surrogates (from a JSON escape such as backslash-ud800): UTF-8 cannot carry them."""
    if _SURROGATE.search(value):
        msg = "the text holds a lone UTF-16 surrogate, which is not a Unicode character"
        raise ValueError(msg)
    return value


Text = Annotated[str, AfterValidator(unicode_text)]
"""A string checked in full: pydantic's fast path for `list[str]` lets surrogates through."""

Language = Annotated[
    str,
    AfterValidator(normalize_language),
    Field(description="BCP 47 language tag, e.g. 'en', 'ar', 'tr'.", examples=["en", "ar", "tr"]),
]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Party(_Part):
    """Who provides or originates a story (ninjs `provider` / `infosource`)."""

    name: str = Field(min_length=1, max_length=500)
    uri: str | None = Field(default=None, max_length=2000)


class Place(_Part):
    """A place named in a dateline or located by the story."""

    name: str = Field(min_length=1, max_length=500)
    code: str | None = Field(default=None, max_length=100, description="e.g. an ISO 3166 country code")
    uri: str | None = Field(default=None, max_length=2000)


class Subject(_Part):
    """A subject classification (IPTC media topic, agency category, keyword)."""

    name: str = Field(min_length=1, max_length=500)
    code: str | None = Field(default=None, max_length=200)
    scheme: str | None = Field(
        default=None, max_length=200, description="e.g. 'medtop', 'subj', 'anpa-category'"
    )
    uri: str | None = Field(default=None, max_length=2000)


class Dateline(_Part):
    """The dateline as printed, with the places it names."""

    text: str = Field(max_length=1000)
    places: list[Place] = Field(default_factory=list)


class RenditionStatus(StrEnum):
    """What became of a rendition: text present, no model for the pair, the engine failed, or not done yet.

    `partial` holds the headline and the first paragraphs translated so far; the full rendition
    of the same version replaces it, and the index sends no receipt for a partial one.
    """

    TRANSLATED = "translated"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"
    PARTIAL = "partial"


class RepairKind(StrEnum):
    """What ingest changed in what the source sent, so the desk can show it and nothing changes silently."""

    IMPLAUSIBLE_DATE = "implausible_date"
    ENCODING = "encoding"
    TRUNCATED = "truncated"


class Repair(_Part):
    """One change ingest made to a source value, with the value as the source sent it."""

    kind: RepairKind
    field: str = Field(max_length=200, description="The story field that was changed, e.g. 'versioncreated'.")
    original: str | None = Field(
        default=None, max_length=2000, description="The source's value (cut to 2,000 characters)."
    )
    detail: str | None = Field(default=None, max_length=500, description="What was done and why.")


class QualityFlag(StrEnum):
    """A sign that a rendition may not say what its original says, for the desk to weigh."""

    COPY_THROUGH = "copy_through"
    """Sentences came back as the source, or mostly in the source's script."""
    LENGTH_RATIO = "length_ratio"
    """Sentences far shorter or longer than a translation of them should be."""
    REPETITION = "repetition"
    """A phrase repeated over and over (a decoding loop)."""
    UNTRANSLATED = "untranslated"
    """Sentences left in the source language because they were too long to translate."""
    LOW_CONFIDENCE = "low_confidence"
    """The model's own scores were low."""
    PIVOT = "pivot"
    """Made through an intermediate language: two models' errors add up (informative, not low)."""


class Quality(_Part):
    """Signals computed from the model's output and scores; none proves a translation right."""

    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Geometric mean of the model's token probabilities over the rendition (1 is sure).",
    )
    flags: list[QualityFlag] = Field(default_factory=list, description="Signs of a doubtful rendition.")
    sentences: int = Field(default=0, ge=0, description="Sentences translated.")
    flagged_sentences: int = Field(default=0, ge=0, description="Sentences with at least one flag.")
    reason: str | None = Field(
        default=None, max_length=500, description="The flags in words, for the desk's marker."
    )

    @property
    def low(self) -> bool:
        """Whether a desk should read this rendition with care (a pivot alone is not low quality)."""
        return any(f is not QualityFlag.PIVOT for f in self.flags)


class Translation(_Part):
    """Provenance of a rendition: what it translates, with what, and how it went."""

    of_id: str = Field(pattern=STORY_ID_PATTERN, description="Id of the original story.")
    of_version: int = Field(ge=1, description="Version of the original that was translated.")
    source_language: Language
    target_language: Language
    status: RenditionStatus
    engine: str = Field(default="argos-translate", max_length=100)
    package: str | None = Field(
        default=None, max_length=200, description="Model package(s) used, e.g. 'translate-en_ar'."
    )
    package_version: str | None = Field(default=None, max_length=100)
    pivot: list[Language] = Field(
        default_factory=list, description="Intermediate languages, e.g. ['en'] for fr→en→ar."
    )
    error: str | None = Field(
        default=None, max_length=2000, description="Why the rendition is unavailable or failed."
    )
    translated_at: AwareDatetime
    duration_ms: float | None = Field(default=None, ge=0)
    quality: Quality | None = Field(default=None, description="Quality signals of a translated rendition.")
    test_package: bool = Field(
        default=False,
        description="Made by a wirewatch test package: meaningless text for demos, never a translation.",
    )
    kept_pivot: bool = Field(
        default=False,
        description=(
            "English made as the intermediate step of translating the original into another language, "
            "kept so the story reads in English."
        ),
    )


class Story(BaseModel):
    """One version of a story, original or rendition; the message value on the story topics."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, description="Version of this contract.")
    id: str = Field(pattern=STORY_ID_PATTERN, description="Stable story id; the Kafka key. Updates keep it.")
    uri: str = Field(
        min_length=1, max_length=2000, description="The source's own identifier, or a wirewatch URN."
    )
    version: int = Field(
        ge=1, description="Monotonic per story: a correction or write-through gets a higher one."
    )
    type: Literal["text"] = "text"
    pubstatus: Literal["usable", "withheld", "canceled"] = "usable"
    firstcreated: AwareDatetime
    versioncreated: AwareDatetime
    received: AwareDatetime | None = Field(default=None, description="When ingest accepted this version.")
    language: Language
    language_detected: Language | None = Field(
        default=None,
        description="What the offline detector found, when it differs from the declared language.",
    )
    headline: str = Field(max_length=2000)
    body: list[Text] = Field(default_factory=list, description="Body text as paragraphs, in order.")
    summary: str | None = Field(default=None, max_length=10_000)
    byline: str | None = Field(default=None, max_length=1000)
    credit: str | None = Field(
        default=None, max_length=1000, description="e.g. '(Reporting by ...; Editing by ...)'"
    )
    dateline: Dateline | None = None
    provider: Party | None = None
    source: Party | None = Field(
        default=None, description="The originating source when it is not the provider."
    )
    urgency: int | None = Field(default=None, ge=1, le=9, description="1 most urgent, 9 least (IPTC).")
    subjects: list[Subject] = Field(default_factory=list)
    keywords: list[Text] = Field(default_factory=list)
    copyrightnotice: str | None = Field(default=None, max_length=2000)
    usageterms: str | None = Field(default=None, max_length=2000)
    format: str | None = Field(
        default=None, max_length=50, description="Wire format it arrived in, e.g. 'nitf'."
    )
    embargoed: AwareDatetime | None = Field(
        default=None,
        description=(
            "Not to be published before this moment (ninjs `embargoed`). Search, story view, stream and "
            "desk hide the story until then; downstream consumers must honour it too."
        ),
    )
    repairs: list[Repair] = Field(
        default_factory=list, description="Values ingest repaired or replaced, with what the source sent."
    )
    translation: Translation | None = Field(default=None, description="Present only on renditions.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.versioncreated < self.firstcreated:
            msg = "versioncreated is earlier than firstcreated"
            raise ValueError(msg)
        t = self.translation
        if t is None:
            if not self.headline.strip() and not any(p.strip() for p in self.body):
                msg = "an original story needs a headline or body text"
                raise ValueError(msg)
            return self
        if t.of_id != self.id:
            msg = f"a rendition keeps its story's id: translation.of_id {t.of_id!r} != id {self.id!r}"
            raise ValueError(msg)
        if t.target_language != self.language:
            msg = "translation.target_language must equal the rendition's language"
            raise ValueError(msg)
        if t.status is RenditionStatus.TRANSLATED and not self.headline.strip():
            msg = "a translated rendition needs a headline"
            raise ValueError(msg)
        return self

    @property
    def is_rendition(self) -> bool:
        """Tell originals from renditions."""
        return self.translation is not None

    def embargoed_at(self, now: datetime) -> bool:
        """Tell whether the story is still under embargo at `now`."""
        return self.embargoed is not None and self.embargoed > now

    @property
    def document_id(self) -> str:
        """Id of this language version in a search index: one per story and language, so replays overwrite."""
        return f"{self.id}.{self.language}"

    def to_json(self) -> bytes:
        """Serialise for the wire, leaving out empty optional fields."""
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Story:
        """Parse and validate a message value."""
        return cls.model_validate_json(raw)


class Receipt(BaseModel):
    """A service's confirmation that it is done with a story version in one language.

    The index confirms that the version is searchable; the alerts service, that it matched it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    story_id: str = Field(pattern=STORY_ID_PATTERN)
    version: int = Field(ge=1)
    language: Language
    status: RenditionStatus | None = Field(
        default=None, description="For renditions, the status that was indexed."
    )
    indexed_at: AwareDatetime
    backend: str = Field(max_length=50, description="'tantivy' or 'elasticsearch'.")
    service: Literal["index", "alerts"] = Field(
        default="index",
        description=(
            "Who confirms: the index (the version is searchable) or the alerts service (the version was "
            "matched against every watchlist and its alerts are stored)."
        ),
    )

    def to_json(self) -> bytes:
        """Serialise for the wire."""
        return self.model_dump_json(exclude_none=True).encode()


CONTRACTS: dict[str, type[BaseModel]] = {"story": Story, "receipt": Receipt}
"""Models published as JSON Schema under deploy/schemas/, by file stem."""


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Return the model's JSON Schema as published (what consumers validate against)."""
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
