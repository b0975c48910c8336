"""Optional dimensionality reduction before clustering.

All posts are complaints, so raw sentence embeddings share a large common
direction ("someone is unhappy") that makes every pair look similar (median
cosine ~0.45 on CFPB). Centring and keeping the top principal components
removes it and the low-variance noise, which is what separates incident types.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from itertools import chain
from typing import Protocol

import numpy as np


def unit_rows(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1, norms)


class RowCache(Protocol):
    """Word-space rows computed before, kept by the caller between fits (the
    indexer: in the store's app state), per fitted space (fingerprint)."""

    def load(self, space: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(sorted uint64 text hashes, float32 rows in that order), None when none are kept."""
        ...

    def save(self, space: str, hashes: np.ndarray, rows: np.ndarray) -> None: ...


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
    components), so a saved model puts new posts in the same space.

    Fitted on at most `max_fit_rows` texts: a vocabulary, idf and 64 components
    are settled long before 100k posts, and ARPACK's cost follows the rows. The
    sample is the texts of lowest content hash, so the same posts in another
    order (or with other store ids) give the same space."""

    kind = "lexical"

    def __init__(self, dims: int = 64, max_chars: int = 2000, seed: int = 0, max_fit_rows: int = 20_000):
        self.dims = dims
        self.max_chars = max_chars
        self.seed = seed
        self.max_fit_rows = max_fit_rows
        self.terms: np.ndarray | None = None  # kept stems, column order
        self.idf: np.ndarray | None = None
        self.components: np.ndarray | None = None  # (dims, terms)
        self._index: dict[str, int] | None = None  # stem -> column of the fitted terms
        self._cols: dict[str, int] = {}  # surface word -> column (-1: no term), for _index

    @property
    def fitted(self) -> bool:
        return self.components is not None

    def _stem(self, w: str) -> str | None:
        """The stem of a lower-cased word, None for a stop or filler word."""
        from .words import stem_of

        return stem_of(w)

    def _words(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """(words per text, all words in text order): one regex pass per text;
        the per-word work is then done once per distinct word."""
        toks = [WORD_RE.findall(t[: self.max_chars].lower()) for t in texts]
        return np.fromiter(map(len, toks), np.int64, len(toks)), list(chain.from_iterable(toks))

    def _counts(self, texts: Sequence[str], index: dict[str, int], cols: dict[str, int] | None = None):
        """Term counts over `index`'s stems, (texts x terms) sparse; other stems
        are left out. `cols`: surface word -> column for this `index`, filled as
        new words come (kept between calls with the same index)."""
        from scipy import sparse

        cols = {} if cols is None else cols
        blocks = []
        for i in range(0, len(texts), 5000):  # bounded memory: a block's words at a time
            part = texts[i : i + 5000]
            lens, flat = self._words(part)
            for w in set(flat).difference(cols):
                s = self._stem(w)
                cols[w] = -1 if s is None else index.get(s, -1)
            col = np.fromiter(map(cols.__getitem__, flat), np.int64, len(flat))
            row = np.repeat(np.arange(len(part)), lens)
            keep = col >= 0
            m = sparse.csr_matrix(
                (np.ones(int(keep.sum()), np.float32), (row[keep], col[keep])),
                shape=(len(part), len(index)),
                dtype=np.float32,
            )
            m.sum_duplicates()
            blocks.append(m)
        if not blocks:
            return sparse.csr_matrix((0, len(index)), dtype=np.float32)
        return sparse.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]

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
        if len(texts) > self.max_fit_rows:
            texts = [texts[i] for i in np.sort(np.argsort(_text_hashes(texts), kind="stable")[: self.max_fit_rows])]
        _, flat = self._words(texts)
        words = sorted({s for w in set(flat) if (s := self._stem(w)) is not None})
        del flat
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
        self._index, self._cols = None, {}
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
        if self._index is None:
            self._index, self._cols = {str(t): j for j, t in enumerate(self.terms)}, {}
        return unit_rows(np.asarray(self._tfidf(self._counts(texts, self._index, self._cols)) @ self.components.T))

    def fingerprint(self) -> str:
        """What a text's row depends on besides the text: the fitted space."""
        if self.terms is None or self.idf is None or self.components is None:
            raise RuntimeError("LexicalReduction.fingerprint before fit")
        h = hashlib.sha256(f"lexical-{self.max_chars}-{self.components.shape}".encode())
        h.update("\x00".join(self.terms.tolist()).encode("utf-8"))
        h.update(np.ascontiguousarray(self.idf, np.float32).tobytes())
        h.update(np.ascontiguousarray(self.components, np.float32).tobytes())
        return h.hexdigest()

    def transform_kept(self, texts: Sequence[str], kept: RowCache | None) -> np.ndarray:
        """transform(texts), reusing the rows ``kept`` holds for this space: a
        text's row depends only on the text and the space (rows are computed
        independently), so a kept row is the row transform() would give. Keeps
        the rows of exactly these texts afterwards (a text no longer read drops out)."""
        if kept is None or not len(texts):
            return self.transform(texts)
        space = self.fingerprint()  # raises unless fitted
        assert self.components is not None
        dims = len(self.components)
        hashes = _text_hashes(texts)
        out: np.ndarray | None = None
        have = np.zeros(len(texts), bool)
        got = kept.load(space)
        usable = got is not None and len(got[0]) and got[1].shape == (len(got[0]), dims)
        if got is not None and usable and np.all(got[0][1:] > got[0][:-1]):  # sorted, as saved; else computed again
            known, rows = got
            at = np.minimum(np.searchsorted(known, hashes), len(known) - 1)
            have = known[at] == hashes
            out = np.empty((len(texts), rows.shape[1]), np.float32)
            out[have] = rows[at[have]]
        missing = np.flatnonzero(~have)
        if len(missing):
            new = self.transform([texts[i] for i in missing.tolist()])
            if out is None:
                out = np.empty((len(texts), new.shape[1]), np.float32)
            out[missing] = new
        assert out is not None
        uniq, first = np.unique(hashes, return_index=True)  # sorted, as load() gives them back
        if len(missing) or got is None or len(uniq) != len(got[0]):
            kept.save(space, uniq, out[first])
        return out

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


def _text_hashes(texts: Sequence[str]) -> np.ndarray:
    """A fixed 64-bit number per text (its content, not its position)."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little") for t in texts),
        np.uint64,
        len(texts),
    )


def sparse_row_scale(x, scale: np.ndarray):
    from scipy import sparse

    return sparse.diags(scale.astype(np.float32)) @ x


def lexical_vectors(texts: list[str], dims: int = 64, max_chars: int = 2000, seed: int = 0) -> np.ndarray | None:
    """LexicalReduction fitted on `texts` and applied to them; None when there is too little text."""
    lex = LexicalReduction(dims, max_chars, seed).fit(texts)
    return lex.transform(texts) if lex is not None else None
