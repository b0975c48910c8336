"""Request bodies (queries, kNN clauses, aggregations) built from the search
filters and parsed user queries. Pure functions: no client, no I/O, so every
body can be checked without a cluster (tests/test_es_queries.py).

User syntax never reaches query_string: a parsed query (``indexer.query``)
becomes match_phrase clauses over the stem fields, a phrase inside one field
like an FTS5 phrase inside one column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from complaintwatch.models import POST_TYPES, SearchFilters

from ...query import ParsedQuery
from ...stance import COMPLAINT, STANCES
from ..types import facet_filters
from .documents import index_terms, iso, vec_json

Query = dict[str, Any]

NOT_COMPLAINTS = [s for s in STANCES if s != COMPLAINT]
# a story posted on several URLs (same content_hash) counts once in company
# stats; exact below the threshold (the maximum Elasticsearch allows)
STORIES: Query = {"cardinality": {"field": "content_hash", "precision_threshold": 40_000}}
IS_REPLY: Query = {"term": {"is_company_reply": True}}
IS_COMMENT: Query = {"exists": {"field": "parent_url"}}
# not classified yet counts as a complaint; a company's reply never does
UNSET_STANCE: Query = {"bool": {"must_not": [{"exists": {"field": "stance"}}, IS_REPLY]}}
# facet name -> the keyword field it counts
FACET_TERMS = {"company": "companies", "site": "source_site", "lang": "language", "incident": "incident_id"}


def missing(field: str) -> Query:
    return {"bool": {"must_not": [{"exists": {"field": field}}]}}


def any_of(*clauses: Query) -> Query:
    return {"bool": {"should": list(clauses), "minimum_should_match": 1}}


def monthly(field: str = "published_at") -> Query:
    """A calendar-month histogram, keys ``yyyy-MM`` in UTC, empty months left out."""
    return {
        "date_histogram": {
            "field": field,
            "calendar_interval": "month",
            "format": "yyyy-MM",
            "min_doc_count": 1,
            "time_zone": "UTC",
        }
    }


# -- search filters --------------------------------------------------------
def filter_clauses(f: SearchFilters | None) -> tuple[list[Query], list[Query]]:
    """(filter, must_not) clauses for the search filters."""
    if f is None:
        return [], []
    flt: list[Query] = []
    must_not: list[Query] = []
    if f.company:
        flt.append({"term": {"companies": f.company}})
    if f.incident_id is not None:
        flt.append({"term": {"incident_id": f.incident_id}})
    if f.site:
        flt.append({"term": {"source_site": f.site}})
    if f.language:
        flt.append({"term": {"language": f.language}})
    if f.since or f.until:
        rng: dict[str, str | None] = {}
        if f.since:
            rng["gte"] = iso(f.since)
        if f.until:
            rng["lt"] = iso(f.until)
        flt.append({"range": {"published_at": rng}})
    if not f.include_comments:
        must_not.append(IS_COMMENT)
    if f.stance == COMPLAINT:
        flt.append(any_of({"term": {"stance": COMPLAINT}}, UNSET_STANCE))
    elif f.stance:
        flt.append({"term": {"stance": f.stance}})
    if f.post_type == "complaint":  # an opening post or review by a customer
        must_not += [IS_COMMENT, IS_REPLY]
    elif f.post_type == "comment":
        flt.append(IS_COMMENT)
        must_not.append(IS_REPLY)
    elif f.post_type == "company_reply":
        flt.append(IS_REPLY)
    return flt, must_not


def filter_query(f: SearchFilters | None) -> Query:
    """The posts the filters allow, as one bool query (no scoring)."""
    flt, must_not = filter_clauses(f)
    return {"bool": {"filter": flt, "must_not": must_not}}


# -- user queries ------------------------------------------------------------
def phrase(ph: list[str]) -> Query | None:
    """A phrase of stems, in the title (boosted) or the text; None when no term is left."""
    terms = index_terms(ph)
    if not terms:
        return None
    q = " ".join(terms)
    return any_of(
        {"match_phrase": {"title_stems": {"query": q, "boost": 2.0}}},
        {"match_phrase": {"text_stems": {"query": q}}},
    )


def phrases(group: Iterable[list[str]]) -> list[Query]:
    return [c for c in map(phrase, group) if c]


def text_query(pq: ParsedQuery, filters: SearchFilters | None = None) -> Query | None:
    """The bool query for a parsed user query; None when it can match nothing."""
    must = phrases(pq.must)
    for grp in pq.any_of:
        alts = phrases(grp)
        if alts:
            must.append({"bool": {"should": alts, "minimum_should_match": 1}})
    if not must:
        return None
    flt, must_not = filter_clauses(filters)
    must_not += phrases(pq.exclude)
    return {"bool": {"must": must, "filter": flt, "must_not": must_not}}


# HNSW candidates per segment for each hit asked (Elasticsearch caps them at 10,000). Measured on
# the bench corpus at 300k posts (49 segments, not merged), recall@10 against exact search,
# 10x -> 30x -> 100x: a query text's 100 neighbours (hybrid) 0.77 -> 0.90 -> 0.93, with filters
# 0.93 -> 0.96 -> 0.97; a post's own 10 neighbours 0.97 throughout; hybrid p50 49 -> 74 -> 114 ms.
NUM_CANDIDATES_PER_HIT = 30


def knn_clause(
    field: str, vector: np.ndarray, filters: SearchFilters | None, k: int, pq: ParsedQuery | None = None
) -> Query:
    """The ``knn`` option: filters applied inside the kNN search (not after it),
    so ``k`` hits come back whenever ``k`` posts pass them."""
    knn: Query = {
        "field": field,
        "query_vector": vec_json(vector),
        "k": k,
        "num_candidates": min(10_000, max(100, NUM_CANDIDATES_PER_HIT * k)),
    }
    flt, must_not = filter_clauses(filters)
    if pq is not None:  # the query's phrases, +words and -words hold for vector hits too
        for grp in pq.required:
            flt.append({"bool": {"should": phrases(grp), "minimum_should_match": 1}})
        must_not += phrases(pq.exclude)
    if flt or must_not:
        knn["filter"] = {"bool": {"filter": flt, "must_not": must_not}}
    return knn


# -- facets: one request, a filter aggregation per facet (its own filter left out) --
def post_kinds_agg() -> Query:
    """A filters aggregation: the posts of each post type (POST_TYPES)."""
    return {"filters": {"filters": {t: filter_query(SearchFilters(post_type=t)) for t in POST_TYPES}}}


def facet_aggs(name: str) -> Query:
    by_kind = {"k": post_kinds_agg()}
    if name in FACET_TERMS:
        return {"v": {"terms": {"field": FACET_TERMS[name], "size": 10_000}, "aggs": by_kind}}
    if name == "type":
        return {"v": post_kinds_agg()}
    if name == "stance":
        return {
            "v": {"terms": {"field": "stance", "size": 100}, "aggs": by_kind},
            "unset": {"filter": UNSET_STANCE, "aggs": by_kind},
        }
    raise ValueError(f"unknown facet {name!r}")


def facets_request(
    text: Query | None,
    filters: SearchFilters | None,
    fields: Sequence[str],
    also: Mapping[str, Iterable[int]] | None = None,
) -> Query:
    """The aggregations of a facet request: per facet the posts the text query
    and every other facet's filter allow, plus the ``also`` post ids."""
    aggs: Query = {}
    for name in fields:
        flt, must_not = filter_clauses(facet_filters(filters, name))
        found: Query = {"bool": {"filter": ([text] if text else []) + flt, "must_not": must_not}}
        extra = [int(i) for i in (also or {}).get(name) or ()]
        if extra:
            found = any_of(found, {"terms": {"id": extra}})
        aggs[name] = {"filter": found, "aggs": facet_aggs(name)}
    return aggs


# -- posts by key ----------------------------------------------------------
def journal_query(must_not: list[Query], filters: list[Query], upto: int | None) -> Query:
    """Posts of the change journal: changed no later than ``upto`` (None: any)."""
    if upto is not None:
        filters = [*filters, {"range": {"change_seq": {"lte": int(upto)}}}]
    return {"bool": {"must_not": must_not, "filter": filters}}


def thread_query(url: str) -> Query:
    return any_of({"term": {"url": url}}, {"term": {"thread_url": url}})


def thread_members_query(urls: list[str]) -> Query:
    """The posts of these threads: the openers, their members, and replies to an
    opener that name no thread."""
    return any_of(
        {"terms": {"url": urls}},
        {"terms": {"thread_url": urls}},
        {"bool": {"must_not": [{"exists": {"field": "thread_url"}}], "filter": [{"terms": {"parent_url": urls}}]}},
    )


def without_stance_query() -> Query:
    return {"bool": {"must_not": [{"exists": {"field": "stance"}}, IS_REPLY]}}


def same_story_query(content_hash: str, url: str) -> Query:
    return {
        "bool": {
            "filter": [{"term": {"content_hash": content_hash}}],
            "must_not": [{"term": {"url": url}}, IS_COMMENT],
        }
    }


def url_hosts_query(hosts: list[str]) -> Query:
    """Posts whose url, thread_url or parent_url contains one of the hosts (a
    coarse pre-filter: the takedown matcher decides)."""
    return any_of(
        *(
            {"wildcard": {f: {"value": f"*{h}*", "case_insensitive": True}}}
            for h in hosts
            for f in ("url", "thread_url", "parent_url")
        )
    )


def under_urls_query(urls: list[str]) -> Query:
    """Posts at, in the thread of, or answering one of the urls."""
    return any_of(*({"terms": {f: urls}} for f in ("url", "thread_url", "parent_url")))


# -- company pages ---------------------------------------------------------
def complaints_query(company: str) -> Query:
    """The company's complaints: opening posts by customers, stance complaint or none yet."""
    return {
        "bool": {
            "filter": [{"term": {"companies": company}}],
            "must_not": [IS_COMMENT, IS_REPLY, {"terms": {"stance": NOT_COMPLAINTS}}],
        }
    }


def complaint_incident_query(companies: list[str]) -> Query:
    return {
        "bool": {
            "filter": [
                {"terms": {"companies": companies}},
                any_of({"term": {"stance": COMPLAINT}}, missing("stance")),
            ],
            "must_not": [IS_COMMENT, IS_REPLY],
        }
    }


def company_typed_complaints_query(company: str) -> Query:
    """Complaints of a company that have an incident type (no stance: not classified yet, an older store)."""
    return {
        "bool": {
            "filter": [{"term": {"companies": company}}, {"exists": {"field": "incident_id"}}],
            "must_not": [IS_COMMENT, {"terms": {"stance": NOT_COMPLAINTS}}],
        }
    }


def incident_stats_aggs() -> Query:
    """Per incident type: stories, stories per month, first and last date."""
    return {
        "incident": {
            "terms": {"field": "incident_id", "size": 10_000},
            "aggs": {
                "stories": STORIES,
                "monthly": {**monthly(), "aggs": {"stories": STORIES}},
                "first": {"min": {"field": "published_at"}},
                "last": {"max": {"field": "published_at"}},
            },
        }
    }


def company_months_query(company: str) -> Query:
    return {
        "bool": {
            "filter": [{"term": {"companies": company}}, {"exists": {"field": "published_at"}}],
            "must_not": [IS_COMMENT, {"terms": {"stance": NOT_COMPLAINTS}}],
        }
    }


def company_kinds_agg() -> Query:
    """Per company: its complaints, comments and company replies."""
    kinds = {
        "complaints": {"bool": {"must_not": [IS_REPLY, IS_COMMENT]}},
        "comments": {"bool": {"filter": [IS_COMMENT], "must_not": [IS_REPLY]}},
        "replies": IS_REPLY,
    }
    return {"c": {"terms": {"field": "companies", "size": 10_000}, "aggs": {"k": {"filters": {"filters": kinds}}}}}


def counts_agg(field: str, exclude: list[str] | None = None) -> Query:
    """Every value of a keyword field with its post count, most first."""
    terms: Query = {"field": field, "size": 10_000, "order": [{"_count": "desc"}, {"_key": "asc"}]}
    if exclude:
        terms["exclude"] = exclude
    return {"c": {"terms": terms}}


def composite_agg(sources: list[Query], size: int, after: Any = None, aggs: Query | None = None) -> Query:
    """One page of a composite aggregation (``after``: the previous page's after_key)."""
    comp: Query = {"composite": {"size": size, "sources": sources}}
    if after:
        comp["composite"]["after"] = after
    if aggs:
        comp["aggs"] = aggs
    return {"c": comp}


def thread_roots_queries(company: str) -> tuple[Query, Query]:
    """The company's opening posts that name a thread_url, and those that do not (keyed by url)."""
    roots = {"bool": {"filter": [{"term": {"companies": company}}], "must_not": [IS_COMMENT]}}
    no_thread = {
        "bool": {"filter": roots["bool"]["filter"], "must_not": [IS_COMMENT, {"exists": {"field": "thread_url"}}]}
    }
    return roots, no_thread


def split_by_thread(query: Query) -> tuple[Query, Query]:
    """A bool query narrowed to posts with a thread_url, and to those without one."""
    has_thread = {"exists": {"field": "thread_url"}}
    with_thread = {"bool": {**query["bool"], "filter": [*query["bool"]["filter"], has_thread]}}
    without = {"bool": {**query["bool"], "must_not": [*query["bool"]["must_not"], has_thread]}}
    return with_thread, without


def in_threads_query(keys: dict[str, list[str]]) -> list[Query]:
    """Should-clauses for opening posts by thread key: {"thread_url": [...], "url": [...]}."""
    should: list[Query] = []
    if "thread_url" in keys:
        should.append({"terms": {"thread_url": keys["thread_url"]}})
    if "url" in keys:
        should.append(
            {"bool": {"filter": [{"terms": {"url": keys["url"]}}], "must_not": [{"exists": {"field": "thread_url"}}]}}
        )
    return should
