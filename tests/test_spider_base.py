"""Behaviour every spider shares (crawlers/spiders/base.py): arguments,
robots.txt -> sitemap index -> sitemap -> pages, listing pages, robots
Disallow, failed pages logged without stopping the crawl, empty posts skipped."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import Response

from crawlers.spiders.base import split_arg, strip_session
from crawlers.spiders.blog import BlogSpider
from tests.crawl_helpers import CrawlResult, crawl, serve_directory

ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{date}">
<meta name="author" content="Kim">
</head><body class="single single-post"><article class="post">
<h1 class="entry-title">{title}</h1><div class="entry-content"><p>{text}</p></div></article>
<ol class="comment-list"><li id="comment-7" class="comment depth-1"><article class="comment-body">
<footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Lee</b></div>
<div class="comment-metadata"><a href="#comment-7"><time datetime="{date}">x</time></a></div></footer>
<div class="comment-content"><p>Same here.</p></div></article></li></ol>
</body></html>"""

LISTING = """<!doctype html><html lang="en"><head><title>Blog</title></head><body>
<article class="post"><h2 class="entry-title"><a href="/2024/02/double-charge.html">Charged twice</a></h2></article>
<article class="post"><h2 class="entry-title"><a href="/2024/01/lost-parcel.html">Lost parcel</a></h2></article>
</body></html>"""

EMPTY = """<!doctype html><html><head><meta property="og:title" content="Nothing"></head>
<body><article class="post"><div class="entry-content"></div></article></body></html>"""


def _write_site(root: Path, base: str) -> None:
    files = {
        "robots.txt": f"User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap_index.xml\n",
        "sitemap_index.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{base}/post-sitemap.xml</loc></sitemap>"
            f"<sitemap><loc>{base}/extra-sitemap.xml.gz</loc></sitemap></sitemapindex>"
        ),
        "post-sitemap.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(
                f"<url><loc>{base}{path}</loc></url>"
                for path in ("/2024/01/lost-parcel.html", "/private/secret.html", "/blog/", "/empty.html")
            )
            + "</urlset>"
        ),
        "2024/01/lost-parcel.html": ARTICLE.format(
            title="Lost parcel", date="2024-01-05T10:00:00+00:00", text="The shop lost my parcel."
        ),
        "2024/02/double-charge.html": ARTICLE.format(
            title="Charged twice", date="2024-02-07T10:00:00+00:00", text="The bank charged me twice."
        ),
        "private/secret.html": ARTICLE.format(title="Secret", date="2024-03-01T10:00:00+00:00", text="Do not crawl."),
        "blog/index.html": LISTING,
        "empty.html": EMPTY,
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    # A gzipped sitemap served as a plain file (no Content-Encoding).
    extra = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/2024/03/refund.html</loc></url></urlset>"
    )
    (root / "extra-sitemap.xml.gz").write_bytes(gzip.compress(extra.encode("utf-8")))
    (root / "2024/03").mkdir(parents=True, exist_ok=True)
    (root / "2024/03/refund.html").write_text(
        ARTICLE.format(title="No refund", date="2024-03-09T10:00:00+00:00", text="No refund after a month."),
        encoding="utf-8",
    )


class ExplodingBlogSpider(BlogSpider):
    """A blog spider whose parser breaks on one page."""

    name = "exploding_blog"

    def parse_page(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if "double-charge" in response.url:
            raise ValueError("boom")
        yield from super().parse_page(response, **kwargs)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("blogsite")
    with serve_directory(root) as base:
        _write_site(root, base)
        yield base, root


@pytest.fixture(scope="module")
def from_robots(site) -> CrawlResult:
    base, _ = site
    return crawl(BlogSpider, [f"{base}/robots.txt"])


def test_robots_sitemap_index_sitemap_listing_pages(site, from_robots):
    base, _ = site
    urls = {i.url for i in from_robots.items}
    assert urls == {
        f"{base}/2024/01/lost-parcel.html",
        f"{base}/2024/01/lost-parcel.html#comment-7",
        f"{base}/2024/02/double-charge.html",  # reached through the /blog/ listing page
        f"{base}/2024/02/double-charge.html#comment-7",
        f"{base}/2024/03/refund.html",  # via the gzipped sitemap
        f"{base}/2024/03/refund.html#comment-7",
    }
    post = next(i for i in from_robots.items if i.url == f"{base}/2024/01/lost-parcel.html")
    assert (post.title, post.author, post.text) == ("Lost parcel", "Kim", "The shop lost my parcel.")
    assert post.published.isoformat() == "2024-01-05T10:00:00+00:00"


def test_robots_disallow_is_respected(from_robots):
    assert not any("secret" in i.url for i in from_robots.items)
    assert from_robots.stats.get("robotstxt/forbidden", 0) == 1


def test_empty_posts_are_skipped_and_counted(from_robots):
    assert not any(i.title == "Nothing" for i in from_robots.items)
    assert from_robots.stats.get("complaintwatch/empty_skipped", 0) == 1


def test_failed_page_is_logged_and_the_crawl_goes_on(site, tmp_path):
    base, _ = site
    sites = tmp_path / "sites.txt"
    sites.write_text(f"# demo blog\n{base}/2024/02/double-charge.html\n\n", encoding="utf-8")
    result = crawl(
        "tests.test_spider_base:ExplodingBlogSpider", [f"{base}/2024/01/lost-parcel.html"], sites_file=str(sites)
    )
    assert result.warnings(f"parse failed {base}/2024/02/double-charge.html: boom")
    assert {i.url for i in result.items} == {
        f"{base}/2024/01/lost-parcel.html",
        f"{base}/2024/01/lost-parcel.html#comment-7",
    }
    assert result.stats.get("complaintwatch/parse_failed") == 1


def test_arguments(tmp_path):
    sites = tmp_path / "sites.txt"
    sites.write_text("https://www.example.com/a\n# comment\nhttps://forum.example.org/b\n", encoding="utf-8")
    spider = BlogSpider(start_urls="https://blog.example.net/feed, https://x.example.com/y", sites_file=str(sites))
    assert spider.start_urls == [
        "https://blog.example.net/feed",
        "https://x.example.com/y",
        "https://www.example.com/a",
        "https://forum.example.org/b",
    ]
    assert spider.allowed_domains == ["blog.example.net", "example.com", "forum.example.org", "x.example.com"]
    assert BlogSpider(start_urls="https://a.example/", domains="cdn.example").allowed_domains == [
        "a.example",
        "cdn.example",
    ]
    assert BlogSpider().start_urls == []
    assert not hasattr(BlogSpider(), "allowed_domains") or not BlogSpider().allowed_domains
    assert split_arg(["a", " b ", ""]) == ["a", "b"]


def test_tz_argument_applies_to_dates_without_offset():
    spider = BlogSpider(tz="Europe/Zurich")
    assert spider.date("03.03.2011, 14:17", ["de"]).isoformat() == "2011-03-03T14:17:00+01:00"
    assert BlogSpider().date("03.03.2011, 14:17", ["de"]).isoformat() == "2011-03-03T14:17:00+00:00"
    assert BlogSpider().date(" vor langer Zeit ") == "vor langer Zeit"  # left for the date pipeline
    assert BlogSpider().date("") is None


def test_session_ids_are_stripped():
    assert strip_session("https://f.example/t.html?s=22c09551c71c1a6b64e4364ca45cbf28") == "https://f.example/t.html"
    assert strip_session("https://f.example/viewtopic.php?t=1&sid=c613f07a94d24ae130f878df2f758925") == (
        "https://f.example/viewtopic.php?t=1"
    )
    assert strip_session("https://f.example/search?s=kettle") == "https://f.example/search?s=kettle"
