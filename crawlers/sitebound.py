"""Posts are stored only under the site being crawled, and only under web URLs.

A page is evidence about its own site, never about another: a feed <link>, a
forum's <link rel="start">, a canonical or a comment permalink that points at
another host must not plant (or overwrite) posts under that host's URLs, and a
``javascript:``/``data:``/``vbscript:`` link is neither stored nor followed.

Two layers, both built on the rules here:

* ``BaseSpider.own_link`` (crawlers/spiders/base.py) checks a link where a
  spider picks a post's URL (permalinks, rel=start), so a foreign or script
  link is logged and the spider falls back to the URL it fetched. Script
  URLs are refused always; foreign hosts when the crawl is site-bound, i.e.
  runs with the middleware below (``is_site_bound``).
* ``SiteBoundMiddleware`` (a spider middleware, so it sees the response that
  produced every item) is the backstop for every spider: an item whose
  ``url``/``thread_url``/``parent_url`` is not a web URL on the crawled site
  is dropped with a WARNING naming both URLs and counted in the crawl stats
  (``complaintwatch/foreign_url_skipped``, ``complaintwatch/unsafe_url_skipped``);
  a request for a non-web URL is dropped and counted
  (``complaintwatch/unsafe_link_skipped``).

"The crawled site" is the host of the response that produced the item, equal
up to a leading ``www.`` and default ports (``site_of``); a spider may add an
explicit allow-list: ``-a domains=a.com,b.com`` (the domains the crawl may
also follow) and, for platform spiders whose URLs are built from an API
(Reddit), the class's ``home_domains``. Allow-list entries match the domain
and its subdomains, like Scrapy's ``allowed_domains``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy.http import Request, Response

from complaintwatch.models import site_of

from .items import PostItem

log = logging.getLogger(__name__)

WEB_SCHEMES = frozenset({"http", "https"})
SCRIPT_SCHEMES = frozenset({"javascript", "data", "vbscript"})
URL_FIELDS = ("url", "thread_url", "parent_url")

# What browsers ignore when they read a URL (WHATWG URL parser): ASCII tab and
# newline anywhere, C0 controls and spaces at either end. "\x01 JaVa\nScript:"
# is a javascript: URL to a browser, so it is one here too.
_TAB_NEWLINE = re.compile("[\t\n\r]")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def scheme_of(url: str | None) -> str:
    """The URL's scheme as a browser reads it, lower-case; "" when relative."""
    cleaned = _TAB_NEWLINE.sub("", url or "").strip(_C0_OR_SPACE)
    m = _SCHEME.match(cleaned)
    return m[1].lower() if m else ""


def is_script_url(url: str | None) -> bool:
    """A javascript:, data: or vbscript: URL (any case, any leading junk)."""
    return scheme_of(url) in SCRIPT_SCHEMES


def site_key(url: str | None) -> str | None:
    """``site_of`` (host[:port], no www., default port dropped) of a web URL,
    else None (other schemes, no host, a port that is not a number)."""
    if not url or scheme_of(url) not in WEB_SCHEMES:
        return None
    try:
        return site_of(url) or None
    except ValueError:  # "http://host:99999/" and other unparseable netlocs
        return None


def normalize_domains(domains: Iterable[str]) -> tuple[str, ...]:
    """Allow-list entries as bare lower-case hosts: "https://www.A.com/x" -> "a.com"."""
    out: list[str] = []
    for d in domains:
        d = d.strip().lower()
        if "//" in d:
            d = (site_key(d) or "").split(":")[0]
        d = d.split("/")[0].split(":")[0].removeprefix("www.").strip(".")
        if d and d not in out:
            out.append(d)
    return tuple(out)


def url_problem(url: str | None, page_url: str, allow: Iterable[str] = ()) -> str | None:
    """Why `url` must not be stored by a crawl of `page_url`, or None when it may.

    "unsafe" for a script URL (javascript:, data:, vbscript:), "not a web URL"
    for any other non-http(s) or host-less URL, "foreign" for a web URL on
    another site than `page_url`'s that is not on the allow-list."""
    if is_script_url(url):
        return "unsafe"
    key = site_key(url)
    if key is None:
        return "not a web URL"
    if key == site_key(page_url):
        return None
    host = key.split(":")[0]
    if any(host == d or host.endswith("." + d) for d in allow):
        return None
    return "foreign"


def spider_allow_list(spider: Any) -> tuple[str, ...]:
    return tuple(getattr(spider, "store_domains", ()) or ())


MIDDLEWARE = "crawlers.sitebound.SiteBoundMiddleware"


def is_site_bound(settings: Any) -> bool:
    """True when the crawl runs with SiteBoundMiddleware enabled (the project
    settings do). The spiders' own host checks follow the same switch, so a
    crawl without it (the spider tests, which serve saved pages of real sites
    on 127.0.0.1 like a mirror) reads pages exactly as before."""
    if settings is None:
        return False
    for key, order in settings.getwithbase("SPIDER_MIDDLEWARES").items():
        if order is not None and (key == MIDDLEWARE or key is SiteBoundMiddleware):
            return True
    return False


class SiteBoundMiddleware:
    """Spider middleware: every item is stored under the crawled site only,
    and no request leaves for a non-web URL. See the module docstring."""

    def __init__(self, crawler: Any = None) -> None:
        self.crawler = crawler
        self.stats = getattr(crawler, "stats", None)

    @classmethod
    def from_crawler(cls, crawler: Any) -> SiteBoundMiddleware:
        return cls(crawler)

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"complaintwatch/{key}")

    def check(self, obj: Any, response: Response, spider: Any = None) -> Any | None:
        """`obj` when it may go on (an author that is a script URL is blanked),
        None when it is dropped (logged and counted)."""
        if isinstance(obj, Request):
            scheme = scheme_of(obj.url)
            if scheme not in WEB_SCHEMES:
                log.info("not following %s link %s from %s", scheme or "relative", obj.url[:200], response.url)
                self._inc("unsafe_link_skipped")
                return None
            return obj
        if not isinstance(obj, PostItem):
            return obj
        allow = spider_allow_list(spider or getattr(self.crawler, "spider", None))
        for field in URL_FIELDS:
            value = getattr(obj, field)
            if field != "url" and value is None:
                continue  # a root post has no parent, a lone post may have no thread
            problem = url_problem(value, response.url, allow)
            if problem is None:
                continue
            if problem == "foreign":
                log.warning(
                    "post not stored: its %s %s is on another site than the crawled page %s",
                    field,
                    value,
                    response.url,
                )
                self._inc("foreign_url_skipped")
            else:
                log.warning(
                    "post not stored: its %s %r is %s (from %s)", field, (value or "")[:200], problem, response.url
                )
                self._inc("unsafe_url_skipped")
            return None
        if obj.author and is_script_url(obj.author):
            log.info("script URL as author name dropped at %s", obj.url)
            obj.author = None
        return obj

    def process_spider_output(self, response: Response, result: Iterable[Any], spider: Any = None) -> Iterable[Any]:
        for obj in result:
            checked = self.check(obj, response, spider)
            if checked is not None:
                yield checked

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Any = None
    ) -> AsyncIterator[Any]:
        async for obj in result:
            checked = self.check(obj, response, spider)
            if checked is not None:
                yield checked
