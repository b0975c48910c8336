"""Hostile links, through the real CLI (`complaintwatch crawl`: real spiders,
middlewares and pipelines) against pages served on 127.0.0.1, into a temp
SQLite store (issue 10, crawl hardening items 1 and 6).

1. A page must not write posts under another site's URL. One local server is
   two sites: ``127.0.0.1:PORT`` (the hostile site we crawl) and
   ``localhost:PORT`` (the victim, whose post is stored first). The hostile
   site's feeds, canonicals, comment permalinks and forum ``rel=start`` point
   at the victim and at a made-up host; nothing may be stored (or overwritten)
   there, and the legit posts are stored under 127.0.0.1.
6. ``javascript:``, ``data:`` and ``vbscript:`` links (any case, leading
   whitespace/control characters) are never stored in any URL or author field
   and never followed.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from indexer.store import open_store
from tests.reliability_helpers import STORY, Route, Site, crawl, serve

FAKE = "http://victim.example"  # a made-up host: never resolvable, never crawled
VICTIM_TEXT = "Настоящий пост жертвы: магазин вернул деньги за сломанный пылесос через две недели."


def _atom(base: str, entries: list[tuple[str, str, str]]) -> bytes:
    """An Atom feed whose entries carry the full post: (link, title, text)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title>Лента</title><link href="{base}/"/><id>{base}/</id><updated>2024-03-05T10:00:00Z</updated>'
    ]
    for i, (link, title, text) in enumerate(entries):
        parts.append(
            f'<entry><title>{title}</title><link rel="alternate" href="{link}"/><id>urn:e:{i}</id>'
            f"<published>2024-03-0{i + 1}T10:00:00Z</published><author><name>Автор {i}</name></author>"
            f'<content type="html">&lt;p&gt;{text}&lt;/p&gt;</content></entry>'
        )
    return ("".join(parts) + "</feed>").encode()


def _rss(base: str, entries: list[tuple[str, str, str]]) -> bytes:
    """An RSS 2.0 feed with content:encoded bodies: (link, title, text)."""
    items = "".join(
        f"<item><title>{title}</title><link>{link}</link><pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate>"
        f"<content:encoded><![CDATA[<p>{text}</p>]]></content:encoded></item>"
        for link, title, text in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Лента</title><link>{base}/</link>{items}</channel></rss>"
    ).encode()


def _article(title: str, text: str, head: str = "", comments: str = "") -> bytes:
    """A WordPress single-post page; `comments` are <li> of ol.comment-list."""
    return (
        f'<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>{title}</title>{head}'
        '<meta property="article:published_time" content="2024-03-05T10:00:00+00:00"></head>'
        f'<body class="single"><article><h1 class="entry-title">{title}</h1>'
        f'<div class="entry-content"><p>{text}</p></div></article>'
        f'<ol class="comment-list">{comments}</ol></body></html>'
    ).encode()


def _comment(cid: str, author: str, href: str, text: str) -> str:
    return (
        f'<li id="comment-{cid}" class="comment"><article class="comment-body"><footer class="comment-meta">'
        f'<div class="comment-author"><b class="fn">{author}</b></div>'
        f'<div class="comment-metadata"><a href="{href}"><time datetime="2024-03-06T10:00:00+00:00">6 марта</time>'
        f'</a></div></footer><div class="comment-content"><p>{text}</p></div></article></li>'
    )


def _thread(title: str, head: str, messages: list[tuple[int, str, str, str]]) -> bytes:
    """A XenForo 2 thread page: (number, author, permalink, text) per message."""
    arts = "".join(
        f'<article class="message message--post" data-author="{author}">'
        f'<header class="message-attribution"><a href="{href}" class="u-concealed">'
        f'<time class="u-dt" datetime="2024-03-0{n}T10:00:00+0000">{n} марта</time></a>'
        f'<ul class="message-attribution-opposite"><li><a href="{href}">#{n}</a></li></ul></header>'
        f'<div class="message-body"><div class="bbWrapper">{text}</div></div></article>'
        for n, author, href, text in messages
    )
    return (
        f'<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
        f'<body><h1 class="p-title-value">{title}</h1>{arts}</body></html>'
    ).encode()


def _posts(db: Path) -> dict:
    with open_store(db) as store:
        return {p.url: p for p in store.iter_posts()}


def _hosts(posts: dict) -> set[str]:
    """Every host named by any stored URL field."""
    return {urlsplit(u).netloc for p in posts.values() for u in (p.url, p.thread_url, p.parent_url) if u is not None}


# -- 1. posts only under the crawled host --------------------------------------------------------


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("foreign")
    db = tmp / "cw.db"
    store_url = f"sqlite:///{db}"
    site = Site()
    with serve(site):
        port = urlsplit(site.url).port
        own, victim = site.url, f"http://localhost:{port}"  # one server, two sites
        site.routes = {
            "/victim.html": Route(_article("Пост жертвы", VICTIM_TEXT)),
            "/feed.atom": Route(
                _atom(
                    own,
                    [
                        (f"{victim}/victim.html", "Подмена", "HOSTILE-ATOM-OVERWRITE " + STORY),
                        (f"{FAKE}/planted-atom", "Подброс", "HOSTILE-ATOM-PLANT " + STORY),
                        (f"{own}/legit-atom.html", "Свой пост", "LEGIT-ATOM " + STORY),
                    ],
                ),
                "application/atom+xml",
            ),
            "/feed.rss": Route(
                _rss(
                    own,
                    [
                        (f"{victim}/victim.html", "Подмена", "HOSTILE-RSS-OVERWRITE " + STORY),
                        (f"{FAKE}/planted-rss", "Подброс", "HOSTILE-RSS-PLANT " + STORY),
                        (f"{own}/legit-rss.html", "Свой пост", "LEGIT-RSS " + STORY),
                    ],
                ),
                "application/rss+xml",
            ),
            # canonical, og:url and comment permalinks all claim to be the victim's page
            "/blog/post.html": Route(
                _article(
                    "Статья с чужим canonical",
                    "LEGIT-ARTICLE " + STORY,
                    head=f'<link rel="canonical" href="{victim}/victim.html">'
                    f'<meta property="og:url" content="{victim}/victim.html">',
                    comments=_comment("11", "Анна", f"{victim}/victim.html#comment-11", "LEGIT-COMMENT-A " + STORY)
                    + _comment("12", "Борис", f"{FAKE}/other-post/#comment-12", "LEGIT-COMMENT-B " + STORY),
                )
            ),
            # rel=start claims the thread lives on the victim's forum; permalinks too
            "/forum/threads/refund.7/": Route(
                _thread(
                    "Не вернули деньги",
                    f'<link rel="start" href="{victim}/threads/victim-thread.9/">',
                    [
                        (1, "Иван", f"{victim}/threads/victim-thread.9/post-1", "LEGIT-FORUM-ROOT " + STORY),
                        (2, "Олег", f"{FAKE}/threads/x.9/post-2", "LEGIT-FORUM-REPLY " + STORY),
                    ],
                )
            ),
        }
        first = crawl(store_url, "blog", [f"{victim}/victim.html"])
        before = _posts(db)
        blog = crawl(store_url, "blog", [f"{own}/feed.atom", f"{own}/feed.rss", f"{own}/blog/post.html"])
        forum = crawl(store_url, "forum", [f"{own}/forum/threads/refund.7/"])
        after = _posts(db)
    return {
        "own": own,
        "victim": victim,
        "before": before,
        "after": after,
        "log": first.stderr + blog.stderr + forum.stderr,
        "out": blog.stdout + forum.stdout,
    }


def test_victim_post_is_not_overwritten_and_nothing_is_planted(foreign):
    victim = foreign["victim"]
    assert list(foreign["before"]) == [f"{victim}/victim.html"]  # the victim's post, crawled from its own site
    after = foreign["after"]
    stored = after[f"{victim}/victim.html"]
    assert stored.text == VICTIM_TEXT and stored.title == "Пост жертвы"
    assert [u for u in after if not u.startswith(foreign["own"])] == [f"{victim}/victim.html"]
    assert _hosts(after) == {urlsplit(foreign["own"]).netloc, urlsplit(victim).netloc}
    assert "victim.example" not in str([(p.url, p.thread_url, p.parent_url) for p in after.values()])
    assert not [p.url for p in after.values() if "HOSTILE" in p.text]


def test_legit_posts_are_stored_under_the_crawled_host(foreign):
    own, after = foreign["own"], foreign["after"]
    by_marker = {p.text.split()[0]: p for p in after.values() if p.url.startswith(own)}
    assert set(by_marker) == {
        "LEGIT-ATOM",
        "LEGIT-RSS",
        "LEGIT-ARTICLE",
        "LEGIT-COMMENT-A",
        "LEGIT-COMMENT-B",
        "LEGIT-FORUM-ROOT",
        "LEGIT-FORUM-REPLY",
    }
    assert by_marker["LEGIT-ATOM"].url == f"{own}/legit-atom.html"
    assert by_marker["LEGIT-RSS"].url == f"{own}/legit-rss.html"
    # the article is kept under the URL it was fetched from, not its canonical
    article = f"{own}/blog/post.html"
    assert by_marker["LEGIT-ARTICLE"].url == article
    # a permalink to the (foreign) canonical plus a fragment is re-based on the page;
    # one to another foreign page is ignored for the comment's own anchor
    assert by_marker["LEGIT-COMMENT-A"].url == f"{article}#comment-11"
    assert by_marker["LEGIT-COMMENT-B"].url == f"{article}#comment-12"
    for marker in ("LEGIT-COMMENT-A", "LEGIT-COMMENT-B"):
        assert by_marker[marker].thread_url == by_marker[marker].parent_url == article
    # rel=start off-site is ignored: the thread is the page that was fetched
    thread = f"{own}/forum/threads/refund.7"
    root, reply = by_marker["LEGIT-FORUM-ROOT"], by_marker["LEGIT-FORUM-REPLY"]
    assert root.url.rstrip("/") == thread and root.parent_url is None
    assert reply.url == f"{thread}#c1" and reply.parent_url.rstrip("/") == thread  # forum post #2: position 1
    assert reply.thread_url.rstrip("/") == thread


def test_foreign_links_are_logged_with_both_urls(foreign):
    log, own, victim = foreign["log"], foreign["own"], foreign["victim"]
    # feed entries with no safe URL: dropped, logged with both URLs (WARNING)
    for url, feed in (
        (f"{FAKE}/planted-atom", "feed.atom"),
        (f"{FAKE}/planted-rss", "feed.rss"),
        (f"{victim}/victim.html", "feed.(atom|rss)"),  # both feeds name it: the spider yields a URL once
    ):
        assert re.search(rf"WARNING.*post not stored.*{re.escape(url)}.*{re.escape(own)}/{feed}", log), url
    # a foreign permalink / rel=start: ignored, logged, the post kept under the fetched URL
    assert re.search(rf"ignored foreign permalink '{re.escape(FAKE)}/other-post/#comment-12' on {own}/blog/", log)
    assert re.search(rf"ignored foreign link '{re.escape(victim)}/threads/victim-thread.9/' on {own}/forum/", log)
    assert re.search(rf"ignored foreign permalink '{re.escape(FAKE)}/threads/x.9/post-2' on {own}/forum/", log)


# -- 6. javascript:, data:, vbscript: ------------------------------------------------------------

# How a browser would still read a script URL: any case, leading spaces/control characters,
# tabs and newlines inside the scheme (the WHATWG URL parser drops them).
_SCRIPT = re.compile(r"^[\x00-\x20]*(javascript|data|vbscript):", re.I)


def _is_script(value: str | None) -> bool:
    return bool(value) and bool(_SCRIPT.match(re.sub(r"[\t\n\r]", "", value)))


_DATA_PAGE = base64.b64encode(_article("Пост из data:", "HOSTILE-DATA-URL " + STORY)).decode()
SCRIPT_LINKS = [
    "javascript:alert(1)",
    " \t JaVaScRiPt:alert(2)",
    "&#1;java&#10;script:alert(3)",  # control char and newline, as HTML character references
    "VBScript:MsgBox(4)",
    f"data:text/html;base64,{_DATA_PAGE}",
]


def _listing(links: list[str]) -> bytes:
    arts = "".join(f'<article><h2 class="entry-title"><a href="{h}">Пост</a></h2></article>' for h in links)
    return f'<!doctype html><html><head><meta charset="utf-8"></head><body class="home">{arts}</body></html>'.encode()


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scripts")
    db = tmp / "cw.db"
    store_url = f"sqlite:///{db}"
    site = Site()
    with serve(site):
        own = site.url
        site.routes = {
            "/": Route(_listing([f"{own}/ok-1.html", "/ok-2.html", *SCRIPT_LINKS])),
            "/ok-1.html": Route(
                _article(
                    "Первый",
                    "OK-ONE " + STORY,
                    # a script URL as canonical and as the author's "name"
                    head='<link rel="canonical" href="javascript:alert(5)">'
                    '<meta name="author" content="javascript:alert(document.cookie)">',
                    comments=_comment("21", "Вера", "javascript:void(0)", "OK-COMMENT-JS " + STORY)
                    + _comment("22", "Глеб", " VBSCRIPT:MsgBox(6)#comment-22", "OK-COMMENT-VB " + STORY)
                    + _comment("23", "Дина", "data:text/html,<b>x</b>", "OK-COMMENT-DATA " + STORY),
                )
            ),
            "/ok-2.html": Route(_article("Второй", "OK-TWO " + STORY)),
            "/feed.atom": Route(
                _atom(
                    own,
                    [
                        ("javascript:alert(7)", "JS", "HOSTILE-FEED-JS " + STORY),
                        ("data:text/html,hello", "DATA", "HOSTILE-FEED-DATA " + STORY),
                        (f"{own}/ok-feed.html", "OK", "OK-FEED " + STORY),
                    ],
                ),
                "application/atom+xml",
            ),
            "/forum/threads/t.3/": Route(
                _thread(
                    "Тема",
                    '<link rel="start" href="javascript:alert(8)">',
                    [
                        (1, "Иван", "javascript:alert(9)", "OK-FORUM-ROOT " + STORY),
                        (2, "Олег", "vbscript:x", "OK-FORUM-REPLY " + STORY),
                    ],
                )
            ),
        }
        blog = crawl(store_url, "blog", [f"{own}/", f"{own}/feed.atom"])
        forum = crawl(store_url, "forum", [f"{own}/forum/threads/t.3/"])
        posts = _posts(db)
    return {"own": own, "posts": posts, "requested": list(site.requested), "log": blog.stderr + forum.stderr}


def test_script_urls_are_never_stored(scripts):
    posts, own = scripts["posts"], scripts["own"]
    for p in posts.values():
        for value in (p.url, p.thread_url, p.parent_url, p.author):
            assert not _is_script(value), (p.url, value)
        assert all(u is None or u.startswith(own + "/") for u in (p.url, p.thread_url, p.parent_url)), p.url
    assert not [p.url for p in posts.values() if "HOSTILE" in p.text]


def test_posts_around_script_links_are_kept_under_safe_urls(scripts):
    own = scripts["own"]
    by_marker = {p.text.split()[0]: p for p in scripts["posts"].values()}
    assert set(by_marker) == {
        "OK-ONE",
        "OK-TWO",
        "OK-COMMENT-JS",
        "OK-COMMENT-VB",
        "OK-COMMENT-DATA",
        "OK-FEED",
        "OK-FORUM-ROOT",
        "OK-FORUM-REPLY",
    }
    page = f"{own}/ok-1.html"
    assert by_marker["OK-ONE"].url == page and by_marker["OK-ONE"].author is None  # the script "name" is dropped
    for marker, cid in (("OK-COMMENT-JS", 21), ("OK-COMMENT-VB", 22), ("OK-COMMENT-DATA", 23)):
        assert by_marker[marker].url == f"{page}#comment-{cid}"
        assert by_marker[marker].parent_url == by_marker[marker].thread_url == page
    thread = f"{own}/forum/threads/t.3"
    assert by_marker["OK-FORUM-ROOT"].url.rstrip("/") == thread
    assert by_marker["OK-FORUM-REPLY"].url == f"{thread}#c1"
    assert by_marker["OK-FORUM-REPLY"].parent_url.rstrip("/") == thread


def test_script_links_are_never_followed(scripts):
    # only real pages were requested (the server sees every request; robots.txt is asked first)
    paths = {p.split("?")[0] for p in scripts["requested"]}
    assert paths == {"/robots.txt", "/", "/ok-1.html", "/ok-2.html", "/feed.atom", "/forum/threads/t.3/"}
    log = scripts["log"]
    # each script link on the listing is skipped by name, at INFO, never attempted
    for scheme in ("javascript", "vbscript", "data"):
        assert re.search(rf"INFO.*not following {scheme} link", log), scheme
    assert len(re.findall(r"not following javascript link", log)) >= 3  # the three spellings on the listing
    assert "Unsupported URL scheme" not in log and "Missing scheme" not in log and "parse failed" not in log


# -- the rule itself, case by case ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "page", "allow", "problem"),
    [
        ("http://a.com/p", "https://www.a.com/feed", (), None),  # www. and http/https default ports are one site
        ("http://a.com:8080/p", "http://a.com/feed", (), "foreign"),  # another port is another site
        ("http://localhost:81/p", "http://127.0.0.1:81/feed", (), "foreign"),
        ("http://evil.a.com/p", "http://a.com/feed", (), "foreign"),  # subdomains only by allow-list
        ("http://x.b.com/p", "http://a.com/feed", ("b.com",), None),
        ("http://notb.com/p", "http://a.com/feed", ("b.com",), "foreign"),
        ("\x01 JaVa\tScRiPt:alert(1)", "http://a.com/", (), "unsafe"),
        ("DATA:text/html,x", "http://a.com/", ("a.com",), "unsafe"),
        ("mailto:x@a.com", "http://a.com/", (), "not a web URL"),
        ("http://a.com:99999/p", "http://a.com/", (), "not a web URL"),
    ],
)
def test_url_problem(url, page, allow, problem):
    from crawlers.sitebound import url_problem

    assert url_problem(url, page, allow) == problem
