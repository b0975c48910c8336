"""Keep incident ids stable across full re-clusterings.

A re-fit builds clusters from scratch; each new cluster is matched one-to-one
(Hungarian assignment) to a previous one by member overlap and centroid
cosine. A matched cluster inherits the old id; an unmatched one gets a fresh
id from a counter that only grows, so an id never comes back meaning something
else (bookmarks, API clients and monthly series keyed by id stay honest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment


def jaccard_matrix(
    new_members: Sequence[set[int]], old_assignment: Mapping[int, int | None], old_ids: list[int], seen: set[int]
) -> np.ndarray:
    """Member overlap on the posts both fits saw (`seen`: this fit's post ids),
    so posts that are new since the last fit, or gone, do not count against a match."""
    col = {oid: j for j, oid in enumerate(old_ids)}
    new_of = {p: i for i, members in enumerate(new_members) for p in members}
    inter = np.zeros((len(new_members), len(old_ids)))
    new_size = np.zeros(len(new_members))
    old_size = np.zeros(len(old_ids))
    for p, oid in old_assignment.items():
        if p not in seen or oid not in col:
            continue
        old_size[col[oid]] += 1
        if (i := new_of.get(p)) is not None:
            inter[i, col[oid]] += 1
    for p, i in new_of.items():
        if p in old_assignment:
            new_size[i] += 1
    union = new_size[:, None] + old_size[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_ids(
    cos: np.ndarray,
    old_ids: list[int],
    new_members: Sequence[set[int]],
    old_assignment: Mapping[int, int | None] | None,
    seen: set[int],
    next_id: int,
    min_cos: float = 0.9,
    min_overlap: float = 0.3,
) -> tuple[list[int], int]:
    """Id per new cluster and the next unused id. `cos`: centroid cosine of each
    new cluster (rows) to each old one (columns, ids `old_ids`); `new_members`:
    post ids per new cluster; `old_assignment`: post id -> old incident id."""
    ids: list[int | None] = [None] * len(new_members)
    if old_ids and new_members:
        jac = jaccard_matrix(new_members, old_assignment or {}, old_ids, seen)
        rows, cols = linear_sum_assignment(-(cos + jac))
        for r, c in zip(rows, cols):
            if jac[r, c] >= min_overlap or cos[r, c] >= min_cos:
                ids[r] = old_ids[c]
    next_id = max([next_id, *(i + 1 for i in old_ids)])
    out = []
    for i in ids:
        if i is None:
            i, next_id = next_id, next_id + 1
        out.append(i)
    return out, next_id
