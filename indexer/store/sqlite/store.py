"""SQLiteStore: the embedded store, its roles composed (posts.py, search.py,
analytics.py, appstate.py over connection.py), plus what spans them:
integrity checks and the takedown list, whose deletes reach every role's data.

No server needed, so `complaintwatch demo` runs anywhere."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from complaintwatch.models import canonical_url, utcnow

from ..base import Store, TakedownMatcher, takedown_key, takedown_match_key
from ..types import whole_threads
from .analytics import SQLiteAnalytics
from .appstate import SQLiteAppState
from .posts import SQLitePosts
from .schema import iso, migrate
from .search import SQLiteSearch

log = logging.getLogger(__name__)


class SQLiteStore(SQLitePosts, SQLiteSearch, SQLiteAnalytics, SQLiteAppState, Store):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._vec_cache: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        migrate(self.db, self.path)

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

    def _ids_under(self, matcher: TakedownMatcher) -> list[int]:
        """Ids of the posts at the listed URLs (or a variant of them) and of
        everything in their threads or answering them, replies of replies included."""
        seeds = (
            (r[0], r[1])
            for r in self.db.execute("SELECT id, url, thread_url, parent_url FROM posts ORDER BY id")
            if matcher.any(r[1], r[2], r[3])
        )

        def under(urls: list[str]) -> Iterable[tuple[int, str]]:
            marks = ",".join("?" * len(urls))
            return self.db.execute(
                f"SELECT id, url FROM posts WHERE url IN ({marks}) OR thread_url IN ({marks})"
                f" OR parent_url IN ({marks})",
                urls * 3,
            )

        return whole_threads(seeds, under, 300)

    def add_takedowns(self, urls: Iterable[str]) -> int:
        keys = sorted({takedown_key(u) for u in urls if u and u.strip()})
        if not keys:
            return 0
        now = iso(utcnow())
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
