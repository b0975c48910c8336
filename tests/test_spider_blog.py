"""The blog spider on real saved pages: WordPress, Blogger x2, LiveJournal, Atom, RSS.

Expected values were read off the saved files by hand (comment counts,
authors, dates); where ../shared/PROVENANCE.md disagrees the file wins (the
Blogger book review shows "1 Kommentar", not 3).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crawlers.spiders.blog import BlogSpider
from tests.crawl_helpers import CrawlResult, crawl, shared_pages_url

UTC = timezone.utc
WORDPRESS = "blog_wordpress__en__lemire_with_comments.html"
BLOGGER_DE = "blog_blogger__de__book_review_with_comments.html"
BLOGGER_EN = "blog_blogger__en__python-insider_post.html"
LIVEJOURNAL = "blog_livejournal__ru__kelijah_post_bs4-prettified.html"
ATOM = "feed_atom__en__daringfireball.atom"
RSS = "feed_rss_wordpress__en__dcrainmaker.xml"


@pytest.fixture(scope="module")
def result() -> CrawlResult:
    base = shared_pages_url()
    return crawl(BlogSpider, [f"{base}/{name}" for name in (WORDPRESS, BLOGGER_DE, BLOGGER_EN, LIVEJOURNAL, ATOM, RSS)])


def _thread(result: CrawlResult, name: str) -> list:
    url = f"{shared_pages_url()}/{name}"
    items = sorted((i for i in result.items if i.thread_url == url), key=lambda i: i.position)
    assert items and items[0].url == url and items[0].position == 0 and items[0].parent_url is None
    return items


def test_no_page_failed(result):
    assert result.warnings("parse failed") == []
    assert all(i.site_kind == "blog" and i.text.strip() for i in result.items)


def test_wordpress_post_with_nested_comments(result):
    post, *comments = _thread(result, WORDPRESS)
    assert post.title == "JSON parsing: simdjson vs. JSON for Modern C++"
    assert post.author == "Daniel Lemire"
    assert post.published == datetime(2019, 8, 2, 15, 57, 41, tzinfo=UTC)
    assert post.language == "en"
    assert post.text.startswith("JSON is the ubiquitous data format on the Internet.")
    assert "degski" not in post.text and "Leave a Reply" not in post.text
    assert [c.author for c in comments] == ["degski", "degski", "Daniel Lemire", "wmu", "Daniel Lemire"]
    assert [c.position for c in comments] == [1, 2, 3, 4, 5]
    assert [c.url.split("#")[1] for c in comments] == [
        "comment-421882",
        "comment-422154",
        "comment-422230",
        "comment-422240",
        "comment-422257",
    ]
    # Replies nest under the comment they answer, top-level ones under the post.
    assert [c.parent_url for c in comments] == [post.url, post.url, comments[1].url, post.url, comments[3].url]
    assert comments[0].published == datetime(2019, 8, 3, 4, 11, 57, tzinfo=UTC)
    assert comments[0].text.startswith("Thanks, for posting this.")
    assert comments[2].author_badge == "post author"  # WordPress "bypostauthor"


def test_blogger_review_with_its_one_comment(result):
    post, *comments = _thread(result, BLOGGER_DE)
    assert post.title == "[Rezi] Love is War - Sehnsucht von R. K. Lilley"
    assert post.author == "Weinlachgummi"
    assert post.published.isoformat() == "2017-09-09T10:52:00+02:00"
    assert "Klappentext" in post.text and "Kommentar hinzufügen" not in post.text
    assert len(comments) == 1
    (comment,) = comments
    assert comment.author == "Unknown"
    assert comment.url.endswith("#c6452616768283379311")
    # Exact time from ?showComment=<ms>; the page shows "10. September 2017 um 18:12" (CEST).
    assert comment.published.replace(microsecond=0) == datetime(2017, 9, 10, 16, 12, 36, tzinfo=UTC)
    assert comment.text.startswith("Hey Tanja,")


def test_blogger_post_without_comments(result):
    (post,) = _thread(result, BLOGGER_EN)
    assert post.title == "Python 3.6.0 is now available!"
    assert post.author == "Ned Deily"
    assert post.published.isoformat() == "2016-12-23T05:11:00-05:00"
    assert post.text.startswith("Python 3.6.0 is now available!")


def test_livejournal_post(result):
    (post,) = _thread(result, LIVEJOURNAL)  # LJ loads comments by JS: none in the HTML
    assert post.title == "NLP pipeline в чатботе - текущее состояние и задачи"
    assert post.author == "kelijah"
    assert post.published == datetime(2020, 1, 23, 11, 18, tzinfo=UTC)
    assert post.text.startswith("NLP pipeline включает несколько отдельных питоновских пакетов.")
    assert post.language is None  # the page declares lang="en-us" (its UI), not trusted for Russian text


def test_atom_feed_entries_are_posts(result):
    entries = [i for i in result.items if i.url.startswith("https://daringfireball.net/")]
    assert len(entries) == 48
    assert {e.author for e in entries} == {"John Gruber", "Daring Fireball Department of Commerce"}
    assert sum(e.author == "John Gruber" for e in entries) == 46
    first = next(e for e in entries if e.url == "https://daringfireball.net/thetalkshow/2017/06/26/ep-195")
    assert first.title == "The Talk Show: ‘I Do Like Throwing a Baby’"
    assert first.published == datetime(2017, 6, 27, 0, 54, 17, tzinfo=UTC)
    assert first.language == "en" and first.text.startswith("New episode of America’s favorite 3-star podcast")
    assert all(e.parent_url is None and e.position == 0 for e in entries)


def test_rss_feed_items_with_full_content_are_posts(result):
    items = [i for i in result.items if i.url.startswith("https://www.dcrainmaker.com/")]
    assert len(items) == 8
    assert {i.author for i in items} == {"DC Rainmaker"}
    assert {i.language for i in items} == {"en"}
    sale = next(i for i in items if i.url.endswith("/2017/11/trainers-power-meters-fenix5-sale.html"))
    assert sale.title.startswith("Huge Fall Sale: 20% of All Trainers")
    assert sale.published == datetime(2017, 11, 9, 5, 0, tzinfo=UTC)
    assert len(sale.text) > 2000  # content:encoded, not the teaser
