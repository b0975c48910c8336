"""Retry-After on 429 and 503 is honoured, through the real CLI against a
local server that keeps server-side timestamps of every request:

* 429 with ``Retry-After: 3`` the first time, then 200: the retry arrives
  no sooner than 3 s after the first request (Scrapy alone retries at once
  on loopback, ~2 s on the web, whatever the header says);
* 503 with an HTTP-date 4 s ahead (whole seconds: 3 to 4 s from now): the
  retry waits until that date;
* 429 with ``Retry-After: 86400`` (over COMPLAINTWATCH_RETRY_AFTER_MAX): the
  URL is given up at once, one WARNING line, counted in the crawl summary,
  never requested again.
"""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
import time_machine

from crawlers import settings as project_settings
from crawlers.middlewares import retry_after_seconds
from tests.hostile_helpers import HostileSite, article, cli, html, summary

NOW = 1_700_000_000.0  # a fixed clock for the parser


def wall_clock() -> float:
    """The real time, as the crawler (a subprocess, not under this test run's
    frozen clock, tests/conftest.py) sees it: an HTTP-date for it must be on it."""
    return time_machine.escape_hatch.time.time()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"3", 3.0),
        ("120", 120.0),
        (formatdate(NOW + 90, usegmt=True), 90.0),  # IMF-fixdate
        ("Tuesday, 14-Nov-23 22:14:20 GMT", 60.0),  # RFC 850 form (NOW is 22:13:20 GMT)
        ("Tue Nov 14 22:15:20 2023", 120.0),  # asctime form
        (formatdate(NOW - 600, usegmt=True), 0.0),  # a date in the past: now
        (None, None),
        (b"", None),
        (b"soon", None),
        (b"-5", None),
    ],
)
def test_retry_after_forms(header, expected):
    assert retry_after_seconds(header, NOW) == expected


class Server:
    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, path: str):
        n = self.seen[path] = self.seen.get(path, 0) + 1
        if path == "/seconds.html" and n == 1:
            return html(429, "slow down", Retry_After="3")
        if path == "/date.html" and n == 1:
            return html(503, "maintenance", Retry_After=formatdate(wall_clock() + 4, usegmt=True))
        if path == "/huge.html":
            return html(429, "come back tomorrow", Retry_After="86400")
        if path in ("/seconds.html", "/date.html", "/other.html"):
            return html(200, article(f"Complaint {path}", f"The courier never brought order {path}."))
        return html(404, "404")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retry_after")
    with HostileSite(Server()) as site:
        urls = [f"{site.url}{p}" for p in ("/seconds.html", "/date.html", "/huge.html", "/other.html")]
        started = time.monotonic()
        proc = cli("--store", f"sqlite:///{tmp / 'cw.db'}", "-v", "crawl", "blog", *urls, "--no-cache", cwd=tmp)
        took = time.monotonic() - started
        times = {p: site.times(p) for p in ("/seconds.html", "/date.html", "/huge.html")}
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {"proc": proc, "times": times, "url": site.url, "took": took}


def test_retry_waits_for_retry_after_seconds(run):
    first, retry = run["times"]["/seconds.html"]
    assert retry - first >= 2.9, retry - first  # server-side clock; 0.1 s for clock granularity
    assert f"HTTP 429 for {run['url']}/seconds.html: retrying in 3 s as its Retry-After asks" in run["proc"].stderr


def test_retry_waits_for_retry_after_http_date(run):
    first, retry = run["times"]["/date.html"]
    assert retry - first >= 2.9, retry - first
    assert f"HTTP 503 for {run['url']}/date.html: retrying in" in run["proc"].stderr


def test_retry_after_over_the_cap_is_a_logged_counted_skip(run):
    assert project_settings.COMPLAINTWATCH_RETRY_AFTER_MAX < 86400
    assert len(run["times"]["/huge.html"]) == 1  # given up, not retried early nor waited for
    assert (
        f"WARNING crawlers.middlewares: skipped {run['url']}/huge.html: HTTP 429 with Retry-After 86400 s, "
        f"over COMPLAINTWATCH_RETRY_AFTER_MAX={project_settings.COMPLAINTWATCH_RETRY_AFTER_MAX} s"
    ) in run["proc"].stderr
    lines = summary(run["proc"])
    assert lines["skipped"] == "1 Retry-After over the cap"
    assert lines["crawled"].endswith(" 3 new, 0 updated, 0 unchanged posts; 1 skipped")
    assert run["took"] < 60  # the crawl did not wait a day
