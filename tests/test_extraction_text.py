"""Main text, element text, boilerplate lines, declared language, feeds."""

from __future__ import annotations

from parsel import Selector

from crawlers.extraction.feeds import parse_feed, xml_root
from crawlers.extraction.metadata import page_meta
from crawlers.extraction.text import clean_lines, declared_language, main_text, node_text, normalize_ws
from tests.crawl_helpers import SHARED_PAGES


def _page(name: str) -> tuple[str, Selector]:
    html = (SHARED_PAGES / name).read_text(encoding="utf-8")
    return html, Selector(text=html)


def test_clean_lines_drops_blog_chrome_and_keeps_the_words():
    raw = (
        "Заказ потерялся.\n\n← Previous post Next post →\nUp\n[Spoiler (click to open)]\n"
        "  Поддержка   молчит  \nReply\n5 comments\n★\nНаверх\n"
        "Mit der kostenlosen PocketPC.ch App von meinem HD7 T9292 aus geschrieben.\nSent from my iPhone using Tapatalk"
    )
    assert clean_lines(raw) == "Заказ потерялся.\n\nПоддержка молчит"


def test_normalize_ws_keeps_one_blank_line_between_paragraphs():
    assert normalize_ws("a\xa0 b\n\n\n\n c \u200b") == "a b\n\nc"


def test_node_text_lays_out_blocks_and_drops_quotes():
    sel = Selector(
        text="<div><p>First\n  line</p><blockquote class='q'>quoted</blockquote>"
        "<p>Second<br>third</p><script>x=1</script><!-- c --></div>"
    )
    assert node_text(sel.css("div")[0], drop="blockquote.q") == "First line\n\nSecond\nthird"


def test_main_text_prefers_the_container_when_trafilatura_drops_the_lead():
    # On the whole LiveJournal page trafilatura loses the first paragraph.
    html, sel = _page("blog_livejournal__ru__kelijah_post_bs4-prettified.html")
    text = main_text(html, sel.css("article.b-singlepost-body")[0])
    assert text.startswith("NLP pipeline включает несколько отдельных питоновских пакетов.")
    assert "rusyntax3" in text and "Share" not in text.split("\n")


def test_main_text_without_container_and_declared_language():
    html, sel = _page("blog_wordpress__en__lemire_with_comments.html")
    text = main_text(html)
    assert text.startswith("JSON is the ubiquitous data format on the Internet.")
    assert "degski" not in text  # comments are not the article
    assert declared_language(sel, text) == "en"
    # LiveJournal says lang="en-us" around a Russian post: not believed.
    html, sel = _page("blog_livejournal__ru__kelijah_post_bs4-prettified.html")
    assert declared_language(sel, main_text(html)) is None
    _, sel = _page("forum_xenforo__de__katzen-forum_thread.html")
    assert declared_language(sel) == "de"


def test_page_meta_reads_og_jsonld_and_platform_markup():
    html, sel = _page("blog_blogger__de__book_review_with_comments.html")
    meta = page_meta(sel, "https://weinlachgummis.blogspot.com/2017/09/x.html", html)
    assert meta.title == "[Rezi] Love is War - Sehnsucht von R. K. Lilley"
    assert meta.author == "Weinlachgummi"
    assert meta.published is not None and meta.published.isoformat() == "2017-09-09T10:52:00+02:00"


def test_feeds_are_recognised_and_parsed():
    atom = (SHARED_PAGES / "feed_atom__en__daringfireball.atom").read_bytes()
    rss = (SHARED_PAGES / "feed_rss_wordpress__en__dcrainmaker.xml").read_bytes()
    assert xml_root(atom) == "feed" and xml_root(rss) == "rss"
    assert xml_root((SHARED_PAGES / "forum_phpbb__de__myoos_viewtopic.html").read_bytes()) is None
    feed = parse_feed(atom.decode("utf-8"), "https://daringfireball.net/feeds/main")
    assert feed is not None and len(feed.entries) == 48
    # Linked-list entries point "alternate" elsewhere; the post is the DF page.
    assert all(e.link.startswith("https://daringfireball.net/") for e in feed.entries)
    assert len({e.link for e in feed.entries}) == 48
    feed = parse_feed(rss.decode("utf-8"), "https://www.dcrainmaker.com/feed")
    assert feed is not None and len(feed.entries) == 8 and feed.language == "en-US"
    assert all(e.content_html and e.author == "DC Rainmaker" for e in feed.entries)
