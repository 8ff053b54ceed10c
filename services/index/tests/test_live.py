"""Live streams served from the matcher: a written story wakes the streams it matches, and only those.

The hub alone first (real analysis chains), then the service as it runs: tansu, the index worker,
tantivy and uvicorn, with real clients on sockets, and the hub's catch-up scan set far out of reach so any
event that arrives was pushed by the worker's match.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest

from wirewatch_common.analyzers import Analyzers
from wirewatch_common.broker import EmbeddedBroker
from wirewatch_common.bus import Admin, Producer
from wirewatch_common.query import parse
from wirewatch_common.story import Story
from wirewatch_common.topics import TopicContract, parse_contract
from wirewatch_index.backends.tantivy import TantivyBackend
from wirewatch_index.bootstrap import IndexService, build
from wirewatch_index.live import LiveHub, LiveStream, LiveStreamsFull
from wirewatch_index.search import SearchPage, SearchRequest, WriteResult
from wirewatch_index.settings import IndexSettings
from wirewatch_testkit.servers import serving
from wirewatch_testkit.stories import original, rendition

FAR = 300.0
"""A catch-up scan interval no test waits for: whatever a stream sends, the worker's match pushed."""


def quake(story_id: str = "ww-quake", **fields: Any) -> Story:
    return original(story_id, "Earthquake shakes Izmir", ["A strong quake struck the coast."], **fields)


def budget(story_id: str = "ww-budget") -> Story:
    return original(story_id, "Budget vote delayed", ["Parliament adjourned until Monday."])


class CountingBackend(TantivyBackend):
    """The real tantivy backend, noting each search and when each story's write returned."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, writer_heap_bytes=15_000_000, writer_threads=1)
        self.searches = 0
        self.written_at: dict[str, float] = {}

    def search(self, request: SearchRequest) -> SearchPage:
        self.searches += 1
        return super().search(request)

    def write(self, stories: Sequence[Story]) -> WriteResult:
        result = super().write(stories)
        now = time.monotonic()
        for story in result.written:
            self.written_at.setdefault(story.id, now)
        return result


# -- the hub alone ---------------------------------------------------------------------------------


def hub(max_streams: int = 100) -> LiveHub:
    return LiveHub(max_streams, analyze=Analyzers().analyze)


async def woken(stream: LiveStream, within: float) -> bool:
    return await stream.wait(within)


def test_a_written_version_wakes_only_the_streams_it_matches_in_any_language() -> None:
    live = hub()
    story = quake()

    async def scenario() -> None:
        english = live.open(parse("earthquake"))
        turkish = live.open(parse("deprem"), languages=("tr",))  # matches the Turkish rendition only
        other = live.open(parse("budget"))
        arabic_only = live.open(parse("earthquake"), languages=("ar",))
        # The worker offers from its own thread, as the index worker does.
        woke = await asyncio.to_thread(
            live.offer, [story, rendition(story, "tr", "İzmir'de deprem", ["Kıyıda güçlü bir deprem oldu."])]
        )
        assert woke == 2
        assert await woken(english, 1.0) and await woken(turkish, 1.0)
        assert not await woken(other, 0.2) and not await woken(arabic_only, 0.01)

    asyncio.run(scenario())
    assert live.stats.wakes == 2


def test_streams_with_one_query_share_a_standing_and_the_last_to_close_removes_it() -> None:
    live = hub()

    async def scenario() -> None:
        first, second = live.open(parse("earthquake")), live.open(parse("earthquake"))
        filtered = live.open(parse("earthquake"), providers=("AP",))
        assert live.standings == 2 and live.open_streams == 3
        first.close()
        first.close()  # idempotent: a generator's finally and the finalizer may both run
        assert live.standings == 2 and live.open_streams == 2
        assert await asyncio.to_thread(live.offer, [quake()]) == 1  # Reuters: the AP stream stays asleep
        assert await woken(second, 1.0) and not await woken(filtered, 0.01)
        second.close()
        filtered.close()
        assert live.standings == 0 and live.open_streams == 0
        assert await asyncio.to_thread(live.offer, [quake("ww-quake-2")]) == 0

    asyncio.run(scenario())


def test_more_streams_than_allowed_are_refused_until_one_closes() -> None:
    live = hub(max_streams=2)

    async def scenario() -> None:
        first = live.open(parse("a"))
        live.open(parse("b"))
        with pytest.raises(LiveStreamsFull, match="already holds 2 open live streams"):
            live.open(parse("c"))
        first.close()
        live.open(parse("c"))

    asyncio.run(scenario())


def test_an_embargoed_version_wakes_at_release_even_a_stream_opened_after_the_write() -> None:
    live = hub()
    lifts = datetime.now(tz=UTC) + timedelta(seconds=1)

    async def scenario() -> None:
        early = live.open(parse("earthquake"))
        await asyncio.to_thread(live.offer, [quake(embargoed=lifts)])
        late = live.open(parse("quake OR earthquake"))
        assert not await woken(early, 0.5)
        assert await woken(early, 2.0) and await woken(late, 0.5)
        assert datetime.now(tz=UTC) >= lifts

    try:
        asyncio.run(scenario())
    finally:
        live.close()
    assert live.stats.released == 1


def test_the_catch_up_scan_wakes_streams_for_what_the_worker_did_not_write_and_fetches_only_that(
    tmp_path: Path,
) -> None:
    backend = CountingBackend(tmp_path)
    live = LiveHub(100, analyze=Analyzers().analyze, backend=backend, scan_s=0.3)

    async def scenario() -> None:
        stream = live.open(parse("earthquake"))
        await asyncio.sleep(0.5)  # a scan with nothing new: no fetch
        assert live.stats.scans >= 1 and live.stats.fetched == 0
        # Written by another process (another replica's partition): nobody offers it to this hub.
        await asyncio.to_thread(backend.write, [quake()])
        assert await woken(stream, 2.0), "the scan did not find the unannounced story"
        assert live.stats.fetched == 1
        stream.clear()
        # Written and offered by this process's worker: woken at once, and no scan fetches it again.
        told = [budget(), quake("ww-quake-2")]
        await asyncio.to_thread(backend.write, told)
        assert await asyncio.to_thread(live.offer, told) == 1
        assert await woken(stream, 0.1)
        scans = live.stats.scans
        await asyncio.sleep(1.0)
        assert live.stats.scans >= scans + 2 and live.stats.fetched == 1

    try:
        asyncio.run(scenario())
    finally:
        live.close()
        backend.close()


def test_a_hub_nothing_feeds_only_counts_streams() -> None:
    live = LiveHub(5)

    async def scenario() -> None:
        stream = live.open(parse("earthquake"))
        assert not stream.pushed and live.open_streams == 1
        assert live.offer([quake()]) == 0
        stream.close()

    asyncio.run(scenario())
    assert live.open_streams == 0 and not live.pushes


# -- the service: worker, hub and stream together ----------------------------------------------------


class Follower:
    """A real client on /v1/stream over a socket: notes each event's arrival until it hangs up."""

    def __init__(self, port: int, params: dict[str, Any]) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        request = f"GET /v1/stream?{urlencode(params, doseq=True)} HTTP/1.1\r\nHost: test\r\n\r\n"
        self._sock.sendall(request.encode())
        self._sock.settimeout(0.05)
        self.head = b""
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        pending = b""
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            if not self.head:
                self.head, _, data = data.partition(b"\r\n\r\n")
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                if line.startswith(b"data: {"):
                    self.events.append((now, json.loads(line[len(b"data: ") :])))

    def stories(self) -> list[str]:
        return [hit["story_id"] for _, hit in self.events]

    def hang_up(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        time.sleep(0.02)


def private_contract() -> TopicContract:
    tag = uuid.uuid4().hex[:8]
    roles = ("stories", "renditions", "receipts", "alerts", "deadletter")
    return parse_contract(
        {
            "topics": {
                r: {"name": f"test-live-{r}-{tag}", "partitions": 1, "retention_ms": 86_400_000}
                for r in roles
            }
        }
    )


@dataclass
class Running:
    """The service under test and what a test drives it with."""

    service: IndexService
    backend: CountingBackend
    port: int
    producer: Producer
    topic: str

    @property
    def live(self) -> LiveHub:
        return self.service.live

    def publish(self, story: Story) -> None:
        self.producer.publish_stories(self.topic, [story])

    def written(self, story_id: str) -> None:
        eventually(lambda: story_id in self.backend.written_at, 30, f"the worker wrote {story_id}")


@pytest.fixture
def running(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Running]:
    """The index service with its worker on tansu and a pushing hub, served by uvicorn."""
    contract = private_contract()
    settings = IndexSettings(
        _env_file=None,  # type: ignore[call-arg]
        kafka_bootstrap_servers=broker.bootstrap_servers,
        data_dir=tmp_path / "data",
        index_group_id=f"index-live-{uuid.uuid4().hex[:8]}",
        index_stream_fallback_s=FAR,
        rate_limit_stream="0",
        log_format="text",
    )
    admin = Admin.from_settings(settings)
    try:
        admin.provision(contract)
    finally:
        admin.close()
    backend = CountingBackend(tmp_path / "data")
    service = build(settings, backend=backend, contract=contract)
    producer = Producer.from_settings(settings)
    try:
        with serving(service.app) as (_, port):
            # The worker has joined its group once a first story is written.
            producer.publish_stories(contract.stories.name, [budget("ww-warm-up")])
            eventually(lambda: "ww-warm-up" in backend.written_at, 60, "the worker wrote the warm-up story")
            yield Running(service, backend, port, producer, contract.stories.name)
    finally:
        producer.close()


@pytest.mark.integration
def test_a_matching_story_is_pushed_within_a_second_of_its_write_and_others_cost_no_search(
    running: Running,
) -> None:
    backend = running.backend
    follower = Follower(running.port, {"q": "deprem OR earthquake"})
    try:
        eventually(
            lambda: running.live.open_streams == 1 and backend.searches >= 1, 10, "the stream connected"
        )
        time.sleep(0.2)
        connected = backend.searches

        running.publish(budget())
        running.written("ww-budget")
        time.sleep(1.0)
        assert backend.searches == connected, "a story the stream's query does not match started a search"
        assert follower.events == [] and running.live.stats.wakes == 0

        running.publish(quake())
        eventually(lambda: follower.events != [], 30, "the matching story was streamed")
        arrived, hit = follower.events[0]
        assert hit["story_id"] == "ww-quake" and hit["language"] == "en"
        assert arrived - backend.written_at["ww-quake"] < 1.0, "not pushed: the poll is minutes away"
        time.sleep(0.3)
        assert backend.searches == connected + 1  # one search per matched batch, none otherwise
        assert b"200 OK" in follower.head
    finally:
        follower.hang_up()


@pytest.mark.integration
def test_an_embargoed_story_is_pushed_when_its_embargo_lifts(running: Running) -> None:
    follower = Follower(running.port, {"q": "earthquake"})
    try:
        eventually(lambda: running.live.open_streams == 1, 10, "the stream connected")
        lifts = datetime.now(tz=UTC) + timedelta(seconds=3)
        running.publish(quake("ww-quake-later", embargoed=lifts))
        running.written("ww-quake-later")
        assert datetime.now(tz=UTC) < lifts, "the write took longer than the embargo: raise the margin"
        eventually(lambda: follower.events != [], 10, "the story was streamed at release")
        arrived = datetime.now(tz=UTC)
        assert follower.stories() == ["ww-quake-later"]
        assert lifts <= arrived < lifts + timedelta(seconds=1.5)
    finally:
        follower.hang_up()


@pytest.mark.integration
def test_a_client_hanging_up_unregisters_its_stream(running: Running) -> None:
    first = Follower(running.port, {"q": "earthquake"})
    second = Follower(running.port, {"q": "election", "lang": "tr"})
    try:
        eventually(lambda: running.live.open_streams == 2, 10, "both streams connected")
        assert running.live.standings == 2
        first.hang_up()
        eventually(lambda: running.live.open_streams == 1, 5, "the hung-up stream was unregistered")
        assert running.live.standings == 1
        running.publish(quake("ww-quake-gone"))
        running.written("ww-quake-gone")
        time.sleep(0.3)
        assert running.live.stats.wakes == 0  # nobody left who asked for it
    finally:
        first.hang_up()
        second.hang_up()
    eventually(lambda: running.live.open_streams == 0, 5, "the second stream was unregistered")


@pytest.mark.integration
def test_beyond_the_most_open_streams_a_new_one_is_answered_503(tmp_path: Path) -> None:
    settings = IndexSettings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        index_worker=False,
        index_stream_max=1,
        rate_limit_stream="0",
    )
    backend = TantivyBackend(tmp_path, writer_heap_bytes=15_000_000, writer_threads=1)
    service = build(settings, backend=backend)
    assert not service.live.pushes  # an API-only replica: nothing to match, its streams poll
    with serving(service.app) as (_, port):
        holder = Follower(port, {"q": "earthquake"})
        try:
            eventually(lambda: service.live.open_streams == 1, 10, "the first stream connected")
            refused = httpx2.get(f"http://127.0.0.1:{port}/v1/stream", params={"q": "budget"}, timeout=10)
            assert refused.status_code == 503
            error = refused.json()["error"]
            assert error["code"] == "too_many_streams" and "index_stream_max" in error["message"]
        finally:
            holder.hang_up()
        eventually(lambda: service.live.open_streams == 0, 5, "the first stream was unregistered")
        again = Follower(port, {"q": "budget"})
        try:
            eventually(lambda: b"200 OK" in again.head, 10, "a stream is accepted again")
        finally:
            again.hang_up()
