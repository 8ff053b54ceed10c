"""LibreTranslate's API (`/translate`, `/languages`, `/detect`) on the real engine with the test packages.

The documented examples below are LibreTranslate's own (README "API Examples" and the OpenAPI
descriptions in libretranslate/app.py), written out as JSON. The test packages translate only
en↔ar and en↔tr and produce meaningless text, so a documented request aimed at Spanish is checked
for LibreTranslate's refusal, and the same request aimed at Arabic for the documented answer's shape.
"""

import json
import re
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from wirewatch_common.service import create_app
from wirewatch_common.settings import parse_api_keys
from wirewatch_translate import api, libre
from wirewatch_translate.engine import Engine
from wirewatch_translate.libre import detect, read_markup, request_fields, translate_call
from wirewatch_translate.pairs import PackageInfo, Pair, Route

pytestmark = pytest.mark.integration

READER = "reader-key-0123456789"
WRITER = "writer-key-0123456789"
ARABIC = re.compile(r"[\u0600-\u06FF]")
LATIN = re.compile(r"[A-Za-z]")

# LibreTranslate's README, "API Examples": request bodies and the answers shown for them.
DOC_SIMPLE_REQUEST = json.loads('{"q": "Hello!", "source": "en", "target": "es"}')
DOC_SIMPLE_RESPONSE = json.loads('{"translatedText": "¡Hola!"}')
DOC_AUTO_REQUEST = json.loads('{"q": "Ciao!", "source": "auto", "target": "en"}')
DOC_AUTO_RESPONSE = json.loads(
    '{"detectedLanguage": {"confidence": 83, "language": "it"}, "translatedText": "Bye!"}'
)
DOC_HTML_REQUEST = json.loads(
    '{"q": "<p class=\\"green\\">Hello!</p>", "source": "en", "target": "es", "format": "html"}'
)
DOC_HTML_RESPONSE = json.loads('{"translatedText": "<p class=\\"green\\">¡Hola!</p>"}')
# libretranslate/app.py, the OpenAPI description of each route: its example values.
DOC_BATCH_REQUEST = json.loads('{"q": ["Hello world!"], "source": "en", "target": "es", "format": "text"}')
DOC_LANGUAGES_RESPONSE = json.loads('[{"code": "en", "name": "English", "targets": ["es"]}]')
DOC_DETECT_REQUEST = json.loads('{"q": "Hello world!"}')
DOC_DETECT_RESPONSE = json.loads('[{"confidence": 0.6, "language": "en"}]')
DOC_ERROR_RESPONSE = json.loads('{"error": "es is not supported"}')


class CountingEngine:
    """The real engine, with every `translate` call recorded (its pair and sentences) on the way through."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls: list[tuple[Pair, list[str]]] = []

    def route(self, source: str, target: str) -> Route | None:
        return self.engine.route(source, target)

    def packages(self) -> dict[Pair, PackageInfo]:
        return self.engine.packages()

    def translate(self, info: PackageInfo, sentences: Sequence[str]) -> tuple[list[str], list[int]]:
        self.calls.append((info.pair, list(sentences)))
        return self.engine.translate(info, sentences)


def _client(models_dir, keys="", max_chars=2000):
    """The service's two routers in one app, as bootstrap wires them, with a counting engine."""
    engine = CountingEngine(Engine(models_dir))
    app = create_app("translate", registry=CollectorRegistry(), errors=api.ERRORS)
    app.include_router(api.router(engine.engine, parse_api_keys(keys), max_chars=max_chars))
    app.include_router(libre.router(engine, parse_api_keys(keys), max_chars=max_chars))
    return TestClient(app), engine


def _shape(value):
    """A JSON value's shape: the keys of objects and the types of leaves, recursively."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return "number" if isinstance(value, int | float) else type(value).__name__


def _libre_error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert _shape(body) == _shape(DOC_ERROR_RESPONSE), body
    return body["error"]


def test_the_documented_simple_example(models_dir):
    client, engine = _client(models_dir)
    refused = client.post("/translate", json=DOC_SIMPLE_REQUEST)
    assert _libre_error(refused, 400) == "es is not supported; installed: ar, en, tr"
    assert engine.calls == []
    answer = client.post("/translate", json=DOC_SIMPLE_REQUEST | {"target": "ar"})
    assert answer.status_code == 200, answer.text
    assert _shape(answer.json()) == _shape(DOC_SIMPLE_RESPONSE)
    assert ARABIC.search(answer.json()["translatedText"])
    assert [pair for pair, _ in engine.calls] == [("en", "ar")]


def test_a_list_is_translated_in_one_engine_call(models_dir):
    client, engine = _client(models_dir)
    texts = ["Talks resume on Friday. Prices rose.", "Dr. Smith agreed.", "12  -3  45/32", ""]
    answer = client.post("/translate", json=DOC_BATCH_REQUEST | {"q": texts, "target": "ar"})
    assert answer.status_code == 200, answer.text
    assert _shape(answer.json()) == {"translatedText": ["str"]}
    translated = answer.json()["translatedText"]
    assert len(translated) == 4 and all(ARABIC.search(t) for t in translated[:2])
    assert translated[2:] == ["12  -3  45/32", ""], "figures are copied, an empty text stays empty"
    assert engine.calls == [(("en", "ar"), ["Talks resume on Friday.", "Prices rose.", "Dr. Smith agreed."])]

    engine.calls.clear()
    pivot = client.post(
        "/translate", json={"q": ["قالت الهيئة.", "الصادرات ستستأنف."], "source": "ar", "target": "tr"}
    )
    assert len(pivot.json()["translatedText"]) == 2
    assert [pair for pair, _ in engine.calls] == [("ar", "en"), ("en", "tr")], "one call per package"


def test_auto_source_answers_the_detected_language(models_dir):
    client, engine = _client(models_dir)
    documented = client.post("/translate", json=DOC_AUTO_REQUEST).json()
    assert _shape(documented) == _shape(DOC_AUTO_RESPONSE)
    # the detector tells scripts and Turkish letters apart: "Ciao!" reads as English, already the target
    assert documented == {
        "detectedLanguage": {"confidence": 100.0, "language": "en"},
        "translatedText": "Ciao!",
    }
    assert engine.calls == []

    arabic = client.post(
        "/translate", json={"q": "قالت الهيئة إن الصادرات ستستأنف.", "source": "auto", "target": "en"}
    )
    body = arabic.json()
    assert body["detectedLanguage"] == {"confidence": 100.0, "language": "ar"}
    assert LATIN.search(body["translatedText"]) and not ARABIC.search(body["translatedText"])

    batch = client.post(
        "/translate", json={"q": ["Bakan açıkladı.", "Görüşmeler sürüyor."], "source": "auto", "target": "ar"}
    )
    assert batch.json()["detectedLanguage"] == [{"confidence": 100.0, "language": "tr"}] * 2
    assert [pair for pair, _ in engine.calls][-2:] == [("tr", "en"), ("en", "ar")]


def test_html_keeps_the_markup_and_escapes_the_text(models_dir):
    client, engine = _client(models_dir)
    documented = client.post("/translate", json=DOC_HTML_REQUEST | {"target": "ar"})
    assert _shape(documented.json()) == _shape(DOC_HTML_RESPONSE)
    html = documented.json()["translatedText"]
    assert html.startswith('<p class="green">') and html.endswith("</p>")
    inner = html[len('<p class="green">') : -len("</p>")]
    assert ARABIC.search(inner) and "<" not in inner

    engine.calls.clear()
    page = [
        '<p title="a&amp;b">1 &lt; 2 &amp; 3 &gt; 0</p><p>Talks resume on <b>Friday</b>.</p>',
        '<script>if (a < b && c) {}</script><p translate="no">Reuters &amp; AP</p><br>Prices rose.',
    ]
    answer = client.post("/translate", json={"q": page, "source": "en", "target": "ar", "format": "html"})
    first, second = answer.json()["translatedText"]
    assert first.startswith('<p title="a&amp;b">1 &lt; 2 &amp; 3 &gt; 0</p><p>'), (
        "figures copied, escaped again"
    )
    assert re.fullmatch(
        r'<p title="a&amp;b">1 &lt; 2 &amp; 3 &gt; 0</p><p>[^<>]+ <b>[^<>]+</b>[^<>]*</p>', first
    )
    assert second.startswith('<script>if (a < b && c) {}</script><p translate="no">Reuters &amp; AP</p><br>')
    assert ARABIC.search(second.rsplit("<br>", 1)[1])
    assert len(engine.calls) == 1, "every text node of every text in one call"
    assert engine.calls[0][1] == ["Talks resume on", "Friday", "Prices rose."], 'a lone "." is copied'


def test_keys_in_the_body_a_form_or_the_header(models_dir):
    client, _ = _client(models_dir, keys=f"reader:{READER},writer:{WRITER}")
    request = {"q": "Hello!", "source": "en", "target": "ar"}
    assert client.post("/translate", json=request | {"api_key": READER}).status_code == 200
    assert client.post("/translate", json=request | {"api_key": WRITER}).status_code == 200
    assert client.post("/translate", json=request, headers={"X-API-Key": READER}).status_code == 200
    form = client.post("/translate", data=request | {"api_key": READER})
    assert form.status_code == 200 and ARABIC.search(form.json()["translatedText"])
    multipart = client.post(
        "/translate", files={k: (None, v) for k, v in (request | {"api_key": READER}).items()}
    )
    assert multipart.status_code == 200 and ARABIC.search(multipart.json()["translatedText"])
    detected = client.post("/detect", data={"q": "مرحبا بالعالم", "api_key": READER})
    assert detected.json() == [{"confidence": 100.0, "language": "ar"}]

    assert "API key" in _libre_error(client.post("/translate", json=request), 403)
    assert _libre_error(
        client.post("/translate", json=request | {"api_key": "guessed-key-0123456789"}), 403
    ) == ("Invalid API key")
    assert (
        _libre_error(client.post("/translate", data=request | {"api_key": "nope"}), 403) == "Invalid API key"
    )
    assert _libre_error(client.post("/detect", json=DOC_DETECT_REQUEST), 403)
    assert client.get("/languages").status_code == 200, "open, as LibreTranslate's is"
    assert client.post("/v1/translate", json={"text": "Hi.", "target": "ar"}).json()["error"]["code"] == (
        "unauthorized"
    ), "the service's own routes keep the shared shape"


def test_refusals_answer_in_libretranslates_shape(models_dir):
    client, engine = _client(models_dir, max_chars=40)
    assert "q is missing" in _libre_error(
        client.post("/translate", json={"source": "en", "target": "ar"}), 400
    )
    assert "target is missing" in _libre_error(
        client.post("/translate", json={"q": "Hi", "source": "en"}), 400
    )
    assert "xml format" in _libre_error(
        client.post("/translate", json=DOC_HTML_REQUEST | {"format": "xml"}), 400
    )
    assert "zz is not supported" in _libre_error(
        client.post("/translate", json={"q": "Hi", "source": "zz", "target": "ar"}), 400
    )
    assert "q[1] must be a text" in _libre_error(
        client.post("/translate", json={"q": ["Hi", 3], "source": "en", "target": "ar"}), 400
    )
    assert "the limit is 40" in _libre_error(
        client.post("/translate", json={"q": ["x" * 30, "y" * 11], "source": "en", "target": "ar"}), 400
    ), "a list shares the limit"
    assert "Invalid JSON" in _libre_error(
        client.post("/translate", content=b'{"q": ', headers={"content-type": "application/json"}), 400
    )
    assert "surrogate" in _libre_error(
        client.post(
            "/translate",
            content=b'{"q": "bad \\ud800", "source": "en", "target": "ar"}',
            headers={"content-type": "application/json"},
        ),
        400,
    )
    assert "not text/plain" in _libre_error(
        client.post("/translate", content=b"Hello", headers={"content-type": "text/plain"}), 400
    )
    assert engine.calls == []
    unknown_route = client.post("/v1/translate", json={"text": "Hi.", "source": "zz-x-y!", "target": "ar"})
    assert unknown_route.json()["error"]["code"] == "bad_language", "the shared shape stays on /v1"


def test_languages_and_detect_match_the_documented_shapes(models_dir):
    client, _ = _client(models_dir)
    languages = client.get("/languages").json()
    assert _shape(languages) == _shape(DOC_LANGUAGES_RESPONSE)
    assert languages == [
        {"code": "ar", "name": "Arabic", "targets": ["en", "tr"]},
        {"code": "en", "name": "English", "targets": ["ar", "tr"]},
        {"code": "tr", "name": "Turkish", "targets": ["ar", "en"]},
    ], "names from the packages' metadata; ar→tr and tr→ar through the English pivot"
    english = client.post("/detect", json=DOC_DETECT_REQUEST).json()
    assert _shape(english) == _shape(DOC_DETECT_RESPONSE)
    assert english == [{"confidence": 100.0, "language": "en"}]
    turkish = client.post("/detect", json={"q": ["Bakan", "açıkladı"]}).json()
    assert turkish == [{"confidence": 100.0, "language": "tr"}]


def test_the_openapi_document_lists_both_apis_with_their_own_errors(models_dir):
    client, _ = _client(models_dir)
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    assert {"/v1/translate", "/translate", "/languages", "/detect"} <= set(paths)
    ids = [op["operationId"] for item in paths.values() for op in item.values() if isinstance(op, dict)]
    assert len(ids) == len(set(ids))
    translate = paths["/translate"]["post"]
    assert set(translate["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    for status in ("400", "403", "500", "default"):
        schema = translate["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/LibreErrorBody"}, status
    assert "422" not in translate["responses"]
    assert paths["/v1/translate"]["post"]["responses"]["default"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/ErrorResponse"}


ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), min_size=1, max_size=200)
MARKUP = st.lists(
    st.sampled_from(
        ["<p>", "</p>", "<b>", "</i>", "<br/>", "&amp;", "&lt;", "<!--", "-->", "<script>", "</script>"]
    )
    | ANY_TEXT,
    max_size=8,
).map("".join)


def test_any_text_or_markup_is_translated_or_refused_in_shape(models_dir):
    """Whatever the text (controls, surrogates, broken markup), the answer is a 200 or a 400, never a fault."""
    client, _ = _client(models_dir, max_chars=10_000)
    statuses = []

    @given(
        q=st.one_of(ANY_TEXT, st.lists(ANY_TEXT, min_size=1, max_size=3), MARKUP.filter(bool)),
        pair=st.sampled_from([("en", "ar"), ("auto", "en"), ("ar", "tr")]),
        kind=st.sampled_from(["text", "html"]),
    )
    @settings(max_examples=60, deadline=None, database=None, derandomize=True, print_blob=False)
    def run(q, pair, kind):
        body = json.dumps({"q": q, "source": pair[0], "target": pair[1], "format": kind})
        response = client.post(
            "/translate", content=body.encode(), headers={"content-type": "application/json"}
        )
        statuses.append(response.status_code)
        if response.status_code == 400:
            assert isinstance(response.json()["error"], str)
            return
        assert response.status_code == 200, response.text
        translated = response.json()["translatedText"]
        assert isinstance(translated, list) == isinstance(q, list)
        if kind == "html":  # translated text is escaped: every "<" in the answer is the input's markup
            answers = translated if isinstance(translated, list) else [translated]
            for source, answer in zip(q if isinstance(q, list) else [q], answers, strict=True):
                markup = read_markup(source).parts
                assert answer.count("<") == sum(p.count("<") for p in markup if isinstance(p, str))

    run()
    assert statuses.count(200) > 30, statuses


# --- pure functions -----------------------------------------------------------------------------


def test_markup_reading_keeps_tags_and_finds_text_nodes():
    markup = read_markup(
        '<div class="a">\n  <p>Hello\n   big <i>world</i>!</p><!-- c --><style>p>b{}</style></div>'
    )
    assert markup.texts == ("Hello big", "world", "!")
    assert markup.render(["<1>", "2 & 3", "?"]) == (
        '<div class="a">\n  <p>&lt;1&gt; <i>2 &amp; 3</i>?</p><!-- c --><style>p>b{}</style></div>'
    )
    assert read_markup("<pre>a\n  b</pre>").texts == ("a\n  b",), "whitespace kept in pre"
    assert read_markup('<span class="x notranslate">a &lt; b</span>').render([]) == (
        '<span class="x notranslate">a &lt; b</span>'
    )
    assert read_markup("a < b &amp; c").render(["x < y"]) == "x &lt; y", "one text node, escaped"
    assert read_markup("<![CDATA[x<y]]><br/>").render([]) == "<![CDATA[x<y]]><br/>"


def test_request_fields_from_json_forms_and_the_query():
    assert request_fields("application/json; charset=utf-8", b'{"q": ["a"]}', []) == ({"q": ["a"]}, False)
    fields, form = request_fields(
        "application/x-www-form-urlencoded", b"q=a+b%0D%0Ac&q=second&source=en", [("target", "ar")]
    )
    assert form and fields == {"target": "ar", "q": "a b\r\nc", "source": "en"}, "the first q wins"
    call = translate_call(fields, form=form)
    assert call.texts == ("a b\nc",) and not call.batch and (call.source, call.target) == ("en", "ar")
    body = b'--B\r\nContent-Disposition: form-data; name="q"\r\n\r\nHi\r\n--B--\r\n'
    assert request_fields("multipart/form-data; boundary=B", body, []) == ({"q": "Hi"}, True)


def test_detection_confidence_is_the_share_of_letters_in_the_scripts_language():
    assert detect("12 / 14") == libre.DetectedLanguage(confidence=0.0, language="en")
    mixed = detect("Reuters: قالت")
    assert mixed.language == "ar" and 0 < mixed.confidence < 100
    assert detect("Привет мир").confidence == 0.0, "a script the detector does not know is not claimed"
