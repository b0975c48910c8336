"""The indexer's outputs on posts: vectors (one dense_vector field per
embedder model), companies and language, stance, incident types; and the
change journal that says which posts still need them.

A post written new or changed gets the next change number (``change_seq``);
the index run marks what it analysed / typed with the number it saw
(``analysed_seq``, ``typed_seq``), and writes only while the post has not
changed after the run began.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from complaintwatch.models import Incident, Post

from . import aggregations as agg
from . import queries as q
from .connection import MAX_WINDOW, PAGE, ESBase
from .documents import POST_SOURCE, incident_doc, incident_from_source, now_ms, post_from_source, vec_json, vector_field
from .schema import vector_mapping

log = logging.getLogger(__name__)


class DerivedMixin(ESBase):
    # -- the journal --
    def _update_unchanged(self, updates: dict[str, tuple[dict[str, Any], str | None]], upto: int | None) -> None:
        """Partial updates of posts by _id, each written only while the post
        has not changed after ``upto`` and marked (the field named beside the
        doc, if any) with its change_seq. No scripts (a cluster may run without
        painless): each post's change_seq is read with its _seq_no, and the
        write is conditional on that _seq_no; a post written meanwhile is read
        and tried again."""
        pending = dict(updates)
        for _ in range(5):
            if not pending:
                return
            keys, actions, now = list(pending), [], now_ms()
            for i in range(0, len(keys), PAGE):
                for d in self.es.mget(index=self.alias, ids=keys[i : i + PAGE], source=["change_seq"])["docs"]:
                    seq = int((d.get("_source") or {}).get("change_seq") or 0)
                    if not d.get("found") or (upto is not None and seq > upto):
                        continue  # gone, or changed after the run started: the next run's work
                    doc, mark = pending[d["_id"]]
                    actions.append(
                        {
                            "_op_type": "update",
                            "_id": d["_id"],
                            "if_seq_no": d["_seq_no"],
                            "if_primary_term": d["_primary_term"],
                            "doc": doc | ({mark: seq} if mark else {}) | {"updated_at": now},
                        }
                    )
            lost = {c["_id"] for c in self._bulk(actions, conflict_ops=("update",))}
            pending = {k: v for k, v in pending.items() if k in lost}
        if pending:
            log.warning("%d posts kept changing while the index run wrote them: left for the next run", len(pending))

    def _journal_posts(self, query: dict[str, Any], batch: int) -> Iterator[list[Post]]:
        for hits in self._scan(query, POST_SOURCE, batch):
            yield [post_from_source(h["_source"]) for h in hits]

    def posts_to_analyse(
        self, everything: bool = False, batch: int = 500, upto: int | None = None
    ) -> Iterator[list[Post]]:
        must_not = [] if everything else [{"exists": {"field": "analysed_seq"}}]
        return self._journal_posts(q.journal_query(must_not, [], upto), batch)

    def posts_to_type(self, model: str, batch: int = 500, upto: int | None = None) -> Iterator[list[Post]]:
        query = q.journal_query(
            [{"exists": {"field": "typed_seq"}}], [{"exists": {"field": vector_field(model)}}], upto
        )
        return self._journal_posts(query, batch)

    def set_analysis(self, items: list[tuple[int, list[str], str | None]], upto: int | None = None) -> None:
        if not items:
            return
        keys = self._keys(pid for pid, _, _ in items)
        self._update_unchanged(
            {
                keys[int(pid)]: ({"companies": list(c), "language": lang}, "analysed_seq")
                for pid, c, lang in items
                if int(pid) in keys
            },
            upto,
        )
        self._after_write()

    # -- vectors --
    def posts_without_vector(self, model: str, batch: int = 256) -> Iterator[list[Post]]:
        return self._journal_posts(q.missing(vector_field(model)), batch)

    def _ensure_vector_field(self, field: str, dims: int) -> None:
        if self._has_vector_field(field):
            return
        self.es.indices.put_mapping(index=self.alias, properties={field: vector_mapping(dims)})
        self._vec_fields.add(field)

    def set_vectors(self, model: str, items: list[tuple[int, np.ndarray]]) -> None:
        if not items:
            return
        sizes = sorted({len(v) for _, v in items})
        if len(sizes) > 1:  # refused whole, not half-written by the bulk request
            raise RuntimeError(f"vectors of model {model!r} must all have one dimension; got dims {sizes}")
        field = vector_field(model)
        self._ensure_vector_field(field, len(items[0][1]))
        keys = self._keys(pid for pid, _ in items)
        now = now_ms()
        self._bulk(
            {"_op_type": "update", "_id": keys[int(pid)], "doc": {field: vec_json(v), "updated_at": now}}
            for pid, v in items
            if int(pid) in keys
        )
        self._vec_cache.pop(model, None)
        self._after_write()

    def count_vectors(self, model: str) -> int:
        field = vector_field(model)
        if not self._has_vector_field(field):
            return 0
        return int(self.es.count(index=self.alias, query={"exists": {"field": field}})["count"])

    def vectors(self, model: str, ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        field = vector_field(model)
        if not self._has_vector_field(field):
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        if ids is not None:
            return self._vectors_of(field, list(dict.fromkeys(int(i) for i in ids)))
        query = {"exists": {"field": field}}
        n = int(self.es.count(index=self.alias, query=query)["count"])
        cached = self._vec_cache.get(model)
        if cached and cached[0] == n:
            return cached[1], cached[2]
        # search_after pages with only the id and the vector in _source, straight into one matrix
        id_arr = np.empty(n, dtype=np.int64)
        mat: np.ndarray | None = None
        i = 0
        for hits in self._scan(query, ["id", field], 2000):
            if mat is None:
                mat = np.empty((max(n, len(hits)), len(hits[0]["_source"][field])), dtype=np.float32)
            if i + len(hits) > len(mat):  # written after the count: grow (rare)
                mat = np.concatenate([mat[:i], np.empty((len(hits), mat.shape[1]), np.float32)])
                id_arr = np.concatenate([id_arr[:i], np.empty(len(hits), np.int64)])
            mat[i : i + len(hits)] = [h["_source"][field] for h in hits]
            id_arr[i : i + len(hits)] = [h["_source"]["id"] for h in hits]
            i += len(hits)
        if mat is None:
            id_arr, mat = np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        id_arr, mat = id_arr[:i], mat[:i]
        self._vec_cache[model] = (n, id_arr, mat)
        return id_arr, mat

    def _vectors_of(self, field: str, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        found: dict[int, list[float]] = {}
        for i in range(0, len(ids), PAGE):
            chunk = ids[i : i + PAGE]
            res = self.es.search(
                index=self.alias,
                size=len(chunk),
                query={"bool": {"filter": [{"terms": {"id": chunk}}, {"exists": {"field": field}}]}},
                source=["id", field],
                track_total_hits=False,
            )
            found.update((h["_source"]["id"], h["_source"][field]) for h in res["hits"]["hits"])
        order = [i for i in ids if i in found]
        if not order:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return np.asarray(order, dtype=np.int64), np.asarray([found[i] for i in order], dtype=np.float32)

    # -- stance --
    def posts_without_stance(self, batch: int = 500) -> Iterator[list[Post]]:
        return self._journal_posts(q.without_stance_query(), batch)

    def set_stance(self, items: Iterable[tuple[int, str | None]]) -> None:
        items = list(items)
        if not items:
            return
        keys = self._keys(pid for pid, _ in items)
        now = now_ms()
        self._bulk(
            {"_op_type": "update", "_id": keys[int(pid)], "doc": {"stance": stance, "updated_at": now}}
            for pid, stance in items
            if int(pid) in keys
        )
        self._after_write()

    def stance_counts(self) -> dict[str | None, int]:
        res = self.es.search(
            index=self.alias,
            size=0,
            query={"bool": {"must_not": [q.IS_REPLY]}},
            aggs={"s": {"terms": {"field": "stance", "size": 100, "missing": "__none__"}}},
        )
        return agg.stance_counts(res["aggregations"])

    # -- incident types --
    def _incident_actions(self, incidents: list[Incident]) -> Iterator[dict[str, Any]]:
        for i in incidents:
            yield {"_op_type": "index", "_id": str(int(i.id)), "_source": incident_doc(i)}

    def _delete_incidents(self, ids: list[str]) -> None:
        self._bulk(({"_op_type": "delete", "_id": k} for k in ids), index=self.incidents_index)

    def replace_incidents(
        self, incidents: list[Incident], assignment: dict[int, int | None], upto: int | None = None
    ) -> None:
        es = self.es
        # incident types: write the new set, then delete what is no longer in it
        self._bulk(self._incident_actions(incidents), index=self.incidents_index)
        keep = {str(int(i.id)) for i in incidents}
        es.indices.refresh(index=self.incidents_index)
        # posts: clear assignments that go away, set the new ones and mark posts
        # typed for the first time; the stale types are deleted after that, so a
        # crash in between never leaves a post pointing at a deleted type
        # (`complaintwatch check` would flag it)
        want = {int(pid): None if iid is None else int(iid) for pid, iid in assignment.items()}
        current: dict[int, tuple[str, int | None, bool]] = {}
        query = q.any_of({"exists": {"field": "incident_id"}}, q.missing("typed_seq"))
        for hits in self._scan(query, ["id", "incident_id", "typed_seq"], 5000):
            for h in hits:
                s = h["_source"]
                current[s["id"]] = (h["_id"], s.get("incident_id"), s.get("typed_seq") is not None)
        # typed outliers (no incident, not in `current`) that now get a type
        keys = self._keys(pid for pid, iid in want.items() if pid not in current and iid is not None)
        keys.update((pid, k) for pid, (k, _, _) in current.items())
        updates: dict[str, tuple[dict[str, Any], str | None]] = {
            k: ({"incident_id": None}, None)
            for pid, (k, iid, _) in current.items()
            if pid not in want and iid is not None
        }
        for pid, iid in want.items():
            _, was, typed = current.get(pid, (None, None, True))
            if pid in keys and (was != iid or not typed):
                updates[keys[pid]] = ({"incident_id": iid}, "typed_seq")
        self._update_unchanged(updates, upto)
        stale = [
            h["_id"]
            for h in es.search(index=self.incidents_index, size=MAX_WINDOW, source=False)["hits"]["hits"]
            if h["_id"] not in keep
        ]
        self._delete_incidents(stale)
        es.indices.refresh(index=self.incidents_index)
        self._after_write()

    def assign_incidents(
        self, incidents: list[Incident], assignment: dict[int, int | None], upto: int | None = None
    ) -> None:
        self._bulk(self._incident_actions([i for i in incidents if i.size]), index=self.incidents_index)
        self.es.indices.refresh(index=self.incidents_index)
        keys = self._keys(assignment)
        self._update_unchanged(
            {
                keys[int(pid)]: ({"incident_id": None if iid is None else int(iid)}, "typed_seq")
                for pid, iid in assignment.items()
                if int(pid) in keys
            },
            upto,
        )
        gone = [str(int(i.id)) for i in incidents if not i.size]
        if gone:  # after the posts moved off them
            self._delete_incidents(gone)
            self.es.indices.refresh(index=self.incidents_index)
        self._after_write()

    def incidents(self) -> list[Incident]:
        sort = [{"size": "desc"}, {"id": "asc"}]
        hits = self.es.search(index=self.incidents_index, size=MAX_WINDOW, sort=sort)["hits"]["hits"]
        return [incident_from_source(h["_source"]) for h in hits]

    def _write_incidents(self, incidents: list[Incident], drop: list[int]) -> None:
        """Labels and sizes of types after a takedown; ``drop``: types left empty."""
        now = now_ms()
        self._bulk(
            (
                {"_op_type": "update", "_id": str(int(i.id)), "doc": incident_doc(i, labels_only=True)}
                for i in incidents
            ),
            index=self.incidents_index,
        )
        if drop:
            stale = [
                {"_op_type": "update", "_id": h["_id"], "doc": {"incident_id": None, "updated_at": now}}
                for hits in self._scan({"terms": {"incident_id": [int(d) for d in drop]}}, ["id"], 5000)
                for h in hits
            ]
            self._bulk(stale)
            self._delete_incidents([str(int(d)) for d in drop])
        self.es.indices.refresh(index=self.incidents_index)
