"""App state on SQLite: one table of JSON documents and blobs by (kind, key).

Made on first use (no schema version: an older complaintwatch opening the
file ignores the table), like `company_names`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from complaintwatch.models import utcnow

from .appstate import check_key

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


class SQLiteAppState:
    """Mixin for SQLiteStore (needs its per-thread `db` connection)."""

    _state_ready: bool = False

    if TYPE_CHECKING:  # SQLiteStore's (a read-only property)

        @property
        def db(self) -> sqlite3.Connection: ...

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
