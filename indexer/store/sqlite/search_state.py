"""What the embedded store's searches keep between queries: a change marker,
a columnar copy of the filterable post fields, and one ANN index per model.

Every cache is keyed by the change marker, which moves on every commit to the
store file by any connection (this process's other threads, the indexer in
another process), so a search never sees a filter result or vector set older
than the last commit. The ANN index is caught up incrementally from the
vectors table (new rowids appended; a count or last-row mismatch reconciled),
so a later write only costs what it wrote.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import numpy as np

from complaintwatch.models import SearchFilters

from ...stance import COMPLAINT
from ..ann import EXACT_BELOW, AnnIndex, drop_saved
from .company import CompanyAggregates, CompanyPosts

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKGROUND_BUILD_FROM = 20_000  # vectors to index before the first search: build aside, search exactly meanwhile
SAVE_AFTER_ADDED = 0.05  # re-save the graph once this share of it was added since the last save
_BATCH = 5_000


def parse_ints(text: str | None) -> np.ndarray:
    """The integers of a ``group_concat`` (comma-separated; NULL when it joined none)."""
    return np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, dtype=np.int64)


def id_column(db: sqlite3.Connection, sql: str, args: tuple = ()) -> np.ndarray:
    """The integers ``sql`` selects, ascending: SQLite joins them into one string
    (``sql`` selects ``group_concat(...)``), since a Python row per value costs
    ~4x the lookup itself."""
    ids = parse_ints(db.execute(sql, args).fetchone()[0])
    if len(ids) > 1 and not bool((ids[1:] > ids[:-1]).all()):  # index order is ascending; don't rely on it
        ids = np.sort(ids)
    return ids


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


class ChangeMarker:
    """A counter that moves whenever anything commits to the database file.

    SQLite's ``PRAGMA data_version`` changes on a connection when *another*
    connection commits; this one never writes, so every commit by any
    connection shows. One pragma call: microseconds."""

    def __init__(self, path: Path):
        self._conn: sqlite3.Connection | None = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self._lock = threading.Lock()
        self._last: int | None = None
        self._gen = 0

    def __call__(self) -> int:
        with self._lock:
            if self._conn is None:
                return self._gen
            v = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if v != self._last:
                self._last, self._gen = v, self._gen + 1
            return self._gen

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


@dataclass
class Facets:
    """The filterable fields of every post as arrays by position (ids sorted),
    so a filter is a few vector operations instead of a scan of the posts
    table (whose rows carry the text)."""

    ids: np.ndarray
    site: np.ndarray
    sites: dict[str, int]
    lang: np.ndarray
    langs: dict[str | None, int]
    published: np.ndarray  # ISO strings as stored ('' when unknown): compared as SQL compares them
    dated: np.ndarray
    root: np.ndarray
    stance: np.ndarray
    stances: dict[str | None, int]
    reply: np.ndarray
    incident: np.ndarray  # -1: none
    _companies: dict[str, np.ndarray] = field(default_factory=dict)
    # every (post position, company code) pair and the companies by code: the company facet
    _company_pairs: tuple[np.ndarray, np.ndarray, list[str]] | None = None

    @classmethod
    def load(cls, db: sqlite3.Connection) -> Facets:
        rows = db.execute(
            "SELECT id, source_site, language, coalesce(published_at, ''), parent_url IS NULL, stance,"
            " is_company_reply != 0, coalesce(incident_id, -1) FROM posts ORDER BY id"
        ).fetchall()
        cols = list(zip(*rows)) if rows else [()] * 8

        def coded(values) -> tuple[np.ndarray, dict]:
            codes: dict = {}
            arr = np.fromiter((codes.setdefault(v, len(codes)) for v in values), dtype=np.int32, count=len(values))
            return arr, codes

        site, sites = coded(cols[1])
        lang, langs = coded(cols[2])
        stance, stances = coded(cols[5])
        published = np.array(cols[3], dtype="U32") if rows else np.zeros(0, dtype="U32")
        return cls(
            ids=np.fromiter(cols[0], dtype=np.int64, count=len(rows)),
            site=site,
            sites=sites,
            lang=lang,
            langs=langs,
            published=published,
            dated=published != "",
            root=np.fromiter(cols[4], dtype=bool, count=len(rows)),
            stance=stance,
            stances=stances,
            reply=np.fromiter(cols[6], dtype=bool, count=len(rows)),
            incident=np.fromiter(cols[7], dtype=np.int64, count=len(rows)),
        )

    def _is(self, arr: np.ndarray, codes: dict, value) -> np.ndarray:
        code = codes.get(value)
        return np.zeros(len(arr), dtype=bool) if code is None else arr == code

    def in_ids(self, ids: np.ndarray) -> np.ndarray:
        """Mask of the positions whose post id is in ``ids``."""
        mask = np.zeros(len(self.ids), dtype=bool)
        if len(ids) and len(self.ids):
            pos = np.searchsorted(self.ids, ids)
            ok = pos < len(self.ids)
            pos, ids = pos[ok], ids[ok]
            mask[pos[self.ids[pos] == ids]] = True
        return mask

    def company_ids(self, db: sqlite3.Connection, company: str) -> np.ndarray:
        ids = self._companies.get(company)
        if ids is None:
            # the primary key (company, post_id) answers this from the index alone
            ids = id_column(db, "SELECT group_concat(post_id) FROM post_companies WHERE company = ?", (company,))
            self._companies[company] = ids
        return ids

    def mask(self, db: sqlite3.Connection, f: SearchFilters) -> np.ndarray:
        """Positions passing ``f``: the same rows SQLiteStore._filter_sql selects."""
        m = np.ones(len(self.ids), dtype=bool)
        if f.company:
            m &= self.in_ids(self.company_ids(db, f.company))
        if f.incident_id is not None:
            m &= self.incident == int(f.incident_id)
        if f.site:
            m &= self._is(self.site, self.sites, f.site)
        if f.language:
            m &= self._is(self.lang, self.langs, f.language)
        if f.since:
            m &= self.dated & (self.published >= _iso(f.since))
        if f.until:
            m &= self.dated & (self.published < _iso(f.until))
        if not f.include_comments:
            m &= self.root
        if f.stance == COMPLAINT:  # not classified yet counts as a complaint; a company's reply never does
            m &= self._is(self.stance, self.stances, COMPLAINT) | (
                self._is(self.stance, self.stances, None) & ~self.reply
            )
        elif f.stance:
            m &= self._is(self.stance, self.stances, f.stance)
        if f.post_type == "complaint":  # an opening post or review by a customer
            m &= self.root & ~self.reply
        elif f.post_type == "comment":
            m &= ~self.root & ~self.reply
        elif f.post_type == "company_reply":
            m &= self.reply
        return m

    # -- facet counts over a set of posts (Store.facet_counts) --
    def company_pairs(self, db: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Every post's companies by position: (offsets, company codes, companies by code),
        the codes of the post at position i being codes[offsets[i]:offsets[i + 1]]."""
        if self._company_pairs is None:
            rows = db.execute("SELECT post_id, company FROM post_companies").fetchall()
            post_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            codes: dict[str, int] = {}
            comp = np.fromiter((codes.setdefault(r[1], len(codes)) for r in rows), dtype=np.int64, count=len(rows))
            pos = np.searchsorted(self.ids, post_ids) if len(self.ids) else np.zeros(len(rows), dtype=np.int64)
            known = pos < len(self.ids)
            known[known] = self.ids[pos[known]] == post_ids[known]  # a pair of a post written since the load
            pos, comp = pos[known], comp[known]
            order = np.argsort(pos, kind="stable")
            offsets = np.searchsorted(pos[order], np.arange(len(self.ids) + 1))
            self._company_pairs = (offsets, comp[order], list(codes))
        return self._company_pairs

    @staticmethod
    def _coded_counts(arr: np.ndarray, codes: dict, at: np.ndarray) -> list[tuple]:
        n = np.bincount(arr[at], minlength=len(codes))
        return [(v, int(n[c])) for v, c in codes.items() if v not in (None, "") and n[c]]

    def counts(self, db: sqlite3.Connection, facet: str, at: np.ndarray) -> list[tuple]:
        """(value, posts) of one facet (indexer/store/types.py FACET_FIELDS) over the posts
        at positions ``at``: a search's few thousand matches, not a mask of every post."""
        if facet == "site":
            return self._coded_counts(self.site, self.sites, at)
        if facet == "lang":
            return self._coded_counts(self.lang, self.langs, at)
        if facet == "stance":
            out = dict(self._coded_counts(self.stance, self.stances, at))
            # not classified yet counts as a complaint, as the stance filter does; a company's reply never
            none = self.stances.get(None)
            unset = 0 if none is None else int(((self.stance[at] == none) & ~self.reply[at]).sum())
            if unset:
                out[COMPLAINT] = out.get(COMPLAINT, 0) + unset
            return list(out.items())
        if facet == "incident":
            inc = self.incident[at]
            values, n = np.unique(inc[inc >= 0], return_counts=True)
            return [(int(v), int(c)) for v, c in zip(values, n)]
        if facet == "type":
            root, reply = self.root[at], self.reply[at]
            return [
                ("complaint", int((root & ~reply).sum())),
                ("comment", int((~root & ~reply).sum())),
                ("company_reply", int(reply.sum())),
            ]
        if facet == "company":
            offsets, comp, names = self.company_pairs(db)
            starts, ends = offsets[at], offsets[np.asarray(at) + 1]
            lens = ends - starts
            # the pairs of every post in ``at``: each post's run of codes, concatenated
            idx = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
            n = np.bincount(comp[idx], minlength=len(names))
            return [(names[c], int(n[c])) for c in np.flatnonzero(n)]
        raise ValueError(f"unknown facet {facet!r}")


def filter_key(f: SearchFilters | None) -> tuple | None:
    if f is None:
        return None
    return (
        f.company,
        f.incident_id,
        f.site,
        f.language,
        f.since,
        f.until,
        f.include_comments,
        f.stance,
        f.post_type,
    )


_NO_FILTER = filter_key(SearchFilters())


def _vec_marker(db: sqlite3.Connection, model: str) -> tuple:
    """(vectors of the model, the table's last rowid, a digest of that last row).
    New or replaced vectors move the rowid, deletions the count; the digest
    catches a deleted last row whose rowid a new row took over."""
    n = db.execute("SELECT count(*) FROM vectors WHERE model = ?", (model,)).fetchone()[0]
    last = db.execute("SELECT rowid, model, post_id, vec FROM vectors ORDER BY rowid DESC LIMIT 1").fetchone()
    if last is None:
        return (n, 0, 0)
    return (n, int(last[0]), zlib.crc32(f"{last[1]}\x00{last[2]}".encode() + bytes(last[3])))


def _rows_to_arrays(rows: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    vecs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    return keys, ids, vecs


class VectorIndexSync:
    """One model's ANN index, kept in step with the vectors table."""

    def __init__(self, db_path: Path, model: str):
        self.model = model
        self.db_path = Path(db_path)
        self.folder = Path(str(db_path) + ".ann")
        self.name = "".join(c if c.isalnum() or c in "-_." else "_" for c in model) or "model"
        self.index: AnnIndex | None = None
        self.marker: tuple | None = None
        self.checked: int | None = None  # change marker value at the last check
        self.saved_at = 0  # ntotal when last saved
        self._lock = threading.Lock()
        self._building: threading.Thread | None = None

    # -- reading the table --
    def _all(self, db: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        keys, ids, vecs = [], [], []
        last = -1
        while True:
            rows = db.execute(
                "SELECT rowid, post_id, vec FROM vectors WHERE model = ? AND rowid > ? ORDER BY rowid LIMIT ?",
                (self.model, last, _BATCH),
            ).fetchall()
            if not rows:
                break
            k, i, v = _rows_to_arrays(rows)
            keys.append(k)
            ids.append(i)
            vecs.append(v)
            last = int(k[-1])
        if not keys:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        return np.concatenate(keys), np.concatenate(ids), np.vstack(vecs)

    def _build(self, db: sqlite3.Connection) -> AnnIndex | None:
        keys, ids, vecs = self._all(db)
        if not len(ids):
            return None
        index = AnnIndex(vecs.shape[1])
        index.add(ids, vecs, keys)
        return index

    def _catch_up(self, db: sqlite3.Connection, index: AnnIndex, marker: tuple) -> AnnIndex | None:
        """Bring ``index`` (in step at self.marker) to ``marker``; None: rebuild."""
        last = int(index.keys.max()) if index.ntotal else 0
        while True:
            rows = db.execute(
                "SELECT rowid, post_id, vec FROM vectors WHERE rowid > ? AND model = ? ORDER BY rowid LIMIT ?",
                (last, self.model, _BATCH),
            ).fetchall()
            if not rows:
                break
            keys, ids, vecs = _rows_to_arrays(rows)
            if vecs.shape[1] != index.dim:  # re-embedded in another size: start over
                return None
            index.add(ids, vecs, keys)
            last = int(keys[-1])
        # deletions (count below ours) or a reused last rowid: compare keys with the table
        if index.nlive != marker[0] or not self._last_row_known(db, index, marker):
            rows = db.execute("SELECT rowid FROM vectors WHERE model = ?", (self.model,)).fetchall()
            present = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            live_keys = index.keys[index.live]
            gone = ~np.isin(live_keys, present)
            if gone.any():
                index.remove(index.ids[index.live][gone])
                # removed posts' vectors must not stay on disk (a takedown)
                drop_saved_one(self.folder, self.name)
                self.saved_at = 0
            missing = present[~np.isin(present, index.keys[index.live])]
            for i in range(0, len(missing), 500):
                chunk = missing[i : i + 500].tolist()
                rows = db.execute(
                    f"SELECT rowid, post_id, vec FROM vectors WHERE rowid IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
                if rows:
                    keys, ids, vecs = _rows_to_arrays(rows)
                    if vecs.shape[1] != index.dim:
                        return None
                    index.add(ids, vecs, keys)
        return index

    def _last_row_known(self, db: sqlite3.Connection, index: AnnIndex, marker: tuple) -> bool:
        if self.marker is None or marker[1] != self.marker[1]:
            return True  # a new last row: read by the catch-up
        return marker[2] == self.marker[2]

    # -- the index for a search --
    def get(self, db: sqlite3.Connection, changes: int, wait: bool = False) -> AnnIndex | None:
        """The index in step with the table; None when there are no vectors or
        (``wait`` False) a first build of many vectors is still running aside."""
        if self.checked == changes and self.index is not None:
            return self.index
        if wait:
            self.wait()
        with self._lock:
            if self.checked == changes and self.index is not None:
                return self.index
            marker = _vec_marker(db, self.model)
            if self.index is None:
                self._load_saved()
            if self.index is not None and marker == self.marker:
                self.checked = changes
                return self.index
            if self.index is not None:
                index = self._catch_up(db, self.index, marker)
                if index is not None:
                    self.index, self.marker, self.checked = index, marker, changes
                    if index.has_graph and index.ntotal - self.saved_at > SAVE_AFTER_ADDED * index.ntotal:
                        self._save()
                    return index
                self.index = None
            if marker[0] >= BACKGROUND_BUILD_FROM and not wait:
                self._start_background_build()
                return None
            self.index, self.marker, self.checked, self.saved_at = self._build(db), marker, changes, 0
            if self.index is not None and self.index.has_graph:
                self._save()
            return self.index

    def _start_background_build(self) -> None:
        if self._building is not None and self._building.is_alive():
            return

        def run() -> None:
            conn = sqlite3.connect(self.db_path, timeout=30)
            try:
                marker = _vec_marker(conn, self.model)
                index = self._build(conn)
                with self._lock:
                    # the next search catches up with what was written meanwhile
                    self.index, self.marker, self.checked, self.saved_at = index, marker, None, 0
                    if index is not None and index.has_graph:
                        self._save()
            except Exception:
                log.exception("building the ANN index of %s failed; searches stay exact", self.model)
            finally:
                conn.close()

        self._building = threading.Thread(target=run, name=f"ann-build-{self.model}", daemon=True)
        self._building.start()

    def wait(self, timeout: float | None = None) -> None:
        t = self._building
        if t is not None:
            t.join(timeout)

    # -- persistence --
    def _save(self) -> None:
        index, marker = self.index, self.marker
        if index is None or marker is None:  # nothing to save yet
            return
        try:
            index.save(self.folder, self.name, {"model": self.model, "marker": list(marker)})
            self.saved_at = index.ntotal
        except OSError as e:  # a read-only folder: the index still serves from memory
            log.warning("ANN index of %s not saved to %s: %s", self.model, self.folder, e)

    def _load_saved(self) -> None:
        loaded = AnnIndex.load(self.folder, self.name)
        if loaded is None:
            return
        index, meta = loaded
        if meta.get("model") != self.model:
            return
        self.index, self.marker, self.saved_at = index, tuple(meta["marker"]), index.ntotal
        log.info("ANN index of %s loaded from %s (%d vectors)", self.model, self.folder, index.ntotal)
        if meta.get("coarse_built"):  # saved without its compressed copy: keep the one just made
            self._save()

    def close(self) -> None:
        self.wait(0)


def drop_saved_one(folder: Path, name: str) -> None:
    for suffix in (".json", ".faiss", ".pq", ".npz"):
        (folder / f"{name}{suffix}").unlink(missing_ok=True)


class SearchState:
    """The per-store search caches (one per SQLiteStore)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.changes = ChangeMarker(self.path)
        self._lock = threading.Lock()
        self._facets: tuple[int, Facets] | None = None
        self._masks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._vectors: dict[str, VectorIndexSync] = {}
        self._memo: dict[str, OrderedDict[tuple, tuple[int, object]]] = {}

    def remembered(self, kind: str, key: tuple, compute: Callable[[], T], keep: int = 64) -> T:
        """``compute()``, reused while the store is unchanged for the last ``keep``
        keys of each kind: the vector search a page asks twice (its results and its
        facets), the columns every aggregate of a company page reads. Callers must
        not modify the result."""
        gen = self.changes()  # read before computing: a write meanwhile makes the next call compute again
        with self._lock:
            memo = self._memo.setdefault(kind, OrderedDict())
            hit = memo.get(key)
            if hit is not None and hit[0] == gen:
                memo.move_to_end(key)
                return hit[1]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            memo[key] = (gen, value)
            memo.move_to_end(key)
            while len(memo) > keep:
                memo.popitem(last=False)
        return value

    def fts_ids(self, db: sqlite3.Connection, expr: str) -> np.ndarray:
        """Ids (ascending, read-only) of every post the FTS expression matches,
        remembered while the store is unchanged: a search counts, filters and
        facets this one match, and a quoted query's vector side reuses it."""

        def compute() -> np.ndarray:
            ids = id_column(db, "SELECT group_concat(rowid) FROM posts_fts WHERE posts_fts MATCH ?", (expr,))
            ids.flags.writeable = False  # shared through the memo
            return ids

        return self.remembered("ids", (expr,), compute, keep=32)

    def company(self, db: sqlite3.Connection, company: str) -> CompanyAggregates:
        """The company's aggregates over its posts' columns (company.py)."""
        return self.remembered("company", (company,), lambda: CompanyAggregates(CompanyPosts.load(db, company)), 16)

    def facets(self, db: sqlite3.Connection) -> Facets:
        gen = self.changes()
        cached = self._facets
        if cached is not None and cached[0] == gen:
            return cached[1]
        facets = Facets.load(db)
        with self._lock:
            self._facets = (gen, facets)
            self._masks.clear()
        return facets

    def allowed_ids(
        self, db: sqlite3.Connection, f: SearchFilters | None, must: str | None = None, must_not: str | None = None
    ) -> np.ndarray | None:
        """Sorted post ids passing the filters and the query's FTS constraints;
        None when nothing restricts (every post)."""
        if (f is None or filter_key(f) == _NO_FILTER) and not must and not must_not:
            return None
        key = (filter_key(f), must, must_not)
        facets = self.facets(db)
        gen = self.changes()
        with self._lock:
            hit = self._masks.get((gen, key))
            if hit is not None:
                self._masks.move_to_end((gen, key))
                return hit
        m = facets.mask(db, f) if f is not None else np.ones(len(facets.ids), dtype=bool)
        for expr, keep in ((must, True), (must_not, False)):
            if expr:
                hit_mask = facets.in_ids(self.fts_ids(db, expr))
                m &= hit_mask if keep else ~hit_mask
        ids = facets.ids[m]
        with self._lock:
            self._masks[(gen, key)] = ids
            while len(self._masks) > 256:
                self._masks.popitem(last=False)
        return ids

    def vector_index(self, db: sqlite3.Connection, model: str, wait: bool = False) -> AnnIndex | None:
        with self._lock:
            sync = self._vectors.get(model)
            if sync is None:
                sync = self._vectors[model] = VectorIndexSync(self.path, model)
        return sync.get(db, self.changes(), wait=wait)

    def drop_saved(self) -> None:
        """Forget and delete every saved ANN index (a takedown removed vectors)."""
        with self._lock:
            for sync in self._vectors.values():
                sync.wait()
            self._vectors.clear()
        drop_saved(Path(str(self.path) + ".ann"))

    def close(self) -> None:
        for sync in list(self._vectors.values()):
            sync.close()
        self.changes.close()


__all__ = ["EXACT_BELOW", "ChangeMarker", "Facets", "SearchState", "VectorIndexSync"]
