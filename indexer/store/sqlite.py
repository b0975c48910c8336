"""The embedded store: SQLite with FTS5 over stemmed text, vectors beside it.

No server needed, so `complaintwatch demo` runs anywhere. One connection per
thread (Flask serves from several) and WAL so readers never block the indexer.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np

from complaintwatch.models import (
    Incident,
    Post,
    SavedSearch,
    SearchFilters,
    SearchHit,
    SiteKind,
    canonical_url,
    utcnow,
)

from ..analysis import searchable_title, stemmed_text
from ..query import constraints_fts5, parse_query, to_fts5
from ..snippets import snippet
from ..stance import COMPLAINT
from .appstate_sqlite import SQLiteAppState
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
    stored_id,
    takedown_key,
    takedown_match_key,
)
from .sqlite_search import SearchState, filter_key

log = logging.getLogger(__name__)

# SearchFilters.post_type: complaints are opening posts and reviews by customers, never company replies
_POST_TYPE_SQL = {
    "complaint": "({p}.parent_url IS NULL AND {p}.is_company_reply = 0)",
    "comment": "({p}.parent_url IS NOT NULL AND {p}.is_company_reply = 0)",
    "company_reply": "{p}.is_company_reply != 0",
}

SCHEMA_VERSION = 6

# Each entry migrates from version i to i+1; append, never edit.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE posts (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        source_site TEXT NOT NULL,
        site_kind TEXT NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        author TEXT,
        published_at TEXT,          -- ISO 8601 in UTC, sortable
        language TEXT,
        companies TEXT NOT NULL DEFAULT '[]',
        parent_url TEXT,
        thread_url TEXT,
        position INTEGER NOT NULL DEFAULT 0,
        is_company_reply INTEGER NOT NULL DEFAULT 0,
        fetched_at TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        incident_id INTEGER
    );
    CREATE INDEX posts_thread ON posts(thread_url, position);
    CREATE INDEX posts_published ON posts(published_at);
    CREATE INDEX posts_hash ON posts(content_hash);
    CREATE TABLE post_companies (
        post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        company TEXT NOT NULL,
        PRIMARY KEY (company, post_id)
    );
    CREATE TABLE vectors (
        post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vec BLOB NOT NULL,
        PRIMARY KEY (model, post_id)
    );
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        label_en TEXT NOT NULL,
        label_ru TEXT NOT NULL,
        keywords TEXT NOT NULL DEFAULT '[]',
        size INTEGER NOT NULL DEFAULT 0,
        taxonomy_key TEXT
    );
    -- stems, not words: Russian inflections ("отменили"/"отменил") must match
    CREATE VIRTUAL TABLE posts_fts USING fts5(title, text, tokenize = 'unicode61 remove_diacritics 2');
    """,
    # v2: the company a page names as its subject (review sites)
    """
    ALTER TABLE posts ADD COLUMN subject TEXT;
    """,
    # v3: representative posts per incident type; saved searches (alerts)
    """
    ALTER TABLE incidents ADD COLUMN representatives TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE saved_searches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a deleted alert's feed URL stays dead
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        last_seen_at TEXT
    );
    """,
    # v4: the takedown list: URLs deleted from the store and never crawled again
    """
    CREATE TABLE takedowns (
        url TEXT PRIMARY KEY,  -- canonical URL (complaintwatch.models.canonical_url)
        added_at TEXT NOT NULL
    );
    """,
    # v5: stance per post (indexer/stance.py) and star ratings; the per-post
    # deletes of post_companies and vectors (upserts, analysis) used to scan
    # the whole table: their primary keys start with company / model
    """
    ALTER TABLE posts ADD COLUMN stance TEXT;
    ALTER TABLE posts ADD COLUMN rating INTEGER;
    CREATE INDEX post_companies_post ON post_companies(post_id);
    CREATE INDEX vectors_post ON vectors(post_id);
    """,
    # v6: the change journal (indexer/pipeline.py does only what changed):
    # change_seq grows on every insert or real change (post_seq holds the last
    # one handed out); analysed_seq / typed_seq are set when the index run
    # analysed / typed that version and cleared by a change. Posts already
    # typed count as typed; the next run analyses every post once.
    """
    ALTER TABLE posts ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE posts ADD COLUMN analysed_seq INTEGER;
    ALTER TABLE posts ADD COLUMN typed_seq INTEGER;
    UPDATE posts SET change_seq = id;
    UPDATE posts SET typed_seq = id WHERE incident_id IS NOT NULL;
    CREATE TABLE post_seq (one INTEGER PRIMARY KEY CHECK (one = 1), last INTEGER NOT NULL);
    INSERT INTO post_seq (one, last) SELECT 1, coalesce(max(id), 0) FROM posts;
    CREATE INDEX posts_change_seq ON posts(change_seq);
    CREATE INDEX posts_unanalysed ON posts(id) WHERE analysed_seq IS NULL;
    CREATE INDEX posts_untyped ON posts(id) WHERE typed_seq IS NULL;
    CREATE INDEX posts_parent ON posts(parent_url) WHERE parent_url IS NOT NULL;
    CREATE INDEX posts_unclassified ON posts(id) WHERE stance IS NULL AND is_company_reply = 0;
    CREATE INDEX posts_incident ON posts(incident_id) WHERE incident_id IS NOT NULL;
    CREATE INDEX posts_stance ON posts(is_company_reply, stance);
    """,
]

_COLS = (
    "id, url, source_site, site_kind, title, text, author, published_at, language, companies, "
    "parent_url, thread_url, position, is_company_reply, fetched_at, content_hash, incident_id, subject, stance, rating"
)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def _row_to_post(r: sqlite3.Row) -> Post:
    return Post(
        id=r["id"],
        url=r["url"],
        source_site=r["source_site"],
        site_kind=SiteKind(r["site_kind"]),
        title=r["title"],
        text=r["text"],
        author=r["author"],
        published_at=_dt(r["published_at"]),
        language=r["language"],
        companies=json.loads(r["companies"]),
        parent_url=r["parent_url"],
        thread_url=r["thread_url"],
        position=r["position"],
        is_company_reply=bool(r["is_company_reply"]),
        fetched_at=datetime.fromisoformat(r["fetched_at"]),  # NOT NULL
        content_hash=r["content_hash"],
        incident_id=r["incident_id"],
        subject=r["subject"],
        stance=r["stance"],
        rating=r["rating"],
    )


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


# no `upto` given: every post may be written
_NO_LIMIT = 2**62


class SchemaError(RuntimeError):
    pass


_SEARCH_STATE_LOCK = threading.Lock()


def _member(ids: np.ndarray, sorted_allowed: np.ndarray) -> np.ndarray:
    """Mask of ``ids`` found in the sorted array ``sorted_allowed``."""
    if not len(sorted_allowed):
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_allowed, ids), len(sorted_allowed) - 1)
    return sorted_allowed[pos] == ids


class SQLiteStore(SQLiteAppState, Store):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._vec_cache: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self._migrate()

    # -- connection / schema --
    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            # deleted rows (a takedown, an updated post's old text) are overwritten, not left in free pages
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        db = self.db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.path} has schema v{version}, this complaintwatch knows v{SCHEMA_VERSION}: upgrade it"
            )
        for v in range(version, SCHEMA_VERSION):
            with db:
                db.executescript("BEGIN;" + MIGRATIONS[v] + f"; PRAGMA user_version={v + 1}; COMMIT;")
            log.info("migrated %s to schema v%d", self.path, v + 1)

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # Each: a count of rows in a state that a crash, a hand edit or an old bug
    # can leave behind, and how `complaintwatch check` reports it.
    _INTEGRITY_COUNTS: tuple[tuple[str, str], ...] = (
        (
            "SELECT count(*) FROM posts p WHERE NOT EXISTS (SELECT 1 FROM posts_fts f WHERE f.rowid = p.id)",
            "{} posts missing from the full-text index",
        ),
        (
            "SELECT count(*) FROM posts_fts f WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = f.rowid)",
            "{} full-text rows for unknown posts",
        ),
        (
            "SELECT count(*) FROM (SELECT url FROM posts GROUP BY url HAVING count(*) > 1)",
            "{} URLs stored more than once",
        ),
        (
            "SELECT count(*) FROM vectors v WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = v.post_id)",
            "{} vectors without a post",
        ),
        (
            "SELECT count(*) FROM posts p WHERE incident_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = p.incident_id)",
            "{} posts point at an unknown incident type",
        ),
        (
            "SELECT count(*) FROM post_companies c WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = c.post_id)",
            "{} company rows without a post",
        ),
    )

    def check(self) -> list[str]:
        """Integrity problems. Posts still waiting for a vector are none: the
        next index run embeds them."""
        db = self.db
        problems = [f"sqlite: {r[0]}" for r in db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        for sql, message in self._INTEGRITY_COUNTS:
            n = db.execute(sql).fetchone()[0]
            if n:
                problems.append(message.format(n))
        try:
            db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')")
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):  # a writer held on: unverified, not damaged
                log.warning("full-text index not verified: %s", e)
            else:
                problems.append(f"full-text index is damaged: {e}")
        except sqlite3.DatabaseError as e:
            problems.append(f"full-text index is damaged: {e}")
        finally:
            if db.in_transaction:
                db.rollback()
        for model, sizes in db.execute(
            "SELECT model, count(DISTINCT length(vec)) AS n FROM vectors GROUP BY model HAVING n > 1"
        ):
            problems.append(f"vectors of model {model} have {sizes} different dimensions")
        odd = sum(1 for (u,) in db.execute("SELECT url FROM posts") if canonical_url(u) != u)
        if odd:
            problems.append(f"{odd} posts stored under a non-canonical URL (a re-crawl would duplicate them)")
        if matcher := TakedownMatcher(self.takedowns()):
            stored = [
                r[0]
                for r in db.execute("SELECT url, thread_url, parent_url FROM posts ORDER BY id")
                if matcher.any(r[0], r[1], r[2])
            ]
            if stored:
                problems.append(f"{len(stored)} posts stored for taken-down URLs (e.g. {stored[0]})")
        return problems

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        state = self.__dict__.pop("_search", None)
        if state is not None:
            state.close()

    # -- posts --
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
                    _iso(p.published_at),
                    p.language,
                    json.dumps(p.companies, ensure_ascii=False),
                    p.parent_url,
                    p.thread_url,
                    p.position,
                    int(p.is_company_reply),
                    _iso(p.fetched_at),
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
                        (_iso(p.fetched_at), p.rating, row[0]),
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
        r = self.db.execute(f"SELECT {_COLS} FROM posts WHERE id = ?", (post_id,)).fetchone()
        return _row_to_post(r) if r else None

    def get_post_by_url(self, url: str) -> Post | None:
        r = self.db.execute(f"SELECT {_COLS} FROM posts WHERE url = ?", (canonical_url(url),)).fetchone()
        return _row_to_post(r) if r else None

    def iter_posts(self, batch: int = 500) -> Iterator[Post]:
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT {_COLS} FROM posts WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield _row_to_post(r)
            last = rows[-1]["id"]

    def thread(self, thread_url: str) -> list[Post]:
        u = canonical_url(thread_url)
        rows = self.db.execute(
            f"SELECT {_COLS} FROM posts WHERE url = ? OR thread_url = ? ORDER BY position, published_at, id", (u, u)
        ).fetchall()
        return [_row_to_post(r) for r in rows]

    def count_posts(self) -> int:
        return self.db.execute("SELECT count(*) FROM posts").fetchone()[0]

    # -- indexer outputs --
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
                f"SELECT {_COLS} FROM posts WHERE id > ? AND {where} ORDER BY id LIMIT ?", (last, *args, batch)
            ).fetchall()
            if not rows:
                return
            yield [_row_to_post(r) for r in rows]
            last = rows[-1]["id"]

    def get_posts_by_url(self, urls: Iterable[str]) -> dict[str, Post]:
        urls = list(dict.fromkeys(urls))
        out: dict[str, Post] = {}
        for i in range(0, len(urls), 500):
            chunk = urls[i : i + 500]
            rows = self.db.execute(
                f"SELECT {_COLS} FROM posts WHERE url IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            out.update((r["url"], _row_to_post(r)) for r in rows)
        return out

    def thread_posts(self, thread_urls: Iterable[str]) -> list[Post]:
        urls = list(dict.fromkeys(canonical_url(u) for u in thread_urls if u))
        out: list[Post] = []
        for i in range(0, len(urls), 300):
            chunk = urls[i : i + 300]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT {_COLS} FROM posts WHERE url IN ({marks}) OR thread_url IN ({marks})"
                f" OR (thread_url IS NULL AND parent_url IN ({marks})) ORDER BY id",
                chunk * 3,
            ).fetchall()
            out += [_row_to_post(r) for r in rows]
        return list({p.id: p for p in out}.values())

    def posts_without_stance(self, batch: int = 500) -> Iterator[list[Post]]:
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT {_COLS} FROM posts WHERE id > ? AND stance IS NULL AND is_company_reply = 0"
                " ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            yield [_row_to_post(r) for r in rows]
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

    # -- queries --
    @staticmethod
    def _filter_sql(f: SearchFilters | None, alias: str = "p") -> tuple[str, list]:
        if f is None:
            return "", []
        sql: list[str] = []
        args: list = []
        if f.company:
            sql.append(f"EXISTS (SELECT 1 FROM post_companies c WHERE c.post_id = {alias}.id AND c.company = ?)")
            args.append(f.company)
        if f.incident_id is not None:
            sql.append(f"{alias}.incident_id = ?")
            args.append(f.incident_id)
        if f.site:
            sql.append(f"{alias}.source_site = ?")
            args.append(f.site)
        if f.language:
            sql.append(f"{alias}.language = ?")
            args.append(f.language)
        if f.since:
            sql.append(f"{alias}.published_at >= ?")
            args.append(_iso(f.since))
        if f.until:
            sql.append(f"{alias}.published_at < ?")
            args.append(_iso(f.until))
        if not f.include_comments:
            sql.append(f"{alias}.parent_url IS NULL")
        if f.stance == COMPLAINT:  # not classified yet counts as a complaint; a company's reply never does
            sql.append(f"({alias}.stance = ? OR ({alias}.stance IS NULL AND {alias}.is_company_reply = 0))")
            args.append(f.stance)
        elif f.stance:
            sql.append(f"{alias}.stance = ?")
            args.append(f.stance)
        if f.post_type:
            sql.append(_POST_TYPE_SQL[f.post_type].format(p=alias))
        return ("".join(" AND " + s for s in sql), args)

    def search_state(self) -> SearchState:
        """The search caches of this store (change marker, filter columns, ANN indexes)."""
        state = self.__dict__.get("_search")
        if state is None:
            with _SEARCH_STATE_LOCK:
                state = self.__dict__.get("_search")
                if state is None:
                    state = self._search = SearchState(self.path)
        return state

    def change_marker(self) -> int:
        """A number that moves on every commit to the store by any connection or
        process: the key for caches of what was read from it."""
        return self.search_state().changes()

    def search_text(
        self, query: str, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[SearchHit], int]:
        pq = parse_query(query)
        expr = to_fts5(pq)
        if expr is None:
            return [], 0
        limit, offset = max(0, int(limit)), max(0, int(offset))
        allowed = self.search_state().allowed_ids(self.db, filters)
        # ranked and counted on the full-text index alone: only the page's posts are read
        if allowed is None:
            total = self.db.execute("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH ?", (expr,)).fetchone()[0]
            ranked = [
                (r[0], r[1])
                for r in self.db.execute(
                    "SELECT rowid, bm25(posts_fts, 2.0, 1.0) AS score FROM posts_fts WHERE posts_fts MATCH ?"
                    " ORDER BY score, rowid LIMIT ? OFFSET ?",
                    (expr, limit, offset),
                )
            ]
        else:
            rows = self.db.execute(
                "SELECT rowid, bm25(posts_fts, 2.0, 1.0) FROM posts_fts WHERE posts_fts MATCH ?", (expr,)
            ).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
            keep = _member(ids, allowed)
            ids, scores = ids[keep], scores[keep]
            total = len(ids)
            order = np.lexsort((ids, scores))[offset : offset + limit]
            ranked = [(int(ids[i]), float(scores[i])) for i in order]
        posts = self.get_posts(pid for pid, _ in ranked)
        stems = pq.positive_stems
        hits = [
            SearchHit(post=posts[pid], score=-score, make_snippet=partial(snippet, query_stems=stems))
            for pid, score in ranked
            if pid in posts
        ]
        return hits, total

    def search_vector(
        self,
        model: str,
        vector: np.ndarray,
        filters: SearchFilters | None = None,
        limit: int = 20,
        query: str = "",
        exact: bool = False,
    ) -> list[tuple[int, float]]:
        """Approximate (HNSW) nearest neighbours with the filters applied inside
        the search; exact for small stores and selective filters, or with ``exact``.
        Remembered until the store changes: a search page asks the same one for its
        results and for its facets."""
        if limit <= 0:
            return []
        vector = np.ascontiguousarray(vector, dtype=np.float32)
        key = (model, vector.tobytes(), filter_key(filters), int(limit), query, bool(exact))
        found = self.search_state().remembered(
            "vector", key, lambda: self._search_vector(model, vector, filters, limit, query, exact)
        )
        return list(found)

    def _search_vector(
        self, model: str, vector: np.ndarray, filters: SearchFilters | None, limit: int, query: str, exact: bool
    ) -> list[tuple[int, float]]:
        state = self.search_state()
        # the query's phrases, +words and -words hold for vector hits too
        must, must_not = constraints_fts5(parse_query(query))
        allowed = state.allowed_ids(self.db, filters, must, must_not)
        if allowed is not None and not len(allowed):
            return []
        index = None if exact else state.vector_index(self.db, model)
        if index is None:  # exact: asked for, or the first graph is still being built
            return self._search_vector_exact(model, vector, allowed, limit)
        with index.lock:
            mask = None
            if allowed is not None:
                mask = np.zeros(index.ntotal, dtype=bool)
                mask[index.positions(allowed)] = True
            found = index.search(vector, limit, mask)
        return [(int(i), float(s)) for i, s in zip(found.ids, found.scores)]

    def _search_vector_exact(
        self, model: str, vector: np.ndarray, allowed: np.ndarray | None, limit: int
    ) -> list[tuple[int, float]]:
        ids, mat = self.vectors(model)
        if not len(ids):
            return []
        if allowed is not None:
            keep = _member(ids, allowed)
            ids, mat = ids[keep], mat[keep]
        sims = mat @ np.asarray(vector, dtype=np.float32)
        k = min(limit, len(sims))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(ids[i]), float(sims[i])) for i in top]

    def facet_counts(
        self,
        query: str,
        filters: SearchFilters | None = None,
        fields: Sequence[str] = FACET_FIELDS,
        also: Mapping[str, Iterable[int]] | None = None,
    ) -> FacetCounts:
        # over the cached filter columns: one full-text lookup, then a mask and a bincount per facet
        facets = self.search_state().facets(self.db)
        text = None  # None: every post (no query)
        if query.strip():
            expr = to_fts5(parse_query(query))
            ids = (
                [r[0] for r in self.db.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?", (expr,))]
                if expr is not None
                else []
            )
            text = facets.in_ids(np.sort(np.asarray(ids, dtype=np.int64)))
        out: FacetCounts = {}
        for name in fields:
            m = facets.mask(self.db, facet_filters(filters, name))
            if text is not None:
                m &= text
            extra = list((also or {}).get(name) or ())
            if extra:
                m |= facets.in_ids(np.sort(np.asarray(extra, dtype=np.int64)))
            kinds = (facets.root & ~facets.reply, ~facets.root & ~facets.reply, facets.reply)
            out[name] = facet_from_parts(*(facets.counts(self.db, name, m & k) for k in kinds))
        return out

    def complaint_incident_counts(self, companies: Iterable[str]) -> tuple[int, dict[int, int]]:
        companies = list(dict.fromkeys(companies))
        if not companies:
            return 0, {}
        marks = ",".join("?" * len(companies))
        where = (
            " FROM posts p WHERE p.parent_url IS NULL AND p.is_company_reply = 0"
            " AND (p.stance IS NULL OR p.stance = ?)"
            f" AND p.id IN (SELECT post_id FROM post_companies WHERE company IN ({marks}))"
        )
        args = (COMPLAINT, *companies)
        total = self.db.execute(f"SELECT count(DISTINCT p.content_hash){where}", args).fetchone()[0]
        rows = self.db.execute(
            f"SELECT p.incident_id, count(DISTINCT p.content_hash){where} AND p.incident_id IS NOT NULL"
            " GROUP BY p.incident_id",
            args,
        )
        return int(total), {int(r[0]): int(r[1]) for r in rows}

    def companies(self) -> list[tuple[str, int]]:
        rows = self.db.execute(
            "SELECT company, count(*) AS n FROM post_companies GROUP BY company ORDER BY n DESC, company"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def company_incident_stats(self, company: str) -> list[IncidentStat]:
        # a story posted on several URLs (same content_hash) counts once; only
        # complaints count (stance None: not classified yet, an older database).
        # Over the company's cached columns (indexer/store/sqlite_company.py)
        return self.search_state().company(self.db, company).incident_stats()

    def company_complaint_months(self, company: str) -> dict[str, int]:
        return self.search_state().company(self.db, company).complaint_months()

    def latest_posts(self, filters: SearchFilters | None = None, limit: int = 20, offset: int = 0) -> list[Post]:
        where, args = self._filter_sql(filters)
        rows = self.db.execute(
            f"SELECT {_COLS} FROM posts p WHERE 1=1{where}"
            " ORDER BY published_at DESC NULLS LAST, id DESC LIMIT ? OFFSET ?",
            (*args, max(0, int(limit)), max(0, int(offset))),
        ).fetchall()
        return [_row_to_post(r) for r in rows]

    # -- batch reads and aggregates for the web --
    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        ids = list(dict.fromkeys(int(i) for i in ids))
        out: dict[int, Post] = {}
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[i : i + 500]
            rows = self.db.execute(
                f"SELECT {_COLS} FROM posts WHERE id IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            out.update((r["id"], _row_to_post(r)) for r in rows)
        return out

    def count_latest(self, filters: SearchFilters | None = None) -> int:
        where, args = self._filter_sql(filters)
        return self.db.execute(f"SELECT count(*) FROM posts p WHERE 1=1{where}", args).fetchone()[0]

    def company_reply_stats(self, company: str) -> tuple[int, int]:
        return self.search_state().company(self.db, company).reply_stats()

    def company_complaint_replies(self, company: str) -> list[ComplaintReply]:
        return self.search_state().company(self.db, company).complaint_replies(self.db)

    def company_complaint_summary(self, company: str, unanswered: int = 10) -> ComplaintSummary:
        return self.search_state().company(self.db, company).summary(self.db, unanswered)

    def company_stance_counts(self, company: str) -> dict[str, int]:
        return self.search_state().company(self.db, company).stance_counts()

    def company_reply_months(self, company: str) -> dict[str, int]:
        return self.search_state().company(self.db, company).reply_months()

    def incident_company_counts(self, incident_id: int) -> list[tuple[str, int]]:
        rows = self.db.execute(
            # a story posted on several URLs (same content_hash) counts once, as in company_incident_stats
            "SELECT c.company, count(DISTINCT p.content_hash) AS n FROM posts p JOIN post_companies c"
            " ON c.post_id = p.id WHERE p.incident_id = ? AND p.parent_url IS NULL"
            " GROUP BY c.company ORDER BY n DESC, c.company",
            (int(incident_id),),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def sites(self) -> list[tuple[str, int]]:
        rows = self.db.execute(
            "SELECT source_site, count(*) AS n FROM posts GROUP BY source_site ORDER BY n DESC, source_site"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def languages(self) -> list[tuple[str, int]]:
        rows = self.db.execute(
            "SELECT language, count(*) AS n FROM posts WHERE language IS NOT NULL AND language != ''"
            " GROUP BY language ORDER BY n DESC, language"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def company_counts(self) -> list[CompanyCounts]:
        rows = self.db.execute(
            "SELECT c.company,"
            " sum(p.parent_url IS NULL AND NOT p.is_company_reply),"
            " sum(p.parent_url IS NOT NULL AND NOT p.is_company_reply),"
            " sum(p.is_company_reply != 0)"
            " FROM post_companies c JOIN posts p ON p.id = c.post_id GROUP BY c.company"
        ).fetchall()
        return rank_company_counts(CompanyCounts(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows)

    # display names by company id: a table of its own, made on first write (no schema version:
    # an older complaintwatch opening the file ignores it)
    def set_company_names(self, names: dict[str, str]) -> None:
        with self.db as db:
            db.execute("CREATE TABLE IF NOT EXISTS company_names (company TEXT PRIMARY KEY, name TEXT NOT NULL)")
            db.executemany(
                "INSERT INTO company_names (company, name) VALUES (?, ?)"
                " ON CONFLICT (company) DO UPDATE SET name = excluded.name",
                [(str(k), str(v)) for k, v in names.items() if k and v],
            )

    def company_names(self) -> dict[str, str]:
        try:
            return dict(self.db.execute("SELECT company, name FROM company_names").fetchall())
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return {}
            raise

    # -- saved searches (alerts) --
    @staticmethod
    def _row_to_saved(r: sqlite3.Row) -> SavedSearch:
        return SavedSearch(
            id=r["id"],
            name=r["name"],
            kind=r["kind"],
            params=json.loads(r["params"]),
            created_at=datetime.fromisoformat(r["created_at"]),  # NOT NULL
            last_seen_at=_dt(r["last_seen_at"]),
        )

    def add_saved_search(self, saved: SavedSearch) -> SavedSearch:
        saved.created_at = saved.created_at.replace(microsecond=0)  # stored to the second
        if saved.last_seen_at is None:
            saved.last_seen_at = saved.created_at
        with self.db as db:
            cur = db.execute(
                "INSERT INTO saved_searches (name, kind, params, created_at, last_seen_at) VALUES (?,?,?,?,?)",
                (
                    saved.name,
                    saved.kind,
                    json.dumps(saved.params, ensure_ascii=False),
                    _iso(saved.created_at),
                    _iso(saved.last_seen_at),
                ),
            )
        saved.id = cur.lastrowid
        return saved

    def saved_searches(self) -> list[SavedSearch]:
        return [self._row_to_saved(r) for r in self.db.execute("SELECT * FROM saved_searches ORDER BY id")]

    def get_saved_search(self, saved_id: int) -> SavedSearch | None:
        r = self.db.execute("SELECT * FROM saved_searches WHERE id = ?", (int(saved_id),)).fetchone()
        return self._row_to_saved(r) if r else None

    def mark_saved_search_seen(self, saved_id: int, when: datetime) -> bool:
        with self.db as db:
            cur = db.execute("UPDATE saved_searches SET last_seen_at = ? WHERE id = ?", (_iso(when), int(saved_id)))
        return cur.rowcount > 0

    def delete_saved_search(self, saved_id: int) -> bool:
        with self.db as db:
            cur = db.execute("DELETE FROM saved_searches WHERE id = ?", (int(saved_id),))
        return cur.rowcount > 0

    # -- one story on several URLs; the takedown list --
    def same_story(self, post: Post) -> list[Post]:
        if not post.content_hash or post.parent_url:
            return []
        rows = self.db.execute(
            f"SELECT {_COLS} FROM posts WHERE content_hash = ? AND url != ? AND parent_url IS NULL ORDER BY id LIMIT ?",
            (post.content_hash, post.url, MAX_SAME_STORY),
        ).fetchall()
        return [_row_to_post(r) for r in rows]

    def authors(self) -> set[str]:
        rows = self.db.execute("SELECT DISTINCT author FROM posts WHERE author IS NOT NULL AND author != ''")
        return {r[0] for r in rows}

    def _ids_under(self, matcher: TakedownMatcher) -> list[int]:
        """Ids of the posts at the listed URLs (or a variant of them) and of
        everything in their threads or answering them, replies of replies included."""
        found: set[int] = set()
        frontier = []
        for r in self.db.execute("SELECT id, url, thread_url, parent_url FROM posts ORDER BY id"):
            if matcher.any(r[1], r[2], r[3]):
                found.add(r[0])
                frontier.append(r[1])
        while frontier:
            new: list[str] = []
            for i in range(0, len(frontier), 300):
                chunk = frontier[i : i + 300]
                marks = ",".join("?" * len(chunk))
                for r in self.db.execute(
                    f"SELECT id, url FROM posts WHERE url IN ({marks}) OR thread_url IN ({marks})"
                    f" OR parent_url IN ({marks})",
                    chunk * 3,
                ):
                    if r[0] not in found:
                        found.add(r[0])
                        new.append(r[1])
            frontier = new
        return sorted(found)

    def add_takedowns(self, urls: Iterable[str]) -> int:
        keys = sorted({takedown_key(u) for u in urls if u and u.strip()})
        if not keys:
            return 0
        now = _iso(utcnow())
        with self.db as db:
            db.executemany("INSERT OR IGNORE INTO takedowns (url, added_at) VALUES (?, ?)", [(k, now) for k in keys])
            ids = self._ids_under(TakedownMatcher(keys))
            removed = list(self.get_posts(ids).values())
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM posts_fts WHERE rowid IN ({marks})", chunk)
                # vectors and company rows go with them (ON DELETE CASCADE)
                db.execute(f"DELETE FROM posts WHERE id IN ({marks})", chunk)
        if ids:
            self._vec_cache.clear()
            self.scrub_incidents_after_takedown(removed)
            self.purge_deleted_bytes()
            log.info("takedown: %d URLs listed, %d posts deleted", len(keys), len(ids))
        return len(ids)

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

    def purge_deleted_bytes(self) -> bool:
        """Make deleted text unrecoverable from the files: merge the full-text
        index (its old segments still hold the deleted stems), rebuild the
        database without free pages (VACUUM; secure_delete already zeroed what
        this connection freed, but not what older versions left) and empty the
        write-ahead log, whose old frames hold every page as it was written.
        False when a reader kept the log from being emptied (logged)."""
        db = self.db
        self.search_state().drop_saved()  # the saved ANN graphs hold the removed posts' vectors
        with db:
            db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')")
        db.execute("VACUUM")
        for attempt in range(50):
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(0.1 * min(attempt + 1, 10))
        log.warning("takedown: %s-wal still holds deleted pages: a reader kept it open; run `check` later", self.path)
        return False

    def remove_takedown(self, url: str) -> bool:
        key = takedown_match_key(url)
        rows = [u for (u,) in self.db.execute("SELECT url FROM takedowns") if takedown_match_key(u) == key]
        with self.db as db:
            db.executemany("DELETE FROM takedowns WHERE url = ?", [(u,) for u in rows])
        return bool(rows)

    def takedowns(self) -> list[str]:
        # entries an older complaintwatch listed in canonical_url form read as takedown_key
        return sorted({takedown_key(r[0]) for r in self.db.execute("SELECT url FROM takedowns")})
