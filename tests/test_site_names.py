"""Sites by the name they give themselves, not host:port (issue 13): the crawl reads each
site's name off its pages (og:site_name, application-name, a feed's title, else what the
page title has besides the post's title), keeps it per host in the store's app state, and
the pages and the API show it with the site's kind; links and filters keep the host.

The pages are real saved pages (../shared/pages), crawled through local servers by the
real spiders and pipelines; the expected names were read off each page's markup by hand."""

from __future__ import annotations

import re
from contextlib import ExitStack

import pytest
from parsel import Selector
from scrapy.http import HtmlResponse, XmlResponse

from complaintwatch.models import Post
from complaintwatch.sites import SITE_STATE
from crawlers.extraction.encoding import decode_html
from crawlers.extraction.sitename import site_name, title_affix
from crawlers.items import PostItem
from crawlers.pipelines import SiteNamePipeline
from crawlers.sitenames import SiteNameMiddleware
from indexer.store import open_store
from tests.crawl_helpers import SHARED_PAGES, serve_directory
from tests.reliability_helpers import crawl
from web import create_app

# page -> (name, where it was read); None: the page does not say
TRUTH = {
    # <meta property="og:site_name" content="Trustpilot" /> and application-name
    "review_trustpilot__en__gousto_single_review.html": ("Trustpilot", "og:site_name"),
    "forum_xenforo__de__katzen-forum_thread.html": ("Katzen Forum - Das große Katzenforum", "og:site_name"),
    "pikabu_feed__ru__hot_cp1251.html": ("Пикабу", "og:site_name"),  # windows-1251 bytes
    "reddit_newui__en__askreddit_worth_it_purchases.html": ("reddit", "og:site_name"),  # <meta value= name=>
    "blog_wordpress__en__lemire_with_comments.html": ("Daniel Lemire's blog", "og:site_name"),
    # the description stuffed into og:site_name after the agency's name is left out
    "news_unn__ru__moldova-parliament-sandu_2020.html": (
        "Информационное агентство Украинские Национальные Новости (УНН)",
        "og:site_name",
    ),
    # <title>Pink Sith: Abreva Conceal Patch - Review, Pictures</title>, the post's title in h3.post-title
    "blog_blogger__en__pinksith_abreva-review_comments.html": ("Pink Sith", "title"),
    # <title>Web Ink Now: Facebookjacking: ...</title>; <h1> is the blog's name, the post's title in h3
    "blog_typepad__en__webinknow_facebookjacking_comments.html": ("Web Ink Now", "title"),
    "blog_drupal__en__androidcentral_htc-verizon_comments.html": ("Android Central", "title"),
    "forum_phpbb__de__myoos_viewtopic.html": ("MyOOS Community Forum", "title"),
    # "... | В мире | Политика | Аргументы и Факты": the outermost section
    "news_aif__ru__france-terror_2020.html": ("Аргументы и Факты", "title"),
    "review_tripadvisor__en__hotel-club-kawama_2006.html": ("TripAdvisor", "title"),
    # "<thread title> - Seite 34": a page number, not the site
    "forum_vbulletin__de__pocketpc-ch_update_delivery_thread_p34.html": None,
    # the title is the article's own, nothing else
    "news_informkz__ru__sko-poultry_2020.html": None,
}


def _page(name: str) -> Selector:
    return Selector(text=decode_html((SHARED_PAGES / name).read_bytes()).text)


@pytest.mark.parametrize("page", sorted(TRUTH))
def test_site_name_read_off_real_pages(page):
    found = site_name(_page(page))
    assert (None if found is None else (found.name, found.source)) == TRUTH[page]


def test_title_affix_needs_the_post_title_whole():
    assert title_affix("Refunds refused | Acme Forum", ["Refunds refused"]) == "Acme Forum"
    assert title_affix("Refunds refusedly | Acme Forum", ["Refunds refused"]) is None  # inside a word
    assert title_affix("Refunds refused", ["Refunds refused"]) is None
    assert title_affix("Short | Acme Forum", ["Short"]) is None  # too short to be told apart from chance


def _response(name: str, url: str):
    body = (SHARED_PAGES / name).read_bytes()
    cls = XmlResponse if name.endswith((".xml", ".atom")) else HtmlResponse
    return cls(url=url, body=body, headers={"Content-Type": "application/xml" if cls is XmlResponse else "text/html"})


def test_middleware_names_a_pages_posts_and_a_feeds():
    mw = SiteNameMiddleware()
    page = _response("review_trustpilot__en__gousto_single_review.html", "http://127.0.0.1:8001/review/1")
    items = [PostItem(url="http://127.0.0.1:8001/review/1", site_kind="review", title="x", text="y")]
    out = list(mw.process_spider_output(page, items))
    assert (out[0].site_name, out[0].site_name_source) == ("Trustpilot", "og:site_name")
    # a feed: its title names the site; a post on another host is not named after it
    feed = _response("feed_atom__en__daringfireball.atom", "http://127.0.0.1:8002/feed.atom")
    items = [
        PostItem(url="http://127.0.0.1:8002/2024/post", site_kind="blog", text="a"),
        PostItem(url="https://elsewhere.example/post", site_kind="blog", text="b"),
    ]
    out = list(mw.process_spider_output(feed, items))
    assert (out[0].site_name, out[0].site_name_source) == ("Daring Fireball", "feed")
    assert out[1].site_name is None
    # JSON (Reddit's API): no name, the post goes on untouched
    api = HtmlResponse(url="http://127.0.0.1:8003/r.json", body=b'{"kind": "Listing"}')
    out = list(mw.process_spider_output(api, [PostItem(url="http://127.0.0.1:8003/r/1", site_kind="social", text="c")]))
    assert out[0].site_name is None and out[0].text == "c"


def test_pipeline_keeps_a_declared_name_over_a_title(store):
    def item(name: str, source: str) -> PostItem:
        return PostItem(
            url="https://forum.test/t/1", site_kind="forum", text="t", site_name=name, site_name_source=source
        )

    pipe = SiteNamePipeline("")
    pipe.store = store  # the test's store, of either backend
    pipe.process_item(item("Acme Forum", "og:site_name"))
    pipe.process_item(item("Thread title", "title"))  # a weaker guess later in the crawl
    assert store.state_get(SITE_STATE, "forum.test") == {
        "name": "Acme Forum",
        "kind": "forum",
        "source": "og:site_name",
    }
    later = SiteNamePipeline("")  # the next crawl: the site renamed itself
    later.store = store
    later.process_item(item("Acme Community", "og:site_name"))
    assert store.state_get(SITE_STATE, "forum.test")["name"] == "Acme Community"
    # and the web shows it, with the host kept in the post's data
    store.upsert_posts(
        [
            Post(
                url="https://forum.test/t/1",
                source_site="forum.test",
                site_kind="forum",
                title="T",
                text="Refund refused",
            )
        ]
    )
    c = create_app(store, None, {"TESTING": True}).test_client()
    post = c.get("/api/v1/search", query_string={"q": "refund"}).get_json()["results"][0]["post"]
    assert (post["source_site"], post["source_site_name"]) == ("forum.test", "Acme Community")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Four real pages, each on its own local server (a site is a host:port), crawled by the
    real spiders into a store through the project's middlewares and pipelines."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sites') / 's.db'}"
    with ExitStack() as stack:
        hosts = [stack.enter_context(serve_directory(SHARED_PAGES)) for _ in range(4)]
        crawl(url, "reviews", [f"{hosts[0]}/review_trustpilot__en__gousto_single_review.html"])
        crawl(
            url,
            "blog",
            [
                f"{hosts[1]}/blog_blogger__en__pinksith_abreva-review_comments.html",
                f"{hosts[2]}/blog_drupal__en__androidcentral_htc-verizon_comments.html",
            ],
        )
        crawl(url, "forum", [f"{hosts[3]}/forum_xenforo__de__katzen-forum_thread.html"])
    store = open_store(url)
    yield store, [h.removeprefix("http://") for h in hosts]
    store.close()


def test_crawl_stores_each_sites_name_and_kind(crawled):
    store, hosts = crawled
    assert dict(store.state_list(SITE_STATE)) == {
        hosts[0]: {"name": "Trustpilot", "kind": "review", "source": "og:site_name"},
        hosts[1]: {"name": "Pink Sith", "kind": "blog", "source": "title"},
        hosts[2]: {"name": "Android Central", "kind": "blog", "source": "title"},
        hosts[3]: {"name": "Katzen Forum - Das große Katzenforum", "kind": "forum", "source": "og:site_name"},
    }


def test_pages_and_api_show_the_name_links_keep_the_host(crawled):
    store, hosts = crawled
    c = create_app(store, None, {"TESTING": True}).test_client()
    names = ["Trustpilot", "Pink Sith", "Android Central", "Katzen Forum - Das große Katzenforum"]
    for host, name in zip(hosts, names):
        html = c.get("/search", query_string={"site": host}).get_data(as_text=True)
        shown = set(re.findall(r'<span class="site" title="([^"]+)">([^<]+)</span>', html))
        assert shown == {(host, name)}
    html = c.get("/search", query_string={"site": hosts[0]}).get_data(as_text=True)
    assert re.search(
        rf'title="{re.escape(hosts[0])}">Trustpilot</span> <span class="site-kind muted">\(review site\)</span>', html
    )
    assert not re.search(r'<span class="site"[^>]*>127\.0\.0\.1:\d+</span>', html)  # no host:port shown as a name
    sites = dict(
        re.findall(
            r'<option value="([^"]+)"[^>]*>([^<]+)</option>',
            re.search(r'<select name="site">(.*?)</select>', html, re.S).group(1),
        )
    )
    assert sites[hosts[0]] == "Trustpilot (1)"  # the filter's value stays the host
    filtered = c.get("/api/v1/search", query_string={"site": hosts[2]}).get_json()
    assert filtered["results"] and {r["post"]["source_site"] for r in filtered["results"]} == {hosts[2]}
    assert {r["post"]["source_site_name"] for r in filtered["results"]} == {"Android Central"}
    assert {v["label"] for v in filtered["facets"]["site"]} >= {"Trustpilot", "Pink Sith", "Android Central"}
    post = filtered["results"][0]["post"]
    assert post["url"].startswith(f"http://{hosts[2]}/")  # the link to the source keeps the host
    page = c.get(f"/post/{post['id']}").get_data(as_text=True)
    assert f'<span class="site" title="{hosts[2]}">Android Central</span>' in page
