"""LibreTranslate's API on the translate service: `POST /translate`, `GET /languages`, `POST /detect`.

Tools people already point at LibreTranslate (browser extensions, CAT tools, chat bots) work here
unchanged: the same paths, fields and answers, JSON or form bodies, `api_key` in the body. What
differs is underneath: a list of texts is translated in one batched engine call per package (not
one call per text), texts are segmented and laid out as for `POST /v1/translate`, and the keys are
the service's own (a reader key, in `api_key` or the usual headers).

Errors on these routes only answer in LibreTranslate's shape, `{"error": "..."}` with 400, 403, 429
or 500: `LibreRoute` maps them through `LIBRE_ERRORS`, so the rest of the service keeps the shared
shape. Shape conversion and HTML handling are pure functions; the router only wires them.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from wirewatch_common.auth import AccessDenied, authorize, presented_key
from wirewatch_common.errors import WirewatchError, brief
from wirewatch_common.http_errors import ApiError, StatusTable, status_of
from wirewatch_common.settings import ApiKey
from wirewatch_common.story import unicode_text

from .errors import NoModel, TextTooLong, TranslateError
from .freetext import language
from .markup import UnreadableMarkup, read_markup
from .pairs import PackageInfo, Pair, Route
from .segment import guess_language, split_paragraphs, split_sentences
from .units import layout

log = logging.getLogger(__name__)

AUTO = "auto"
BODY_BYTES_PER_CHAR = 12
"""Most bytes one character of text can take in a body: 4 UTF-8 bytes, each %XX in a form."""
MAX_FORM_FIELDS = 64


class TranslatesTexts(Protocol):
    """What these routes need from an engine (the real one, or a test's proxy around it)."""

    def route(self, source: str, target: str) -> Route | None:
        """Packages from source to target, or None."""
        ...

    def translate(self, info: PackageInfo, sentences: Sequence[str]) -> tuple[list[str], list[int]]:
        """Translated sentences and their source token counts."""
        ...

    def packages(self) -> Mapping[Pair, PackageInfo]:
        """Installed packages by pair."""
        ...


# --- errors -----------------------------------------------------------------------------------------


class LibreError(WirewatchError):
    """A LibreTranslate request this service refuses; the message is the whole answer."""

    code = "invalid_request"


class UnsupportedLanguage(LibreError):
    """A language no installed package reads or writes."""

    code = "unsupported_language"


class KeyRefused(LibreError):
    """No API key, or one the service does not know."""

    code = "forbidden"


LIBRE_ERRORS: StatusTable = {KeyRefused: 403, LibreError: 400, TranslateError: 400}
"""Each domain error of these routes and its status: LibreTranslate answers a bad request with 400."""

INTERNAL = "Cannot translate text: the service failed unexpectedly; the error was logged"


# --- request and response shapes ----------------------------------------------------------------


class TranslateBody(BaseModel):
    """`POST /translate`, as JSON; a form (urlencoded or multipart) carries the same fields, `q` once."""

    q: str | list[str] = Field(
        description="Text to translate, or a list of texts.", examples=["Hello world!"]
    )
    source: str = Field(description="Language code of `q`, or `auto` to detect it.", examples=["en"])
    target: str = Field(description="Language code to translate into.", examples=["ar"])
    format: Literal["text", "html"] = Field(
        default="text", description="`html`: translate the text of the markup and keep the markup."
    )
    alternatives: int = Field(
        default=0, description="Alternative translations wanted; this service has none to give."
    )
    api_key: str | None = Field(default=None, description="A reader API key (or send X-API-Key).")


class DetectBody(BaseModel):
    """`POST /detect`, as JSON or a form."""

    q: str | list[str] = Field(description="Text whose language to detect.", examples=["مرحبا بالعالم"])
    api_key: str | None = Field(default=None, description="A reader API key (or send X-API-Key).")


class DetectedLanguage(BaseModel):
    """A detected language and how sure the detector is, from 0 to 100."""

    confidence: float = Field(ge=0, le=100)
    language: str


class LibreTranslation(BaseModel):
    """`translatedText` is a list when `q` was; `detectedLanguage` only when the source was `auto`."""

    translatedText: str | list[str]
    detectedLanguage: DetectedLanguage | list[DetectedLanguage] | None = None
    alternatives: list[str] | list[list[str]] | None = None


class LanguageEntry(BaseModel):
    """An installed language and the languages it can be translated into (directly or by pivot)."""

    code: str
    name: str
    targets: list[str]


class LibreErrorBody(BaseModel):
    """LibreTranslate's error answer: one message."""

    error: str = Field(examples=["xx is not supported"])


def _form_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with `q` a single text, as a form carries it."""
    schema = model.model_json_schema()
    schema["properties"]["q"] = {"type": "string", "description": "Text to translate or detect."}
    return schema


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    form = _form_schema(model)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": model.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": form},
                "multipart/form-data": {"schema": form},
            },
        }
    }


_FAULT_RESPONSES: dict[int | str, dict[str, Any]] = {
    500: {"model": LibreErrorBody, "description": "Translation failed; the error was logged."},
    "default": {"model": LibreErrorBody, "description": "Any other error, in LibreTranslate's shape."},
}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": LibreErrorBody,
        "description": "A missing field, a language or format that is not supported, text over the limit.",
    },
    403: {"model": LibreErrorBody, "description": "No API key, or an unknown one (keys are configured)."},
    **_FAULT_RESPONSES,
}


# --- reading a request --------------------------------------------------------------------------


def _shown(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _multipart(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The text fields of a multipart/form-data body; file parts are skipped."""
    try:
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    except UnicodeEncodeError as exc:
        msg = "Invalid request: the Content-Type header is not Latin-1 text"
        raise LibreError(msg) from exc
    message = BytesParser(_class=EmailMessage, policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        msg = "Invalid request: a multipart/form-data body without parts (is the boundary right?)"
        raise LibreError(msg)
    fields: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        try:
            fields.append((name, data.decode(part.get_content_charset() or "utf-8")))
        except (LookupError, UnicodeDecodeError) as exc:
            msg = f"Invalid request: form field {_shown(name)} is not text in its charset"
            raise LibreError(msg) from exc
        if len(fields) > MAX_FORM_FIELDS:
            msg = f"Invalid request: a form may have at most {MAX_FORM_FIELDS} fields"
            raise LibreError(msg)
    return fields


def request_fields(
    content_type: str, body: bytes, query: Sequence[tuple[str, str]]
) -> tuple[dict[str, Any], bool]:
    """The fields of a LibreTranslate request and whether they came from a form (not JSON).

    JSON bodies are read as they are; otherwise, as LibreTranslate does, fields come from the query
    string and then a urlencoded or multipart form, the first value of a name winning.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
            msg = f"Invalid JSON format: {_shown(brief(exc), 120)}"
            raise LibreError(msg) from exc
        if not isinstance(data, dict):
            msg = 'Invalid JSON format: the body must be an object such as {"q": ...}'
            raise LibreError(msg)
        return data, False
    pairs = list(query)
    if media == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
            pairs += parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS)
        except ValueError as exc:  # UnicodeDecodeError included
            msg = f"Invalid request: the form is not valid UTF-8 form data ({brief(exc, 100)})"
            raise LibreError(msg) from exc
    elif media == "multipart/form-data":
        pairs += _multipart(content_type, body)
    elif body.strip():
        shown = _shown(media) or "none"
        msg = f"Invalid request: send JSON or a form (urlencoded or multipart/form-data), not {shown}"
        raise LibreError(msg)
    fields: dict[str, Any] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields, True


def _text_field(fields: Mapping[str, Any], name: str) -> str | None:
    """A field that must be text when present; empty counts as missing."""
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        msg = f"Invalid request: {name} must be a text, not {type(value).__name__}"
        raise LibreError(msg)
    try:
        return unicode_text(value)
    except ValueError as exc:
        msg = f"Invalid request: {name}: {exc}"
        raise LibreError(msg) from exc


def texts_field(fields: Mapping[str, Any], *, form: bool) -> tuple[list[str], bool]:
    """`q` as a list of texts, and whether it was a list (the answer then is one too)."""
    q = fields.get("q")
    if q is None or q == "" or q == []:
        msg = "Invalid request: q is missing (a text, or a list of texts)"
        raise LibreError(msg)
    batch = isinstance(q, list)
    items = q if isinstance(q, list) else [q]
    texts: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            where = f"q[{index}]" if batch else "q"
            msg = f"Invalid request: {where} must be a text, not {type(item).__name__}"
            raise LibreError(msg)
        try:
            unicode_text(item)
        except ValueError as exc:
            msg = f"Invalid request: q: {exc}"
            raise LibreError(msg) from exc
        # A form sends CR LF line ends (RFC 2046); keep them as LF so limits count what JSON would.
        texts.append(item.replace("\r\n", "\n").replace("\r", "\n") if form else item)
    return texts, batch


@dataclass(frozen=True)
class TranslateCall:
    """A `POST /translate` request, checked."""

    texts: tuple[str, ...]
    batch: bool
    source: str
    target: str
    html: bool = False
    alternatives: int = 0


def translate_call(fields: Mapping[str, Any], *, form: bool) -> TranslateCall:
    """Check a `/translate` request's fields; LibreTranslate's order: q, source, target, format."""
    texts, batch = texts_field(fields, form=form)
    source = _text_field(fields, "source")
    if source is None:
        msg = "Invalid request: source is missing (a language code, or auto)"
        raise LibreError(msg)
    target = _text_field(fields, "target")
    if target is None:
        msg = "Invalid request: target is missing (a language code)"
        raise LibreError(msg)
    kind = _text_field(fields, "format") or "text"
    if kind not in ("text", "html"):
        msg = f"{_shown(kind)} format is not supported; use text or html"
        raise LibreError(msg)
    raw = fields.get("alternatives", 0)
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        msg = "Invalid request: alternatives must be a whole number"
        raise LibreError(msg)
    try:
        alternatives = max(0, int(raw or 0))
    except ValueError as exc:
        msg = "Invalid request: alternatives must be a whole number"
        raise LibreError(msg) from exc
    return TranslateCall(tuple(texts), batch, source, target, kind == "html", alternatives)


# --- languages and detection --------------------------------------------------------------------


def detect(text: str) -> DetectedLanguage:
    """The language of a text as `segment.guess_language` tells it, with a confidence from 0 to 100.

    The guess goes by script (Arabic letters → ar) and by letters only Turkish uses (ğ ı İ ş → tr),
    else en. The confidence is the share of the text's letters written in the guessed language's
    script, so it says how mixed the text is, not how English differs from Turkish. A text without
    letters is en with confidence 0, as LibreTranslate answers when it detects nothing.
    """
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return DetectedLanguage(confidence=0.0, language="en")
    found = guess_language(text)
    script = "ARABIC" if found == "ar" else "LATIN"
    share = sum(unicodedata.name(ch, "").startswith(script) for ch in letters) / len(letters)
    return DetectedLanguage(confidence=round(100 * share, 1), language=found)


def package_language_names(packages: Sequence[PackageInfo]) -> dict[str, str]:
    """Language names from the packages' own metadata (`from_name`, `to_name`); unreadable ones skipped."""
    names: dict[str, str] = {}
    for info in packages:
        try:
            meta = json.loads((Path(info.path) / "metadata.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict):
            continue
        for code, key in ((info.from_code, "from_name"), (info.to_code, "to_name")):
            name = meta.get(key)
            if isinstance(name, str) and name.strip():
                names.setdefault(code, name.strip())
    return names


def language_entries(
    codes: Sequence[str], names: Mapping[str, str], reachable: Callable[[str, str], bool]
) -> list[LanguageEntry]:
    """`GET /languages`: every installed language, its name (the code when unknown) and its targets."""
    ordered = sorted(set(codes))
    return [
        LanguageEntry(
            code=code,
            name=names.get(code, code),
            targets=[t for t in ordered if t != code and reachable(code, t)],
        )
        for code in ordered
    ]


def installed_languages(packages: Sequence[PackageInfo]) -> list[str]:
    """Every language an installed package reads or writes."""
    return sorted({code for info in packages for code in info.pair})


def supported(tag: str, field: str, installed: Sequence[str], *, detected: bool = False) -> str:
    """The primary language of `tag` when a package handles it, else UnsupportedLanguage naming it."""
    code = language(tag, field)
    if code not in installed:
        what = f"{_shown(tag)} (detected)" if detected else _shown(tag)
        msg = f"{what} is not supported; installed: {', '.join(installed) or 'none'}"
        raise UnsupportedLanguage(msg)
    return code


# --- translation ------------------------------------------------------------------------------


def translate_texts(engine: TranslatesTexts, texts: Sequence[str], source: str, target: str) -> list[str]:
    """Translate many texts with one engine call per package of the route, as `/v1/translate` lays them out.

    Every text is split into paragraphs, laid out (`units.layout`: figures and codes copied) and
    cut into sentences; the sentences of all texts go to the engine together, so a list of texts
    costs one batched call (two through a pivot), and each text is put back together from its share.
    """
    if source == target:
        return list(texts)
    route = engine.route(source, target)
    if route is None:
        raise NoModel(source, target, sorted(f"{s}→{t}" for s, t in engine.packages()))
    layouts = [[layout(p) for p in split_paragraphs(text)] for text in texts]
    plans = [[[split_sentences(seg, source) for seg in lay.segments] for lay in laid] for laid in layouts]
    flat = [s for plan in plans for para in plan for seg in para for s in seg]
    if flat:
        for info in route:
            flat, _ = engine.translate(info, flat)
    rest = iter(flat)
    return [
        "\n".join(
            lay.render([" ".join(filter(None, (next(rest) for _ in seg))) for seg in para])
            for lay, para in zip(laid, plan, strict=True)
        )
        for laid, plan in zip(layouts, plans, strict=True)
    ]


# --- the answer -------------------------------------------------------------------------------


def translation_answer(
    translated: Sequence[str], call: TranslateCall, detected: DetectedLanguage | None
) -> LibreTranslation:
    """Shape translations as LibreTranslate does: a string or a list, with the detection when `auto`."""
    answer = LibreTranslation(translatedText=list(translated) if call.batch else translated[0])
    if detected is not None:
        answer.detectedLanguage = [detected] * len(translated) if call.batch else detected
    if call.alternatives > 0:  # no alternative hypotheses are made; LibreTranslate answers [] for html too
        none: list[str] = []
        answer.alternatives = [list(none) for _ in translated] if call.batch else none
    return answer


def translate_request(engine: TranslatesTexts, call: TranslateCall, *, max_chars: int) -> LibreTranslation:
    """Answer a checked `/translate` request: limit, detection, languages, one batch, markup put back."""
    chars = sum(len(t) for t in call.texts)
    if chars > max_chars:
        raise TextTooLong(chars, max_chars)
    try:
        markups = [read_markup(t) for t in call.texts] if call.html else []
    except UnreadableMarkup as exc:
        msg = f"Invalid request: the HTML could not be read: {exc}"
        raise LibreError(msg) from exc
    units = [u for m in markups for u in m.texts] if call.html else list(call.texts)
    installed = installed_languages(list(engine.packages().values()))
    detected = detect("\n".join(units)) if call.source.strip().lower() == AUTO else None
    if detected is not None:
        source = supported(detected.language, "source", installed, detected=True)
    else:
        source = supported(call.source, "source", installed)
    target = supported(call.target, "target", installed)
    translated = translate_texts(engine, units, source, target)
    if call.html:
        rest = iter(translated)
        translated = [m.render([next(rest) for _ in m.texts]) for m in markups]
    return translation_answer(translated, call, detected)


def libre_error(exc: Exception) -> JSONResponse:
    """Any error raised on these routes as LibreTranslate answers it: `{"error": message}`."""
    headers: dict[str, str] = {}
    if isinstance(exc, WirewatchError):
        status, message = status_of(exc, LIBRE_ERRORS), exc.message
        if status >= 500:
            message = INTERNAL
    elif isinstance(exc, ApiError):
        status, message, headers = exc.status, exc.message, exc.headers
        if status == 401:
            status = 403  # LibreTranslate refuses keys with 403
        elif status == 429:
            message = f"Slowdown: {message}"
    elif isinstance(exc, StarletteHTTPException):
        status, message = exc.status_code, str(exc.detail)
        headers = dict(exc.headers or {})
    elif isinstance(exc, RequestValidationError):
        status, message = 400, "Invalid request: " + "; ".join(str(e.get("msg", "")) for e in exc.errors())
    else:
        log.exception("unhandled error on a LibreTranslate route")
        return JSONResponse({"error": INTERNAL}, status_code=500)
    log.log(
        logging.WARNING if status >= 500 else logging.INFO,
        "request refused",
        extra={"status": status, "api": "libretranslate", "error": _shown(message, 300)},
    )
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class LibreRoute(APIRoute):
    """A route whose errors, its dependencies' included, answer in LibreTranslate's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so every error becomes `libre_error`'s answer."""
        handle = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:  # noqa: BLE001 - every error of these routes answers in one shape
                return libre_error(exc)

        return answer


# --- routes -----------------------------------------------------------------------------------


def router(engine: TranslatesTexts, keys: Sequence[ApiKey], *, max_chars: int) -> APIRouter:
    """LibreTranslate's routes at the root, served by `engine`; `max_chars` bounds a request's texts."""
    api = APIRouter(tags=["libretranslate"], route_class=LibreRoute)
    body_limit = BODY_BYTES_PER_CHAR * max_chars + 65_536

    async def fields_of(
        request: Request,
        x_api_key: Annotated[
            str | None, Header(description="API key, unless `api_key` is in the body.")
        ] = None,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> None:
        """Read the request's fields into `request.state.libre`, once its key (body or headers) is accepted."""
        size = 0
        chunks: list[bytes] = []
        async for chunk in request.stream():
            size += len(chunk)
            if size > body_limit:
                msg = f"Invalid request: the body is over {body_limit} bytes; texts may have {max_chars} characters"
                raise LibreError(msg)
            chunks.append(chunk)
        fields, form = request_fields(
            request.headers.get("content-type", ""), b"".join(chunks), request.query_params.multi_items()
        )
        key = _text_field(fields, "api_key") or presented_key(x_api_key, authorization)
        try:
            authorize(keys, "reader", key, None)
        except AccessDenied as denied:
            if key is None:
                msg = "An API key is needed: send api_key in the body, or X-API-Key"
                raise KeyRefused(msg) from None
            msg = "Invalid API key"
            raise KeyRefused(msg) from denied
        request.state.libre = (fields, form)

    keyed = [Depends(fields_of)]

    @api.post(
        "/translate",
        operation_id="libretranslate_translate",
        response_model_exclude_none=True,
        responses=_ERROR_RESPONSES,
        openapi_extra=_request_body(TranslateBody),
        dependencies=keyed,
    )
    def translate(request: Request) -> LibreTranslation:
        """Translate a text or a list of texts (LibreTranslate's API); a list goes to the engine as one batch."""
        fields, form = request.state.libre
        return translate_request(engine, translate_call(fields, form=form), max_chars=max_chars)

    @api.get("/languages", operation_id="libretranslate_languages", responses=_FAULT_RESPONSES)
    def languages() -> list[LanguageEntry]:
        """Installed languages and their targets (LibreTranslate's API; open, as LibreTranslate's is)."""
        packages = list(engine.packages().values())
        codes = installed_languages(packages)
        return language_entries(
            codes, package_language_names(packages), lambda s, t: engine.route(s, t) is not None
        )

    @api.post(
        "/detect",
        operation_id="libretranslate_detect",
        responses=_ERROR_RESPONSES,
        openapi_extra=_request_body(DetectBody),
        dependencies=keyed,
    )
    def detect_language(request: Request) -> list[DetectedLanguage]:
        """Detect the language of a text (LibreTranslate's API): one candidate, the detector's guess."""
        fields, form = request.state.libre
        texts, _ = texts_field(fields, form=form)
        return [detect("\n".join(texts))]

    return api
