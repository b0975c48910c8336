"""The blog, forum and reviews spiders against the bundled demo sites
(complaintwatch/demosite: WordPress, XenForo 2, Trustpilot + JSON-LD),
started from each site's sitemap.xml, compared field by field with the
truth manifest the site generator writes."""

from __future__ import annotations

from datetime import datetime

import pytest

import complaintwatch.demosite as demosite  # noqa: E402
from complaintwatch.models import canonical_url
from tests.crawl_helpers import CrawlResult, crawl

SPIDERS = {
    "blog": "crawlers.spiders.blog:BlogSpider",
    "forum": "crawlers.spiders.forum:ForumSpider",
    "reviews": "crawlers.spiders.reviews:ReviewsSpider",
}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> dict[str, tuple[str, CrawlResult, list, CrawlResult]]:
    """Per site: base URL, crawl from sitemap.xml, truth, crawl from the home page."""
    sites = demosite.build_demo_sites(tmp_path_factory.mktemp("demo"))
    truth = demosite.truth_manifest(sites)
    out = {}
    with demosite.serve_demo_sites(sites) as server:
        for site in sites:
            base = server.base_urls[site.name]
            from_sitemap = crawl(SPIDERS[site.name], server.start_urls[site.name], timeout=300)
            from_home = crawl(SPIDERS[site.name], [f"{base}/"], timeout=300)
            out[site.name] = (base, from_sitemap, [p for p in truth if p.site == site.name], from_home)
    return out


@pytest.mark.parametrize("site", list(SPIDERS))
def test_spider_finds_exactly_the_truth(crawled, site):
    base, result, truth, _ = crawled[site]
    assert result.warnings("parse failed") == []
    expected = {canonical_url(base + p.path): p for p in truth}
    got = {canonical_url(i.url): i for i in result.items}
    assert len(got) == len(result.items)  # no URL yielded twice
    assert set(got) == set(expected)
    problems = []
    for url, p in expected.items():
        item = got[url]
        published = item.published if isinstance(item.published, datetime) else None
        checks = {
            "title": item.title == p.title,
            "text": item.text == p.text,
            "author": item.author == p.author,
            "published": published is not None and published == datetime.fromisoformat(p.published),
            "parent": (canonical_url(item.parent_url) if item.parent_url else None)
            == (canonical_url(base + p.parent_path) if p.parent_path else None),
            "thread": canonical_url(item.thread_url or "") == canonical_url(base + p.thread_path),
            "position": item.position == p.position,
            "language": item.language == p.language,
            "kind": item.site_kind == p.kind,
            # The spider only sets the flag when the page says so outright.
            "company_reply": item.is_company_reply is None or item.is_company_reply == p.is_company_reply,
        }
        problems += [f"{url}: {name}" for name, ok in checks.items() if not ok]
    assert problems == []


@pytest.mark.parametrize("site", list(SPIDERS))
def test_spider_finds_the_same_from_the_home_page(crawled, site):
    """Index pages (blog listing, forum nodes, review home) lead to every post."""
    base, _, truth, from_home = crawled[site]
    assert from_home.warnings("parse failed") == []
    assert {canonical_url(i.url) for i in from_home.items} == {canonical_url(base + p.path) for p in truth}
