"""Layouts the generic extractor and the blog/review rules read generally:
WordPress.com classic comments, table-layout forums (phpBB2/PHP-Nuke),
dates shown without a year (Slashcode), RSS feeds whose descriptions are the
whole post (KOI8-R), and review pages (visible text over a structured-data
placeholder, every visible review a post, URLs that survive a re-crawl)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from parsel import Selector
from scrapy.http import HtmlResponse, Request, TextResponse

from crawlers.extraction.dates import page_year, parse_published, year_less
from crawlers.extraction.encoding import decode_html
from crawlers.extraction.generic import extract_thread
from crawlers.extraction.metadata import page_meta
from crawlers.spiders.blog import BlogSpider
from crawlers.spiders.reviews import ReviewsSpider
from tests.crawl_helpers import SHARED_PAGES

TRUTH = {p["file"]: p for p in json.loads((SHARED_PAGES / "truth.json").read_text(encoding="utf-8"))}
BASE = "http://127.0.0.1:8765"


def _html(page: str) -> str:
    return decode_html((SHARED_PAGES / page).read_bytes(), "text/html").text


def _items(spider, page: str, body: bytes | None = None, ctype: str = "text/html") -> list:
    url = f"{BASE}/{page}"
    body = body if body is not None else (SHARED_PAGES / page).read_bytes()
    cls = HtmlResponse if ctype == "text/html" else TextResponse
    response = cls(url, body=body, headers={"Content-Type": ctype}, request=Request(url))
    return list(spider.parse(response))


def _minute(value: datetime | None) -> str | None:
    return value.replace(tzinfo=None).isoformat()[:16] if value else None


def test_wordpress_classic_comments_in_the_li_itself() -> None:
    """WordPress.com classic theme: header and text straight in the comment
    <li> (no article/.comment-body), text in blockquote.entry-content, the
    time only in the shown text (the attribute is a bare date)."""
    page = "blog_wordpress__en__firefox-nightly_issue85_comments.html"
    items = [i for i in _items(BlogSpider(start_urls=f"{BASE}/{page}"), page) if hasattr(i, "text")]
    truth = TRUTH[page]["posts"]
    assert [i.author for i in items] == [t["author"] for t in truth]
    assert [_minute(i.published) for i in items[1:]] == [t["published"][:16] for t in truth[1:]]
    assert items[1].text.startswith("Enhancement: Are there plans")
    assert "Alan Goodale" not in items[1].text and "Reply" not in items[1].text


def test_byline_wins_over_a_twitter_handle_and_comment_hcards() -> None:
    html = """<html><head><meta name="twitter:creator" content="@nightly"></head><body>
      <article><header><address class="vcard">By <a href="/author/mike/" rel="author">Mike Conley</a></address>
      </header><div class="entry-content"><p>Text</p></div></article></body></html>"""
    assert page_meta(Selector(text=html), "http://x/").author == "Mike Conley"
    html = """<html><body><div class="post"><address>By <a href="/author/tanderson/"> Tim Anderson </a></address></div>
      <ol class="commentlist"><li class="comment"><div class="vcard"><cite class="fn">Gloria</cite></div></li></ol>
      </body></html>"""
    assert page_meta(Selector(text=html), "http://x/").author == "Tim Anderson"


def test_table_layout_forum_rows_are_posts() -> None:
    """phpBB2 / PHP-Nuke: author cell and post cell in one <tr>, the post's
    own header and body as rows of a table nested in the cell; the profile's
    "Joined:" date is not the post's."""
    page = "forum_phpbb2-nuke__en__flyawaysim_wot-r-ur-specs_2005.html"
    thread = extract_thread(_html(page), f"{BASE}/{page}", ["en"])
    truth = TRUTH[page]["posts"]
    posts = thread.all_posts
    assert [p.author for p in posts] == [t["author"] for t in truth]
    assert [_minute(p.published) for p in posts] == [t["published"][:16] for t in truth]
    assert all("Joined:" not in p.text and not p.text.startswith("Posted:") for p in posts)


def test_year_less_dates_take_the_pages_year() -> None:
    assert year_less("Monday July 23, @08:25PM")
    assert not year_less("July 23, 2012 8:25 PM") and not year_less("today, 10:05") and not year_less("10:52")
    got = parse_published("on Monday July 23, @08:25PM", ["en"], year=2012)
    assert got == datetime(2012, 7, 23, 20, 25, tzinfo=timezone.utc)
    # the weekday shown settles a year boundary: Monday 2 January is 2012, not 2013
    assert parse_published("Monday January 2, @10:00AM", ["en"], year=2013).year == 2012
    assert page_year("<p>&copy; 2003-2012 Geeknet</p>") == 2012
    assert page_year("", ("http://blog.example/2019/05/post/",)) == 2019


def test_slashcode_comments_get_the_year_from_the_page() -> None:
    page = "forum_slashcode__en__slashdot_exit-interviews_comments.html"
    thread = extract_thread(_html(page), f"{BASE}/{page}", ["en"])
    truth = TRUTH[page]["posts"]
    posts = thread.all_posts
    assert len(posts) == len(truth)
    exact = sum(
        p.author == t["author"] and _minute(p.published) == (t["published"][:16] if t["published"] else None)
        for p, t in zip(posts, truth, strict=True)
    )
    assert exact >= len(truth) - 2
    assert posts[1].text.startswith("Easier headline: exit interviews")  # not the comment's title and score


def test_rss_descriptions_that_are_whole_posts_become_posts() -> None:
    page = "feed_rss_forum__ru__template-toolkit_forum6_koi8r.xml"
    out = _items(BlogSpider(start_urls=f"{BASE}/{page}"), page, ctype="application/xml")
    items = [i for i in out if hasattr(i, "text")]
    truth = TRUTH[page]["posts"]
    assert len(items) == len(truth) and not [o for o in out if isinstance(o, Request)]
    assert all(i.text.split()[:3] == t["first_words"].split()[:3] for i, t in zip(items, truth, strict=True))
    # their links point at the original forum: a crawl of a mirror stores them
    # only with -a domains=forum.template-toolkit.ru (SiteBoundMiddleware)
    assert all(i.url.startswith("http://forum.template-toolkit.ru/") for i in items)


def test_rss_teasers_are_still_fetched() -> None:
    entries = "".join(
        f"<item><title>T{n}</title><link>{BASE}/post{n}.html</link>"
        f"<description>The first words of post {n} and then [&#8230;]</description></item>"
        for n in range(3)
    )
    body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title>{entries}</channel></rss>".encode()
    out = _items(BlogSpider(start_urls=f"{BASE}/feed.xml"), "feed.xml", body, "application/xml")
    assert [type(o).__name__ for o in out] == ["Request"] * 3


_SHOP = """<html><head><title>Widget reviews</title></head><body><h1>Widget</h1>
<div itemscope itemtype="https://schema.org/Product"><span itemprop="name">Widget</span>
{reviews}
<div class="review"><span class="author">Shop Support</span> <span class="date">14.03.2021 09:00</span>
 <div class="text">We are sorry about the parcel, Alice: the order has been refunded today.</div></div>
</div></body></html>"""
_REVIEW = """<div class="review" itemprop="review" itemscope itemtype="https://schema.org/Review">
 <span class="author" itemprop="author">{author}</span> <span class="date">{date}</span>
 <meta itemprop="description" content="comment">
 <div class="text">{text}</div></div>"""


def _shop(*reviews: tuple[str, str, str]) -> bytes:
    html = "".join(_REVIEW.format(author=a, date=d, text=t) for a, d, t in reviews)
    return _SHOP.format(reviews=html).encode("utf-8")


def test_review_page_visible_text_every_review_and_reply_stable_urls() -> None:
    alice = ("Alice", "12.03.2021 10:15", "The parcel never arrived and support ignored me for two weeks.")
    bob = ("Bob", "13.03.2021 18:40", "Delivered on time, the widget works as described, happy so far.")
    first = [i for i in _items(ReviewsSpider(start_urls=f"{BASE}/shop.html"), "shop.html", _shop(alice, bob))]
    assert [i.author for i in first] == ["Alice", "Bob", "Shop Support"]
    assert first[0].text.startswith("The parcel never arrived")  # not the "comment" placeholder
    assert "refunded" in first[2].text
    # a new review on top: the others keep their URLs (never positional)
    carol = ("Carol", "15.03.2021 08:05", "Second order in a row that was cancelled by the shop without notice.")
    again = [i for i in _items(ReviewsSpider(start_urls=f"{BASE}/shop.html"), "shop.html", _shop(carol, alice, bob))]
    urls = {i.author: i.url for i in again}
    assert all(urls[i.author] == i.url for i in first)
    assert len(set(urls.values())) == 4


def test_review_listing_urls_come_from_each_reviews_own_link() -> None:
    page = "review_tripadvisor__en__hotel-club-kawama_2006.html"
    items = [i for i in _items(ReviewsSpider(start_urls=f"{BASE}/{page}"), page) if hasattr(i, "text")]
    truth = TRUTH[page]["posts"]
    assert [i.author for i in items] == [t["author"] for t in truth]
    assert all("-r" in i.url and "ShowUserReviews" in i.url for i in items)
    assert len({i.url for i in items}) == len(items)
    assert all(i.text.split()[:4] == t["first_words"].split()[:4] for i, t in zip(items, truth, strict=True))
