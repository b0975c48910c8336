"""Trend labels for the web layer. The rule itself lives in the indexer
(indexer.clustering.recurring): one definition of "rising" for the UI, the
API, feeds and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from indexer.clustering.recurring import Trend as _Trend
from indexer.clustering.recurring import TrendRule, classify, month_index, monthly_trend

RISING, NEW, FADING, STEADY = "rising", "new", "fading", "steady"
# "steady" on a handful of posts says nothing: too few recent posts for a rise
# (RULE.min_recent) and too few before them for a fall (RULE.min_baseline)
TOO_LITTLE_DATA = "too_little_data"
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


def trend_details(monthly: Mapping[str, int], today: date, company_monthly: Mapping[str, int] | None = None) -> Trend:
    """Classify one incident type's monthly counts ('YYYY-MM' -> n) against the
    company's monthly volume (default: the same counts) as of ``today``."""
    trend, recent, expected = monthly_trend(monthly, company_monthly or monthly, today, RULE)
    label = str(trend)
    if label == STEADY and recent < RULE.min_recent and _baseline(monthly, today) < RULE.min_baseline:
        label = TOO_LITTLE_DATA  # neither a rise nor a fall could show on so few posts
    return Trend(label, recent, expected)


def _baseline(monthly: Mapping[str, int], today: date) -> int:
    """Posts in the baseline window: the RULE.baseline_months before the recent window."""
    recent_start = month_index(today) - RULE.recent_months + 1
    base_start = recent_start - RULE.baseline_months
    return sum(n for m, n in monthly.items() if n > 0 and base_start <= month_index(m) < recent_start)


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
