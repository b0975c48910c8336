"""The generic thread extractor alone (engine rules off) on real saved pages,
served on 127.0.0.1 and crawled by the real spiders, against the hand-counted
truth in ../shared/pages/truth.json."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from crawlers.extraction.encoding import decode_html
from crawlers.extraction.generic import extract_thread
from tests.crawl_helpers import SHARED_PAGES, crawl, serve_directory, shared_pages_url

TRUTH = {p["file"]: p for p in json.loads((SHARED_PAGES / "truth.json").read_text(encoding="utf-8"))}


def _same_date(found: datetime | str | None, truth: str | None) -> bool:
    if truth is None or not isinstance(found, datetime):
        return truth is None and found is None
    want = datetime.fromisoformat(truth.replace("Z", "+00:00"))
    if want.tzinfo is not None:
        return found.astimezone(timezone.utc).replace(microsecond=0) == want.astimezone(timezone.utc).replace(
            microsecond=0
        )
    precision = 16 if "T" in truth else 10
    return found.replace(tzinfo=None).isoformat()[:precision] == truth[:precision]


def _exact(items: list, posts: list[dict]) -> int:
    """Expected posts matched in order by a found post with the same author and date."""
    found = list(items)
    hits = 0
    for post in posts:
        for i, item in enumerate(found):
            if (item.author or None) == post["author"] and _same_date(item.published, post["published"]):
                hits += 1
                del found[: i + 1]
                break
    return hits


# (page, spider, at least this many expected posts with author and date exact)
CASES = [
    ("blog_drupal__en__androidcentral_htc-verizon_comments.html", "crawlers.spiders.blog:BlogSpider", 26),
    ("reddit_oldui__en__r-science_ama_hurricanes_2016.html", "crawlers.spiders.reddit:RedditSpider", 68),
    ("forum_vbulletin3-archive__en__uscho_tour-de-france.html", "crawlers.spiders.forum:ForumSpider", 19),
    ("review_tripadvisor__en__hotel-club-kawama_2006.html", "crawlers.spiders.reviews:ReviewsSpider", 9),
]


@pytest.mark.parametrize(("page", "spider", "minimum"), CASES, ids=[c[0].split("__")[0] for c in CASES])
def test_generic_alone_finds_the_posts(page: str, spider: str, minimum: int) -> None:
    truth = TRUTH[page]
    result = crawl(spider, [f"{shared_pages_url()}/{page}"], rules="off")
    items = result.items
    assert len(truth["posts"]) - 2 <= len(items) <= len(truth["posts"]) + 2
    assert _exact(items, truth["posts"]) >= minimum
    # every post has text, the thread's title, and a URL of its own
    assert all(item.text.strip() for item in items)
    assert len({item.url for item in items}) == len(items)
    assert not result.warnings("parse failed")


def test_generic_reads_a_comment_tree_without_a_page_around_it() -> None:
    """Habr's comment block saved alone (no <html>, no article): 307 comments,
    nested replies flattened in page order, texts without the rating/header."""
    page = "blog_habr__ru__comments-fragment_2011.html"
    html = decode_html((SHARED_PAGES / page).read_bytes(), "text/html").text
    thread = extract_thread(html, f"http://127.0.0.1/{page}", ["ru"])
    truth = TRUTH[page]["posts"]
    posts = thread.all_posts
    assert len(posts) == len(truth)
    authors = sum(p.author == t["author"] for p, t in zip(posts, truth, strict=True))
    dates = sum(
        p.published is not None and p.published.replace(tzinfo=None).isoformat()[:16] == t["published"]
        for p, t in zip(posts, truth, strict=True)
    )
    starts = sum(p.text.split()[:2] == t["first_words"].split()[:2] for p, t in zip(posts, truth, strict=True))
    assert authors >= 300 and dates >= 300 and starts >= 250


def test_article_with_comments_keeps_the_article_first() -> None:
    page = "blog_blogger__en__pinksith_abreva-review_comments.html"
    html = decode_html((SHARED_PAGES / page).read_bytes(), "text/html").text
    thread = extract_thread(html, f"http://127.0.0.1/{page}", ["en"])
    truth = TRUTH[page]["posts"]
    assert thread.article is not None and thread.article.author == truth[0]["author"]
    assert [p.author for p in thread.posts] == [t["author"] for t in truth[1:]]
    assert [p.published.isoformat()[:16] for p in thread.posts] == [t["published"] for t in truth[1:]]


def test_unknown_page_is_reported_not_silent(tmp_path) -> None:
    (tmp_path / "plain.html").write_text("<html><body><p>Nothing to see.</p></body></html>", encoding="utf-8")
    with serve_directory(tmp_path) as base:
        result = crawl("crawlers.spiders.forum:ForumSpider", [f"{base}/plain.html"])
    assert result.items == []
    assert result.warnings("no posts recognised (engine unknown)")
    assert result.stats.get("complaintwatch/no_posts_recognised") == 1
