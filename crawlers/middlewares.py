"""Middlewares that keep a crawl safe and bounded.

* the takedown list is never fetched; a page over DOWNLOAD_MAXSIZE is a
  logged skip, not an error;
* every skip is logged at INFO or above and counted in the stats (robots.txt,
  redirect loops and too many redirects, failed downloads), which Scrapy
  itself only logs at DEBUG;
* Retry-After on 429/503 is honoured, up to a cap;
* bounds: a page budget per site and a depth limit plus loop detection for
  "next page" chains, each stop logged at WARNING and counted.

``crawlers.progress.summary_lines`` turns the counts into the crawl summary.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.response import response_status_message
from twisted.internet.defer import CancelledError
from twisted.internet.task import deferLater
from w3lib.url import canonicalize_url

try:
    from scrapy.exceptions import DownloadCancelledError
except ImportError:  # older Scrapy cancels the download's Deferred instead
    DownloadCancelledError = CancelledError  # type: ignore[misc, assignment]  # the older Scrapy's stand-in

from indexer.store import open_store
from indexer.store.base import is_taken_down

log = logging.getLogger(__name__)


class TakedownMiddleware:
    """Refuse every request for a URL on the store's takedown list
    (`complaintwatch takedown add URL`), read once when the spider opens.
    StorePipeline drops posts of listed URLs that arrive another way (a
    full-content feed entry, a listing page)."""

    def __init__(self, store_url: str, stats=None):
        self.store_url = store_url
        self.stats = stats
        self.listed: frozenset[str] = frozenset()

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler.settings.get("COMPLAINTWATCH_STORE"), crawler.stats)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    def spider_opened(self, spider=None):
        with open_store(self.store_url) as store:
            self.listed = frozenset(store.takedowns())
        if self.listed:
            log.info("%d taken-down URLs will not be crawled", len(self.listed))

    def process_request(self, request, spider=None):
        if is_taken_down(request.url, self.listed):
            log.info("skipped taken-down URL %s", request.url)
            if self.stats is not None:
                self.stats.inc_value("complaintwatch/taken_down_skipped")
                self.stats.inc_value("complaintwatch/skipped/taken_down")  # pages only (the other counts posts too)
            raise IgnoreRequest(f"taken down: {request.url}")
        return None


class SkipOversizeMiddleware:
    """A download Scrapy cancelled (over DOWNLOAD_MAXSIZE: it logged the size
    already) becomes one warning and a stat instead of an error with a
    traceback; the crawl goes on."""

    def __init__(self, stats=None, maxsize: int = 0):
        self.stats = stats
        self.maxsize = maxsize

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats, crawler.settings.getint("DOWNLOAD_MAXSIZE"))

    def process_exception(self, request, exception, spider=None):
        if isinstance(exception, (DownloadCancelledError, CancelledError)):
            log.warning("skipped %s: download cancelled (over DOWNLOAD_MAXSIZE=%d bytes)", request.url, self.maxsize)
            if self.stats is not None:
                self.stats.inc_value("complaintwatch/too_large_skipped")
            raise IgnoreRequest(f"too large: {request.url}")
        return None


# --- skips that Scrapy only logs at DEBUG ------------------------------------


def _inc(stats, key: str, count: int = 1) -> None:
    if stats is not None:
        stats.inc_value(key, count)


class LoggedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with the skip logged at INFO (Scrapy:
    DEBUG). The count stays Scrapy's ``robotstxt/forbidden``."""

    def process_request_2(self, rp, request: Request, *args: Any) -> None:
        try:
            super().process_request_2(rp, request, *args)  # older Scrapy passes the spider too
        except IgnoreRequest:
            log.info("skipped %s: forbidden by robots.txt", request.url)
            raise


class LoggedRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirect middleware, plus: a redirect chain that comes back to
    a URL it already went through is a redirect loop, skipped at once (not
    after REDIRECT_MAX_TIMES hops, and not silently by the duplicate filter);
    a start URL, which the duplicate filter never stops, may come back once
    (sites that redirect to the same URL after setting a cookie). Both skips,
    loop and too many redirects, are logged at INFO and counted."""

    @classmethod
    def from_crawler(cls, crawler):
        mw = super().from_crawler(crawler)
        mw.crawler = crawler
        return mw

    def _redirect(self, redirected: Request, request: Request, *args: Any) -> Request:
        """(redirected, request, reason); older Scrapy: (redirected, request, spider, reason)."""
        chain = [*request.meta.get("redirect_urls", []), request.url]
        seen = [canonicalize_url(u) for u in chain]
        if seen.count(canonicalize_url(redirected.url)) >= (2 if request.dont_filter else 1):
            log.info("skipped %s: redirect loop (%s)", chain[0], " -> ".join([*chain, redirected.url]))
            _inc(self.crawler.stats, "complaintwatch/skipped/redirect_loop")
            raise IgnoreRequest(f"redirect loop: {chain[0]}")
        try:
            return super()._redirect(redirected, request, *args)
        except IgnoreRequest:
            log.info("skipped %s: too many redirects (more than %d)", chain[0], self.max_redirect_times)
            _inc(self.crawler.stats, "complaintwatch/skipped/too_many_redirects")
            raise


class FailedDownloadMiddleware:
    """Outermost downloader middleware: an exception that got past every other
    one (retries exhausted, or not retryable) is a failed download: one
    WARNING line and a count. IgnoreRequest is not a failure: whoever raised
    it logged and counted its skip."""

    def __init__(self, stats=None):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_exception(self, request, exception, spider=None):
        if not isinstance(exception, IgnoreRequest):
            log.warning("skipped %s: download failed (%s: %s)", request.url, type(exception).__name__, exception)
            _inc(self.stats, "complaintwatch/skipped/download_failed")
        return None


# --- Retry-After -------------------------------------------------------------

_NOT_BEFORE = "cw_not_before"  # request.meta: epoch seconds before which a retry is not sent


def retry_after_seconds(value: bytes | str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 10.2.3): a number
    of seconds or an HTTP-date (a date in the past is 0). None if absent or
    unreadable."""
    if not value:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 850/asctime forms are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, honouring Retry-After on 429 and 503.

    The retry of a 429/503 that carries Retry-After (seconds or HTTP-date) is
    not sent before that time (logged at INFO, counted in
    ``complaintwatch/retry_after_waits``). Retry-After longer than
    COMPLAINTWATCH_RETRY_AFTER_MAX seconds: we do not wait that long and do
    not retry earlier than the server allows either, so the URL is given up:
    a WARNING and a count (``complaintwatch/skipped/retry_after_too_long``).
    Without the header (or unreadable) retries are Scrapy's.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.cap = settings.getfloat("COMPLAINTWATCH_RETRY_AFTER_MAX", 120.0)

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler.settings)
        mw.crawler = crawler
        return mw

    def _retry_request(self, request: Request, reason: str) -> Request | None:
        spider = self.crawler.spider
        assert spider is not None  # retries are asked for while a spider crawls
        return get_retry_request(
            request,
            spider=spider,
            reason=reason,
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
        )

    async def process_request(self, request: Request, spider=None) -> None:
        wait = request.meta.get(_NOT_BEFORE, 0.0) - time.time()
        if wait > 0:
            from twisted.internet import reactor

            await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
        return None

    def process_response(self, request: Request, response: Response, spider=None) -> Request | Response:
        status = response.status
        if status in (429, 503) and status in self.retry_http_codes and not request.meta.get("dont_retry"):
            delay = retry_after_seconds(response.headers.get(b"Retry-After"), time.time())
            if delay is not None:
                stats = self.crawler.stats
                if delay > self.cap:
                    log.warning(
                        "skipped %s: HTTP %d with Retry-After %.0f s, over COMPLAINTWATCH_RETRY_AFTER_MAX=%.0f s",
                        request.url,
                        status,
                        delay,
                        self.cap,
                    )
                    _inc(stats, "complaintwatch/skipped/retry_after_too_long")
                    raise IgnoreRequest(f"Retry-After {delay:.0f} s over the cap: {request.url}")
                retry = self._retry_request(request, response_status_message(status))
                if retry is None:
                    return response  # retries exhausted (logged by Scrapy); HttpErrorMiddleware counts it
                retry.meta[_NOT_BEFORE] = time.time() + delay
                log.info("HTTP %d for %s: retrying in %.0f s as its Retry-After asks", status, request.url, delay)
                _inc(stats, "complaintwatch/retry_after_waits")
                return retry
        if response.status in self.retry_http_codes and not request.meta.get("dont_retry"):
            return self._retry_request(request, response_status_message(response.status)) or response
        return response


# --- crawl bounds ------------------------------------------------------------

# request.meta flag a spider sets on a "next page" request (a listing, board or
# thread page's continuation): PaginationBoundsMiddleware follows chains of them.
PAGINATION = "cw_pagination"
_CHAIN = "cw_chain"  # request.meta: (URL of the chain's first page, next pages followed since it)


class BoundReached(IgnoreRequest):
    """Not fetched because a crawl bound was reached. A --jobdir crawl keeps
    such requests pending, so a rerun (with a larger bound) fetches them."""


def site_of_request(url: str) -> str:
    return (urlsplit(url).netloc or "").lower()


class PageBudgetMiddleware:
    """At most COMPLAINTWATCH_MAX_PAGES_PER_SITE (``--max-pages``) pages per
    site (host:port) per crawl; 0 turns it off. Every request that reaches the
    downloader counts (cached, redirected included; robots.txt and retries
    do not). When a site's budget is spent: one WARNING, the count
    ``complaintwatch/bounds/page_budget`` (sites) and every further request
    to it skipped (``complaintwatch/skipped/page_budget``)."""

    def __init__(self, budget: int, stats=None):
        self.budget = budget
        self.stats = stats
        self.pages: Counter[str] = Counter()
        self.stopped: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        budget = crawler.settings.getint("COMPLAINTWATCH_MAX_PAGES_PER_SITE", 0)
        if budget <= 0:
            raise NotConfigured
        return cls(budget, crawler.stats)

    def process_request(self, request: Request, spider=None) -> None:
        if request.meta.get("retry_times") or urlsplit(request.url).path == "/robots.txt":
            return None
        site = site_of_request(request.url)
        if self.pages[site] < self.budget:
            self.pages[site] += 1
            return None
        if site not in self.stopped:
            self.stopped.add(site)
            log.warning(
                "crawl of %s stopped: page budget of %d pages reached (COMPLAINTWATCH_MAX_PAGES_PER_SITE, "
                "--max-pages); the rest of that site is skipped",
                site,
                self.budget,
            )
            _inc(self.stats, "complaintwatch/bounds/page_budget")
        _inc(self.stats, "complaintwatch/skipped/page_budget")
        raise BoundReached(f"page budget reached: {request.url}")


def _content_key(obj: Any) -> str:
    if isinstance(obj, Request):
        return f"R {obj.url}"
    get = obj.get if isinstance(obj, dict) else lambda k: getattr(obj, k, None)
    url, text = get("url"), get("text")
    return f"I {url}\x00{text}" if url is not None or text is not None else f"O {obj!r}"


class PaginationBoundsMiddleware:
    """Spider middleware that bounds chains of "next page" requests (those a
    spider marks with ``meta[PAGINATION]``). A chain starts at a page reached
    some other way (start URL, sitemap, a listing's link) and grows by one per
    followed next page.

    * Depth: at most COMPLAINTWATCH_MAX_PAGINATION_DEPTH next pages per chain
      (``--max-pagination-depth``; 0 = no limit).
    * Loops: a page whose output (its posts' URLs and texts and the links it
      follows, the next link aside) is the same as an earlier page's of the
      same chain repeats content (a "next" that serves page 1 again, an
      out-of-range page number served as the last page, endless empty
      pages): its next page is not followed.

    Either stop is one WARNING line and a count (``complaintwatch/bounds/
    pagination_depth``, ``complaintwatch/bounds/content_loop``)."""

    def __init__(self, max_depth: int, detect_loops: bool = True, stats=None):
        self.max_depth = max_depth
        self.detect_loops = detect_loops
        self.stats = stats
        self.chains: dict[str, set[bytes]] = {}  # chain's first URL -> content digests of its pages (open chains)

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(
            s.getint("COMPLAINTWATCH_MAX_PAGINATION_DEPTH", 0),
            s.getbool("COMPLAINTWATCH_PAGINATION_LOOPS", True),
            crawler.stats,
        )

    async def process_spider_output(self, response: Response, result: AsyncIterator[Any], spider=None):
        request = getattr(response, "request", None)
        start, depth = (request.meta.get(_CHAIN) if request is not None else None) or (response.url, 0)
        held: list[Request] = []
        keys: list[str] = []
        async for obj in result:
            if isinstance(obj, Request) and obj.meta.get(PAGINATION):
                held.append(obj)
                continue
            keys.append(_content_key(obj))
            yield obj
        if not held:
            self.chains.pop(start, None)  # the chain ends here
            return
        digest = hashlib.blake2b("\n".join(sorted(keys)).encode("utf-8", "replace"), digest_size=12).digest()
        seen = self.chains.setdefault(start, set())
        if self.detect_loops and digest in seen:
            self.chains.pop(start, None)
            log.warning(
                "pagination of %s stopped at %s: the page repeats the content of an earlier page of the chain; "
                "its next page %s is not followed",
                start,
                response.url,
                held[0].url,
            )
            _inc(self.stats, "complaintwatch/bounds/content_loop")
            return
        seen.add(digest)
        if self.max_depth and depth >= self.max_depth:
            self.chains.pop(start, None)
            log.warning(
                "pagination of %s stopped at %s: depth limit of %d next pages reached "
                "(COMPLAINTWATCH_MAX_PAGINATION_DEPTH, --max-pagination-depth); %s is not followed",
                start,
                response.url,
                self.max_depth,
                held[0].url,
            )
            _inc(self.stats, "complaintwatch/bounds/pagination_depth")
            return
        for req in held:
            req.meta[_CHAIN] = (start, depth + 1)
            yield req
