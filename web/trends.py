"""Is a company's incident type getting worse? A pure function of its monthly
counts and today's date, so it can be tested (and later moved to the indexer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

RISING, NEW, FADING, STEADY = "rising", "new", "fading", "steady"

RECENT_MONTHS = 6  # the window compared with the past
QUIET_MONTHS = 12  # silence this long -> fading
RISE_FACTOR = 1.5  # recent count must beat the earlier pace by this factor
MIN_RISE = 2  # ...and by at least this many posts (one post is not a trend)


@dataclass(frozen=True, slots=True)
class Trend:
    label: str  # rising | new | fading | steady
    recent: int  # posts in the last RECENT_MONTHS months (current month included)
    expected: float  # earlier monthly average x RECENT_MONTHS


def month_index(month: str) -> int:
    """'YYYY-MM' -> months since year 0."""
    y, m = month.split("-")[:2]
    mi = int(m)
    if not 1 <= mi <= 12:
        raise ValueError(f"bad month {month!r}")
    return int(y) * 12 + mi - 1


def trend_details(monthly: Mapping[str, int], today: date) -> Trend:
    """Classify monthly counts ('YYYY-MM' -> n) as of ``today``:

    - new: first seen within the last 6 months (current month included);
    - fading: nothing in the last 12 months;
    - rising: the last 6 months hold more than 1.5x (and at least 2 more than)
      what the company's own earlier monthly average predicts;
    - steady: anything else.
    """
    counts = {month_index(m): n for m, n in monthly.items() if n > 0}
    now = today.year * 12 + today.month - 1
    recent_start = now - RECENT_MONTHS + 1
    if not counts:
        return Trend(FADING, 0, 0.0)
    first, last = min(counts), max(counts)
    recent = sum(n for i, n in counts.items() if i >= recent_start)
    if first >= recent_start:
        return Trend(NEW, recent, 0.0)
    earlier_months = recent_start - first
    expected = sum(n for i, n in counts.items() if i < recent_start) / earlier_months * RECENT_MONTHS
    if last <= now - QUIET_MONTHS:
        return Trend(FADING, recent, expected)
    if recent > expected * RISE_FACTOR and recent - expected >= MIN_RISE:
        return Trend(RISING, recent, expected)
    return Trend(STEADY, recent, expected)


def classify_trend(monthly: Mapping[str, int], today: date) -> str:
    return trend_details(monthly, today).label
