"""The server backend: Elasticsearch 8, behind the same Store interface as SQLite.

    es://127.0.0.1:9200                       http, index prefix "complaintwatch"
    es://127.0.0.1:9200/myprefix              another set of indices on the same cluster
    es+https://user:pass@search.example:9200/complaintwatch?replicas=1&shards=3

Environment: ``COMPLAINTWATCH_ES_API_KEY`` (an encoded API key, instead of
user:pass in the URL), ``COMPLAINTWATCH_ES_CA_CERTS`` (CA bundle for https),
``COMPLAINTWATCH_ES_VERIFY_CERTS=0`` (self-signed test clusters only).

Layout for prefix ``P``:

- ``P-posts``: an alias over one physical index ``P-posts-<stamp>``; a full
  re-index (:meth:`ElasticsearchStore.reindex`) builds a new physical index
  from the composable template ``P-posts`` and swaps the alias atomically, so
  searches never see a missing or half-built index.
- ``P-incidents``: the incident types. ``P-meta``: the post id sequence.
- ``P-saved-searches``: saved searches / watches (alerts) for the web UI.

Full-text search runs over the same Russian/English Snowball stems as the
embedded store (``indexer.analysis``), indexed with the whitespace analyzer,
so both backends match exactly the same inflections; the raw title/text are
also indexed with the cluster's ``russian`` and ``english`` analyzers (sub
fields ``.ru``/``.en``) when the cluster has them, for ad-hoc queries. User
queries are parsed by ``indexer.query.parse_query`` and turned into
match_phrase clauses; user syntax never reaches query_string. Snippets are
computed client-side by ``indexer.snippets.snippet`` (identical to SQLite).

Vectors are ``dense_vector`` fields (one per embedder model, float HNSW, cosine)
searched with the ``knn`` option, filters applied inside the kNN search.
Per-company incident series are terms + date_histogram aggregations.
Bulk writes go through ``elasticsearch.helpers``.

Every mutating call refreshes the alias before returning, so reads see the
writes like they do with SQLite (bulk loaders should pass big batches).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np

from complaintwatch.models import (
    POST_TYPES,
    Incident,
    Post,
    SavedSearch,
    SearchFilters,
    SearchHit,
    SiteKind,
    canonical_url,
    utcnow,
)

from ..analysis import searchable_title, stems
from ..query import ParsedQuery, parse_query
from ..snippets import snippet
from ..stance import COMPLAINT, STANCES
from .appstate_es import ESAppState
from .base import (
    FACET_FIELDS,
    MAX_SAME_STORY,
    CompanyCounts,
    ComplaintReply,
    ComplaintSummary,
    FacetCounts,
    IncidentStat,
    Store,
    TakedownMatcher,
    UpsertResult,
    facet_filters,
    facet_from_parts,
    rank_company_counts,
    takedown_key,
    takedown_match_key,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 6
DEFAULT_PREFIX = "complaintwatch"
SCHEMES = ("es", "es+http", "es+https", "elasticsearch")

_BULK_CHUNK = 500
# a story posted on several URLs (same content_hash) counts once in company
# stats; exact below the threshold (the maximum Elasticsearch allows)
_STORIES = {"cardinality": {"field": "content_hash", "precision_threshold": 40_000}}
TAKEDOWN_MAPPINGS = {
    "dynamic": "strict",
    "properties": {"url": {"type": "keyword"}, "added_at": {"type": "date"}},
}
_PAGE = 1000
_KEYS = 5000  # thread keys per terms query, buckets per composite page (index.max_terms_count: 65,536)
NOT_COMPLAINTS = [s for s in STANCES if s != COMPLAINT]
# v5: stance per post (indexer/stance.py), star rating where the site gives one
_V5_PROPERTIES = {"stance": {"type": "keyword"}, "rating": {"type": "integer"}}
# v6: the change journal (Store.change_seq): the post's change sequence number
# and the one the index run last analysed / typed (absent: still to do)
_V6_PROPERTIES = {"change_seq": {"type": "long"}, "analysed_seq": {"type": "long"}, "typed_seq": {"type": "long"}}
_MAX_WINDOW = 10_000  # index.max_result_window
_LATIN_LIMIT = 0x0250  # FTS5 unicode61 removes diacritics from Latin letters only


class SchemaError(RuntimeError):
    pass


# -- helpers --------------------------------------------------------------
def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _fold(token: str) -> str:
    """What FTS5's unicode61 tokenizer (remove_diacritics 2) does to a Latin token."""
    if token.isascii():
        return token
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", token):
        if unicodedata.combining(ch) and out and ord(out[-1]) < _LATIN_LIMIT:
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _terms(stem_list: Iterable[str]) -> list[str]:
    """Stems as the index holds them: split where unicode61 would split ("_"), folded."""
    out: list[str] = []
    for s in stem_list:
        out.extend(_fold(t) for t in s.split("_") if t)
    return out


def stems_field(text: str) -> str:
    return " ".join(_terms(stems(text)))


def title_stems(title: str, parent_url: str | None) -> str:
    return stems_field(searchable_title(title, parent_url))


def doc_key(url: str) -> str:
    """Document _id: a digest of the canonical URL, so a URL can only exist once."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def vector_field(model: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:40]
    return f"vec_{slug}_{hashlib.sha1(model.encode('utf-8')).hexdigest()[:8]}"


def parse_es_url(url: str) -> dict[str, Any]:
    """es://[user:pass@]host[:port][/prefix][?replicas=N&shards=N] -> client settings."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"not an Elasticsearch store URL: {url}")
    http = "https" if scheme == "es+https" else "http"
    host = parts.hostname or "127.0.0.1"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port or 9200
    prefix = parts.path.strip("/") or DEFAULT_PREFIX
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,100}", prefix):
        raise ValueError(f"index prefix must be lower-case letters, digits, '-', '_' or '.': {prefix!r}")
    q = dict(parse_qsl(parts.query))
    unknown = set(q) - {"replicas", "shards"}
    if unknown:
        raise ValueError(f"unknown store URL option(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {
        "hosts": [f"{http}://{host}:{port}"],
        "prefix": prefix,
        "replicas": q.get("replicas"),
        "shards": int(q.get("shards", 1)),
    }
    if parts.username:
        out["basic_auth"] = (unquote(parts.username), unquote(parts.password or ""))
    return out


def _client(settings: dict[str, Any]):
    from elasticsearch import Elasticsearch

    kw: dict[str, Any] = {"request_timeout": 60, "retry_on_timeout": True, "max_retries": 3}
    if settings.get("basic_auth"):
        kw["basic_auth"] = settings["basic_auth"]
    if os.environ.get("COMPLAINTWATCH_ES_API_KEY"):
        kw["api_key"] = os.environ["COMPLAINTWATCH_ES_API_KEY"]
    if os.environ.get("COMPLAINTWATCH_ES_CA_CERTS"):
        kw["ca_certs"] = os.environ["COMPLAINTWATCH_ES_CA_CERTS"]
    if os.environ.get("COMPLAINTWATCH_ES_VERIFY_CERTS") == "0":
        kw["verify_certs"] = False
    return Elasticsearch(settings["hosts"], **kw)


def _hit_to_post(src: dict[str, Any]) -> Post:
    return Post(
        id=src["id"],
        url=src["url"],
        source_site=src["source_site"],
        site_kind=SiteKind(src["site_kind"]),
        title=src["title"],
        text=src["text"],
        author=src.get("author"),
        published_at=_dt(src.get("published_at")),
        language=src.get("language"),
        companies=list(src.get("companies") or []),
        parent_url=src.get("parent_url"),
        thread_url=src.get("thread_url"),
        position=src.get("position") or 0,
        is_company_reply=bool(src.get("is_company_reply")),
        fetched_at=datetime.fromisoformat(src["fetched_at"]),  # always written
        content_hash=src["content_hash"],
        incident_id=src.get("incident_id"),
        subject=src.get("subject"),
        stance=src.get("stance"),
        rating=src.get("rating"),
    )


_POST_SOURCE = [
    "id", "url", "source_site", "site_kind", "title", "text", "author", "published_at", "language", "companies",
    "parent_url", "thread_url", "position", "is_company_reply", "fetched_at", "content_hash", "incident_id",
    "subject", "stance", "rating",
]  # fmt: skip


def _post_doc(p: Post, pid: int, incident_id: int | None, seq: int) -> dict[str, Any]:
    return {
        "id": pid,
        "url": p.url,
        "source_site": p.source_site,
        "site_kind": p.site_kind.value,
        "title": p.title,
        "text": p.text,
        "title_stems": title_stems(p.title, p.parent_url),
        "text_stems": stems_field(p.text),
        "author": p.author,
        "published_at": _iso(p.published_at),
        "language": p.language,
        "companies": list(p.companies),
        "parent_url": p.parent_url,
        "thread_url": p.thread_url,
        "position": p.position,
        "is_company_reply": bool(p.is_company_reply),
        "fetched_at": _iso(p.fetched_at),
        "content_hash": p.content_hash,
        "incident_id": incident_id,
        "subject": p.subject,
        "rating": p.rating,
        "stance": None,  # set by the indexer (set_stance); a changed post is classified again
        # the journal: analysed_seq and typed_seq absent, so the next index run analyses and types it
        "change_seq": seq,
        "updated_at": _now_ms(),
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


def _saved_from_source(src: dict[str, Any]) -> SavedSearch:
    return SavedSearch(
        id=int(src["id"]),
        name=src["name"],
        kind=src["kind"],
        params=dict(src.get("params") or {}),
        created_at=datetime.fromisoformat(src["created_at"]),  # always written
        last_seen_at=_dt(src.get("last_seen_at")),
    )


def _vec_json(v: np.ndarray) -> list[float]:
    # 7 decimals: float32 precision for unit vectors, and a short JSON body
    return np.round(np.asarray(v, dtype=np.float64), 7).tolist()


def _complaint_reply(src: dict[str, Any], replied: bool, first_reply: datetime | None) -> ComplaintReply:
    return ComplaintReply(
        int(src["id"]),
        src["url"],
        src.get("title") or "",
        _dt(src.get("published_at")),
        src.get("content_hash") or "",
        src.get("incident_id"),
        replied,
        first_reply,
    )


def _keyed(roots: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str]]:
    """Opening posts' sources with their thread key (thread_url, else url)."""
    for src in roots:
        yield src, src.get("thread_url") or src["url"]


def _key_of(src: dict[str, Any]) -> tuple[str, str]:
    """(the field, the thread key) of an opening post: its thread_url, else its url."""
    return ("thread_url", src["thread_url"]) if src.get("thread_url") else ("url", src["url"])


# -- the store ------------------------------------------------------------
class ElasticsearchStore(ESAppState, Store):
    def __init__(self, url: str, client=None, refresh: bool = True):
        self.url = url
        cfg = parse_es_url(url)
        self.prefix: str = cfg["prefix"]
        self.replicas: str | None = cfg["replicas"]
        self.shards: int = cfg["shards"]
        self.es = client if client is not None else _client(cfg)
        self._own_client = client is None
        self.auto_refresh = refresh
        self.alias = f"{self.prefix}-posts"
        self.template = f"{self.prefix}-posts"
        self.incidents_index = f"{self.prefix}-incidents"
        self.meta_index = f"{self.prefix}-meta"
        self.saved_index = f"{self.prefix}-saved-searches"
        self.takedowns_index = f"{self.prefix}-takedowns"  # v4
        self._vec_fields: set[str] = set()
        self._vec_cache: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self._setup()

    # -- setup / schema --
    def _index_settings(self) -> dict[str, Any]:
        s: dict[str, Any] = {"number_of_shards": self.shards}
        if self.replicas is None:
            s["auto_expand_replicas"] = "0-1"  # green on one node, one replica on a cluster
        else:
            s["number_of_replicas"] = int(self.replicas)
        return s

    def _has_analyzer(self, name: str) -> bool:
        from elasticsearch import BadRequestError

        try:
            self.es.indices.analyze(analyzer=name, text="x")
            return True
        except BadRequestError:
            return False

    def posts_mappings(self, language_analyzers: bool = True) -> dict[str, Any]:
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
                **_V5_PROPERTIES,
                **_V6_PROPERTIES,
                "updated_at": {"type": "long"},
            },
        }

    def _put_template(self) -> None:
        self.es.indices.put_index_template(
            name=self.template,
            index_patterns=[f"{self.alias}-*"],
            priority=500,
            version=SCHEMA_VERSION,
            template={
                "settings": self._index_settings(),
                "mappings": self.posts_mappings(self._has_analyzer("russian") and self._has_analyzer("english")),
            },
            meta={"description": "complaintwatch posts (see indexer/store/es.py)"},
        )

    def _create_index(self, name: str, **body) -> None:
        from elasticsearch import BadRequestError

        try:
            self.es.indices.create(index=name, **body)
        except BadRequestError as e:
            if e.error != "resource_already_exists_exception":
                raise

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
        if not es.indices.exists(index=self.incidents_index):
            self._create_index(
                self.incidents_index,
                mappings={
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
                },
                **small,
            )
        if not es.indices.exists(index=self.meta_index):
            self._create_index(self.meta_index, mappings={"dynamic": False}, **small)
        if not es.indices.exists(index=self.saved_index):  # v3
            self._create_index(self.saved_index, mappings=SAVED_SEARCH_MAPPINGS, **small)
        if not es.indices.exists(index=self.takedowns_index):  # v4
            self._create_index(self.takedowns_index, mappings=TAKEDOWN_MAPPINGS, **small)
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
        if version < 2:
            self.es.indices.put_mapping(
                index=self.alias,
                properties={"subject": {"type": "keyword", "ignore_above": 512}},
                meta={"complaintwatch_schema": SCHEMA_VERSION},
            )
        if version < 3:  # incident representatives (the saved-searches index is created in _setup)
            self.es.indices.put_mapping(index=self.incidents_index, properties={"representatives": {"type": "long"}})
            self.es.indices.put_mapping(index=self.alias, meta={"complaintwatch_schema": SCHEMA_VERSION})
        if version < 4:  # the takedown list (its index is created in _setup)
            self.es.indices.put_mapping(index=self.alias, meta={"complaintwatch_schema": SCHEMA_VERSION})
        if version < 5:  # stance and rating; existing posts have neither until the next `index`
            self.es.indices.put_mapping(
                index=self.alias, properties=_V5_PROPERTIES, meta={"complaintwatch_schema": SCHEMA_VERSION}
            )
        if version < 6:  # the change journal: stored posts count as changed in id order, typed when they have a type
            self.es.indices.put_mapping(index=self.alias, properties=_V6_PROPERTIES)
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
            self.es.indices.put_mapping(index=self.alias, meta={"complaintwatch_schema": SCHEMA_VERSION})

    def _mapping(self) -> dict[str, Any]:
        m = self.es.indices.get_mapping(index=self.alias)
        return next(iter(m.values()))["mappings"]

    def schema_version(self) -> int:
        return int(self._mapping().get("_meta", {}).get("complaintwatch_schema", 0))

    def _load_vector_fields(self) -> None:
        props = self._mapping().get("properties", {})
        self._vec_fields = {k for k, v in props.items() if v.get("type") == "dense_vector"}

    def current_index(self) -> str:
        return next(iter(self.es.indices.get_alias(name=self.alias)))

    def refresh(self) -> None:
        self.es.indices.refresh(index=self.alias)
        self._refreshes = getattr(self, "_refreshes", 0) + 1

    def local_changes(self) -> int:
        """A number that moves whenever this store object refreshed its posts
        (after each of its own writes): web/aggregates.py drops what it cached
        from this store then. Writes by other processes do not move it."""
        return getattr(self, "_refreshes", 0)

    def _after_write(self) -> None:
        if self.auto_refresh:
            self.refresh()

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

    def close(self) -> None:
        if self._own_client:
            self.es.close()

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

    # -- ids --
    def _seq_next(self) -> int | None:
        from elasticsearch import NotFoundError

        try:
            return int(self.es.get(index=self.meta_index, id="post_seq")["_source"]["next"])
        except NotFoundError:
            return None

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

    # -- bulk --
    def _bulk(
        self, actions: Iterable[dict[str, Any]], index: str | None = None, conflict_ops: tuple[str, ...] = ("create",)
    ) -> list[dict[str, Any]]:
        """Send actions; returns the version conflicts of ``conflict_ops``, raises on any other failure."""
        from elasticsearch import helpers

        conflicts, errors = [], []
        for ok, item in helpers.streaming_bulk(
            self.es,
            actions,
            index=index or self.alias,
            chunk_size=_BULK_CHUNK,
            max_chunk_bytes=20 * 1024 * 1024,
            raise_on_error=False,
            max_retries=3,
        ):
            if ok:
                continue
            op, res = next(iter(item.items()))
            if op in conflict_ops and res.get("status") == 409:
                conflicts.append(res)
            else:
                errors.append(item)
        if errors:
            raise RuntimeError(f"{len(errors)} bulk operations failed, first: {errors[0]}")
        return conflicts

    def _keys(self, ids: Iterable[int], retry: bool = True) -> dict[int, str]:
        """Post id -> document _id (ids of unknown posts are left out)."""
        ids = list(dict.fromkeys(int(i) for i in ids))
        out: dict[int, str] = {}
        for i in range(0, len(ids), _PAGE):
            chunk = ids[i : i + _PAGE]
            res = self.es.search(
                index=self.alias, size=len(chunk), query={"terms": {"id": chunk}}, source=["id"], track_total_hits=False
            )
            for h in res["hits"]["hits"]:
                out[h["_source"]["id"]] = h["_id"]
        if retry and len(out) < len(ids):
            # written with refresh=False and not searchable yet?
            self.refresh()
            out.update(self._keys([i for i in ids if i not in out], retry=False))
        return out

    # -- posts --
    def upsert_posts(self, posts: Iterable[Post]) -> UpsertResult:
        res = UpsertResult()
        batch: list[Post] = []
        for p in posts:
            batch.append(p)
            if len(batch) >= 1000:
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
                actions.append({"_op_type": "create", "_id": key, "_source": _post_doc(p, pid, None, next(seqs))})
                created[key] = p
                state[key] = {"id": pid, "content_hash": p.content_hash, "incident_id": None, "rating": p.rating}
                res.new += 1
            elif cur["content_hash"] == p.content_hash:
                doc: dict[str, Any] = {"fetched_at": _iso(p.fetched_at), "updated_at": _now_ms()}
                if p.rating is not None and p.rating != cur.get("rating"):
                    # a rating read only now (or changed) is kept, and the stance it implies is redone
                    doc |= {"rating": p.rating, "stance": None}
                    cur["rating"] = p.rating
                actions.append(
                    {
                        "_op_type": "update",
                        "_id": key,
                        # concurrent re-crawls touch the same document: last fetch wins
                        "retry_on_conflict": 5,
                        "doc": doc,
                    }
                )
                pid = cur["id"]
                res.unchanged += 1
            else:
                # content changed: keep id and incident, drop the stale vectors (full replace)
                pid = cur["id"]
                doc = _post_doc(p, pid, cur.get("incident_id"), next(seqs))
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

    def _one(self, query: dict[str, Any]) -> Post | None:
        hits = self.es.search(index=self.alias, query=query, size=1, source=_POST_SOURCE)["hits"]["hits"]
        return _hit_to_post(hits[0]["_source"]) if hits else None

    def get_post(self, post_id: int) -> Post | None:
        return self._one({"term": {"id": int(post_id)}})

    def get_post_by_url(self, url: str) -> Post | None:
        from elasticsearch import NotFoundError

        try:
            d = self.es.get(index=self.alias, id=doc_key(canonical_url(url)), source=_POST_SOURCE)
        except NotFoundError:
            return None
        return _hit_to_post(d["_source"])

    def _scan(
        self, query: dict[str, Any], source: list[str], batch: int = _PAGE, sort: list | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of hits, in ``id`` order, with search_after (no scroll context to leak)."""
        after = None
        sort = sort or [{"id": "asc"}]
        while True:
            kw: dict[str, Any] = {"search_after": after} if after else {}
            hits = self.es.search(
                index=self.alias, query=query, size=batch, sort=sort, source=source, track_total_hits=False, **kw
            )["hits"]["hits"]
            if not hits:
                return
            yield hits
            after = hits[-1]["sort"]

    def iter_posts(self, batch: int = 500) -> Iterator[Post]:
        for hits in self._scan({"match_all": {}}, _POST_SOURCE, batch):
            for h in hits:
                yield _hit_to_post(h["_source"])

    def thread(self, thread_url: str) -> list[Post]:
        u = canonical_url(thread_url)
        hits = self.es.search(
            index=self.alias,
            query={"bool": {"should": [{"term": {"url": u}}, {"term": {"thread_url": u}}], "minimum_should_match": 1}},
            sort=[{"position": "asc"}, {"published_at": {"order": "asc", "missing": "_first"}}, {"id": "asc"}],
            size=_MAX_WINDOW,
            source=_POST_SOURCE,
        )["hits"]["hits"]
        return [_hit_to_post(h["_source"]) for h in hits]

    def count_posts(self) -> int:
        return int(self.es.count(index=self.alias)["count"])

    # -- indexer outputs --
    def posts_without_vector(self, model: str, batch: int = 256) -> Iterator[list[Post]]:
        field = vector_field(model)
        query = {"bool": {"must_not": [{"exists": {"field": field}}]}}
        for hits in self._scan(query, _POST_SOURCE, batch):
            yield [_hit_to_post(h["_source"]) for h in hits]

    def _ensure_vector_field(self, field: str, dims: int) -> None:
        if field in self._vec_fields:
            return
        self._load_vector_fields()
        if field in self._vec_fields:
            return
        self.es.indices.put_mapping(
            index=self.alias,
            properties={
                field: {
                    "type": "dense_vector",
                    "dims": int(dims),
                    "index": True,
                    "similarity": "cosine",
                    # float HNSW: exact similarities, like the embedded store
                    "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
                }
            },
        )
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
        now = _now_ms()
        self._bulk(
            {"_op_type": "update", "_id": keys[int(pid)], "doc": {field: _vec_json(v), "updated_at": now}}
            for pid, v in items
            if int(pid) in keys
        )
        self._vec_cache.pop(model, None)
        self._after_write()

    def count_vectors(self, model: str) -> int:
        field = vector_field(model)
        if field not in self._vec_fields:
            self._load_vector_fields()
            if field not in self._vec_fields:
                return 0
        return int(self.es.count(index=self.alias, query={"exists": {"field": field}})["count"])

    def vectors(self, model: str, ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        field = vector_field(model)
        if field not in self._vec_fields:
            self._load_vector_fields()
            if field not in self._vec_fields:
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
        for i in range(0, len(ids), _PAGE):
            chunk = ids[i : i + _PAGE]
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
            keys, actions, now = list(pending), [], _now_ms()
            for i in range(0, len(keys), _PAGE):
                for d in self.es.mget(index=self.alias, ids=keys[i : i + _PAGE], source=["change_seq"])["docs"]:
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

    def posts_to_analyse(
        self, everything: bool = False, batch: int = 500, upto: int | None = None
    ) -> Iterator[list[Post]]:
        must_not = [] if everything else [{"exists": {"field": "analysed_seq"}}]
        for hits in self._scan(self._journal_query(must_not, [], upto), _POST_SOURCE, batch):
            yield [_hit_to_post(h["_source"]) for h in hits]

    def posts_to_type(self, model: str, batch: int = 500, upto: int | None = None) -> Iterator[list[Post]]:
        field = vector_field(model)
        query = self._journal_query([{"exists": {"field": "typed_seq"}}], [{"exists": {"field": field}}], upto)
        for hits in self._scan(query, _POST_SOURCE, batch):
            yield [_hit_to_post(h["_source"]) for h in hits]

    @staticmethod
    def _journal_query(must_not: list, filters: list, upto: int | None) -> dict[str, Any]:
        if upto is not None:
            filters = [*filters, {"range": {"change_seq": {"lte": int(upto)}}}]
        return {"bool": {"must_not": must_not, "filter": filters}}

    def get_posts_by_url(self, urls: Iterable[str]) -> dict[str, Post]:
        urls = list(dict.fromkeys(urls))
        out: dict[str, Post] = {}
        for i in range(0, len(urls), _PAGE):
            docs = self.es.mget(index=self.alias, ids=[doc_key(u) for u in urls[i : i + _PAGE]], source=_POST_SOURCE)
            out.update((d["_source"]["url"], _hit_to_post(d["_source"])) for d in docs["docs"] if d.get("found"))
        return out

    def thread_posts(self, thread_urls: Iterable[str]) -> list[Post]:
        urls = list(dict.fromkeys(canonical_url(u) for u in thread_urls if u))
        out: dict[int, Post] = {}
        for i in range(0, len(urls), _PAGE):
            chunk = urls[i : i + _PAGE]
            query = {
                "bool": {
                    "should": [
                        {"terms": {"url": chunk}},
                        {"terms": {"thread_url": chunk}},
                        {
                            "bool": {
                                "must_not": [{"exists": {"field": "thread_url"}}],
                                "filter": [{"terms": {"parent_url": chunk}}],
                            }
                        },
                    ],
                    "minimum_should_match": 1,
                }
            }
            for hits in self._scan(query, _POST_SOURCE):
                out.update((h["_source"]["id"], _hit_to_post(h["_source"])) for h in hits)
        return list(out.values())

    def posts_without_stance(self, batch: int = 500) -> Iterator[list[Post]]:
        query = {"bool": {"must_not": [{"exists": {"field": "stance"}}, {"term": {"is_company_reply": True}}]}}
        for hits in self._scan(query, _POST_SOURCE, batch):
            yield [_hit_to_post(h["_source"]) for h in hits]

    def set_stance(self, items: Iterable[tuple[int, str | None]]) -> None:
        items = list(items)
        if not items:
            return
        keys = self._keys(pid for pid, _ in items)
        now = _now_ms()
        self._bulk(
            {"_op_type": "update", "_id": keys[int(pid)], "doc": {"stance": stance, "updated_at": now}}
            for pid, stance in items
            if int(pid) in keys
        )
        self._after_write()

    def stance_counts(self) -> dict[str | None, int]:
        query = {"bool": {"must_not": [{"term": {"is_company_reply": True}}]}}
        res = self.es.search(
            index=self.alias,
            size=0,
            query=query,
            aggs={"s": {"terms": {"field": "stance", "size": 100, "missing": "__none__"}}},
        )
        return {
            (None if b["key"] == "__none__" else b["key"]): int(b["doc_count"])
            for b in res["aggregations"]["s"]["buckets"]
        }

    def _incident_actions(self, incidents: list[Incident]) -> Iterator[dict[str, Any]]:
        for i in incidents:
            yield {
                "_op_type": "index",
                "_id": str(int(i.id)),
                "_source": {
                    "id": int(i.id),
                    "label_en": i.label_en,
                    "label_ru": i.label_ru,
                    "keywords": [str(k) for k in i.keywords],
                    "size": int(i.size),
                    "taxonomy_key": i.taxonomy_key,
                    "representatives": [int(r) for r in i.representatives],
                },
            }

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
        query = {
            "bool": {
                "should": [
                    {"exists": {"field": "incident_id"}},
                    {"bool": {"must_not": [{"exists": {"field": "typed_seq"}}]}},
                ],
                "minimum_should_match": 1,
            }
        }
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
            for h in es.search(index=self.incidents_index, size=_MAX_WINDOW, source=False)["hits"]["hits"]
            if h["_id"] not in keep
        ]
        self._bulk(({"_op_type": "delete", "_id": k} for k in stale), index=self.incidents_index)
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
            self._bulk(({"_op_type": "delete", "_id": k} for k in gone), index=self.incidents_index)
            self.es.indices.refresh(index=self.incidents_index)
        self._after_write()

    def incidents(self) -> list[Incident]:
        hits = self.es.search(index=self.incidents_index, size=_MAX_WINDOW, sort=[{"size": "desc"}, {"id": "asc"}])[
            "hits"
        ]["hits"]
        return [
            Incident(
                id=s["id"],
                label_en=s["label_en"],
                label_ru=s["label_ru"],
                keywords=list(s.get("keywords") or []),
                size=s.get("size") or 0,
                taxonomy_key=s.get("taxonomy_key"),
                representatives=[int(r) for r in s.get("representatives") or []],
            )
            for s in (h["_source"] for h in hits)
        ]

    # -- queries --
    @staticmethod
    def filter_clauses(f: SearchFilters | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(filter, must_not) clauses for the search filters."""
        if f is None:
            return [], []
        flt: list[dict[str, Any]] = []
        must_not: list[dict[str, Any]] = []
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
                rng["gte"] = _iso(f.since)
            if f.until:
                rng["lt"] = _iso(f.until)
            flt.append({"range": {"published_at": rng}})
        if not f.include_comments:
            must_not.append({"exists": {"field": "parent_url"}})
        if f.stance == COMPLAINT:  # not classified yet counts as a complaint; a company's reply never does
            unset = {"bool": {"must_not": [{"exists": {"field": "stance"}}, {"term": {"is_company_reply": True}}]}}
            flt.append({"bool": {"should": [{"term": {"stance": COMPLAINT}}, unset], "minimum_should_match": 1}})
        elif f.stance:
            flt.append({"term": {"stance": f.stance}})
        reply = {"term": {"is_company_reply": True}}
        if f.post_type == "complaint":  # an opening post or review by a customer
            must_not += [{"exists": {"field": "parent_url"}}, reply]
        elif f.post_type == "comment":
            flt.append({"exists": {"field": "parent_url"}})
            must_not.append(reply)
        elif f.post_type == "company_reply":
            flt.append(reply)
        return flt, must_not

    @staticmethod
    def _phrase(ph: list[str]) -> dict[str, Any] | None:
        terms = _terms(ph)
        if not terms:
            return None
        q = " ".join(terms)
        # a phrase matches inside one field, like an FTS5 phrase inside one column
        return {
            "bool": {
                "should": [
                    {"match_phrase": {"title_stems": {"query": q, "boost": 2.0}}},
                    {"match_phrase": {"text_stems": {"query": q}}},
                ],
                "minimum_should_match": 1,
            }
        }

    @classmethod
    def text_query(cls, pq: ParsedQuery, filters: SearchFilters | None = None) -> dict[str, Any] | None:
        """The bool query for a parsed user query; None when it can match nothing."""
        must = [c for c in (cls._phrase(ph) for ph in pq.must) if c]
        for grp in pq.any_of:
            alts = [c for c in (cls._phrase(ph) for ph in grp) if c]
            if alts:
                must.append({"bool": {"should": alts, "minimum_should_match": 1}})
        if not must:
            return None
        flt, must_not = cls.filter_clauses(filters)
        must_not += [c for c in (cls._phrase(ph) for ph in pq.exclude) if c]
        return {"bool": {"must": must, "filter": flt, "must_not": must_not}}

    def search_text(
        self, query: str, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[SearchHit], int]:
        pq = parse_query(query)
        q = self.text_query(pq, filters)
        if q is None:
            return [], 0
        offset = max(0, int(offset))
        size = max(0, min(int(limit), _MAX_WINDOW - offset))
        res = self.es.search(
            index=self.alias,
            query=q,
            from_=min(offset, _MAX_WINDOW),
            size=size,
            sort=[{"_score": "desc"}, {"id": "asc"}],
            source=_POST_SOURCE,
            track_total_hits=True,
        )
        stems_ = pq.positive_stems
        hits = [
            SearchHit(
                post=(p := _hit_to_post(h["_source"])), score=float(h["_score"] or 0.0), snippet=snippet(p.text, stems_)
            )
            for h in res["hits"]["hits"]
        ]
        return hits, int(res["hits"]["total"]["value"])

    def _knn(
        self, model: str, vector: np.ndarray, filters: SearchFilters | None, k: int, pq: ParsedQuery | None = None
    ) -> dict[str, Any] | None:
        field = vector_field(model)
        if field not in self._vec_fields:
            self._load_vector_fields()
            if field not in self._vec_fields:
                return None
        knn: dict[str, Any] = {
            "field": field,
            "query_vector": _vec_json(vector),
            "k": k,
            "num_candidates": min(10_000, max(100, 10 * k)),
        }
        flt, must_not = self.filter_clauses(filters)
        if pq is not None:  # the query's phrases, +words and -words hold for vector hits too
            for grp in pq.required:
                flt.append({"bool": {"should": [c for c in map(self._phrase, grp) if c], "minimum_should_match": 1}})
            must_not += [c for c in map(self._phrase, pq.exclude) if c]
        if flt or must_not:
            knn["filter"] = {"bool": {"filter": flt, "must_not": must_not}}
        return knn

    def search_vector(
        self,
        model: str,
        vector: np.ndarray,
        filters: SearchFilters | None = None,
        limit: int = 20,
        query: str = "",
        exact: bool = False,
    ) -> list[tuple[int, float]]:
        """Approximate (HNSW) kNN; ``exact``: brute force over every post the
        filters allow (script_score), the truth the bench measures recall against."""
        if limit <= 0:
            return []
        knn = self._knn(model, vector, filters, min(limit, _MAX_WINDOW), parse_query(query))
        if knn is None:
            return []
        if exact:  # numpy over the stored vectors (the test server has no scripting for script_score)
            ids, mat = self.vectors(model)
            if "filter" in knn:
                allowed = {h["_source"]["id"] for page in self._scan(knn["filter"], ["id"]) for h in page}
                keep = np.fromiter((int(i) in allowed for i in ids), dtype=bool, count=len(ids))
                ids, mat = ids[keep], mat[keep]
            if not len(ids):
                return []
            sims = mat @ np.asarray(vector, dtype=np.float32)
            top = np.argsort(-sims, kind="stable")[: knn["k"]]
            return [(int(ids[i]), float(sims[i])) for i in top]
        hits = self.es.search(index=self.alias, knn=knn, size=knn["k"], source=["id"])["hits"]["hits"]
        # cosine similarity scores are (1 + cos) / 2
        return [(int(h["_source"]["id"]), 2.0 * float(h["_score"]) - 1.0) for h in hits]

    def search_hybrid(
        self,
        query: str,
        model: str,
        vector: np.ndarray,
        filters: SearchFilters | None = None,
        limit: int = 20,
        text_boost: float = 1.0,
        vector_boost: float = 10.0,
    ) -> list[SearchHit]:
        """BM25 and kNN in one request: posts that match either, scored by
        ``text_boost * bm25 + vector_boost * (1 + cos) / 2``."""
        pq = parse_query(query)
        q = self.text_query(pq, filters)
        knn = self._knn(model, vector, filters, limit, pq)
        if q is None and knn is None:
            return []
        kw: dict[str, Any] = {}
        if q is not None:
            q["bool"]["boost"] = text_boost
            kw["query"] = q
        if knn is not None:
            knn["boost"] = vector_boost
            kw["knn"] = knn
        res = self.es.search(index=self.alias, size=limit, source=_POST_SOURCE, **kw)
        stems_ = pq.positive_stems
        return [
            SearchHit(
                post=(p := _hit_to_post(h["_source"])), score=float(h["_score"] or 0.0), snippet=snippet(p.text, stems_)
            )
            for h in res["hits"]["hits"]
        ]

    # -- facets: one request, a filter aggregation per facet (its own filter left out) --
    _FACET_TERMS = {"company": "companies", "site": "source_site", "lang": "language", "incident": "incident_id"}

    def _post_kinds(self) -> dict[str, Any]:
        """A filters aggregation: the posts of each post type (POST_TYPES)."""
        kinds = {}
        for t in POST_TYPES:
            flt, must_not = self.filter_clauses(SearchFilters(post_type=t))
            kinds[t] = {"bool": {"filter": flt, "must_not": must_not}}
        return {"filters": {"filters": kinds}}

    def _facet_aggs(self, name: str) -> dict[str, Any]:
        by_kind = {"k": self._post_kinds()}
        if name in self._FACET_TERMS:
            return {"v": {"terms": {"field": self._FACET_TERMS[name], "size": 10_000}, "aggs": by_kind}}
        if name == "type":
            return {"v": self._post_kinds()}
        if name == "stance":  # not classified yet counts as a complaint; a company's reply never does
            unset = {"bool": {"must_not": [{"exists": {"field": "stance"}}, {"term": {"is_company_reply": True}}]}}
            return {
                "v": {"terms": {"field": "stance", "size": 100}, "aggs": by_kind},
                "unset": {"filter": unset, "aggs": by_kind},
            }
        raise ValueError(f"unknown facet {name!r}")

    def facet_counts(
        self,
        query: str,
        filters: SearchFilters | None = None,
        fields: Sequence[str] = FACET_FIELDS,
        also: Mapping[str, Iterable[int]] | None = None,
    ) -> FacetCounts:
        text: dict[str, Any] | None = None
        if query.strip():
            text = self.text_query(parse_query(query), None) or {"match_none": {}}
        aggs: dict[str, Any] = {}
        for name in fields:
            flt, must_not = self.filter_clauses(facet_filters(filters, name))
            found: dict[str, Any] = {"bool": {"filter": ([text] if text else []) + flt, "must_not": must_not}}
            extra = [int(i) for i in (also or {}).get(name) or ()]
            if extra:
                found = {"bool": {"should": [found, {"terms": {"id": extra}}], "minimum_should_match": 1}}
            aggs[name] = {"filter": found, "aggs": self._facet_aggs(name)}
        if not aggs:
            return {}
        res = self.es.search(index=self.alias, size=0, aggs=aggs, track_total_hits=False)["aggregations"]
        out: FacetCounts = {}
        for name in fields:
            agg = res[name]
            parts: dict[str, list[tuple[Any, int]]] = {t: [] for t in POST_TYPES}
            if name == "type":
                for t, b in agg["v"]["buckets"].items():
                    parts[t].append((t, int(b["doc_count"])))
            else:
                buckets = [(b["key"], b) for b in agg["v"]["buckets"] if b["key"] not in ("", None)]
                if name == "stance":
                    buckets.append((COMPLAINT, agg["unset"]))
                for key, b in buckets:
                    for t, kb in b["k"]["buckets"].items():
                        parts[t].append((int(key) if name == "incident" else key, int(kb["doc_count"])))
            out[name] = facet_from_parts(*(parts[t] for t in POST_TYPES))
        return out

    def complaint_incident_counts(self, companies: Iterable[str]) -> tuple[int, dict[int, int]]:
        companies = list(dict.fromkeys(companies))
        if not companies:
            return 0, {}
        unset = {"bool": {"must_not": [{"exists": {"field": "stance"}}]}}
        query = {
            "bool": {
                "filter": [
                    {"terms": {"companies": companies}},
                    {"bool": {"should": [{"term": {"stance": COMPLAINT}}, unset], "minimum_should_match": 1}},
                ],
                "must_not": [{"exists": {"field": "parent_url"}}, {"term": {"is_company_reply": True}}],
            }
        }
        res = self.es.search(
            index=self.alias,
            size=0,
            query=query,
            aggs={
                "stories": _STORIES,
                "incident": {"terms": {"field": "incident_id", "size": 10_000}, "aggs": {"stories": _STORIES}},
            },
        )["aggregations"]
        per = {int(b["key"]): int(b["stories"]["value"]) for b in res["incident"]["buckets"]}
        return int(res["stories"]["value"]), per

    def companies(self) -> list[tuple[str, int]]:
        res = self.es.search(
            index=self.alias,
            size=0,
            aggs={
                "c": {"terms": {"field": "companies", "size": 10_000, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
            },
        )
        return [(b["key"], int(b["doc_count"])) for b in res["aggregations"]["c"]["buckets"]]

    def company_incident_stats(self, company: str) -> list[IncidentStat]:
        res = self.es.search(
            index=self.alias,
            size=0,
            query={
                "bool": {
                    "filter": [{"term": {"companies": company}}, {"exists": {"field": "incident_id"}}],
                    # only complaints count (no stance: not classified yet, an older store)
                    "must_not": [{"exists": {"field": "parent_url"}}, {"terms": {"stance": NOT_COMPLAINTS}}],
                }
            },
            aggs={
                "incident": {
                    "terms": {"field": "incident_id", "size": 10_000},
                    "aggs": {
                        "stories": _STORIES,
                        "monthly": {
                            "date_histogram": {
                                "field": "published_at",
                                "calendar_interval": "month",
                                "format": "yyyy-MM",
                                "min_doc_count": 1,
                                "time_zone": "UTC",
                            },
                            "aggs": {"stories": _STORIES},
                        },
                        "first": {"min": {"field": "published_at"}},
                        "last": {"max": {"field": "published_at"}},
                    },
                }
            },
        )

        def ms(v: float | None) -> datetime | None:
            return datetime.fromtimestamp(v / 1000, tz=timezone.utc) if v is not None else None

        stats = [
            IncidentStat(
                company=company,
                incident_id=int(b["key"]),
                count=int(b["stories"]["value"]),
                first_seen=ms(b["first"]["value"]),
                last_seen=ms(b["last"]["value"]),
                monthly={m["key_as_string"]: int(m["stories"]["value"]) for m in b["monthly"]["buckets"]},
            )
            for b in res["aggregations"]["incident"]["buckets"]
        ]
        return sorted(stats, key=lambda s: (-s.count, s.incident_id))

    def company_complaint_months(self, company: str) -> dict[str, int]:
        res = self.es.search(
            index=self.alias,
            size=0,
            query={
                "bool": {
                    "filter": [{"term": {"companies": company}}, {"exists": {"field": "published_at"}}],
                    "must_not": [{"exists": {"field": "parent_url"}}, {"terms": {"stance": NOT_COMPLAINTS}}],
                }
            },
            aggs={
                "monthly": {
                    "date_histogram": {
                        "field": "published_at",
                        "calendar_interval": "month",
                        "format": "yyyy-MM",
                        "min_doc_count": 1,
                        "time_zone": "UTC",
                    },
                    "aggs": {"stories": _STORIES},
                }
            },
        )
        return {b["key_as_string"]: int(b["stories"]["value"]) for b in res["aggregations"]["monthly"]["buckets"]}

    def latest_posts(self, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0) -> list[Post]:
        flt, must_not = self.filter_clauses(filters)
        query = {"bool": {"filter": flt, "must_not": must_not}}
        sort = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "desc"}]
        limit, offset = max(0, int(limit)), max(0, int(offset))
        if offset + limit > _MAX_WINDOW:  # past the from/size window: walk with search_after
            out: list[Post] = []
            for hits in self._scan(query, _POST_SOURCE, _PAGE, sort):
                skip = min(offset, len(hits))
                offset -= skip
                out += [_hit_to_post(h["_source"]) for h in hits[skip:]]
                if len(out) >= limit:
                    break
            return out[:limit]
        res = self.es.search(index=self.alias, query=query, sort=sort, from_=offset, size=limit, source=_POST_SOURCE)
        return [_hit_to_post(h["_source"]) for h in res["hits"]["hits"]]

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
                    s["title_stems"] = title_stems(s.get("title") or "", s.get("parent_url"))
                    s["text_stems"] = stems_field(s.get("text") or "")
                    yield {"_op_type": "index", "_index": dst, "_id": h["_id"], "_source": s}

            for h in helpers.scan(self.es, index=src, query={"query": query}, size=_PAGE, scroll="5m"):
                page.append(h)
                if len(page) >= _PAGE:
                    yield from flush()
                    page = []
            if page:
                yield from flush()

        return sum(
            1
            for _ in helpers.streaming_bulk(
                self.es, actions(), chunk_size=_BULK_CHUNK, max_chunk_bytes=20 * 1024 * 1024, max_retries=3
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
        since = _now_ms() - 1000
        n = self._copy(old, new, {"match_all": {}})
        for _ in range(3):  # catch up with writes that happened during the copy
            started = _now_ms() - 1000
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

    # -- batch reads and aggregates for the web --
    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        ids = list(dict.fromkeys(int(i) for i in ids))
        out: dict[int, Post] = {}
        for i in range(0, len(ids), _PAGE):
            chunk = ids[i : i + _PAGE]
            hits = self.es.search(
                index=self.alias,
                query={"terms": {"id": chunk}},
                size=len(chunk),
                source=_POST_SOURCE,
                track_total_hits=False,
            )["hits"]["hits"]
            out.update((h["_source"]["id"], _hit_to_post(h["_source"])) for h in hits)
        return out

    def count_latest(self, filters: SearchFilters | None = None) -> int:
        flt, must_not = self.filter_clauses(filters)
        return int(self.es.count(index=self.alias, query={"bool": {"filter": flt, "must_not": must_not}})["count"])

    def _composite(self, query: dict[str, Any], field: str) -> Iterator[tuple[str, int]]:
        """(value, doc count) of a keyword field over the matching posts, every bucket."""
        after = None
        while True:
            comp: dict[str, Any] = {"size": _PAGE, "sources": [{"k": {"terms": {"field": field}}}]}
            if after:
                comp["after"] = after
            res = self.es.search(index=self.alias, size=0, query=query, aggs={"c": {"composite": comp}})
            agg = res["aggregations"]["c"]
            for b in agg["buckets"]:
                yield b["key"]["k"], int(b["doc_count"])
            after = agg.get("after_key")
            if not agg["buckets"] or not after:
                return

    def company_reply_stats(self, company: str) -> tuple[int, int]:
        # no scripts (a cluster may not run them): the opening posts' thread keys
        # (thread_url, else url) by composite aggregation, then per chunk of keys
        # the thread members (thread_url = key, plus the post whose url = key)
        roots = {
            "bool": {"filter": [{"term": {"companies": company}}], "must_not": [{"exists": {"field": "parent_url"}}]}
        }
        n_roots: dict[str, int] = dict(self._composite(roots, "thread_url"))
        no_thread = {
            "bool": {**roots["bool"], "must_not": [*roots["bool"]["must_not"], {"exists": {"field": "thread_url"}}]}
        }
        for url, n in self._composite(no_thread, "url"):
            n_roots[url] = n_roots.get(url, 0) + n
        keys = list(n_roots)
        threads = replied = 0
        for i in range(0, len(keys), _PAGE):
            chunk = keys[i : i + _PAGE]
            res = self.es.search(
                index=self.alias,
                size=0,
                query={"terms": {"thread_url": chunk}},
                aggs={
                    "t": {
                        "terms": {"field": "thread_url", "size": len(chunk)},
                        "aggs": {"reply": {"max": {"field": "is_company_reply"}}},
                    }
                },
            )
            members = {b["key"]: int(b["doc_count"]) for b in res["aggregations"]["t"]["buckets"]}
            reply = {b["key"] for b in res["aggregations"]["t"]["buckets"] if b["reply"]["value"]}
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

    @staticmethod
    def _complaints_query(company: str) -> dict[str, Any]:
        """The company's complaints: opening posts by customers, stance complaint or none yet."""
        return {
            "bool": {
                "filter": [{"term": {"companies": company}}],
                "must_not": [
                    {"exists": {"field": "parent_url"}},
                    {"term": {"is_company_reply": True}},
                    {"terms": {"stance": NOT_COMPLAINTS}},
                ],
            }
        }

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

        for i in range(0, len(keys), _KEYS):
            chunk = keys[i : i + _KEYS]
            res = self.es.search(
                index=self.alias,
                size=0,
                query={"bool": {"filter": [{"terms": {"thread_url": chunk}}, {"term": {"is_company_reply": True}}]}},
                aggs={
                    "t": {
                        "terms": {"field": "thread_url", "size": len(chunk)},
                        "aggs": {"first": {"min": {"field": "published_at"}}},
                    }
                },
            )
            for b in res["aggregations"]["t"]["buckets"]:
                v = b["first"]["value"]
                seen(
                    b["key"],
                    int(b["doc_count"]),
                    datetime.fromtimestamp(v / 1000, tz=timezone.utc) if v is not None else None,
                )
            own = self.es.search(
                index=self.alias,
                query={"bool": {"filter": [{"terms": {"url": chunk}}, {"term": {"is_company_reply": True}}]}},
                size=len(chunk),
                source=["url", "thread_url", "published_at"],
                track_total_hits=False,
            )["hits"]["hits"]
            for h in own:
                src = h["_source"]
                if src.get("thread_url") != src["url"]:
                    seen(src["url"], 1, _dt(src.get("published_at")))
        return replies, first

    def company_complaint_replies(self, company: str) -> list[ComplaintReply]:
        # the complaints, then the company replies in their threads (_replies_in_threads)
        source = ["id", "url", "title", "published_at", "content_hash", "incident_id", "thread_url"]
        roots = [h["_source"] for hits in self._scan(self._complaints_query(company), source) for h in hits]
        replies, first = self._replies_in_threads(sorted({src.get("thread_url") or src["url"] for src in roots}))
        return [_complaint_reply(src, replies.get(key, 0) > 0, first.get(key)) for src, key in _keyed(roots)]

    def _composite_buckets(
        self, query: dict[str, Any], sources: list[dict[str, Any]], aggs: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every bucket of a composite aggregation over the matching posts (doc values: no sources read)."""
        after = None
        while True:
            comp: dict[str, Any] = {"composite": {"size": _KEYS, "sources": sources}}
            if after:
                comp["composite"]["after"] = after
            if aggs:
                comp["aggs"] = aggs
            res = self.es.search(index=self.alias, size=0, query=query, aggs={"c": comp})
            agg = res["aggregations"]["c"]
            yield from agg["buckets"]
            after = agg.get("after_key")
            if not agg["buckets"] or not after:
                return

    def company_complaint_summary(self, company: str, unanswered: int = 10) -> ComplaintSummary:
        # by aggregations, not a read of every complaint: (thread key, published) of the
        # complaints, the company replies in those threads, the first date of each story
        query = self._complaints_query(company)
        has_thread = {"exists": {"field": "thread_url"}}
        with_thread = {"bool": {**query["bool"], "filter": [*query["bool"]["filter"], has_thread]}}
        without = {"bool": {**query["bool"], "must_not": [*query["bool"]["must_not"], has_thread]}}
        published = {"p": {"terms": {"field": "published_at", "missing_bucket": True}}}
        roots: dict[tuple[str, str, int | None], int] = {}  # (key field, key, published ms) -> complaints
        for field, q in (("thread_url", with_thread), ("url", without)):
            for b in self._composite_buckets(q, [{"k": {"terms": {"field": field}}}, published]):
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
            v = b["first"]["value"]
            if v is not None:
                m = datetime.fromtimestamp(v / 1000, tz=timezone.utc).strftime("%Y-%m")
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
        source = ["id", "url", "title", "published_at", "content_hash", "incident_id", "thread_url"]
        sort = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "desc"}]
        if len(take) > _KEYS:  # many undated ties: walk the complaints newest first instead
            wanted = {(f, k) for f, k, _ in groups}
            out = []
            for hits in self._scan(query, source, _PAGE, sort):
                out += [_complaint_reply(h["_source"], False, None) for h in hits if _key_of(h["_source"]) in wanted]
                if len(out) >= limit:
                    break
            return out[:limit]
        keys: dict[str, list[str]] = {}
        for field, key, _ in take:
            keys.setdefault(field, []).append(key)
        should: list[dict[str, Any]] = []
        if "thread_url" in keys:
            should.append({"terms": {"thread_url": keys["thread_url"]}})
        if "url" in keys:
            no_thread = {"exists": {"field": "thread_url"}}
            should.append({"bool": {"filter": [{"terms": {"url": keys["url"]}}], "must_not": [no_thread]}})
        res = self.es.search(
            index=self.alias,
            query={"bool": {**query["bool"], "should": should, "minimum_should_match": 1}},
            sort=sort,
            size=limit,
            source=source,
            track_total_hits=False,
        )
        return [_complaint_reply(h["_source"], False, None) for h in res["hits"]["hits"]]

    def company_stance_counts(self, company: str) -> dict[str, int]:
        # one aggregation: the stances, plus the posts not classified yet that count as complaints
        res = self.es.search(
            index=self.alias,
            size=0,
            query={"term": {"companies": company}},
            aggs={
                "s": {"terms": {"field": "stance", "size": len(STANCES) + 10}},
                "unset": {
                    "filter": {
                        "bool": {"must_not": [{"exists": {"field": "stance"}}, {"term": {"is_company_reply": True}}]}
                    }
                },
            },
        )
        by = {b["key"]: int(b["doc_count"]) for b in res["aggregations"]["s"]["buckets"]}
        out = {st: by.get(st, 0) for st in STANCES}
        out[COMPLAINT] += int(res["aggregations"]["unset"]["doc_count"])
        return out

    def company_reply_months(self, company: str) -> dict[str, int]:
        res = self.es.search(
            index=self.alias,
            size=0,
            query={"bool": {"filter": [{"term": {"companies": company}}, {"term": {"is_company_reply": True}}]}},
            aggs={
                "m": {
                    "date_histogram": {
                        "field": "published_at",
                        "calendar_interval": "month",
                        "format": "yyyy-MM",
                        "min_doc_count": 1,
                        "time_zone": "UTC",
                    }
                }
            },
        )
        return {b["key_as_string"]: int(b["doc_count"]) for b in res["aggregations"]["m"]["buckets"]}

    def _counts(self, field: str, query: dict[str, Any] | None = None, exclude: list[str] | None = None):
        terms: dict[str, Any] = {"field": field, "size": 10_000, "order": [{"_count": "desc"}, {"_key": "asc"}]}
        if exclude:
            terms["exclude"] = exclude
        kw: dict[str, Any] = {"query": query} if query else {}
        res = self.es.search(index=self.alias, size=0, aggs={"c": {"terms": terms}}, **kw)
        return [(b["key"], int(b["doc_count"])) for b in res["aggregations"]["c"]["buckets"]]

    def incident_company_counts(self, incident_id: int) -> list[tuple[str, int]]:
        query = {
            "bool": {
                "filter": [{"term": {"incident_id": int(incident_id)}}],
                "must_not": [{"exists": {"field": "parent_url"}}],
            }
        }
        res = self.es.search(
            index=self.alias,
            size=0,
            query=query,
            aggs={"c": {"terms": {"field": "companies", "size": 10_000}, "aggs": {"stories": _STORIES}}},
        )
        counts = [(b["key"], int(b["stories"]["value"])) for b in res["aggregations"]["c"]["buckets"]]
        return sorted(counts, key=lambda kv: (-kv[1], kv[0]))

    def sites(self) -> list[tuple[str, int]]:
        return self._counts("source_site")

    def languages(self) -> list[tuple[str, int]]:
        return self._counts("language", exclude=[""])

    def company_counts(self) -> list[CompanyCounts]:
        reply = {"term": {"is_company_reply": True}}
        comment = {"exists": {"field": "parent_url"}}
        kinds = {
            "filters": {
                "filters": {
                    "complaints": {"bool": {"must_not": [reply, comment]}},
                    "comments": {"bool": {"filter": [comment], "must_not": [reply]}},
                    "replies": reply,
                }
            }
        }
        res = self.es.search(
            index=self.alias,
            size=0,
            aggs={"c": {"terms": {"field": "companies", "size": 10_000}, "aggs": {"k": kinds}}},
        )
        out = []
        for b in res["aggregations"]["c"]["buckets"]:
            k = b["k"]["buckets"]
            n = {name: int(k[name]["doc_count"]) for name in ("complaints", "comments", "replies")}
            out.append(CompanyCounts(b["key"], n["complaints"], n["comments"], n["replies"]))
        return rank_company_counts(out)

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

    # -- saved searches (alerts) --
    def _next_saved_id(self) -> int:
        """A new saved-search id (compare-and-set on a counter doc, like post ids)."""
        from elasticsearch import ConflictError, NotFoundError

        while True:
            try:
                doc = self.es.get(index=self.meta_index, id="saved_search_seq")
            except NotFoundError:
                try:
                    self.es.create(index=self.meta_index, id="saved_search_seq", document={"next": 2})
                    return 1
                except ConflictError:
                    continue
            nxt = int(doc["_source"]["next"])
            try:
                self.es.index(
                    index=self.meta_index,
                    id="saved_search_seq",
                    document={"next": nxt + 1},
                    if_seq_no=doc["_seq_no"],
                    if_primary_term=doc["_primary_term"],
                )
                return nxt
            except ConflictError:
                continue

    def add_saved_search(self, saved: SavedSearch) -> SavedSearch:
        saved.created_at = saved.created_at.replace(microsecond=0)
        if saved.last_seen_at is None:
            saved.last_seen_at = saved.created_at
        saved.id = self._next_saved_id()
        self.es.index(
            index=self.saved_index,
            id=str(saved.id),
            document={
                "id": saved.id,
                "name": saved.name,
                "kind": saved.kind,
                "params": dict(saved.params),
                "created_at": _iso(saved.created_at),
                "last_seen_at": _iso(saved.last_seen_at),
            },
            refresh=True,
        )
        return saved

    def saved_searches(self) -> list[SavedSearch]:
        hits = self.es.search(index=self.saved_index, size=_MAX_WINDOW, sort=[{"id": "asc"}])["hits"]["hits"]
        return [_saved_from_source(h["_source"]) for h in hits]

    def get_saved_search(self, saved_id: int) -> SavedSearch | None:
        from elasticsearch import NotFoundError

        try:
            return _saved_from_source(self.es.get(index=self.saved_index, id=str(int(saved_id)))["_source"])
        except NotFoundError:
            return None

    def mark_saved_search_seen(self, saved_id: int, when: datetime) -> bool:
        from elasticsearch import NotFoundError

        try:
            self.es.update(
                index=self.saved_index, id=str(int(saved_id)), doc={"last_seen_at": _iso(when)}, refresh=True
            )
        except NotFoundError:
            return False
        return True

    def delete_saved_search(self, saved_id: int) -> bool:
        from elasticsearch import NotFoundError

        try:
            self.es.delete(index=self.saved_index, id=str(int(saved_id)), refresh=True)
        except NotFoundError:
            return False
        return True

    # -- one story on several URLs; the takedown list --
    def same_story(self, post: Post) -> list[Post]:
        if not post.content_hash or post.parent_url:
            return []
        hits = self.es.search(
            index=self.alias,
            query={
                "bool": {
                    "filter": [{"term": {"content_hash": post.content_hash}}],
                    "must_not": [{"term": {"url": post.url}}, {"exists": {"field": "parent_url"}}],
                }
            },
            sort=[{"id": "asc"}],
            size=MAX_SAME_STORY,
            source=_POST_SOURCE,
        )["hits"]["hits"]
        return [_hit_to_post(h["_source"]) for h in hits]

    def authors(self) -> set[str]:
        out: set[str] = set()
        for hits in self._scan({"exists": {"field": "author"}}, ["author"], 5000):
            out.update(a for h in hits if (a := h["_source"].get("author")))
        return out

    def _matching(self, matcher: TakedownMatcher) -> Iterator[dict[str, Any]]:
        """Hits (url, thread_url, parent_url) of the posts at a listed URL or a variant of it."""
        hosts = sorted(matcher.hosts)
        for i in range(0, len(hosts), 500):
            chunk = hosts[i : i + 500]
            query = {
                "bool": {
                    "should": [
                        {"wildcard": {f: {"value": f"*{h}*", "case_insensitive": True}}}
                        for h in chunk
                        for f in ("url", "thread_url", "parent_url")
                    ],
                    "minimum_should_match": 1,
                }
            }
            for hits in self._scan(query, ["url", "thread_url", "parent_url"], 5000):
                for h in hits:
                    src = h["_source"]
                    if matcher.any(src.get("url"), src.get("thread_url"), src.get("parent_url")):
                        yield h

    def _keys_under(self, matcher: TakedownMatcher) -> list[str]:
        """Document keys of the posts at the listed URLs (or a variant of them)
        and of everything in their threads or answering them, replies of replies included."""
        found: set[str] = set()
        frontier = []
        for h in self._matching(matcher):
            if h["_id"] not in found:
                found.add(h["_id"])
                frontier.append(h["_source"]["url"])
        while frontier:
            new: list[str] = []
            for i in range(0, len(frontier), _PAGE):
                chunk = frontier[i : i + _PAGE]
                query = {
                    "bool": {
                        "should": [{"terms": {f: chunk}} for f in ("url", "thread_url", "parent_url")],
                        "minimum_should_match": 1,
                    }
                }
                for hits in self._scan(query, ["url"]):
                    for h in hits:
                        if h["_id"] not in found:
                            found.add(h["_id"])
                            new.append(h["_source"]["url"])
            frontier = new
        return sorted(found)

    def add_takedowns(self, urls: Iterable[str]) -> int:
        from elasticsearch import helpers

        keys = sorted({takedown_key(u) for u in urls if u and u.strip()})
        if not keys:
            return 0
        now = _iso(utcnow())
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
            chunk_size=_BULK_CHUNK,
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
        for i in range(0, len(keys), _PAGE):
            docs = self.es.mget(index=self.current_index(), ids=keys[i : i + _PAGE], source=_POST_SOURCE)["docs"]
            out += [_hit_to_post(d["_source"]) for d in docs if d.get("found")]
        return out

    def _write_incidents(self, incidents: list[Incident], drop: list[int]) -> None:
        now = _now_ms()
        self._bulk(
            (
                {
                    "_op_type": "update",
                    "_id": str(int(i.id)),
                    "doc": {
                        "label_en": i.label_en,
                        "label_ru": i.label_ru,
                        "keywords": [str(k) for k in i.keywords],
                        "size": int(i.size),
                        "representatives": [int(r) for r in i.representatives],
                    },
                }
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
            self._bulk(({"_op_type": "delete", "_id": str(int(d))} for d in drop), index=self.incidents_index)
        self.es.indices.refresh(index=self.incidents_index)

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
            hits = self.es.search(index=self.takedowns_index, size=_PAGE, sort=[{"url": "asc"}], source=["url"], **kw)[
                "hits"
            ]["hits"]
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

    def _check_more(self) -> list[str]:
        """What a crash, a hand edit or an old bug can leave behind (run by `complaintwatch check`).
        Posts still waiting for a vector are no problem: the next index run embeds them."""
        problems: list[str] = []
        no_stems = self.es.count(
            index=self.alias,
            query={
                "bool": {
                    "should": [
                        {"bool": {"must_not": [{"exists": {"field": f}}]}} for f in ("text_stems", "title_stems")
                    ],
                    "minimum_should_match": 1,
                }
            },
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
            stored = [h["_source"]["url"] for h in self._matching(matcher)]
            if stored:
                problems.append(f"{len(stored)} posts stored for taken-down URLs (e.g. {sorted(stored)[0]})")
        return problems
