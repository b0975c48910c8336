"""Discovery: "watch company X" -> the site-search URLs of X's aliases on the
configured sites whose engine has a search a crawler can GET.

    result = discover("ozon", load_sources(path), CompanyResolver.default())
    append_sources(path, result.added)

For each configured forum the configured page is fetched (then the site's
front page when the first says nothing) and its engine recognised from its
markup; subreddits need no fetch. The search URL shapes, from each engine's
own code and templates:

* phpBB 3: ``search.php?keywords=..&terms=all&sr=topics&sf=all&sk=t&sd=d``
  (GET form; ``sr=topics`` lists threads, newest first).
* XenForo 1/2: ``search/search?keywords=..&order=date``. The quick-search form
  posts, but the action reads the same fields from a GET (CSRF is only
  checked on POST) and redirects to ``search/<id>/?q=..``, which re-runs the
  query when the id has expired. The form's own action is used, so boards
  without friendly URLs (``index.php?search/search``) work too.
* vBulletin 3/4: ``search.php?do=process&query=..&showposts=0&sortby=dateline&order=descending``
  (threads, newest first). vBulletin 5 searches from JavaScript: skipped.
* Discourse: ``search.json?q=.. order:latest`` (the forum spider follows its
  topics).
* Reddit: ``/r/<sub>/search.json?q=..&restrict_sr=1&sort=new``.

Skipped, each with a logged reason: SMF (its search form posts to
``action=search2``; no GET form of it is documented), Invision and phpBB 2
(no engine rules in the forum spider), unrecognised engines, unreachable
sites, and search URLs the site's robots.txt disallows for our user agent.
Aliases shorter than 3 letters ("WB") and domain names (the name finds the
same threads) are not searched.
"""

from __future__ import annotations

import logging
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit

from parsel import Selector

from complaintwatch.sources import Source
from crawlers.extraction.encoding import decode_html
from crawlers.spiders.base import strip_session

if TYPE_CHECKING:
    from protego import Protego

log = logging.getLogger(__name__)

MAX_TERMS = 8  # search URLs per company and site: polite, and misspellings beyond this add little
MIN_TERM_LETTERS = 3  # forum engines ignore shorter words (phpBB's default minimum is 3)
DISCOVERED_MAX_PAGES = 50  # a search result page and the threads it lists, when the site sets no limit
FETCH_BYTES = 5 * 1024 * 1024
FETCH_TIMEOUT = 15.0
_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)+$", re.UNICODE)
SEARCHABLE_KINDS = ("forum", "subreddit")


@dataclass(slots=True)
class Page:
    url: str  # after redirects
    status: int
    text: str


@dataclass(slots=True)
class Skipped:
    url: str  # the configured source
    reason: str


@dataclass(slots=True)
class Discovery:
    company: str
    terms: list[str]
    added: list[Source] = field(default_factory=list)  # new entries for the sources file
    skipped: list[Skipped] = field(default_factory=list)
    engines: dict[str, str] = field(default_factory=dict)  # site -> engine recognised


def user_agent() -> str:
    from crawlers import settings

    return settings.USER_AGENT


def fetch(url: str, timeout: float = FETCH_TIMEOUT) -> Page:
    """GET with our user agent; HTTP errors come back as a Page with their
    status, network errors raise OSError."""
    req = urllib.request.Request(url, headers={"User-Agent": user_agent(), "Accept": "text/html,*/*"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only (Source checks)
            body = resp.read(FETCH_BYTES)
            return Page(resp.geturl(), resp.status, decode_html(body, resp.headers.get("Content-Type")).text)
    except urllib.error.HTTPError as exc:
        return Page(url, exc.code, "")


# --- engines -------------------------------------------------------------

_MARKERS: tuple[tuple[str, re.Pattern], ...] = (
    (
        "discourse",
        re.compile(r'<meta name="generator" content="Discourse|id="data-discourse-setup"|data-discourse-setup'),
    ),
    ("xenforo", re.compile(r'<html[^>]*\bid="(?:XF|XenForo)"|\bXF\.config\b|Forum software by XenForo')),
    (
        "vbulletin",
        re.compile(r'id="vbulletin_html"|<meta name="generator" content="vBulletin|vBulletin_init|var SESSIONURL'),
    ),
    # phpBB 3: prosilver's body id, or the 3.1+ footer ("phpBB Limited"); 3.0's "phpBB Group" is phpBB 2's too
    ("phpbb", re.compile(r'<body[^>]*\bid="phpbb"|Forum Software &copy; phpBB Limited|phpBB Limited')),
    ("phpbb2", re.compile(r"Powered by[^<]{0,40}<a[^>]*phpbb\.com|Powered by phpBB|PNphpBB2", re.I)),
    ("smf", re.compile(r"\bsmf_scripturl\b|Simple Machines Forum")),
    ("invision", re.compile(r"\bipsSettings\b|Invision Community|Invision Power Board|ipb\.vars")),
)
_VB_VERSION = re.compile(r'<meta name="generator" content="vBulletin (\d+)')

# engines a crawler cannot search by GET (or our spiders cannot read): why
UNSEARCHABLE = {
    "smf": "SMF's search form posts to action=search2 and no GET form of it is documented: not searched",
    "invision": "Invision: the forum spider has no rules for its pages: not searched",
    "phpbb2": "phpBB 2 (often inside a portal that moves search.php): not searched",
}


def detect_engine(html: str) -> str | None:
    """The forum engine that rendered a page, from markup every page of it
    carries; None when unknown."""
    for name, pattern in _MARKERS:
        if pattern.search(html):
            if name == "vbulletin" and (m := _VB_VERSION.search(html)) and int(m[1]) >= 5:
                return "vbulletin5"
            return name
    return None


def _same_site(a: str, b: str) -> bool:
    return urlsplit(a).netloc.lower() == urlsplit(b).netloc.lower()


def _action(sel: Selector, page_url: str, query: str, default: str) -> str:
    """The engine's search address from the page's own form or link (a form
    on another host, e.g. a site-wide Google box, is not the forum's);
    else `default` relative to the page."""
    for href in sel.css(query).getall():
        url = strip_session(urljoin(page_url, href.strip()))
        if _same_site(url, page_url):
            return url
    return urljoin(page_url, default)


def _with_query(url: str, params: list[tuple[str, str]]) -> str:
    """Append params; an action like index.php?search/search keeps its route."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params, quote_via=quote)) if q)
    return urlunsplit(parts._replace(query=query, fragment=""))


def search_url(engine: str, page_url: str, html: str, term: str) -> str | None:
    sel = Selector(text=html, base_url=page_url)
    if engine == "phpbb":
        base = _action(
            sel, page_url, 'form#search::attr(action), form[action*="search.php"]::attr(action)', "search.php"
        )
        base = urlunsplit(urlsplit(base)._replace(query="", fragment=""))  # only the session id lives there
        params = [("keywords", term), ("terms", "all"), ("sr", "topics"), ("sf", "all"), ("sk", "t"), ("sd", "d")]
        return _with_query(base, params)
    if engine == "xenforo":
        base = _action(sel, page_url, 'form[action*="search/search"]::attr(action)', "/search/search")
        return _with_query(base, [("keywords", term), ("order", "date")])
    if engine == "vbulletin":
        base = _action(
            sel, page_url, 'a[href*="search.php"]::attr(href), form[action*="search.php"]::attr(action)', "search.php"
        )
        base = urlunsplit(urlsplit(base)._replace(query="", fragment=""))
        params = [("do", "process"), ("query", term), ("titleonly", "0"), ("showposts", "0")]
        return _with_query(base, [*params, ("sortby", "dateline"), ("order", "descending")])
    if engine == "discourse":
        # a Discourse in a subfolder names its root in the OpenSearch link
        osd = _action(sel, page_url, 'link[rel="search"][href$="opensearch.xml"]::attr(href)', "/opensearch.xml")
        return _with_query(urljoin(osd, "search.json"), [("q", f"{term} order:latest")])
    return None


def subreddit_search_url(url: str, term: str) -> str | None:
    parts = urlsplit(url)
    m = re.match(r"^/r/([A-Za-z0-9_]+)", parts.path)
    if not m:
        return None
    path = f"/r/{m[1]}/search.json"
    return urlunsplit(
        parts._replace(
            path=path,
            query=urlencode([("q", term), ("restrict_sr", "1"), ("sort", "new")], quote_via=quote),
            fragment="",
        )
    )


# --- company aliases -----------------------------------------------------


def search_terms(company_id: str, resolver) -> list[str]:
    """The company's name and aliases worth a site search: one per spelling
    (case-insensitive), no domains, none shorter than MIN_TERM_LETTERS."""
    c = resolver.companies.get(company_id)
    if c is None:
        known = ", ".join(sorted(resolver.companies)[:20])
        raise KeyError(f"unknown company {company_id!r} (company ids: {known}, ...)")
    seen, terms = set(), []
    for alias in [c.name, *c.aliases]:
        alias = alias.strip()
        key = alias.casefold().replace("ё", "е")
        letters = sum(ch.isalnum() for ch in alias)
        if key in seen or letters < MIN_TERM_LETTERS or _DOMAIN.match(alias):
            continue
        seen.add(key)
        terms.append(alias)
    return terms[:MAX_TERMS]


# --- robots.txt ----------------------------------------------------------


class _Robots:
    """robots.txt per site, read once (Protego, as Scrapy's middleware does)."""

    def __init__(self, fetcher: Callable[[str], Page]) -> None:
        self.fetcher = fetcher
        self.parsers: dict[str, Protego] = {}

    def allowed(self, url: str) -> bool:
        from protego import Protego

        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self.parsers:
            try:
                page = self.fetcher(root + "/robots.txt")
                text = page.text if 200 <= page.status < 300 else ""
            except OSError:
                text = ""  # no robots.txt reachable: like Scrapy, allow
            self.parsers[root] = Protego.parse(text)
        return self.parsers[root].can_fetch(url, user_agent())


# --- the whole step ------------------------------------------------------


def _recognise(src: Source, fetcher) -> tuple[str | None, Page | None, str | None]:
    """(engine, page it was read from, why not) for a configured forum: its
    own page first, then the site's front page."""
    root = urlunsplit(urlsplit(src.url)._replace(path="/", query="", fragment=""))
    why = None
    for url in dict.fromkeys([src.url, root]):
        try:
            page = fetcher(url)
        except OSError as exc:
            why = f"cannot fetch {url}: {getattr(exc, 'reason', exc)}"
            continue
        if not 200 <= page.status < 300:
            why = f"{url} answered HTTP {page.status}"
            continue
        if engine := detect_engine(page.text):
            return engine, page, None
        why = "forum engine not recognised"
    return None, None, why


def discover(
    company_id: str,
    sources: list[Source],
    resolver,
    fetcher=fetch,
    only_sites: set[str] | None = None,
) -> Discovery:
    """Search-URL sources for the company on every configured forum and
    subreddit (one site is looked at once; `only_sites` narrows by host:port).
    Entries already in `sources` are not repeated."""
    terms = search_terms(company_id, resolver)
    result = Discovery(company=company_id, terms=terms)
    listed = {(s.spider, s.url) for s in sources}
    robots = _Robots(fetcher)
    seen_sites: set[str] = set()
    for src in sources:
        if src.kind not in SEARCHABLE_KINDS or src.discovered_from or not src.enabled:
            continue
        if src.site in seen_sites or (only_sites is not None and src.site not in only_sites):
            continue
        seen_sites.add(src.site)
        if src.kind == "subreddit":
            engine = "reddit"
            found = [subreddit_search_url(src.url, t) for t in terms]
            urls = [u for u in found if u is not None]
            if len(urls) < len(found):
                result.skipped.append(Skipped(src.url, "not a /r/<name> subreddit URL"))
                continue
        else:
            recognised, page, why = _recognise(src, fetcher)
            if recognised is None or page is None:  # both or neither
                result.skipped.append(Skipped(src.url, why or "forum engine not recognised"))
                continue
            engine = recognised
            if engine in UNSEARCHABLE or engine == "vbulletin5":
                reason = UNSEARCHABLE.get(engine, "vBulletin 5 searches from JavaScript: not searched")
                result.engines[src.site] = engine
                result.skipped.append(Skipped(src.url, reason))
                continue
            found = [search_url(engine, page.url, page.text, t) for t in terms]
            urls = [u for u in found if u is not None]
            if len(urls) < len(found):  # an engine search_url has no rule for
                result.engines[src.site] = engine
                result.skipped.append(Skipped(src.url, f"no search URL rule for {engine}: not searched"))
                continue
        result.engines[src.site] = engine
        for term, url in zip(terms, urls, strict=True):
            if engine != "reddit" and not robots.allowed(url):
                result.skipped.append(
                    Skipped(src.url, f"robots.txt disallows {urlsplit(url).path} (search for {term!r})")
                )
                continue
            if (src.spider, url) in listed:
                continue
            listed.add((src.spider, url))
            limits = src.model_dump(include={"every", "cron", "max_posts", "delay", "concurrency", "timeout"})
            result.added.append(
                Source(
                    kind=src.kind,
                    url=url,
                    company=company_id,
                    name=f"{resolver.name(company_id)}: {term!r} on {src.site}",
                    discovered_from=src.url,
                    max_pages=src.max_pages if src.max_pages is not None else DISCOVERED_MAX_PAGES,
                    **{k: v for k, v in limits.items() if v is not None},
                )
            )
    for s in result.skipped:
        log.info("discovery for %s: skipped %s: %s", company_id, s.url, s.reason)
    return result
