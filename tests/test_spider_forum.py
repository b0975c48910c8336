"""The forum spider on real saved threads: XenForo 2, vBulletin 4 (page 34,
Latin-1), phpBB 3, Discourse crawler view, and Stack Exchange Q&A."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crawlers.spiders.forum import ForumSpider, thread_root_url
from tests.crawl_helpers import CrawlResult, crawl, shared_pages_url

UTC = timezone.utc
CEST = timezone(timedelta(hours=2))
XENFORO = "forum_xenforo__de__katzen-forum_thread.html"
VBULLETIN = "forum_vbulletin__de__pocketpc-ch_update_delivery_thread_p34.html"
PHPBB = "forum_phpbb__de__myoos_viewtopic.html"
DISCOURSE = "forum_discourse__en__meta-discourse_topic.html"
STACKEXCHANGE = "qa_stackexchange__en__german-se_question.html"
VB_THREAD = (
    "https://www.pocketpc.ch/windows-phone-7-allgemein/122760-microsoft-beginnt-auslieferung-vorbereitungsupdate.html"
)


@pytest.fixture(scope="module")
def result() -> CrawlResult:
    base = shared_pages_url()
    return crawl(ForumSpider, [f"{base}/{name}" for name in (XENFORO, VBULLETIN, PHPBB, DISCOURSE, STACKEXCHANGE)])


def _thread(result: CrawlResult, thread_url: str) -> list:
    return sorted((i for i in result.items if i.thread_url == thread_url), key=lambda i: i.position)


def test_no_page_failed_and_nothing_left_the_test_server(result):
    assert result.warnings("parse failed") == []
    assert all(i.site_kind == "forum" and i.text.strip() for i in result.items)
    # vBulletin's rel=next points at pocketpc.ch: filtered as offsite, never fetched.
    assert result.stats.get("offsite/filtered", 0) >= 1


def test_xenforo_thread_18_messages(result):
    url = f"{shared_pages_url()}/{XENFORO}"
    posts = _thread(result, url)
    assert len(posts) == 18
    root = posts[0]
    assert (root.url, root.position, root.parent_url) == (url, 0, None)
    assert root.title == "Jede Nacht verliert Pepe soviel Dreck aus dem Fell"
    assert root.author == "Pepemaus"
    assert root.published == datetime(2018, 9, 27, 14, 51, 9, tzinfo=CEST)
    assert root.language == "de" and root.text.startswith("Hallo,")
    assert [p.position for p in posts] == list(range(18))
    assert [p.author for p in posts[:4]] == ["Pepemaus", "yellowkitty", "Lov100", "Pepemaus"]
    assert [p.published.date().isoformat() for p in posts[:4]] == ["2018-09-27"] * 4
    assert posts[-1].author == "Pepemaus" and posts[-1].published == datetime(2019, 8, 17, 10, 48, 30, tzinfo=CEST)
    replies = posts[1:]
    assert all(p.parent_url == url for p in replies)
    assert replies[0].url.endswith("/threads/jede-nacht-verliert-pepe-soviel-dreck-aus-dem-fell.230143/post-6331423")
    assert len({p.url for p in posts}) == 18
    assert root.author_badge == "Forenprofi"


def test_vbulletin_page_34_latin1_umlauts_and_post_numbers(result):
    posts = _thread(result, VB_THREAD)  # thread root from the page's rel="start" link
    assert len(posts) == 20
    assert [p.position for p in posts] == list(range(660, 680))  # "#661".."#680"
    assert all(p.parent_url == VB_THREAD for p in posts)  # page 34 holds no root post
    assert posts[0].author == "Predator" and posts[-1].author == "tommyp"
    assert posts[0].published == datetime(2011, 3, 3, 14, 17, tzinfo=UTC)
    assert posts[-1].published == datetime(2011, 3, 3, 16, 31, tzinfo=UTC)
    assert posts[0].url == (
        "https://www.pocketpc.ch/windows-phone-7-allgemein/"
        "122760-microsoft-beginnt-auslieferung-vorbereitungsupdate-post949757.html#post949757"
    )  # vBulletin's session id (?s=...) stripped
    assert all(p.title == "Microsoft beginnt mit der Auslieferung des Vorbereitungsupdate!" for p in posts)
    assert all(p.language == "de" for p in posts)
    text = "\n".join(p.text for p in posts)
    assert "für" in text and "ä" in text and "\ufffd" not in text and "Ã" not in text
    assert posts[0].author_badge == "Gehöre zum Inventar"
    # Quotes of earlier posts are not the author's words.
    assert "Gibt es denn irgendow eine Seite" not in posts[0].text
    assert posts[0].text.startswith("Das war noch nicht das Update")
    assert not any("App von meinem" in p.text for p in posts)  # app signature lines dropped


def test_phpbb_single_post(result):
    url = f"{shared_pages_url()}/{PHPBB}"
    (post,) = _thread(result, url)
    assert post.title == "Was ist Freie Software"
    assert post.author == "r23"
    # shown "21.01.2009, 05:42"; the footer says "Alle Zeiten sind UTC+02:00"
    assert post.published == datetime(2009, 1, 21, 5, 42, tzinfo=CEST)
    assert post.text.startswith("Was ist Freie Software und warum ist sie wichtig?")
    assert post.language == "de"


def test_discourse_two_posts(result):
    url = f"{shared_pages_url()}/{DISCOURSE}"
    root, reply = _thread(result, url)
    assert root.title == "Congratulations, most stars in 2013 GitHub Octoverse!"
    assert (root.author, root.published) == ("techAPJ", datetime(2014, 2, 6, 4, 55, 19, tzinfo=UTC))
    assert (reply.author, reply.published) == ("codinghorror", datetime(2014, 2, 6, 5, 27, 6, tzinfo=UTC))
    assert (reply.position, reply.parent_url, reply.url) == (1, url, f"{url}#c1")
    assert reply.text.startswith("Ah, cool.")


def test_stackexchange_question_answers_and_comments(result):
    url = f"{shared_pages_url()}/{STACKEXCHANGE}"
    posts = _thread(result, url)
    question = posts[0]
    answers = [p for p in posts if "#answer-" in p.url]
    comments = [p for p in posts if "#comment-" in p.url]
    assert (len(answers), len(comments), len(posts)) == (6, 14, 21)
    assert question.author == "user5105"
    assert question.published == datetime(2014, 2, 6, 20, 37, 20, tzinfo=UTC)
    assert question.title.startswith('When to use "wurde" versus "war"')
    assert all(a.parent_url == url for a in answers)
    by_url = {p.url: p for p in posts}
    assert all(c.parent_url in by_url for c in comments)
    assert by_url[f"{url}#comment-133229"].parent_url == f"{url}#answer-10381"
    assert by_url[f"{url}#answer-10381"].author == "Earthliŋ"


@pytest.mark.parametrize(
    ("page", "root"),
    [
        ("https://f.example/threads/x.123/page-3", "https://f.example/threads/x.123/"),
        ("https://meta.example/t/slug/42?page=2", "https://meta.example/t/slug/42"),
        ("https://f.example/viewtopic.php?t=167&start=40", "https://f.example/viewtopic.php?t=167"),
    ],
)
def test_thread_root_url_from_later_pages(page, root):
    assert thread_root_url(page) == root
