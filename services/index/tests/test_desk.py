"""The desk page: what is served, with which headers, what the files may contain, and how big they are."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.bootstrap import build
from wirewatch_index.desk import ASSETS, desk_router
from wirewatch_index.settings import IndexSettings
from wirewatch_testkit.stories import original

DESK = resources.files("wirewatch_index.desk")
MAX_TOTAL_BYTES = 64 * 1024
"""Budget for the page's own files (HTML, CSS, JS, icon) before any compression."""


def read(name: str) -> str:
    return DESK.joinpath(name).read_text(encoding="utf-8")


@pytest.fixture
def desk_client():
    app = FastAPI()
    app.include_router(desk_router())
    with TestClient(app) as client:
        yield client


def assert_confined(headers):
    csp = headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["require-trusted-types-for"] == "'script'"
    assert "unsafe" not in csp and "http" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


@pytest.mark.unit
def test_page_and_each_asset_are_served_with_their_type_and_security_headers(desk_client):
    page = desk_client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>wirewatch desk</title>" in page.text
    assert_confined(page.headers)
    for name, media_type in ASSETS.items():
        if name == "index.html":
            continue
        r = desk_client.get(f"/desk/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == media_type
        assert r.content == DESK.joinpath(name).read_bytes()
        assert_confined(r.headers)
    head = desk_client.head("/desk/desk.js")
    assert head.status_code == 200 and head.content == b""


@pytest.mark.unit
def test_unchanged_assets_revalidate_with_304(desk_client):
    first = desk_client.get("/desk/desk.js")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = desk_client.get("/desk/desk.js", headers={"If-None-Match": f'"other", {etag}'})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert desk_client.get("/desk/desk.js", headers={"If-None-Match": '"stale"'}).status_code == 200
    assert desk_client.get("/", headers={"If-None-Match": etag}).status_code == 200  # another file's tag


@pytest.mark.unit
@pytest.mark.parametrize(
    "path",
    [
        "/desk/index.html",
        "/desk/routes.py",
        "/desk/__init__.py",
        "/desk/..%2Froutes.py",
        "/desk/%2e%2e/app.py",
        "/desk/",
        "/desk/desk.js.map",
    ],
)
def test_only_the_listed_assets_can_be_fetched(desk_client, path):
    assert desk_client.get(path).status_code == 404


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.script_text.append(data)


@pytest.mark.unit
def test_page_loads_only_its_own_files_and_has_no_inline_code_or_style():
    parser = _Collector()
    parser.feed(read("index.html"))
    assert not parser.script_text, "inline script would need 'unsafe-inline'"
    urls = []
    for tag, attrs in parser.tags:
        assert tag != "style"
        assert "style" not in attrs, f"inline style on <{tag}>"
        assert not [a for a in attrs if a.startswith("on")], f"inline handler on <{tag}>"
        urls += [attrs[a] or "" for a in ("src", "href", "action") if a in attrs]
    assert {"/desk/desk.js", "/desk/desk.css", "/desk/icon.svg"} <= set(urls)
    assert all(u.startswith(("/desk/", "#")) for u in urls), urls
    for tag, attrs in parser.tags:
        if tag in ("input", "select") and attrs.get("type") not in ("radio", "checkbox", "hidden"):
            assert attrs.get("aria-label") or f'for="{attrs.get("id")}"' in read("index.html"), attrs


@pytest.mark.unit
def test_script_never_parses_html_nor_reaches_another_origin():
    script = read("desk.js")
    code = re.sub(r"^\s*//.*$", "", script, flags=re.MULTILINE)
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
        "srcdoc",
    ):
        assert sink not in code, sink
    assert not re.search(r"https?://", code)
    assert "new EventSource" not in code, "EventSource cannot send the API key header"
    assert '"X-API-Key"' in code  # the header wirewatch_common.auth reads
    style = read("desk.css")
    assert "@import" not in style and "url(" not in style and "@font-face" not in style
    assert '"Noto Naskh Arabic"' in style and ":lang(ar)" in style


@pytest.mark.unit
def test_the_page_own_assets_stay_small():
    sizes = {name: len(DESK.joinpath(name).read_bytes()) for name in ASSETS}
    assert sum(sizes.values()) < MAX_TOTAL_BYTES, sizes


@pytest.mark.integration
def test_index_app_serves_the_desk_and_the_api_sends_story_text_escaped(tmp_path):
    backend = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    hostile = '<script>alert(1)</script> <img src=x onerror="alert(2)"> Harbour & "quay" fire'
    backend.write([original("ww-hostile", hostile, [f"Body repeats {hostile} at the harbour."])])
    try:
        settings = IndexSettings(_env_file=None, data_dir=tmp_path, index_worker=False)
        with TestClient(build(settings, backend=backend).app) as client:
            page = client.get("/")
            assert page.status_code == 200 and 'src="/desk/desk.js"' in page.text
            assert_confined(page.headers)
            assert "/" not in client.get("/openapi.json").json()["paths"]
            hit = client.get("/v1/search", params={"q": "harbour"}).json()["hits"][0]
    finally:
        backend.close()
    for field in ("headline_html", "snippet"):
        text = hit[field]
        assert "<mark>" in text
        assert "<" not in re.sub(r"</?mark>", "", text), text  # only our tags are markup
        assert "&lt;script&gt;" in text and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in text
    assert hit["headline"] == hostile
