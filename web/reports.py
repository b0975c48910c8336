"""Per-company and per-incident-type aggregates, shared by pages and API."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from flask import g

from complaintwatch.companies import builtin_companies
from complaintwatch.models import Incident, Post, SearchFilters
from indexer.clustering.recurring import recurring_from_counts
from indexer.store.roles import AnalyticsStore
from indexer.store.types import CompanyCounts, ComplaintReply, ComplaintSummary

from .aggregates import cached
from .charts import month_range
from .services import setting, store
from .trends import RULE, Trend


def today() -> date:
    """The date trends are computed as of: the AS_OF setting (the demo sets
    it to its newest post) or today."""
    as_of = setting("AS_OF")
    return as_of if as_of is not None else datetime.now(timezone.utc).date()


def incidents_by_id() -> dict[int, Incident]:
    return dict(cached("incidents", lambda: {i.id: i for i in store().incidents()}))


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
    share: float | None = None  # of the company's complaints (stories counted once), 0..1
    industry_share: float | None = None  # of the industry's complaints (IndustryComparison), 0..1

    @property
    def label(self) -> str:
        return incident_label(self.incident, self.incident_id)

    @property
    def per_100(self) -> float | None:
        """Complaints of this type per 100 of the company's complaints."""
        return per_100(self.share)

    @property
    def industry_per_100(self) -> float | None:
        return per_100(self.industry_share)


def per_100(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


@dataclass(slots=True)
class CompanyReport:
    id: str
    post_count: int
    rows: list[IncidentRow]
    months: list[str]  # the common x axis of every timeline chart
    threads: int  # the company's opening posts whose thread has comments
    replied: int  # ...of which the company replied in
    latest: list[Post] = field(default_factory=list)
    counts: CompanyCounts | None = None  # complaints, comments and company replies apart
    # the company's posts by stance (company replies excepted; complaint includes
    # posts not classified yet): praise and questions are shown apart from the
    # recurring failures, which count complaints only
    stances: dict[str, int] = field(default_factory=dict)
    responses: Responses | None = None  # reply rate, response time, unanswered complaints
    timeline: Timeline | None = None  # complaints and company replies per month
    industry: IndustryComparison | None = None  # its incident types against the rest of its industry

    @property
    def reply_share(self) -> float | None:
        return self.replied / self.threads if self.threads else None


@dataclass(slots=True)
class Responses:
    """How the company answers its complaints (Store.company_complaint_replies):
    complaints that got a company reply in their thread, the median time from
    a complaint to its first company reply, and the newest unanswered ones."""

    complaints: int
    answered: int
    median_response_hours: float | None
    unanswered: list[ComplaintReply]  # newest first, at most UNANSWERED_ON_COMPANY
    unanswered_total: int

    @property
    def reply_rate(self) -> float | None:
        return self.answered / self.complaints if self.complaints else None

    @property
    def median_response_label(self) -> str:
        h = self.median_response_hours
        if h is None:
            return "—"
        if h < 48:
            return f"{h:g} h"
        return f"{h / 24:.1f} days"


UNANSWERED_ON_COMPANY = 10


def responses(summary: ComplaintSummary) -> Responses:
    """From Store.company_complaint_summary (computed by the store, not over every complaint here)."""
    return Responses(
        summary.complaints,
        summary.answered,
        summary.median_response_hours,
        summary.unanswered,
        summary.unanswered_total,
    )


@dataclass(slots=True)
class Timeline:
    months: list[str]
    complaints: dict[str, int]  # "YYYY-MM" -> complaints (a story posted on several URLs once)
    replies: dict[str, int]  # "YYYY-MM" -> the company's own replies


def timeline(monthly: dict[str, int], replies: dict[str, int], on: date) -> Timeline:
    """``monthly``: complaints per month, a story once when first seen (ComplaintSummary.monthly)."""
    used = [m for m, n in (*monthly.items(), *replies.items()) if n]
    current = f"{on.year:04d}-{on.month:02d}"
    months = month_range(min(min(used), current), max(max(used), current)) if used else []
    return Timeline(months, monthly, {m: n for m, n in replies.items() if n})


# -- the company against its industry --

INDUSTRY_NAMES = {
    "banking": "Banking",
    "ecommerce": "E-commerce",
    "telecom": "Telecoms",
    "delivery": "Delivery",
    "travel": "Travel",
}
MIN_INDUSTRY_PEERS = 3  # other companies of the industry with complaints, for a comparison worth reading


@functools.cache
def _builtin_industries() -> dict[str, str]:
    return {c.id: c.industry for c in builtin_companies() if c.industry}


def company_industry(company: str) -> str | None:
    """The company's industry from the alias table (complaintwatch/data/companies.toml)."""
    return _builtin_industries().get(company)


@dataclass(slots=True)
class IndustryComparison:
    """The other companies of the company's industry (the alias table's) that have complaints
    in the store, and their complaints per incident type (Store.complaint_incident_counts: a
    story once, however many of them it names). ``enough``: MIN_INDUSTRY_PEERS of them or
    more; below that the page says so instead of comparing."""

    company: str
    industry: str | None
    peers: list[str] = field(default_factory=list)
    complaints: int = 0
    per_type: dict[int, int] = field(default_factory=dict)
    min_peers: int = MIN_INDUSTRY_PEERS

    @property
    def name(self) -> str | None:
        return INDUSTRY_NAMES.get(self.industry or "", self.industry)

    @property
    def enough(self) -> bool:
        return self.industry is not None and len(self.peers) >= self.min_peers and self.complaints > 0

    def share(self, incident_id: int) -> float | None:
        return self.per_type.get(incident_id, 0) / self.complaints if self.enough else None

    @property
    def note(self) -> str:
        """Why there is no comparison, or whom it is with."""
        if self.industry is None:
            return "Its industry is not known (the company table gives none): nothing to compare with."
        n = len(self.peers)
        if not self.enough:
            return (
                f"Too few other {self.name} companies with complaints to compare with "
                f"({n}; at least {self.min_peers} needed)."
            )
        return f"Compared with {n} other {self.name} companies ({self.complaints:,} complaints)."


def industry_comparison(company: str) -> IndustryComparison:
    industry = company_industry(company)
    if industry is None:
        return IndustryComparison(company, None)
    peers = [
        c
        for c, counts in company_counts().items()
        if c != company and counts.complaints and company_industry(c) == industry
    ]
    if len(peers) < MIN_INDUSTRY_PEERS:
        return IndustryComparison(company, industry, peers)
    total, per_type = cached(f"industry:{company}", lambda: store().complaint_incident_counts(peers))
    return IndustryComparison(company, industry, peers, total, dict(per_type))


def company_post_count(company: str) -> int | None:
    """Posts mentioning the company, or None when the store does not know it."""
    return cached("companies", lambda: dict(store().companies())).get(company)


def company_counts() -> dict[str, CompanyCounts]:
    """Complaints, comments and company replies per company (Store.company_counts),
    in its order (most complaints first); one aggregation per request."""
    counts = g.get("_cw_company_counts")
    if counts is None:
        counts = g._cw_company_counts = dict(
            cached("company_counts", lambda: {c.company: c for c in store().company_counts()})
        )
    return counts


def counts_for(company: str) -> CompanyCounts:
    return company_counts().get(company) or CompanyCounts(company)


def stance_counts(company: str) -> dict[str, int]:
    """{stance: the company's posts of it} (indexer/stance.py STANCES)."""
    return store().company_stance_counts(company)


def incident_rows(
    company: str, on: date, incs: dict[int, Incident] | None = None
) -> tuple[list[IncidentRow], list[str]]:
    """The company's incident types (largest first) with their trends as of
    ``on``, and the months of their common timeline axis. Only complaints
    count (Store.company_incident_stats leaves praise and questions out, and
    the indexer gives them no incident type), trends' baseline volume included."""
    incs = incidents_by_id() if incs is None else incs
    s: AnalyticsStore = store()
    stats = s.company_incident_stats(company)
    found = recurring_from_counts(stats, {company: s.company_complaint_months(company)}, on, RULE)
    rows = [
        IncidentRow(
            r.incident_id,
            incs.get(r.incident_id),
            r.count,
            r.first_seen,
            r.last_seen,
            {m: n for m, n in r.monthly.items() if n},
            Trend(r.label, r.recent, r.expected_recent),
        )
        for r in found
    ]
    all_months = [m for r in rows for m, n in r.monthly.items() if n]
    current = f"{on.year:04d}-{on.month:02d}"
    months = month_range(min(min(all_months), current), max(max(all_months), current)) if all_months else []
    return rows, months


# Elasticsearch has no change marker: a company's report is kept this long there (and
# dropped at once after a write through this process's store); SQLite keeps it until
# anything commits to the store file
REPORT_TTL = 30.0


def company_report(company: str, post_count: int, on: date | None = None) -> CompanyReport:
    """The company page's report, reused until the store changes (web/aggregates.py).
    Nothing may modify the returned report: requests share it."""
    on = on or today()
    return cached(
        f"company_report:{company}:{on.isoformat()}:{post_count}",
        lambda: _company_report(company, post_count, on),
        ttl=REPORT_TTL,
    )


def _company_report(company: str, post_count: int, on: date) -> CompanyReport:
    s = store()
    rows, months = incident_rows(company, on)
    threads, replied = s.company_reply_stats(company)
    latest = s.latest_posts(SearchFilters(company=company), limit=setting("LATEST_ON_COMPANY"))
    summary = s.company_complaint_summary(company, UNANSWERED_ON_COMPANY)
    total = summary.stories
    industry = industry_comparison(company)
    for r in rows:
        r.share = r.count / total if total else None
        r.industry_share = industry.share(r.incident_id)
    return CompanyReport(
        company,
        post_count,
        rows,
        months,
        threads,
        replied,
        latest,
        counts_for(company),
        stance_counts(company),
        responses(summary),
        timeline(summary.monthly, s.company_reply_months(company), on),
        industry,
    )


@dataclass(slots=True)
class IncidentReport:
    incident: Incident
    companies: list[tuple[str, int]]  # most-hit first (opening posts only)
    posts: list[Post]  # the latest opening posts
    representatives: list[Post] = field(default_factory=list)  # closest to the type's centre, best first


def incident_report(incident: Incident, examples: int = 8) -> IncidentReport:
    s = store()
    companies = s.incident_company_counts(incident.id)
    latest = s.latest_posts(SearchFilters(incident_id=incident.id, include_comments=False), limit=examples)
    by_id = s.get_posts(incident.representatives) if incident.representatives else {}
    reps = [by_id[i] for i in incident.representatives if i in by_id]
    return IncidentReport(incident, companies, latest, reps)


@dataclass(slots=True)
class CompareColumn:
    id: str
    post_count: int
    threads: int
    replied: int
    rows: dict[int, IncidentRow]  # incident id -> the company's row
    counts: CompanyCounts | None = None

    @property
    def reply_share(self) -> float | None:
        return self.replied / self.threads if self.threads else None


@dataclass(slots=True)
class CompareReport:
    columns: list[CompareColumn]  # in the order asked for
    incident_ids: list[int]  # every incident type any of them has, most posts (all together) first
    incidents: dict[int, Incident]

    def label(self, incident_id: int) -> str:
        return incident_label(self.incidents.get(incident_id), incident_id)


def compare_report(companies: list[tuple[str, int]], on: date | None = None) -> CompareReport:
    """Side by side: (company id, post count) pairs -> rows = incident types,
    columns = companies, with each company's own trends and reply share."""
    on = on or today()
    s: AnalyticsStore = store()
    incs = incidents_by_id()
    columns = []
    for company, n in companies:
        rows, _ = incident_rows(company, on, incs)
        threads, replied = s.company_reply_stats(company)
        columns.append(
            CompareColumn(company, n, threads, replied, {r.incident_id: r for r in rows}, counts_for(company))
        )
    totals: dict[int, int] = {}
    for col in columns:
        for iid, r in col.rows.items():
            totals[iid] = totals.get(iid, 0) + r.count
    order = sorted(totals, key=lambda iid: (-totals[iid], iid))
    return CompareReport(columns, order, incs)
