"""What the scheduler remembers, in the store's app state (indexer/store/appstate.py),
so it survives restarts and every host using the same store sees the same:

    source_run    <source key>   -> SourceRun: last run, posts found/new, error
    source_claim  <host:port>    -> Claim: one crawl at a time per site, across hosts
    scheduler     heartbeat      -> Heartbeat: the last tick of `complaintwatch run`
    scheduler     index | refit | delivery -> JobRun: the last run of each

`status()` puts it together with the sources file for the status page,
/api/v1/status and `complaintwatch sources list`.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from indexer.store.appstate import AppState, StateRepo

from .sources import Source, SourcesError, format_duration, load_sources

UTC = timezone.utc
SOURCE_RUN, CLAIM, SCHEDULER = "source_run", "source_claim", "scheduler"
TICK_SECONDS = 30  # the scheduler's heartbeat; older than 3 ticks = not running


def utcnow() -> datetime:
    return datetime.now(UTC)


def whoami() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SourceRun(BaseModel):
    key: str
    kind: str
    url: str
    status: Literal["running", "ok", "error", "interrupted"] = "running"
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_ok: datetime | None = None  # the last run without an error
    # the start of the last run that counts for the schedule (an interrupted one does not)
    due_from: datetime | None = None
    next_due: datetime | None = None  # as computed when the run ended (the file may change it since)
    runs: int = 0
    failures: int = 0  # runs in a row that ended in an error
    pages: int = 0  # pages fetched (2xx and 304) by the last run
    posts_found: int = 0  # posts the last run read (new, changed and unchanged)
    posts_new: int = 0
    error: str | None = None
    warnings: list[str] = []  # skips and bounds of a run that still worked
    seconds: float | None = None
    host: str | None = None


class Claim(BaseModel):
    holder: str
    until: datetime


class Heartbeat(BaseModel):
    last_tick: datetime
    started_at: datetime
    host: str
    mode: Literal["run", "once"] = "run"
    sources: int = 0
    stopping: bool = False


class JobRun(BaseModel):
    name: str
    status: Literal["running", "ok", "error", "unavailable"] = "running"
    last_started: datetime | None = None
    last_finished: datetime | None = None
    seconds: float | None = None
    summary: str | None = None
    error: str | None = None
    counts: dict[str, int] = {}
    # index only: crawls stored new posts since this time and no index run has taken them in yet
    pending_since: datetime | None = None
    pending_last: datetime | None = None  # the latest such crawl (an index run that began before it leaves it pending)


class RunState:
    """Typed access to the scheduler's records on one store."""

    def __init__(self, state: AppState):
        self.state = state
        self.runs = StateRepo(state, SOURCE_RUN, SourceRun)
        self.claims = StateRepo(state, CLAIM, Claim)
        self.jobs = StateRepo(state, SCHEDULER, JobRun)

    # --- sources --------------------------------------------------------

    def run(self, key: str) -> SourceRun | None:
        return self.runs.get(key)

    def all_runs(self) -> dict[str, SourceRun]:
        return dict(self.runs.items())

    def claim(self, site: str, holder: str, ttl: timedelta) -> bool:
        """Hold the site for one crawl; a claim past its time (its holder
        died) is taken over. Atomic on both backends (state_create)."""
        now = utcnow()
        rec = Claim(holder=holder, until=now + ttl)
        if self.claims.create(site, rec):
            return True
        old = self.claims.get(site)
        if old is not None and old.until > now and old.holder != holder:
            return False
        self.claims.delete(site)
        return self.claims.create(site, rec)

    def release(self, site: str, holder: str) -> None:
        old = self.claims.get(site)
        if old is not None and old.holder == holder:
            self.claims.delete(site)

    # --- scheduler ------------------------------------------------------

    def heartbeat(self) -> Heartbeat | None:
        doc = self.state.state_get(SCHEDULER, "heartbeat")
        return Heartbeat.model_validate(doc) if doc else None

    def put_heartbeat(self, hb: Heartbeat) -> None:
        self.state.state_put(SCHEDULER, "heartbeat", hb.model_dump(mode="json"))

    def job(self, name: str) -> JobRun | None:
        return self.jobs.get(name)

    def put_job(self, rec: JobRun) -> None:
        self.jobs.put(rec.name, rec)

    def mark_index_pending(self, since: datetime) -> None:
        rec = self.job("index") or JobRun(name="index", status="ok")
        rec.pending_since = rec.pending_since or since
        rec.pending_last = since
        self.put_job(rec)


# a failed run is tried again sooner than its schedule says (a site that was
# down for a moment should not cost a day of posts), backing off while it keeps
# failing: 15 min, 30 min, 1 h, ... at most 6 h; never later than the schedule
RETRY_FIRST = timedelta(minutes=15)
RETRY_MAX = timedelta(hours=6)


def due_after(src: Source, run: SourceRun | None) -> datetime | None:
    """When the source is due after `run` (None: due now)."""
    due = src.next_due(run.due_from if run else None)
    if run is None or run.status != "error" or run.failures < 1 or run.due_from is None or due is None:
        return due
    retry = run.due_from + min(RETRY_FIRST * 2 ** min(run.failures - 1, 16), RETRY_MAX)
    return min(due, retry)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None


def source_status(
    src: Source, run: SourceRun | None, now: datetime, claims: dict[str, Claim] | None = None
) -> dict[str, Any]:
    due = due_after(src, run)
    state = run.status if run else "never run"
    if run is not None and run.status == "running" and claims is not None:
        claim = claims.get(src.site)
        if claim is None or claim.holder != run.host or claim.until < now:
            state = "interrupted"  # its scheduler died mid-crawl: it runs again when due
    return {
        "key": src.key,
        "name": src.name,
        "kind": src.kind,
        "spider": src.spider,
        "url": src.url,
        "company": src.company,
        "discovered_from": src.discovered_from,
        "enabled": src.enabled,
        "schedule": src.schedule,
        "limits": {
            k: v for k, v in src.model_dump(include={"max_pages", "max_posts", "delay", "concurrency"}).items() if v
        },
        "status": state,
        "last_started": _iso(run.last_started) if run else None,
        "last_finished": _iso(run.last_finished) if run else None,
        "last_ok": _iso(run.last_ok) if run else None,
        "runs": run.runs if run else 0,
        "failures": run.failures if run else 0,
        "pages": run.pages if run else 0,
        "posts_found": run.posts_found if run else 0,
        "posts_new": run.posts_new if run else 0,
        "error": run.error if run else None,
        "warnings": run.warnings if run else [],
        "seconds": round(run.seconds, 1) if run and run.seconds is not None else None,
        "next_due": _iso(due) if src.enabled else None,
        "due_now": src.enabled and (due is None or due <= now),
    }


def _job_status(rec: JobRun | None) -> dict[str, Any] | None:
    if rec is None:
        return None
    d = rec.model_dump(mode="json")
    for k in ("last_started", "last_finished", "pending_since", "pending_last"):
        d[k] = _iso(getattr(rec, k))
    return d


def status(state: AppState, sources_file: Path | str, now: datetime | None = None) -> dict[str, Any]:
    """Everything the status page shows, JSON-ready."""
    now = now or utcnow()
    rs = RunState(state)
    try:
        sources, error = load_sources(sources_file), None
    except SourcesError as exc:
        sources, error = [], exc.problems
    runs = rs.all_runs()
    claims = dict(rs.claims.items())
    hb = rs.heartbeat()
    alive = hb is not None and not hb.stopping and now - hb.last_tick <= timedelta(seconds=3 * TICK_SECONDS)
    return {
        "now": _iso(now),
        "scheduler": {
            "running": alive,
            "last_tick": _iso(hb.last_tick) if hb else None,
            "started_at": _iso(hb.started_at) if hb else None,
            "host": hb.host if hb else None,
            "mode": hb.mode if hb else None,
            "since_last_tick": format_duration(now - hb.last_tick) if hb and now >= hb.last_tick else None,
        },
        "index": _job_status(rs.job("index")),
        "refit": _job_status(rs.job("refit")),
        "delivery": _job_status(rs.job("delivery")),
        "sources_file": str(sources_file),
        "sources_error": error,
        "sources": [source_status(s, runs.get(s.key), now, claims) for s in sources],
    }
