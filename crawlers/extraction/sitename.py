"""The name a site gives itself, read off one of its pages: the Open Graph site name
(``og:site_name``) or the web-app name (``application-name``) when the page declares
one, else what its <title> has besides the post's own title ("Post title | Android
Central", "Pink Sith: Post title")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from parsel import Selector

from complaintwatch.sites import MAX_NAME_CHARS

from .text import normalize_ws

# (query, source): property= is the standard; name= and value= are seen in the wild (Reddit)
_DECLARED = (
    ('meta[property="og:site_name"]::attr(content)', "og:site_name"),
    ('meta[name="og:site_name"]::attr(content)', "og:site_name"),
    ('meta[name="og:site_name"]::attr(value)', "og:site_name"),
    ('meta[name="application-name"]::attr(content)', "application-name"),
)
# what page titles put between the post title and the site name, and between sections
_SEPARATOR = re.compile(r"\s+[|\-–—·•»/]\s+|\s*::\s*|\s+:\s+")
_EDGE = " \t|-–—·•»/:,"
MIN_POST_TITLE = 8  # a shorter "post title" matches titles by chance
MAX_TITLE_NAME = 80
# a page number is what a paginated thread's title ends with, never the site ("Thread - Seite 34")
_PAGE_LABEL = re.compile(r"^(page|seite|pagina|página|страница|стр\.?|p\.)\s*\d+$", re.I)
# where the post's own title sits (besides og:title): the first headings, blog platforms' markup
_HEADINGS = "h1, h2, h3, .entry-title, .post-title, .entry-header, [itemprop=headline]"
MAX_HEADINGS = 12


@dataclass(frozen=True, slots=True)
class SiteName:
    name: str
    source: str  # complaintwatch.sites.NameSource


def _clean(value: str | None) -> str:
    return normalize_ws(value or "").strip(_EDGE)[:MAX_NAME_CHARS].strip()


def declared_name(sel: Selector) -> SiteName | None:
    for query, source in _DECLARED:
        for value in sel.css(query).getall():
            name = _clean(value)
            if len(name) > 60 and ". " in name:  # a description stuffed in: "Agency (UNN). All the news ..."
                name = name.split(". ", 1)[0]
            if name:
                return SiteName(name, source)
    return None


def _usable(name: str, post_title: str) -> bool:
    return (
        2 <= len(name) <= MAX_TITLE_NAME
        and not name.isdigit()
        and not _PAGE_LABEL.match(name)
        and name.casefold() != post_title.casefold()
    )


def title_affix(page_title: str, post_titles: Iterable[str]) -> str | None:
    """The site name in a page title that starts or ends with the post's title: the rest
    of it, and of a rest made of several sections ("Politics | World | The Paper") the
    outermost one. Of several titles that fit, the longest (a blog's name in its <h1>
    fits "Blog: Post" too, and would leave the post's title as the "site")."""
    page_title = normalize_ws(page_title)
    folded = page_title.casefold()
    posts = sorted({normalize_ws(t) for t in post_titles if t}, key=lambda t: (-len(t), t))
    for post in posts:
        if len(post) < MIN_POST_TITLE or len(post) >= len(page_title):
            continue
        if folded.startswith(post.casefold()):
            rest, outermost = page_title[len(post) :], -1
        elif folded.endswith(post.casefold()):
            rest, outermost = page_title[: -len(post)], 0
        else:
            continue
        if rest[:1] not in _EDGE and rest[-1:] not in _EDGE:
            continue  # the post title is only the start or end of a longer word
        sections = [s for s in (_clean(p) for p in _SEPARATOR.split(_clean(rest))) if s]
        if sections and _usable(sections[outermost], post):
            return sections[outermost]
    return None


def site_name(sel: Selector, post_titles: Iterable[str] = ()) -> SiteName | None:
    """The page's site name, or None when the page does not tell it. ``post_titles``: the
    titles of the posts found on the page (the page's own og:title and first <h1> are
    tried too)."""
    if found := declared_name(sel):
        return found
    title = sel.css("title::text").get() or ""
    if not title.strip():
        return None
    candidates = [*post_titles, *sel.css('meta[property="og:title"]::attr(content)').getall()[:1]]
    candidates += [" ".join(h.css("::text").getall()) for h in sel.css(_HEADINGS)[:MAX_HEADINGS]]
    name = title_affix(title, candidates)
    return SiteName(name, "title") if name else None
