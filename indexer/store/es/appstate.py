"""App state on Elasticsearch: `<prefix>-state` holds JSON documents by
(kind, key); `<prefix>-blobs` holds blobs in base64 parts (a fitted incident
model can be tens of MB; one request stays far below http.max_content_length).

Writes refresh at once: state is written rarely and read back by listing.
"""

from __future__ import annotations

import base64
from typing import Any

from ..appstate import check_key
from .connection import ESBase

PART = 4 * 1024 * 1024  # raw bytes per blob part

STATE_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "kind": {"type": "keyword"},
        "key": {"type": "keyword"},
        "updated_at": {"type": "date"},
        "doc": {"type": "object", "enabled": False},
    },
}
BLOB_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "kind": {"type": "keyword"},
        "key": {"type": "keyword"},
        "part": {"type": "integer"},
        "parts": {"type": "integer"},
        "data": {"type": "binary"},
    },
}


def _id(kind: str, key: str) -> str:
    return f"{kind}/{key}"


class ESAppState(ESBase):
    """The app-state role of ElasticsearchStore (indices ``state_index``, ``blobs_index``)."""

    def _setup_state(self) -> None:
        small = {"settings": self._index_settings()}
        if not self.es.indices.exists(index=self.state_index):
            self._create_index(self.state_index, mappings=STATE_MAPPINGS, **small)
        if not self.es.indices.exists(index=self.blobs_index):
            self._create_index(self.blobs_index, mappings=BLOB_MAPPINGS, **small)

    @staticmethod
    def _now() -> str:
        from complaintwatch.models import utcnow

        return utcnow().isoformat()

    def state_get(self, kind: str, key: str) -> dict | None:
        from elasticsearch import NotFoundError

        check_key(kind, key)
        try:
            return dict(self.es.get(index=self.state_index, id=_id(kind, key))["_source"]["doc"])
        except NotFoundError:
            return None

    def state_put(self, kind: str, key: str, doc: dict) -> None:
        check_key(kind, key)
        body = {"kind": kind, "key": key, "doc": doc, "updated_at": self._now()}
        self.es.index(index=self.state_index, id=_id(kind, key), document=body, refresh=True)

    def state_create(self, kind: str, key: str, doc: dict) -> bool:
        from elasticsearch import ConflictError

        check_key(kind, key)
        body = {"kind": kind, "key": key, "doc": doc, "updated_at": self._now()}
        try:
            self.es.create(index=self.state_index, id=_id(kind, key), document=body, refresh=True)
            return True
        except ConflictError:
            return False

    def state_delete(self, kind: str, key: str) -> bool:
        from elasticsearch import NotFoundError

        check_key(kind, key)
        try:
            self.es.delete(index=self.state_index, id=_id(kind, key), refresh=True)
            return True
        except NotFoundError:
            return False

    def _search_all(self, index: str, query: dict[str, Any], sort: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = None
        while True:
            kw: dict[str, Any] = {"search_after": after} if after else {}
            hits = self.es.search(index=index, query=query, sort=sort, size=1000, **kw)["hits"]["hits"]
            out += hits
            if len(hits) < 1000:
                return out
            after = hits[-1]["sort"]

    def state_list(self, kind: str) -> list[tuple[str, dict]]:
        hits = self._search_all(self.state_index, {"term": {"kind": kind}}, [{"key": "asc"}])
        return [(h["_source"]["key"], dict(h["_source"]["doc"])) for h in hits]

    def state_next_id(self, kind: str) -> int:
        """Compare-and-set on a counter document, like the post ids."""
        from elasticsearch import ConflictError, NotFoundError

        check_key(kind, "id")
        doc_id = f"_ids/{kind}"
        while True:
            try:
                doc = self.es.get(index=self.state_index, id=doc_id)
            except NotFoundError:
                try:
                    body = {"kind": "_ids", "key": kind, "doc": {"last": 1}, "updated_at": self._now()}
                    self.es.create(index=self.state_index, id=doc_id, document=body, refresh=True)
                    return 1
                except ConflictError:
                    continue
            nxt = int(doc["_source"]["doc"]["last"]) + 1
            body = {"kind": "_ids", "key": kind, "doc": {"last": nxt}, "updated_at": self._now()}
            try:
                self.es.index(
                    index=self.state_index,
                    id=doc_id,
                    document=body,
                    if_seq_no=doc["_seq_no"],
                    if_primary_term=doc["_primary_term"],
                    refresh=True,
                )
                return nxt
            except ConflictError:
                continue

    def _blob_parts(self, kind: str, key: str) -> int:
        """How many parts the stored blob has (0: none)."""
        from elasticsearch import NotFoundError

        try:
            return int(self.es.get(index=self.blobs_index, id=f"{_id(kind, key)}#0")["_source"]["parts"])
        except NotFoundError:
            return 0

    def _delete_parts(self, kind: str, key: str, parts: range) -> None:
        # by id: the test server's Elasticsearch has no reindex module, so no _delete_by_query
        from elasticsearch import NotFoundError

        for n in parts:
            try:
                self.es.delete(index=self.blobs_index, id=f"{_id(kind, key)}#{n}")
            except NotFoundError:
                pass

    def blob_put(self, kind: str, key: str, data: bytes) -> None:
        check_key(kind, key)
        old = self._blob_parts(kind, key)
        parts = max(1, -(-len(data) // PART))
        # parts first, head (part 0, which names the count) last: a reader never sees a head
        # pointing at missing parts; surplus parts of a longer old blob are removed after
        for n in list(range(1, parts)) + [0]:
            chunk = data[n * PART : (n + 1) * PART]
            body = {"kind": kind, "key": key, "part": n, "parts": parts, "data": base64.b64encode(chunk).decode()}
            self.es.index(index=self.blobs_index, id=f"{_id(kind, key)}#{n}", document=body)
        self._delete_parts(kind, key, range(parts, old))
        self.es.indices.refresh(index=self.blobs_index)

    def blob_get(self, kind: str, key: str) -> bytes | None:
        from elasticsearch import NotFoundError

        check_key(kind, key)
        try:
            head = self.es.get(index=self.blobs_index, id=f"{_id(kind, key)}#0")["_source"]
        except NotFoundError:
            return None
        chunks = [base64.b64decode(head["data"])]
        for n in range(1, int(head["parts"])):
            doc = self.es.get(index=self.blobs_index, id=f"{_id(kind, key)}#{n}")
            chunks.append(base64.b64decode(doc["_source"]["data"]))
        return b"".join(chunks)

    def blob_delete(self, kind: str, key: str) -> bool:
        check_key(kind, key)
        parts = self._blob_parts(kind, key)
        # the head first: from then on readers see no blob
        self._delete_parts(kind, key, range(0, parts))
        self.es.indices.refresh(index=self.blobs_index)
        return parts > 0

    def blob_keys(self, kind: str) -> list[str]:
        query = {"bool": {"filter": [{"term": {"kind": kind}}, {"term": {"part": 0}}]}}
        return [h["_source"]["key"] for h in self._search_all(self.blobs_index, query, [{"key": "asc"}])]
