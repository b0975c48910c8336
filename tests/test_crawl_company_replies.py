"""Company replies on blogs come from the page's markup, not from phrasing:
the demo blog marks official replies with li.comment-author-official and a
span.comment-badge--official; real WordPress themes use badges, staff-like
classes, and core's bypostauthor (the company only on its own blog)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

import complaintwatch.demosite as demosite
from complaintwatch.models import canonical_url
from crawlers.extraction.company_reply import looks_like_company_reply
from crawlers.pipelines import BuildPostPipeline
from crawlers.spiders.blog import BlogSpider

BASE = "http://blog.demo.test"


def _parse(url: str, html: str) -> list:
    response = HtmlResponse(url, body=html.encode("utf-8"), encoding="utf-8")
    return [i for i in BlogSpider().parse(response) if not hasattr(i, "callback")]


@pytest.fixture(scope="module")
def demo_blog(tmp_path_factory) -> tuple[dict, dict]:
    """Every page of the demo blog that shows comments, parsed by the blog
    spider (no network); returns (items by URL, truth by URL)."""
    sites = demosite.build_demo_sites(tmp_path_factory.mktemp("demo"))
    blog = next(s for s in sites if s.name == "blog")
    truth = {canonical_url(BASE + p.path): p for p in demosite.truth_manifest([blog])}
    items = {}
    for page in sorted({p.page_path for p in truth.values()}):
        html = (Path(blog.root) / page.strip("/") / "index.html").read_text(encoding="utf-8")
        for item in _parse(BASE + page, html.replace("__BASE_URL__", BASE)):
            items[canonical_url(item.url)] = item
    return items, truth


def test_official_badges_are_read_into_author_badge(demo_blog):
    items, truth = demo_blog
    assert set(items) == set(truth)
    official = {u for u, p in truth.items() if p.is_company_reply}
    assert len(official) >= 10
    # the badge alone, without author or text, says "company" exactly where the truth does
    by_badge = {u for u, i in items.items() if looks_like_company_reply(None, i.author_badge, None)}
    assert by_badge == official
    assert {items[u].author_badge for u in official} <= {"Official company reply", "Официальный ответ компании"}


def test_pipeline_flags_company_replies_like_the_truth(demo_blog):
    items, truth = demo_blog
    build = BuildPostPipeline()
    wrong = [u for u, i in items.items() if build.process_item(i).is_company_reply != truth[u].is_company_reply]
    assert wrong == []


PAGE = """<!doctype html><html lang="en"><head><meta property="og:title" content="Parcel lost"></head>
<body class="single single-post"><article class="post"><div class="entry-content"><p>Lost.</p></div></article>
<ol class="comment-list">
<li id="comment-1" class="comment byuser comment-author-kim bypostauthor depth-1"><article class="comment-body">
<footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Kim</b></div></footer>
<div class="comment-content"><p>Update: still nothing.</p></div></article></li>
<li id="comment-2" class="comment byuser comment-author-staff depth-1"><article class="comment-body">
<footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Anna</b></div></footer>
<div class="comment-content"><p>Sent you an email.</p></div></article></li>
<li id="comment-3" class="comment depth-1"><article class="comment-body">
<footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Max</b>
<span class="author-badge" title="Verified representative"></span></div></footer>
<div class="comment-content"><p>Fixed now.</p></div></article></li>
<li id="comment-4" class="comment depth-1"><article class="comment-body">
<footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Lee</b></div></footer>
<div class="comment-content"><p>Same here.</p></div></article></li>
</ol></body></html>"""


@pytest.mark.parametrize(
    ("url", "author_is_company"),
    [("https://someblog.example/lost/", False), ("https://blog.ozon.ru/lost/", True)],
)
def test_real_wordpress_badges_and_bypostauthor(url, author_is_company):
    items = {i.url.split("#")[1]: i for i in _parse(url, PAGE) if "#" in i.url}
    assert {k: i.author_badge for k, i in items.items()} == {
        "comment-1": "post author",
        "comment-2": "staff",
        "comment-3": "Verified representative",
        "comment-4": None,
    }
    build = BuildPostPipeline()
    flags = {k: build.process_item(i).is_company_reply for k, i in items.items()}
    # bypostauthor is the complainer on a third-party blog, the company on its own
    assert flags == {"comment-1": author_is_company, "comment-2": True, "comment-3": True, "comment-4": False}
