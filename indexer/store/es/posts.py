"""The posts role: writes (upsert with ids and change numbers from counter
documents) and reads by id, URL and thread.

A post's document _id is a digest of its canonical URL (documents.doc_key), so
a URL exists once however many crawlers write it; the integer post id and the
change number come from compare-and-set counters in the meta index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from complaintwatch.models import Post, canonical_url

from ..base import UpsertResult
from ..types import FitRow
from . import queries as q
from .connection import MAX_WINDOW, PAGE, ESBase
from .documents import POST_SOURCE, doc_key, iso, now_ms, post_doc, post_from_source

UPSERT_BATCH = 1000
# the _source fields a FitRow is read from
FIT_SOURCE = ["id", "title", "text", "companies", "is_company_reply", "parent_url", "stance", "incident_id"]


class PostsMixin(ESBase):
    # -- counters --
    def _allocate_ids(self, n: int) -> int:
        """First of ``n`` consecutive new post ids (compare-and-set on a counter doc)."""
        return self._allocate("post_seq", "id", n)

    def _allocate(self, counter: str, field: str, n: int) -> int:
        """First of ``n`` consecutive numbers from the counter doc ``counter``
        (compare-and-set), which starts above the highest ``field`` stored."""
        from elasticsearch import ConflictError, NotFoundError

        while True:
            try:
                doc = self.es.get(index=self.meta_index, id=counter)
            except NotFoundError:
                mx = self.es.search(index=self.alias, size=0, aggs={"m": {"max": {"field": field}}})
                first = int(mx["aggregations"]["m"]["value"] or 0) + 1
                try:
                    self.es.create(index=self.meta_index, id=counter, document={"next": first + n})
                    return first
                except ConflictError:
                    continue
            first = int(doc["_source"]["next"])
            try:
                self.es.index(
                    index=self.meta_index,
                    id=counter,
                    document={"next": first + n},
                    if_seq_no=doc["_seq_no"],
                    if_primary_term=doc["_primary_term"],
                )
                return first
            except ConflictError:
                continue

    def change_seq(self) -> int:
        from elasticsearch import NotFoundError

        try:
            return int(self.es.get(index=self.meta_index, id="change_seq")["_source"]["next"]) - 1
        except NotFoundError:
            mx = self.es.search(index=self.alias, size=0, aggs={"m": {"max": {"field": "change_seq"}}})
            return int(mx["aggregations"]["m"]["value"] or 0)

    # -- writes --
    def upsert_posts(self, posts: Iterable[Post]) -> UpsertResult:
        res = UpsertResult()
        batch: list[Post] = []
        for p in posts:
            batch.append(p)
            if len(batch) >= UPSERT_BATCH:
                self._upsert_batch(batch, res)
                batch = []
        if batch:
            self._upsert_batch(batch, res)
        if res.new or res.updated:
            self._vec_cache.clear()
        if res.new or res.updated or res.unchanged:
            self._after_write()
        return res

    def _upsert_batch(self, batch: list[Post], res: UpsertResult, retry: bool = True) -> None:
        keys = [doc_key(p.url) for p in batch]
        found = self.es.mget(
            index=self.alias, ids=list(dict.fromkeys(keys)), source=["id", "content_hash", "incident_id", "rating"]
        )["docs"]
        state: dict[str, dict[str, Any]] = {d["_id"]: d["_source"] for d in found if d.get("found")}
        # ids for the posts that are new (first occurrence of a URL in this batch)
        new_keys = list(dict.fromkeys(k for k in keys if k not in state))
        next_id = self._allocate_ids(len(new_keys)) if new_keys else 0
        new_ids = {k: next_id + i for i, k in enumerate(new_keys)}
        # change sequence numbers for every post written in full (new or changed; upper bound)
        changed = sum(1 for p, k in zip(batch, keys) if k not in state or state[k]["content_hash"] != p.content_hash)
        seqs = iter(range(self._allocate("change_seq", "change_seq", changed), 2**62)) if changed else iter(())
        actions: list[dict[str, Any]] = []
        created: dict[str, Post] = {}
        for p, key in zip(batch, keys):
            cur = state.get(key)
            if cur is None:
                pid = new_ids[key]
                actions.append({"_op_type": "create", "_id": key, "_source": post_doc(p, pid, None, next(seqs))})
                created[key] = p
                state[key] = {"id": pid, "content_hash": p.content_hash, "incident_id": None, "rating": p.rating}
                res.new += 1
            elif cur["content_hash"] == p.content_hash:
                doc: dict[str, Any] = {"fetched_at": iso(p.fetched_at), "updated_at": now_ms()}
                if p.rating is not None and p.rating != cur.get("rating"):
                    # a rating read only now (or changed) is kept, and the stance it implies is redone
                    doc |= {"rating": p.rating, "stance": None}
                    cur["rating"] = p.rating
                # concurrent re-crawls touch the same document: last fetch wins
                actions.append({"_op_type": "update", "_id": key, "retry_on_conflict": 5, "doc": doc})
                pid = cur["id"]
                res.unchanged += 1
            else:
                # content changed: keep id and incident, drop the stale vectors (full replace)
                pid = cur["id"]
                doc = post_doc(p, pid, cur.get("incident_id"), next(seqs))
                actions.append({"_op_type": "index", "_id": key, "_source": doc})
                state[key] = {**cur, "content_hash": p.content_hash, "rating": p.rating}
                res.updated += 1
            p.id = pid
        conflicts = self._bulk(actions)
        if conflicts:
            # another writer created some of these URLs between our mget and create: redo them as upserts
            lost = {c["_id"] for c in conflicts}
            again = [created[k] for k in lost]
            res.new -= len(again)
            if not retry:
                raise RuntimeError(f"{len(again)} posts kept conflicting with concurrent writers")
            self.refresh()
            self._upsert_batch(again, res, retry=False)

    # -- reads --
    def _one(self, query: dict[str, Any]) -> Post | None:
        hits = self.es.search(index=self.alias, query=query, size=1, source=POST_SOURCE)["hits"]["hits"]
        return post_from_source(hits[0]["_source"]) if hits else None

    def get_post(self, post_id: int) -> Post | None:
        return self._one({"term": {"id": int(post_id)}})

    def get_post_by_url(self, url: str) -> Post | None:
        from elasticsearch import NotFoundError

        try:
            d = self.es.get(index=self.alias, id=doc_key(canonical_url(url)), source=POST_SOURCE)
        except NotFoundError:
            return None
        return post_from_source(d["_source"])

    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        ids = list(dict.fromkeys(int(i) for i in ids))
        out: dict[int, Post] = {}
        for i in range(0, len(ids), PAGE):
            chunk = ids[i : i + PAGE]
            hits = self.es.search(
                index=self.alias,
                query={"terms": {"id": chunk}},
                size=len(chunk),
                source=POST_SOURCE,
                track_total_hits=False,
            )["hits"]["hits"]
            out.update((h["_source"]["id"], post_from_source(h["_source"])) for h in hits)
        return out

    def get_posts_by_url(self, urls: Iterable[str]) -> dict[str, Post]:
        urls = list(dict.fromkeys(urls))
        out: dict[str, Post] = {}
        for i in range(0, len(urls), PAGE):
            docs = self.es.mget(index=self.alias, ids=[doc_key(u) for u in urls[i : i + PAGE]], source=POST_SOURCE)
            out.update((d["_source"]["url"], post_from_source(d["_source"])) for d in docs["docs"] if d.get("found"))
        return out

    def iter_posts(self, batch: int = 500) -> Iterator[Post]:
        for hits in self._scan({"match_all": {}}, POST_SOURCE, batch):
            for h in hits:
                yield post_from_source(h["_source"])

    def iter_fit_rows(self, batch: int = 2000) -> Iterator[FitRow]:
        for hits in self._scan({"match_all": {}}, FIT_SOURCE, batch):
            for h in hits:
                s = h["_source"]
                yield FitRow(
                    s["id"], s["title"], s["text"], list(s.get("companies") or []), bool(s.get("is_company_reply")),
                    s.get("parent_url"), s.get("stance"), s.get("incident_id"),
                )  # fmt: skip

    def count_posts(self) -> int:
        return int(self.es.count(index=self.alias)["count"])

    def thread(self, thread_url: str) -> list[Post]:
        hits = self.es.search(
            index=self.alias,
            query=q.thread_query(canonical_url(thread_url)),
            sort=[{"position": "asc"}, {"published_at": {"order": "asc", "missing": "_first"}}, {"id": "asc"}],
            size=MAX_WINDOW,
            source=POST_SOURCE,
        )["hits"]["hits"]
        return [post_from_source(h["_source"]) for h in hits]

    def thread_posts(self, thread_urls: Iterable[str]) -> list[Post]:
        urls = list(dict.fromkeys(canonical_url(u) for u in thread_urls if u))
        out: dict[int, Post] = {}
        for i in range(0, len(urls), PAGE):
            for hits in self._scan(q.thread_members_query(urls[i : i + PAGE]), POST_SOURCE):
                out.update((h["_source"]["id"], post_from_source(h["_source"])) for h in hits)
        return list(out.values())

    def authors(self) -> set[str]:
        out: set[str] = set()
        for hits in self._scan({"exists": {"field": "author"}}, ["author"], 5000):
            out.update(a for h in hits if (a := h["_source"].get("author")))
        return out
