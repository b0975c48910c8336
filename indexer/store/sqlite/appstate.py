"""The app-state role on SQLite (roles.AppStateStore, less the takedown list,
which deletes posts: store.py): one table of JSON documents and blobs by
(kind, key), and the saved searches (alerts).

The app-state tables are made on first use (no schema version: an older
complaintwatch opening the file ignores them), like `company_names`.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from complaintwatch.models import SavedSearch, utcnow

from ..appstate import check_key
from ..roles import AppStateStore
from .connection import SQLiteConnection
from .schema import dt, iso

_TABLES = """
CREATE TABLE IF NOT EXISTS app_state (
    kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS app_blobs (
    kind TEXT NOT NULL, key TEXT NOT NULL, data BLOB NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS app_ids (kind TEXT PRIMARY KEY, last INTEGER NOT NULL);
"""


class SQLiteAppState(SQLiteConnection, AppStateStore):
    _state_ready: bool = False

    def _state_db(self) -> sqlite3.Connection:
        db = self.db
        if not self._state_ready:
            db.executescript(_TABLES)
            self._state_ready = True
        return db

    def state_get(self, kind: str, key: str) -> dict | None:
        check_key(kind, key)
        row = self._state_db().execute("SELECT doc FROM app_state WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return None if row is None else json.loads(row[0])

    def state_put(self, kind: str, key: str, doc: dict) -> None:
        check_key(kind, key)
        with self._state_db() as db:
            db.execute(
                "INSERT INTO app_state (kind, key, doc, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
                (kind, key, json.dumps(doc, ensure_ascii=False), utcnow().isoformat()),
            )

    def state_create(self, kind: str, key: str, doc: dict) -> bool:
        check_key(kind, key)
        with self._state_db() as db:
            cur = db.execute(
                "INSERT INTO app_state (kind, key, doc, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (kind, key, json.dumps(doc, ensure_ascii=False), utcnow().isoformat()),
            )
            return cur.rowcount == 1

    def state_delete(self, kind: str, key: str) -> bool:
        check_key(kind, key)
        with self._state_db() as db:
            return db.execute("DELETE FROM app_state WHERE kind = ? AND key = ?", (kind, key)).rowcount == 1

    def state_list(self, kind: str) -> list[tuple[str, dict]]:
        rows = self._state_db().execute("SELECT key, doc FROM app_state WHERE kind = ? ORDER BY key", (kind,))
        return [(r[0], json.loads(r[1])) for r in rows]

    def state_next_id(self, kind: str) -> int:
        check_key(kind, "id")
        with self._state_db() as db:
            row = db.execute(
                "INSERT INTO app_ids (kind, last) VALUES (?, 1)"
                " ON CONFLICT (kind) DO UPDATE SET last = last + 1 RETURNING last",
                (kind,),
            ).fetchone()
            return int(row[0])

    def blob_put(self, kind: str, key: str, data: bytes) -> None:
        check_key(kind, key)
        with self._state_db() as db:
            db.execute(
                "INSERT INTO app_blobs (kind, key, data, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                (kind, key, sqlite3.Binary(data), utcnow().isoformat()),
            )

    def blob_get(self, kind: str, key: str) -> bytes | None:
        check_key(kind, key)
        row = self._state_db().execute("SELECT data FROM app_blobs WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return None if row is None else bytes(row[0])

    def blob_delete(self, kind: str, key: str) -> bool:
        check_key(kind, key)
        with self._state_db() as db:
            return db.execute("DELETE FROM app_blobs WHERE kind = ? AND key = ?", (kind, key)).rowcount == 1

    def blob_keys(self, kind: str) -> list[str]:
        rows = self._state_db().execute("SELECT key FROM app_blobs WHERE kind = ? ORDER BY key", (kind,))
        return [r[0] for r in rows]

    # -- saved searches (alerts) --
    @staticmethod
    def _row_to_saved(r: sqlite3.Row) -> SavedSearch:
        return SavedSearch(
            id=r["id"],
            name=r["name"],
            kind=r["kind"],
            params=json.loads(r["params"]),
            created_at=datetime.fromisoformat(r["created_at"]),  # NOT NULL
            last_seen_at=dt(r["last_seen_at"]),
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
                    iso(saved.created_at),
                    iso(saved.last_seen_at),
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
            cur = db.execute("UPDATE saved_searches SET last_seen_at = ? WHERE id = ?", (iso(when), int(saved_id)))
        return cur.rowcount > 0

    def delete_saved_search(self, saved_id: int) -> bool:
        with self.db as db:
            cur = db.execute("DELETE FROM saved_searches WHERE id = ?", (int(saved_id),))
        return cur.rowcount > 0
