"""Recurring failures per company and their trend flags, on hand-made series."""

from __future__ import annotations

from datetime import datetime, timezone

from indexer.clustering import Trend, recurring_failures
from indexer.clustering.recurring import TrendRule

AS_OF = datetime(2024, 12, 20, tzinfo=timezone.utc)  # recent window: 2024-10..12, baseline: 2023-10..2024-09


def months(start: str, end: str) -> list[str]:
    y, m = map(int, start.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def series(company: str, incident: int | None, per_month: dict[str, int]):
    for month, n in per_month.items():
        y, m = map(int, month.split("-"))
        for day in range(n):
            yield company, incident, datetime(y, m, 1 + day % 28, 12, tzinfo=timezone.utc)


def flat(start: str, end: str, n: int) -> dict[str, int]:
    return dict.fromkeys(months(start, end), n)


def by_key(rows, **kw):
    return {(r.company, r.incident_id): r for r in recurring_failures(rows, **kw)}


def test_trend_flags_against_the_companys_own_baseline():
    rows = [
        *series("acme", 1, flat("2023-01", "2024-12", 2)),  # steady
        *series("acme", 2, flat("2023-01", "2024-12", 4)),  # steady, the bulk of the company's posts
        *series("acme", 3, flat("2023-10", "2024-09", 1) | flat("2024-10", "2024-12", 5)),  # rising
        *series("acme", 4, {"2024-11": 2, "2024-12": 1}),  # new
        *series("acme", 5, flat("2023-10", "2024-09", 3)),  # fading: gone quiet
        *series("acme", 6, {"2021-03": 4}),  # fading: not seen for years
        *series("acme", 7, {"2024-02": 1, "2024-11": 1}),  # too few posts to call anything
    ]
    got = by_key(rows, as_of=AS_OF)
    assert {k[1]: r.trend for k, r in got.items()} == {
        1: Trend.STEADY,
        2: Trend.STEADY,
        3: Trend.RISING,
        4: Trend.NEW,
        5: Trend.FADING,
        6: Trend.FADING,
        7: Trend.STEADY,
    }
    rising = got["acme", 3]
    assert (rising.recent, rising.baseline) == (15, 12) and rising.expected_recent < 15 / 2


def test_more_posts_about_a_company_is_not_a_rise():
    """The crawl found twice as many posts about bigco recently, for every
    incident type alike: each keeps its share, so nothing is rising."""
    rows = [
        *series("bigco", 1, flat("2023-10", "2024-09", 1) | flat("2024-10", "2024-12", 2)),
        *series("bigco", 2, flat("2023-10", "2024-09", 3) | flat("2024-10", "2024-12", 6)),
        # outliers (no incident type) are part of the company's volume too
        *series("bigco", None, flat("2023-10", "2024-09", 2) | flat("2024-10", "2024-12", 4)),
    ]
    got = by_key(rows, as_of=AS_OF)
    assert set(got) == {("bigco", 1), ("bigco", 2)}
    # on raw monthly rates incident 2 would be "rising": 18 recent vs 3 * 3 at its old rate
    assert got["bigco", 2].trend == Trend.STEADY and got["bigco", 2].expected_recent == 18
    alone = by_key([r for r in rows if r[1] == 2], as_of=AS_OF)
    # with no other posts to scale by, its own pace is the baseline: 18 recent vs 9 expected
    assert alone["bigco", 2].trend == Trend.RISING


def test_counts_dates_and_monthly_series():
    rows = [
        ("acme", 1, datetime(2024, 3, 5, tzinfo=timezone.utc)),
        ("acme", 1, datetime(2024, 3, 9, tzinfo=timezone.utc)),
        ("acme", 1, datetime(2024, 6, 1, tzinfo=timezone.utc)),
        ("acme", 1, None),  # undated: counted, but not in the series
        ("zeta", 1, datetime(2024, 8, 31, tzinfo=timezone.utc)),
    ]
    (acme, zeta) = recurring_failures(rows)  # as_of: the latest date of all rows, 2024-08
    assert (acme.company, acme.count, zeta.company) == ("acme", 4, "zeta")
    assert acme.first_seen == datetime(2024, 3, 5, tzinfo=timezone.utc)
    assert acme.last_seen == datetime(2024, 6, 1, tzinfo=timezone.utc)
    # every month from the first post up to as_of, zeros included
    assert acme.monthly == {"2024-03": 2, "2024-04": 0, "2024-05": 0, "2024-06": 1, "2024-07": 0, "2024-08": 0}
    assert zeta.trend == Trend.NEW and acme.trend == Trend.STEADY
    assert recurring_failures([]) == []
    (undated,) = recurring_failures([("acme", 2, None)])
    assert (undated.count, undated.monthly, undated.first_seen, undated.trend) == (1, {}, None, Trend.STEADY)


def test_rule_is_configurable():
    rows = list(series("acme", 1, flat("2024-01", "2024-09", 2) | {"2024-12": 6}))
    rows += series("acme", 2, flat("2024-01", "2024-12", 5))
    assert by_key(rows, as_of=AS_OF)["acme", 1].trend == Trend.STEADY
    assert by_key(rows, as_of=AS_OF, rule=TrendRule(recent_months=1))["acme", 1].trend == Trend.RISING
