"""Rank fusion for hybrid search: full-text (BM25) and vector rankings merged
by reciprocal rank fusion, which needs no score calibration between them."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

RRF_K = 60
D = TypeVar("D", bound=Hashable)  # a document id


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[D]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[D, float]]:
    """Fuse best-first rankings into one: score(d) = sum_i w_i / (k + rank_i(d)),
    ranks starting at 1. A document repeated within one ranking counts once (at
    its best rank). Ties go to the document with the better best rank, then to
    the one seen first, so the result is deterministic."""
    if k < 0:
        raise ValueError("k must be >= 0")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[D, float] = {}
    best: dict[D, int] = {}
    for ranking, w in zip(rankings, weights):
        seen: set[D] = set()
        for rank, doc in enumerate(ranking, start=1):
            if doc in seen:
                continue
            seen.add(doc)
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
            best[doc] = min(best.get(doc, rank), rank)
    order = {doc: i for i, doc in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], order[kv[0]]))
