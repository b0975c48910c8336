"""The generic extractor (crawlers/extraction/generic.py) as the spiders' fallback.

Engine-specific rules run first; when none matches a page, or one matches but
yields no post, the spiders hand the page to :func:`generic_items`. With the
spider argument ``-a rules=off`` (or the setting
``COMPLAINTWATCH_ENGINE_RULES = False``) the engine rules are skipped and the
generic extractor alone reads every page (``bench/extraction.py`` measures
both). A page where neither finds anything is logged as a WARNING "no posts
recognised (engine unknown)" and counted in the crawl stats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from parsel import Selector
from scrapy.http import Response

from crawlers.extraction.generic import GenericPost, GenericThread, extract_thread
from crawlers.extraction.text import declared_language, language_if_plausible
from crawlers.items import PostItem
from crawlers.progress import START_UNRECOGNISED, START_URL

if TYPE_CHECKING:
    from crawlers.spiders.base import BaseSpider

_OFF = {"off", "0", "false", "no", "none", "generic"}


def rules_on(spider: BaseSpider) -> bool:
    """False when the crawl asked for the generic extractor alone."""
    arg = getattr(spider, "rules", None)
    if arg is not None and str(arg).strip().lower() in _OFF:
        return False
    crawler = getattr(spider, "crawler", None)
    if crawler is not None and crawler.settings is not None:
        return crawler.settings.getbool("COMPLAINTWATCH_ENGINE_RULES", True)
    return True


def read_thread(spider: BaseSpider, response: Response, html: str, sel: Selector) -> GenericThread:
    declared = declared_language(sel)
    languages = [declared] if declared else None
    return extract_thread(html, response.url, languages, getattr(spider, "tz", "UTC"))


def content_key(author: str | None, date: object, text: str) -> str:
    """A #fragment from what a post says (author, date, opening words), for
    posts with no id of their own: stable across re-crawls, unlike a position."""
    key = f"{author}|{date}|{' '.join(text.split())[:200]}"
    return f"p-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:12]}"


def _post_url(spider: BaseSpider, response: Response, thread_url: str, post: GenericPost, own_page: bool) -> str:
    """A stable URL per post: the record's own id, else (for posts that are
    each their own thread, such as reviews) its link to itself on this site,
    else a hash of what it says (never its position, which shifts when a post
    is added above it)."""
    if post.anchor:
        return f"{thread_url}#{post.anchor}"
    if own_page and (link := spider.permalink(response, post.permalink, thread_url)):
        return link
    return f"{thread_url}#{content_key(post.author, post.raw_date or post.published, post.text)}"


def generic_items(
    spider: BaseSpider,
    response: Response,
    html: str,
    sel: Selector,
    *,
    comments_only: bool = False,
    title: str | None = None,
    thread: GenericThread | None = None,
    separate: bool = False,
    article_text: str | None = None,
) -> Iterator[PostItem]:
    """Every post the generic extractor finds on the page: the opening post
    (url = the page) and the rest as its replies. `comments_only` leaves out
    the opening post/article (the caller's rules already yielded it, with
    `article_text`): the extractor's article, or its first record when that
    is the same text.
    `separate`: every record is a thread of its own (reviews on a listing),
    each under its own stable URL, none under the page's URL (which shows
    another review first once a new one is added)."""
    thread = thread or read_thread(spider, response, html, sel)
    thread_url = spider.page_url(response)
    declared = declared_language(sel)
    title = thread.title if title is None else title
    posts: list[GenericPost | None] = list(thread.all_posts)
    if comments_only and not (
        posts and (thread.article is not None or _same_text(thread.all_posts[0].text, article_text))
    ):
        posts = [None, *posts]  # no article among them: every record is a comment under the caller's article
    found = 0
    for position, post in enumerate(posts):
        if post is None or (comments_only and position == 0):
            continue
        is_root = position == 0
        if separate:
            url = thread_url if len(posts) == 1 else _post_url(spider, response, thread_url, post, own_page=True)
        else:
            url = thread_url if is_root else _post_url(spider, response, thread_url, post, own_page=False)
        item = spider.new_item(
            url,
            title=title,
            text=post.text,
            author=post.author,
            published=post.published or (post.raw_date or None),
            language=language_if_plausible(declared, post.text),
            parent_url=None if is_root or separate else thread_url,
            thread_url=url if separate else thread_url,
            position=0 if separate else position,
        )
        found += 1
        yield from spider.emit(item)
    spider._stat("generic_posts", found)
    if not found and not comments_only:
        unrecognised(spider, response)


def _same_text(text: str, article: str | None) -> bool:
    """Whether a record is the article itself (the same opening words)."""
    a, b = " ".join(text.split()[:12]), " ".join((article or "").split()[:12])
    return bool(a and b) and (a.startswith(b) or b.startswith(a))


def unrecognised(spider: BaseSpider, response: Response) -> None:
    spider.logger.warning("no posts recognised (engine unknown) %s", response.url)
    spider._stat("no_posts_recognised")
    if start := response.meta.get(START_URL):
        spider._stat(START_UNRECOGNISED.removeprefix("complaintwatch/") + start)
