"""The cluster connection: the store URL, the client (timeouts, retries,
credentials from the environment), and the plumbing every role module uses:
bulk writes, paged reads, the refresh policy.

    es://127.0.0.1:9200                       http, index prefix "complaintwatch"
    es://127.0.0.1:9200/myprefix              another set of indices on the same cluster
    es+https://user:pass@search.example:9200/complaintwatch?replicas=1&shards=3

Environment: ``COMPLAINTWATCH_ES_API_KEY`` (an encoded API key, instead of
user:pass in the URL), ``COMPLAINTWATCH_ES_CA_CERTS`` (CA bundle for https),
``COMPLAINTWATCH_ES_VERIFY_CERTS=0`` (self-signed test clusters only).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np

from ..base import Store

DEFAULT_PREFIX = "complaintwatch"
SCHEMES = ("es", "es+http", "es+https", "elasticsearch")

BULK_CHUNK = 500
PAGE = 1000
KEYS = 5000  # thread keys per terms query, buckets per composite page (index.max_terms_count: 65,536)
MAX_WINDOW = 10_000  # index.max_result_window


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


def make_client(settings: dict[str, Any]):
    """An Elasticsearch client for parse_es_url's settings (retries on timeouts)."""
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


def index_settings(shards: int, replicas: str | None) -> dict[str, Any]:
    s: dict[str, Any] = {"number_of_shards": shards}
    if replicas is None:
        s["auto_expand_replicas"] = "0-1"  # green on one node, one replica on a cluster
    else:
        s["number_of_replicas"] = int(replicas)
    return s


class ESBase(Store):
    """What every role mixin of ElasticsearchStore shares: the client, the
    index names (set in store.py) and the request plumbing."""

    es: Any
    url: str
    prefix: str
    replicas: str | None
    shards: int
    auto_refresh: bool
    alias: str  # the posts alias
    template: str
    incidents_index: str
    meta_index: str
    saved_index: str
    takedowns_index: str
    state_index: str
    blobs_index: str
    _own_client: bool
    _vec_fields: set[str]
    _vec_cache: dict[str, tuple[int, np.ndarray, np.ndarray]]
    _refreshes: int = 0

    # -- refresh policy: every mutating call refreshes before it returns, so
    # reads see the writes like they do with SQLite (unless refresh=False) --
    def refresh(self) -> None:
        self.es.indices.refresh(index=self.alias)
        self._refreshes += 1

    def local_changes(self) -> int:
        """A number that moves whenever this store object refreshed its posts
        (after each of its own writes): web/aggregates.py drops what it cached
        from this store then. Writes by other processes do not move it."""
        return self._refreshes

    def _after_write(self) -> None:
        if self.auto_refresh:
            self.refresh()

    def close(self) -> None:
        if self._own_client:
            self.es.close()

    def _setup_state(self) -> None:
        """Make the app-state indices (appstate.py overrides this)."""

    def _index_settings(self) -> dict[str, Any]:
        return index_settings(self.shards, self.replicas)

    def _create_index(self, name: str, **body) -> None:
        """Create unless it exists (two processes may open a new store at once)."""
        from elasticsearch import BadRequestError

        try:
            self.es.indices.create(index=name, **body)
        except BadRequestError as e:
            if e.error != "resource_already_exists_exception":
                raise

    # -- requests --
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
            chunk_size=BULK_CHUNK,
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

    def _scan(
        self, query: dict[str, Any], source: list[str], batch: int = PAGE, sort: list | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of posts' hits, in ``id`` order, with search_after (no scroll context to leak)."""
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

    def _keys(self, ids: Iterable[int], retry: bool = True) -> dict[int, str]:
        """Post id -> document _id (ids of unknown posts are left out)."""
        ids = list(dict.fromkeys(int(i) for i in ids))
        out: dict[int, str] = {}
        for i in range(0, len(ids), PAGE):
            chunk = ids[i : i + PAGE]
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

    # -- the posts index as it is live --
    def current_index(self) -> str:
        """The physical index behind the posts alias."""
        return next(iter(self.es.indices.get_alias(name=self.alias)))

    def _mapping(self) -> dict[str, Any]:
        m = self.es.indices.get_mapping(index=self.alias)
        return next(iter(m.values()))["mappings"]

    def _load_vector_fields(self) -> None:
        props = self._mapping().get("properties", {})
        self._vec_fields = {k for k, v in props.items() if v.get("type") == "dense_vector"}

    def _has_vector_field(self, field: str) -> bool:
        """Whether the mapping has the field (another process may have added it since we looked)."""
        if field not in self._vec_fields:
            self._load_vector_fields()
        return field in self._vec_fields
