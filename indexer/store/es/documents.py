"""Posts, incident types and saved searches <-> Elasticsearch documents.

Pure functions: no client. The full-text fields hold the same Snowball stems
as the embedded store (``indexer.analysis``), folded the way FTS5's unicode61
tokenizer folds them, so both backends match exactly the same inflections.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import numpy as np

from complaintwatch.models import Incident, Post, SavedSearch, SiteKind

from ...analysis import searchable_title, stems
from ..types import ComplaintReply

_LATIN_LIMIT = 0x0250  # FTS5 unicode61 removes diacritics from Latin letters only

# the _source fields a Post is read from (the stems and vectors stay behind)
POST_SOURCE = [
    "id", "url", "source_site", "site_kind", "title", "text", "author", "published_at", "language", "companies",
    "parent_url", "thread_url", "position", "is_company_reply", "fetched_at", "content_hash", "incident_id",
    "subject", "stance", "rating",
]  # fmt: skip
# what a complaint row (ComplaintReply) is read from
COMPLAINT_SOURCE = ["id", "url", "title", "published_at", "content_hash", "incident_id", "thread_url"]


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def parse_dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def from_epoch_ms(v: float | None) -> datetime | None:
    """A date aggregation's value (epoch milliseconds) as an aware datetime."""
    return datetime.fromtimestamp(v / 1000, tz=timezone.utc) if v is not None else None


def now_ms() -> int:
    """``updated_at``: what a re-index catches up on."""
    return int(time.time() * 1000)


def fold(token: str) -> str:
    """What FTS5's unicode61 tokenizer (remove_diacritics 2) does to a Latin token."""
    if token.isascii():
        return token
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", token):
        if unicodedata.combining(ch) and out and ord(out[-1]) < _LATIN_LIMIT:
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def index_terms(stem_list: Iterable[str]) -> list[str]:
    """Stems as the index holds them: split where unicode61 would split ("_"), folded."""
    out: list[str] = []
    for s in stem_list:
        out.extend(fold(t) for t in s.split("_") if t)
    return out


def stems_field(text: str) -> str:
    return " ".join(index_terms(stems(text)))


def title_stems(title: str, parent_url: str | None) -> str:
    return stems_field(searchable_title(title, parent_url))


def doc_key(url: str) -> str:
    """Document _id: a digest of the canonical URL, so a URL can only exist once."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def vector_field(model: str) -> str:
    """The dense_vector field of an embedder model (a readable slug plus a digest)."""
    slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:40]
    return f"vec_{slug}_{hashlib.sha1(model.encode('utf-8')).hexdigest()[:8]}"


def vec_json(v: np.ndarray) -> list[float]:
    # 7 decimals: float32 precision for unit vectors, and a short JSON body
    return np.round(np.asarray(v, dtype=np.float64), 7).tolist()


def post_doc(p: Post, pid: int, incident_id: int | None, seq: int, updated_at: int | None = None) -> dict[str, Any]:
    """The full document of a post written new or changed (``seq``: its change number)."""
    return {
        "id": pid,
        "url": p.url,
        "source_site": p.source_site,
        "site_kind": p.site_kind.value,
        "title": p.title,
        "text": p.text,
        "title_stems": title_stems(p.title, p.parent_url),
        "text_stems": stems_field(p.text),
        "author": p.author,
        "published_at": iso(p.published_at),
        "language": p.language,
        "companies": list(p.companies),
        "parent_url": p.parent_url,
        "thread_url": p.thread_url,
        "position": p.position,
        "is_company_reply": bool(p.is_company_reply),
        "fetched_at": iso(p.fetched_at),
        "content_hash": p.content_hash,
        "incident_id": incident_id,
        "subject": p.subject,
        "rating": p.rating,
        "stance": None,  # set by the indexer (set_stance); a changed post is classified again
        # the journal: analysed_seq and typed_seq absent, so the next index run analyses and types it
        "change_seq": seq,
        "updated_at": now_ms() if updated_at is None else updated_at,
    }


def post_from_source(src: dict[str, Any]) -> Post:
    return Post(
        id=src["id"],
        url=src["url"],
        source_site=src["source_site"],
        site_kind=SiteKind(src["site_kind"]),
        title=src["title"],
        text=src["text"],
        author=src.get("author"),
        published_at=parse_dt(src.get("published_at")),
        language=src.get("language"),
        companies=list(src.get("companies") or []),
        parent_url=src.get("parent_url"),
        thread_url=src.get("thread_url"),
        position=src.get("position") or 0,
        is_company_reply=bool(src.get("is_company_reply")),
        fetched_at=datetime.fromisoformat(src["fetched_at"]),  # always written
        content_hash=src["content_hash"],
        incident_id=src.get("incident_id"),
        subject=src.get("subject"),
        stance=src.get("stance"),
        rating=src.get("rating"),
    )


def restem(src: dict[str, Any]) -> dict[str, Any]:
    """A stored document with its stems computed again (a re-index: the analysis may have changed)."""
    src["title_stems"] = title_stems(src.get("title") or "", src.get("parent_url"))
    src["text_stems"] = stems_field(src.get("text") or "")
    return src


def incident_doc(i: Incident, labels_only: bool = False) -> dict[str, Any]:
    """An incident type's document; ``labels_only``: what a re-count after a takedown rewrites."""
    doc = {
        "label_en": i.label_en,
        "label_ru": i.label_ru,
        "keywords": [str(k) for k in i.keywords],
        "size": int(i.size),
        "representatives": [int(r) for r in i.representatives],
    }
    return doc if labels_only else {"id": int(i.id), **doc, "taxonomy_key": i.taxonomy_key}


def incident_from_source(s: dict[str, Any]) -> Incident:
    return Incident(
        id=s["id"],
        label_en=s["label_en"],
        label_ru=s["label_ru"],
        keywords=list(s.get("keywords") or []),
        size=s.get("size") or 0,
        taxonomy_key=s.get("taxonomy_key"),
        representatives=[int(r) for r in s.get("representatives") or []],
    )


def saved_doc(saved: SavedSearch) -> dict[str, Any]:
    return {
        "id": saved.id,
        "name": saved.name,
        "kind": saved.kind,
        "params": dict(saved.params),
        "created_at": iso(saved.created_at),
        "last_seen_at": iso(saved.last_seen_at),
    }


def saved_from_source(src: dict[str, Any]) -> SavedSearch:
    return SavedSearch(
        id=int(src["id"]),
        name=src["name"],
        kind=src["kind"],
        params=dict(src.get("params") or {}),
        created_at=datetime.fromisoformat(src["created_at"]),  # always written
        last_seen_at=parse_dt(src.get("last_seen_at")),
    )


def complaint_reply(src: dict[str, Any], replied: bool, first_reply: datetime | None) -> ComplaintReply:
    return ComplaintReply(
        int(src["id"]),
        src["url"],
        src.get("title") or "",
        parse_dt(src.get("published_at")),
        src.get("content_hash") or "",
        src.get("incident_id"),
        replied,
        first_reply,
    )


def thread_key(src: dict[str, Any]) -> str:
    """An opening post's thread key: its thread_url, else its url."""
    return src.get("thread_url") or src["url"]


def keyed(roots: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str]]:
    """Opening posts' sources with their thread key."""
    for src in roots:
        yield src, thread_key(src)


def key_of(src: dict[str, Any]) -> tuple[str, str]:
    """(the field, the thread key) of an opening post: its thread_url, else its url."""
    return ("thread_url", src["thread_url"]) if src.get("thread_url") else ("url", src["url"])
