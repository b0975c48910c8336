"""`complaintwatch check` on Elasticsearch: what a crash, a hand edit or an
old bug can leave behind. Posts still waiting for a vector are no problem:
the next index run embeds them."""

from __future__ import annotations

from complaintwatch.models import canonical_url

from ..base import TakedownMatcher
from . import queries as q
from .connection import ESBase
from .documents import doc_key
from .takedowns import matching_posts


class IntegrityMixin(ESBase):
    def _seq_next(self) -> int | None:
        """The next post id the counter hands out (None: no post written yet)."""
        from elasticsearch import NotFoundError

        try:
            return int(self.es.get(index=self.meta_index, id="post_seq")["_source"]["next"])
        except NotFoundError:
            return None

    def check(self) -> list[str]:
        problems: list[str] = []
        health = self.es.cluster.health(index=[self.alias, self.incidents_index, self.meta_index, self.saved_index])
        if health["status"] == "red":
            problems.append(f"cluster health is red for {self.prefix} indices")
        behind = list(self.es.indices.get_alias(name=self.alias))
        if len(behind) != 1:
            problems.append(f"alias {self.alias} points at {len(behind)} indices: {sorted(behind)}")
            return problems
        aggs = self.es.search(
            index=self.alias,
            size=0,
            aggs={
                "dup_ids": {"terms": {"field": "id", "min_doc_count": 2, "size": 10}},
                "dup_urls": {"terms": {"field": "url", "min_doc_count": 2, "size": 10}},
                "no_id": {"missing": {"field": "id"}},
                "max_id": {"max": {"field": "id"}},
                "incidents": {"terms": {"field": "incident_id", "size": 65_000}},
            },
        )["aggregations"]
        if aggs["dup_ids"]["buckets"]:
            problems.append(f"{len(aggs['dup_ids']['buckets'])}+ post ids used by more than one post")
        if aggs["dup_urls"]["buckets"]:
            problems.append(f"{len(aggs['dup_urls']['buckets'])}+ URLs stored more than once")
        if aggs["no_id"]["doc_count"]:
            problems.append(f"{aggs['no_id']['doc_count']} posts without an id")
        known = {i.id for i in self.incidents()}
        bad = sum(b["doc_count"] for b in aggs["incidents"]["buckets"] if b["key"] not in known)
        if bad:
            problems.append(f"{bad} posts point at an unknown incident type")
        max_id = aggs["max_id"]["value"]
        nxt = self._seq_next()
        if max_id is not None and nxt is not None and nxt <= max_id:
            problems.append(f"id sequence ({nxt}) is behind the highest post id ({int(max_id)})")
        problems += self._check_more()
        return problems

    def _check_more(self) -> list[str]:
        problems: list[str] = []
        no_stems = self.es.count(
            index=self.alias, query=q.any_of(*(q.missing(f) for f in ("text_stems", "title_stems")))
        )["count"]
        if no_stems:
            problems.append(f"{no_stems} posts missing from the full-text fields (title_stems/text_stems)")
        odd = misplaced = 0
        for hits in self._scan({"match_all": {}}, ["url"], 5000):
            for h in hits:
                u = h["_source"].get("url") or ""
                if canonical_url(u) != u:
                    odd += 1
                elif doc_key(u) != h["_id"]:
                    misplaced += 1
        if odd:
            problems.append(f"{odd} posts stored under a non-canonical URL (a re-crawl would duplicate them)")
        if misplaced:
            problems.append(f"{misplaced} posts stored under another URL's document id")
        if matcher := TakedownMatcher(self.takedowns()):
            stored = [h["_source"]["url"] for h in matching_posts(self, matcher)]
            if stored:
                problems.append(f"{len(stored)} posts stored for taken-down URLs (e.g. {sorted(stored)[0]})")
        return problems
