"""Hybrid search: BM25 hits and vector neighbours fused by reciprocal rank
fusion, or the latest posts when the query is empty.

Every constraint of the query holds for the vector neighbours as well: the
filters and dates, and the quoted phrases, +words and -words (the stores check
them with the same stems as the text search). A neighbour that the text search
did not find is "similar in meaning" (``matched == "vector"``); ``similar=0``
leaves those out.

Facets (the filter drop-downs' counts and the API's ``facets``) count what the
page counts as results: the text matches plus, when similar is on, the similar
hits, each under every filter but the facet's own."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, dataclass, field, replace
from datetime import datetime, timezone

from flask import g, has_app_context
from markupsafe import Markup, escape

from complaintwatch.models import Incident, Post, SearchFilters, SearchHit
from indexer.query import parse_query
from indexer.snippets import snippet
from indexer.store.types import FACET_FIELDS, FacetCount, FacetCounts, FacetValue, facet_filters

from .params import SearchParams
from .ranking import reciprocal_rank_fusion
from .safetext import strip_bidi
from .services import company_names, company_names_and_labels, services, setting
from .sites import sites

SNIPPET_CHARS = 240
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def start_of_text(text: str, width: int = SNIPPET_CHARS) -> Markup:
    """The opening of a post, escaped: the snippet for hits without a text match."""
    text = " ".join(text.split())
    if len(text) <= width:
        return escape(text)
    cut = text.rfind(" ", 0, width)
    return escape(text[: cut if cut > width // 2 else width]) + Markup("…")


@dataclass(slots=True)
class ResultItem:
    post: Post
    score: float | None
    snippet: Markup  # safe HTML: the store's escaped snippet or our escaped text start
    matched: str  # "text", "vector", "text+vector" or "latest"

    @property
    def similar(self) -> bool:
        """Found only as similar in meaning, not by the words of the query."""
        return self.matched == "vector"


@dataclass(slots=True)
class SearchResult:
    items: list[ResultItem]
    total: int  # capped at MAX_RESULTS
    page: int
    per_page: int
    has_next: bool
    mode: str  # "search" | "latest"
    vector_used: bool = False
    # every match, past the cap too: exact, and cheap (the stores count on the
    # full-text index and the filter columns, not by ranking every match)
    matches: int | None = None

    @property
    def capped(self) -> bool:
        return self.matches is not None and self.matches > self.total

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, math.ceil(self.total / self.per_page))


@dataclass(slots=True)
class _Candidate:
    post_id: int
    score: float
    hit: SearchHit | None  # a text hit with its post, from stores that return them
    vector: bool
    text: bool = False  # found by the words (with or without ``hit``)


def _text_ranked(
    query: str, filters: SearchFilters, limit: int
) -> tuple[list[tuple[int, float]], int, list[SearchHit]]:
    """The text search's (post id, score) pairs best-first, its total, and its hits
    when the store returns whole hits. The embedded store ranks without reading
    the posts (``search_text_ranked``): fusion needs ids and scores only, and
    just the shown page's posts are read afterwards."""
    store = services().store
    ranked = getattr(store, "search_text_ranked", None)  # optional: Elasticsearch returns the posts anyway
    if ranked is not None:
        pairs, total = ranked(query, filters, limit=limit)
        return pairs, total, []
    hits, total = store.search_text(query, filters, limit=limit)
    return [(h.post.id, h.score) for h in hits if h.post.id is not None], total, hits


def _candidates(
    params: SearchParams, depth: int, filters: SearchFilters | None = None, all_text: bool = False
) -> tuple[list[_Candidate], int, bool]:
    """Fused candidates best-first, every match (uncapped) and whether vectors were
    used. ``filters``: instead of the params' own; ``all_text``: every text match
    (up to the cap), as the date order needs."""
    svc = services()
    cap = setting("MAX_RESULTS")
    filters = filters or params.filters
    text, text_total, hits = _text_ranked(params.q, filters, depth)
    if (all_text or params.sort == "date") and text_total > len(text) and len(text) < cap:
        # the newest matches may rank low: take all of them (up to the cap)
        text, text_total, hits = _text_ranked(params.q, filters, min(text_total, cap))
    vec: list[tuple[int, float]] = []
    embedder = svc.embedder if params.similar else None
    use_vectors = embedder is not None
    if embedder is not None:
        min_sim = setting("VECTOR_MIN_SIMILARITY")
        found = vector_hits(params.q, filters)
        vec = [(pid, s) for pid, s in found if s >= min_sim]
    by_id = {h.post.id: h for h in hits}
    vec_ids = {pid for pid, _ in vec}
    text_ids = [pid for pid, _ in text]
    is_text = set(text_ids)
    fused = reciprocal_rank_fusion([text_ids, [pid for pid, _ in vec]], k=setting("RRF_K"))
    cands = [_Candidate(pid, score, by_id.get(pid), pid in vec_ids, pid in is_text) for pid, score in fused]
    # hits beyond the fetched depth still count (a vector hit among them is counted twice: rare, harmless)
    total = len(cands) + max(0, text_total - len(text))
    return cands, total, use_vectors


def vector_hits(query: str, filters: SearchFilters) -> list[tuple[int, float]]:
    """The store's nearest posts (id, similarity) to the query's embedding under the filters,
    asked once per request: the results and the facets that share their filters (the page and
    the API ask both) get one answer, so they count the same hits at the cost of one search."""
    svc = services()
    assert svc.embedder is not None
    memo: dict | None = g.setdefault("vector_hits", {}) if has_app_context() else None
    key = (query, astuple(filters))
    if memo is not None and key in memo:
        return memo[key]
    found = svc.store.search_vector(
        svc.embedder.name, svc.encode_query(query), filters, setting("VECTOR_DEPTH"), query=query
    )
    if memo is not None:
        memo[key] = found
    return found


def _with_posts(cands: list[_Candidate]) -> list[tuple[_Candidate, Post]]:
    """The candidates with their posts (a whole text hit has its own; the others are
    read in one batch); those deleted since the search left out."""
    posts = services().store.get_posts([c.post_id for c in cands if c.hit is None])
    out = []
    for c in cands:
        post = c.hit.post if c.hit is not None else posts.get(c.post_id)
        if post is not None:
            out.append((c, post))
    return out


def _items(found: Iterable[tuple[_Candidate, Post]], query: str = "") -> list[ResultItem]:
    # snippets only here: for the shown results, not every candidate
    out = []
    stems: set[str] | None = None
    for c, post in found:
        if c.hit is not None:
            snip = Markup(c.hit.snippet)  # the store's snippet: escaped, with <mark>
        elif c.text:  # the same snippet the stores make, from the post as the app shows it
            if stems is None:
                stems = parse_query(query).positive_stems
            snip = Markup(snippet(post.text, stems))
        else:
            snip = start_of_text(post.text or post.title)
        matched = "text+vector" if c.text and c.vector else ("text" if c.text else "vector")
        out.append(ResultItem(post, c.score, snip, matched))
    return out


def _newest_first(found: list[tuple[_Candidate, Post]]) -> list[tuple[_Candidate, Post]]:
    return sorted(found, key=lambda cp: cp[1].published_at or _OLDEST, reverse=True)


def _latest(params: SearchParams, limit: int, offset: int = 0) -> list[ResultItem]:
    posts = services().store.latest_posts(params.filters, limit=limit, offset=offset)
    return [ResultItem(p, None, start_of_text(p.text or p.title), "latest") for p in posts]


def run_search(params: SearchParams) -> SearchResult:
    """One page of results for the search page and API."""
    cap = setting("MAX_RESULTS")
    pp = params.per_page
    if not params.q:
        matches = services().store.count_latest(params.filters)
        total = min(matches, cap)
        pages = max(1, math.ceil(total / pp))
        page = min(params.page, pages)  # past the end: the last page
        window = _latest(params, min(pp, total - (page - 1) * pp), offset=(page - 1) * pp) if total else []
        return SearchResult(window, total, page, pp, page < pages, "latest", matches=matches)

    depth = min(max(setting("TEXT_DEPTH"), params.page * pp), cap)
    cands, matches, vector_used = _candidates(params, depth)
    total = min(matches, cap)
    pages = max(1, math.ceil(total / pp))
    page = min(params.page, pages)
    if params.sort == "date":
        items = _items(_newest_first(_with_posts(cands))[(page - 1) * pp : page * pp], params.q)
    else:
        items = _items(_with_posts(cands[(page - 1) * pp : page * pp]), params.q)
    return SearchResult(items, total, page, pp, page < pages, "search", vector_used, matches)


def all_results(params: SearchParams) -> list[ResultItem]:
    """Every result of a search, up to MAX_RESULTS, in the requested order (for exports)."""
    cap = setting("MAX_RESULTS")
    if not params.q:
        return _latest(params, cap)
    cands, _, _ = _candidates(params, cap)
    found = _with_posts(cands[:cap])
    return _items(_newest_first(found) if params.sort == "date" else found, params.q)


def _narrowed(f: SearchFilters, since: datetime | None, until: datetime | None) -> SearchFilters:
    """The filters within [since, until) as well."""
    if since is not None and (f.since is None or since > f.since):
        f = replace(f, since=since)
    if until is not None and (f.until is None or until < f.until):
        f = replace(f, until=until)
    return f


def count_matches(
    params: SearchParams, filters: SearchFilters, since: datetime | None = None, until: datetime | None = None
) -> int:
    """How many posts the search (``params.q``, or none: every post) finds under
    ``filters`` published in [since, until): what the search page would count
    (up to MAX_RESULTS)."""
    f = _narrowed(filters, since, until)
    if not params.q:
        return min(services().store.count_latest(f), setting("MAX_RESULTS"))
    return min(_candidates(params, setting("TEXT_DEPTH"), f)[1], setting("MAX_RESULTS"))


def newest_match_items(
    params: SearchParams, filters: SearchFilters, limit: int, since: datetime | None = None
) -> list[ResultItem]:
    """The newest ``limit`` results the search finds under ``filters`` (published
    from ``since`` on), newest first: for alerts and their feeds."""
    f = _narrowed(filters, since, None)
    if not params.q:
        return [ResultItem(p, None, Markup(""), "latest") for p in services().store.latest_posts(f, limit=limit)]
    cands, _, _ = _candidates(params, setting("MAX_RESULTS"), f, all_text=True)
    return _items(_newest_first(_with_posts(cands))[:limit], params.q)


def newest_matches(
    params: SearchParams, filters: SearchFilters, limit: int, since: datetime | None = None
) -> list[Post]:
    """The posts of newest_match_items."""
    return [it.post for it in newest_match_items(params, filters, limit, since)]


# -- facets: what each filter's values would give, for the current query and the other filters --

TYPE_LABELS = {"complaint": "Complaints", "comment": "Comments", "company_reply": "Company replies"}
STANCE_LABELS = {"complaint": "Complaint", "praise": "Praise", "question": "Question", "other": "Other"}


def _similar_ids(params: SearchParams, fields: Sequence[str]) -> dict[str, list[int]]:
    """Per facet, the similar-in-meaning hits the page would add under the facet's filters
    (vector_hits asks once per distinct set of filters: the facets whose filter is not set,
    and the results, share one search)."""
    svc = services()
    if not params.q or not params.similar or svc.embedder is None:
        return {}
    min_sim = setting("VECTOR_MIN_SIMILARITY")
    return {
        name: [pid for pid, sim in vector_hits(params.q, facet_filters(params.filters, name)) if sim >= min_sim]
        for name in fields
    }


def facet_counts(params: SearchParams, fields: Sequence[str] = FACET_FIELDS) -> FacetCounts:
    """Per facet (FACET_FIELDS), the posts of this search with each value, under every other
    filter: the text matches (every one, past the page's depth) and the similar hits when
    ``similar`` is on; no query: every post. Company replies, comments and complaints apart."""
    return services().store.facet_counts(params.q, params.filters, fields, _similar_ids(params, fields))


@dataclass(slots=True)
class FacetOption:
    value: FacetValue
    label: str
    counts: FacetCount = field(default_factory=lambda: FacetCount(""))
    selected: bool = False

    @property
    def count(self) -> int:
        return self.counts.count


def facet_labeller(name: str, incidents: dict[int, Incident]) -> Callable[[FacetValue], str]:
    """The label of a facet's values, its lookups (company names, site names) done once:
    a company drop-down at 100k posts labels hundreds of options."""
    if name == "company":
        names = company_names()
        return lambda v: strip_bidi(names.get(str(v)) or str(v))
    if name == "site":
        named = sites()
        return lambda v: info.label if (info := named.get(str(v))) is not None else str(v)
    if name == "incident":

        def incident(v: FacetValue) -> str:
            inc = incidents.get(int(v)) if isinstance(v, int) or str(v).isdigit() else None
            return inc.label_en if inc else f"Incident #{v}"

        return incident
    if name == "type":
        return lambda v: TYPE_LABELS.get(str(v), str(v))
    if name == "stance":
        return lambda v: STANCE_LABELS.get(str(v), str(v))
    return str


_LABEL_MEMO_MAX = 20_000


def _memo_labeller(name: str, incidents: dict[int, Incident]) -> Callable[[FacetValue], str]:
    """facet_labeller, with the company labels kept with the names they come from (read
    again only after a store change): the company drop-down labels hundreds of values per page."""
    if name != "company":
        return facet_labeller(name, incidents)
    names, memo = company_names_and_labels()

    def label(v: FacetValue) -> str:
        got = memo.get(v)
        if got is None:
            got = strip_bidi(names.get(str(v)) or str(v))  # as facet_labeller's
            if len(memo) < _LABEL_MEMO_MAX:  # a selected value comes from the URL: bounded
                memo[v] = got
        return got

    return label


def facet_label(name: str, value: FacetValue, incidents: dict[int, Incident]) -> str:
    return facet_labeller(name, incidents)(value)


def _selected(params: SearchParams, name: str) -> FacetValue | None:
    value = {
        "company": params.company,
        "site": params.site,
        "lang": params.lang,
        "incident": params.incident,
        "type": params.post_type,
        "stance": params.stance,
    }[name]
    return None if value in (None, "") else value


def facet_options(
    params: SearchParams,
    counts: FacetCounts,
    incidents: dict[int, Incident],
    known: dict[str, Iterable[FacetValue]] | None = None,
) -> dict[str, list[FacetOption]]:
    """The drop-downs: per facet its values with posts (companies most complaints first, as
    the companies list ranks them; the others most posts first), then the ``known`` values
    the search has no posts for, and the selected value whatever it counts."""
    out: dict[str, list[FacetOption]] = {}
    for name, found in counts.items():
        if name == "company":
            found = sorted(found, key=lambda c: (-c.complaints, -c.count, str(c.value)))
        picked = _selected(params, name)
        label = _memo_labeller(name, incidents)
        opts = [FacetOption(c.value, label(c.value), c, c.value == picked) for c in found]
        have = {o.value for o in opts}
        extra = list((known or {}).get(name, ()))
        if picked is not None:
            extra.append(picked)
        for v in extra:
            if v not in have:
                have.add(v)
                opts.append(FacetOption(v, label(v), FacetCount(v), v == picked))
        out[name] = opts
    return out


def facets_dict(params: SearchParams, counts: FacetCounts, incidents: dict[int, Incident]) -> dict:
    """The API's ``facets``: per facet its values with posts, complaints, comments and company
    replies apart (the page's drop-downs show the same numbers)."""
    return {
        name: [
            {
                "value": o.value,
                "label": o.label,
                "count": o.count,
                "complaints": o.counts.complaints,
                "comments": o.counts.comments,
                "company_replies": o.counts.company_replies,
            }
            for o in opts
        ]
        for name, opts in facet_options(params, counts, incidents).items()
    }
