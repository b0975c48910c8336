"""The word-space rows a fit keeps in the store (indexer/pipeline.py _WordRows,
clustering.reduce.LexicalReduction.transform_kept): a re-fit reads them instead
of tokenising every text again, and gets exactly the rows transform() gives."""

from __future__ import annotations

import logging

import numpy as np

from indexer.clustering.reduce import LexicalReduction, _text_hashes
from indexer.pipeline import _WordRows
from tests.corpora import load_cfpb, load_ru_reviews


def _texts(shared) -> list[str]:
    return [p.text for p in load_cfpb(shared, limit=150)] + [p.text for p in load_ru_reviews(shared, limit=150)]


def test_kept_rows_are_the_computed_rows(store, shared, caplog):
    texts = _texts(shared)
    space = LexicalReduction(16).fit(texts[:250])
    assert space is not None
    want = space.transform(texts)
    kept = _WordRows(store)

    first = space.transform_kept(texts[:200], kept)  # nothing kept yet: computed, then kept
    assert np.array_equal(first, want[:200])
    hashes, rows = kept.load(space.fingerprint())
    assert len(hashes) == len(set(texts[:200])) and np.all(np.diff(hashes.astype(np.float64)) > 0)

    # the rows are read back (not computed): a kept row comes out as kept
    marked = rows.copy()
    marked[0] = 7.0
    kept.save(space.fingerprint(), hashes, marked)
    i = int(np.flatnonzero(_text_hashes(texts[:200]) == hashes[0])[0])
    again = space.transform_kept(texts[:200], kept)
    assert np.all(again[i] == 7.0)
    kept.save(space.fingerprint(), hashes, rows)

    # kept and new texts, in another order: exactly transform()'s rows; then only these texts are kept
    order = np.random.default_rng(0).permutation(len(texts))
    got = space.transform_kept([texts[j] for j in order], kept)
    assert np.array_equal(got, want[order])
    assert len(kept.load(space.fingerprint())[0]) == len(set(texts))

    # another fitted space keeps its own rows; the old space's are dropped
    other = LexicalReduction(16).fit(texts[50:])
    assert other is not None and other.fingerprint() != space.fingerprint()
    assert np.array_equal(other.transform_kept(texts, kept), other.transform(texts))
    assert kept.load(space.fingerprint()) is None

    # an unreadable copy is computed again, with a warning, never a crash
    store.blob_put(_WordRows.KIND, other.fingerprint()[:40], b"not an npz")
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(other.transform_kept(texts, kept), other.transform(texts))
    assert "word-space rows unreadable" in caplog.text
    assert len(kept.load(other.fingerprint())[0]) == len(set(texts))
