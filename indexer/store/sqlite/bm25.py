"""FTS5's ``bm25()`` computed in numpy, for broad word queries on SQLite.

FTS5 scores a match row by row through its auxiliary-function API (each row's
instances and its size read apart): ~2 µs a row, 30 ms for a word in 14,000 of
100,000 posts, 300 ms at 1M. The same score is a closed formula of three
things SQLite hands over in bulk: each word's occurrences per post and column
(the ``fts5vocab`` instance table, ~0.25 µs an occurrence), each post's length
in tokens (``posts_fts_docsize``, read once per change of the store) and the
table's totals (the averages record). Same operations in the same order as
``fts5Bm25Function`` in SQLite's fts5_aux.c, so the scores are the same
doubles, bit for bit (tests/test_search_broad.py compares them with SQL's).

Only plain words: a quoted phrase of several words needs positions, and stays
with FTS5's own ``bm25()``.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

import numpy as np

from .search_state import parse_ints

# fts5_aux.c's constants and search.py's column weights: bm25(posts_fts, 2.0, 1.0)
K1 = 1.2
B = 0.75
TITLE_WEIGHT, TEXT_WEIGHT = 2.0, 1.0
# occurrences read per matched post past which FTS5's own scoring is the cheaper
# (~0.45 µs an occurrence here against ~2 µs a row there)
MAX_OCCURRENCES_PER_MATCH = 4
_INSTANCES = "posts_fts_instances"
_WORDS = "posts_fts_words"


def _varints(buf: np.ndarray) -> np.ndarray:
    """SQLite varints (7 bits a byte, big-endian, high bit: more follows) packed
    back to back in ``buf`` (uint8), decoded. Post and column lengths stay far
    under the 9-byte form's range."""
    if not len(buf):
        return np.zeros(0, dtype=np.int64)
    ends = np.flatnonzero(buf < 0x80)
    starts = np.concatenate(([0], ends[:-1] + 1))
    width = ends - starts + 1
    out = np.zeros(len(ends), dtype=np.int64)
    for j in range(int(width.max())):
        more = width > j
        out[more] = (out[more] << 7) | (buf[starts[more] + j] & 0x7F).astype(np.int64)
    return out


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``ids`` sits in ``sorted_ids`` and whether it is there (positions
    of the absent ones are meaningless)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return pos, sorted_ids[pos] == ids


@dataclass(frozen=True)
class DocLengths:
    """Every row's size in tokens (all columns) and the table's average, as FTS5 keeps them."""

    ids: np.ndarray  # rowids, ascending
    lengths: np.ndarray  # float64, same order
    nrow: int
    avgdl: float

    @classmethod
    def load(cls, db: sqlite3.Connection) -> DocLengths | None:
        """None when the stored sizes do not read as expected (then FTS5 scores)."""
        ncol = 2
        ids_text, sizes_hex = db.execute(
            "SELECT group_concat(id), group_concat(hex(sz), '') FROM (SELECT id, sz FROM posts_fts_docsize ORDER BY id)"
        ).fetchone()
        avg = db.execute("SELECT block FROM posts_fts_data WHERE id = 1").fetchone()
        if avg is None:
            return None
        totals = _varints(np.frombuffer(bytes(avg[0]), dtype=np.uint8))  # nRow, then each column's tokens
        ids = parse_ints(ids_text)
        sizes = _varints(np.frombuffer(bytes.fromhex(sizes_hex or ""), dtype=np.uint8))
        if len(totals) < 1 + ncol or len(sizes) != ncol * len(ids) or totals[0] <= 0:
            return None
        nrow, ntoken = int(totals[0]), int(totals[1 : 1 + ncol].sum())
        lengths = sizes.reshape(-1, ncol).sum(axis=1).astype(np.float64)
        return cls(ids=ids, lengths=lengths, nrow=nrow, avgdl=float(ntoken) / float(nrow))

    def of(self, ids: np.ndarray) -> np.ndarray | None:
        """The lengths of these rowids; None if one has no stored size."""
        pos, found = _lookup(self.ids, ids)
        return self.lengths[pos] if bool(found.all()) else None


@dataclass(frozen=True)
class TermFreqs:
    """One word's weighted occurrences per post: the f(q, D) of every post holding it."""

    ids: np.ndarray  # rowids, ascending
    freqs: np.ndarray  # float64: 2 per occurrence in the title, 1 in the text

    def at(self, ids: np.ndarray) -> np.ndarray:
        """f(q, D) of these rowids, 0 where the word is absent."""
        out = np.zeros(len(ids), dtype=np.float64)
        pos, found = _lookup(self.ids, ids)
        out[found] = self.freqs[pos[found]]
        return out


def word_counts(db: sqlite3.Connection, word: str) -> tuple[int, int]:
    """(posts holding the word, its occurrences) from the vocabulary: (0, 0) for a
    word the index does not hold as it is (its tokenizer reads it otherwise)."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{_WORDS} USING fts5vocab(main, posts_fts, row)")
    row = db.execute(f"SELECT doc, cnt FROM temp.{_WORDS} WHERE term = ?", (word,)).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def term_freqs(db: sqlite3.Connection, word: str) -> TermFreqs:
    """The word's weighted occurrences per post, from the instance table."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{_INSTANCES} USING fts5vocab(main, posts_fts, instance)")
    # one string for every occurrence: rowid * 2 + (1 in the text column, 0 in the title)
    text = db.execute(
        f"SELECT group_concat(doc * 2 + (col = 'text')) FROM temp.{_INSTANCES} WHERE term = ?", (word,)
    ).fetchone()[0]
    codes = np.sort(parse_ints(text))
    ids, start = np.unique(codes >> 1, return_index=True)
    # FTS5 adds each occurrence's column weight: sums of 1.0s and 2.0s, exact in any order
    weights = np.where(codes & 1, TEXT_WEIGHT, TITLE_WEIGHT)
    freqs = np.add.reduceat(weights, start) if len(ids) else np.zeros(0, dtype=np.float64)
    return TermFreqs(ids=ids, freqs=freqs)


def idf(nrow: int, nhit: int) -> float:
    """fts5_aux.c: log((N - n + 0.5) / (n + 0.5)), floored at 1e-6."""
    value = math.log((nrow - nhit + 0.5) / (nhit + 0.5))
    return value if value > 0.0 else 1e-6


def scores(ids: np.ndarray, terms: list[tuple[float, TermFreqs]], lengths: DocLengths) -> np.ndarray | None:
    """FTS5's bm25() of these rows (lower is better) for phrases given as (idf,
    occurrences), in the order the MATCH expression names them; None if a row's
    size is not stored."""
    d = lengths.of(ids)
    if d is None:
        return None
    norm = K1 * (1 - B + B * d / lengths.avgdl)
    score = np.zeros(len(ids), dtype=np.float64)
    for weight, tf in terms:
        f = tf.at(ids)
        score += weight * ((f * (K1 + 1.0)) / (f + norm))
    return -1.0 * score
