"""Discovery ("watch company X") on local copies of real forums: each engine's
site serves a real saved page of that engine (../shared/pages) as its front
page and thread page, and a search-results page in that engine's own markup
(from its templates: phpBB prosilver search_results, XenForo 2
search_result_thread, vBulletin 4 threadbit, Discourse search.json)."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from complaintwatch.sources import Source, append_sources, load_sources
from crawlers.discovery import detect_engine, discover, search_terms
from crawlers.spiders.forum import ForumSpider
from indexer.companies import CompanyResolver
from tests.crawl_helpers import SHARED_PAGES, crawl

PHPBB = "forum_phpbb__de__myoos_viewtopic.html"
XENFORO = "forum_xenforo__de__katzen-forum_thread.html"
VBULLETIN = "forum_vbulletin__de__pocketpc-ch_update_delivery_thread_p34.html"
DISCOURSE = "forum_discourse__en__meta-discourse_topic.html"
SMF = "forum_smf2__en__simplemachines_smf-2015-released_httrack.html"
BLOG = "blog_wordpress__en__lemire_with_comments.html"
XF_THREAD = "/threads/jede-nacht-verliert-pepe-soviel-dreck-aus-dem-fell.230143/"
DISCOURSE_TOPIC = "/t/congratulations-most-stars-in-2013-github-octoverse/12483"

Reply = tuple[int, dict[str, str], bytes]


def real(name: str) -> Callable[[dict], Reply]:
    return lambda q: (200, {"Content-Type": "text/html"}, (SHARED_PAGES / name).read_bytes())


def html(body: str) -> Reply:
    return (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        f"<!doctype html><html><body>{body}</body></html>".encode(),
    )


# --- search result pages, in each engine's markup ---------------------------


def phpbb_results(q: dict) -> Reply:
    words = q.get("keywords", [""])[0]
    if q.get("sr", ["topics"])[0] == "posts":  # prosilver "posts" view: excerpts; the topic link is in postprofile
        return html(
            f'<body id="phpbb"><h2>Suchergebnisse: <a href="./search.php?keywords={words}">{words}</a></h2>'
            '<div class="search post bg2"><div class="inner"><div class="postbody">'
            '<h3><a href="./viewtopic.php?p=621#p621">Was ist Freie Software</a></h3>'
            f'<div class="content">… {words} … an excerpt that is not a post …</div></div>'
            '<dl class="postprofile"><dt class="author">von '
            '<a href="./memberlist.php?mode=viewprofile&amp;u=2">r23</a></dt>'
            '<dd>Forum: <a href="./viewforum.php?f=2">Allgemein</a></dd>'
            '<dd>Thema: <a href="./viewtopic.php?t=167">Was ist Freie Software</a></dd></dl>'
            '<ul class="searchresults"><li><a href="./viewtopic.php?p=621#p621">Gehe zum Beitrag</a></li></ul>'
            "</div></div></body>"
        )
    return html(
        f'<body id="phpbb"><h2>Suchergebnisse: {words}</h2><div class="forumbg"><ul class="topiclist topics">'
        '<li class="row bg1"><dl class="icon"><dt><a href="./viewtopic.php?f=2&amp;t=167" class="topictitle">'
        "Was ist Freie Software</a><br>von r23</dt></dl></li></ul></div></body>"
    )


def xenforo_search(q: dict) -> Reply:
    # XF's search/search action runs the query and redirects to the search's id
    words = q.get("keywords", [""])[0]
    return 303, {"Location": f"/search/4711/?q={words}&o=date"}, b""


def xenforo_results(q: dict) -> Reply:
    return html(
        '<ol class="block-body">'
        '<li class="block-row block-row--separated  js-inlineModContainer" data-author="Pepemaus">'
        '<div class="contentRow "><div class="contentRow-main"><h3 class="contentRow-title">'
        f'<a href="{XF_THREAD}">Jede Nacht verliert Pepe soviel Dreck aus dem Fell</a></h3>'
        '<div class="contentRow-snippet">Hallo, …</div></div></div></li></ol>'
    )


def vbulletin_results(q: dict) -> Reply:
    return html(
        '<ol id="searchbits" class="searchbits"><li class="imodselector threadbit" id="thread_122760">'
        '<div class="threadinfo"><h3 class="searchtitle">'
        '<a class="title" href="showthread.php?t=122760" id="thread_title_122760">'
        "Microsoft beginnt mit der Auslieferung des Vorbereitungsupdate!</a></h3></div></li></ol>"
    )


def discourse_results(q: dict) -> Reply:
    body = {
        "posts": [{"id": 59931, "topic_id": 12483, "post_number": 1, "blurb": "…"}],
        "topics": [
            {"id": 12483, "title": "Congratulations", "slug": "congratulations-most-stars-in-2013-github-octoverse"}
        ],
        "grouped_search_result": {"term": q.get("q", [""])[0], "post_ids": [59931], "topic_ids": [12483]},
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def robots_no_search(q: dict) -> Reply:
    return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /search.php\n"


# --- local sites ---------------------------------------------------------------


@dataclass
class EngineSite:
    routes: dict[str, Callable[[dict], Reply]]
    default: Callable[[dict], Reply] | None = None  # any other path
    requested: list[str] = field(default_factory=list)
    url: str = ""


@contextmanager
def serve(site: EngineSite) -> Iterator[EngineSite]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            site.requested.append(self.path)
            parts = urlsplit(self.path)
            route = site.routes.get(parts.path) or site.default
            if route is None:
                self.send_error(404)
                return
            status, headers, body = route(parse_qs(parts.query))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def sites() -> Iterator[dict[str, EngineSite]]:
    specs = {
        "phpbb": EngineSite({"/search.php": phpbb_results}, default=real(PHPBB)),
        "xenforo": EngineSite(
            {"/search/search": xenforo_search, "/search/4711/": xenforo_results}, default=real(XENFORO)
        ),
        "vbulletin": EngineSite({"/search.php": vbulletin_results}, default=real(VBULLETIN)),
        "discourse": EngineSite({"/search.json": discourse_results}, default=real(DISCOURSE)),
        "smf": EngineSite({}, default=real(SMF)),
        "robots": EngineSite({"/robots.txt": robots_no_search, "/search.php": phpbb_results}, default=real(PHPBB)),
        "blog": EngineSite({}, default=real(BLOG)),
    }
    with ExitStack() as stack:
        yield {name: stack.enter_context(serve(site)) for name, site in specs.items()}


@pytest.fixture(scope="module")
def configured(sites) -> list[Source]:
    """A sources file's forums (a board page on the phpBB, front pages elsewhere), a subreddit and a blog."""
    return [
        Source(kind="forum", url=f"{sites['phpbb'].url}/viewforum.php?f=2", every="2h", max_pages=30),
        Source(kind="forum", url=f"{sites['xenforo'].url}/"),
        Source(kind="forum", url=f"{sites['vbulletin'].url}/forum.php"),
        Source(kind="forum", url=f"{sites['discourse'].url}/"),
        Source(kind="forum", url=f"{sites['smf'].url}/index.php"),
        Source(kind="forum", url=f"{sites['robots'].url}/"),
        Source(kind="forum", url=f"{sites['blog'].url}/"),
        Source(kind="forum", url=f"http://127.0.0.1:{closed_port()}/"),
        Source(kind="subreddit", url="https://www.reddit.com/r/Banking/", cron="0 */4 * * *"),
        Source(kind="blog", url=f"{sites['blog'].url}/feed/"),
    ]


@pytest.fixture(scope="module")
def found(configured):
    return discover("ozon", configured, CompanyResolver.default())


def test_engines_recognised_from_real_pages():
    engines = {
        name: detect_engine((SHARED_PAGES / name).read_text(encoding="utf-8", errors="replace"))
        for name in (PHPBB, XENFORO, VBULLETIN, DISCOURSE, SMF, BLOG)
    }
    assert engines == {
        PHPBB: "phpbb",
        XENFORO: "xenforo",
        VBULLETIN: "vbulletin",
        DISCOURSE: "discourse",
        SMF: "smf",
        BLOG: None,
    }


def test_search_terms_are_the_aliases_worth_searching():
    resolver = CompanyResolver.default()
    # OZON/Ozon are one spelling; ozon.ru and Озон.ру are domains (the name finds them)
    assert search_terms("ozon", resolver) == ["OZON", "Озон"]
    # "WB" and "ВБ" are too short for forum search engines
    wb = search_terms("wildberries", resolver)
    assert "WB" not in wb and "ВБ" not in wb and wb[0] == "Wildberries" and "Вайлдберриз" in wb
    with pytest.raises(KeyError, match="unknown company 'no-such-co'"):
        search_terms("no-such-co", resolver)


def test_discovered_urls_per_engine(sites, found):
    urls = {s.url for s in found.added}
    ru = "%D0%9E%D0%B7%D0%BE%D0%BD"  # Озон
    php, xf, vb, dc = (sites[k].url for k in ("phpbb", "xenforo", "vbulletin", "discourse"))
    assert urls == {
        # phpBB: the quick-search form's action (./search.php?sid=...) without the session id
        f"{php}/search.php?keywords=OZON&terms=all&sr=topics&sf=all&sk=t&sd=d",
        f"{php}/search.php?keywords={ru}&terms=all&sr=topics&sf=all&sk=t&sd=d",
        # XenForo 2: the quick-search form's action, by GET
        f"{xf}/search/search?keywords=OZON&order=date",
        f"{xf}/search/search?keywords={ru}&order=date",
        # vBulletin 4: its search link points at the live site (pocketpc.ch): the engine's own path here instead
        f"{vb}/search.php?do=process&query=OZON&titleonly=0&showposts=0&sortby=dateline&order=descending",
        f"{vb}/search.php?do=process&query={ru}&titleonly=0&showposts=0&sortby=dateline&order=descending",
        f"{dc}/search.json?q=OZON%20order%3Alatest",
        f"{dc}/search.json?q={ru}%20order%3Alatest",
        "https://www.reddit.com/r/Banking/search.json?q=OZON&restrict_sr=1&sort=new",
        f"https://www.reddit.com/r/Banking/search.json?q={ru}&restrict_sr=1&sort=new",
    }
    hosts = {urlsplit(s.url).netloc: s for s in found.added}
    assert found.engines == {
        urlsplit(php).netloc: "phpbb",
        urlsplit(xf).netloc: "xenforo",
        urlsplit(vb).netloc: "vbulletin",
        urlsplit(dc).netloc: "discourse",
        urlsplit(sites["smf"].url).netloc: "smf",
        urlsplit(sites["robots"].url).netloc: "phpbb",
        "www.reddit.com": "reddit",
    }
    # each entry is crawled like the site it searches: its schedule and limits, the company, where it came from
    phpbb_entry = hosts[urlsplit(php).netloc]
    assert (phpbb_entry.kind, phpbb_entry.every, phpbb_entry.max_pages, phpbb_entry.company) == (
        "forum",
        "2h",
        30,
        "ozon",
    )
    assert phpbb_entry.discovered_from == f"{php}/viewforum.php?f=2"
    reddit = hosts["www.reddit.com"]
    assert (reddit.kind, reddit.cron, reddit.every, reddit.max_pages) == ("subreddit", "0 */4 * * *", None, 50)


def test_skipped_sites_say_why(sites, found):
    why = {s.url: s.reason for s in found.skipped}
    assert (
        "SMF" in why[f"{sites['smf'].url}/index.php"]
        and "posts to action=search2" in why[f"{sites['smf'].url}/index.php"]
    )
    robots = [s.reason for s in found.skipped if s.url == f"{sites['robots'].url}/"]
    assert robots == [
        "robots.txt disallows /search.php (search for 'OZON')",
        "robots.txt disallows /search.php (search for 'Озон')",
    ]
    assert why[f"{sites['blog'].url}/"] == "forum engine not recognised"
    refused = next(r for u, r in why.items() if u.startswith("http://127.0.0.1:") and "cannot fetch" in r)
    assert "refused" in refused.lower()
    # the robots-blocked site was asked for robots.txt, never for a search
    assert "/robots.txt" in sites["robots"].requested and not any("search" in p for p in sites["robots"].requested)
    # blogs and feeds are not searched
    assert not any(s.url.startswith(f"{sites['blog'].url}/feed") for s in found.skipped)


def test_append_keeps_the_file_and_skips_what_is_listed(tmp_path, configured, found):
    path = tmp_path / "sources.toml"
    path.write_text(
        '# our sources\n[defaults]\nevery = "6h"\n\n'
        + "".join(f'[[source]]  # {i}\nkind = "{s.kind}"\nurl = "{s.url}"\n\n' for i, s in enumerate(configured[:2]))
    )
    added = append_sources(path, found.added, comment="discovered for ozon")
    assert len(added) == len(found.added) == 10
    text = path.read_text()
    assert text.startswith("# our sources\n") and "# discovered for ozon" in text
    loaded = load_sources(path)
    assert [s.url for s in loaded[2:]] == [s.url for s in found.added]
    assert all(s.company == "ozon" for s in loaded[2:])
    # a [defaults] interval does not change a discovered entry's own schedule
    assert loaded[2].every == "2h"
    # again: nothing new, file unchanged; discovery over the grown file finds nothing new either
    assert append_sources(path, found.added) == [] and path.read_text() == text
    again = discover("ozon", loaded, CompanyResolver.default(), only_sites={urlsplit(configured[0].url).netloc})
    assert again.added == []


def test_cli_discover_writes_the_sources_file(tmp_path, sites, capsys):
    from complaintwatch.cli import main

    path = tmp_path / "sources.toml"
    path.write_text(f'[[source]]\nkind = "forum"\nurl = "{sites["xenforo"].url}/"\n')
    assert main(["sources", "discover", "ozon", "--sources", str(path), "--dry-run"]) == 0
    assert "would add" in capsys.readouterr().out and len(load_sources(path)) == 1
    assert main(["sources", "discover", "ozon", "--sources", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{urlsplit(sites['xenforo'].url).netloc}: xenforo" in out and "2 search URLs added" in out
    assert [s.url.split("?")[1] for s in load_sources(path)[1:]] == [
        "keywords=OZON&order=date",
        "keywords=%D0%9E%D0%B7%D0%BE%D0%BD&order=date",
    ]
    assert main(["sources", "discover", "no-such-co", "--sources", str(path)]) == 2
    assert "unknown company 'no-such-co'" in capsys.readouterr().err


@pytest.mark.slow
def test_crawling_discovered_search_urls_yields_the_threads(sites, found):
    """The forum spider reads a search page as links to threads, never as posts:
    phpBB (topics and posts views), XenForo (via its redirect), vBulletin,
    Discourse's search.json."""
    php = sites["phpbb"].url
    starts = [s.url for s in found.added if "OZON" in s.url and "reddit" not in s.url]
    starts.append(f"{php}/search.php?keywords=OZON&sr=posts")
    result = crawl(ForumSpider, starts)
    assert result.warnings("parse failed") == []
    by_thread: dict[str, list] = {}
    for item in result.items:
        by_thread.setdefault(item.thread_url, []).append(item)
    assert not [i for i in result.items if "search" in i.url or "search" in (i.thread_url or "")]
    # phpBB: the one post of the real thread, reached from both views (two thread URLs)
    php_items = [i for i in result.items if i.url.startswith(php)]
    assert sorted(i.url for i in php_items) == [f"{php}/viewtopic.php?f=2&t=167", f"{php}/viewtopic.php?t=167"]
    assert {(i.title, i.author) for i in php_items} == {("Was ist Freie Software", "r23")}
    xf = by_thread[f"{sites['xenforo'].url}{XF_THREAD}"]
    assert len(xf) == 18 and xf[0].author == "Pepemaus"
    dc = by_thread[f"{sites['discourse'].url}{DISCOURSE_TOPIC}"]
    assert [p.author for p in dc] == ["techAPJ", "codinghorror"]
    vb = [i for i in result.items if "Vorbereitungsupdate" in (i.title or "")]
    assert len(vb) == 20
    assert any(re.match(r"/search/4711/\?q=OZON", p) for p in sites["xenforo"].requested)


def test_admin_page_watch_company(tmp_path, sites):
    """The /admin/sources form queues "watch company X"; the scheduler's next
    run discovers the search URLs, appends them to the file, and the page shows them."""
    from complaintwatch.scheduler import RunConfig, Runner
    from indexer.store import open_store
    from web import create_app

    path = tmp_path / "sources.toml"
    path.write_text(
        f'[[source]]\nkind = "forum"\nurl = "{sites["phpbb"].url}/"\nevery = "1d"\n\n'
        f'[[source]]\nkind = "forum"\nurl = "{sites["smf"].url}/"\nevery = "1d"\n'
    )
    with open_store(tmp_path / "s.db") as store:
        client = create_app(store, None, {"SOURCES_FILE": str(path)}).test_client()
        page = client.get("/admin/sources").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        assert '<option value="ozon">OZON</option>' in page
        r = client.post("/admin/sources/discover", data={"company": "ozon", "csrf_token": token})
        assert r.status_code == 303
        queued = client.get("/admin/sources").get_data(as_text=True)
        assert "Queued" in queued and "ozon</strong>: queued" in queued
        assert client.post("/admin/sources/discover", data={"company": "ozon"}).status_code == 403  # no CSRF token
        unknown = client.post("/admin/sources/discover", data={"company": "nope", "csrf_token": token})
        assert unknown.status_code == 400 and "Unknown company" in unknown.get_data(as_text=True)
        assert [s.url for s in load_sources(path)] == [f"{sites['phpbb'].url}/", f"{sites['smf'].url}/"]  # not yet

        runner = Runner(store, RunConfig(store_url=str(tmp_path / "s.db"), sources_file=path))
        assert runner.watches() == 1
        assert runner.watches() == 0  # done once
        html_out = client.get("/admin/sources").get_data(as_text=True)
    added = [s.url for s in load_sources(path)[2:]]
    assert added == [
        f"{sites['phpbb'].url}/search.php?keywords=OZON&terms=all&sr=topics&sf=all&sk=t&sd=d",
        f"{sites['phpbb'].url}/search.php?keywords=%D0%9E%D0%B7%D0%BE%D0%BD&terms=all&sr=topics&sf=all&sk=t&sd=d",
    ]
    assert "ozon</strong>: done" in html_out
    listed = re.findall(r"<li>([^<]+)</li>", html_out.split('class="discovered"')[1].split("</ul>")[0])
    assert [u.replace("&amp;", "&") for u in listed] == added
    assert "SMF" in html_out.split('class="discovery-skipped"')[1]
