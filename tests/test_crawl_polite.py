"""Polite, incremental crawls through the real CLI (`python -m complaintwatch
crawl blog ...` in a subprocess) of the demo blog, served by a server that
logs every request and answers conditional requests with 304:

* robots.txt is fetched first and obeyed (a Disallow'ed thread is never
  requested), every request carries our honest User-Agent, AutoThrottle,
  robots and the HTTP cache are enabled, at most
  CONCURRENT_REQUESTS_PER_DOMAIN requests are in flight;
* a re-crawl with the HTTP cache revalidates every page (If-None-Match):
  unchanged pages come back as 304 and are stored as "unchanged", a page
  edited in between is downloaded and its post "updated" with the new text,
  even though the server's Last-Modified dates are years old;
* a re-crawl without the cache downloads everything and still rewrites
  nothing whose content did not change.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import complaintwatch.demosite as demosite
from complaintwatch.models import canonical_url
from crawlers import settings as project_settings
from tests.test_crawl_site import SiteServer

REPO = Path(__file__).resolve().parents[1]
OLD = time.mktime((2021, 3, 1, 12, 0, 0, 0, 0, -1))  # the server's Last-Modified for every file
UPDATE = "UPDATE: the refund arrived after all, five weeks late."


def cli(store: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "complaintwatch", "--store", f"sqlite:///{store}", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def summary(proc: subprocess.CompletedProcess) -> dict[str, int]:
    m = re.search(r"crawled (\d+) pages: (\d+) new, (\d+) updated, (\d+) unchanged posts", proc.stdout)
    assert m, proc.stdout + proc.stderr[-3000:]
    return dict(zip(("pages", "new", "updated", "unchanged"), map(int, m.groups())))


def stored(store: Path) -> dict[str, tuple[int, str]]:
    with sqlite3.connect(store) as db:
        return {url: (pid, text) for pid, url, text in db.execute("SELECT id, url, text FROM posts")}


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("polite")
    sites = demosite.build_demo_sites(tmp / "sites")
    blog = next(s for s in sites if s.name == "blog")
    truth = demosite.truth_manifest([blog])
    threads = sorted({p.thread_path for p in truth}, key=lambda t: -sum(p.thread_path == t for p in truth))
    banned, edited = threads[0], threads[1]  # the two threads with most comments
    for path in Path(blog.root).rglob("*"):
        if path.is_file():
            os.utime(path, (OLD, OLD))
    store, cache = tmp / "store.db", tmp / "httpcache"
    out = {"truth": truth, "banned": banned, "edited": edited, "store": store}
    with SiteServer(blog.root, robots_extra=f"Disallow: {banned}") as site:
        start = f"{site.base_url}/sitemap.xml"
        out["base"] = site.base_url
        out["first"] = cli(store, "-v", "crawl", "blog", start, "--cache-dir", str(cache))
        out["first_max_in_flight"] = site.max_in_flight
        out["first_hits"] = site.take_hits()
        out["after_first"] = stored(store)

        page = Path(blog.root) / edited.strip("/") / "index.html"
        html = page.read_text(encoding="utf-8")
        assert html.count('<div class="entry-content">') == 1
        marker = '<div class="entry-content">'
        page.write_text(html.replace(marker, f"{marker}\n<p>{UPDATE}</p>"), encoding="utf-8")

        out["second"] = cli(store, "crawl", "blog", start, "--cache-dir", str(cache))
        out["second_hits"] = site.take_hits()
        out["after_second"] = stored(store)
        out["third"] = cli(store, "crawl", "blog", start, "--no-cache")
        out["third_hits"] = site.take_hits()
        out["after_third"] = stored(store)
    return out


def expected_urls(crawls) -> set[str]:
    return {canonical_url(crawls["base"] + p.path) for p in crawls["truth"] if p.thread_path != crawls["banned"]}


def test_first_crawl_stores_everything_robots_allow(crawls):
    first = crawls["first"]
    assert first.returncode == 0, first.stderr[-3000:]
    assert set(crawls["after_first"]) == expected_urls(crawls)
    assert summary(first)["new"] == len(expected_urls(crawls))
    assert cli(crawls["store"], "check").returncode == 0
    # company replies (official badges on the demo blog) are flagged exactly as in the truth
    with sqlite3.connect(crawls["store"]) as db:
        flagged = {url for (url,) in db.execute("SELECT url FROM posts WHERE is_company_reply = 1")}
    official = {canonical_url(crawls["base"] + p.path) for p in crawls["truth"] if p.is_company_reply}
    assert flagged == official & expected_urls(crawls) and flagged


def test_robots_txt_first_and_disallowed_thread_never_fetched(crawls):
    hits = crawls["first_hits"]
    assert hits[0].path == "/robots.txt"
    paths = {h.path for h in hits}
    assert crawls["edited"] in paths
    assert not any(p.startswith(crawls["banned"]) for p in paths)
    assert not any(crawls["banned"] in url for url in crawls["after_first"])
    assert "'robotstxt/forbidden': 1," in crawls["first"].stderr  # the stats dump (-v)


def test_honest_user_agent_and_politeness_settings_in_effect(crawls):
    hits = crawls["first_hits"] + crawls["second_hits"] + crawls["third_hits"]
    assert {h.user_agent for h in hits} == {project_settings.USER_AGENT}
    assert "complaintwatch/" in project_settings.USER_AGENT and "+https://" in project_settings.USER_AGENT
    log = crawls["first"].stderr
    assert "scrapy.extensions.throttle.AutoThrottle" in log.split("Enabled extensions:")[1].split("]")[0]
    mws = log.split("Enabled downloader middlewares:")[1].split("]")[0]
    assert "RobotsTxtMiddleware" in mws and "HttpCacheMiddleware" in mws
    overridden = log.split("Overridden settings:")[1].split("}")[0]
    assert "'AUTOTHROTTLE_ENABLED': True" in overridden and "'ROBOTSTXT_OBEY': True" in overridden
    # on loopback the per-site limit is lifted from 2 to 8, never beyond
    per_site = project_settings.LOOPBACK_OVERRIDES["CONCURRENT_REQUESTS_PER_DOMAIN"]
    assert 1 <= crawls["first_max_in_flight"] <= per_site
    assert len(hits) > 250


def test_recrawl_with_cache_revalidates_and_only_the_edited_page_is_downloaded(crawls):
    hits = crawls["second_hits"]
    assert all(h.if_none_match and h.if_modified_since for h in hits), "every cached page is revalidated"
    downloaded = {h.path for h in hits if h.status == 200}
    assert downloaded == {crawls["edited"]}
    assert sum(h.status == 304 for h in hits) == len(hits) - 1
    n = len(expected_urls(crawls))
    assert summary(crawls["second"]) == {"pages": len(hits), "new": 0, "updated": 1, "unchanged": n - 1}
    root = canonical_url(crawls["base"] + crawls["edited"])
    before, after = crawls["after_first"][root], crawls["after_second"][root]
    assert after[0] == before[0] and after[1].startswith(UPDATE) and after[1].endswith(before[1])
    changed = {u for u in crawls["after_first"] if crawls["after_first"][u] != crawls["after_second"][u]}
    assert changed == {root}


def test_recrawl_without_cache_rewrites_nothing_unchanged(crawls):
    hits = crawls["third_hits"]
    assert {h.status for h in hits} == {200} and not any(h.if_none_match for h in hits)
    n = len(expected_urls(crawls))
    assert summary(crawls["third"]) == {"pages": len(hits), "new": 0, "updated": 0, "unchanged": n}
    assert crawls["after_third"] == crawls["after_second"]
