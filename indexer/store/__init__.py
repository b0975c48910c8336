"""Search-store backends behind one interface (see base.Store)."""

from .base import Store, UpsertResult, open_store

__all__ = ["Store", "UpsertResult", "open_store"]
