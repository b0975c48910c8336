"""Spider middleware: the posts of a page carry the name their site gives itself
(crawlers/extraction/sitename.py; a feed's title for posts read from a feed), so
the web can show "Trustpilot" instead of a host. SiteNamePipeline stores it once
per host (complaintwatch/sites.py).

A host's pages are read for a name until one declares it (og:site_name,
application-name) or MAX_TRIES pages were looked at; from then on its posts get the
name found without reading the page again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from parsel import Selector

from complaintwatch.models import site_of
from complaintwatch.sites import strength

from .extraction.encoding import decode_html
from .extraction.feeds import FEED_ROOTS, parse_feed, xml_root
from .extraction.sitename import SiteName, site_name
from .extraction.text import normalize_ws
from .items import PostItem

log = logging.getLogger(__name__)

MAX_TRIES = 20  # pages of one host read for its name
_DECLARED = frozenset({"og:site_name", "application-name"})


class SiteNameMiddleware:
    def __init__(self) -> None:
        self.found: dict[str, SiteName] = {}
        self.tries: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> SiteNameMiddleware:
        return cls()

    def _read(self, response: Any, titles: list[str]) -> SiteName | None:
        body = getattr(response, "body", b"") or b""
        if not body or body.lstrip()[:1] in (b"{", b"["):  # JSON: no name in it
            return None
        raw = response.headers.get(b"Content-Type")
        text = decode_html(body, raw.decode("latin-1") if raw else None).text
        if xml_root(body) in FEED_ROOTS:
            feed = parse_feed(text, response.url)
            name = normalize_ws(feed.title if feed else "")
            return SiteName(name[:120], "feed") if name else None
        return site_name(Selector(text=text), titles)

    def _name_for(self, response: Any, item: PostItem) -> SiteName | None:
        host = site_of(response.url)
        known = self.found.get(host)
        if known is not None and known.source in _DECLARED:
            return known
        if self.tries.get(host, 0) >= MAX_TRIES:
            return known
        self.tries[host] = self.tries.get(host, 0) + 1
        try:
            name = self._read(response, [item.title] if item.title else [])
        except Exception as exc:  # a name is a nicety: never lose the page's posts over it
            log.info("site name not read from %s: %s", response.url, exc)
            name = None
        if name is not None and (known is None or strength(name.source) > strength(known.source)):
            self.found[host] = known = name  # the first name a page gives, until a stronger one
        return known

    def _tag(self, response: Any, obj: Any, state: dict) -> Any:
        if isinstance(obj, PostItem) and obj.site_name is None:
            try:
                same_site = site_of(obj.url) == site_of(response.url)
            except ValueError:
                same_site = False
            if same_site:  # a feed or listing can link posts elsewhere: they are not this site's
                if "name" not in state:
                    state["name"] = self._name_for(response, obj)
                if state["name"] is not None:
                    obj.site_name, obj.site_name_source = state["name"].name, state["name"].source
        return obj

    def process_spider_output(self, response: Any, result: Iterable[Any], spider: Any = None) -> Iterable[Any]:
        state: dict = {}  # one read per page
        for obj in result:
            yield self._tag(response, obj, state)

    async def process_spider_output_async(self, response: Any, result: AsyncIterator[Any], spider: Any = None):
        state: dict = {}
        async for obj in result:
            yield self._tag(response, obj, state)
