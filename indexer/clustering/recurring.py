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
from typing import Protocol

COMPLAINT = "complaint"  # indexer.stance.COMPLAINT (not imported: this module stays a pure function)
TOO_LITTLE_DATA = "too_little_data"


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
    rule: TrendRule = field(default_factory=TrendRule, repr=False, compare=False)

    @property
    def label(self) -> str:
        """The trend, or "too_little_data": "steady" on a handful of posts says
        nothing (too few recent posts for a rise, too few before them for a fall)."""
        if self.trend == Trend.STEADY and self.recent < self.rule.min_recent and self.baseline < self.rule.min_baseline:
            return TOO_LITTLE_DATA
        return str(self.trend)


class IncidentCounts(Protocol):
    """What a store reports per company x incident type (indexer.store.base.IncidentStat)."""

    company: str
    incident_id: int
    count: int
    first_seen: datetime | None
    last_seen: datetime | None

    @property  # read-only, so a dict-typed `monthly` (IncidentStat, _Counts) matches
    def monthly(self) -> Mapping[str, int]: ...


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


def recurring_from_counts(
    counts: Iterable[IncidentCounts],
    volume: Mapping[str, Mapping[str, int]],
    as_of: date | datetime | None,
    rule: TrendRule | None = None,
) -> list[RecurringFailure]:
    """The one aggregation of recurring failures (UI, API, alerts, bench and
    tests all come here): per company x incident type counts (stories), plus
    each company's monthly complaint volume (`volume[company]`: every
    complaint, typed or not), as of a date. Per company largest first."""
    rule = rule or TrendRule()
    now = month_index(as_of) if as_of else 0
    recent_start = now - rule.recent_months + 1
    out = []
    for c in counts:
        monthly: dict[str, int] = {}
        trend, recent, expected = Trend.STEADY, 0, 0.0
        known = [m for m, n in c.monthly.items() if n > 0]
        if known and as_of is not None:
            first, last = min(map(month_index, known)), max(map(month_index, known))
            monthly = {_month_key(m): 0 for m in range(first, max(now, last) + 1)}
            for m, n in c.monthly.items():
                monthly[_month_key(month_index(m))] += n
            trend, recent, expected = monthly_trend(monthly, volume.get(c.company, {}), as_of, rule)
        elif not known and not c.count:
            trend = Trend.FADING  # no posts at all (undated ones stay "steady": too little data)
        baseline = sum(
            n for m, n in monthly.items() if recent_start - rule.baseline_months <= month_index(m) < recent_start
        )
        out.append(
            RecurringFailure(
                company=c.company,
                incident_id=c.incident_id,
                count=c.count,
                first_seen=c.first_seen,
                last_seen=c.last_seen,
                monthly=monthly,
                recent=recent,
                baseline=baseline,
                expected_recent=expected,
                trend=trend,
                rule=rule,
            )
        )
    out.sort(key=lambda r: (r.company, -r.count, r.incident_id))
    return out


@dataclass(slots=True)
class _Counts:
    company: str
    incident_id: int
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    monthly: dict[str, int] = field(default_factory=dict)


def recurring_failures(
    rows: Iterable[Sequence],
    as_of: datetime | None = None,
    rule: TrendRule | None = None,
) -> list[RecurringFailure]:
    """Recurring failures from raw rows: (company, incident id, published_at)
    or (company, incident id, published_at, stance); counted here the way a
    store counts them, then `recurring_from_counts`. Rows whose stance is not a
    complaint (counts_as_complaint) are left out entirely, volume included.
    Rows with incident id None (outliers) count towards the company's volume
    only; rows without a date count in `count` only. `as_of` (default: the
    latest date in all counted rows, not per company, so a company that went
    quiet shows it) ends the recent window."""
    rows = [(r[0], r[1], r[2]) for r in rows if len(r) < 4 or counts_as_complaint(r[3])]
    dated = [d for _, _, d in rows if d is not None]
    as_of = as_of or (max(dated) if dated else None)

    volume: dict[str, dict[str, int]] = {}
    groups: dict[tuple[str, int], _Counts] = {}
    for company, incident, published in rows:
        key = _month_key(month_index(published)) if published is not None else None
        if key is not None:
            cm = volume.setdefault(company, {})
            cm[key] = cm.get(key, 0) + 1
        if incident is None:
            continue
        g = groups.setdefault((company, incident), _Counts(company, incident))
        g.count += 1
        if published is not None and key is not None:
            g.monthly[key] = g.monthly.get(key, 0) + 1
            g.first_seen = published if g.first_seen is None or published < g.first_seen else g.first_seen
            g.last_seen = published if g.last_seen is None or published > g.last_seen else g.last_seen
    return recurring_from_counts(groups.values(), volume, as_of, rule)
