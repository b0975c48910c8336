"""The embedded store's connections (one per thread: Flask serves from
several; WAL so readers never block the indexer) and the search caches kept
beside them, which every role of the backend reads through."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from .search_state import SearchState

_SEARCH_STATE_LOCK = threading.Lock()


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    # deleted rows (a takedown, an updated post's old text) are overwritten, not left in free pages
    conn.execute("PRAGMA secure_delete=ON")
    return conn


class SQLiteConnection:
    """What each role's mixin of SQLiteStore builds on: the file, this thread's
    connection and the search caches. SQLiteStore.__init__ sets the fields."""

    path: Path
    _local: threading.local

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

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
