"""Recurring failures per company: count, first/last seen, monthly series and
a trend flag per company x incident type. A pure function over
(company, incident id, published_at[, stance]) rows, so it works on any store.
Only complaints count: a row whose stance is praise, a question or other
(indexer/stance.py) is left out; no stance (an older database) is a complaint.

The trend compares the last `recent_months` with the `baseline_months`
before them, against the company's own baseline: an incident type is expected
to keep its share of the company's posts, so a crawl that simply found twice
as many posts about a company does not make all its incident types "rising".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

COMPLAINT = "complaint"  # indexer.stance.COMPLAINT (not imported: this module stays a pure function)


def counts_as_complaint(stance: str | None) -> bool:
    """Only complaints count towards recurring failures and trends; a post
    never classified (stance None, from an older database) is one."""
    return stance is None or stance == COMPLAINT


class Trend(StrEnum):
    NEW = "new"  # first seen inside the recent window
    RISING = "rising"  # recent count well above its share of the company's recent posts
    STEADY = "steady"
    FADING = "fading"  # well below its expected share, or not seen since before the baseline window


@dataclass(slots=True)
class TrendRule:
    recent_months: int = 3
    baseline_months: int = 12
    rise_ratio: float = 2.0
    fade_ratio: float = 0.5
    min_recent: int = 3  # a rise needs at least this many recent posts, not 1 vs 0
    min_baseline: int = 3  # fading needs a real baseline to fade from


@dataclass(slots=True)
class RecurringFailure:
    company: str
    incident_id: int
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    monthly: dict[str, int] = field(default_factory=dict)  # "YYYY-MM" -> posts, every month first..as_of
    recent: int = 0  # posts in the recent window
    baseline: int = 0  # posts in the baseline window
    expected_recent: float = 0.0  # baseline scaled by the company's recent / baseline volume
    trend: Trend = Trend.STEADY


def _month_key(i: int) -> str:
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def classify(
    recent: int, baseline: int, before: int, company_recent: int, company_baseline: int, dormant: bool, rule: TrendRule
) -> tuple[Trend, float]:
    """Trend and expected recent count. `before`: posts before the recent window
    (any age); `dormant`: none since before the baseline window."""
    if recent and not before:
        return Trend.NEW, 0.0
    if not recent and dormant:
        return Trend.FADING, 0.0
    if company_baseline:
        expected = baseline * company_recent / company_baseline
    else:  # the company itself only just (re)appeared: plain per-month rate
        expected = baseline * rule.recent_months / rule.baseline_months
    if recent >= rule.min_recent and recent >= rule.rise_ratio * expected:
        return Trend.RISING, expected
    if baseline >= rule.min_baseline and recent <= rule.fade_ratio * expected:
        return Trend.FADING, expected
    return Trend.STEADY, expected


def month_index(month: str | date | datetime) -> int:
    """'YYYY-MM' (or a date) -> months since year 0."""
    if isinstance(month, (date, datetime)):
        return month.year * 12 + month.month - 1
    y, m = month.split("-")[:2]
    if not 1 <= int(m) <= 12:
        raise ValueError(f"bad month {month!r}")
    return int(y) * 12 + int(m) - 1


def monthly_trend(
    monthly: Mapping[str, int],
    company_monthly: Mapping[str, int],
    as_of: date | datetime,
    rule: TrendRule | None = None,
) -> tuple[Trend, int, float]:
    """(trend, recent count, expected recent count) of one incident type's
    monthly counts against the company's monthly volume, as of a date. Posts
    dated after `as_of` count as recent."""
    rule = rule or TrendRule()
    now = month_index(as_of)
    recent_start = now - rule.recent_months + 1
    base_start = recent_start - rule.baseline_months

    def windows(counts: Mapping[str, int]) -> tuple[int, int, int, int | None]:
        idx = {month_index(m): n for m, n in counts.items() if n > 0}
        recent = sum(n for i, n in idx.items() if i >= recent_start)
        baseline = sum(n for i, n in idx.items() if base_start <= i < recent_start)
        before = sum(n for i, n in idx.items() if i < recent_start)
        return recent, baseline, before, max(idx) if idx else None

    recent, baseline, before, last = windows(monthly)
    if last is None:
        return Trend.FADING, 0, 0.0
    # the company's volume from its *other* posts scales the expectation, so a
    # crawl that found more of everything raises nothing, while a company whose
    # one dominant problem surges still shows it rising (no others: own pace)
    others = {m: company_monthly.get(m, 0) - monthly.get(m, 0) for m in company_monthly}
    c_recent, c_baseline, _, _ = windows(others)
    trend, expected = classify(recent, baseline, before, c_recent, c_baseline, last < base_start, rule)
    return trend, recent, expected


def recurring_failures(
    rows: Iterable[Sequence],
    as_of: datetime | None = None,
    rule: TrendRule | None = None,
) -> list[RecurringFailure]:
    """One entry per (company, incident id) that has posts, per company largest
    first. Rows are (company, incident id, published_at) or (company, incident
    id, published_at, stance); rows whose stance is not a complaint
    (counts_as_complaint) are left out entirely, volume included. Rows with
    incident id None (outliers) count towards the company's volume only; rows
    without a date count in `count` only. `as_of` (default: the latest date in
    all counted rows, not per company, so a company that went quiet shows it)
    ends the recent window."""
    rule = rule or TrendRule()
    rows = [(r[0], r[1], r[2]) for r in rows if len(r) < 4 or counts_as_complaint(r[3])]
    dated = [d for _, _, d in rows if d is not None]
    as_of = as_of or (max(dated) if dated else None)
    now = month_index(as_of) if as_of else 0

    company_monthly: dict[str, dict[str, int]] = {}
    groups: dict[tuple[str, int], list[datetime | None]] = {}
    for company, incident, published in rows:
        if published is not None:
            cm = company_monthly.setdefault(company, {})
            key = _month_key(month_index(published))
            cm[key] = cm.get(key, 0) + 1
        if incident is not None:
            groups.setdefault((company, incident), []).append(published)

    out = []
    for (company, incident), dates in groups.items():
        known = sorted(d for d in dates if d is not None)
        monthly: dict[str, int] = {}
        trend, recent, expected = Trend.STEADY, 0, 0.0
        if known:
            first, last = month_index(known[0]), month_index(known[-1])
            monthly = {_month_key(m): 0 for m in range(first, max(now, last) + 1)}
            for d in known:
                monthly[_month_key(month_index(d))] += 1
            trend, recent, expected = monthly_trend(monthly, company_monthly.get(company, {}), as_of, rule)
        recent_start = now - rule.recent_months + 1
        baseline = sum(
            n for m, n in monthly.items() if recent_start - rule.baseline_months <= month_index(m) < recent_start
        )
        out.append(
            RecurringFailure(
                company=company,
                incident_id=incident,
                count=len(dates),
                first_seen=known[0] if known else None,
                last_seen=known[-1] if known else None,
                monthly=monthly,
                recent=recent,
                baseline=baseline,
                expected_recent=expected,
                trend=trend,
            )
        )
    out.sort(key=lambda r: (r.company, -r.count, r.incident_id))
    return out
