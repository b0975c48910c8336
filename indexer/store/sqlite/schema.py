"""The embedded store's tables: schema versions and their migrations, and
how a row of ``posts`` reads as a Post."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from complaintwatch.models import Post, SiteKind

log = logging.getLogger(__name__)


class SchemaError(RuntimeError):
    pass


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


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file to SCHEMA_VERSION, one migration per transaction; refuse a newer file."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"{path} has schema v{version}, this complaintwatch knows v{SCHEMA_VERSION}: upgrade it")
    for v in range(version, SCHEMA_VERSION):
        with db:
            db.executescript("BEGIN;" + MIGRATIONS[v] + f"; PRAGMA user_version={v + 1}; COMMIT;")
        log.info("migrated %s to schema v%d", path, v + 1)


COLS = (
    "id, url, source_site, site_kind, title, text, author, published_at, language, companies, "
    "parent_url, thread_url, position, is_company_reply, fetched_at, content_hash, incident_id, subject, stance, rating"
)


def iso(when: datetime | None) -> str | None:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds") if when else None


def dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def row_to_post(r: sqlite3.Row) -> Post:
    return Post(
        id=r["id"],
        url=r["url"],
        source_site=r["source_site"],
        site_kind=SiteKind(r["site_kind"]),
        title=r["title"],
        text=r["text"],
        author=r["author"],
        published_at=dt(r["published_at"]),
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


def posts_by_id(db: sqlite3.Connection, ids: Iterable[int]) -> dict[int, Post]:
    """The posts with these ids (unknown ids are left out)."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    out: dict[int, Post] = {}
    for i in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
        chunk = wanted[i : i + 500]
        rows = db.execute(f"SELECT {COLS} FROM posts WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        out.update((r["id"], row_to_post(r)) for r in rows)
    return out
