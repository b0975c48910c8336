"""Aggregates over every post that most pages show (the company, site and
language lists with their counts, the incident types), kept per app and keyed
by the store's change marker: computed again after a write to the store, not
on every request (at 100k posts each one scans the posts table, ~70 ms)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from .services import services

T = TypeVar("T")
_lock = threading.Lock()


def cached(name: str, compute: Callable[[], T]) -> T:
    """``compute()``, reused while the store is unchanged. A store without a
    change marker (Elasticsearch, whose request cache already serves repeated
    aggregations) is asked every time. Callers must not modify the result."""
    marker_of = getattr(services().store, "change_marker", None)
    if marker_of is None:
        return compute()
    marker = marker_of()  # read before computing: a write meanwhile makes the next call compute again
    cache: dict[str, tuple[object, object]] = current_app.extensions.setdefault("complaintwatch.aggregates", {})
    hit = cache.get(name)
    if hit is not None and hit[0] == marker:
        return hit[1]  # type: ignore[return-value]
    value = compute()
    with _lock:
        cache[name] = (marker, value)
    return value
