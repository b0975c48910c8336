"""A post in a list (search results, company, incident and alert pages) as
HTML, built in Python: the same markup the Jinja macros made (the ``post_item``
and ``post_meta`` macros in templates/_macros.html now call these).

Twenty results through four nested macros were the largest part of a search
page's rendering at 100k posts: a macro call, an escape per piece and a
url_for, company_name and site_info lookup per post. Here each page builds its
URLs from one url_for per endpoint and looks every company, site and incident
up once (:class:`PostHtml`, kept for the request)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import current_app, g, url_for
from jinja2.filters import do_truncate
from markupsafe import Markup, escape

from complaintwatch.models import Incident, Post

from .feeds import post_title
from .services import company_name
from .sites import site_info

if TYPE_CHECKING:
    from .search import ResultItem

_ID = 918273645  # a post id no store reaches: url_for once, then the id put in its place
SNIPPET_CHARS = 240  # the start of the text shown when there is no search snippet


def _e(value: object) -> str:
    return str(escape(value))


class PostHtml:
    """Renders posts for one request: URL patterns, company names, site labels
    and incident links computed once per distinct value."""

    def __init__(self, incidents: dict[int, Incident]) -> None:
        self.incidents = incidents
        self._author: Callable[[str], str] = current_app.jinja_env.filters["author"]
        url = url_for("posts.post", post_id=_ID)
        self._post_url: tuple[str, str] | None = None
        if url.count(str(_ID)) == 1:
            head, tail = url.split(str(_ID))
            self._post_url = (_e(head), _e(tail))
        self._companies: dict[str, str] = {}
        self._sites: dict[tuple[str, str | None], str] = {}
        self._incidents: dict[int, str] = {}

    # -- the pieces, each computed once per page --

    def post_url(self, post_id: int | None) -> str:
        if self._post_url is None or not isinstance(post_id, int):
            return _e(url_for("posts.post", post_id=post_id))
        head, tail = self._post_url
        return f"{head}{post_id}{tail}"

    def company_link(self, company: str) -> str:
        html = self._companies.get(company)
        if html is None:
            href = url_for("companies.company", company_id=company)
            html = f'<a class="tag tag-company" dir="auto" href="{_e(href)}">{_e(company_name(company))}</a>'
            self._companies[company] = html
        return html

    def incident_link(self, incident_id: int | None) -> str:
        if incident_id is None:
            return ""
        html = self._incidents.get(incident_id)
        if html is None:
            inc = self.incidents.get(incident_id)
            label = inc.label_en if inc else f"Incident #{incident_id}"
            href = url_for("incidents.incident", incident_id=incident_id)
            html = f'<a class="tag tag-incident" href="{_e(href)}">{_e(label)}</a>'
            self._incidents[incident_id] = html
        return html

    def site(self, host: str, kind: str | None) -> str:
        html = self._sites.get((host, kind))
        if html is None:
            info = site_info(host, kind)
            html = f'<span class="site" title="{_e(host)}">{_e(info.label)}</span>'
            if info.kind_label:
                html += f' <span class="site-kind muted">({_e(info.kind_label)})</span>'
            self._sites[(host, kind)] = html
        return html

    # -- a post --

    def meta(self, post: Post) -> str:
        """The date, site, author, language and kind line, then the company and incident tags."""
        when = post.published_at
        parts = [
            '<div class="meta">\n    <time datetime="',
            when.isoformat() if when else "",
            '">',
            when.strftime("%Y-%m-%d") if when else "—",
            '</time>\n    <span class="sep">·</span> ',
            self.site(post.source_site, post.site_kind.value),
        ]
        if post.author:
            parts += ('<span class="sep"> · </span><span class="author" dir="auto">', _e(self._author(post.author)))
            parts.append("</span>")
        if post.language:
            parts += ('<span class="sep"> · </span><span class="lang">', _e(post.language), "</span>")
        if post.is_comment:
            parts.append('<span class="sep"> · </span><span class="kind">comment</span>')
        if post.is_company_reply:
            parts.append('<span class="sep"> · </span><span class="badge badge-reply">company reply</span>')
        parts += ('  </div>\n  <div class="tags">', *map(self.company_link, post.companies), " ")
        parts += (self.incident_link(post.incident_id), "</div>")
        return "".join(parts)

    def item(self, post: Post, snippet: object = None, extra_class: str = "", similar: bool = False) -> str:
        """A post as an <article>: its title linked, the snippet (safe HTML: the store's,
        with <mark>) or else the start of its text (escaped here), then :meth:`meta`."""
        parts = [f'<article class="result {_e(extra_class)}']
        if similar:
            parts.append(" similar")
        parts.append(f'" data-post-id="{_e(post.id)}"')
        if similar:
            parts.append(' data-similar="1"')
        parts.append(">\n")
        if similar:
            parts.append(
                '<p class="similar-mark"><span class="badge badge-similar" title="Found by meaning: the words'
                ' of the query are not in this post">similar in meaning</span></p>'
            )
        parts += ('    <h3 dir="auto"><a href="', self.post_url(post.id), '">')
        if post.title or not post.is_comment:
            parts.append(_e(post_title(post)))
        else:
            parts.append("Comment")
            if post.author:
                parts += (" by <bdi>", _e(self._author(post.author)), "</bdi>")
        parts.append('</a></h3>\n      <p class="snippet" dir="auto">')
        if snippet is None:
            text = do_truncate(current_app.jinja_env, post.text or "", SNIPPET_CHARS, True, "…", 0)
            parts.append(_e(text))
        else:
            parts.append(_e(snippet))
        parts += ("</p>\n    ", self.meta(post), "\n  </article>")
        return "".join(parts)


def _renderer(incidents: dict[int, Incident]) -> PostHtml:
    """The request's renderer for these incidents (one page renders its posts with one)."""
    r: PostHtml | None = g.get("_cw_post_html")
    if r is None or r.incidents is not incidents:
        r = g._cw_post_html = PostHtml(incidents)
    return r


def post_item_html(
    post: Post, incidents: dict[int, Incident], snippet: object = None, extra_class: str = "", similar: bool = False
) -> Markup:
    return Markup(_renderer(incidents).item(post, snippet, extra_class, similar))


def post_meta_html(post: Post, incidents: dict[int, Incident]) -> Markup:
    return Markup(_renderer(incidents).meta(post))


def result_items_html(items: Iterable[ResultItem], incidents: dict[int, Incident]) -> Markup:
    """The search page's result list: each item on its line, indented as the page's own markup."""
    r = _renderer(incidents)
    return Markup("".join(f"    {r.item(it.post, it.snippet, similar=it.similar)}\n" for it in items))


__all__ = ["PostHtml", "post_item_html", "post_meta_html", "result_items_html"]
