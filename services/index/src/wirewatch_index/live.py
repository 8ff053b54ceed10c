"""Serve live streams from the matcher: each open /v1/stream is a short-lived watchlist, woken by a match.

Why: a stream that re-runs its search every second costs one search per second whether or not
anything arrived, so a few dozen open Live pages take a large share of what the search API serves.
Here the index worker matches each written batch once against every open stream's query (the
presearch matcher the alerts service uses, `wirewatch_common.matching`) and wakes only the streams
that matched; a woken stream runs its usual search once. Streams cost what watchlists cost.

How:
- `open` registers one `Standing` per distinct query and filters (streams asking the same share it)
  and returns a `LiveStream` with a wake-up of its own (an asyncio event set from the worker thread
  with `call_soon_threadsafe`). Registering and forgetting are queued and applied by the matching
  thread, so the event loop never waits for a batch being matched.
- `offer` (the worker, right after a batch is written and visible) builds a `Version` of each written
  language version, matches them once and wakes the streams that matched. A version under embargo,
  or one the engine shows only later (Elasticsearch's refresh: `lag_s`), is held in a heap and
  matched at that moment against the streams open then, so a stream opened after the write hears
  of it too.
- The quality filter is not part of the standing: a stream asking for good or low renditions is
  woken by any match of its query and its search does the exact filtering.

The safety net is one catch-up scan per process, not a poll per stream: every `scan_s`
(`index_stream_fallback_s`) while streams are open, the hub asks the backend once what became
visible since its last scan, fetches the stories it was not told of, matches them and wakes the
streams they match. It finds what this process's worker did not write: with several index replicas
in one consumer group each worker consumes only some partitions, and another process may write
to the same Elasticsearch index. Its cost does not grow with the number of streams.

An API-only replica (`index_worker` false) has no worker to feed a hub: its hub only counts streams,
and each of them polls every `index_stream_interval_s`, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge

from wirewatch_common.errors import WirewatchError
from wirewatch_common.matching import Analyze, Matcher, Standing, Version, version_of
from wirewatch_common.query import ParsedQuery
from wirewatch_common.story import Story

from .backends.base import SearchBackend
from .search import MAX_PAGE_SIZE, Hit, SearchRequest

log = logging.getLogger(__name__)

ELASTICSEARCH_LAG_S = 1.5
"""Elasticsearch shows a write at its next refresh (the index's `refresh_interval` is 1 s): wake later."""
MAX_PENDING_RELEASES = 10_000
"""Versions held for a later wake (embargoes); beyond it the catch-up scan finds them."""
SCAN_OVERLAP = timedelta(seconds=5)
"""Each scan looks back this far before the previous one (commits land after `indexed_at`)."""
SCAN_MAX_PAGES = 20
"""A scan reads at most this many pages of MAX_PAGE_SIZE stories; more in one interval is logged."""
_RECHECK_S = 60.0
"""The hub thread re-reads the wall clock at least this often (the clock may be set meanwhile)."""

OPEN_STREAMS = Gauge("wirewatch_index_live_streams", "Open /v1/stream connections of this process.")
WAKES = Counter("wirewatch_index_live_wakes_total", "Streams woken because a written version matched.")
SEARCHES = Counter(
    "wirewatch_index_stream_searches_total",
    "Backend reads for /v1/stream: a stream's search at connect, on a wake or on its poll; the hub's "
    "catch-up scan, and its fetch of a story it was not told of.",
    ["trigger"],
)

StandingKey = tuple[ParsedQuery, frozenset[str], frozenset[str], frozenset[str]]


class LiveStreamsFull(WirewatchError):
    """This process already holds as many open live streams as `index_stream_max` allows."""

    code = "too_many_streams"


@dataclass
class LiveStats:
    """Running counters, for tests and the benchmark."""

    offered: int = 0
    matches: int = 0
    wakes: int = 0
    released: int = 0
    scans: int = 0
    fetched: int = 0


class LiveStream:
    """One open stream's registration and wake-up; `close` is idempotent."""

    def __init__(self, hub: LiveHub, standing_id: str | None, loop: asyncio.AbstractEventLoop) -> None:
        self.standing_id = standing_id
        self._hub = hub
        self._loop = loop
        self._event = asyncio.Event()
        self.closed = False

    @property
    def pushed(self) -> bool:
        """Whether matches wake this stream (False: it has to poll)."""
        return self.standing_id is not None

    def wake(self) -> None:
        """Set the wake-up from any thread."""
        with contextlib.suppress(RuntimeError):  # a closed loop: the stream went with its server
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        """Forget earlier wakes (before a search, so a wake during the search is kept)."""
        self._event.clear()

    async def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a wake; tell whether one came."""
        if timeout <= 0:
            return self._event.is_set()
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """Unregister (the connection ended)."""
        self._hub.close_stream(self)


class LiveHub:
    """The open streams of one process, their standings in one matcher, and the wakes.

    Without `analyze` the hub only counts streams (nothing feeds it: an API-only replica, or pushing
    turned off) and every stream polls. `lag_s` delays every wake by how long the engine takes to
    show a write to searches (0 for tantivy, whose write returns once searchable). With `backend`,
    the hub scans it every `scan_s` for what it was not told of (see the module docstring).
    """

    def __init__(
        self,
        max_streams: int,
        *,
        analyze: Analyze | None = None,
        lag_s: float = 0.0,
        backend: SearchBackend | None = None,
        scan_s: float = 10.0,
    ) -> None:
        self.max_streams = max_streams
        self.lag = timedelta(seconds=lag_s)
        self.stats = LiveStats()
        self._matcher = Matcher(analyze) if analyze is not None else None
        self._backend = backend if analyze is not None else None
        self._scan_s = scan_s
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._match_lock = threading.Lock()
        self._open = 0
        self._closed = False
        self._ids = itertools.count(1)
        self._by_key: dict[StandingKey, str] = {}
        self._keys: dict[str, StandingKey] = {}
        self._members: dict[str, set[LiveStream]] = {}
        self._queued: dict[str, Standing | None] = {}
        """Registrations (a standing) and removals (None) the matching thread applies before matching."""
        self._pending: list[tuple[datetime, int, Version]] = []
        self._order = itertools.count()
        self._told: dict[str, float] = {}
        """Language versions (document ids) the hub was told of, and when: what a scan need not fetch."""
        self._created = self._since = datetime.now(tz=UTC)
        self._thread: threading.Thread | None = None

    @property
    def pushes(self) -> bool:
        """Whether a worker's batches wake the streams (else they poll)."""
        return self._matcher is not None

    @property
    def open_streams(self) -> int:
        """Streams open now."""
        with self._lock:
            return self._open

    @property
    def standings(self) -> int:
        """Distinct queries registered for open streams (what the matcher holds once queued work is applied)."""
        with self._lock:
            return len(self._members)

    # -- streams (event loop thread) ---------------------------------------------------------------

    def open(
        self,
        query: ParsedQuery,
        *,
        languages: Sequence[str] = (),
        providers: Sequence[str] = (),
        places: Sequence[str] = (),
    ) -> LiveStream:
        """Register a stream for this query and filters, on the running event loop; raise LiveStreamsFull."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._open >= self.max_streams:
                msg = (
                    f"this server already holds {self.max_streams} open live streams "
                    "(index_stream_max); close one or retry later"
                )
                raise LiveStreamsFull(msg)
            self._open += 1
            OPEN_STREAMS.inc()
            if self._matcher is None:
                return LiveStream(self, None, loop)
            key: StandingKey = (query, frozenset(languages), frozenset(providers), frozenset(places))
            standing_id = self._by_key.get(key)
            if standing_id is None:
                standing_id = f"live-{next(self._ids)}"
                self._by_key[key] = standing_id
                self._keys[standing_id] = key
                self._members[standing_id] = set()
                self._queued[standing_id] = Standing(standing_id, query, *key[1:])
            stream = LiveStream(self, standing_id, loop)
            self._members[standing_id].add(stream)
            if self._backend is not None:
                self._start()  # the catch-up scan runs while streams are open
            return stream

    def close_stream(self, stream: LiveStream) -> None:
        """Unregister a stream; its standing goes once no stream shares it."""
        with self._lock:
            if stream.closed:
                return
            stream.closed = True
            self._open -= 1
            OPEN_STREAMS.dec()
            sid = stream.standing_id
            if sid is None:
                return
            members = self._members[sid]
            members.discard(stream)
            if members:
                return
            del self._members[sid]
            del self._by_key[self._keys.pop(sid)]
            if self._queued.pop(sid, None) is None:
                self._queued[sid] = None  # registered already: the matching thread removes it

    # -- matching (worker and hub threads) ---------------------------------------------------------

    def offer(self, stories: Sequence[Story], now: datetime | None = None) -> int:
        """Match the language versions of a written batch against the open streams; return streams woken.

        Call after the batch is visible to searches. A version visible only later (embargo, engine
        lag) is held and matched when it becomes visible.
        """
        if self._matcher is None or self._closed:
            return 0
        now = now or datetime.now(tz=UTC)
        visible_at = now + self.lag
        ready: list[Version] = []
        later: list[tuple[datetime, Version]] = []
        told: list[str] = []
        with self._lock:
            idle = not self._members and not self._queued
        for story in stories:
            embargoed = story.embargoed is not None and story.embargoed > visible_at
            if not embargoed and not self.lag:
                told.append(story.document_id)  # visible now: no scan need fetch it
                if idle:
                    continue  # nobody to wake
            version = version_of(story)
            if version is None:
                continue  # search would not return it (a kill, a failed rendition)
            if embargoed:
                assert story.embargoed is not None
                later.append((story.embargoed, version))
            elif self.lag:
                later.append((visible_at, version))
            else:
                ready.append(version)
        self._remember(told)
        if later:
            self._hold(later)
        return self._match(ready)

    def _match(self, versions: Sequence[Version]) -> int:
        """Apply queued registrations, match, wake; return streams woken."""
        assert self._matcher is not None
        with self._match_lock:
            with self._lock:
                queued, self._queued = self._queued, {}
            for sid, standing in queued.items():
                try:
                    if standing is None:
                        self._matcher.remove(sid)
                    else:
                        self._matcher.add(standing)
                except Exception:
                    # That stream is then woken by nothing but its heartbeat; never fail the batch.
                    log.exception("live stream query not registered", extra={"standing": sid})
            if not versions or not len(self._matcher):
                return 0
            matched = {sid for _, sid in self._matcher.match(versions)}
        with self._lock:
            streams = {s for sid in matched for s in self._members.get(sid, ())}
            self.stats.offered += len(versions)
            self.stats.matches += len(matched)
            self.stats.wakes += len(streams)
        for stream in streams:
            stream.wake()
        WAKES.inc(len(streams))
        return len(streams)

    def _remember(self, keys: Sequence[str]) -> None:
        if self._backend is None or not keys:
            return
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._told[key] = now
            if self._thread is None:
                self._start()  # it forgets what no scan can reach any more

    # -- the hub thread: versions visible later, and the catch-up scan -----------------------------

    def _start(self) -> None:
        """Start the hub thread once (the lock is held)."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
            self._thread.start()
        self._wakeup.notify()

    def _hold(self, later: Sequence[tuple[datetime, Version]]) -> None:
        with self._lock:
            room = MAX_PENDING_RELEASES - len(self._pending)
            if len(later) > room:
                log.warning(
                    "live stream releases queue full; the catch-up scan will find the rest",
                    extra={"dropped": len(later) - max(0, room)},
                )
            for when, version in later[: max(0, room)]:
                heapq.heappush(self._pending, (when, next(self._order), version))
            self._start()

    def _run(self) -> None:
        """Match each held version once visible, and scan every `scan_s` while streams are open."""
        next_scan = time.monotonic() + self._scan_s
        while True:
            due: list[Version] = []
            with self._lock:
                while True:
                    if self._closed:
                        return
                    now = datetime.now(tz=UTC)
                    while self._pending and self._pending[0][0] <= now:
                        due.append(heapq.heappop(self._pending)[2])
                    scan = self._backend is not None and time.monotonic() >= next_scan
                    if due or scan:
                        break
                    waits = [_RECHECK_S]
                    if self._pending:
                        waits.append((self._pending[0][0] - now).total_seconds())
                    if self._backend is not None:
                        waits.append(next_scan - time.monotonic())
                    self._wakeup.wait(max(0.0, min(waits)))
                self.stats.released += len(due)
                streams_open = bool(self._members)
            try:
                if due:
                    self._remember([v.key for v in due])
                    self._match(due)
                if scan:
                    next_scan = time.monotonic() + self._scan_s
                    self._scan(streams_open)
            except Exception:
                log.exception("live streams not woken; the next scan tries again")

    def _scan(self, streams_open: bool) -> None:
        """Look once for versions that became visible unannounced, fetch them, match them."""
        assert self._backend is not None
        started = datetime.now(tz=UTC)
        with self._lock:
            # What was told before two scan intervals and the look-back is out of every scan's reach.
            horizon = time.monotonic() - 2 * self._scan_s - SCAN_OVERLAP.total_seconds() - 5
            self._told = {k: t for k, t in self._told.items() if t >= horizon}
        if not streams_open:
            self._since = started  # nobody to wake; a stream opening later searches at connect
            return
        # Nothing before the hub existed was told to it, and the streams' connect searches cover that.
        after = max(self._since - SCAN_OVERLAP, self._created)
        request = SearchRequest(sort="newest", size=MAX_PAGE_SIZE, visible_after=after)
        hits: list[Hit] = []
        for _ in range(SCAN_MAX_PAGES):
            SEARCHES.labels("scan").inc()
            page = self._backend.search(request)
            hits.extend(page.hits)
            if page.next_after is None:
                break
            request = replace(request, after=page.next_after)
        else:
            log.warning("live catch-up scan read its most pages", extra={"stories": len(hits)})
        self._since = started
        self.stats.scans += 1
        with self._lock:
            unknown = [
                h.story_id
                for h in hits
                if any(f"{h.story_id}.{lang}" not in self._told for lang in {h.language, *h.languages})
            ]
        versions: list[Version] = []
        for story_id in dict.fromkeys(unknown):
            SEARCHES.labels("fetch").inc()
            self.stats.fetched += 1
            record = self._backend.get_story(story_id)
            if record is not None:
                versions.extend(v for v in map(version_of, record.renditions) if v is not None)
                self._remember([s.document_id for s in record.renditions])
        if versions:
            self._match(versions)

    def close(self) -> None:
        """Stop the hub thread (service shutdown)."""
        with self._lock:
            self._closed = True
            self._wakeup.notify_all()
        if self._thread is not None:
            self._thread.join(5)
