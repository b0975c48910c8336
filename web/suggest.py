"""A query that names a company offers that company first (issue 13): typing
"Korobka" matches only the posts that spell the name out, while the company
has many more (the indexer resolved them from mentions like "Коробки" or
"korobka.ru", and from threads). The query is resolved with the same
CompanyResolver the index used: the built-in alias table plus the display
names `complaintwatch index` stored (web.services.company_names)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from flask import current_app, url_for

from complaintwatch.companies import Company, builtin_companies
from indexer.companies import CompanyResolver, aliases_for

from .params import SearchParams
from .reports import company_counts
from .services import company_name, company_names

_lock = threading.Lock()


@dataclass(slots=True)
class CompanySuggestion:
    id: str
    name: str
    complaints: int
    filter_url: str  # the search with this company's filter, its name taken out of the query
    company_url: str
    api_url: str

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "complaints": self.complaints,
            "links": {"filter": self.filter_url, "html": self.company_url, "api": self.api_url},
        }


def resolver() -> CompanyResolver:
    """The index's resolver: built-in companies, then the stored display names
    (each with the aliases the indexer derives from a registered name); one per
    app, rebuilt when the names change."""
    names = company_names()
    key = tuple(sorted(names.items()))
    ext = current_app.extensions
    with _lock:
        cached = ext.get("complaintwatch.resolver")
        if cached is not None and cached[0] == key:
            return cached[1]
        r = CompanyResolver(builtin_companies())
        for cid, name in names.items():
            if name:
                r.add(Company(id=cid, name=name, aliases=[name, *aliases_for(name)]))
        ext["complaintwatch.resolver"] = (key, r)
        return r


def company_suggestion(params: SearchParams) -> CompanySuggestion | None:
    """The company the query names (the first one it mentions that the store
    has posts about), unless the search is already filtered by it."""
    if not params.q:
        return None
    mentions = resolver().mentions(params.q)
    counts = company_counts()
    for start, end, cid in mentions:
        if cid not in counts or cid == params.company:
            continue
        rest = " ".join((params.q[:start] + " " + params.q[end:]).split())
        # Any: url_for's **values (mypy: a str there could fill its `_external: bool`)
        args: dict[str, Any] = params.query_args(page=None, company=cid, q=rest or None)
        return CompanySuggestion(
            id=cid,
            name=company_name(cid),
            complaints=counts[cid].complaints,
            filter_url=url_for("search.search", **args),
            company_url=url_for("companies.company", company_id=cid),
            api_url=url_for("api.company", company_id=cid),
        )
    return None
