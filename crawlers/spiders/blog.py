"""Generic blog spider: feeds, sitemaps, listing pages and article pages of
the blog engines of crawlers/engines/*.toml (WordPress, Blogger, LiveJournal)
and anything with og:/JSON-LD metadata.

    scrapy crawl blog -a start_urls=https://example.com/feed,https://example.com/sitemap.xml
    scrapy crawl blog -a sites_file=blogs.txt

Feed entries that carry the full post (Atom <content>, RSS content:encoded)
become posts straight away; teaser-only entries are fetched. Comments are read
by the first engine rule that finds them (engines the page names first); when
none does, when the rule reads a comment without author or date, or when the
page does not name the engine, the generic extractor reads them too and wins
if it finds more with author and date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from parsel import Selector
from scrapy.http import Request, Response

from crawlers.engines import Engine, Query, engines_of
from crawlers.extraction.encoding import response_text
from crawlers.extraction.feeds import Feed, FeedEntry
from crawlers.extraction.rules import Record, all_values, first_node, first_value, pick_engine, resolve_date
from crawlers.extraction.text import clean_lines, language_if_plausible, node_text
from crawlers.items import PostItem
from crawlers.middlewares import PAGINATION  # marks a next-page request (crawl bounds)
from crawlers.spiders.base import BaseSpider
from crawlers.spiders.fallback import generic_items, read_thread, rules_on

BLOG_ENGINES = engines_of("blog")
# Article markup any blog may carry (hAtom, schema.org, common theme classes),
# after the engines' own selectors.
_GENERIC_BODY = [
    Query(css=q)
    for q in (".hentry .entry-content", ".entry-content", "[itemprop=articleBody]", ".post-content", "article")
]
_SINGLE_BODY = frozenset(c for e in BLOG_ENGINES for c in e.page.single)
_NEXT_PAGE = [Query(css='link[rel="next"]::attr(href)'), *(q for e in BLOG_ENGINES for q in e.page.next_page)]


def _by_detection(root: Any) -> list[Engine]:
    """The blog engines, those the page names first."""
    named = [e for e in BLOG_ENGINES if e.detected(root)]
    return named + [e for e in BLOG_ENGINES if e not in named]


def _complete(records: list[Record]) -> int:
    return sum(bool(r.author and (r.raw_date or r.shown_date)) for r in records)


class BlogSpider(BaseSpider):
    name = "blog"
    site_kind = "blog"

    # --- feeds -------------------------------------------------------------

    def parse_feed(self, response: Response, feed: Feed | None = None) -> Iterator[Any]:
        """Atom/RSS: full-content entries become posts, teasers are fetched.

        @url http://127.0.0.1:8765/feed_atom__en__daringfireball.atom
        @returns items 48 48
        @returns requests 0 0
        @scrapes url title text author published
        """
        feed = feed or self.read_feed(response)
        full_descriptions = feed is not None and _full_text_descriptions(feed)
        for entry in feed.entries if feed else ():
            if not entry.link:
                continue
            if entry.content_html.strip():
                yield from self.emit(self._feed_item(entry, entry.content_html))
            elif full_descriptions and entry.summary_html.strip():
                yield from self.emit(self._feed_item(entry, entry.summary_html))
            elif url := self.web_url(response, entry.link):
                yield Request(url, callback=self.parse)

    def _feed_item(self, entry: FeedEntry, body_html: str) -> PostItem:
        text = clean_lines(node_text(Selector(text=f"<div>{body_html}</div>")))
        languages = [entry.language.split("-")[0]] if entry.language else None
        return self.new_item(
            entry.link,
            title=entry.title,
            text=text,
            author=entry.author,
            published=self.date(entry.published, languages),
            language=language_if_plausible(entry.language, text),
            thread_url=entry.link,
        )

    # --- pages -------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Feeds, sitemaps, listing pages and articles (post + comments).

        @url http://127.0.0.1:8765/blog_wordpress__en__lemire_with_comments.html
        @returns items 6 6
        @returns requests 0 0
        @scrapes url title text author published thread_url
        """
        return super().parse(response, **kwargs)

    def parse_page(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        html = response_text(response)
        sel = Selector(text=html, base_url=response.url)
        if not rules_on(self):  # -a rules=off: the generic extractor alone
            yield from generic_items(self, response, html, sel)
            return
        engines = _by_detection(sel.root)
        links = self._listing_links(sel, response, engines)
        if len(links) > 1:
            for link in links:
                if url := self.web_url(response, link):
                    yield Request(url, callback=self.parse)
            for href in all_values(sel.root, _NEXT_PAGE):
                if url := self.web_url(response, href):
                    yield Request(url, callback=self.parse, meta={PAGINATION: True})
                    break
            return
        yield from self._article(response, html, sel, engines)

    def _listing_links(self, sel: Selector, response: Response, engines: list[Engine]) -> list[str]:
        if _SINGLE_BODY & set((sel.css("body::attr(class)").get() or "").split()):
            return []
        own = self.page_url(response)
        for listing in (listing for e in engines for listing in e.page.listing):
            hrefs = (first_value(c.root, [listing.link]) for c in sel.css(listing.container))
            links = list(dict.fromkeys(response.urljoin(h) for h in hrefs if h))
            links = [u for u in links if u.split("#")[0] != own]
            if len(links) > 1:
                return links
        return []

    def _article(self, response: Response, html: str, sel: Selector, engines: list[Engine]) -> Iterator[PostItem]:
        found = first_node(sel.root, [q for e in engines for q in e.page.article_body] + _GENERIC_BODY)
        page = self.read_article(response, html, sel, Selector(root=found[0]) if found else None)
        url, declared, languages, meta, text = page.url, page.declared, page.languages, page.meta, page.text
        author = first_value(sel.root, [q for e in engines for q in e.page.article_author]) or meta.author
        post = self.new_item(
            url,
            title=meta.title,
            text=text,
            author=author,
            published=meta.published,
            language=language_if_plausible(declared, text),
            thread_url=url,
        )
        yield from self.emit(post)
        engine, records = pick_engine(engines, sel.root)
        comments = list(self._comments(response, sel, url, engine, records, languages)) if records else []
        if not comments or self._generic_reads_more(response, html, sel, engine, records):
            # no engine rule matched the comments (or it read fewer of them whole): the generic extractor's
            yield from generic_items(
                self, response, html, sel, comments_only=True, title=post.title, article_text=post.text
            )
            return
        for comment in comments:
            comment.title = post.title  # every post of a thread carries the thread's title
            comment.language = language_if_plausible(declared, comment.text)
            yield from self.emit(comment)

    def _generic_reads_more(
        self, response: Response, html: str, sel: Selector, engine: Engine | None, records: list[Record]
    ) -> bool:
        """Cross-check: when the rule read a comment without author or date, or
        the page does not name the engine, whether the generic extractor
        finds more comments with author and date (then it is used)."""
        if engine is not None and engine.detected(sel.root) and _complete(records) == len(records):
            return False
        generic = sum(bool(p.author and p.published) for p in read_thread(self, response, html, sel).posts)
        if generic <= _complete(records):
            return False
        self.logger.info(
            "engine %s read %d comments with author and date on %s, the generic extractor %d: generic used",
            engine.name if engine else "?",
            _complete(records),
            response.url,
            generic,
        )
        self._stat("engine_rule_overridden")
        return True

    # --- comments ----------------------------------------------------------

    def _comments(
        self,
        response: Response,
        sel: Selector,
        thread_url: str,
        engine: Engine | None,
        records: list[Record],
        languages: list[str] | None,
    ) -> Iterator[PostItem]:
        """The comments an engine's rule read: permalink, else the comment's own
        #id, else its position; replies under the comment they answer."""
        canonical = self.canonical(sel)
        urls: list[str] = []
        for position, record in enumerate(records, start=1):
            url = (
                self.permalink(response, record.permalink, thread_url, canonical)
                or (f"{thread_url}#{record.anchor}" if record.anchor else None)
                or self.fallback_url(thread_url, position)
            )
            urls.append(url)
            published = resolve_date(record.raw_date, record.shown_date, lambda raw: self.date(raw, languages))
            yield self.new_item(
                url,
                text=record.text,
                author=record.author,
                published=published,
                parent_url=urls[record.parent] if record.parent is not None else thread_url,
                thread_url=thread_url,
                position=position,
                author_badge=record.badge,
            )


# How a teaser says it is one: "[…]", "…", "Read more", "Читать далее".
_TRUNCATED = re.compile(
    r"(?:\[(?:…|\.\.\.)\]|…|\.\.\.)\s*$"
    r"|(?:read more|continue reading|more|читать далее|подробнее|далее|weiterlesen|mehr)\s*[»→>.…]*\s*$",
    re.I,
)
_BLOCK_MARKUP = re.compile(r"<(?:p|br|pre|div|ul|ol|blockquote|img|table|h[1-6])\b", re.I)


def _full_text_descriptions(feed: Feed) -> bool:
    """Whether a feed without content:encoded/Atom content carries whole posts
    in its descriptions (RSS 2.0 allows an item "complete in itself"): none
    of them ends like a teaser, and most have paragraph markup or run long.
    Short plain summaries (news teasers, excerpts) are fetched instead."""
    described = [e.summary_html.strip() for e in feed.entries if e.summary_html.strip()]
    if not described or any(e.content_html.strip() for e in feed.entries):
        return False
    if any(_TRUNCATED.search(node_text(Selector(text=f"<div>{d}</div>"))) for d in described):
        return False
    rich = sum(bool(_BLOCK_MARKUP.search(d)) or len(d) >= 1000 for d in described)
    return rich >= 0.5 * len(described)
