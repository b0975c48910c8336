"""Several crawl workers on one shared frontier in Redis (``crawl --frontier``).

scrapy-redis keeps the queue (a priority zset of serialized requests) and the
seen fingerprints (a set) in Redis, so workers on any number of machines take
requests from one queue and never fetch a URL another worker has queued. Two
things it does not do are added here, each in one atomic Lua script:

* **Nothing lost when a worker dies.** scrapy-redis pops a request before it
  is fetched, so a killed worker loses everything it had in flight. Here a pop
  *moves* the request into the worker's own in-flight zset (Redis's "reliable
  queue" pattern), and it leaves that zset only when the page is done in the
  sense of crawlers/frontier.py: its callback finished, every request it
  yielded is in the queue and every post it yielded is committed to the store.
  Each worker refreshes a heartbeat key with a TTL from a thread; a worker
  whose heartbeat has expired has its in-flight requests moved back to the
  queue by whichever worker notices first (and by any worker that starts).
  The store upserts by URL, so a page fetched again never makes a duplicate.
* **Seen and queued together.** scrapy-redis adds the fingerprint to the seen
  set and then pushes the request: a kill between the two would leave a URL
  seen but never queued. Here both happen in one script.

Start URLs are seeded once: the first worker's start requests enter the queue,
the others' are dropped as already seen. A worker closes when the queue has
been empty and nothing was in flight anywhere for ``COMPLAINTWATCH_FRONTIER_IDLE``
seconds (scrapy-redis's MAX_IDLE_TIME_BEFORE_CLOSE, counted across workers). The
crawl is identified by spider name and start URLs, so every worker is started
with the same ones; when the last worker of a finished crawl leaves, the seen
set is dropped and the next run with those start URLs is a fresh re-crawl.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from typing import Any

from redis.exceptions import RedisError
from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis import connection
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from crawlers import frontier
from crawlers.frontier import FrontierDownloaderMiddleware, FrontierMiddleware

log = logging.getLogger(__name__)

SCHEMES = ("redis://", "rediss://", "unix://")
WAKE_EVERY = 1.0  # seconds: how often an idle worker looks at the shared queue again

# KEYS: seen, queue, in-flight. ARGV: fingerprint ('' = not filtered), score,
# request, then in-flight requests this one replaces (a redirect's source, a
# retried request): they are done once it is queued.
_PUSH = """
if ARGV[1] ~= '' and redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
for i = 4, #ARGV do redis.call('ZREM', KEYS[3], ARGV[i]) end
return 1
"""
# KEYS: queue, in-flight. The best request moves to the in-flight zset, same score.
_POP = """
local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #top == 0 then return false end
redis.call('ZREM', KEYS[1], top[1])
redis.call('ZADD', KEYS[2], top[2], top[1])
return top[1]
"""
# KEYS: queue, in-flight, heartbeat, workers. ARGV: worker, force. A worker's
# in-flight requests back to the queue and the worker off the list; without
# force only when its heartbeat has expired (checked here, so a worker that
# just came back keeps its requests).
_REQUEUE = """
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local n = redis.call('ZCARD', KEYS[2])
if n > 0 then
  redis.call('ZUNIONSTORE', KEYS[1], 2, KEYS[1], KEYS[2], 'AGGREGATE', 'MIN')
  redis.call('DEL', KEYS[2])
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
return n
"""
# KEYS: queue, seen, workers, own heartbeat. ARGV: worker, heartbeat TTL,
# key prefix, register ('1' when starting). When nothing is queued, in flight
# or running elsewhere, the previous crawl is over: its seen set goes, so this
# worker's start URLs begin a new one. Returns 1 when it was over.
_SETTLE = """
local busy = redis.call('ZCARD', KEYS[1]) > 0
if not busy then
  for _, w in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if w ~= ARGV[1] and (redis.call('EXISTS', ARGV[3] .. ':alive:' .. w) == 1
        or redis.call('ZCARD', ARGV[3] .. ':inflight:' .. w) > 0) then
      busy = true
      break
    end
  end
end
if not busy then
  redis.call('DEL', KEYS[2])
  redis.call('DEL', KEYS[3])
end
if ARGV[4] == '1' then
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('SET', KEYS[4], '1', 'EX', ARGV[2])
end
return busy and 0 or 1
"""


class FrontierError(Exception):
    """The --frontier URL is wrong or its Redis does not answer."""


def check_frontier(url: str) -> None:
    """Fail early, with a sentence, on a URL that is not Redis's or a server that does not answer."""
    if not url.startswith(SCHEMES):
        raise FrontierError(f"--frontier wants a Redis URL such as redis://127.0.0.1:6379/0, not {url!r}")
    try:
        connection.get_redis(url=url, socket_connect_timeout=5, socket_timeout=5).ping()
    except Exception as exc:
        raise FrontierError(f"the frontier's Redis at {url} does not answer: {exc}") from exc


def use_frontier(settings: Settings, url: str, *, idle: float | None = None, heartbeat: float | None = None) -> None:
    """Switch crawl settings to the shared frontier at `url` (checked first)."""
    check_frontier(url)
    settings.set("COMPLAINTWATCH_FRONTIER", url, priority="cmdline")
    settings.set("REDIS_URL", url, priority="cmdline")
    settings.set("SCHEDULER", "crawlers.distributed.SharedFrontierScheduler", priority="cmdline")
    if idle is not None:
        settings.set("COMPLAINTWATCH_FRONTIER_IDLE", idle, priority="cmdline")
    if heartbeat is not None:
        settings.set("COMPLAINTWATCH_FRONTIER_HEARTBEAT", heartbeat, priority="cmdline")
    # the JOBDIR journal's "page done" tracking, switched on without a JOBDIR
    for name, old, new in (
        ("SPIDER_MIDDLEWARES", FrontierMiddleware, SharedFrontierMiddleware),
        ("DOWNLOADER_MIDDLEWARES", FrontierDownloaderMiddleware, SharedFrontierDownloaderMiddleware),
    ):
        mws = settings.getdict(name)
        path = f"{old.__module__}.{old.__name__}"
        mws[f"{new.__module__}.{new.__name__}"] = mws.get(path, 10)
        mws[path] = None
        settings.set(name, mws, priority="cmdline")


def frontier_key(spider: Any) -> str:
    """Redis key prefix of one crawl: spider name and start URLs."""
    ident = "\n".join([spider.name, *sorted(getattr(spider, "start_urls", []))])
    return f"complaintwatch:frontier:{spider.name}:{hashlib.sha1(ident.encode()).hexdigest()[:16]}"


class SharedDupeFilter(RFPDupeFilter):
    """scrapy-redis's seen set, keyed by Scrapy's own request fingerprints (the
    ones the page-done tracking uses) instead of its older home-made ones."""

    def __init__(self, server: Any, key: str, fingerprinter: Any, debug: bool = False) -> None:
        super().__init__(server, key, debug=debug)
        self.fingerprinter = fingerprinter

    def request_fingerprint(self, request: Request) -> str:
        return self.fingerprinter.fingerprint(request).hex()


class _Heartbeat(threading.Thread):
    """Keeps this worker's heartbeat key alive and hands the in-flight
    requests of workers whose heartbeat expired back to the queue. A thread,
    so that a long parse in the reactor is not taken for a dead worker."""

    def __init__(self, scheduler: SharedFrontierScheduler) -> None:
        super().__init__(name="frontier-heartbeat", daemon=True)
        self.s = scheduler
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.s.ttl / 3):
            try:
                self.beat()
            except Exception as exc:  # Redis away for a moment: try again next beat
                log.warning("frontier heartbeat failed: %s", exc)

    def beat(self) -> None:
        s = self.s
        s.server.set(s.alive_key(s.worker), 1, ex=s.ttl)
        s.server.sadd(s.workers_key, s.worker)
        for raw in s.server.smembers(s.workers_key):
            other = raw.decode()
            if other != s.worker:
                s.requeue(other, force=False)


class SharedFrontierScheduler(RedisScheduler):
    """scrapy-redis's scheduler with an in-flight zset per worker (see the module)."""

    def __init__(self, server: Any, crawler: Any) -> None:
        super().__init__(server, persist=True)  # the queue outlives any one worker
        self.crawler = crawler
        self.stats = crawler.stats
        s = crawler.settings
        self.idle = s.getfloat("COMPLAINTWATCH_FRONTIER_IDLE", 30)
        self.ttl = max(1, round(s.getfloat("COMPLAINTWATCH_FRONTIER_HEARTBEAT", 30)))
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.fingerprint = crawler.request_fingerprinter.fingerprint
        self._inflight: dict[bytes, list[bytes]] = {}  # fingerprint -> requests in this worker's in-flight zset
        self._uncommitted: list[bytes] = []
        self._wait_for_commit = False
        self._local: deque[Request] = deque()  # requests that cannot be serialized: this worker only
        self._idle_since: float | None = None
        self._broken = False  # Redis failed: this worker stops, touching nothing more there
        self._push = server.register_script(_PUSH)
        self._pop = server.register_script(_POP)
        self._requeue = server.register_script(_REQUEUE)
        self._settle = server.register_script(_SETTLE)

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedFrontierScheduler:
        return cls(connection.get_redis_from_settings(crawler.settings), crawler)

    # --- keys ---------------------------------------------------------------

    def alive_key(self, worker: str) -> str:
        return f"{self.prefix}:alive:{worker}"

    def inflight_key(self, worker: str) -> str:
        return f"{self.prefix}:inflight:{worker}"

    # --- open / close -------------------------------------------------------

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.prefix = frontier_key(spider)
        self.queue = PriorityQueue(self.server, spider, f"{self.prefix}:requests")
        self.df = SharedDupeFilter(self.server, f"{self.prefix}:seen", self.crawler.request_fingerprinter)
        self.workers_key = f"{self.prefix}:workers"
        self.mine = self.inflight_key(self.worker)
        fresh = self._settle(
            keys=[self.queue.key, self.df.key, self.workers_key, self.alive_key(self.worker)],
            args=[self.worker, self.ttl, self.prefix, "1"],
        )
        self.heartbeat = _Heartbeat(self)
        self.heartbeat.beat()  # a worker killed earlier hands its requests back now
        self.heartbeat.start()
        log.info(
            "worker %s on frontier %s (%s crawl, %d requests queued)",
            self.worker,
            self.prefix,
            "new" if fresh else "running",
            len(self.queue),
        )
        sig = self.crawler.signals
        sig.connect(self._store_opened, signal=frontier.store_opened)
        sig.connect(self._store_committed, signal=frontier.store_committed)
        sig.connect(self._page_processed, signal=frontier.page_processed)
        sig.connect(self._spider_idle, signal=signals.spider_idle)
        from twisted.internet.task import LoopingCall

        self._waker = LoopingCall(self._wake)
        self._waker.start(WAKE_EVERY, now=False)

    def close(self, reason: str) -> None:
        waker, heartbeat = getattr(self, "_waker", None), getattr(self, "heartbeat", None)
        if waker is not None and waker.running:
            waker.stop()
        if heartbeat is not None:
            heartbeat.stopped.set()
            if heartbeat.is_alive():
                heartbeat.join(timeout=10)
        if not self._broken and heartbeat is not None:  # (None: open() failed, nothing to hand back)
            try:
                self._leave()
            except RedisError as exc:
                self._fail(exc)

    def _leave(self) -> None:
        left = self.requeue(self.worker, force=True)  # also takes this worker off the list
        if left:
            log.info("%d unfinished requests handed back to the shared queue", left)
            self._inc("complaintwatch/frontier/handed_back", left)
        if self._local:
            log.warning("%d requests that could not be shared were not crawled", len(self._local))
        over = self._settle(
            keys=[self.queue.key, self.df.key, self.workers_key, self.alive_key(self.worker)],
            args=[self.worker, self.ttl, self.prefix, "0"],
        )
        if over:
            log.info("frontier %s: crawl complete, seen set dropped", self.prefix)

    def requeue(self, worker: str, *, force: bool) -> int:
        n = int(
            self._requeue(
                keys=[self.queue.key, self.inflight_key(worker), self.alive_key(worker), self.workers_key],
                args=[worker, "1" if force else "0"],
            )
        )
        if n > 0 and not force:
            log.warning("worker %s stopped answering: its %d requests in flight are back in the queue", worker, n)
            self._inc("complaintwatch/frontier/requeued", n)
        return max(n, 0)

    # --- the queue ----------------------------------------------------------

    def enqueue_request(self, request: Request) -> bool:
        if self._broken:
            return False  # its parent page is never marked done: it is fetched again later
        try:
            return self._enqueue(request)
        except RedisError as exc:
            self._fail(exc)
            return False

    def next_request(self) -> Request | None:
        if self._broken:
            return None
        try:
            return self._next()
        except RedisError as exc:
            self._fail(exc)
            return None

    def has_pending_requests(self) -> bool:
        if self._broken:
            return False
        try:
            return bool(self._local) or len(self.queue) > 0
        except RedisError as exc:
            self._fail(exc)
            return False

    def _fail(self, exc: Exception) -> None:
        """Redis failed: stop this worker without marking anything more as
        done. What it held stays in its in-flight zset, which goes back to the
        queue once its heartbeat (stopped now) expires."""
        if self._broken:
            return
        self._broken = True
        if (heartbeat := getattr(self, "heartbeat", None)) is not None:
            heartbeat.stopped.set()
        log.error(
            "the frontier's Redis failed (%s): this worker stops; its unfinished requests go back to the "
            "shared queue for the other workers or the next run",
            exc,
        )
        self._inc("complaintwatch/frontier/redis_failed")
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="frontier_failed"))

    def _enqueue(self, request: Request) -> bool:
        fp = self.fingerprint(request)
        try:
            data = self.queue._encode_request(request)
        except Exception as exc:  # not picklable: cannot be shared, crawled here (lost if killed)
            log.warning("request kept by this worker only (cannot be serialized): %s: %s", request, exc)
            self._inc("complaintwatch/frontier/not_shared")
            self._local.append(request)
            return True
        # a start request is seeded once for all workers; another worker's copy is dropped as seen
        fresh_start = (
            request.meta.get("is_start_request") and fp not in self._inflight and not request.meta.get("redirect_urls")
        )
        filtered = fresh_start or not request.dont_filter
        # a redirect's source, or the request a retry repeats, is done once this one is queued
        urls = request.meta.get("redirect_urls")
        source = self.fingerprint(request.replace(url=urls[-1])) if urls else fp
        replaced = self._inflight.get(source, [])
        pushed = self._push(
            keys=[self.df.key, self.queue.key, self.mine],
            args=[fp.hex() if filtered else "", -request.priority, data, *replaced],
        )
        if not pushed:
            if urls:
                self._done([source])  # the redirect's target is queued or crawled already
            if fresh_start:
                log.info("start URL %s is already in the shared crawl", request.url)
                self._inc("complaintwatch/frontier/start_already_queued")
            else:
                self.df.log(request, self.spider)
            return False
        if replaced:
            del self._inflight[source]
        if fresh_start:
            self._inc("complaintwatch/frontier/seeded")
        self._inc("scheduler/enqueued/redis")
        self._inc("scheduler/enqueued")
        return True

    def _next(self) -> Request | None:
        while (data := self._pop(keys=[self.queue.key, self.mine])) is not None:
            try:
                request = self.queue._decode_request(data)
            except Exception as exc:  # e.g. a callback another version of the spider has
                log.warning("a queued request cannot be read here, dropped: %s", exc)
                self._inc("complaintwatch/frontier/unreadable")
                self.server.zrem(self.mine, data)
                continue
            self._inflight.setdefault(self.fingerprint(request), []).append(data)
            self._inc("scheduler/dequeued/redis")
            self._inc("scheduler/dequeued")
            return request
        return self._local.popleft() if self._local else None

    def _inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, count)

    # --- done pages (the same rules as the JOBDIR journal) -------------------

    def _store_opened(self) -> None:
        self._wait_for_commit = True

    def _page_processed(self, request: Request, items: int) -> None:
        fp = self.fingerprint(request)
        if items and self._wait_for_commit:
            self._uncommitted.append(fp)  # done once its posts are committed
        else:
            self._done([fp])

    def _store_committed(self) -> None:
        done, self._uncommitted = self._uncommitted, []
        self._done(done)

    def _done(self, fps: list[bytes]) -> None:
        members = [m for fp in fps for m in self._inflight.pop(fp, ())]
        if members and not self._broken:
            try:
                self.server.zrem(self.mine, *members)
            except RedisError as exc:
                self._fail(exc)

    # --- idle: more work from other workers, or close ---------------------

    def _wake(self) -> None:
        """Have the engine look at the queue now rather than at its 5 s
        heartbeat: requests other workers push are taken within a second.
        (A private attribute; if it goes away the engine's heartbeat remains.)"""
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and getattr(slot, "nextcall", None) is not None:
            slot.nextcall.schedule()

    def _commit_buffered(self) -> None:
        """An idle worker commits the posts it holds, so its pages are done
        and the other workers do not wait for them. (StorePipeline commits
        only every COMPLAINTWATCH_STORE_BATCH posts and on close by itself.)"""
        from crawlers.pipelines import StorePipeline

        itemproc = getattr(self.crawler.engine.scraper, "itemproc", None)
        stores = [p for p in getattr(itemproc, "middlewares", ()) if isinstance(p, StorePipeline)]
        for pipe in stores:
            pipe._flush()  # sends store_committed, even with nothing buffered (all posts dropped)
        if not stores:
            self._store_committed()

    def _spider_idle(self, spider: Any = None) -> None:
        if self._broken:
            return  # closing
        try:
            self._idle()
        except RedisError as exc:
            self._fail(exc)

    def _idle(self) -> None:
        self._commit_buffered()
        if self._inflight:  # the engine is idle: nothing here can still finish them
            stale = list(self._inflight)
            log.warning("%d in-flight requests were never reported done; taken as done", len(stale))
            self._inc("complaintwatch/frontier/unaccounted", len(stale))
            self._done(stale)
        if self._work_left():
            self._idle_since = None
            raise DontCloseSpider
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self.idle:
            raise DontCloseSpider
        log.info("frontier %s: queue empty and nothing in flight for %.0f s: closing", self.prefix, self.idle)

    def _work_left(self) -> bool:
        """Anything queued, or in flight at any worker (a stopped worker's
        requests come back to the queue once its heartbeat expires)."""
        if len(self.queue) > 0:
            return True
        workers = [w.decode() for w in self.server.smembers(self.workers_key)]
        with self.server.pipeline(transaction=False) as pipe:
            for w in workers:
                pipe.zcard(self.inflight_key(w))
            return any(pipe.execute())


class SharedFrontierMiddleware(FrontierMiddleware):
    """crawlers.frontier's page-done tracking for the shared frontier (no JOBDIR needed)."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedFrontierMiddleware:
        return cls(crawler)


class SharedFrontierDownloaderMiddleware(FrontierDownloaderMiddleware):
    """A request that failed for good is done. Unlike with JOBDIR, one over
    this worker's page budget is done too (the budget is per worker): left in
    flight, it would keep every worker waiting for it."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedFrontierDownloaderMiddleware:
        return cls(crawler)

    def process_exception(self, request: Request, exception: BaseException, spider: Any = None) -> None:
        if request.errback is None:  # with an errback, its output still has to be processed
            self.crawler.signals.send_catch_log(frontier.page_processed, request=request, items=0)


def summary_lines(stats: dict) -> list[str]:
    """What the CLI adds to a worker's crawl summary."""

    def n(key: str) -> int:
        return int(stats.get(f"complaintwatch/frontier/{key}", 0) or 0)

    line = f"frontier: {int(stats.get('scheduler/dequeued/redis', 0) or 0)} requests taken from the shared queue"
    if n("seeded"):
        line += f", {n('seeded')} start URLs seeded"
    if n("requeued"):
        line += f", {n('requeued')} requests of stopped workers put back"
    if n("handed_back"):
        line += f", {n('handed_back')} unfinished requests handed back"
    return [line]
