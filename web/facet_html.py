"""The search page's filter drop-downs as HTML, built in Python.

A company drop-down at 100k posts has hundreds of options, each with three
counts; rendered by a Jinja loop it was half of a search page's CPU time
(every piece of every option escaped on its own). Here only the value and
the label need escaping; the counts are integers. Same markup as before."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from markupsafe import Markup, escape

from .search import FacetOption


@lru_cache(maxsize=8192)
def _esc(text: str) -> str:
    # the same values and labels on every page: escaped once, not per option per request
    return str(escape(text))


def _count_text(name: str, o: FacetOption) -> str:
    if name == "company":
        c = o.counts
        n, m, r = c.complaints, c.comments, c.company_replies
        return (
            f"{n} {'complaint' if n == 1 else 'complaints'}, {m} {'comment' if m == 1 else 'comments'}, "
            f"{r} {'company reply' if r == 1 else 'company replies'}"
        )
    return f"{o.count:,}"


def facet_select(name: str, title: str, options: Iterable[FacetOption]) -> Markup:
    """<label>title <select name=name> with "Any" and one option per value (its counts in brackets)."""
    parts = [f'<label>{escape(title)}\n        <select name="{escape(name)}">\n          <option value="">Any</option>']
    for o in options:
        sel = " selected" if o.selected else ""
        parts.append(
            f'          <option value="{_esc(str(o.value))}"{sel}>{_esc(o.label)} ({_count_text(name, o)})</option>'
        )
    parts.append("        </select>\n      </label>")
    return Markup("\n".join(parts))
