"""The analytics role: the aggregates the company, incident and overview
pages need, by aggregations (terms, date_histogram, composite) rather than
reads of every post. No scripts: a cluster may run without painless.

Request bodies come from ``queries``, responses are read by ``aggregations``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import numpy as np

from ...stance import STANCES
from ..base import CompanyCounts, ComplaintReply, ComplaintSummary, IncidentStat
from . import aggregations as agg
from . import queries as q
from .connection import KEYS, PAGE, ESBase
from .documents import (
    COMPLAINT_SOURCE,
    complaint_reply,
    from_epoch_ms,
    key_of,
    keyed,
    parse_dt,
    thread_key,
)


class AnalyticsMixin(ESBase):
    def _aggs(self, aggs: dict[str, Any], query: dict[str, Any] | None = None) -> dict[str, Any]:
        """The aggregations of a size-0 search over the posts."""
        kw: dict[str, Any] = {"query": query} if query else {}
        return self.es.search(index=self.alias, size=0, aggs=aggs, **kw)["aggregations"]

    def _composite_buckets(
        self, query: dict[str, Any], sources: list[dict[str, Any]], aggs: dict[str, Any] | None = None, size: int = KEYS
    ) -> Iterator[dict[str, Any]]:
        """Every bucket of a composite aggregation over the matching posts (doc values: no sources read)."""
        after = None
        while True:
            res = self._aggs(q.composite_agg(sources, size, after, aggs), query)["c"]
            yield from res["buckets"]
            after = res.get("after_key")
            if not res["buckets"] or not after:
                return

    def _composite(self, query: dict[str, Any], field: str) -> Iterator[tuple[str, int]]:
        """(value, doc count) of a keyword field over the matching posts, every bucket."""
        for b in self._composite_buckets(query, [{"k": {"terms": {"field": field}}}], size=PAGE):
            yield b["key"]["k"], int(b["doc_count"])

    # -- overview --
    def companies(self) -> list[tuple[str, int]]:
        return agg.term_counts(self._aggs(q.counts_agg("companies"))["c"])

    def sites(self) -> list[tuple[str, int]]:
        return agg.term_counts(self._aggs(q.counts_agg("source_site"))["c"])

    def languages(self) -> list[tuple[str, int]]:
        return agg.term_counts(self._aggs(q.counts_agg("language", exclude=[""]))["c"])

    def company_counts(self) -> list[CompanyCounts]:
        return agg.company_counts(self._aggs(q.company_kinds_agg()))

    def incident_company_counts(self, incident_id: int) -> list[tuple[str, int]]:
        query = {"bool": {"filter": [{"term": {"incident_id": int(incident_id)}}], "must_not": [q.IS_COMMENT]}}
        aggs = {"c": {"terms": {"field": "companies", "size": 10_000}, "aggs": {"stories": q.STORIES}}}
        return agg.story_counts(self._aggs(aggs, query)["c"])

    # -- a company's page --
    def complaint_incident_counts(self, companies: Iterable[str]) -> tuple[int, dict[int, int]]:
        companies = list(dict.fromkeys(companies))
        if not companies:
            return 0, {}
        aggs = {
            "stories": q.STORIES,
            "incident": {"terms": {"field": "incident_id", "size": 10_000}, "aggs": {"stories": q.STORIES}},
        }
        res = self._aggs(aggs, q.complaint_incident_query(companies))
        per = {int(b["key"]): int(b["stories"]["value"]) for b in res["incident"]["buckets"]}
        return int(res["stories"]["value"]), per

    def company_incident_stats(self, company: str) -> list[IncidentStat]:
        res = self._aggs(q.incident_stats_aggs(), q.company_typed_complaints_query(company))
        return agg.incident_stats(company, res)

    def company_complaint_months(self, company: str) -> dict[str, int]:
        res = self._aggs({"monthly": {**q.monthly(), "aggs": {"stories": q.STORIES}}}, q.company_months_query(company))
        return agg.months(res["monthly"], stories=True)

    def company_reply_months(self, company: str) -> dict[str, int]:
        query = {"bool": {"filter": [{"term": {"companies": company}}, q.IS_REPLY]}}
        return agg.months(self._aggs({"m": q.monthly()}, query)["m"])

    def company_stance_counts(self, company: str) -> dict[str, int]:
        # one aggregation: the stances, plus the posts not classified yet that count as complaints
        aggs = {"s": {"terms": {"field": "stance", "size": len(STANCES) + 10}}, "unset": {"filter": q.UNSET_STANCE}}
        return agg.company_stance_counts(self._aggs(aggs, {"term": {"companies": company}}))

    def company_reply_stats(self, company: str) -> tuple[int, int]:
        # the opening posts' thread keys (thread_url, else url) by composite aggregation,
        # then per chunk of keys the thread members (thread_url = key, plus the post whose url = key)
        roots, no_thread = q.thread_roots_queries(company)
        n_roots: dict[str, int] = dict(self._composite(roots, "thread_url"))
        for url, n in self._composite(no_thread, "url"):
            n_roots[url] = n_roots.get(url, 0) + n
        keys = list(n_roots)
        threads = replied = 0
        for i in range(0, len(keys), PAGE):
            chunk = keys[i : i + PAGE]
            aggs = {
                "t": {
                    "terms": {"field": "thread_url", "size": len(chunk)},
                    "aggs": {"reply": {"max": {"field": "is_company_reply"}}},
                }
            }
            buckets = self._aggs(aggs, {"terms": {"thread_url": chunk}})["t"]["buckets"]
            members = {b["key"]: int(b["doc_count"]) for b in buckets}
            reply = {b["key"] for b in buckets if b["reply"]["value"]}
            own = self.es.search(
                index=self.alias,
                query={"terms": {"url": chunk}},
                size=len(chunk),
                source=["url", "thread_url", "is_company_reply"],
                track_total_hits=False,
            )["hits"]["hits"]
            for h in own:  # the post at the key's url, unless already counted by its thread_url
                src = h["_source"]
                if src.get("thread_url") != src["url"]:
                    members[src["url"]] = members.get(src["url"], 0) + 1
                    if src.get("is_company_reply"):
                        reply.add(src["url"])
            for k in chunk:
                if members.get(k, 0) > 1:
                    threads += n_roots[k]
                    replied += n_roots[k] if k in reply else 0
        return threads, replied

    def _replies_in_threads(self, keys: list[str]) -> tuple[dict[str, int], dict[str, datetime]]:
        """Per thread key (an opening post's thread_url, else url): the company replies in
        the thread and the first one's date. Per chunk of keys: the replies by thread_url
        aggregation, plus the reply at the key's url itself when its thread_url differs."""
        replies: dict[str, int] = {}
        first: dict[str, datetime] = {}

        def seen(key: str, n: int, when: datetime | None) -> None:
            replies[key] = replies.get(key, 0) + n
            if when is not None and (key not in first or when < first[key]):
                first[key] = when

        for i in range(0, len(keys), KEYS):
            chunk = keys[i : i + KEYS]
            aggs = {
                "t": {
                    "terms": {"field": "thread_url", "size": len(chunk)},
                    "aggs": {"first": {"min": {"field": "published_at"}}},
                }
            }
            query = {"bool": {"filter": [{"terms": {"thread_url": chunk}}, q.IS_REPLY]}}
            for b in self._aggs(aggs, query)["t"]["buckets"]:
                seen(b["key"], int(b["doc_count"]), from_epoch_ms(b["first"]["value"]))
            own = self.es.search(
                index=self.alias,
                query={"bool": {"filter": [{"terms": {"url": chunk}}, q.IS_REPLY]}},
                size=len(chunk),
                source=["url", "thread_url", "published_at"],
                track_total_hits=False,
            )["hits"]["hits"]
            for h in own:
                src = h["_source"]
                if src.get("thread_url") != src["url"]:
                    seen(src["url"], 1, parse_dt(src.get("published_at")))
        return replies, first

    def company_complaint_replies(self, company: str) -> list[ComplaintReply]:
        # the complaints, then the company replies in their threads (_replies_in_threads)
        roots = [h["_source"] for hits in self._scan(q.complaints_query(company), COMPLAINT_SOURCE) for h in hits]
        replies, first = self._replies_in_threads(sorted({thread_key(src) for src in roots}))
        return [complaint_reply(src, replies.get(key, 0) > 0, first.get(key)) for src, key in keyed(roots)]

    def company_complaint_summary(self, company: str, unanswered: int = 10) -> ComplaintSummary:
        # by aggregations, not a read of every complaint: (thread key, published) of the
        # complaints, the company replies in those threads, the first date of each story
        query = q.complaints_query(company)
        with_thread, without = q.split_by_thread(query)
        published = {"p": {"terms": {"field": "published_at", "missing_bucket": True}}}
        roots: dict[tuple[str, str, int | None], int] = {}  # (key field, key, published ms) -> complaints
        for field, fq in (("thread_url", with_thread), ("url", without)):
            for b in self._composite_buckets(fq, [{"k": {"terms": {"field": field}}}, published]):
                roots[(field, b["key"]["k"], b["key"]["p"])] = int(b["doc_count"])
        replies, first = self._replies_in_threads(sorted({k for _, k, _ in roots}))
        answered = {r: n for r, n in roots.items() if replies.get(r[1], 0) > 0}
        hours = [
            (max(0.0, (first[k].timestamp() * 1000 - p) / 3_600_000), n)
            for (_, k, p), n in answered.items()
            if p is not None and k in first
        ]
        median = None
        if hours:
            median = round(float(np.median(np.repeat([h for h, _ in hours], [n for _, n in hours]))), 1)
        stories = 0
        months: dict[str, int] = {}
        story_first = {"first": {"min": {"field": "published_at"}}}
        for b in self._composite_buckets(query, [{"h": {"terms": {"field": "content_hash"}}}], story_first):
            stories += 1
            when = from_epoch_ms(b["first"]["value"])
            if when is not None:
                m = when.strftime("%Y-%m")
                months[m] = months.get(m, 0) + 1
        open_ = {r: n for r, n in roots.items() if r not in answered}
        total = sum(roots.values())
        return ComplaintSummary(
            complaints=total,
            answered=total - sum(open_.values()),
            median_response_hours=median,
            unanswered=self._newest_of(query, open_, unanswered),
            unanswered_total=sum(open_.values()),
            stories=stories,
            monthly=dict(sorted(months.items())),
        )

    def _newest_of(self, query: dict[str, Any], groups: dict[tuple, int], limit: int) -> list[ComplaintReply]:
        """The newest ``limit`` complaints (undated last, then the higher id) among the
        (key field, key, published ms) groups: the posts of the groups that can hold them
        (ties at the boundary included), sorted as latest_posts sorts."""
        if limit <= 0 or not groups:
            return []
        order = sorted(groups, key=lambda r: (r[2] is not None, r[2] or 0), reverse=True)
        take: list[tuple] = []
        n = 0
        for r in order:
            if n >= limit and r[2] != take[-1][2]:
                break
            take.append(r)
            n += groups[r]
        sort = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "desc"}]
        if len(take) > KEYS:  # many undated ties: walk the complaints newest first instead
            wanted = {(f, k) for f, k, _ in groups}
            out = []
            for hits in self._scan(query, COMPLAINT_SOURCE, PAGE, sort):
                out += [complaint_reply(h["_source"], False, None) for h in hits if key_of(h["_source"]) in wanted]
                if len(out) >= limit:
                    break
            return out[:limit]
        keys: dict[str, list[str]] = {}
        for field, key, _ in take:
            keys.setdefault(field, []).append(key)
        res = self.es.search(
            index=self.alias,
            query={"bool": {**query["bool"], "should": q.in_threads_query(keys), "minimum_should_match": 1}},
            sort=sort,
            size=limit,
            source=COMPLAINT_SOURCE,
            track_total_hits=False,
        )
        return [complaint_reply(h["_source"], False, None) for h in res["hits"]["hits"]]

    # display names by company id: one document of the meta index (not indexed: dynamic false)
    def set_company_names(self, names: dict[str, str]) -> None:
        merged = {**self.company_names(), **{str(k): str(v) for k, v in names.items() if k and v}}
        self.es.index(
            index=self.meta_index,
            id="company_names",
            document={"names_json": json.dumps(merged, ensure_ascii=False)},
            refresh=True,
        )

    def company_names(self) -> dict[str, str]:
        from elasticsearch import NotFoundError

        try:
            doc = self.es.get(index=self.meta_index, id="company_names")
        except NotFoundError:
            return {}
        return dict(json.loads(doc["_source"].get("names_json") or "{}"))
