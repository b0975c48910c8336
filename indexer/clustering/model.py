"""IncidentModel: the one entry point the indexer calls.

fit():        reduce (embedding components + word space) -> cluster (a re-fit
              keeps the previous clusters, re-settled, unless a fresh cut is
              clearly tighter) -> stable ids -> keywords, labels, representatives
assign_new(): new posts -> nearest existing centroid in the space the clusters
              were built in, or None, without re-clustering
to_bytes()/from_bytes(): reducer, word space, centroids and id counter in
              one .npz (no pickles), kept in the store between runs, so
              assign_new() and id-stable re-fits work across runs and hosts;
              save()/load() write and read the same bytes as a file
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from complaintwatch.models import Incident

from .cluster import (
    OUTLIER,
    AverageLinkageClusterer,
    Clusterer,
    WardClusterer,
    centroids_of,
    nearest_centroid,
    spread,
    warm_start,
)
from .reduce import LexicalReduction, NoReduction, PCAReduction, Reducer, RowCache, reducer_from_state, unit_rows
from .represent import TaxonomyPrototype, ctfidf_keywords, describe, disambiguate, keyphrases, representatives
from .stable_ids import match_ids

FORMAT_VERSION = 1
# assign_new's floor in the joint (embeddings + words) space; each cluster's own
# member spread (radius_quantile) usually sets a higher bar
JOINT_MIN_SIM = 0.2


@dataclass(slots=True)
class ClusteringConfig:
    dims: int | None = 64  # PCA components; None = cluster the raw embeddings
    # "ward": Ward linkage cut into sqrt(n / 4) types (cluster.WardClusterer), on the
    # embedding components joined with `lexical_dims` LSA components of the posts'
    # words (reduce.LexicalReduction; 0 = embeddings only), settled by spherical
    # k-means in that space; "average": average
    # linkage cut at `threshold` (cluster.AverageLinkageClusterer), embeddings only
    method: str = "ward"
    lexical_dims: int = 64
    threshold: float = 0.7  # average-linkage cosine distance cut (the one value chosen on CFPB labels)
    min_size: int = 5  # fewer posts than this are outliers, not an incident type
    sample_size: int = 5000  # posts per linkage round; beyond it, rounds + centroid assignment
    max_rounds: int = 4
    # a re-fit keeps the previous reducer (same space -> steadier clusters and ids)
    # until the corpus has grown by this fraction since the reducer was fitted
    reducer_refit_growth: float = 0.5
    # a re-fit splits a new cluster that swallowed two or more previous ones
    # (min_size+ posts each) back along the old centroids: new posts bridging
    # two incident types should not erase one of them
    keep_previous_apart: bool = True
    radius_quantile: float = 0.05  # assign_new: at least as close as this quantile of the cluster's members
    taxonomy_min_sim: float | None = None  # centroid cosine for a seed label; None: each type's calibrated one
    match_min_cos: float = 0.9  # re-fit: centroid cosine (previous fit's space) that alone keeps an id
    match_min_overlap: float = 0.3  # re-fit: member Jaccard that alone keeps an id
    # re-fit (Ward): the previous clusters, re-settled by nearest centroid over
    # the current posts, are kept over the fresh Ward cut unless the fresh cut
    # is tighter (spherical k-means objective) by more than this fraction; a
    # Ward tree's top merges reshuffle with a few more posts, the incident
    # types should not. 0 = always the fresh cut.
    steady_tolerance: float = 0.02
    top_keywords: int = 10
    keyword_docs: int = 400  # posts per cluster read for keywords (a seeded sample when larger)
    # ... and at most this many over all clusters (each reads keyword_docs_total / k,
    # never fewer than keyword_min_docs): reading phrases is the costliest step
    # of a fit at 100k posts, and ~150 posts name a cluster's phrases as well as 400
    keyword_docs_total: int = 24_000
    keyword_min_docs: int = 150
    n_representatives: int = 3
    seed: int = 0


@dataclass(slots=True)
class ClusteringResult:
    incidents: list[Incident]  # largest first; size = assigned posts
    assignment: dict[int, int | None]  # post id -> incident id, None = outlier
    centroids: dict[int, np.ndarray]  # incident id -> unit mean embedding (the embedder's space)
    representatives: dict[int, list[int]]  # incident id -> post ids closest to the centroid


@dataclass(slots=True)
class PreviousClusters:
    """What a re-fit needs from the last fit to keep ids stable."""

    centroids: dict[int, np.ndarray]  # incident id -> centroid in the embedder's space
    assignment: dict[int, int | None] = field(default_factory=dict)  # post id -> incident id
    next_id: int = 1  # ids below this were issued before and are never reused
    # the previous fit's space: reused while the corpus has not grown much, and
    # a sharper space to compare centroids in (optional)
    reducer: Reducer | None = None
    reducer_rows: int = 0  # posts the reducer was fitted on
    centroids_reduced: dict[int, np.ndarray] | None = None
    # the previous fit's word space (TF-IDF/SVD), reused like `reducer`
    words: LexicalReduction | None = None
    words_rows: int = 0


class IncidentModel:
    def __init__(
        self,
        config: ClusteringConfig | None = None,
        taxonomy: Sequence[TaxonomyPrototype] = (),
        reducer: Reducer | None = None,
        clusterer: Clusterer | None = None,
        model_name: str = "",
        banned: frozenset[str] = frozenset(),
    ):
        self.config = c = config or ClusteringConfig()
        self.banned = banned  # folded words never in a label or keyphrase (company names)
        self.model_name = model_name  # the embedder whose vectors this model clusters (Embedder.name)
        self.taxonomy = list(taxonomy)
        self.reducer: Reducer = reducer or (PCAReduction(c.dims, seed=c.seed) if c.dims else NoReduction())
        self.reducer_rows = 0
        # the words join the embeddings only for the Ward clusterer (the average-linkage cut is set on embeddings)
        self.lexical = c.lexical_dims if clusterer is None and c.method == "ward" else 0
        if clusterer is None and c.method == "ward":
            clusterer = WardClusterer(min_size=c.min_size, sample_size=c.sample_size, seed=c.seed)
        self.clusterer: Clusterer = clusterer or AverageLinkageClusterer(
            threshold=c.threshold, min_size=c.min_size, sample_size=c.sample_size, max_rounds=c.max_rounds, seed=c.seed
        )
        self.ids: list[int] = []
        self.centroids_reduced = np.zeros((0, 0), dtype=np.float32)
        self.centroids_full = np.zeros((0, 0), dtype=np.float32)
        self.thresholds = np.zeros(0, dtype=np.float32)  # per cluster, for assign_new without texts
        # the space the clusters were built in: embedding components joined with
        # the word space (None: embeddings only); assign_new with texts uses it
        self.words: LexicalReduction | None = None
        self.words_rows = 0
        self.centroids_joint = np.zeros((0, 0), dtype=np.float32)
        self.thresholds_joint = np.zeros(0, dtype=np.float32)
        self.incidents: list[Incident] = []
        self.next_id = 1
        # set when the store lost posts this fit saw (a takedown): its centroids
        # and reducer still carry them, so the next `index --incremental` re-fits
        self.refit_reason: str | None = None
        # incident id -> seed types (keys) whose posts that cluster gave back
        # after the fit (the indexer's taxonomy guidance), so assign_new's
        # caller can do the same with new posts
        self.given_back: dict[int, list[str]] = {}

    # -- fitting --
    def fit(
        self,
        ids: Sequence[int] | np.ndarray,
        vectors: np.ndarray,
        texts: Sequence[str],
        previous: PreviousClusters | None = None,
        packs: Sequence[str | None] | None = None,
        kept_rows: RowCache | None = None,
    ) -> ClusteringResult:
        """Cluster all posts from scratch. `vectors`: unit embeddings, one row per
        id; `texts`: what was embedded (for keywords); `packs`: each post's
        taxonomy pack (represent.choose_packs), None = every seed type may fit;
        `kept_rows`: the texts' word-space rows from earlier fits (the same rows,
        read instead of computed: most of a re-fit's word-space cost).
        Ids are those of `previous` where the cluster is the same, fresh ones otherwise."""
        c = self.config
        post_ids = np.asarray(ids, dtype=np.int64)
        x = np.asarray(vectors, dtype=np.float32)
        if not (len(post_ids) == len(x) == len(texts)):
            raise ValueError("ids, vectors and texts must have the same length")
        prev = previous or PreviousClusters({})
        dims = {len(v) for v in prev.centroids.values()}
        if dims and dims != {x.shape[1]}:
            raise ValueError("previous clusters come from another embedder (vector size differs)")
        self._fit_reducer(x, prev)
        z = self.reducer.transform(x) if self.reducer_rows else unit_rows(x)  # unfitted: fewer than 2 posts
        enough = len(x) >= max(2, c.min_size)
        # clusters are built in the joint space h; cz/cx keep the embedding side
        # (id matching, seed labels), centroids_joint the joint one (assign_new)
        self._fit_words(texts, prev, enough)
        h = self._joint(z, texts, kept_rows)
        labels = self.clusterer.fit_predict(h, _id_hash(post_ids, c.seed)) if enough else np.full(len(x), OUTLIER)
        labels = np.asarray(labels)
        if enough and c.steady_tolerance > 0 and isinstance(self.clusterer, WardClusterer):
            labels = self._steadier(h, labels, post_ids, prev)
        if c.keep_previous_apart:
            labels = _split_merged(labels, post_ids, x, prev, c.min_size)
        labels = _by_size(labels)  # cluster 0 = largest, so fresh ids follow size order
        k = int(labels.max()) + 1 if len(labels) else 0
        cz, cx = centroids_of(z, labels, k), centroids_of(x, labels, k)
        members = [np.flatnonzero(labels == i) for i in range(k)]

        old_ids = sorted(prev.centroids)
        cluster_ids, self.next_id = match_ids(
            _centroid_cos(prev, old_ids, x, cx, labels, k),
            old_ids,
            [set(post_ids[m].tolist()) for m in members],
            prev.assignment,
            set(post_ids.tolist()),
            prev.next_id,
            c.match_min_cos,
            c.match_min_overlap,
        )
        incidents = self._describe(cluster_ids, members, labels, cx, texts, packs, x)
        self.ids, self.centroids_reduced, self.centroids_full, self.incidents = cluster_ids, cz, cx, incidents
        self.refit_reason = None
        self.given_back = {}
        self.thresholds = self._thresholds(z, members, cz)
        if self.words is not None:
            self.centroids_joint = centroids_of(h, labels, k)
            self.thresholds_joint = self._thresholds(h, members, self.centroids_joint, JOINT_MIN_SIM)
        else:
            self.centroids_joint, self.thresholds_joint = np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
        return ClusteringResult(
            incidents=incidents,
            assignment={int(p): (cluster_ids[lab] if lab >= 0 else None) for p, lab in zip(post_ids, labels)},
            centroids={cid: cx[i] for i, cid in enumerate(cluster_ids)},
            representatives={
                cluster_ids[i]: post_ids[representatives(z, members[i], cz[i], c.n_representatives)].tolist()
                for i in range(k)
            },
        )

    def _fit_reducer(self, x: np.ndarray, prev: PreviousClusters) -> None:
        same_kind = prev.reducer is not None and prev.reducer.kind == self.reducer.kind
        same_dims = getattr(prev.reducer, "dims", None) == getattr(self.reducer, "dims", None)
        grown = len(x) > prev.reducer_rows * (1 + self.config.reducer_refit_growth)
        if prev.reducer is not None and same_kind and same_dims and not grown:
            self.reducer, self.reducer_rows = copy.deepcopy(prev.reducer), prev.reducer_rows
        elif len(x) >= 2:
            self.reducer, self.reducer_rows = self.reducer.fit(x), len(x)

    def _steadier(self, h: np.ndarray, fresh: np.ndarray, post_ids: np.ndarray, prev: PreviousClusters) -> np.ndarray:
        """The previous partition warm-started over the current posts, unless
        the fresh cut is tighter by more than config.steady_tolerance."""
        col = {cid: j for j, cid in enumerate(sorted(prev.centroids))}
        init = np.array([col.get(prev.assignment.get(int(p)) or 0, OUTLIER) for p in post_ids])
        if len(np.unique(init[init >= 0])) < 2 or (init >= 0).mean() < 0.5:
            return fresh  # first fit, or too little of the corpus was clustered before
        if _agreement(fresh, init) >= 0.9:
            return fresh  # the fresh cut already is the previous partition, near enough
        warm = warm_start(h, init, 50, self.config.min_size)
        if spread(h, warm) >= (1 - self.config.steady_tolerance) * spread(h, fresh):
            return warm
        return fresh

    def _fit_words(self, texts: Sequence[str], prev: PreviousClusters, enough: bool) -> None:
        """The word space: the previous one while the corpus has not grown much
        (like the reducer: the same space keeps clusters and ids steady), else refitted."""
        self.words, self.words_rows = None, 0
        if not (enough and self.lexical):
            return
        grown = len(texts) > prev.words_rows * (1 + self.config.reducer_refit_growth)
        if prev.words is not None and prev.words.dims == self.lexical and not grown:
            self.words, self.words_rows = copy.deepcopy(prev.words), prev.words_rows
        elif (fitted := LexicalReduction(self.lexical, seed=self.config.seed).fit(texts)) is not None:
            self.words, self.words_rows = fitted, len(texts)

    def _joint(self, z: np.ndarray, texts: Sequence[str], kept: RowCache | None = None) -> np.ndarray:
        """Unit rows of the embedding components joined with the word space (equal weight)."""
        if self.words is None:
            return z
        return unit_rows(np.hstack([z, self.words.transform_kept(texts, kept)]))

    def _describe(
        self,
        cluster_ids: list[int],
        members: list[np.ndarray],
        labels: np.ndarray,
        cx: np.ndarray,
        texts: Sequence[str],
        packs: Sequence[str | None] | None = None,
        x: np.ndarray | None = None,
    ) -> list[Incident]:
        c = self.config
        rng = np.random.default_rng(c.seed)
        per = min(c.keyword_docs, max(c.keyword_min_docs, c.keyword_docs_total // max(1, len(members) + 1)))

        def docs(rows: np.ndarray) -> list[str]:
            if len(rows) > per:
                rows = np.sort(rng.choice(rows, per, replace=False))
            return [texts[i] for i in rows]

        by_class = {i: docs(m) for i, m in enumerate(members)}
        by_class[OUTLIER] = docs(np.flatnonzero(labels == OUTLIER))  # only for document frequencies
        phrases = keyphrases(by_class, c.top_keywords, self.banned)
        words = ctfidf_keywords(by_class, c.top_keywords) if any(len(p) < 2 for p in phrases.values()) else {}
        descr = {}
        for i, m in enumerate(members):
            kw = phrases.get(i, [])
            if len(kw) < 2:  # too few phrases: single keywords (company names never)
                kw += [w for w in words.get(i, []) if w not in self.banned][: c.top_keywords - len(kw)]
            descr[i] = describe(
                kw,
                cx[i],
                self.taxonomy,
                c.taxonomy_min_sim,
                [packs[j] for j in m] if packs is not None else None,
                x[m] if x is not None else None,
            )
        disambiguate(descr)
        incidents = [
            Incident(
                id=cid,
                label_en=descr[i].label_en,
                label_ru=descr[i].label_ru,
                keywords=descr[i].keywords,
                size=len(members[i]),
                taxonomy_key=descr[i].taxonomy_key,
            )
            for i, cid in enumerate(cluster_ids)
        ]
        return sorted(incidents, key=lambda inc: (-inc.size, inc.id))

    def _thresholds(
        self, z: np.ndarray, members: list[np.ndarray], cz: np.ndarray, floor: float | None = None
    ) -> np.ndarray:
        """Per cluster: the global assignment threshold, raised to the cluster's
        own radius, so a tight cluster (e.g. one of short odd texts) does not
        absorb anything that happens to be nearest to it."""
        floor = self.clusterer.assign_min_sim if floor is None else floor
        q = self.config.radius_quantile
        return np.array([max(floor, float(np.quantile(z[m] @ cz[i], q))) for i, m in enumerate(members)], np.float32)

    # -- incremental --
    def assign_new(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> list[int | None]:
        """Incident id per new post (rows of unit embeddings) by nearest centroid,
        None when not close enough; clusters do not move. With `texts` (as fit()
        got them), in the space the clusters were built in (embeddings and
        words); without, in the embedding components alone."""
        v = np.asarray(vectors, dtype=np.float32)
        if not self.ids or not len(v):
            return [None] * len(v)
        if texts is not None and len(texts) != len(v):
            raise ValueError("vectors and texts must have the same length")
        if texts is not None and self.words is not None and len(self.centroids_joint):
            z = self.reducer.transform(v) if self.reducer_rows else unit_rows(v)
            labels, _ = nearest_centroid(self._joint(z, texts), self.centroids_joint, self.thresholds_joint)
        else:
            labels, _ = nearest_centroid(self.reducer.transform(v), self.centroids_reduced, self.thresholds)
        return [self.ids[lab] if lab >= 0 else None for lab in labels]

    def previous(self, assignment: dict[int, int | None] | None = None) -> PreviousClusters:
        """This model's clusters as the `previous` of the next full re-fit;
        `assignment`: the posts' current incident ids (from the store)."""
        return PreviousClusters(
            centroids={cid: self.centroids_full[i] for i, cid in enumerate(self.ids)},
            assignment=dict(assignment or {}),
            next_id=self.next_id,
            reducer=copy.deepcopy(self.reducer),  # a later fit of this model refits self.reducer in place
            reducer_rows=self.reducer_rows,
            centroids_reduced={cid: self.centroids_reduced[i] for i, cid in enumerate(self.ids)},
            words=copy.deepcopy(self.words),
            words_rows=self.words_rows,
        )

    # -- persistence --
    def to_bytes(self) -> bytes:
        """One .npz in memory, no pickles: config, reducer, word space, centroids,
        thresholds, id counter, incidents (what the store keeps, see indexer/model_store.py)."""
        meta = {
            "format": FORMAT_VERSION,
            "model_name": self.model_name,
            "config": asdict(self.config),
            "reducer": self.reducer.kind,
            "reducer_rows": self.reducer_rows,
            "words_rows": self.words_rows,
            "next_id": self.next_id,
            "ids": self.ids,
            "incidents": [asdict(i) for i in self.incidents],
            "refit_reason": self.refit_reason,
            "given_back": {str(k): v for k, v in self.given_back.items()},
        }
        # Any: np.savez's stub types **arrays against its allow_pickle: bool too
        arrays: dict[str, Any] = (
            {f"reducer_{k}": v for k, v in self.reducer.state().items()} if self.reducer_rows else {}
        )
        if self.words is not None:
            arrays |= {f"words_{k}": v for k, v in self.words.state().items()}
            arrays |= {"centroids_joint": self.centroids_joint, "thresholds_joint": self.thresholds_joint}
        buf = io.BytesIO()
        np.savez(
            buf,
            meta=np.array(json.dumps(meta)),
            centroids_reduced=self.centroids_reduced,
            centroids_full=self.centroids_full,
            thresholds=self.thresholds,
            **arrays,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, taxonomy: Sequence[TaxonomyPrototype] = ()) -> IncidentModel:
        """The model to_bytes() wrote; ValueError for anything else (never unpickles)."""
        try:
            return cls._from_npz(data, taxonomy)
        except (OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as e:
            raise ValueError(f"not an incident model ({type(e).__name__}: {e})") from e

    @classmethod
    def _from_npz(cls, data: bytes, taxonomy: Sequence[TaxonomyPrototype]) -> IncidentModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"unsupported incident model format {meta.get('format')}")
            state = {k[len("reducer_") :]: npz[k] for k in npz.files if k.startswith("reducer_")}
            model = cls(ClusteringConfig(**meta["config"]), taxonomy, model_name=meta["model_name"])
            if state:
                model.reducer = reducer_from_state(meta["reducer"], state)
            model.centroids_reduced = npz["centroids_reduced"]
            model.centroids_full = npz["centroids_full"]
            model.thresholds = npz["thresholds"]
            words = {k[len("words_") :]: npz[k] for k in npz.files if k.startswith("words_")}
            if words:  # a model saved before the word space was kept has none: assign_new uses the embeddings
                model.words = LexicalReduction.from_state(words)
                model.centroids_joint = npz["centroids_joint"]
                model.thresholds_joint = npz["thresholds_joint"]
        model.reducer_rows = int(meta["reducer_rows"])
        model.words_rows = int(meta.get("words_rows", 0))
        model.next_id = int(meta["next_id"])
        model.ids = [int(i) for i in meta["ids"]]
        model.incidents = [Incident(**i) for i in meta["incidents"]]
        model.refit_reason = meta.get("refit_reason")
        model.given_back = {int(k): list(v) for k, v in meta.get("given_back", {}).items()}
        return model

    def save(self, path: str | Path) -> None:
        """to_bytes() into a file, atomically: readers never see a half-written model."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        tmp.write_bytes(self.to_bytes())
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path, taxonomy: Sequence[TaxonomyPrototype] = ()) -> IncidentModel:
        try:
            return cls.from_bytes(Path(path).read_bytes(), taxonomy)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e

    def forget_posts(self, incidents: Sequence[Incident], reason: str) -> None:
        """After a takedown: the saved incident types take the store's
        recomputed labels, keywords and representatives (a type the store no
        longer has keeps none), and the model asks for a full re-fit, which
        computes centroids and the reducer without the removed posts."""
        now = {i.id: i for i in incidents}
        for inc in self.incidents:
            fresh = now.get(inc.id)
            inc.keywords = list(fresh.keywords) if fresh else []
            inc.representatives = list(fresh.representatives) if fresh else []
            if fresh:
                inc.label_en, inc.label_ru, inc.size = fresh.label_en, fresh.label_ru, fresh.size
            elif not inc.taxonomy_key:
                inc.label_en, inc.label_ru = "Unlabelled incident type", "Тип инцидента без названия"
        # the word space's vocabulary holds the removed posts' words: drop it
        # (the re-fit builds a new one from what is left)
        self.words, self.words_rows = None, 0
        self.refit_reason = reason


def _centroid_cos(
    prev: PreviousClusters, old_ids: list[int], x: np.ndarray, cx: np.ndarray, labels: np.ndarray, k: int
) -> np.ndarray:
    """New (rows) x old (columns) centroid cosine, in the previous fit's reduced
    space when it is known: in the raw embedding space even unrelated clusters
    are 0.85-0.94 similar, so only the reduced space tells same from neighbour."""
    if not old_ids or not k:
        return np.zeros((k, len(old_ids)), dtype=np.float32)
    if prev.reducer is not None and prev.centroids_reduced is not None:
        old = np.vstack([prev.centroids_reduced[i] for i in old_ids])
        return centroids_of(prev.reducer.transform(x), labels, k) @ old.T
    return cx @ np.vstack([prev.centroids[i] for i in old_ids]).T


def _agreement(labels: np.ndarray, init: np.ndarray) -> float:
    """Share of the rows clustered in both that sit with the majority of their
    `labels` cluster in `init` (1.0: the same partition, up to names)."""
    both = (labels >= 0) & (init >= 0)
    if not both.any():
        return 0.0
    pairs = np.unique(np.stack([labels[both], init[both]]), axis=1, return_counts=True)
    best: dict[int, int] = {}
    for (a, _b), n in zip(pairs[0].T.tolist(), pairs[1].tolist()):
        best[a] = max(best.get(a, 0), n)
    return sum(best.values()) / int(both.sum())


def _split_merged(
    labels: np.ndarray, post_ids: np.ndarray, x: np.ndarray, prev: PreviousClusters, min_size: int
) -> np.ndarray:
    if not prev.assignment or prev.reducer is None or prev.centroids_reduced is None or not len(labels):
        return labels
    labels = labels.copy()
    old = np.array([prev.assignment.get(int(p)) or 0 for p in post_ids])  # ids are >= 1; 0 = none
    old_ids, old_sizes = np.unique(old, return_counts=True)
    old_size = dict(zip(old_ids.tolist(), old_sizes.tolist()))
    next_label = int(labels.max()) + 1
    z_prev = None
    for j in range(int(labels.max()) + 1):
        rows = np.flatnonzero(labels == j)
        ids, counts = np.unique(old[rows], return_counts=True)
        # a parent was swallowed (mostly) whole; fragments of old clusters do not
        # count, or every re-fit would add the old boundaries to the new ones
        parents = [
            int(i)
            for i, n in zip(ids.tolist(), counts.tolist())
            if i and n >= min_size and 2 * n > old_size[i] and i in prev.centroids_reduced
        ]
        if len(parents) < 2:
            continue
        if z_prev is None:
            z_prev = prev.reducer.transform(x)
        near = (z_prev[rows] @ np.vstack([prev.centroids_reduced[i] for i in parents]).T).argmax(axis=1)
        for n in range(1, len(parents)):
            if (near == n).sum() >= min_size:  # a smaller part stays with the first
                labels[rows[near == n]] = next_label
                next_label += 1
    return labels


def _id_hash(post_ids: np.ndarray, seed: int) -> np.ndarray:
    """A fixed pseudo-random number per post id (splitmix64 finaliser): samples
    drawn by it are random but the same posts again on the next run."""
    h = post_ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15 * (seed + 1) % 2**64)
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel clusters 0..k-1 largest first; -1 stays."""
    if not len(labels) or labels.max() < 0:
        return labels
    sizes = np.bincount(labels[labels >= 0])
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return np.where(labels >= 0, rank[np.maximum(labels, 0)], OUTLIER)
