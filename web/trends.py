"""Trend labels for the web layer. The rule itself lives in the indexer
(indexer.clustering.recurring): one definition of "rising" for the UI, the
API, feeds and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from indexer.clustering.recurring import TrendRule, month_index, monthly_trend

RISING, NEW, FADING, STEADY = "rising", "new", "fading", "steady"
RULE = TrendRule()

__all__ = ["FADING", "NEW", "RISING", "STEADY", "Trend", "classify_trend", "month_index", "trend_details"]


@dataclass(frozen=True, slots=True)
class Trend:
    label: str  # rising | new | fading | steady
    recent: int  # posts in the recent window (RULE.recent_months, current month included)
    expected: float  # what the company's own baseline predicts for that window


def trend_details(monthly: Mapping[str, int], today: date, company_monthly: Mapping[str, int] | None = None) -> Trend:
    """Classify one incident type's monthly counts ('YYYY-MM' -> n) against the
    company's monthly volume (default: the same counts) as of ``today``."""
    trend, recent, expected = monthly_trend(monthly, company_monthly or monthly, today, RULE)
    return Trend(str(trend), recent, expected)


def classify_trend(monthly: Mapping[str, int], today: date, company_monthly: Mapping[str, int] | None = None) -> str:
    return trend_details(monthly, today, company_monthly).label
