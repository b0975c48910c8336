"""Recurring failures per company: count, first/last seen, monthly series and
a trend flag per company x incident type. A pure function over
(company, incident id, published_at) rows, so it works on any store.

The trend compares the last `recent_months` with the `baseline_months`
before them, against the company's own baseline: an incident type is expected
to keep its share of the company's posts, so a crawl that simply found twice
as many posts about a company does not make all its incident types "rising".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


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


def _month_index(d: datetime) -> int:
    return d.year * 12 + d.month - 1


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


def recurring_failures(
    rows: Iterable[tuple[str, int | None, datetime | None]],
    as_of: datetime | None = None,
    rule: TrendRule | None = None,
) -> list[RecurringFailure]:
    """One entry per (company, incident id) that has posts, per company largest
    first. Rows with incident id None (outliers) count towards the company's
    volume only; rows without a date count in `count` only. `as_of` (default:
    the latest date in all rows, not per company, so a company that went quiet
    shows it) ends the recent window."""
    rule = rule or TrendRule()
    rows = list(rows)
    dated = [d for _, _, d in rows if d is not None]
    now = _month_index(as_of or max(dated)) if (as_of or dated) else 0
    recent_start = now - rule.recent_months + 1
    base_start = recent_start - rule.baseline_months

    company_recent: dict[str, int] = {}
    company_base: dict[str, int] = {}
    groups: dict[tuple[str, int], list[datetime | None]] = {}
    for company, incident, published in rows:
        if published is not None:
            m = _month_index(published)
            if recent_start <= m <= now:
                company_recent[company] = company_recent.get(company, 0) + 1
            elif base_start <= m < recent_start:
                company_base[company] = company_base.get(company, 0) + 1
        if incident is not None:
            groups.setdefault((company, incident), []).append(published)

    out = []
    for (company, incident), dates in groups.items():
        known = sorted(d for d in dates if d is not None)
        months = [_month_index(d) for d in known]
        recent = sum(recent_start <= m <= now for m in months)
        baseline = sum(base_start <= m < recent_start for m in months)
        before = sum(m < recent_start for m in months)
        dormant = bool(months) and max(months) < base_start
        trend, expected = classify(
            recent, baseline, before, company_recent.get(company, 0), company_base.get(company, 0), dormant, rule
        )
        monthly: dict[str, int] = {}
        if months:
            counts: dict[int, int] = {}
            for m in months:
                counts[m] = counts.get(m, 0) + 1
            monthly = {_month_key(m): counts.get(m, 0) for m in range(months[0], max(now, months[-1]) + 1)}
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
                trend=trend if months else Trend.STEADY,
            )
        )
    out.sort(key=lambda r: (r.company, -r.count, r.incident_id))
    return out
