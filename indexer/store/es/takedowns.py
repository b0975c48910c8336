"""The takedown list (``P-takedowns``): listing a URL deletes the posts at it
or a variant of it and everything in their threads or answering them, re-counts
the incident types they leave, and expunges the deleted bytes."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from complaintwatch.models import Post, utcnow

from ..base import TakedownMatcher, takedown_key, takedown_match_key
from ..types import whole_threads
from . import queries as q
from .connection import BULK_CHUNK, PAGE, ESBase
from .documents import POST_SOURCE, doc_key, iso, post_from_source

log = logging.getLogger(__name__)


def matching_posts(store: ESBase, matcher: TakedownMatcher) -> Iterator[dict[str, Any]]:
    """Hits (url, thread_url, parent_url) of the posts at a listed URL or a variant of it."""
    hosts = sorted(matcher.hosts)
    for i in range(0, len(hosts), 500):
        for hits in store._scan(q.url_hosts_query(hosts[i : i + 500]), ["url", "thread_url", "parent_url"], 5000):
            for h in hits:
                src = h["_source"]
                if matcher.any(src.get("url"), src.get("thread_url"), src.get("parent_url")):
                    yield h


class TakedownsMixin(ESBase):
    def _keys_under(self, matcher: TakedownMatcher) -> list[str]:
        """Document keys of the posts at the listed URLs (or a variant of them)
        and of everything in their threads or answering them, replies of replies included."""

        def under(urls: list[str]) -> Iterator[tuple[str, str]]:
            for hits in self._scan(q.under_urls_query(urls), ["url"]):
                yield from ((h["_id"], h["_source"]["url"]) for h in hits)

        seeds = ((h["_id"], h["_source"]["url"]) for h in matching_posts(self, matcher))
        return whole_threads(seeds, under, PAGE)

    def add_takedowns(self, urls: Iterable[str]) -> int:
        from elasticsearch import helpers

        keys = sorted({takedown_key(u) for u in urls if u and u.strip()})
        if not keys:
            return 0
        now = iso(utcnow())
        self._bulk(
            ({"_op_type": "index", "_id": doc_key(k), "_source": {"url": k, "added_at": now}} for k in keys),
            index=self.takedowns_index,
        )
        self.es.indices.refresh(index=self.takedowns_index)
        self.refresh()  # posts written with refresh=False must be found and deleted too
        doomed = self._keys_under(TakedownMatcher(keys))
        removed = self._posts_for_keys(doomed)
        for ok, item in helpers.streaming_bulk(
            self.es,
            ({"_op_type": "delete", "_id": k} for k in doomed),
            index=self.alias,
            chunk_size=BULK_CHUNK,
            raise_on_error=False,
            max_retries=3,
        ):
            if not ok and item.get("delete", {}).get("status") != 404:  # deleted meanwhile: fine
                raise RuntimeError(f"takedown: a delete failed: {item}")
        if doomed:
            self._vec_cache.clear()
            self.refresh()
            self.scrub_incidents_after_takedown(removed)
            self.purge_deleted_bytes()
            log.info("takedown: %d URLs listed, %d posts deleted", len(keys), len(doomed))
        self._after_write()
        return len(doomed)

    def _posts_for_keys(self, keys: list[str]) -> list[Post]:
        out: list[Post] = []
        for i in range(0, len(keys), PAGE):
            docs = self.es.mget(index=self.current_index(), ids=keys[i : i + PAGE], source=POST_SOURCE)["docs"]
            out += [post_from_source(d["_source"]) for d in docs if d.get("found")]
        return out

    def purge_deleted_bytes(self) -> bool:
        """Deleted documents stay in Lucene segments and the translog until a
        merge: flush, then expunge the deletes (best effort; False on failure)."""
        try:
            self.es.indices.flush(index=self.alias)
            self.es.indices.forcemerge(index=self.alias, only_expunge_deletes=True)
            return True
        except Exception as e:  # a busy cluster merges later anyway
            log.warning("takedown: deleted documents not expunged yet: %s", e)
            return False

    def _takedown_docs(self) -> list[tuple[str, str]]:
        """(document id, url) of every listed URL, as stored."""
        out: list[tuple[str, str]] = []
        after = None
        while True:
            kw: dict[str, Any] = {"search_after": after} if after else {}
            res = self.es.search(index=self.takedowns_index, size=PAGE, sort=[{"url": "asc"}], source=["url"], **kw)
            hits = res["hits"]["hits"]
            if not hits:
                return out
            out += [(h["_id"], h["_source"]["url"]) for h in hits]
            after = hits[-1]["sort"]

    def remove_takedown(self, url: str) -> bool:
        key = takedown_match_key(url)
        ids = [i for i, u in self._takedown_docs() if takedown_match_key(u) == key]
        if ids:
            self._bulk(({"_op_type": "delete", "_id": i} for i in ids), index=self.takedowns_index)
            self.es.indices.refresh(index=self.takedowns_index)
        return bool(ids)

    def takedowns(self) -> list[str]:
        # entries an older complaintwatch listed in canonical_url form read as takedown_key
        return sorted({takedown_key(u) for _, u in self._takedown_docs()})
