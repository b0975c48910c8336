"""Clustering of reduced post vectors into incident types, outliers kept apart.

Average linkage on cosine distance, cut at a distance threshold: the number of
incident types follows from the data instead of being fixed, and a post that
joins nothing (or only a tiny group) stays an outlier (-1).

Linkage is O(n^2) in memory, so beyond `sample_size` posts it runs in rounds:
cluster a sample, assign the remaining posts to the new centroids when close
enough, then sample again from what is still unassigned, so incident types too
rare to show up in the first sample get their own round. The sample is the
rows of lowest `priority`; IncidentModel passes a hash of the post id, so a
re-fit with 10% more posts samples mostly the same posts (steady clusters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from .reduce import unit_rows

OUTLIER = -1


class Clusterer(Protocol):
    def fit_predict(self, z: np.ndarray, priority: np.ndarray | None = None) -> np.ndarray:
        """Label per row of unit vectors: 0..k-1, or -1 for outliers. `priority`
        (optional, one number per row): which rows to sample first, when sampling."""
        ...

    @property
    def assign_min_sim(self) -> float:
        """Cosine to a centroid above which a new post joins that cluster."""
        ...


def cluster_sums(z: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Sum of the rows of each cluster 0..k-1 (outliers, -1, left out), in float64:
    a sparse membership matrix times z, the same sums as np.add.at in the same
    row order, ten times faster (np.add.at took minutes per re-fit at 100k posts)."""
    from scipy.sparse import csr_matrix

    mask = labels >= 0
    rows = np.flatnonzero(mask)
    member = csr_matrix((np.ones(len(rows)), (labels[mask], rows)), shape=(k, len(z)))
    return np.asarray(member @ np.asarray(z, dtype=np.float64))


def centroids_of(z: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Unit mean vector of each cluster 0..k-1."""
    return unit_rows(cluster_sums(z, labels, k))


def nearest_centroid(
    z: np.ndarray, centroids: np.ndarray, min_sim: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(label or -1, cosine to the nearest centroid) per row; `min_sim` is one
    threshold or one per centroid."""
    if not len(centroids) or not len(z):
        return np.full(len(z), OUTLIER), np.zeros(len(z), dtype=np.float32)
    sims = z @ centroids.T
    best = sims.argmax(axis=1)
    top = sims[np.arange(len(z)), best]
    need = np.broadcast_to(np.asarray(min_sim, dtype=np.float32), (len(centroids),))[best]
    return np.where(top >= need, best, OUTLIER), top


@dataclass(slots=True)
class AverageLinkageClusterer:
    threshold: float = 0.8  # cosine distance at which the dendrogram is cut
    min_size: int = 5  # smaller groups are outliers, not incident types
    sample_size: int = 5000  # linkage input per round (peak memory ~8 * sample_size^2 bytes)
    max_rounds: int = 4
    seed: int = 0  # sampling, when fit_predict gets no priority
    min_sim: float | None = None  # None: derived from threshold, see assign_min_sim

    @property
    def assign_min_sim(self) -> float:
        # In a cluster whose members are on average `1 - threshold` similar to
        # each other, the mean vector has norm ~sqrt(1 - threshold), so a
        # typical member's cosine to the unit centroid is ~sqrt(1 - threshold).
        return self.min_sim if self.min_sim is not None else float(np.sqrt(max(1.0 - self.threshold, 1e-6)))

    def _linkage_labels(self, z: np.ndarray) -> np.ndarray:
        if len(z) < 2:
            return np.full(len(z), OUTLIER)
        raw = fcluster(linkage(pdist(z, "cosine"), method="average"), self.threshold, criterion="distance") - 1
        sizes = np.bincount(raw)
        big = np.flatnonzero(sizes >= self.min_size)
        remap = np.full(len(sizes), OUTLIER)
        remap[big] = np.arange(len(big))
        return remap[raw]

    def fit_predict(self, z: np.ndarray, priority: np.ndarray | None = None) -> np.ndarray:
        n = len(z)
        labels = np.full(n, OUTLIER)
        core = np.zeros(n, dtype=bool)  # placed by linkage itself, not by centroid
        if priority is None:
            priority = np.random.default_rng(self.seed).random(n)
        k = 0
        for _ in range(self.max_rounds):
            pool = np.flatnonzero((labels == OUTLIER) & ~core)
            if len(pool) < self.min_size:
                break
            sample = pool
            if len(pool) > self.sample_size:
                sample = np.sort(pool[np.argsort(priority[pool], kind="stable")[: self.sample_size]])
            lab = self._linkage_labels(z[sample])
            found = int(lab.max()) + 1 if len(lab) else 0
            if found == 0:
                break
            core[sample] = True  # sampled outliers had their chance; not re-sampled
            labels[sample[lab >= 0]] = lab[lab >= 0] + k
            k += found
            if len(sample) == len(pool):
                break
            rest = np.setdiff1d(pool, sample, assume_unique=True)
            near, _ = nearest_centroid(z[rest], centroids_of(z, labels, k)[k - found :], self.assign_min_sim)
            labels[rest[near >= 0]] = near[near >= 0] + k - found
        # posts placed by centroid take the nearest of all final centroids
        loose = ~core
        if k and loose.any():
            near, _ = nearest_centroid(
                z[loose], centroids_of(z, np.where(core, labels, OUTLIER), k), self.assign_min_sim
            )
            labels[loose] = near
        return labels


def ward_k(n: int, per: float = 4.0, lo: int = 2, hi: int = 300) -> int:
    """Incident types for n posts: sqrt(n / per), so 1,500 posts -> ~19 types,
    100,000 -> ~158 (fixed a priori, the same for every corpus)."""
    return int(np.clip(round(np.sqrt(n / per)), lo, hi))


@dataclass(slots=True)
class WardClusterer:
    """Ward linkage (minimum variance) on unit rows, cut into ward_k(n)
    clusters, then settled by spherical k-means from that cut (at most
    `refine` nearest-centroid passes, see _refine; 0 = Ward's partition as is);
    clusters under `min_size` posts are outliers (-1).

    Why settle: a Ward cut leaves posts in a cluster whose centre is not their
    nearest (chaining at the top of the tree). Settled, every post sits at its
    nearest centre, the rule by which assign_new types new posts (a re-post
    gets its original's type), and AMI against the labels of
    bench/cluster_quality.py rose on each set and on seeded samples of each.

    Beyond `sample_size` posts, Ward (and the settling) runs on the rows of
    lowest `priority` (a hash of the post id, so re-fits sample mostly the same
    posts), cut into ward_k of the whole corpus; every other post goes to the
    nearest centroid when it is at least as close as the cluster's own members
    mostly are (`member_quantile` of their cosines), and is an outlier otherwise."""

    min_size: int = 5
    sample_size: int = 5000
    per: float = 4.0  # ward_k(n, per)
    member_quantile: float = 0.05
    seed: int = 0
    min_sim: float = 0.55  # assign_new's floor in the model's reduced space
    refine: int = 50  # at most this many spherical k-means passes after the cut

    @property
    def assign_min_sim(self) -> float:
        return self.min_sim

    def fit_predict(self, z: np.ndarray, priority: np.ndarray | None = None) -> np.ndarray:
        n = len(z)
        labels = np.full(n, OUTLIER)
        if n < max(2, self.min_size):
            return labels
        if priority is None:
            priority = np.random.default_rng(self.seed).random(n)
        sample = np.arange(n)
        if n > self.sample_size:
            sample = np.sort(np.argsort(priority, kind="stable")[: self.sample_size])
        k = min(ward_k(n, self.per), len(sample) - 1)
        raw = fcluster(linkage(z[sample], method="ward"), k, criterion="maxclust") - 1
        raw = _refine(z[sample], raw, int(raw.max()) + 1, self.refine)
        sizes = np.bincount(raw)
        big = np.flatnonzero(sizes >= self.min_size)
        remap = np.full(len(sizes), OUTLIER)
        remap[big] = np.arange(len(big))
        labels[sample] = remap[raw]
        if len(sample) < n and len(big):
            rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
            cents = centroids_of(z, labels, len(big))
            own = [z[labels == i] @ cents[i] for i in range(len(big))]
            need = np.array([np.quantile(s, self.member_quantile) for s in own], dtype=np.float32)
            near, _ = nearest_centroid(z[rest], cents, need)
            labels[rest] = near
        return labels


def _refine(z: np.ndarray, labels: np.ndarray, k: int, steps: int) -> np.ndarray:
    """Spherical k-means from a partition: each clustered row moves to its
    nearest centroid until none moves. A Ward cut can leave a post in a cluster
    whose centre is not its nearest (chaining at the top of the tree); after
    this, every cluster is its members' nearest centre, the rule by which new
    posts join (assign_new) and by which a re-fit with a few more posts lands
    on nearly the same clusters. Outliers (-1) stay apart."""
    labels = labels.copy()
    mask = labels >= 0
    if not k or not mask.any():
        return labels
    for _ in range(steps):
        cents = centroids_of(z, labels, k)
        near = (z[mask] @ cents.T).argmax(axis=1)
        if (near == labels[mask]).all():
            break
        labels[mask] = near
    return labels


def spread(z: np.ndarray, labels: np.ndarray) -> float:
    """Spherical k-means objective: the sum of each clustered row's cosine to
    its cluster's unit centroid (higher = tighter clusters); outliers add 0."""
    mask = labels >= 0
    if not mask.any():
        return 0.0
    sums = cluster_sums(z, labels, int(labels.max()) + 1)
    return float(np.linalg.norm(sums, axis=1).sum())


def warm_start(z: np.ndarray, init: np.ndarray, steps: int, min_size: int) -> np.ndarray:
    """Spherical k-means from a previous partition (`init`: label per row, -1 =
    a row that had none: it starts at its nearest centroid); clusters left under
    `min_size` rows become outliers. Labels 0..k-1 in the order of `init`'s."""
    k = int(init.max()) + 1 if len(init) and init.max() >= 0 else 0
    if not k:
        return np.full(len(z), OUTLIER)
    labels = init.copy()
    free = labels < 0
    if free.any():
        labels[free] = (z[free] @ centroids_of(z, labels, k).T).argmax(axis=1)
    labels = _refine(z, labels, k, steps)
    sizes = np.bincount(labels, minlength=k)
    big = np.flatnonzero(sizes >= min_size)
    remap = np.full(k, OUTLIER)
    remap[big] = np.arange(len(big))
    return remap[labels]
