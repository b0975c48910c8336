"""A post's language comes from its own text; the page's declared language only
breaks ties on short or ambiguous texts (real saved pages, served with a wrong
declared language)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawlers.extraction.text import language_if_plausible
from crawlers.pipelines import BuildPostPipeline
from crawlers.spiders.blog import BlogSpider
from crawlers.spiders.forum import ForumSpider
from tests.crawl_helpers import CrawlResult, crawl, serve_directory

PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "pages"
GERMAN = {
    "forum_xenforo__de__katzen-forum_thread.html": 18,
    "forum_vbulletin__de__pocketpc-ch_update_delivery_thread_p34.html": 20,
    "forum_phpbb__de__myoos_viewtopic.html": 1,
}
RUSSIAN = "forum_ipb-4pda__ru__search-posts-slartus_cp1251.html"
ENGLISH = "forum_discourse__en__meta-discourse_topic.html"
LIVEJOURNAL = "blog_livejournal__ru__kelijah_post_bs4-prettified.html"


def _declare_english(html: bytes) -> bytes:
    """The page's <html lang> replaced by en-US, as a misconfigured theme would."""
    return re.sub(rb'(<html\b[^>]*?\blang=")[^"]*"', rb'\1en-US"', html, count=1)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[str, CrawlResult, CrawlResult]:
    root = tmp_path_factory.mktemp("pages")
    for name in GERMAN:
        html = (PAGES / name).read_bytes()
        wrong = _declare_english(html)
        assert wrong != html and b'lang="en-US"' in wrong
        (root / name).write_bytes(wrong)
    for name in (RUSSIAN, ENGLISH, LIVEJOURNAL):
        (root / name).write_bytes((PAGES / name).read_bytes())
    with serve_directory(root) as base:
        forum = crawl(ForumSpider, [f"{base}/{name}" for name in (*GERMAN, RUSSIAN, ENGLISH)])
        blog = crawl(BlogSpider, [f"{base}/{LIVEJOURNAL}"])
    return base, forum, blog


@pytest.mark.parametrize("name", list(GERMAN))
def test_german_posts_under_an_english_declaration_are_german(served, name):
    _, forum, _ = served
    posts = [i for i in forum.items if i.title and _is_from(i, name)]
    assert len(posts) >= GERMAN[name]
    long_posts = [p for p in posts if len(p.text) >= 60]
    assert long_posts, "no post long enough to tell"
    # A post that is mostly a pasted English manual may read English; the thread reads German.
    german = [p for p in long_posts if p.language == "de"]
    assert len(german) >= 0.9 * len(long_posts), [(p.language, p.text[:60]) for p in long_posts]
    assert posts[0].language == "de" or posts[0] not in long_posts
    # Short ones ("Danke!") may fall back on the declaration, but most of the thread reads German.
    assert sum(p.language == "de" for p in posts) >= 0.8 * len(posts)


def _is_from(item, name: str) -> bool:
    stem = name.removesuffix(".html")
    return stem in (item.url or "") or stem in (item.thread_url or "") or _vb_thread(item, name)


def _vb_thread(item, name: str) -> bool:
    # vBulletin's page 34 gives its posts the thread's canonical pocketpc.ch URLs.
    return "vbulletin" in name and "pocketpc.ch" in (item.url or "")


def test_russian_and_english_pages_keep_their_language(served):
    _, forum, blog = served
    russian = [i for i in forum.items if "ipb-4pda" in (i.url or "") or "ipb-4pda" in (i.thread_url or "")]
    english = [i for i in forum.items if "meta-discourse" in (i.url or "")]
    assert russian and all(p.language == "ru" for p in russian if len(p.text) >= 60)
    assert len(english) == 2 and all(p.language == "en" for p in english)
    # LiveJournal declares its UI language en-us around a Russian post: the stored post is Russian.
    (post,) = [i for i in blog.items if i.parent_url is None]
    assert BuildPostPipeline().process_item(post).language == "ru"


def test_declared_language_breaks_ties_only():
    german = "Hallo,\nPepe schläft nachts mit mir im Schlafzimmer auf seiner Fensterbankliege."
    assert language_if_plausible("en-US", german) == "de"
    assert language_if_plausible("de", german) == "de"
    # Too short or too ambiguous to overrule the page.
    assert language_if_plausible("en", "Danke!") == "en"
    assert language_if_plausible("en", "Same here") == "en"
    # A short Russian sentence the model half takes for Bulgarian stays Russian on a Russian page.
    assert language_if_plausible("ru", "Заказ отменили без объяснения причин") == "ru"
    # A script the declaration cannot be written in drops it (the pipeline then identifies it).
    assert language_if_plausible("de", "Заказ отменили без объяснения причин, деньги не вернули уже месяц") is None
    english = "My parcel never arrived and the shop refused to refund the order after three weeks."
    assert language_if_plausible("ru", english) is None
    assert language_if_plausible("de", english) == "en"
    # The author's own German line above a pasted English quote keeps the post German.
    assert language_if_plausible("de", f"Hallo, event. hilft das weiter,\n\n{english}") == "de"
