"""What every complaintwatch spider shares.

* Start URLs come from ``-a start_urls=u1,u2`` and/or ``-a sites_file=path``
  (one URL per line, ``#`` comments allowed). The crawl stays on the start
  URLs' hosts unless ``-a domains=a.com,b.com`` adds more.
* ``parse`` looks at what came back and dispatches: robots.txt -> its
  Sitemap: lines, sitemap/sitemap index -> every <loc>, RSS/Atom ->
  ``parse_feed``, JSON -> ``parse_json``, HTML -> ``parse_page``.
* A callback that raises is logged ("parse failed <url>: <error>") and the
  crawl goes on; posts without text are logged and skipped.
* Posts are stored only under the crawled site (crawlers/sitebound.py):
  ``own_link`` rejects, with a log line, a permalink or thread link that points
  at another host or is a javascript:/data:/vbscript: URL, so the spider falls
  back to the URL it fetched; ``-a domains=`` and ``home_domains`` are the
  explicit allow-list.

Politeness (robots.txt, AutoThrottle, user agent, cache) is configured in
crawlers/settings.py, never here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import scrapy
from parsel import Selector
from scrapy.http import Request, Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawlers.extraction.dates import parse_published
from crawlers.extraction.encoding import decode_html
from crawlers.extraction.feeds import FEED_ROOTS, SITEMAP_ROOTS, Feed, parse_feed, xml_root
from crawlers.extraction.metadata import PageMeta, page_meta
from crawlers.extraction.text import declared_language, main_text, without_title
from crawlers.items import PostItem
from crawlers.sitebound import (
    SCRIPT_SCHEMES,
    URL_FIELDS,
    WEB_SCHEMES,
    is_script_url,
    is_site_bound,
    normalize_domains,
    scheme_of,
    url_problem,
)

F = TypeVar("F", bound=Callable[..., Iterable[Any]])


@dataclass(slots=True)
class ArticlePage:
    url: str
    declared: str | None  # the page's declared language, when plausible
    languages: list[str] | None  # date-parsing hint
    meta: PageMeta
    text: str


# Session ids that forum software appends to every link (vBulletin "s",
# phpBB "sid"): they make one post look like many URLs.
_SESSION_PARAMS = re.compile(r"^(s|sid|phpsessid|sessionid|jsessionid)$", re.I)
_HEX_SESSION = re.compile(r"^[0-9a-f]{16,64}$", re.I)


def split_arg(value: str | Iterable[str] | None) -> list[str]:
    """'-a x=a,b' arrives as 'a,b'; programmatic callers may pass a list."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [v.strip() for v in items if v and v.strip()]


def read_sites_file(path: str | None) -> list[str]:
    if not path:
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def strip_session(url: str) -> str:
    """Drop session-id query params (vBulletin ``s=``, phpBB ``sid=``)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (_SESSION_PARAMS.match(k) and _HEX_SESSION.match(v))
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


def guarded(method: F) -> F:
    """Log and swallow any exception from a callback so one odd page never
    stops the crawl. Keeps the docstring, so Scrapy contracts still apply."""

    @functools.wraps(method)
    def wrapper(self: BaseSpider, response: Response, *args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from method(self, response, *args, **kwargs) or ()
        except Exception as exc:
            self.logger.warning("parse failed %s: %s", response.url, exc)
            self._stat("parse_failed")

    return wrapper  # type: ignore[return-value]


class BaseSpider(scrapy.Spider):
    # No `name`: Scrapy's spider loader lists only named classes, and this one
    # is abstract (subclasses implement parse_page).
    site_kind: ClassVar[str] = "blog"
    # Hosts a platform spider builds its post URLs on whatever served the
    # data (Reddit's API permalinks are paths on www.reddit.com).
    home_domains: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *args: Any,
        start_urls: str | list[str] | None = None,
        sites_file: str | None = None,
        domains: str | list[str] | None = None,
        tz: str = "UTC",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.start_urls = split_arg(start_urls) + read_sites_file(sites_file)
        self.tz = tz  # zone for dates the page shows without an offset (forum local time)
        hosts = {self._domain(u) for u in self.start_urls} | set(split_arg(domains))
        if hosts - {""}:
            self.allowed_domains = sorted(hosts - {""})
        # Where posts may be stored besides the crawled page's own site: only
        # what the crawl was told explicitly (crawlers/sitebound.py).
        self.store_domains = normalize_domains([*split_arg(domains), *self.home_domains])
        self._emitted: set[str] = set()
        self._bound: bool | None = None  # see _site_bound

    @staticmethod
    def _domain(url: str) -> str:
        host = urlsplit(url).hostname or ""
        return host[4:] if host.startswith("www.") else host

    # --- start -------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_urls:
            yield self.start_request(url)

    def start_request(self, url: str) -> Request:
        """Hook: Reddit turns a thread URL into its .json twin here."""
        return Request(url, callback=self.parse, dont_filter=True)

    # --- dispatch ----------------------------------------------------------

    @guarded
    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Detect what a URL returned and hand it to the matching method."""
        body = response.body
        if body[:2] == b"\x1f\x8b":  # .xml.gz sitemap served as a plain file
            limit = self.settings.getint("DOWNLOAD_MAXSIZE") if getattr(self, "crawler", None) else 0
            body = gunzip(body, max_size=limit)
        path = urlsplit(response.url).path
        if path.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(decode_html(body).text, base_url=response.url):
                if link := self.web_url(response, url):
                    yield Request(link, callback=self.parse)
            return
        root = xml_root(body)
        if root in SITEMAP_ROOTS:
            yield from self.follow_sitemap(response, body)
            return
        if root in FEED_ROOTS:
            feed = self.read_feed(response, body)
            if feed is not None:
                yield from self.parse_feed(response, feed)
                return
        if body.lstrip()[:1] in (b"{", b"["):
            yield from self.parse_json(response)
            return
        yield from self.parse_page(response, **kwargs)

    def follow_sitemap(self, response: Response, body: bytes) -> Iterator[Request]:
        sitemap = Sitemap(body)
        for entry in sitemap:
            if url := self.web_url(response, entry.get("loc")):
                yield Request(url, callback=self.parse)

    def read_feed(self, response: Response, body: bytes | None = None) -> Feed | None:
        return parse_feed(decode_html(body or response.body, self._ctype(response)).text, response.url)

    def parse_feed(self, response: Response, feed: Feed | None = None) -> Iterator[Any]:
        """Default for feeds: fetch every entry's page."""
        feed = feed or self.read_feed(response)
        for entry in feed.entries if feed else ():
            if url := self.web_url(response, entry.link):
                yield Request(url, callback=self.parse)

    def parse_json(self, response: Response) -> Iterator[Any]:
        self.logger.warning("parse failed %s: JSON not supported by spider %s", response.url, self.name)
        return iter(())

    def parse_page(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        raise NotImplementedError

    # --- helpers -----------------------------------------------------------

    @staticmethod
    def _ctype(response: Response) -> str | None:
        raw = response.headers.get(b"Content-Type")
        return raw.decode("latin-1") if raw else None

    def _stat(self, key: str, count: int = 1) -> None:
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None:
            crawler.stats.inc_value(f"complaintwatch/{key}", count)

    def page_url(self, response: Response) -> str:
        return strip_session(without_fragment(response.url))

    def _site_bound(self) -> bool:
        """Whether foreign hosts are refused here too (crawlers/sitebound.py)."""
        if self._bound is None:
            crawler = getattr(self, "crawler", None)
            self._bound = is_site_bound(crawler.settings if crawler is not None else None)
        return self._bound

    def web_url(self, response: Response, href: str | None) -> str | None:
        """`href` made absolute when it is an http(s) URL, the only links a
        spider follows. A javascript:/data:/vbscript: link is None, logged and
        counted (Scrapy would refuse some with an error that ends the page's
        callback, and download data: ones); other schemes (mailto:) are None."""
        if not href or not href.strip():
            return None
        url = urljoin(response.url, href.strip())
        scheme = scheme_of(url)
        if scheme in WEB_SCHEMES:
            return url
        if scheme in SCRIPT_SCHEMES:
            self.logger.info("not following %s link %r on %s", scheme, url[:200], response.url)
            self._stat("unsafe_link_skipped")
        return None

    def own_link(self, response: Response, href: str | None, what: str = "link") -> str | None:
        """`href` made absolute when it is a web URL on the crawled page's own
        site (or the crawl's allow-list); else None, logged with both URLs, so
        the caller falls back to a URL it fetched itself."""
        if not href or not href.strip():
            return None
        problem: str | None
        if is_script_url(href):
            problem = "unsafe"
        else:
            url = urljoin(response.url, href.strip())
            problem = url_problem(url, response.url, self.store_domains) if self._site_bound() else None
            if problem is None:
                return url
        self.logger.info("ignored %s %s %r on %s", problem, what, href.strip()[:200], response.url)
        self._stat("foreign_link_ignored" if problem == "foreign" else "unsafe_link_ignored")
        return None

    def permalink(
        self, response: Response, href: str | None, thread_url: str, canonical: str | None = None
    ) -> str | None:
        """Absolute, session-free permalink. A link into the same document
        (``#comment-5`` or the page's own canonical URL plus a fragment) is
        re-based on `thread_url`, so saved/mirrored pages stay self-consistent.
        A script URL is None; so is a link to another site, unless it is the
        page's canonical URL plus a fragment (re-based like the rest)."""
        if not href or not href.strip():
            return None
        url = strip_session(urljoin(response.url, href.strip()))
        parts = urlsplit(url)
        if parts.fragment:
            doc = without_fragment(url)
            same = {self.page_url(response), without_fragment(thread_url)}
            if canonical:
                same.add(strip_session(without_fragment(urljoin(response.url, canonical))))
            if doc in same or doc.rstrip("/") in {s.rstrip("/") for s in same}:
                return f"{without_fragment(thread_url)}#{parts.fragment}"
        return self.own_link(response, url, "permalink")

    @staticmethod
    def fallback_url(thread_url: str, position: int) -> str:
        return f"{without_fragment(thread_url)}#c{position}"

    def emit(self, item: PostItem) -> Iterator[PostItem]:
        """Yield the item unless it has no text, a javascript:/data:/vbscript:
        URL, or was already yielded."""
        if not item.text or not item.text.strip():
            self.logger.info("empty post skipped %s", item.url)
            self._stat("empty_skipped")
            return
        if bad := [f for f in URL_FIELDS if is_script_url(getattr(item, f))]:
            self.logger.warning("post skipped: script URL in %s %r", bad[0], getattr(item, bad[0])[:200])
            self._stat("unsafe_url_skipped")
            return
        if item.url in self._emitted:
            return
        self._emitted.add(item.url)
        yield item

    def date(self, raw: Any, languages: list[str] | None = None, tz: str | None = None) -> datetime | str | None:
        """Parsed aware datetime, else the raw string for the date pipeline
        to retry (PostItem.published takes either), else None. `tz`: the zone
        the page states for its times (else the crawl's -a tz=)."""
        parsed = parse_published(raw, languages=languages, default_tz=tz or self.tz)
        return parsed or (" ".join(raw.split()) if isinstance(raw, str) and raw.strip() else None)

    def new_item(self, url: str, **fields: Any) -> PostItem:
        return PostItem(url=url, site_kind=self.site_kind, **fields)

    def read_article(
        self, response: Response, html: str, sel: Selector, body: tuple[str, ...] | Selector | None
    ) -> ArticlePage:
        """What every article-like page yields before its platform specifics:
        URL, declared language, metadata and the main text (from the `body`
        element, or the first `body` selector that matches, else trafilatura's pick)."""
        url = self.page_url(response)
        declared = declared_language(sel)
        languages = [declared] if declared else None
        if body is None or isinstance(body, Selector):
            container = body
        else:
            container = next((c[0] for q in body if (c := sel.css(q))), None)
        meta = page_meta(sel, url, html, languages)
        return ArticlePage(url, declared, languages, meta, without_title(main_text(html, container, url), meta.title))

    @staticmethod
    def canonical(sel: Selector) -> str | None:
        return (
            sel.css('link[rel="canonical"]::attr(href)').get()
            or sel.css('meta[property="og:url"]::attr(content)').get()
        )
