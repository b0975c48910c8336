"""Saved searches and watches (the web UI's alerts), one document each in
``P-saved-searches``; ids from a compare-and-set counter like post ids."""

from __future__ import annotations

from datetime import datetime

from complaintwatch.models import SavedSearch

from .connection import MAX_WINDOW, ESBase
from .documents import iso, saved_doc, saved_from_source


class AlertsMixin(ESBase):
    def _next_saved_id(self) -> int:
        """A new saved-search id (compare-and-set on a counter doc, like post ids)."""
        from elasticsearch import ConflictError, NotFoundError

        while True:
            try:
                doc = self.es.get(index=self.meta_index, id="saved_search_seq")
            except NotFoundError:
                try:
                    self.es.create(index=self.meta_index, id="saved_search_seq", document={"next": 2})
                    return 1
                except ConflictError:
                    continue
            nxt = int(doc["_source"]["next"])
            try:
                self.es.index(
                    index=self.meta_index,
                    id="saved_search_seq",
                    document={"next": nxt + 1},
                    if_seq_no=doc["_seq_no"],
                    if_primary_term=doc["_primary_term"],
                )
                return nxt
            except ConflictError:
                continue

    def add_saved_search(self, saved: SavedSearch) -> SavedSearch:
        saved.created_at = saved.created_at.replace(microsecond=0)
        if saved.last_seen_at is None:
            saved.last_seen_at = saved.created_at
        saved.id = self._next_saved_id()
        self.es.index(index=self.saved_index, id=str(saved.id), document=saved_doc(saved), refresh=True)
        return saved

    def saved_searches(self) -> list[SavedSearch]:
        hits = self.es.search(index=self.saved_index, size=MAX_WINDOW, sort=[{"id": "asc"}])["hits"]["hits"]
        return [saved_from_source(h["_source"]) for h in hits]

    def get_saved_search(self, saved_id: int) -> SavedSearch | None:
        from elasticsearch import NotFoundError

        try:
            return saved_from_source(self.es.get(index=self.saved_index, id=str(int(saved_id)))["_source"])
        except NotFoundError:
            return None

    def mark_saved_search_seen(self, saved_id: int, when: datetime) -> bool:
        from elasticsearch import NotFoundError

        try:
            self.es.update(index=self.saved_index, id=str(int(saved_id)), doc={"last_seen_at": iso(when)}, refresh=True)
        except NotFoundError:
            return False
        return True

    def delete_saved_search(self, saved_id: int) -> bool:
        from elasticsearch import NotFoundError

        try:
            self.es.delete(index=self.saved_index, id=str(int(saved_id)), refresh=True)
        except NotFoundError:
            return False
        return True
