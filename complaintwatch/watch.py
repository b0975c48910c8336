""" "Watch company X" from the admin page: a request queued in the store's app
state and carried out by `complaintwatch run` (or `sources discover`).

Discovery fetches the configured forums' front pages and robots.txt; a web
worker should not make outbound requests on a form post (slow, and a way to
reach internal hosts), and the web layer does not import the crawlers. So
the page records what was asked, the scheduler does it on its next tick, and
the page shows the outcome (URLs added, sites skipped and why) once it is there.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from indexer.store.appstate import AppState, StateRepo

from .models import utcnow

log = logging.getLogger(__name__)

KIND = "watch_request"


class SkippedSite(BaseModel):
    url: str
    reason: str


class WatchRequest(BaseModel):
    company: str
    requested_at: datetime
    requested_by: str | None = None
    status: Literal["queued", "done", "failed"] = "queued"
    finished_at: datetime | None = None
    terms: list[str] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)  # URLs appended to the sources file
    skipped: list[SkippedSite] = Field(default_factory=list)
    error: str | None = None


def _repo(state: AppState) -> StateRepo[WatchRequest]:
    return StateRepo(state, KIND, WatchRequest)


def request_watch(state: AppState, company: str, by: str | None = None) -> WatchRequest:
    """Queue discovery for a company (a newer request replaces an older one)."""
    req = WatchRequest(company=company, requested_at=utcnow(), requested_by=by)
    _repo(state).put(company, req)
    return req


def watch_requests(state: AppState) -> list[WatchRequest]:
    """Every request, newest first, for the admin page."""
    return sorted(_repo(state), key=lambda r: r.requested_at, reverse=True)


def process_watches(state: AppState, sources_path: Path, resolver, fetcher=None) -> list[WatchRequest]:
    """Carry out every queued request: discovery against the sources file,
    new search URLs appended to it. A failure is recorded on its request and
    does not stop the others."""
    from crawlers.discovery import discover, fetch

    from .sources import SourcesError, append_sources, load_sources

    done = []
    repo = _repo(state)
    for key, req in repo.items():
        if req.status != "queued":
            continue
        try:
            found = discover(req.company, load_sources(sources_path), resolver, fetcher=fetcher or fetch)
            added = append_sources(sources_path, found.added, comment=f"discovered for {req.company}")
            req.terms = list(found.terms)
            req.added = [s.url for s in added]
            req.skipped = [SkippedSite(url=s.url, reason=s.reason) for s in found.skipped]
            req.status = "done"
        except (SourcesError, KeyError, OSError, ValueError) as exc:
            problems = getattr(exc, "problems", None)
            req.error = "; ".join(problems[:3]) if problems else f"{type(exc).__name__}: {exc}"
            req.status = "failed"
            log.warning("watch %s failed: %s", req.company, req.error)
        req.finished_at = utcnow()
        repo.put(key, req)
        done.append(req)
    return done
