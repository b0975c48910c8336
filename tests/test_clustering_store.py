"""The clustering output goes through the real store the way the indexer will
use it: vectors from the store in, incidents and assignment back, and the
store's per-company stats agree with recurring_failures on the same posts."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.clustering import IncidentModel, recurring_failures
from indexer.clustering.recurring import recurring_from_counts
from indexer.model_store import KIND, load_model, save_model
from indexer.pipeline import embed_text
from tests.corpora import load_ru_reviews


@pytest.fixture(scope="module")
def reviews(shared, usem3):
    """150 real Russian reviews and their vectors, embedded once for every backend."""
    posts = load_ru_reviews(shared, limit=150)
    return posts, dict(zip([p.url for p in posts], usem3.encode([p.text[:800] for p in posts])))


def test_fit_store_and_recurring_stats_agree(store, reviews, usem3):
    posts, vectors = reviews
    store.upsert_posts([p.with_() for p in posts])  # copies: the store sets ids on what it is given
    stored = list(store.iter_posts())
    store.set_vectors(usem3.name, [(p.id, vectors[p.url]) for p in stored])

    ids, mat = store.vectors(usem3.name)
    by_id = {p.id: p for p in stored}
    texts = [embed_text(by_id[int(i)].title, by_id[int(i)].text) for i in ids]
    model = IncidentModel(model_name=usem3.name)
    res = model.fit(ids, mat, texts)
    assert res.incidents and set(res.assignment) == {p.id for p in stored}  # Ward: outliers only from tiny clusters
    store.replace_incidents(res.incidents, res.assignment)
    assert store.check() == []
    assert {(i.id, i.label_ru, i.size) for i in store.incidents()} == {
        (i.id, i.label_ru, i.size) for i in res.incidents
    }
    assert {p.id: p.incident_id for p in store.iter_posts()} == res.assignment

    ours = {
        r.incident_id: r
        for r in recurring_failures((c, res.assignment[p.id], p.published_at) for p in stored for c in p.companies)
    }
    theirs = {s.incident_id: s for s in store.company_incident_stats("gazprombank")}
    assert set(ours) == set(theirs)
    for iid, s in theirs.items():
        r = ours[iid]
        assert (r.count, r.first_seen, r.last_seen) == (s.count, s.first_seen, s.last_seen)
        assert {m: n for m, n in r.monthly.items() if n} == s.monthly

    # one aggregation: the store's counts give the same recurring failures, trends included, as the raw rows
    as_of = max(p.published_at for p in stored if p.published_at)
    from_rows = recurring_failures(
        ((c, res.assignment[p.id], p.published_at) for p in stored for c in p.companies), as_of=as_of
    )
    from_store = recurring_from_counts(
        store.company_incident_stats("gazprombank"),
        {"gazprombank": store.company_complaint_months("gazprombank")},
        as_of,
    )

    def key(r):
        return (r.company, r.incident_id, r.count, r.trend, r.label, r.recent, r.baseline, round(r.expected_recent, 9))

    assert [key(r) for r in from_store] == [key(r) for r in from_rows if r.company == "gazprombank"]

    # the model kept in the store (app state) serves the next run, on either backend
    save_model(store, model)
    assert store.blob_keys(KIND) == [usem3.name]
    kept = load_model(store, usem3.name)
    assert kept.ids == model.ids and kept.next_id == model.next_id and kept.incidents == model.incidents
    assert np.array_equal(kept.centroids_full, model.centroids_full)
    # damaged bytes are no model: a logged None (the next full fit replaces them), never an unpickle or a crash
    store.blob_put(KIND, "damaged", model.to_bytes()[:-100])
    assert load_model(store, "damaged") is None
    with pytest.raises(ValueError, match="not an incident model"):
        IncidentModel.from_bytes(b"PK\x03\x04 truncated")
    again = IncidentModel().fit(ids, mat, texts, previous=kept.previous(res.assignment))
    assert again.assignment == res.assignment
