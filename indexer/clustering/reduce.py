"""Optional dimensionality reduction before clustering.

All posts are complaints, so raw sentence embeddings share a large common
direction ("someone is unhappy") that makes every pair look similar (median
cosine ~0.45 on CFPB). Centring and keeping the top principal components
removes it and the low-variance noise, which is what separates incident types.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np


def unit_rows(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1, norms)


class Reducer(Protocol):
    kind: str

    def fit(self, vectors: np.ndarray) -> Reducer: ...

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Unit rows in the reduced space (cosine = dot product)."""
        ...

    def state(self) -> dict[str, np.ndarray]: ...


class NoReduction:
    kind = "none"

    def fit(self, vectors: np.ndarray) -> NoReduction:
        return self

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        return unit_rows(vectors)

    def state(self) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> NoReduction:
        return cls()


class PCAReduction:
    """Centre, project on the top `dims` principal components, re-normalise.

    Fitted on at most `max_fit_rows` rows: the components of 512-d embeddings
    are stable long before 100k posts, and the SVD stays well under a second."""

    kind = "pca"

    def __init__(self, dims: int = 64, max_fit_rows: int = 20_000, seed: int = 0):
        self.dims = dims
        self.max_fit_rows = max_fit_rows
        self.seed = seed
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None  # (dims, input dim)

    def fit(self, vectors: np.ndarray) -> PCAReduction:
        x = np.asarray(vectors, dtype=np.float32)
        if len(x) > self.max_fit_rows:
            rows = np.random.default_rng(self.seed).choice(len(x), self.max_fit_rows, replace=False)
            x = x[np.sort(rows)]
        self.mean = x.mean(axis=0)
        xc = (x - self.mean).astype(np.float64)
        # eigenvectors of the (dim x dim) scatter matrix: the same components as
        # an SVD of the centred rows, several times cheaper (no rows x dim U)
        vals, vecs = np.linalg.eigh(xc.T @ xc)
        keep = max(1, min(self.dims, len(x) - 1))
        self.components = vecs[:, np.argsort(-vals)[:keep]].T.astype(np.float32)
        return self

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        if self.mean is None or self.components is None:
            raise RuntimeError("PCAReduction.transform before fit")
        return unit_rows((np.asarray(vectors, dtype=np.float32) - self.mean) @ self.components.T)

    def state(self) -> dict[str, np.ndarray]:
        assert self.mean is not None and self.components is not None
        return {"mean": self.mean, "components": self.components}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> PCAReduction:
        r = cls(dims=int(state["components"].shape[0]))
        r.mean = np.asarray(state["mean"], dtype=np.float32)
        r.components = np.asarray(state["components"], dtype=np.float32)
        return r


REDUCERS: dict[str, type[NoReduction] | type[PCAReduction]] = {"none": NoReduction, "pca": PCAReduction}


def reducer_from_state(kind: str, state: dict[str, np.ndarray]) -> Reducer:
    return REDUCERS[kind].from_state(state)


WORD_RE = re.compile(r"(?u)\b[^\W\d_]{3,}\b")


class LexicalReduction:
    """Latent semantic vectors of the posts' own words, unit rows: TF-IDF
    (sublinear, smooth idf, l2) over Snowball stems of content words (stop and
    filler words out; terms in 3+ posts and at most half of them), projected
    on a truncated SVD (ARPACK: exact, independent of row order).

    Sentence embeddings say how a post reads; the words it shares with other
    posts ("escrow", "credit report", "отлов собак") say what it is about. On
    the labelled sets of bench/cluster_quality.py the two together separate
    incident types better than either. Fitted, it is plain arrays (terms, idf,
    components), so a saved model puts new posts in the same space."""

    kind = "lexical"

    def __init__(self, dims: int = 64, max_chars: int = 2000, seed: int = 0):
        self.dims = dims
        self.max_chars = max_chars
        self.seed = seed
        self.terms: np.ndarray | None = None  # kept stems, column order
        self.idf: np.ndarray | None = None
        self.components: np.ndarray | None = None  # (dims, terms)
        self._stem_cache: dict[str, str | None] = {}

    @property
    def fitted(self) -> bool:
        return self.components is not None

    def _stems(self, text: str) -> list[str]:
        from ..analysis import stem
        from .stopwords import is_filler

        out = []
        cache = self._stem_cache
        for w in WORD_RE.findall(text[: self.max_chars].lower()):
            s = cache.get(w, "")
            if s == "":
                w2 = w.replace("ё", "е")
                s = cache[w] = None if is_filler(w2) else stem(w2)
            if s is not None:
                out.append(s)
        return out

    def _counts(self, texts: Sequence[str], index: dict[str, int]):
        """Term counts over `index`'s stems, (texts x terms) sparse; other stems are left out."""
        from scipy import sparse

        rows, cols = [], []
        for r, t in enumerate(texts):
            for s in self._stems(t):
                j = index.get(s)
                if j is None:
                    continue
                rows.append(r)
                cols.append(j)
        data = np.ones(len(rows), np.float32)
        m = sparse.csr_matrix((data, (rows, cols)), shape=(len(texts), len(index)), dtype=np.float32)
        m.sum_duplicates()
        return m

    def _tfidf(self, counts):
        """Sublinear tf x idf, l2 rows (sklearn's TfidfTransformer, as arrays)."""
        x = counts.copy()
        x.data = np.log(x.data) + 1
        x = x.multiply(self.idf[None, :]).tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        return sparse_row_scale(x, 1 / np.where(norms == 0, 1, norms))

    def fit(self, texts: Sequence[str]) -> LexicalReduction | None:
        """Self, or None when there is too little text for a word space."""
        from sklearn.decomposition import TruncatedSVD

        if len(texts) < 10:
            return None
        words = sorted({s for t in texts for s in self._stems(t)})
        if not words:
            return None
        vocab = {s: j for j, s in enumerate(words)}
        counts = self._counts(texts, vocab)
        df = np.bincount(counts.indices, minlength=len(vocab))
        keep = np.flatnonzero((df >= 3) & (df <= 0.5 * len(texts)))
        k = min(self.dims, len(keep) - 1, len(texts) - 1)
        if k < 2:
            return None
        n = len(texts)
        self.terms = np.array(words)[keep]
        self.idf = (np.log((1 + n) / (1 + df[keep])) + 1).astype(np.float32)
        # ARPACK, not the randomized solver: its trailing components depend on
        # row order (float32, few power iterations), and rows arrive in crawl
        # order, which concurrent fetching varies; exact, the same posts give
        # the same space (and types) on every run, at the same cost
        svd = TruncatedSVD(k, algorithm="arpack", random_state=self.seed).fit(self._tfidf(counts[:, keep].tocsr()))
        self.components = svd.components_.astype(np.float32)
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        if self.terms is None or self.idf is None or self.components is None:
            raise RuntimeError("LexicalReduction.transform before fit")
        index = {str(t): j for j, t in enumerate(self.terms)}
        return unit_rows(np.asarray(self._tfidf(self._counts(texts, index)) @ self.components.T))

    def state(self) -> dict[str, np.ndarray]:
        assert self.terms is not None and self.idf is not None and self.components is not None
        return {"terms": self.terms, "idf": self.idf, "components": self.components}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], max_chars: int = 2000) -> LexicalReduction:
        r = cls(dims=int(state["components"].shape[0]), max_chars=max_chars)
        r.terms = np.asarray(state["terms"]).astype(str)
        r.idf = np.asarray(state["idf"], dtype=np.float32)
        r.components = np.asarray(state["components"], dtype=np.float32)
        return r


def sparse_row_scale(x, scale: np.ndarray):
    from scipy import sparse

    return sparse.diags(scale.astype(np.float32)) @ x


def lexical_vectors(texts: list[str], dims: int = 64, max_chars: int = 2000, seed: int = 0) -> np.ndarray | None:
    """LexicalReduction fitted on `texts` and applied to them; None when there is too little text."""
    lex = LexicalReduction(dims, max_chars, seed).fit(texts)
    return lex.transform(texts) if lex is not None else None
