"""Bounded crawls, through the real CLI against hostile sites on 127.0.0.1:

* endless "next" pagination, every page new: the crawl of that site stops
  at the page budget (`--max-pages`), exactly, while another site in the same
  crawl is crawled in full; or, with a pagination depth limit
  (`--max-pagination-depth`), after exactly that many next pages;
* "next" pages that repeat the same content (with the default bounds): the
  chain stops at the first repeat, by loop detection.

Each stop is a WARNING line naming the site or chain, and counted on the
crawl summary's "stopped by bounds" line.
"""

from __future__ import annotations

import re

from crawlers import settings as project_settings
from tests.hostile_helpers import HostileSite, article, cli, html, listing, summary

NOT_FOUND = html(404, "<html><body>404</body></html>")


def endless(path: str):
    """/list/N: two new posts and a next page, forever."""
    if m := re.fullmatch(r"/list/(\d+)", path):
        n = int(m.group(1))
        return html(200, listing(f"Page {n}", [f"/post/{n}-1", f"/post/{n}-2"], f"/list/{n + 1}"))
    if m := re.fullmatch(r"/post/(\d+)-(\d)", path):
        return html(200, article(f"Complaint {m.group(0)}", f"The shop lost parcel number {m.group(0)}."))
    return NOT_FOUND


def small(path: str):
    """/list/1 -> /list/2 (last page), two posts each."""
    if m := re.fullmatch(r"/list/([12])", path):
        n = int(m.group(1))
        return html(200, listing(f"Page {n}", [f"/post/{n}-1", f"/post/{n}-2"], "/list/2" if n == 1 else None))
    return endless(path) if path.startswith("/post/") else NOT_FOUND


def looping(path: str):
    """/loop/N: a different page number and next link, the same two posts."""
    if m := re.fullmatch(r"/loop/(\d+)", path):
        n = int(m.group(1))
        return html(200, listing(f"Page {n} of our reviews", ["/post/a", "/post/b"], f"/loop/{n + 1}"))
    if path in ("/post/a", "/post/b"):
        return html(200, article(f"Complaint {path}", f"Order {path} was cancelled by the shop."))
    return NOT_FOUND


def crawl(tmp_path, *args: str):
    proc = cli("--store", f"sqlite:///{tmp_path / 'cw.db'}", "-v", "crawl", "blog", *args, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    return proc


def test_defaults_are_bounded():
    assert project_settings.COMPLAINTWATCH_MAX_PAGES_PER_SITE > 0
    assert project_settings.COMPLAINTWATCH_MAX_PAGINATION_DEPTH > 0
    assert project_settings.COMPLAINTWATCH_PAGINATION_LOOPS is True


def test_endless_pagination_stops_at_the_page_budget_per_site(tmp_path):
    with HostileSite(endless) as bad, HostileSite(small) as good:
        proc = crawl(tmp_path, f"{bad.url}/list/1", f"{good.url}/list/1", "--max-pages", "30")
        bad_pages = [p for p in bad.paths() if p != "/robots.txt"]
        good_pages = sorted(p for p in good.paths() if p != "/robots.txt")
    assert len(bad_pages) == 30, bad_pages
    assert good_pages == ["/list/1", "/list/2", "/post/1-1", "/post/1-2", "/post/2-1", "/post/2-2"]
    site = bad.url.removeprefix("http://")
    assert f"WARNING crawlers.middlewares: crawl of {site} stopped: page budget of 30 pages reached" in proc.stderr
    assert good.url.removeprefix("http://") not in " ".join(ln for ln in proc.stderr.splitlines() if "budget" in ln)
    lines = summary(proc)
    assert lines["stopped by bounds"] == "page budget on 1 site"
    skipped = int(re.search(r"(\d+) over page budget", lines["skipped"]).group(1))
    assert skipped >= 1  # the requests still queued when the budget ran out
    stored = int(re.match(r"\d+ pages: (\d+) new", lines["crawled"]).group(1))
    assert stored == 4 + sum(p.startswith("/post/") for p in bad_pages)


def test_endless_pagination_stops_at_the_pagination_depth(tmp_path):
    with HostileSite(endless) as bad:
        proc = crawl(tmp_path, f"{bad.url}/list/1", "--max-pagination-depth", "5")
        listings = bad.paths("/list/")
        posts = bad.paths("/post/")
    assert listings == [f"/list/{n}" for n in range(1, 7)]  # the start page and 5 next pages
    assert sorted(posts) == sorted(f"/post/{n}-{i}" for n in range(1, 7) for i in (1, 2))
    assert (
        f"WARNING crawlers.middlewares: pagination of {bad.url}/list/1 stopped at {bad.url}/list/6: "
        "depth limit of 5 next pages reached" in proc.stderr
    )
    assert summary(proc)["stopped by bounds"] == "pagination depth limit on 1 chain"


def test_next_pages_repeating_content_stop_by_loop_detection(tmp_path):
    with HostileSite(looping) as site:
        proc = crawl(tmp_path, f"{site.url}/loop/1")  # default bounds: depth 500, 20,000 pages
        listings = site.paths("/loop/")
        posts = site.paths("/post/")
    assert listings == ["/loop/1", "/loop/2"]  # /loop/2 repeats /loop/1: its next page is not followed
    assert sorted(posts) == ["/post/a", "/post/b"]
    assert (
        f"WARNING crawlers.middlewares: pagination of {site.url}/loop/1 stopped at {site.url}/loop/2: "
        "the page repeats the content of an earlier page of the chain" in proc.stderr
    )
    lines = summary(proc)
    assert lines["stopped by bounds"] == "repeating content on 1 chain"
    assert lines["crawled"].startswith("5 pages: 2 new")  # robots.txt 404, two listings, two posts


def test_zero_turns_the_page_budget_off(tmp_path):
    with HostileSite(endless) as bad:
        proc = crawl(tmp_path, f"{bad.url}/list/1", "--max-pages", "0", "--max-pagination-depth", "19")
        listings = bad.paths("/list/")
    assert len(bad.paths("/post/")) == 40  # 60 pages in all: the default budget would allow them too
    assert listings == [f"/list/{n}" for n in range(1, 21)]
    assert summary(proc)["stopped by bounds"] == "pagination depth limit on 1 chain"


def test_zero_turns_the_pagination_depth_off(tmp_path):
    with HostileSite(endless) as bad:
        proc = crawl(tmp_path, f"{bad.url}/list/1", "--max-pagination-depth", "0", "--max-pages", "40")
    assert len([p for p in bad.paths() if p != "/robots.txt"]) == 40
    assert summary(proc)["stopped by bounds"] == "page budget on 1 site"
