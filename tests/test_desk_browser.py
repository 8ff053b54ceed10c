"""The desk page in a real browser (Debian's chromium, headless) against `wirewatch up --load samples`.

The stack runs with API keys, so the page first has to ask for one; tiny test translation packages
(en→ar, en→tr) are installed first so English stories have real Arabic and Turkish renditions.
Screenshots go to test-artifacts/desk/ at the repository root.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wirewatch_common.broker import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
ARTIFACTS = ROOT / "test-artifacts" / "desk"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
READER = "desk-reader-key-0123456789"
WRITER = "desk-writer-key-0123456789"
HOSTILE = 'Tanker <b>aground</b> off Cape Lumen <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
EXPECTED_401 = re.compile(r"^Failed to load resource: .* status of 401").search
"""The browser logs the API's first answer, before the key is entered; nothing else may be logged as an error."""
CONTRAST_JS = """selectors => {
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const behind = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const out = {};
  for (const s of selectors) { const e = document.querySelector(s); if (!e) continue;
    const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(behind(e))];
    out[s] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); }
  return out;
}"""
ARABIC = re.compile(r"[\u0600-\u06FF]")


@dataclass(frozen=True)
class Stack:
    index: str
    ingest: str
    log: Path
    samples: int
    """Stories the sample files held (a feed holds several), as ingest reported them."""


def _get(url: str, key: str = READER) -> Any:
    request = urllib.request.Request(url, headers={"X-API-Key": key})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _search(stack: Stack, **params: Any) -> dict[str, Any]:
    return _get(f"{stack.index}/v1/search?{urllib.parse.urlencode(params, doseq=True)}")


def post_story(stack: Stack, text: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{stack.ingest}/v1/stories",
        data=text.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8", "X-API-Key": WRITER},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 202
        return json.load(response)


def _wait(what: str, check: Any, log: Path, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (OSError, LookupError, ValueError):  # not up yet, or no hits yet
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}; stack output:\n{log.read_text()[-4000:]}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`wirewatch up --load samples` on free ports, keys required, test translation packages installed."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: `make system-deps` installs Debian's chromium")
    tmp = tmp_path_factory.mktemp("desk")
    ports = {name: free_port() for name in ("BROKER", "INGEST", "TRANSLATE", "INDEX", "ALERTS")}
    env = dict(
        os.environ,
        WIREWATCH_DATA_DIR=str(tmp / "data"),
        WIREWATCH_LOG_FORMAT="text",
        WIREWATCH_API_KEYS=f"reader:{READER},writer:{WRITER}",
        WIREWATCH_CLI_API_KEY=WRITER,
        WIREWATCH_INDEX_WRITER_HEAP_MB="20",
    )
    env.update({f"WIREWATCH_{name}_PORT": str(port) for name, port in ports.items()})
    packages = tmp / "packages"
    for command in (
        [sys.executable, "-m", "wirewatch_translate.testpackages", str(packages), "en-ar", "en-tr"],
        [sys.executable, "-m", "wirewatch_translate.cli", "install", "--from-path", str(packages)],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    log = tmp / "wirewatch-up.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wirewatch_stack.cli", "up", "--load", str(SAMPLES)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    index = f"http://127.0.0.1:{ports['INDEX']}"
    try:
        _wait("the samples were not loaded", lambda: "wirewatch | loaded" in log.read_text(), log)
        text = log.read_text()
        assert "(0 failed)" in text, text
        # `ok     samples/x.rss.xml: rss → ID v1 accepted, ID v1 accepted`, one line per file
        accepted = {m for line in text.splitlines() if "→" in line for m in re.findall(r"(\S+) v\d+ ", line)}
        stack = Stack(index, f"http://127.0.0.1:{ports['INGEST']}", log, len(accepted))
        assert stack.samples >= 7, text
        _wait(
            "the samples never became searchable",
            lambda: _search(stack, size=50)["total"] >= stack.samples,
            log,
        )
        # Translation runs after indexing of the originals: wait for Arabic and Turkish renditions.
        _wait(
            "the English samples never got their renditions",
            lambda: {"ar", "tr"} <= set(_search(stack, q="harbour")["hits"][0]["languages"]),
            log,
        )
        yield stack
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def test_desk_searches_filters_reads_follows_live_and_escapes_markup(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\ndesk screenshots: {ARTIFACTS}")  # noqa: T201 - tell the reader where the artefacts are
    requests: list[str] = []
    blocked: list[str] = []
    problems: list[str] = []
    dialogs: list[str] = []

    def only_this_machine(route: Any) -> None:
        host = urllib.parse.urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                locale="en-GB", timezone_id="Europe/Istanbul", viewport={"width": 1400, "height": 900}
            )
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.index)
            context.route("**/*", only_this_machine)
            context.on("request", lambda r: requests.append(r.url))
            page = context.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type == "error" and not EXPECTED_401(m.text) else None,
            )
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            # The API answers 401 until the desk is given a key: the key dialog asks for one.
            page.goto(f"{stack.index}/")
            key_dialog = page.locator("#key-dialog")
            expect(key_dialog).to_be_visible()
            key_dialog.get_by_role("textbox", name="API key").fill(READER)
            page.get_by_role("button", name="Use this key").click()
            results = page.locator("#results > li")
            expect(results).to_have_count(stack.samples, timeout=20_000)
            assert page.evaluate("sessionStorage.getItem('wirewatch.apiKey')") == READER
            first_time = page.locator("#results time").first
            assert "GMT+3" in first_time.inner_text(), "absolute time is in the reader's zone"
            page.screenshot(path=ARTIFACTS / "01-newest.png", full_page=True)

            # Keyboard: `/` focuses the search box; Enter searches; highlighted snippet.
            page.locator("body").press("/")
            expect(page.locator("#q")).to_be_focused()
            page.keyboard.type("harbour")
            page.keyboard.press("Enter")
            expect(results.first.locator("mark").first).to_be_visible()
            assert page.url.endswith("#q=harbour")
            assert "harbour" in results.first.locator(".snippet mark").first.inner_text().lower()

            # Language filter: counts beside each language; ticking Turkish keeps only Turkish matches.
            page.locator("#q").fill("")
            page.keyboard.press("Enter")
            expect(results).to_have_count(stack.samples)
            turkish = page.locator('[data-dim="lang"] label', has=page.locator('input[value="tr"]'))
            tr_count = int(re.findall(r"\d+", turkish.locator(".count").text_content() or "")[0])
            assert 0 < tr_count < stack.samples
            turkish.locator("input").check()
            expect(results).to_have_count(tr_count)
            matched = results.locator(".lang.matched").evaluate_all("els => els.map(e => e.dataset.lang)")
            assert set(matched) == {"tr"}
            assert "lang=tr" in page.url
            page.screenshot(path=ARTIFACTS / "02-filter-tr.png", full_page=True)
            page.get_by_role("button", name="Clear all filters").click()
            expect(results).to_have_count(stack.samples)

            # Story view by keyboard: arrows from the search box, Enter opens; Arabic is right-to-left.
            page.locator("#q").fill("harbour")
            page.keyboard.press("Enter")
            expect(results.first.locator("mark").first).to_be_visible()
            page.keyboard.press("ArrowDown")
            expect(results.first.locator(".hit-link")).to_be_focused()
            story_id = results.first.get_attribute("data-story")
            page.keyboard.press("Enter")
            arabic = page.locator('#renditions .rendition-text[lang="ar"]')
            expect(arabic).to_have_attribute("dir", "rtl")
            assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
            assert ARABIC.search(arabic.locator("h4").inner_text())
            turkish_block = page.locator('#renditions .rendition-text[lang="tr"]')
            assert turkish_block.evaluate("e => getComputedStyle(e).direction") == "ltr"
            original = page.locator('#renditions .rendition-text[lang="en"]')
            assert "harbour" in original.inner_text().lower()
            ar_provenance = page.locator('#renditions .rendition[data-lang="ar"] .provenance').inner_text()
            assert "translate-en_ar" in ar_provenance and "0.0.1-test" in ar_provenance
            # Test packages made these renditions: the desk says so on the rendition, never passing
            # their text off as a translation.
            assert "a test package: meaningless text" in ar_provenance
            ar_marks = page.locator('#renditions .rendition[data-lang="ar"] .mark.test-package')
            expect(ar_marks).to_have_text("test package: meaningless text")
            assert page.locator('#renditions .rendition[data-lang="en"] .mark').count() == 0, "the original"
            assert page.locator("#history tr").count() >= 3
            page.get_by_role("button", name="Copy link").click()
            expect(page.locator("#copy-state")).to_have_text("Link copied.")
            link = page.evaluate("navigator.clipboard.readText()")
            assert link == f"{stack.index}/#story={story_id}"
            page.screenshot(path=ARTIFACTS / "03-story.png", full_page=True)
            page.keyboard.press("Escape")
            expect(page.locator("#search-view")).to_be_visible()
            expect(results.first.locator(".hit-link")).to_be_focused()

            # The copied link opens the story on its own; an Arabic original reads right-to-left too.
            desal = _search(stack, q="تحلية")["hits"][0]["story_id"]
            other = context.new_page()
            other.goto(f"{stack.index}/#story={desal}")
            # Session storage belongs to one tab: a new tab asks for the key, then opens the story.
            other.locator("#key-dialog").get_by_role("textbox", name="API key").fill(READER)
            other.keyboard.press("Enter")
            block = other.locator('#renditions .rendition.original .rendition-text[lang="ar"]')
            expect(block).to_have_attribute("dir", "rtl")
            assert block.evaluate("e => getComputedStyle(e).direction") == "rtl"
            expect(other.locator("#story-title")).to_contain_text("تحلية")
            other.screenshot(path=ARTIFACTS / "04-arabic-original.png", full_page=True)
            other.close()

            # Live: a story pushed after the page loaded shows as a banner; the list stays put until asked.
            page.locator("#q").fill("")
            page.keyboard.press("Enter")
            expect(results).to_have_count(stack.samples)
            page.get_by_role("switch", name="Live").check()
            expect(page.locator("#live-state")).to_have_text("live", timeout=20_000)
            before = results.evaluate_all("els => els.map(e => e.dataset.story)")
            hostile_id = post_story(
                stack, f"{HOSTILE}\n\nA tanker ran aground off Cape Lumen; the crew is safe.\n"
            )
            post_story(
                stack,
                "Lighthouse keepers report calm seas\n\nKeepers on the north coast reported calm seas.\n",
            )
            banner = page.locator("#new-stories")
            expect(banner).to_have_text(re.compile(r"^2 new stories"), timeout=60_000)
            expect(page.locator("#live-region")).to_have_attribute("aria-live", "polite")
            assert results.evaluate_all("els => els.map(e => e.dataset.story)") == before
            page.screenshot(path=ARTIFACTS / "05-live-banner.png")
            banner.click()
            expect(banner).to_be_hidden()
            expect(results).to_have_count(stack.samples + 2)
            new_items = page.locator("#results > li.new")
            expect(new_items).to_have_count(2)
            assert hostile_id["stories"][0]["id"] in new_items.evaluate_all(
                "els => els.map(e => e.dataset.story)"
            )
            expect(new_items.first.locator(".hit-link")).to_be_focused()
            page.get_by_role("switch", name="Live").uncheck()

            # Markup in a headline is text: shown literally, nothing created, nothing run.
            page.locator("#q").fill("tanker")
            page.keyboard.press("Enter")
            hostile = results.first.locator(".hit-link")
            expect(hostile).to_contain_text("Tanker")
            assert hostile.text_content() == HOSTILE
            assert page.locator("#results img, #results script, #results b").count() == 0
            hostile.click()
            expect(page.locator("#story-title")).to_have_text(HOSTILE)
            expect(page.locator('#renditions .rendition-text[lang="en"] h4')).to_have_text(HOSTILE)
            assert page.locator("#story-view img, #story-view script, #story-view b").count() == 0
            assert page.evaluate("window.__pwned") is None
            assert page.locator("script").count() == 1
            page.screenshot(path=ARTIFACTS / "06-markup-as-text.png", full_page=True)
        finally:
            browser.close()

    assert not dialogs, dialogs
    assert not blocked, f"requests tried to leave the machine: {blocked}"
    assert requests and all(urllib.parse.urlsplit(u).hostname == "127.0.0.1" for u in requests)
    assert not [u for u in requests if u.endswith("/x")], "an <img src=x> was created"
    assert not problems, problems


@pytest.fixture
def desk_server(tmp_path: Path) -> Iterator[str]:
    """The index app alone (no broker, no worker) on a free port, over a tantivy index of written stories."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: `make system-deps` installs Debian's chromium")
    import threading

    import uvicorn

    from wirewatch_index.backends.tantivy import TantivyBackend
    from wirewatch_index.bootstrap import build
    from wirewatch_index.settings import IndexSettings
    from wirewatch_testkit.stories import DAY, SAMPLES, original

    backend = TantivyBackend(tmp_path / "index", writer_heap_bytes=15_000_000, writer_threads=1)
    floods = [
        original(
            f"ww-flood-{i:02d}", f"River flood {i} closes bridge", ["The river flooded."], versioncreated=DAY
        )
        for i in range(25)
    ]
    tricky = original("ww-tricky", 'Budget <mark>cut</mark> & "reform" plan', ["Budget talks & <mark> tags."])
    backend.write([*SAMPLES, *floods, tricky])
    settings = IndexSettings(_env_file=None, data_dir=tmp_path, index_worker=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build(settings, backend=backend).app, host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the index app did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        backend.close()


def test_desk_pages_with_the_cursor_filters_dates_and_keeps_literal_mark_text(desk_server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="en-GB", timezone_id="UTC")
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{desk_server}/#q=flood")
            results = page.locator("#results > li")
            expect(results).to_have_count(20)
            expect(page.locator("#summary")).to_have_text("25 stories, showing 20")
            page.get_by_role("button", name="Load more").click()
            expect(results).to_have_count(25)
            ids = results.evaluate_all("els => els.map(e => e.dataset.story)")
            assert len(set(ids)) == 25
            expect(page.get_by_role("button", name="Load more")).to_be_hidden()
            expect(results.nth(20).locator(".hit-link")).to_be_focused()

            # Help popover on the query syntax.
            page.get_by_role("button", name="Query syntax").click()
            expect(page.locator("#help")).to_be_visible()
            expect(page.locator("#help")).to_contain_text('"grain corridor"')
            page.keyboard.press("Escape")
            expect(page.locator("#help")).to_be_hidden()

            # Date range in the reader's zone (UTC here): only the story created on the 25th.
            page.locator("#q").fill("")
            page.keyboard.press("Enter")
            page.locator("#date-from").fill("2026-11-25")
            page.locator("#date-to").fill("2026-11-25")
            expect(results).to_have_count(1)
            assert results.first.get_attribute("data-story") == "ww-strike"
            assert "from=2026-11-25" in page.url and "to=2026-11-25" in page.url
            page.get_by_role("button", name="Any date").click()
            page.get_by_role("radio", name="Most relevant").check()
            expect(page).to_have_url(re.compile(r"sort=relevance"))

            # Escaped "<mark>" written in a story stays text: one real highlight, the rest literal.
            page.locator("#q").fill("budget")
            page.keyboard.press("Enter")
            link = results.first.locator(".hit-link")
            expect(link).to_have_text('Budget <mark>cut</mark> & "reform" plan')
            assert link.locator("mark").all_text_contents() == ["Budget"]
            assert results.first.locator(".snippet mark").all_text_contents() == ["Budget"]
            assert "<mark> tags" in (results.first.locator(".snippet").text_content() or "")

            # Trusted Types are enforced by the page's CSP: an HTML sink throws instead of parsing.
            outcome = page.evaluate(
                "() => { try { document.body.insertAdjacentHTML('beforeend', '<i>x</i>'); return 'parsed'; }"
                " catch (e) { return e.name; } }"
            )
            assert outcome == "TypeError"
            page.screenshot(path=ARTIFACTS / "07-literal-mark.png", full_page=True)

            # Text contrast (WCAG 2 ratio against the background actually behind it) is AA or better.
            ratios = page.evaluate(
                CONTRAST_JS, [".hit-link", ".meta", "mark", ".lang", "#summary", "legend", ".count"]
            )
            assert len(ratios) == 7 and all(ratio >= 4.5 for ratio in ratios.values()), ratios
        finally:
            browser.close()
    assert not problems, problems


@dataclass(frozen=True)
class WatchDesk:
    index: str
    alerts: Any
    """The alerts service (`AlertsService`): its stores, to record alerts as the matcher does."""

    def alert(self, story_id: str, headline: str, *, release_in: float = 0.0) -> None:
        """Record a match of every watchlist on `story_id` (English original), released after `release_in` s."""
        from datetime import UTC, datetime, timedelta

        from wirewatch_alerts.alerting import Hit
        from wirewatch_common.alert_event import StoryRef

        now = datetime.now(tz=UTC)
        watchlists = {w.id: w for w in self.alerts.store.all()}
        story = StoryRef(
            id=story_id,
            version=1,
            language="en",
            original_language="en",
            headline=headline,
            versioncreated=now,
        )
        release = now + timedelta(seconds=release_in)
        self.alerts.alerts.record([Hit(wl, story, True, release) for wl in watchlists], [], watchlists, now)


@pytest.fixture
def watch_desk(tmp_path: Path) -> Iterator[WatchDesk]:
    """The index app (desk and search over the sample stories) and the alerts app, each on its own port, keys on."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: `make system-deps` installs Debian's chromium")
    from wirewatch_alerts.bootstrap import build as build_alerts
    from wirewatch_alerts.settings import AlertsSettings
    from wirewatch_index.backends.tantivy import TantivyBackend
    from wirewatch_index.bootstrap import build as build_index
    from wirewatch_index.settings import IndexSettings
    from wirewatch_testkit.servers import serving
    from wirewatch_testkit.stories import SAMPLES

    keys = f"reader:{READER},writer:{WRITER}"
    alerts = build_alerts(
        AlertsSettings(_env_file=None, data_dir=tmp_path / "alerts", api_keys=keys, alerts_worker=False)
    )
    backend = TantivyBackend(tmp_path / "index", writer_heap_bytes=15_000_000, writer_threads=1)
    backend.write(SAMPLES)
    try:
        with serving(alerts.app) as (host, alerts_port):
            settings = IndexSettings(
                _env_file=None,
                data_dir=tmp_path,
                index_worker=False,
                api_keys=keys,
                index_alerts_url=f"http://{host}:{alerts_port}",
            )
            with serving(build_index(settings, backend=backend).app) as (_, index_port):
                yield WatchDesk(f"http://{host}:{index_port}", alerts)
    finally:
        backend.close()


def test_desk_watches_a_search_counts_unread_alerts_opens_one_and_marks_read(watch_desk: WatchDesk) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    dialogs: list[str] = []
    expected = re.compile(r"^Failed to load resource: .* status of 40[13]").search
    """401 before the key is given; 403 when a reader key tries to create a watchlist."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="en-GB", timezone_id="UTC")
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type == "error" and not expected(m.text) else None,
            )
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{watch_desk.index}/#q=strike")
            page.locator("#key-dialog").get_by_role("textbox", name="API key").fill(READER)
            page.get_by_role("button", name="Use this key").click()
            expect(page.locator("#results > li")).to_have_count(1)
            panel = page.locator("#watchlists > li")
            expect(page.locator("#watch-state")).to_have_text("None yet: “Watch this search” makes one.")

            # "Watch this search" with a reader key: the desk says a writer key is needed, then retries.
            page.get_by_role("button", name="Watch this search").click()
            dialog = page.locator("#watch-dialog")
            expect(dialog).to_be_visible()
            expect(dialog.get_by_role("textbox", name="Name")).to_have_value("strike")
            dialog.get_by_role("textbox", name="Name").fill("Port strikes")
            dialog.get_by_role("button", name="Create watchlist").click()
            key_dialog = page.locator("#key-dialog")
            expect(key_dialog).to_be_visible()
            expect(page.locator("#key-message")).to_have_text("Creating a watchlist needs a writer API key.")
            expect(page.locator("#watch-message")).to_contain_text("writer API key")
            key_dialog.get_by_role("textbox", name="API key").fill(WRITER)
            page.get_by_role("button", name="Use this key").click()
            expect(page.locator("#watch-message")).to_have_text(
                "Watching “Port strikes”: its alerts appear under Watchlists."
            )
            feed_url = dialog.get_by_role("textbox", name=re.compile("Atom feed")).input_value()
            assert (
                feed_url.startswith(f"{watch_desk.index}/v1/watchlists/wl-")
                and "/feed.atom?token=" in feed_url
            )
            page.screenshot(path=ARTIFACTS / "08-watch-this-search.png")
            dialog.get_by_role("button", name="Close").click()
            expect(dialog).to_be_hidden()
            (made,) = watch_desk.alerts.store.all()
            assert (made.name, made.query) == ("Port strikes", "strike")
            expect(panel).to_have_count(1)
            expect(panel.first.locator(".unread")).to_have_text("0 unread")

            # The feed address works in a feed reader: no key, the token in the URL, through the desk's origin.
            with urllib.request.urlopen(feed_url, timeout=10) as response:
                assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
                assert b"Port strikes" in response.read()

            # An alert arrives (and one still under embargo, which nobody may see yet).
            watch_desk.alert("ww-strike", "Port strike halts grain exports")
            watch_desk.alert("ww-derby", "Embargoed strike story", release_in=3600)
            page.reload()
            expect(panel.first.locator(".unread")).to_have_text("1 unread")
            page.screenshot(path=ARTIFACTS / "09-unread.png")

            # Opening the list marks it read; the alert opens the desk's story view; Escape comes back.
            panel.first.get_by_role("link").click()
            alerts = page.locator("#alerts > li")
            expect(page.locator("#watch-title")).to_have_text("Port strikes")
            expect(alerts).to_have_count(1)
            expect(alerts.first).to_have_class(re.compile(r"\bfresh\b"))
            expect(alerts.first.locator(".matched-in")).to_have_text("matched in English")
            expect(panel.first.locator(".unread")).to_have_text("0 unread")
            page.screenshot(path=ARTIFACTS / "10-alerts.png", full_page=True)
            alerts.first.get_by_role("link", name="Port strike halts grain exports").click()
            expect(page.locator("#story-title")).to_have_text("Port strike halts grain exports")
            assert "story=ww-strike" in page.url and f"watch={made.id}" in page.url
            expect(page.locator('#renditions .rendition-text[lang="en"]')).to_contain_text("Dockworkers")
            page.keyboard.press("Escape")
            expect(page.locator("#watch-view")).to_be_visible()
            expect(alerts.first.get_by_role("link")).to_be_focused()
            page.locator("#watch-back").click()
            expect(page.locator("#search-view")).to_be_visible()
            assert page.url.endswith("#q=strike")
            page.reload()
            expect(panel.first.locator(".unread")).to_have_text("0 unread")  # read is remembered

            # Another alert, whose headline is markup: shown as text; "Mark all read" clears the count.
            hostile = '<img src=x onerror="window.__pwned=1">Strike <b>spreads</b>'
            watch_desk.alert("ww-secim", hostile)
            page.reload()
            expect(panel.first.locator(".unread")).to_have_text("1 unread")
            page.get_by_role("button", name="Mark all read").click()
            expect(panel.first.locator(".unread")).to_have_text("0 unread")
            expect(page.get_by_role("button", name="Mark all read")).to_be_hidden()
            page.reload()
            expect(panel.first.locator(".unread")).to_have_text("0 unread")
            panel.first.get_by_role("link").click()
            expect(alerts).to_have_count(2)
            expect(alerts.first.locator(".hit-link")).to_have_text(hostile)
            assert page.locator("#alerts img, #alerts b").count() == 0
            assert page.locator("#alerts .fresh").count() == 0, "marked read before this opening"
            assert page.evaluate("window.__pwned") is None
            page.keyboard.press("Escape")
            expect(page.locator("#search-view")).to_be_visible()
            expect(page.locator("#results > li")).to_have_count(1)
        finally:
            browser.close()
    assert not dialogs, dialogs
    assert not problems, problems
