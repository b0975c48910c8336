"""Index layout, mappings, schema version checks and migrations, and the
zero-downtime re-index.

Layout for prefix ``P``:

- ``P-posts``: an alias over one physical index ``P-posts-<stamp>``; a full
  re-index (:meth:`SchemaMixin.reindex`) builds a new physical index from the
  composable template ``P-posts`` and swaps the alias atomically, so searches
  never see a missing or half-built index.
- ``P-incidents``: the incident types. ``P-meta``: counters (post ids, change
  numbers) and company display names.
- ``P-saved-searches``: saved searches / watches (alerts) for the web UI.
- ``P-takedowns``: the takedown list. ``P-state``, ``P-blobs``: app state.

The schema version lives in the posts mapping's ``_meta``; migrations only
ever add fields, which Elasticsearch allows in place.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from .connection import BULK_CHUNK, PAGE, ESBase
from .documents import now_ms, restem

log = logging.getLogger(__name__)

SCHEMA_VERSION = 6

# v5: stance per post (indexer/stance.py), star rating where the site gives one
V5_PROPERTIES = {"stance": {"type": "keyword"}, "rating": {"type": "integer"}}
# v6: the change journal (Store.change_seq): the post's change sequence number
# and the one the index run last analysed / typed (absent: still to do)
V6_PROPERTIES = {"change_seq": {"type": "long"}, "analysed_seq": {"type": "long"}, "typed_seq": {"type": "long"}}

INCIDENT_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "integer"},
        "label_en": {"type": "text"},
        "label_ru": {"type": "text"},
        "keywords": {"type": "keyword"},
        "size": {"type": "integer"},
        "taxonomy_key": {"type": "keyword"},
        "representatives": {"type": "long"},  # v3
    },
}
SAVED_SEARCH_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "long"},
        "name": {"type": "keyword", "ignore_above": 1024},
        "kind": {"type": "keyword"},
        "params": {"type": "object", "enabled": False},  # kept in _source as given, never indexed
        "created_at": {"type": "date"},
        "last_seen_at": {"type": "date"},
    },
}
TAKEDOWN_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {"url": {"type": "keyword"}, "added_at": {"type": "date"}},
}


class SchemaError(RuntimeError):
    pass


def posts_mappings(language_analyzers: bool = True) -> dict[str, Any]:
    """The posts mapping (a fresh dict: callers may edit it). Full-text search
    runs over the stem fields (whitespace analyzer); the raw title/text also get
    the cluster's ``russian``/``english`` analyzers (``.ru``/``.en``) when it has them."""

    def text_field() -> dict[str, Any]:
        f: dict[str, Any] = {"type": "text", "analyzer": "standard"}
        if language_analyzers:
            f["fields"] = {
                "ru": {"type": "text", "analyzer": "russian"},
                "en": {"type": "text", "analyzer": "english"},
            }
        return f

    stems = {"type": "text", "analyzer": "whitespace"}
    kw = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "_meta": {"complaintwatch_schema": SCHEMA_VERSION},
        # the stems stay in _source: partial updates (vectors, incidents)
        # re-index a document from _source and must not lose them
        "properties": {
            "id": {"type": "long"},
            "url": kw,
            "source_site": kw,
            "site_kind": kw,
            "title": text_field(),
            "text": text_field(),
            "title_stems": stems,
            "text_stems": stems,
            "author": {"type": "keyword", "ignore_above": 512},
            "published_at": {"type": "date"},
            "language": kw,
            "companies": kw,
            "parent_url": kw,
            "thread_url": kw,
            "position": {"type": "integer"},
            "is_company_reply": {"type": "boolean"},
            "fetched_at": {"type": "date"},
            "content_hash": kw,
            "incident_id": {"type": "integer"},
            "subject": {"type": "keyword", "ignore_above": 512},  # v2
            **V5_PROPERTIES,
            **V6_PROPERTIES,
            "updated_at": {"type": "long"},
        },
    }


def vector_mapping(dims: int) -> dict[str, Any]:
    return {
        "type": "dense_vector",
        "dims": int(dims),
        "index": True,
        "similarity": "cosine",
        # float HNSW: exact similarities, like the embedded store
        "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
    }


class SchemaMixin(ESBase):
    def _has_analyzer(self, name: str) -> bool:
        from elasticsearch import BadRequestError

        try:
            self.es.indices.analyze(analyzer=name, text="x")
            return True
        except BadRequestError:
            return False

    def posts_mappings(self, language_analyzers: bool = True) -> dict[str, Any]:
        return posts_mappings(language_analyzers)

    def _put_template(self) -> None:
        self.es.indices.put_index_template(
            name=self.template,
            index_patterns=[f"{self.alias}-*"],
            priority=500,
            version=SCHEMA_VERSION,
            template={
                "settings": self._index_settings(),
                "mappings": posts_mappings(self._has_analyzer("russian") and self._has_analyzer("english")),
            },
            meta={"description": "complaintwatch posts (see indexer/store/es/schema.py)"},
        )

    def _setup(self) -> None:
        es = self.es
        if not es.indices.exists_index_template(name=self.template):
            self._put_template()
        else:
            tpl = es.indices.get_index_template(name=self.template)["index_templates"][0]["index_template"]
            if tpl.get("version", 0) < SCHEMA_VERSION:
                self._put_template()  # new indices (the next reindex) get the new mapping
        if es.indices.exists(index=self.alias) and not es.indices.exists_alias(name=self.alias):
            raise SchemaError(f"{self.alias} is an index, not an alias: re-create it with this complaintwatch")
        if not es.indices.exists_alias(name=self.alias):
            # a fixed first name, so two processes opening a new store do not race
            self._create_index(f"{self.alias}-0", aliases={self.alias: {"is_write_index": True}})
        small = {"settings": self._index_settings()}
        for name, mappings in (
            (self.incidents_index, INCIDENT_MAPPINGS),
            (self.meta_index, {"dynamic": False}),
            (self.saved_index, SAVED_SEARCH_MAPPINGS),  # v3
            (self.takedowns_index, TAKEDOWN_MAPPINGS),  # v4
        ):
            if not es.indices.exists(index=name):
                self._create_index(name, mappings=mappings, **small)
        self._setup_state()  # app state: made on first open, no schema version needed
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.alias} has schema v{version}, this complaintwatch knows v{SCHEMA_VERSION}: upgrade it"
            )
        if version < SCHEMA_VERSION:
            self._migrate(version)
        self._load_vector_fields()
        es.cluster.health(index=self.alias, wait_for_status="yellow", timeout="30s")

    def _migrate(self, version: int) -> None:
        """Bring the live indices' mapping up to date: fields are only ever
        added, which Elasticsearch allows in place (no re-index)."""
        meta = {"complaintwatch_schema": SCHEMA_VERSION}
        if version < 2:
            self.es.indices.put_mapping(
                index=self.alias, properties={"subject": {"type": "keyword", "ignore_above": 512}}, meta=meta
            )
        if version < 3:  # incident representatives (the saved-searches index is created in _setup)
            self.es.indices.put_mapping(index=self.incidents_index, properties={"representatives": {"type": "long"}})
            self.es.indices.put_mapping(index=self.alias, meta=meta)
        if version < 4:  # the takedown list (its index is created in _setup)
            self.es.indices.put_mapping(index=self.alias, meta=meta)
        if version < 5:  # stance and rating; existing posts have neither until the next `index`
            self.es.indices.put_mapping(index=self.alias, properties=V5_PROPERTIES, meta=meta)
        if version < 6:  # the change journal: stored posts count as changed in id order, typed when they have a type
            self.es.indices.put_mapping(index=self.alias, properties=V6_PROPERTIES)
            query = {"bool": {"must_not": [{"exists": {"field": "change_seq"}}]}}
            for hits in self._scan(query, ["id", "incident_id"], 5000):
                self._bulk(
                    {
                        "_op_type": "update",
                        "_id": h["_id"],
                        "retry_on_conflict": 5,
                        "doc": {"change_seq": h["_source"]["id"]}
                        | ({"typed_seq": h["_source"]["id"]} if h["_source"].get("incident_id") is not None else {}),
                    }
                    for h in hits
                )
            self.refresh()
            self.es.indices.put_mapping(index=self.alias, meta=meta)

    def schema_version(self) -> int:
        return int(self._mapping().get("_meta", {}).get("complaintwatch_schema", 0))

    def drop(self) -> None:
        """Delete every index and the template of this prefix (tests, `reset`)."""
        from elasticsearch import NotFoundError

        indices = list(self.es.indices.get(index=f"{self.alias}-*", expand_wildcards="all"))
        indices += [self.incidents_index, self.meta_index, self.saved_index, self.takedowns_index]
        indices += [self.state_index, self.blobs_index]
        for name in indices:
            try:
                self.es.indices.delete(index=name)
            except NotFoundError:
                pass
        try:
            self.es.indices.delete_index_template(name=self.template)
        except NotFoundError:
            pass

    # -- full re-index with no downtime --
    def _copy(self, src: str, dst: str, query: dict[str, Any], only_newer: bool = False) -> int:
        """Copy posts matching ``query`` from ``src`` to ``dst``, recomputing the
        stems (the analysis may have changed); returns how many were written."""
        from elasticsearch import helpers

        def actions() -> Iterator[dict[str, Any]]:
            page: list[dict[str, Any]] = []

            def flush() -> Iterator[dict[str, Any]]:
                newer = {}
                if only_newer:
                    got = self.es.mget(index=dst, ids=[h["_id"] for h in page], source=["updated_at"])["docs"]
                    newer = {d["_id"]: d["_source"].get("updated_at", 0) for d in got if d.get("found")}
                for h in page:
                    s = h["_source"]
                    if only_newer and newer.get(h["_id"], -1) >= s.get("updated_at", 0):
                        continue
                    yield {"_op_type": "index", "_index": dst, "_id": h["_id"], "_source": restem(s)}

            for h in helpers.scan(self.es, index=src, query={"query": query}, size=PAGE, scroll="5m"):
                page.append(h)
                if len(page) >= PAGE:
                    yield from flush()
                    page = []
            if page:
                yield from flush()

        return sum(
            1
            for _ in helpers.streaming_bulk(
                self.es, actions(), chunk_size=BULK_CHUNK, max_chunk_bytes=20 * 1024 * 1024, max_retries=3
            )
        )

    def reindex(self) -> str:
        """Rebuild the posts index from the current template and swap the alias.

        Searches keep hitting the old index until the new one is complete and
        refreshed; writes that land on the old index while the copy runs are
        caught up before and after the swap. Returns the new index name."""
        es = self.es
        old = self.current_index()
        new = f"{self.alias}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        self._put_template()
        self._create_index(new)
        vec_props = {k: v for k, v in self._mapping().get("properties", {}).items() if v.get("type") == "dense_vector"}
        if vec_props:
            es.indices.put_mapping(index=new, properties=vec_props)
        settings = es.indices.get_settings(index=new)[new]["settings"]["index"]
        es.indices.put_settings(index=new, settings={"refresh_interval": "-1"})
        since = now_ms() - 1000
        n = self._copy(old, new, {"match_all": {}})
        for _ in range(3):  # catch up with writes that happened during the copy
            started = now_ms() - 1000
            changed = self._copy(old, new, {"range": {"updated_at": {"gte": since}}})
            since = started
            if not changed:
                break
        es.indices.put_settings(index=new, settings={"refresh_interval": settings.get("refresh_interval")})
        es.indices.refresh(index=new)
        es.cluster.health(index=new, wait_for_status="yellow", timeout="60s")
        es.indices.update_aliases(
            actions=[
                {"remove": {"index": old, "alias": self.alias}},
                {"add": {"index": new, "alias": self.alias, "is_write_index": True}},
            ]
        )
        # writes that reached the old index between the last catch-up and the swap
        es.indices.refresh(index=old)
        self._copy(old, new, {"range": {"updated_at": {"gte": since}}}, only_newer=True)
        es.indices.refresh(index=new)
        es.indices.delete(index=old)
        self._vec_cache.clear()
        self._load_vector_fields()
        log.info("re-indexed %d posts from %s into %s", n, old, new)
        return new
