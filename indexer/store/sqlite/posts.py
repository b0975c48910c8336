"""The post role on SQLite (roles.PostStore): posts keyed by canonical URL
with their full-text rows and company rows, the change journal, vectors, and
the fields the index run derives (companies, language, stance, incident types)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import numpy as np

from complaintwatch.models import Incident, Post, canonical_url

from ...analysis import searchable_title, stemmed_text
from ..roles import PostStore
from ..types import FitRow, UpsertResult, stored_id
from .connection import SQLiteConnection
from .schema import COLS, iso, posts_by_id, row_to_post

# no `upto` given: every post may be written
_NO_LIMIT = 2**62


def _read_matrix(rows: Iterable[tuple[int, bytes]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 matrix) from (post id, vector blob) rows: read in batches
    straight into one preallocated matrix (``n``: the expected row count)."""
    it = iter(rows)
    fetch = getattr(rows, "fetchmany", None)
    ids = np.empty(n, dtype=np.int64)
    mat: np.ndarray | None = None
    i = 0
    while True:
        page = fetch(4096) if fetch else [r for _, r in zip(range(4096), it)]
        if not page:
            break
        k = len(page)
        block = np.frombuffer(b"".join(r[1] for r in page), dtype=np.float32).reshape(k, -1)
        if mat is None:
            mat = np.empty((max(n, k), block.shape[1]), dtype=np.float32)
        if i + k > len(mat):  # rows written after the count: grow (rare)
            mat = np.concatenate([mat[:i], np.empty((k, mat.shape[1]), np.float32)])
        if i + k > len(ids):
            ids = np.concatenate([ids[:i], np.empty(k, np.int64)])
        mat[i : i + k] = block
        ids[i : i + k] = [r[0] for r in page]
        i += k
    if mat is None:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return ids[:i], mat[:i]


class SQLitePosts(SQLiteConnection, PostStore):
    """SQLiteStore.__init__ sets ``_vec_cache``: each model's vector matrix, by vector count."""

    _vec_cache: dict[str, tuple[int, np.ndarray, np.ndarray]]

    def upsert_posts(self, posts: Iterable[Post]) -> UpsertResult:
        res = UpsertResult()
        posts = list(posts)
        if not posts:
            return res
        db = self.db
        with db:
            # one block of change sequence numbers for the batch (numbers left unused are gaps, which
            # is fine); taking it first also takes the write lock before the URLs are looked up
            last = db.execute("UPDATE post_seq SET last = last + ? RETURNING last", (len(posts),)).fetchall()[0][0]
            seqs = iter(range(last - len(posts) + 1, last + 1))
            state: dict[str, tuple[int, str]] = {}  # url -> (id, content_hash), one query per 500 URLs
            urls = list(dict.fromkeys(p.url for p in posts))
            for i in range(0, len(urls), 500):
                chunk = urls[i : i + 500]
                marks = ",".join("?" * len(chunk))
                state.update((r[0], (r[1], r[2])) for r in db.execute(
                    f"SELECT url, id, content_hash FROM posts WHERE url IN ({marks})", chunk
                ))  # fmt: skip
            for p in posts:
                row = state.get(p.url)
                values = (
                    p.source_site,
                    p.site_kind.value,
                    p.title,
                    p.text,
                    p.author,
                    iso(p.published_at),
                    p.language,
                    json.dumps(p.companies, ensure_ascii=False),
                    p.parent_url,
                    p.thread_url,
                    p.position,
                    int(p.is_company_reply),
                    iso(p.fetched_at),
                    p.content_hash,
                    p.subject,
                    p.rating,
                )
                if row is None:
                    cur = db.execute(
                        "INSERT INTO posts (source_site, site_kind, title, text, author, published_at, language,"
                        " companies, parent_url, thread_url, position, is_company_reply, fetched_at, content_hash,"
                        " subject, rating, url, change_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (*values, p.url, next(seqs)),
                    )
                    pid = cur.lastrowid
                    assert pid is not None  # an INSERT sets it
                    res.new += 1
                elif row[1] == p.content_hash:
                    # a rating read only now (or changed) is kept, and the stance it implies is redone
                    db.execute(
                        "UPDATE posts SET fetched_at = ?1, rating = coalesce(?2, rating),"
                        " stance = CASE WHEN ?2 IS NOT NULL AND rating IS NOT ?2 THEN NULL ELSE stance END"
                        " WHERE id = ?3",
                        (iso(p.fetched_at), p.rating, row[0]),
                    )
                    p.id = row[0]
                    res.unchanged += 1
                    continue
                else:
                    pid = row[0]
                    # content changed: keep id (links survive), drop the stale vector and stance;
                    # the journal asks the next index run to analyse and type it again
                    db.execute(
                        "UPDATE posts SET source_site=?, site_kind=?, title=?, text=?, author=?, published_at=?,"
                        " language=?, companies=?, parent_url=?, thread_url=?, position=?, is_company_reply=?,"
                        " fetched_at=?, content_hash=?, subject=?, rating=?, stance=NULL, change_seq=?,"
                        " analysed_seq=NULL, typed_seq=NULL WHERE id = ?",
                        (*values, next(seqs), pid),
                    )
                    db.execute("DELETE FROM vectors WHERE post_id = ?", (pid,))
                    db.execute("DELETE FROM posts_fts WHERE rowid = ?", (pid,))
                    res.updated += 1
                p.id = pid
                db.execute(
                    "INSERT INTO posts_fts (rowid, title, text) VALUES (?, ?, ?)",
                    (pid, stemmed_text(searchable_title(p.title, p.parent_url)), stemmed_text(p.text)),
                )
                if row is not None:
                    self._write_companies(pid, p.companies)
                elif p.companies:  # a new post has no company rows to replace
                    db.executemany(
                        "INSERT OR IGNORE INTO post_companies (post_id, company) VALUES (?, ?)",
                        [(pid, c) for c in p.companies],
                    )
                state[p.url] = (pid, p.content_hash)
        if res.new or res.updated:
            self._vec_cache.clear()
        return res

    def change_seq(self) -> int:
        return self.db.execute("SELECT last FROM post_seq").fetchone()[0]

    def _write_companies(self, pid: int, companies: list[str]) -> None:
        self.db.execute("DELETE FROM post_companies WHERE post_id = ?", (pid,))
        self.db.executemany(
            "INSERT OR IGNORE INTO post_companies (post_id, company) VALUES (?, ?)", [(pid, c) for c in companies]
        )

    def get_post(self, post_id: int) -> Post | None:
        r = self.db.execute(f"SELECT {COLS} FROM posts WHERE id = ?", (post_id,)).fetchone()
        return row_to_post(r) if r else None

    def get_post_by_url(self, url: str) -> Post | None:
        r = self.db.execute(f"SELECT {COLS} FROM posts WHERE url = ?", (canonical_url(url),)).fetchone()
        return row_to_post(r) if r else None

    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        return posts_by_id(self.db, ids)

    def iter_posts(self, batch: int = 500) -> Iterator[Post]:
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT {COLS} FROM posts WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield row_to_post(r)
            last = rows[-1]["id"]

    def iter_fit_rows(self, batch: int = 2000) -> Iterator[FitRow]:
        last = 0
        while True:
            cur = self.db.cursor()
            cur.row_factory = None  # plain tuples: no sqlite3.Row per post
            rows = cur.execute(
                "SELECT id, title, text, companies, is_company_reply, parent_url, stance, incident_id"
                " FROM posts WHERE id > ? ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            for pid, title, text, companies, reply, parent, stance, incident in rows:
                yield FitRow(pid, title, text, json.loads(companies), bool(reply), parent, stance, incident)
            last = rows[-1][0]

    def thread(self, thread_url: str) -> list[Post]:
        u = canonical_url(thread_url)
        rows = self.db.execute(
            f"SELECT {COLS} FROM posts WHERE url = ? OR thread_url = ? ORDER BY position, published_at, id", (u, u)
        ).fetchall()
        return [row_to_post(r) for r in rows]

    def count_posts(self) -> int:
        return self.db.execute("SELECT count(*) FROM posts").fetchone()[0]

    def get_posts_by_url(self, urls: Iterable[str]) -> dict[str, Post]:
        urls = list(dict.fromkeys(urls))
        out: dict[str, Post] = {}
        for i in range(0, len(urls), 500):
            chunk = urls[i : i + 500]
            rows = self.db.execute(
                f"SELECT {COLS} FROM posts WHERE url IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            out.update((r["url"], row_to_post(r)) for r in rows)
        return out

    def thread_posts(self, thread_urls: Iterable[str]) -> list[Post]:
        urls = list(dict.fromkeys(canonical_url(u) for u in thread_urls if u))
        out: list[Post] = []
        for i in range(0, len(urls), 300):
            chunk = urls[i : i + 300]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT {COLS} FROM posts WHERE url IN ({marks}) OR thread_url IN ({marks})"
                f" OR (thread_url IS NULL AND parent_url IN ({marks})) ORDER BY id",
                chunk * 3,
            ).fetchall()
            out += [row_to_post(r) for r in rows]
        return list({p.id: p for p in out}.values())

    def authors(self) -> set[str]:
        rows = self.db.execute("SELECT DISTINCT author FROM posts WHERE author IS NOT NULL AND author != ''")
        return {r[0] for r in rows}

    def posts_without_vector(self, model: str, batch: int = 256) -> Iterator[list[Post]]:
        missing = "NOT EXISTS (SELECT 1 FROM vectors v WHERE v.post_id = posts.id AND v.model = ?)"
        # the journal first: a new or changed post is where a vector goes missing (an upsert drops
        # it), and those are few; the whole table only when that leaves some out (a new model)
        seen: set[int] = set()
        for page in self._pages(f"typed_seq IS NULL AND {missing}", (model,), batch, None):
            seen.update(stored_id(p) for p in page)
            yield page
        if self.count_vectors(model) < self.count_posts():  # vectors go with their posts: equal = none missing
            for page in self._pages(missing, (model,), batch, None):
                page = [p for p in page if p.id not in seen]
                if page:
                    yield page

    def set_vectors(self, model: str, items: list[tuple[int, np.ndarray]]) -> None:
        rows = [(pid, model, np.asarray(v, dtype=np.float32).tobytes()) for pid, v in items]
        # One size per model, as Elasticsearch's dense_vector mapping enforces:
        # a stray size would only surface later, as a crash in vectors().
        sizes = {len(r[2]) for r in rows}
        stored = self.db.execute("SELECT length(vec) FROM vectors WHERE model = ? LIMIT 1", (model,)).fetchone()
        if stored:
            sizes.add(stored[0])
        if len(sizes) > 1:
            dims = ", ".join(str(n // 4) for n in sorted(sizes))
            raise RuntimeError(f"vectors of model {model!r} must all have one dimension; got dims {dims}")
        with self.db as db:
            db.executemany("INSERT OR REPLACE INTO vectors (post_id, model, vec) VALUES (?, ?, ?)", rows)
        self._vec_cache.pop(model, None)

    def count_vectors(self, model: str) -> int:
        return self.db.execute("SELECT count(*) FROM vectors WHERE model = ?", (model,)).fetchone()[0]

    def vectors(self, model: str, ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if ids is not None:
            return self._vectors_of(model, list(dict.fromkeys(int(i) for i in ids)))
        # cached by (count): the web process reads, the indexer writes elsewhere
        n = self.count_vectors(model)
        cached = self._vec_cache.get(model)
        if cached and cached[0] == n:
            return cached[1], cached[2]
        cur = self.db.execute("SELECT post_id, vec FROM vectors WHERE model = ? ORDER BY post_id", (model,))
        got, mat = _read_matrix(cur, n)
        self._vec_cache[model] = (n, got, mat)
        return got, mat

    def _vectors_of(self, model: str, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        found: dict[int, bytes] = {}
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[i : i + 500]
            found.update(
                self.db.execute(
                    f"SELECT post_id, vec FROM vectors WHERE model = ? AND post_id IN ({','.join('?' * len(chunk))})",
                    (model, *chunk),
                ).fetchall()
            )
        order = [i for i in ids if i in found]
        return _read_matrix(iter([(i, found[i]) for i in order]), len(order))

    def set_analysis(self, items: list[tuple[int, list[str], str | None]], upto: int | None = None) -> None:
        # a post changed after `upto` (a crawl ran meanwhile) keeps its journal entry: analysed next run
        guard = "" if upto is None else " AND change_seq <= ?"
        with self.db as db:
            for pid, companies, lang in items:
                cur = db.execute(
                    f"UPDATE posts SET companies = ?, language = ?, analysed_seq = change_seq WHERE id = ?{guard}",
                    (json.dumps(companies, ensure_ascii=False), lang, pid, *(() if upto is None else (upto,))),
                )
                if cur.rowcount:
                    self._write_companies(pid, companies)

    def posts_to_analyse(
        self, everything: bool = False, batch: int = 500, upto: int | None = None
    ) -> Iterator[list[Post]]:
        if everything:
            yield from self._pages("1=1", (), batch, upto)
        else:
            yield from self._pages("analysed_seq IS NULL", (), batch, upto)

    def posts_to_type(self, model: str, batch: int = 500, upto: int | None = None) -> Iterator[list[Post]]:
        yield from self._pages(
            "typed_seq IS NULL AND EXISTS (SELECT 1 FROM vectors v WHERE v.model = ? AND v.post_id = posts.id)",
            (model,),
            batch,
            upto,
        )

    def _pages(self, where: str, args: tuple, batch: int, upto: int | None) -> Iterator[list[Post]]:
        """Posts matching ``where`` (and changed no later than ``upto``), in id order, a page at a time."""
        if upto is not None:
            where, args = f"{where} AND change_seq <= ?", (*args, upto)
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT {COLS} FROM posts WHERE id > ? AND {where} ORDER BY id LIMIT ?", (last, *args, batch)
            ).fetchall()
            if not rows:
                return
            yield [row_to_post(r) for r in rows]
            last = rows[-1]["id"]

    def posts_without_stance(self, batch: int = 500) -> Iterator[list[Post]]:
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT {COLS} FROM posts WHERE id > ? AND stance IS NULL AND is_company_reply = 0"
                " ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            yield [row_to_post(r) for r in rows]
            last = rows[-1]["id"]

    def set_stance(self, items: Iterable[tuple[int, str | None]]) -> None:
        with self.db as db:
            db.executemany("UPDATE posts SET stance = ? WHERE id = ?", [(s, int(pid)) for pid, s in items])

    def stance_counts(self) -> dict[str | None, int]:
        return {
            r[0]: r[1]
            for r in self.db.execute("SELECT stance, count(*) FROM posts WHERE is_company_reply = 0 GROUP BY stance")
        }

    @staticmethod
    def _incident_rows(incidents: list[Incident]) -> list[tuple]:
        return [
            (
                int(i.id),
                i.label_en,
                i.label_ru,
                json.dumps([str(k) for k in i.keywords], ensure_ascii=False),
                int(i.size),
                i.taxonomy_key,
                json.dumps([int(r) for r in i.representatives]),
            )
            for i in incidents
        ]

    _INSERT_INCIDENT = (
        "INSERT OR REPLACE INTO incidents (id, label_en, label_ru, keywords, size, taxonomy_key, representatives)"
        " VALUES (?,?,?,?,?,?,?)"
    )

    def replace_incidents(
        self, incidents: list[Incident], assignment: dict[int, int | None], upto: int | None = None
    ) -> None:
        limit = _NO_LIMIT if upto is None else int(upto)
        with self.db as db:
            db.execute("DELETE FROM incidents")
            db.executemany(self._INSERT_INCIDENT, self._incident_rows(incidents))
            # only what differs is written: posts whose type changed, and posts typed for the first time
            current = dict(db.execute("SELECT id, incident_id FROM posts WHERE incident_id IS NOT NULL"))
            untyped = {r[0] for r in db.execute("SELECT id FROM posts WHERE typed_seq IS NULL")}
            db.executemany(
                "UPDATE posts SET incident_id = NULL WHERE id = ? AND change_seq <= ?",
                [(pid, limit) for pid in current if pid not in assignment],
            )
            db.executemany(
                "UPDATE posts SET incident_id = ?, typed_seq = change_seq WHERE id = ? AND change_seq <= ?",
                [
                    (None if iid is None else int(iid), int(pid), limit)
                    for pid, iid in assignment.items()
                    if current.get(int(pid)) != iid or int(pid) in untyped
                ],
            )

    def assign_incidents(
        self, incidents: list[Incident], assignment: dict[int, int | None], upto: int | None = None
    ) -> None:
        limit = _NO_LIMIT if upto is None else int(upto)
        with self.db as db:
            db.executemany("DELETE FROM incidents WHERE id = ?", [(int(i.id),) for i in incidents if not i.size])
            db.executemany(self._INSERT_INCIDENT, self._incident_rows([i for i in incidents if i.size]))
            db.executemany(
                "UPDATE posts SET incident_id = ?, typed_seq = change_seq WHERE id = ? AND change_seq <= ?",
                [(None if iid is None else int(iid), int(pid), limit) for pid, iid in assignment.items()],
            )

    def incidents(self) -> list[Incident]:
        rows = self.db.execute("SELECT * FROM incidents ORDER BY size DESC, id").fetchall()
        return [
            Incident(
                id=r["id"],
                label_en=r["label_en"],
                label_ru=r["label_ru"],
                keywords=json.loads(r["keywords"]),
                size=r["size"],
                taxonomy_key=r["taxonomy_key"],
                representatives=json.loads(r["representatives"]),
            )
            for r in rows
        ]

    def _write_incidents(self, incidents: list[Incident], drop: list[int]) -> None:
        with self.db as db:
            db.executemany(
                "UPDATE incidents SET label_en = ?, label_ru = ?, keywords = ?, size = ?, representatives = ?"
                " WHERE id = ?",
                [
                    (
                        i.label_en,
                        i.label_ru,
                        json.dumps([str(k) for k in i.keywords], ensure_ascii=False),
                        int(i.size),
                        json.dumps([int(r) for r in i.representatives]),
                        int(i.id),
                    )
                    for i in incidents
                ],
            )
            db.executemany("UPDATE posts SET incident_id = NULL WHERE incident_id = ?", [(int(d),) for d in drop])
            db.executemany("DELETE FROM incidents WHERE id = ?", [(int(d),) for d in drop])
