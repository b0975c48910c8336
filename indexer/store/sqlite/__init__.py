"""The embedded store: SQLite with FTS5 over stemmed text, vectors beside it.

A module per role (posts.py, search.py, analytics.py, appstate.py) over one
connection per thread (connection.py) and the tables (schema.py); store.py
composes them into SQLiteStore."""

from .schema import MIGRATIONS, SCHEMA_VERSION, SchemaError
from .store import SQLiteStore

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore", "SchemaError"]
