"""Aggregates over every post that most pages show (the company, site and
language lists with their counts, the incident types) and whole reports (a
company's page), kept per app and keyed by the store's change marker:
computed again after a write to the store, not on every request (at 100k
posts each list scans the posts table, ~70 ms; the largest company's report
took seconds).

Elasticsearch has no change marker. There a value is only kept when the
caller gives a ``ttl``: for that many seconds, and never past a write through
this process's store (``ElasticsearchStore.local_changes``: its posts were
refreshed). Writes by other processes (the indexer, another web worker) show
once the ttl is over."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from .services import services

T = TypeVar("T")
_lock = threading.Lock()
MAX_ENTRIES = 512  # names kept per app (least recently used dropped): one report per company and day


def cached(name: str, compute: Callable[[], T], ttl: float | None = None) -> T:
    """``compute()``, reused while the store is unchanged. A store without a
    change marker (Elasticsearch, whose request cache already serves repeated
    aggregations) is asked every time, unless ``ttl`` is given (see above).
    Callers must not modify the result."""
    store = services().store
    marker_of = getattr(store, "change_marker", None)
    expires = None
    if marker_of is None:
        local = getattr(store, "local_changes", None)
        if ttl is None or local is None:
            return compute()
        marker_of, expires = local, time.monotonic() + ttl
    marker = marker_of()  # read before computing: a write meanwhile makes the next call compute again
    cache: OrderedDict[str, tuple[object, object, float | None]] = current_app.extensions.setdefault(
        "complaintwatch.aggregates", OrderedDict()
    )
    with _lock:
        hit = cache.get(name)
        if hit is not None and hit[0] == marker and (hit[2] is None or time.monotonic() < hit[2]):
            cache.move_to_end(name)
            return hit[1]  # type: ignore[return-value]
    value = compute()
    with _lock:
        cache[name] = (marker, value, expires)
        cache.move_to_end(name)
        while len(cache) > MAX_ENTRIES:
            cache.popitem(last=False)
    return value
