"""Aggregation responses read into what the pages need (the dataclasses of
``indexer.store.base``). Pure functions over the response dicts; the request
bodies they read are built in ``queries``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from complaintwatch.models import POST_TYPES

from ...stance import COMPLAINT, STANCES
from ..types import CompanyCounts, FacetCounts, IncidentStat, facet_from_parts, rank_company_counts
from .documents import from_epoch_ms

Aggs = dict[str, Any]


def facet_counts(aggs: Aggs, fields: Sequence[str]) -> FacetCounts:
    """A facets_request response -> per facet its values, counted per post type."""
    out: FacetCounts = {}
    for name in fields:
        agg = aggs[name]
        parts: dict[str, list[tuple[Any, int]]] = {t: [] for t in POST_TYPES}
        if name == "type":
            for t, b in agg["v"]["buckets"].items():
                parts[t].append((t, int(b["doc_count"])))
        else:
            buckets = [(b["key"], b) for b in agg["v"]["buckets"] if b["key"] not in ("", None)]
            if name == "stance":  # not classified yet counts as a complaint
                buckets.append((COMPLAINT, agg["unset"]))
            for key, b in buckets:
                for t, kb in b["k"]["buckets"].items():
                    parts[t].append((int(key) if name == "incident" else key, int(kb["doc_count"])))
        out[name] = facet_from_parts(*(parts[t] for t in POST_TYPES))
    return out


def incident_stats(company: str, aggs: Aggs) -> list[IncidentStat]:
    """An incident_stats_aggs response -> the company's incident types, most stories first."""
    stats = [
        IncidentStat(
            company=company,
            incident_id=int(b["key"]),
            count=int(b["stories"]["value"]),
            first_seen=from_epoch_ms(b["first"]["value"]),
            last_seen=from_epoch_ms(b["last"]["value"]),
            monthly={m["key_as_string"]: int(m["stories"]["value"]) for m in b["monthly"]["buckets"]},
        )
        for b in aggs["incident"]["buckets"]
    ]
    return sorted(stats, key=lambda s: (-s.count, s.incident_id))


def months(agg: Aggs, stories: bool = False) -> dict[str, int]:
    """A monthly histogram -> {yyyy-MM: posts (or distinct stories)}."""
    return {b["key_as_string"]: int(b["stories"]["value"]) if stories else int(b["doc_count"]) for b in agg["buckets"]}


def term_counts(agg: Aggs) -> list[tuple[Any, int]]:
    return [(b["key"], int(b["doc_count"])) for b in agg["buckets"]]


def story_counts(agg: Aggs) -> list[tuple[str, int]]:
    """Terms buckets with a stories sub-aggregation -> (key, stories), most first."""
    counts = [(b["key"], int(b["stories"]["value"])) for b in agg["buckets"]]
    return sorted(counts, key=lambda kv: (-kv[1], kv[0]))


def stance_counts(aggs: Aggs) -> dict[str | None, int]:
    """Stances with a ``missing: "__none__"`` bucket -> {stance or None: posts}."""
    return {(None if b["key"] == "__none__" else b["key"]): int(b["doc_count"]) for b in aggs["s"]["buckets"]}


def company_stance_counts(aggs: Aggs) -> dict[str, int]:
    """Every stance; the posts not classified yet count as complaints."""
    by = {b["key"]: int(b["doc_count"]) for b in aggs["s"]["buckets"]}
    out = {st: by.get(st, 0) for st in STANCES}
    out[COMPLAINT] += int(aggs["unset"]["doc_count"])
    return out


def company_counts(aggs: Aggs) -> list[CompanyCounts]:
    """A company_kinds_agg response -> per company its complaints, comments and replies, ranked."""
    out = []
    for b in aggs["c"]["buckets"]:
        k = b["k"]["buckets"]
        n = {name: int(k[name]["doc_count"]) for name in ("complaints", "comments", "replies")}
        out.append(CompanyCounts(b["key"], n["complaints"], n["comments"], n["replies"]))
    return rank_company_counts(out)
