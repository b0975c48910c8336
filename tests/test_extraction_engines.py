"""Engine rules as data (crawlers/engines/*.toml) read by one rule-driven
extractor (crawlers/extraction/rules.py): the built-in files validate, a bad
file names its engine and field, an engine is added as a file, and the forum
spider falls back to (and cross-checks with) the generic extractor. Real
saved pages are crawled over 127.0.0.1 and compared with the hand-counted
truth in ../shared/pages/truth.json."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from parsel import Selector

from crawlers.engines import EngineFileError, builtin_engines, engines_of, load_engines, parse_engine
from crawlers.extraction.dates import parse_published
from crawlers.extraction.rules import pick_engine, read_records, resolve_date
from tests.crawl_helpers import SHARED_PAGES, CrawlResult, crawl, serve_directory, shared_pages_url

TRUTH = {p["file"]: p for p in json.loads((SHARED_PAGES / "truth.json").read_text(encoding="utf-8"))}
IPB = "forum_ipb-4pda__ru__search-posts-slartus_cp1251.html"
SMF = "forum_smf2__en__simplemachines_smf-2015-released_httrack.html"
PNPHPBB = "forum_pnphpbb2__en__myeclipse_support_oracle-jboss_2003.html"


def _words(text: str | None) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in (text or "").lower()).split()]


def _starts(text: str | None, first_words: str) -> bool:
    want = _words(first_words)
    return _words(text)[: len(want)] == want


# --- the files -------------------------------------------------------------------


def test_builtin_engines_load_one_file_per_engine() -> None:
    names = [e.name for e in builtin_engines()]
    assert len(names) == len(set(names))
    assert {"xenforo2", "xenforo1", "vbulletin4", "phpbb3", "discourse", "stackexchange", "ipb2"} <= {
        e.name for e in engines_of("forum")
    }
    assert {"wordpress", "blogger", "blogger-classic", "livejournal"} <= {e.name for e in engines_of("blog")}
    assert [e.name for e in engines_of("reviews")] == ["trustpilot"]
    assert all(e.posts is not None for e in engines_of("forum"))
    # the packaged files are what load_engines reads from the folder
    folder = Path(__file__).resolve().parents[1] / "crawlers" / "engines"
    assert [e.name for e in load_engines(folder)] == names


_GOOD = """name = "mybb"
description = "MyBB"
kind = "forum"
[posts]
record = "div.post"
author = [".author_information strong a ::text"]
date = [".post_date::text"]
body = [".post_body"]
"""


@pytest.mark.parametrize(
    ("replace", "by", "says"),
    [
        ('author = [".author_information strong a ::text"]', 'author = ["div[["]', "posts.author[0]"),
        ('author = [".author_information strong a ::text"]', 'auther = [".x ::text"]', "posts.auther"),
        ('date = [".post_date::text"]', "date = [{ css = '.d', match = '(' }]", "posts.date[0]"),
        ('date = [".post_date::text"]', 'date = ["xpath:..//["]', "posts.date[0]"),
        ('record = "div.post"\n', "", "posts.record"),
        ('kind = "forum"', 'kind = "wiki"', "kind"),
    ],
)
def test_a_bad_engine_file_names_the_engine_and_the_field(tmp_path: Path, replace: str, by: str, says: str) -> None:
    assert replace in _GOOD
    (tmp_path / "mybb.toml").write_text(_GOOD.replace(replace, by), encoding="utf-8")
    with pytest.raises(EngineFileError) as err:
        load_engines(tmp_path)
    message = str(err.value)
    assert "mybb.toml" in message and "'mybb'" in message and says in message


def test_two_files_for_one_engine_and_broken_toml_are_errors(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(_GOOD, encoding="utf-8")
    (tmp_path / "b.toml").write_text(_GOOD, encoding="utf-8")
    with pytest.raises(EngineFileError, match="already defined in"):
        load_engines(tmp_path)
    with pytest.raises(EngineFileError, match="c.toml: not valid TOML"):
        parse_engine("name = ", "c.toml")


def test_a_new_engine_is_a_file(tmp_path: Path) -> None:
    """MyBB's markup, unknown to the built-in engines, read by a file alone."""
    (tmp_path / "mybb.toml").write_text(_GOOD, encoding="utf-8")
    (engine,) = load_engines(tmp_path)
    html = """<html><body>
      <div class="post" id="post_11"><div class="author_information"><strong><a href="/u1">Ann</a></strong></div>
        <span class="post_date">05-03-2021, 10:15 AM</span><div class="post_body">The parcel never came.</div></div>
      <div class="post" id="post_12"><div class="author_information"><strong><a href="/u2">Shop</a></strong></div>
        <span class="post_date">05-03-2021, 11:02 AM</span><div class="post_body">Refund sent, sorry.</div></div>
    </body></html>"""
    picked, records = pick_engine([engine], Selector(text=html).root)
    assert picked is engine
    assert [(r.author, r.raw_date, r.text) for r in records] == [
        ("Ann", "05-03-2021, 10:15 AM", "The parcel never came."),
        ("Shop", "05-03-2021, 11:02 AM", "Refund sent, sorry."),
    ]


def test_threaded_rules_read_each_comment_without_its_replies() -> None:
    (wordpress,) = [e for e in engines_of("blog") if e.name == "wordpress"]
    html = """<ol class="comment-list">
      <li class="comment bypostauthor" id="comment-1"><article class="comment-body">
        <div class="comment-author"><b class="fn">Ann</b></div>
        <div class="comment-metadata"><a href="#comment-1">
          <time datetime="2020-12-24">December 24, 2020 at 9:05 am</time></a></div>
        <div class="comment-content"><p>First.</p></div></article>
        <ol class="children"><li class="comment" id="comment-2"><article class="comment-body">
          <div class="comment-author"><b class="fn">Bob</b></div>
          <div class="comment-content"><p>A reply.</p></div></article></li></ol></li></ol>"""
    assert wordpress.posts is not None
    first, reply = read_records(wordpress.posts, Selector(text=html).root)
    assert (first.author, first.text, first.anchor, first.badge, first.parent) == (
        "Ann",
        "First.",
        "comment-1",
        "post author",
        None,
    )
    assert (reply.author, reply.text, reply.parent) == ("Bob", "A reply.", 0)
    # a date-only attribute takes the time of day the page shows beside it
    published = resolve_date(first.raw_date, first.shown_date, parse_published)
    assert published.isoformat() == "2020-12-24T09:05:00+00:00"


# --- the spiders on real pages -----------------------------------------------------


@pytest.fixture(scope="module")
def forum() -> CrawlResult:
    base = shared_pages_url()
    return crawl("crawlers.spiders.forum:ForumSpider", [f"{base}/{name}" for name in (IPB, SMF, PNPHPBB)])


def _page(result: CrawlResult, name: str) -> list:
    url = f"{shared_pages_url()}/{name}"
    return sorted((i for i in result.items if i.thread_url == url), key=lambda i: i.position)


def test_ipb_engine_file_reads_4pda_posts_without_attachment_chips(forum: CrawlResult) -> None:
    posts, truth = _page(forum, IPB), TRUTH[IPB]["posts"]
    assert len(posts) == len(truth) == 20
    assert {p.author for p in posts} == {"slartus"}  # not the icon glyph inside the nick's link
    assert sum(_starts(p.text, t["first_words"]) for p, t in zip(posts, truth, strict=True)) >= 19
    assert not any("Кол-во скачиваний" in p.text or "МБ )" in p.text or "отредактировал" in p.text for p in posts)
    dated = [(p, t) for p, t in zip(posts, truth, strict=True) if t["published"]]
    assert all(p.published.replace(tzinfo=None).isoformat()[:16] == t["published"] for p, t in dated)
    assert all(p.author_badge == "Разработчики" for p in posts)
    assert all("view=findpost" in p.url for p in posts[1:])  # each post's own link


def test_a_stray_index_link_does_not_hide_a_thread(forum: CrawlResult) -> None:
    """SMF 2: no engine file, and its forum name links home as ".forumtitle a"
    (a board index's sub-forum link): the generic extractor reads the thread."""
    posts, truth = _page(forum, SMF), TRUTH[SMF]["posts"]
    assert [p.author for p in posts] == [t["author"] for t in truth]
    assert [p.published.replace(tzinfo=None).isoformat() for p in posts] == [t["published"] for t in truth]
    assert all(_starts(p.text, t["first_words"]) for p, t in zip(posts, truth, strict=True))
    assert not any("Posts:" in p.text or "SMF Super Hero" in p.text for p in posts)  # the profile is not the text
    assert not forum.warnings("no posts recognised")


def test_the_page_states_its_time_zone(forum: CrawlResult) -> None:
    """PNphpBB2: "All times are GMT - 6 Hours"; quote headers are not the text."""
    posts, truth = _page(forum, PNPHPBB), TRUTH[PNPHPBB]["posts"]
    assert [p.author for p in posts] == [t["author"] for t in truth]
    assert [p.published.isoformat() for p in posts] == [t["published"] for t in truth]
    assert all(p.published.utcoffset() == timedelta(hours=-6) for p in posts)
    assert not any(p.text.startswith("Quote:") for p in posts)


_LOOKALIKE = """<html lang="de"><head><title>Delivery problems</title></head><body><h1>Delivery problems</h1>
{posts}</body></html>"""
# phpBB's classes (div.post, .postbody .content) in a theme that puts author and
# date where phpBB's rule does not look: the rule reads posts without them.
_POST = """<div class="post" id="p{n}"><div class="postbody"><div class="content">{text}</div></div>
<div class="poster-info"><span class="username">{author}</span> <span class="post-date">{date}</span></div></div>"""


def test_a_look_alike_theme_is_cross_checked_by_the_generic_extractor(tmp_path: Path) -> None:
    rows = [
        ("Alice", "12.03.2021 10:15", "My order was cancelled twice and nobody explains why."),
        ("Bob", "12.03.2021 11:40", "Same here, the courier marked it delivered but it never came."),
        ("Shop Support", "13.03.2021 09:00", "We are sorry, please send us your order numbers."),
    ]
    posts = "".join(_POST.format(n=n, author=a, date=d, text=t) for n, (a, d, t) in enumerate(rows))
    (tmp_path / "thread.html").write_text(_LOOKALIKE.format(posts=posts), encoding="utf-8")
    with serve_directory(tmp_path) as base:
        result = crawl("crawlers.spiders.forum:ForumSpider", [f"{base}/thread.html"])
    assert [(i.author, i.published.isoformat()[:16]) for i in result.items] == [
        ("Alice", "2021-03-12T10:15"),
        ("Bob", "2021-03-12T11:40"),
        ("Shop Support", "2021-03-13T09:00"),
    ]
    assert result.stats.get("complaintwatch/engine_rule_overridden") == 1
    assert not result.warnings("parse failed")


@pytest.fixture(scope="module")
def blogs() -> CrawlResult:
    names = (
        "blog_typepad__en__webinknow_facebookjacking_comments.html",
        "blog_blogger__en__pinksith_abreva-review_comments.html",
        "blog_wordpress__en__ttac_consumer-reports-cars-to-avoid_comments.html",
        "news_tass__ru__ckad-5_2020.html",
        "news_mk__ru__orenburg-officials-cars_2020.html",
        "news_informkz__ru__sko-poultry_2020.html",
        "news_unn__ru__moldova-parliament-sandu_2020.html",
        "blog_drupal__en__androidcentral_htc-verizon_comments.html",
    )
    return crawl("crawlers.spiders.blog:BlogSpider", [f"{shared_pages_url()}/{n}" for n in names])


def _blog(result: CrawlResult, name: str) -> list:
    url = f"{shared_pages_url()}/{name}"
    return sorted((i for i in result.items if i.thread_url == url), key=lambda i: i.position)


@pytest.mark.parametrize(
    "name",
    [
        "blog_typepad__en__webinknow_facebookjacking_comments.html",  # "Posted by: Name |" bylines
        "blog_wordpress__en__ttac_consumer-reports-cars-to-avoid_comments.html",  # the first comment kept
        "news_unn__ru__moldova-parliament-sandu_2020.html",  # "related news" lists are not comments
    ],
)
def test_every_comment_and_only_comments(blogs: CrawlResult, name: str) -> None:
    items, truth = _blog(blogs, name), TRUTH[name]["posts"]
    assert [i.author for i in items] == [t["author"] for t in truth]
    assert len({i.url for i in items}) == len(items)


def test_blogger_comment_times_keep_the_blogs_offset(blogs: CrawlResult) -> None:
    """The comment link's ?showComment=<ms> is the instant; the shown "1:23 PM" its wall-clock time."""
    name = "blog_blogger__en__pinksith_abreva-review_comments.html"
    post, *comments = _blog(blogs, name)
    truth = TRUTH[name]["posts"][1:]
    assert [c.published.replace(tzinfo=None).isoformat()[:16] for c in comments] == [t["published"] for t in truth]
    assert {c.published.utcoffset() for c in comments} == {timedelta(hours=-4)}


@pytest.mark.parametrize(
    ("name", "author"),
    [
        ("news_tass__ru__ckad-5_2020.html", None),  # JSON-LD author is the agency (an Organization)
        ("news_mk__ru__orenburg-officials-cars_2020.html", None),
        ("news_informkz__ru__sko-poultry_2020.html", "Олеся Жуковень"),  # "Автор:" label, not meta "INFORM.KZ"
        ("blog_drupal__en__androidcentral_htc-verizon_comments.html", "Phil Nickinson"),  # not rel=author "Google +"
    ],
)
def test_article_author_is_a_person_or_nobody(blogs: CrawlResult, name: str, author: str | None) -> None:
    article = _blog(blogs, name)[0]
    truth = TRUTH[name]["posts"][0]
    assert article.author == author == truth["author"]
    assert _starts(article.text, truth["first_words"])  # the headline is not repeated as the first line
    want = truth["published"]
    assert article.published.replace(tzinfo=None).isoformat().startswith(want[:16])
