"""Trend labels for the web layer. The rule itself lives in the indexer
(indexer.clustering.recurring): one definition of "rising" for the UI, the
API, feeds and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from indexer.clustering.recurring import (
    TOO_LITTLE_DATA,
    TrendRule,
    classify,
    month_index,
    recurring_from_counts,
)
from indexer.clustering.recurring import Trend as _Trend

RISING, NEW, FADING, STEADY = "rising", "new", "fading", "steady"
RULE = TrendRule()

# Alerts: a spike is the same "rising" rule (x2 what the baseline predicts, and
# at least 3 posts) over one 30-day window against the 6 windows before it:
# expected = the previous 6 months' monthly average x 1 month.
SPIKE_RULE = TrendRule(recent_months=1, baseline_months=6)
SPIKE_WINDOW = timedelta(days=30)

__all__ = [
    "FADING",
    "NEW",
    "RISING",
    "SPIKE_RULE",
    "SPIKE_WINDOW",
    "STEADY",
    "TOO_LITTLE_DATA",
    "Spike",
    "Trend",
    "classify_trend",
    "month_index",
    "spike_details",
    "trend_details",
]


@dataclass(frozen=True, slots=True)
class Trend:
    label: str  # rising | new | fading | steady | too_little_data
    recent: int  # posts in the recent window (RULE.recent_months, current month included)
    expected: float  # what the company's own baseline predicts for that window


@dataclass(slots=True)  # not frozen: IncidentCounts' attributes are settable
class _Counts:
    monthly: Mapping[str, int]
    company: str = ""
    incident_id: int = 0
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None


def trend_details(monthly: Mapping[str, int], today: date, company_monthly: Mapping[str, int] | None = None) -> Trend:
    """Classify one incident type's monthly counts ('YYYY-MM' -> n) against the
    company's monthly volume (default: the same counts) as of ``today``, by
    the one aggregation (indexer.clustering.recurring_from_counts)."""
    (r,) = recurring_from_counts([_Counts(monthly)], {"": company_monthly or monthly}, today, RULE)
    return Trend(r.label, r.recent, r.expected_recent)


def classify_trend(monthly: Mapping[str, int], today: date, company_monthly: Mapping[str, int] | None = None) -> str:
    return trend_details(monthly, today, company_monthly).label


@dataclass(frozen=True, slots=True)
class Spike:
    spike: bool
    label: str  # the window's trend: rising | new | fading | steady
    recent: int  # posts in the last SPIKE_WINDOW
    baseline: int  # posts in the 6 windows before it
    expected: float  # baseline / 6: what one window holds at the usual pace


def spike_details(recent: int, baseline: int, before: int) -> Spike:
    """``recent``: posts in the last 30 days; ``baseline``: in the 180 days
    before; ``before``: before the last 30 days, any age."""
    dormant = before > 0 and baseline == 0  # nothing since before the baseline window
    trend, expected = classify(recent, baseline, before, 0, 0, dormant, SPIKE_RULE)
    if trend == _Trend.NEW:  # no baseline at all: the rule's "x2 of nothing"
        expected = 0.0
    spike = trend in (_Trend.RISING, _Trend.NEW) and recent >= SPIKE_RULE.min_recent
    return Spike(spike, str(trend), recent, baseline, expected)
