"""Title, author and publication date of an article page, from meta tags
(og:, article:, Dublin Core), JSON-LD/microdata, then common platform markup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parsel import Selector

from crawlers.extraction.dates import page_date, page_year, parse_published
from crawlers.extraction.structured import find_typed, first_str, name_of, structured_items
from crawlers.extraction.text import normalize_ws

_ARTICLE_TYPES = ("Article", "BlogPosting", "NewsArticle", "Report", "SocialMediaPosting", "DiscussionForumPosting")

_TITLE_META = (
    'meta[property="og:title"]::attr(content)',
    'meta[name="twitter:title"]::attr(content)',
    'meta[name="title"]::attr(content)',
)
_AUTHOR_META = (
    'meta[name="author"]::attr(content)',
    'meta[property="article:author"]::attr(content)',
    'meta[name="dc.creator" i]::attr(content)',
)
# A Twitter handle ("@nightly") names an account, not the byline: used only
# when nothing else names the author.
_HANDLE_META = ('meta[name="twitter:creator"]::attr(content)', 'meta[property="twitter:creator"]::attr(content)')
# Platform markup: WordPress themes, Blogger, LiveJournal, hAtom/h-entry.
_AUTHOR_MARKUP = (
    ".entry-meta .author a::text",
    ".byline .author a::text",
    ".byline a[rel=author]::text",
    ".author-info .author-title::text",
    "a[rel=author]::text",
    ".post-author .fn [itemprop=name]::text",
    ".post-author .fn::text",
    "[itemprop=author] [itemprop=name]::text",
    ".p-author .p-name::text",
    'address a[href*="/author/"]::text',  # "By <a href=/author/NAME/>" in an <address> byline
    ".vcard .fn::text",
)
# Comment sections repeat the same hCard markup for every commenter.
_COMMENT_TOKENS = frozenset(
    "comment comments comment-list commentlist comments-list comments-area comment-body comment-author".split()
)
_COMMENT_ID = re.compile(r"^(?:div-)?comments?(?:-\d+)?$")
_DATE_META = (
    'meta[property="article:published_time"]::attr(content)',
    'meta[itemprop="datePublished"]::attr(content)',
    'meta[name="dc.date" i]::attr(content)',
    'meta[name="date"]::attr(content)',
    'meta[name="pubdate"]::attr(content)',
    'meta[property="og:published_time"]::attr(content)',
)
_DATE_MARKUP = (
    "time.published::attr(datetime)",
    "time.entry-date::attr(datetime)",
    "time[itemprop=datePublished]::attr(datetime)",
    "time.dt-published::attr(datetime)",
    "abbr.published::attr(title)",
    "[itemprop=datePublished]::attr(content)",
    "time[pubdate]::attr(datetime)",
)


_YEAR = re.compile(r"(19|20)\d\d")


@dataclass(slots=True)
class PageMeta:
    title: str = ""
    author: str | None = None
    published: datetime | None = None


def _first(sel: Selector, queries: tuple[str, ...]) -> str | None:
    for q in queries:
        for value in sel.css(q).getall():
            value = normalize_ws(value)
            if value:
                return value
    return None


def _in_comments(node: Selector) -> bool:
    for a in node.xpath("ancestor::*[not(self::body or self::html)]"):
        if _COMMENT_TOKENS & set(a.attrib.get("class", "").split()) or _COMMENT_ID.match(a.attrib.get("id", "")):
            return True
    return False


# rel=author links to a social profile ("Google +", Google's 2012 authorship markup) name no one.
_SOCIAL_HOSTS = re.compile(r"^https?://(?:[\w-]+\.)*(?:google|twitter|x|facebook|linkedin|instagram)\.com/", re.I)


def _byline(sel: Selector) -> str | None:
    """The first author markup (queries on an element's own text) outside the comment section."""
    for q in _AUTHOR_MARKUP:
        for node in sel.css(q.removesuffix("::text")):
            value = normalize_ws("".join(node.xpath("text()").getall()))
            if value and not _in_comments(node) and not _SOCIAL_HOSTS.match(node.attrib.get("href", "")):
                return value
    return None


# "By <a>Name</a>": in the article's header first, then anywhere outside the
# comments ("Powered by <a>Drupal</a>" is a credit, not a byline).
_BY_LINKS = (
    "//article//header//a[re:test(preceding-sibling::text()[1], '(?i)\\bby\\s*$')]",
    "//body//a[re:test(preceding-sibling::text()[1], '(?i)(^|\\s)(posted |written )?by\\s*:?\\s*$')]"
    "[not(re:test(preceding-sibling::text()[1], '(?i)(powered|designed|theme|hosted|made|built|created|developed)"
    "\\s+by\\s*:?\\s*$'))]",
)


def _by_link_node(sel: Selector) -> Selector | None:
    for query in _BY_LINKS:
        for node in sel.xpath(query, namespaces=_RE_NS):
            if normalize_ws("".join(node.xpath(".//text()").getall())) and not _in_comments(node):
                return node
    return None


def _by_link(sel: Selector) -> str | None:
    """ "Posted by <a>Name</a>" in the article's header (or, failing that, anywhere outside the comments)."""
    node = _by_link_node(sel)
    return normalize_ws("".join(node.xpath(".//text()").getall())) if node is not None else None


def _byline_date(sel: Selector) -> str | None:
    """The date and time printed on the byline line ("By <a>Name</a> | Nov 06 2012 | 1:13 pm")."""
    from crawlers.extraction.generic import DATE_PATTERN  # generic reads page metadata: import here

    node = _by_link_node(sel)
    if node is None:
        return None
    line = normalize_ws(" ".join(node.xpath("../text() | ../*/text()").getall()))
    m = DATE_PATTERN.search(line)
    return m.group(0).replace("|", " ") if m and re.search(r"\d:\d\d", m.group(0)) else None


_RE_NS = {"re": "http://exslt.org/regular-expressions"}
_BYLINE_LABEL = "(?i)^(автор|author|written by|posted by|by|von|autor|verfasst von)\\s*:?$"
_DOMAIN_LIKE = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}$", re.I)


def _labelled_byline(sel: Selector) -> str | None:
    """ "<p>Автор:</p> <p><a>Name</a></p>": a label alone in its element, the name in the element after it."""
    labels = sel.xpath("//body//*[not(*)][re:test(normalize-space(.), $label)]", namespaces=_RE_NS, label=_BYLINE_LABEL)
    for label in labels:
        for sibling in label.xpath("following-sibling::*[1]"):
            value = normalize_ws(" ".join(sibling.css("::text").getall()))
            if value and len(value) <= 60 and not _in_comments(sibling):
                return value
    return None


def _is_organization(value: Any) -> bool:
    """Whether structured data names an organisation (the publisher) as the author."""
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, dict) and _org_type(v) for v in values)


def _org_type(obj: dict[str, Any]) -> bool:
    types = obj.get("@type")
    types = types if isinstance(types, list) else [types]
    return any(t in ("Organization", "NewsMediaOrganization", "Corporation") for t in types)


def _publisher_names(sel: Selector, ld: dict[str, Any]) -> set[str]:
    names = {name_of(ld.get("publisher")), _first(sel, ('meta[property="og:site_name"]::attr(content)',))}
    if _is_organization(ld.get("author")):
        names.add(name_of(ld.get("author")))
    return {n.casefold() for n in names if n}


def _is_publisher(name: str, publishers: set[str]) -> bool:
    return name.casefold() in publishers or bool(_DOMAIN_LIKE.match(name.strip()))


def _article_ld(items: list[dict[str, Any]]) -> dict[str, Any]:
    found = find_typed(items, *_ARTICLE_TYPES)
    return found[0][0] if found else {}


def _is_url(value: str | None) -> bool:
    return bool(value and value.startswith(("http://", "https://", "/")))


def page_meta(sel: Selector, url: str, html: str | None = None, languages: list[str] | None = None) -> PageMeta:
    """Best-effort title/author/date; the first source that has a value wins,
    with htmldate guessing the date when nothing explicit is there."""
    html = html if html is not None else sel.get()
    ld = _article_ld(structured_items(html, url))

    title = _first(sel, _TITLE_META) or first_str(ld.get("headline") or ld.get("name"))
    title = title or _first(sel, ("h1.entry-title ::text", "h1 ::text", "title::text")) or ""

    author = _first(sel, _AUTHOR_META)
    if _is_url(author):  # article:author is often a profile URL, not a name
        author = None
    handle = _first(sel, _HANDLE_META)
    if author is None and handle and not handle.startswith("@"):
        author = None if _is_url(handle) else handle
    # The publisher named as author (structured data's Organization, the site's
    # own name, "INFORM.KZ") is no byline: a person's name on the page wins,
    # and with none there is no author.
    publishers = _publisher_names(sel, ld)
    if author and _is_publisher(author, publishers):
        author = None
    ld_author = None if _is_organization(ld.get("author")) else name_of(ld.get("author"))
    author = author or ld_author or _byline(sel) or _by_link(sel) or _labelled_byline(sel) or handle

    # Machine-readable attributes first; structured data only when it carries a
    # year (Blogger's microdata datePublished is the shown "10:52").
    ld_date = first_str(ld.get("datePublished"))
    candidates = [
        _first(sel, _DATE_META),
        _first(sel, _DATE_MARKUP),
        ld_date if ld_date and _YEAR.search(ld_date) else None,
    ]
    # LiveJournal renders the date as linked text inside <time>, no attribute.
    shown = sel.css("time.published, time.dt-published")
    candidates.append(" ".join("".join(shown[0].css("::text").getall()).split()) if shown else None)
    # The article header's own <time> (Slashcode prints it without a year).
    candidates.append(_first(sel, ("article header time::attr(datetime)", "article header time::text")))
    canonical = sel.css('link[rel="canonical"]::attr(href), meta[property="og:url"]::attr(content)').get()
    year = page_year(html, (url, canonical))  # for a date shown without its year
    published = None
    for raw in candidates:
        published = parse_published(raw, languages=languages, year=year)
        if published:
            break
    if published is None:  # the byline's own date line, else htmldate's guess from the whole page
        published = parse_published(_byline_date(sel), languages=languages, year=year) or page_date(html, url)
    return PageMeta(title=normalize_ws(title), author=author, published=published)
