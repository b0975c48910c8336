"""Per-company and per-incident-type aggregates, shared by pages and API."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from complaintwatch.models import Incident, Post, SearchFilters

from .charts import month_range
from .services import setting, store
from .trends import Trend, trend_details


def today() -> date:
    """The date trends are computed as of: the AS_OF setting (the demo sets
    it to its newest post) or today."""
    as_of = setting("AS_OF")
    return as_of if as_of is not None else datetime.now(timezone.utc).date()


def incidents_by_id() -> dict[int, Incident]:
    return {i.id: i for i in store().incidents()}


def incident_label(inc: Incident | None, incident_id: int | None) -> str:
    if inc is not None:
        return inc.label_en
    return f"Incident #{incident_id}" if incident_id is not None else "Unclassified"


@dataclass(slots=True)
class IncidentRow:
    incident_id: int
    incident: Incident | None
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    monthly: dict[str, int]
    trend: Trend

    @property
    def label(self) -> str:
        return incident_label(self.incident, self.incident_id)


@dataclass(slots=True)
class CompanyReport:
    id: str
    post_count: int
    rows: list[IncidentRow]
    months: list[str]  # the common x axis of every timeline chart
    threads: int  # root posts (among the latest REPLY_SAMPLE) that have comments
    replied: int  # ...of which the company replied in
    latest: list[Post] = field(default_factory=list)
    reply_sampled: bool = False  # True when only the latest REPLY_SAMPLE threads were inspected

    @property
    def reply_share(self) -> float | None:
        return self.replied / self.threads if self.threads else None


def company_post_count(company: str) -> int | None:
    """Posts mentioning the company, or None when the store does not know it."""
    return dict(store().companies()).get(company)


def reply_counts(company: str, sample: int) -> tuple[int, int, bool]:
    """(threads with comments, threads with a company reply, sampled) over the
    company's latest ``sample`` root posts; sampled: there may be older ones."""
    s = store()
    roots = s.latest_posts(SearchFilters(company=company, include_comments=False), limit=sample)
    threads = replied = 0
    for root in roots:
        posts = s.thread(root.thread_url or root.url)
        if not any(p.id != root.id for p in posts):
            continue
        threads += 1
        replied += any(p.is_company_reply for p in posts)
    return threads, replied, len(roots) >= sample


def company_report(company: str, post_count: int, on: date | None = None) -> CompanyReport:
    on = on or today()
    s = store()
    incs = incidents_by_id()
    stats = s.company_incident_stats(company)
    volume: dict[str, int] = {}  # the company's own baseline: all its typed posts per month
    for st in stats:
        for m, n in st.monthly.items():
            volume[m] = volume.get(m, 0) + n
    rows = [
        IncidentRow(
            st.incident_id,
            incs.get(st.incident_id),
            st.count,
            st.first_seen,
            st.last_seen,
            dict(st.monthly),
            trend_details(st.monthly, on, volume),
        )
        for st in stats
    ]
    all_months = [m for r in rows for m, n in r.monthly.items() if n]
    current = f"{on.year:04d}-{on.month:02d}"
    months = month_range(min(min(all_months), current), max(max(all_months), current)) if all_months else []
    threads, replied, sampled = reply_counts(company, setting("REPLY_SAMPLE"))
    latest = s.latest_posts(SearchFilters(company=company), limit=setting("LATEST_ON_COMPANY"))
    return CompanyReport(company, post_count, rows, months, threads, replied, latest, sampled)


@dataclass(slots=True)
class IncidentReport:
    incident: Incident
    companies: list[tuple[str, int]]  # most-hit first (opening posts only)
    posts: list[Post]
    sampled: bool = False  # True when counted over the latest MAX_RESULTS posts only


def incident_report(incident: Incident, examples: int = 8) -> IncidentReport:
    s = store()
    cap = setting("MAX_RESULTS")
    roots = s.latest_posts(SearchFilters(incident_id=incident.id, include_comments=False), limit=cap)
    counts = Counter(c for p in roots for c in dict.fromkeys(p.companies))
    companies = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return IncidentReport(incident, companies, roots[:examples], len(roots) >= cap)
