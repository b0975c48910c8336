"""Thread prefixes/labels ("Gelöst", "Frage") are kept apart from the title: the
real XenForo 2 page served with XenForo's own prefix markup in its title heading."""

from __future__ import annotations

from pathlib import Path

import pytest
from parsel import Selector

from crawlers.extraction.text import title_and_labels
from crawlers.spiders.forum import ForumSpider
from tests.crawl_helpers import CrawlResult, crawl, serve_directory

PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "pages"
XENFORO = "forum_xenforo__de__katzen-forum_thread.html"
TITLE = "Jede Nacht verliert Pepe soviel Dreck aus dem Fell"
# XenForo 2's thread_view markup for a prefixed thread.
PREFIXED = (
    '<h1 class="p-title-value"><a href="/forums/katzenpflege.15/?prefix_id=4" class="labelLink" rel="nofollow">'
    '<span class="label label--green" dir="auto">Gelöst</span></a><span class="label-append">&nbsp;</span>'
    f"{TITLE}</h1>"
)


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> tuple[str, CrawlResult]:
    root = tmp_path_factory.mktemp("pages")
    html = (PAGES / XENFORO).read_text(encoding="utf-8")
    plain = f'<h1 class="p-title-value">{TITLE}</h1>'
    assert html.count(plain) == 1
    (root / "prefixed.html").write_text(html.replace(plain, PREFIXED), encoding="utf-8")
    with serve_directory(root) as base:
        on = crawl(ForumSpider, [f"{base}/prefixed.html"])
        off = crawl(ForumSpider, [f"{base}/prefixed.html"], rules="off")
    return base, on, off


def test_prefix_is_a_label_not_part_of_the_title(result):
    base, on, _ = result
    prefixed = [i for i in on.items if i.thread_url == f"{base}/prefixed.html"]
    assert len(prefixed) == 18
    assert all(i.title == TITLE and i.labels == ["Gelöst"] for i in prefixed)
    # The page as saved has no prefix: its title heading gives the title and no labels.
    heading = Selector(text=(PAGES / XENFORO).read_text(encoding="utf-8")).css("h1.p-title-value")[0]
    assert title_and_labels(heading) == (TITLE, [])


def test_generic_extractor_title_leaves_the_prefix_out(result):
    _, _, off = result
    assert off.items and all("Gelöst" not in i.title for i in off.items)
    assert {i.title for i in off.items} == {TITLE}


def test_title_and_labels_on_other_engines_markup():
    xf1 = '<h1><span class="prefix prefixRed">Frage</span> Paket nie angekommen</h1>'
    assert title_and_labels(Selector(text=xf1).css("h1")[0]) == ("Paket nie angekommen", ["Frage"])
    vb = '<span class="threadtitle"><span id="thread_prefix_12">[Solved]</span> Refund refused</span>'
    assert title_and_labels(Selector(text=vb).css("span.threadtitle")[0]) == ("Refund refused", ["[Solved]"])
    assert title_and_labels(Selector(text="<h1>Plain <b>bold</b> title</h1>").css("h1")[0]) == (
        "Plain bold title",
        [],
    )
