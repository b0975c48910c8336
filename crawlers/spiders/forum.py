"""Forum thread spider: every engine of crawlers/engines/*.toml with kind
"forum" (XenForo 1/2, vBulletin 4, phpBB 3, Discourse's crawler view, Stack
Exchange Q&A...), and the generic extractor for the rest.

    scrapy crawl forum -a start_urls=https://forum.example/threads/x.123/
    scrapy crawl forum -a start_urls=https://forum.example/sitemap.xml

Every message is its own post. The thread's first message is the root
(position 0, url = thread url); replies get the forum's own post number minus
one as position when the page shows it ("#661" -> 660, so positions stay
consistent across pages), else their order on the page. Thread pagination
(rel=next) is followed; forum index pages lead to threads and sub-forums.

Which engine reads a page is the data's business (crawlers/extraction/rules.py
picks the first whose post rule finds records, engines the page names first).
When the rule reads nothing, the generic extractor does; when the rule reads a
post without author or date, or the page does not name the engine, the
generic extractor reads the page too and wins if it finds more posts with
author and date (logged, counted as complaintwatch/engine_rule_overridden).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from parsel import Selector
from scrapy.http import Request, Response

from crawlers.engines import Engine, PostRule, Query, engines_of
from crawlers.extraction.dates import page_timezone
from crawlers.extraction.encoding import loads_json, response_text
from crawlers.extraction.generic import GenericThread
from crawlers.extraction.rules import Record, all_values, has_posts, pick_engine, resolve_date, title_of, values
from crawlers.extraction.text import declared_language, language_if_plausible
from crawlers.middlewares import PAGINATION  # marks a next-page request (crawl bounds)
from crawlers.spiders.base import BaseSpider, strip_session, without_fragment
from crawlers.spiders.fallback import generic_items, read_thread, rules_on, unrecognised

FORUM_ENGINES = engines_of("forum")


def _page_queries(field: str) -> list[Query]:
    """One page-level query list over every forum engine, in engine order."""
    return [q for engine in FORUM_ENGINES for q in getattr(engine.page, field)]


# What every page may carry whatever its engine: HTML's own rel=next, and the
# generic title sources after the engine's heading.
_NEXT = [Query(css='link[rel="next"]::attr(href)'), Query(css='a[rel="next"]::attr(href)')]
_NEXT += _page_queries("next_page")
_TITLE_FALLBACK = [Query(css='meta[property="og:title"]::attr(content)'), Query(css="h1"), Query(css="title::text")]
_INDEX_LINKS = _page_queries("thread_links") + _page_queries("subforum_links")
# Search results (crawlers/discovery.py makes the search URLs): results are
# excerpts, never read as posts; each leads to its thread. Thread lists
# (phpBB sr=topics, vBulletin showposts=0) match the thread links as well.
_SEARCH_RESULT_LINKS = _page_queries("search_result_links")
_SEARCH_PATH = re.compile(r"(?:^|/)search(?:\.php|/|$)")
_PAGE_SUFFIX = re.compile(r"/page-\d+/?$")
_PAGE_PARAMS = frozenset({"page", "start"})


def _thread_title(root: Any, engine: Engine | None) -> tuple[str, list[str]]:
    """The thread's title, with its prefixes/labels ("Gelöst", "Frage") apart."""
    own = engine.page.title if engine is not None else []
    return title_of(root, [*own, *_page_queries("title"), *_TITLE_FALLBACK])


def _complete(records: list[Record]) -> int:
    """Records with an author and a date: what an engine rule read fully."""
    return sum(bool(r.author and r.raw_date) for r in records)


def _generic_complete(thread: GenericThread) -> int:
    return sum(bool(p.author and p.published) for p in thread.all_posts)


def thread_root_url(url: str) -> str:
    """Page 1 of a thread from a later page's URL (XenForo /page-3,
    Discourse ?page=3, phpBB &start=40)."""
    parts = urlsplit(url)
    path = _PAGE_SUFFIX.sub("/", parts.path)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _PAGE_PARAMS])
    return urlunsplit(parts._replace(path=path, query=query, fragment=""))


class ForumSpider(BaseSpider):
    name = "forum"
    site_kind = "forum"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Thread pages (all messages), forum indexes (follow threads), sitemaps.

        @url http://127.0.0.1:8765/forum_xenforo__de__katzen-forum_thread.html
        @returns items 18 18
        @returns requests 0 0
        @scrapes url text author published position thread_url
        """
        return super().parse(response, **kwargs)

    def parse_page(
        self, response: Response, thread_url: str | None = None, next_position: int = 0, **kwargs: Any
    ) -> Iterator[Any]:
        html = response_text(response)
        sel = Selector(text=html, base_url=response.url)
        if not rules_on(self):  # -a rules=off: the generic extractor alone
            yield from generic_items(self, response, html, sel)
            return
        if _SEARCH_PATH.search(urlsplit(response.url).path):
            yield from self._search_results(response, sel)
            return
        engine, records = pick_engine(FORUM_ENGINES, sel.root)
        if not has_posts(records):
            # No engine rule matched, or one matched and read nothing.
            yield from self._unknown_page(response, html, sel, engine, thread_url)
            return
        if thread_url is None and (thread := self._cross_check(response, html, sel, engine, records)) is not None:
            yield from generic_items(self, response, html, sel, thread=thread)
            return
        yield from self._thread_page(response, html, sel, engine, records, thread_url, next_position)

    def _unknown_page(
        self, response: Response, html: str, sel: Selector, engine: Engine | None, thread_url: str | None
    ) -> Iterator[Any]:
        """A page no engine rule reads: a thread the generic extractor finds, a
        board index (links to threads or sub-forums, followed), or nothing
        (logged as unrecognised). A stray index-like link (a forum's name
        linking home) does not hide a thread with more posts than links."""
        if engine is not None:
            self.logger.info("engine %s matched but read no post on %s: generic extractor", engine.name, response.url)
            self._stat("engine_rule_empty")
        index = list(self._follow_index(response, sel, with_next=False))
        thread = read_thread(self, response, html, sel) if thread_url is None else None
        if thread is not None and (
            (not index and (thread.posts or (thread.article and thread.article.published)))
            or len(thread.posts) > max(1, len(index))
        ):
            yield from generic_items(self, response, html, sel, thread=thread)
            return
        requests = index + list(self._follow_next(response, sel))
        if not requests:
            unrecognised(self, response)
        yield from requests

    def _cross_check(
        self, response: Response, html: str, sel: Selector, engine: Engine | None, records: list[Record]
    ) -> GenericThread | None:
        """When the engine rule read some post without an author or a date, or
        the page does not name the engine (a look-alike theme), the generic
        extractor reads the page too: its thread, when it finds more posts
        with author and date than the rule did; else None (the rule stands)."""
        every = records + [c for r in records for c in r.children]
        if engine is not None and engine.detected(sel.root) and _complete(every) == len(every):
            return None
        thread = read_thread(self, response, html, sel)
        generic, rule = _generic_complete(thread), _complete(every)
        if generic <= rule:
            return None
        self.logger.info(
            "engine %s read %d posts with author and date on %s, the generic extractor %d: generic used",
            engine.name if engine else "?",
            rule,
            response.url,
            generic,
        )
        self._stat("engine_rule_overridden")
        return thread

    def _thread_page(
        self,
        response: Response,
        html: str,
        sel: Selector,
        engine: Engine | None,
        records: list[Record],
        thread_url: str | None,
        next_position: int,
    ) -> Iterator[Any]:
        first_page = thread_url is None and not sel.css('link[rel="prev"], a[rel="prev"]')
        if thread_url is None:
            # rel=start names page 1 of the thread, unless it points off-site (own_link logs that)
            start = self.own_link(response, sel.css('link[rel="start"]::attr(href), a[rel="start"]::attr(href)').get())
            thread_url = strip_session(start) if start else thread_root_url(self.page_url(response))
        title, labels = _thread_title(sel.root, engine)
        declared = declared_language(sel)
        languages = [declared] if declared else None
        tz = page_timezone(html)  # "All times are GMT - 6 Hours": the page's own word on its times

        def date(record: Record) -> Any:
            return resolve_date(record.raw_date, record.shown_date, lambda raw: self.date(raw, languages, tz))

        rule = engine.posts if engine is not None else None
        position = next_position
        flat = 0
        for record in records:
            position = record.number - 1 if record.number else next_position + flat
            is_root = record.number == 1 or (record.number is None and first_page and flat == 0)
            url = thread_url if is_root else self._message_url(response, record, thread_url, position, rule)
            yield from self.emit(
                self.new_item(
                    url,
                    title=title,  # later pages have no root post: keep the thread's title on every message
                    labels=labels or None,
                    text=record.text,
                    author=record.author,
                    published=date(record),
                    language=language_if_plausible(declared, record.text),
                    parent_url=None if is_root else thread_url,
                    thread_url=thread_url,
                    position=0 if is_root else max(position, 1),
                    author_badge=record.badge,
                )
            )
            flat += 1
            for child in record.children:  # comments attached to this post (Stack Exchange)
                position = next_position + flat
                yield from self.emit(
                    self.new_item(
                        self._message_url(response, child, thread_url, position, None),
                        title=title,
                        labels=labels or None,
                        text=child.text,
                        author=child.author,
                        published=date(child),
                        language=language_if_plausible(declared, child.text),
                        parent_url=url,
                        thread_url=thread_url,
                        position=position,
                        author_badge=child.badge,
                    )
                )
                flat += 1
        for href in all_values(sel.root, _NEXT):
            if next_url := self.web_url(response, href):
                yield Request(
                    next_url,
                    callback=self.parse,
                    cb_kwargs={"thread_url": thread_url, "next_position": position + 1},
                    meta={PAGINATION: True},
                )
                break

    def _search_results(self, response: Response, sel: Selector) -> Iterator[Request]:
        """A forum's search results page: the threads it lists, and its next page."""
        requests = [
            Request(strip_session(url), callback=self.parse)
            for q in _SEARCH_RESULT_LINKS
            for href in dict.fromkeys(values(sel.root, q))
            if (url := self.web_url(response, href))
        ]
        requests += self._follow_index(response, sel)
        if not requests:
            self.logger.info("search results page with no results %s", response.url)
        yield from requests

    def parse_json(self, response: Response) -> Iterator[Any]:
        """Discourse search.json: follow its topics (/t/<slug>/<id>, crawler view)."""
        data = loads_json(response_text(response))
        topics = data.get("topics") if isinstance(data, dict) else None
        if not isinstance(topics, list) or not ("grouped_search_result" in data or "posts" in data):
            yield from super().parse_json(response)
            return
        base = response.url.split("search.json", 1)[0]  # a Discourse in a subfolder keeps it
        for t in topics:
            if isinstance(t, dict) and isinstance(t.get("id"), int) and isinstance(t.get("slug"), str):
                if url := self.web_url(response, urljoin(base, f"t/{t['slug'] or 'topic'}/{t['id']}")):
                    yield Request(url, callback=self.parse)

    def _message_url(
        self, response: Response, record: Record, thread_url: str, position: int, rule: PostRule | None
    ) -> str:
        """The post's permalink, else its #anchor on the thread, else the URL the
        engine builds from its number (Discourse: /t/<slug>/<id>/<number>),
        else its position in the thread."""
        if link := self.permalink(response, record.permalink, thread_url):
            return link
        if record.anchor:
            return f"{without_fragment(thread_url)}#{record.anchor}"
        if rule is not None and (built := rule.url_from_number(thread_url, record.number)):
            return built
        return self.fallback_url(thread_url, position)

    def _follow_index(self, response: Response, sel: Selector, with_next: bool = True) -> Iterator[Request]:
        for q in _INDEX_LINKS:
            for href in dict.fromkeys(values(sel.root, q)):
                if url := self.web_url(response, href):
                    yield Request(strip_session(url), callback=self.parse)
        if with_next:
            yield from self._follow_next(response, sel)

    def _follow_next(self, response: Response, sel: Selector) -> Iterator[Request]:
        for href in all_values(sel.root, _NEXT):
            if url := self.web_url(response, href):
                yield Request(strip_session(url), callback=self.parse, meta={PAGINATION: True})
                break
