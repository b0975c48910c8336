"""vc.ru-style post pages (the Osnova platform: vc.ru, dtf.ru) with comments.

    scrapy crawl vcru -a start_urls=https://vc.ru/money/123456-slug

No real vc.ru page is saved in ../shared, so the selectors follow the markup
the platform is known to render server-side and fall back to og:/JSON-LD
metadata and trafilatura for the article:

* article: ``h1.content-title``, ``.content-header-author__name``,
  ``time[datetime]`` or ``[data-date]`` (Unix seconds), body in
  ``.content--full`` / ``.content__body``;
* comments: ``.comment[data-id]`` with ``.comment__author``,
  ``.comment__date``/``time``, ``.comment__text``; nesting through
  ``.comment__children`` or ``data-reply-to``/``data-parent-id``;
  ``.comment__badge``/verified icon/``--official`` mark company accounts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector
from scrapy.http import Response

from crawlers.extraction.dates import parse_published
from crawlers.extraction.encoding import response_text
from crawlers.extraction.text import (
    clean_lines,
    css_text,
    language_if_plausible,
    node_text,
)
from crawlers.items import PostItem
from crawlers.spiders.base import BaseSpider

_TITLE = ("h1.content-title ::text", "h1.content__title ::text", "h1 ::text")
_AUTHOR = (".content-header-author__name ::text", ".content-header__author-name ::text", ".author__name ::text")
_DATE = (
    ".content-header__date time::attr(datetime)",
    ".content-header time::attr(datetime)",
    ".content-header [data-date]::attr(data-date)",
    "time.time::attr(datetime)",
)
_BODY = (".content--full", ".content__body", ".article__body", "article .content")
_COMMENT = ".comment[data-id], .comment[data-comment-id]"
_COMMENT_DROP = ".comment__children, .comment__footer, .comment__actions, .comment__header"
_OFFICIAL_MARK = ("официальн", "представитель компании", "official")
_OSNOVA_HOSTS = ("vc.ru", "dtf.ru", "tjournal.ru")


def _own(comment: Selector) -> Selector:
    """The comment without the replies nested inside it."""
    root = copy.deepcopy(comment.root)
    own = Selector(root=root, type="html")
    for nested in own.css(".comment"):
        if nested.root is not root and nested.root.getparent() is not None:
            nested.root.getparent().remove(nested.root)
    return own


def _first(sel: Selector, queries: tuple[str, ...]) -> str | None:
    return next((v for q in queries if (v := css_text(sel, q))), None)


class VcruSpider(BaseSpider):
    name = "vcru"
    site_kind = "blog"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Post page: the article and every comment (no saved vc.ru page
        exists, so no static @url contract; see tests/test_spider_vcru.py)."""
        return super().parse(response, **kwargs)

    def parse_page(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        html = response_text(response)
        sel = Selector(text=html, base_url=response.url)
        page = self.read_article(response, html, sel, _BODY)
        url, declared, languages, meta, text = page.url, page.declared, page.languages, page.meta, page.text
        shown_date = _first(sel, _DATE)
        title = _first(sel, _TITLE) or meta.title
        yield from self.emit(
            self.new_item(
                url,
                title=title,
                text=text,
                author=_first(sel, _AUTHOR) or meta.author,
                published=parse_published(shown_date, languages, default_tz=self.tz) or meta.published,
                language=language_if_plausible(declared, text),
                thread_url=url,
            )
        )
        yield from self._comments(response, sel, url, title, declared, languages)

    def _comments(
        self,
        response: Response,
        sel: Selector,
        thread_url: str,
        title: str,
        declared: str | None,
        languages: list[str] | None,
    ) -> Iterator[PostItem]:
        urls: dict[str, str] = {}
        osnova = (urlsplit(thread_url).hostname or "").removeprefix("www.") in _OSNOVA_HOSTS
        for position, node in enumerate(sel.css(_COMMENT), start=1):
            c = _own(node)
            cid = c.attrib.get("data-id") or c.attrib.get("data-comment-id") or ""
            href = c.css(
                ".comment__date::attr(href), a.comment__date::attr(href), .comment__detail a::attr(href)"
            ).get()
            if link := self.permalink(response, href, thread_url):
                url = link
            elif cid:
                url = f"{thread_url}?comment={cid}" if osnova else f"{thread_url}#comment-{cid}"
            else:
                url = self.fallback_url(thread_url, position)
            urls[cid] = url
            parent_id = c.attrib.get("data-reply-to") or c.attrib.get("data-parent-id") or ""
            if not parent_id or parent_id == "0":
                outer = node.xpath("ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' comment ')][1]")
                parent_id = (outer.attrib.get("data-id") or outer.attrib.get("data-comment-id") or "") if outer else ""
            text_node = c.css(".comment__text")
            text = clean_lines(node_text(text_node[0]) if text_node else node_text(c, drop=_COMMENT_DROP))
            badge = self._badge(c)
            raw_date = (
                c.css(".comment__date time::attr(datetime), time::attr(datetime)").get()
                or c.css("[data-date]::attr(data-date)").get()
                or css_text(c, ".comment__date ::text")
            )
            official = bool(badge and any(m in badge.lower() for m in _OFFICIAL_MARK))
            yield from self.emit(
                self.new_item(
                    url,
                    title=title,
                    text=text,
                    author=css_text(c, ".comment__author-name ::text")
                    or css_text(c, ".comment__author .author__name ::text")
                    or css_text(c, ".comment__author ::text")
                    or None,
                    published=self.date(raw_date, languages),
                    language=language_if_plausible(declared, text),
                    parent_url=urls.get(parent_id, thread_url),
                    thread_url=thread_url,
                    position=position,
                    author_badge=badge,
                    is_company_reply=True if official else None,
                )
            )

    @staticmethod
    def _badge(c: Selector) -> str | None:
        """Badge text/titles next to the comment author, plus the platform's
        verified / official marks (icons without text)."""
        parts = c.css(
            ".comment__badge ::text, .comment__author-badge ::text, .comment__badge::attr(title), "
            ".comment__author-badge::attr(title), [class*=verified]::attr(title)"
        ).getall()
        classes = " ".join(c.css(".comment__author::attr(class), .comment__author *::attr(class)").getall())
        classes += " " + c.attrib.get("class", "")
        if "verified" in classes:
            parts.append("verified")
        if "official" in classes:
            parts.append("official")
        cleaned = list(dict.fromkeys(" ".join(p.split()) for p in parts if p.strip()))
        return " / ".join(cleaned) or None
