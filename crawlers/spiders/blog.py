"""Generic blog spider: feeds, sitemaps, listing pages and article pages of
WordPress, Blogger and LiveJournal (and anything with og:/JSON-LD metadata).

    scrapy crawl blog -a start_urls=https://example.com/feed,https://example.com/sitemap.xml
    scrapy crawl blog -a sites_file=blogs.txt

Feed entries that carry the full post (Atom <content>, RSS content:encoded)
become posts straight away; teaser-only entries are fetched. Comments are read
from WordPress (ol.comment-list) and Blogger (threaded and legacy) markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from parsel import Selector
from scrapy.http import Request, Response

from crawlers.extraction.dates import from_timestamp
from crawlers.extraction.encoding import response_text
from crawlers.extraction.feeds import Feed, FeedEntry
from crawlers.extraction.text import clean_lines, language_if_plausible, node_text
from crawlers.items import PostItem
from crawlers.middlewares import PAGINATION  # marks a next-page request (crawl bounds)
from crawlers.spiders.base import BaseSpider
from crawlers.spiders.fallback import generic_items, rules_on

# Where the article body lives, most specific platform markup first.
_BODY = (
    "article .entry-content",  # WordPress
    ".hentry .entry-content",
    ".post-body",  # Blogger
    ".b-singlepost-body",  # LiveJournal (s2 "b-singlepost" layout)
    ".entry-content",
    ".asset-body",  # LiveJournal/TypePad classic
    "[itemprop=articleBody]",
    ".post-content",
    "article",
)
# Listing pages show several post containers, each with a title linking to
# its article: (container, title link) per platform.
_LISTING = (
    ("article:not(.comment-body)", ".entry-title a::attr(href), h2 a::attr(href)"),  # WordPress
    (".post-outer", ".post-title a::attr(href)"),  # Blogger
    (".entryunit", ".entryunit__title a::attr(href)"),  # LiveJournal
)
# Single-article pages say so on <body> (WordPress "single", Blogger "item-view").
_SINGLE_BODY = {"single", "single-post", "item-view", "page-template"}
_NEXT_PAGE = (
    'link[rel="next"]::attr(href)',
    "a.next.page-numbers::attr(href)",
    ".nav-previous a::attr(href)",
    "a.blog-pager-older-link::attr(href)",
)
_LJ_USER = (
    ".b-singlepost-author [data-ljuser]::attr(data-ljuser)",
    ".entry-poster [data-ljuser]::attr(data-ljuser)",
)
_WP_COMMENTS = (
    "ol.comment-list li.comment, ol.commentlist li.comment, ul.comment-list li.comment, .comment-list li.comment"
)
# The comment's text: core's .comment-content, or the hAtom .entry-content of
# classic themes (a <blockquote> on WordPress.com).
_WP_COMMENT_TEXT = ".comment-content, .entry-content, .comment-text"
_COMMENT_CLASS = "contains(concat(' ', normalize-space(@class), ' '), ' comment ')"
_ANCESTOR_LI = f"ancestor::li[{_COMMENT_CLASS}][1]"
# A badge a theme or plugin prints beside the comment author ("Official company
# reply", "Staff", "Verified"): its text, else its title.
_WP_BADGE = (
    ".comment-author [class*=badge], .comment-meta [class*=badge], .comment-author .author-role,"
    " .comment-author .user-role"
)
# <li> classes that name a staff/official account (themes, badge plugins, and
# the comment-author-<nicename> WordPress adds for a company's own account).
_WP_STAFF_CLASS = re.compile(
    r"^(?:comment-author|role|user-role)-(official|staff|support|team|verified|representative|company|brand)$"
)


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
        links = self._listing_links(sel, response)
        if len(links) > 1:
            for link in links:
                if url := self.web_url(response, link):
                    yield Request(url, callback=self.parse)
            for q in _NEXT_PAGE:
                if url := self.web_url(response, sel.css(q).get()):
                    yield Request(url, callback=self.parse, meta={PAGINATION: True})
                    break
            return
        yield from self._article(response, html, sel)

    def _listing_links(self, sel: Selector, response: Response) -> list[str]:
        if _SINGLE_BODY & set((sel.css("body::attr(class)").get() or "").split()):
            return []
        own = self.page_url(response)
        for container, link in _LISTING:
            hrefs = (c.css(link).get() for c in sel.css(container))
            links = list(dict.fromkeys(response.urljoin(h) for h in hrefs if h))
            links = [u for u in links if u.split("#")[0] != own]
            if len(links) > 1:
                return links
        return []

    def _article(self, response: Response, html: str, sel: Selector) -> Iterator[PostItem]:
        page = self.read_article(response, html, sel, _BODY)
        url, declared, languages, meta, text = page.url, page.declared, page.languages, page.meta, page.text
        author = next((a for q in _LJ_USER if (a := sel.css(q).get())), None) or meta.author
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
        canonical = self.canonical(sel)
        comments = list(self._wordpress_comments(response, sel, url, canonical, languages))
        comments = comments or list(self._blogger_comments(sel, url, languages))
        if not comments:  # no engine rule matched the comments: the generic extractor's
            yield from generic_items(self, response, html, sel, comments_only=True, title=post.title)
        for comment in comments:
            comment.title = post.title  # every post of a thread carries the thread's title
            comment.language = language_if_plausible(declared, comment.text)
            yield from self.emit(comment)

    # --- comments ----------------------------------------------------------

    def _wordpress_comments(
        self, response: Response, sel: Selector, thread_url: str, canonical: str | None, languages: list[str] | None
    ) -> Iterator[PostItem]:
        urls: dict[str, str] = {}
        for position, li in enumerate(sel.css(_WP_COMMENTS), start=1):
            # the comment's own block; classic themes (WordPress.com) put the
            # header and text straight in the <li>, so the <li> itself (as a list)
            body = li.xpath("./article | ./div[contains(@class, 'comment-body')]") or li.xpath(".")
            href = (
                body.css(".comment-metadata > a::attr(href)").get()
                or body.css('.comment-meta a[href*="#comment"]::attr(href)').get()
            )
            anchor = li.attrib.get("id")
            url = (
                self.permalink(response, href, thread_url, canonical)
                or (f"{thread_url}#{anchor}" if anchor else None)
                or self.fallback_url(thread_url, position)
            )
            if anchor:
                urls[anchor] = url
            parent_id = li.xpath(f"{_ANCESTOR_LI}/@id").get()
            content = [c for c in body.css(_WP_COMMENT_TEXT) if _nearest_li(c) is li.root]  # not a nested reply's
            text = (
                node_text(content[0])
                if content
                else node_text(body[0], drop=".comment-meta, .comment-author, .reply, .vcard, .comment-util, ol, ul")
            )
            shown = " ".join(" ".join(body.css(".comment-metadata a ::text, .comment-meta a ::text").getall()).split())
            machine = body.css(".comment-metadata time::attr(datetime), .comment-meta time::attr(datetime)").get()
            published = self.date(machine, languages) if machine else None
            if shown and (not machine or not _has_time(machine)):  # date-only attribute: the shown time is exact
                published = _same_day(self.date(shown.rstrip(": "), languages), published) or published
                published = published or self.date(shown, languages)
            classes = li.attrib.get("class", "").split()
            yield self.new_item(
                url,
                text=clean_lines(text),
                author=" ".join(" ".join(body.css(".comment-author .fn ::text, cite.fn ::text").getall()).split())
                or None,
                published=published,
                parent_url=urls.get(parent_id or "", thread_url),
                thread_url=thread_url,
                position=position,
                author_badge=_wordpress_badge(body, classes),
            )

    def _blogger_comments(self, sel: Selector, thread_url: str, languages: list[str] | None) -> Iterator[PostItem]:
        # Threaded widget (2012+): li.comment with cite.user / .datetime / .comment-content.
        urls: dict[str, str] = {}
        items = sel.css(".comments-content li.comment, #comment-holder li.comment")
        for position, li in enumerate(items, start=1):
            cid = li.attrib.get("id", "")
            url = f"{thread_url}#{cid}" if cid else self.fallback_url(thread_url, position)
            urls[cid] = url
            block = li.xpath("./div[contains(@class, 'comment-block')]") or li
            href = block.css(".datetime a::attr(href)").get() or ""
            shown = " ".join(" ".join(block.css(".datetime a ::text").getall()).split())
            parent_id = li.xpath(f"{_ANCESTOR_LI}/@id").get()
            yield self.new_item(
                url,
                text=clean_lines(node_text(block.css(".comment-content")[0])) if block.css(".comment-content") else "",
                author=" ".join(" ".join(block.css("cite.user ::text").getall()).split()) or None,
                published=_blogger_time(href) or self.date(shown, languages),
                parent_url=urls.get(parent_id or "", thread_url),
                thread_url=thread_url,
                position=position,
                author_badge="blog author" if block.css(".icon.blog-author") else None,
            )
        if items:
            return
        # Legacy template: <dl id="comments-block"><dt class="comment-author">…<dd class="comment-body">…
        for position, dt in enumerate(sel.css("#comments-block dt.comment-author"), start=1):
            body = dt.xpath("following-sibling::dd[contains(@class, 'comment-body')][1]")
            footer = dt.xpath("following-sibling::dd[contains(@class, 'comment-footer')][1]")
            cid = dt.css("a[name]::attr(name)").get() or dt.attrib.get("id", "")
            href = footer.css("a::attr(href)").get() or ""
            shown = " ".join(" ".join(footer.css("a ::text").getall()).split())
            author = " ".join(" ".join(dt.xpath(".//a//text() | ./text()").getall()).split())
            yield self.new_item(
                f"{thread_url}#{cid}" if cid else self.fallback_url(thread_url, position),
                text=clean_lines(node_text(body[0])) if body else "",
                author=author.removesuffix("said...").strip() or None,
                published=_blogger_time(href) or self.date(shown, languages),
                parent_url=thread_url,
                thread_url=thread_url,
                position=position,
            )


def _wordpress_badge(body: Selector, classes: list[str]) -> str | None:
    """What marks a WordPress comment's author: a printed badge, a staff-like
    class, or core's "bypostauthor" (the post's own author answering; that is
    the company only on the company's own blog, which BuildPostPipeline knows
    from the site's domain)."""
    for badge in body.css(_WP_BADGE):
        label = " ".join(" ".join(badge.css("::text").getall()).split()) or badge.attrib.get("title", "").strip()
        if label:
            return label
    staff = [m.group(1) for c in classes if (m := _WP_STAFF_CLASS.match(c))]
    if staff:
        return staff[0]
    return "post author" if "bypostauthor" in classes else None


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


def _nearest_li(node: Selector) -> Any:
    """The comment <li> a node belongs to (its nearest one)."""
    found = node.xpath(_ANCESTOR_LI)
    return found[0].root if found else None


def _has_time(raw: str) -> bool:
    """Whether a machine-readable date carries a time of day ("2020-12-24" does not)."""
    return bool(re.search(r"\d[T ]\d{1,2}:\d{2}", raw))


def _same_day(shown: Any, machine: Any) -> datetime | None:
    """The shown date-and-time when it is a datetime on the machine-readable
    date's day (or there is none): it adds the time the attribute leaves out."""
    if not isinstance(shown, datetime):
        return None
    if isinstance(machine, datetime) and shown.date() != machine.date():
        return None
    return shown


def _blogger_time(href: str) -> Any:
    """Blogger comment links carry the exact time: ?showComment=<epoch ms>."""
    values = parse_qs(urlsplit(href).query).get("showComment")
    if values and values[0].isdigit():
        return from_timestamp(int(values[0]))
    return None
