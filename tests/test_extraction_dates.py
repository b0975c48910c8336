"""parse_published: human and machine dates -> aware datetimes, never raising."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crawlers.extraction.dates import local_offset, page_date, page_timezone, parse_published
from tests.crawl_helpers import SHARED_PAGES

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=timezone.utc)
UTC = timezone.utc


@pytest.mark.parametrize(
    ("raw", "languages", "expected"),
    [
        ("27 декабря 2022", None, datetime(2022, 12, 27, tzinfo=UTC)),
        ("Jan 07, 2013 11:48", None, datetime(2013, 1, 7, 11, 48, tzinfo=UTC)),
        ("Heute, 14:05", ["de"], datetime(2024, 3, 15, 14, 5, tzinfo=UTC)),
        ("Gestern, 19:48", ["de"], datetime(2024, 3, 14, 19, 48, tzinfo=UTC)),
        ("3 yr. ago", None, datetime(2021, 3, 15, 12, 0, tzinfo=UTC)),
        ("2 hr. ago", None, datetime(2024, 3, 15, 10, 0, tzinfo=UTC)),
        ("12 марта 2023 в 14:05", ["ru"], datetime(2023, 3, 12, 14, 5, tzinfo=UTC)),
        ("12 марта 2023 в 14:05", None, datetime(2023, 3, 12, 14, 5, tzinfo=UTC)),
        ("03.04.2011, 14:17", ["de"], datetime(2011, 4, 3, 14, 17, tzinfo=UTC)),  # day first
        ("10. September 2017 um 18:12", ["de"], datetime(2017, 9, 10, 18, 12, tzinfo=UTC)),
        ("Thu, 09 Nov 2017 05:00:00 +0000", None, datetime(2017, 11, 9, 5, 0, tzinfo=UTC)),
        ("2018-09-27T14:51:09+0200", None, datetime(2018, 9, 27, 12, 51, 9, tzinfo=UTC)),
        ("2014-02-06T04:55:19Z", None, datetime(2014, 2, 6, 4, 55, 19, tzinfo=UTC)),
        ("2020-01-23 11:18:00", None, datetime(2020, 1, 23, 11, 18, tzinfo=UTC)),
        ("1323313344", None, datetime(2011, 12, 8, 3, 2, 24, tzinfo=UTC)),  # Unix seconds
        ("1364669184000", None, datetime(2013, 3, 30, 18, 46, 24, tzinfo=UTC)),  # Unix ms
        (1323313344.0, None, datetime(2011, 12, 8, 3, 2, 24, tzinfo=UTC)),
    ],
)
def test_parses_to_aware_datetimes(raw, languages, expected):
    got = parse_published(raw, languages=languages, now=NOW)
    assert got is not None and got.tzinfo is not None
    assert got == expected


def test_default_timezone_applies_to_naive_values():
    got = parse_published("Heute, 14:05", ["de"], default_tz="Europe/Zurich", now=NOW)
    assert got == datetime(2024, 3, 15, 13, 5, tzinfo=UTC)
    assert parse_published(datetime(2020, 5, 1, 8, 0), now=NOW) == datetime(2020, 5, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("raw", [None, "", "   ", "garbage xyz", "not a date at all", "31.02.", [], {}, object()])
def test_unparseable_is_none_never_an_exception(raw):
    assert parse_published(raw, now=NOW) is None


def test_implausible_dates_are_rejected():
    assert parse_published("2024-03-18T00:00:00Z", now=NOW) is None  # > 2 days ahead
    assert parse_published("2024-03-16T12:00:00Z", now=NOW) is not None  # skew is fine
    assert parse_published("1994-12-31", now=NOW) is None
    assert parse_published("0", now=NOW) is None


def test_page_date_uses_htmldate_as_a_fallback():
    html = (SHARED_PAGES / "blog_blogger__en__python-insider_post.html").read_text(encoding="utf-8")
    got = page_date(html, "http://blog.python.org/2016/12/python-360-is-now-available.html")
    assert got is not None and got.date().isoformat() == "2016-12-23"
    assert abs(got - datetime(2016, 12, 23, 10, 11, tzinfo=UTC)) < timedelta(days=1)
    assert page_date("<html><body><p>nothing dated here</p></body></html>") is None


@pytest.mark.parametrize(
    ("html", "zone"),
    [
        ('<div class="gensmall">All times are GMT - 6 Hours</div>', "UTC-06:00"),
        ("<p>Alle Zeiten sind <span title='Europe/Berlin'>UTC+02:00</span></p>", "UTC+02:00"),
        ("<td>All times are GMT</td>", "UTC"),
        ("<p>All times are GMT +5.5. The time now is 10:12.</p>", "UTC+05:30"),
        ("<p>Часовой пояс: UTC + 3</p>", "UTC+03:00"),
        ("<p>Posted at 10:12 GMT</p>", None),
    ],
)
def test_the_zone_a_page_states_for_its_times(html, zone):
    assert page_timezone(html) == zone
    if zone:  # a name parse_published takes as the zone of shown times
        got = parse_published("June 19, 2003 3:19 pm", default_tz=zone, now=NOW)
        assert got.replace(tzinfo=None) == datetime(2003, 6, 19, 15, 19)


def test_an_exact_instant_takes_the_offset_its_shown_time_implies():
    instant = parse_published("1350926620412", now=NOW)  # Blogger's ?showComment=<ms>
    local = local_offset(instant, "October 22, 2012 at 1:23 PM", lambda raw: parse_published(raw, now=NOW))
    assert local == instant and local.utcoffset() == timedelta(hours=-4)
    # shown with its own zone, relative, or far off: the instant stays as it is
    for shown in ("October 22, 2012 1:23 PM EDT", "2 hours ago", "October 20, 2012 at 1:23 PM"):
        assert local_offset(instant, shown, lambda raw: parse_published(raw, now=NOW)).utcoffset() == timedelta(0)
