"""Trends a reader can trust (issue 13): every page that shows trends says the
date they are computed as of (today, or the date the server is set to, as the
demo does, and why); a trend on a handful of posts is "too little data", not
"steady"; a reversed date range is explained (400 in the API, a notice on the
page), not an empty list."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from complaintwatch.models import Incident, Post, SiteKind
from indexer.store import open_store
from web import create_app
from web.trends import NEW, RISING, STEADY, TOO_LITTLE_DATA, trend_details

AS_OF = date(2024, 3, 31)
REASON = "the demo data ends on that day"


def _post(i: int, when: date) -> Post:
    return Post(
        url=f"https://forum.test/t/{i}",
        source_site="forum.test",
        site_kind=SiteKind.FORUM,
        title=f"Parcel lost again {i}",
        text=f"My parcel {i} was lost and nobody answers.",
        companies=["acme"],
        language="en",
        published_at=datetime(when.year, when.month, when.day, 12, tzinfo=timezone.utc),
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = open_store(tmp_path_factory.mktemp("asof") / "cw.db")
    # one post in the baseline window (Jan 2023 - Dec 2023 as of March 2024), one in the recent one
    posts = [_post(1, date(2023, 6, 10)), _post(2, date(2024, 3, 10))]
    s.upsert_posts(posts)
    s.replace_incidents([Incident(1, "Lost parcel", "Потерянная посылка", size=2)], {p.id: 1 for p in posts})
    yield s
    s.close()


def _app(store, **config):
    return create_app(store, None, {"TESTING": True, **config}).test_client()


@pytest.mark.parametrize("path", ["/company/acme", "/compare?c=acme&c=acme2", "/alerts"])
def test_pages_with_trends_say_the_fixed_as_of_date_and_why(store, path):
    html = _app(store, AS_OF=AS_OF, AS_OF_REASON=REASON).get(path).get_data(as_text=True)
    assert 'id="as-of"' in html
    assert f'Trends as of <time datetime="2024-03-31">2024-03-31</time> (a fixed date: {REASON}).' in html


def test_as_of_is_today_by_default(store):
    today = datetime.now(timezone.utc).date().isoformat()  # the suite's frozen clock
    html = _app(store).get("/company/acme").get_data(as_text=True)
    assert f'Trends as of <time datetime="{today}">{today}</time> (today).' in html
    assert _app(store).get("/api/v1/company/acme").get_json()["as_of"] == today
    assert _app(store, AS_OF=AS_OF).get("/api/v1/company/acme").get_json()["as_of"] == "2024-03-31"


def test_two_posts_are_too_little_data_not_steady(store):
    body = _app(store, AS_OF=AS_OF).get("/api/v1/company/acme").get_json()
    assert [r["trend"] for r in body["recurring_failures"]] == [TOO_LITTLE_DATA]
    html = _app(store, AS_OF=AS_OF).get("/company/acme").get_data(as_text=True)
    assert '<span class="badge trend trend-too_little_data"' in html
    assert ">too little data</span>" in html
    assert ">steady</span>" not in html


@pytest.mark.parametrize(
    "monthly, expected",
    [
        ({"2023-06": 1, "2024-03": 1}, TOO_LITTLE_DATA),
        ({"2024-01": 2}, NEW),  # first seen in the recent window: a fact, however few
        ({"2023-05": 1, "2023-09": 1, "2024-02": 2}, TOO_LITTLE_DATA),
        ({"2023-03": 1, "2023-06": 1, "2023-09": 1, "2023-12": 1, "2024-02": 1}, STEADY),  # 4 in the baseline
        ({"2023-06": 1, "2024-01": 1, "2024-02": 1, "2024-03": 1}, RISING),  # 3 recent vs 0.25 expected
    ],
)
def test_trend_needs_enough_posts_to_say_steady(monthly, expected):
    assert trend_details(monthly, AS_OF).label == expected


def test_reversed_date_range_is_explained(store):
    client = _app(store)
    r = client.get("/api/v1/search", query_string={"q": "parcel", "from": "2024-03-01", "to": "2023-01-01"})
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["param"] == "to" and "reversed" in err["message"]
    html = client.get("/search", query_string={"q": "parcel", "from": "2024-03-01", "to": "2023-01-01"}).get_data(
        as_text=True
    )
    assert "Ignored to: 2023-01-01 is before from (2024-03-01): the date range is reversed." in html
    # the range it can keep (from 2024-03-01) still finds the March post
    assert 'data-post-id="' in html
    # an ordered range is fine
    ok = client.get("/api/v1/search", query_string={"q": "parcel", "from": "2023-01-01", "to": "2024-03-31"})
    assert ok.status_code == 200 and ok.get_json()["total"] == 2
