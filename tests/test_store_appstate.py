"""The app-state role on both backends: documents, once-only creates, ids, blobs."""

from __future__ import annotations

import multiprocessing
import os

import pytest
from pydantic import BaseModel

from indexer.store import open_store
from indexer.store.appstate import AppState, StateRepo


class Source(BaseModel):
    url: str
    every_minutes: int
    note: str | None = None


def test_documents_round_trip_and_survive_reopen(store, tmp_path):
    assert isinstance(store, AppState)
    assert store.state_get("source", "1") is None
    store.state_put("source", "1", {"url": "https://форум.example/board", "every_minutes": 60})
    store.state_put("source", "2", {"url": "https://b.example/", "every_minutes": 5})
    store.state_put("user", "1", {"email": "a@example.org"})
    store.state_put("source", "1", {"url": "https://форум.example/board", "every_minutes": 30})  # replace
    assert store.state_get("source", "1") == {"url": "https://форум.example/board", "every_minutes": 30}
    assert [k for k, _ in store.state_list("source")] == ["1", "2"]
    assert store.state_list("user") == [("1", {"email": "a@example.org"})]
    assert store.state_delete("source", "2") is True
    assert store.state_delete("source", "2") is False
    assert [k for k, _ in store.state_list("source")] == ["1"]
    if hasattr(store, "path"):  # SQLite: a new connection reads what the first wrote
        again = open_store(store.path)
        assert again.state_get("source", "1")["every_minutes"] == 30
        again.close()


def test_create_only_once(store):
    assert store.state_create("delivery", "alert-3:post-9", {"at": "2026-03-01T09:30:00+00:00"}) is True
    assert store.state_create("delivery", "alert-3:post-9", {"at": "later"}) is False
    assert store.state_get("delivery", "alert-3:post-9") == {"at": "2026-03-01T09:30:00+00:00"}


def test_ids_count_up_per_kind_and_are_never_reused(store):
    assert [store.state_next_id("user") for _ in range(3)] == [1, 2, 3]
    assert store.state_next_id("source") == 1
    store.state_put("user", "3", {})
    store.state_delete("user", "3")
    assert store.state_next_id("user") == 4


def test_bad_keys_are_refused(store):
    with pytest.raises(ValueError):
        store.state_put("", "1", {})
    with pytest.raises(ValueError):
        store.state_put("user", "", {})
    with pytest.raises(ValueError):
        store.state_put("user", "x" * 300, {})
    with pytest.raises(ValueError):
        store.state_put("us er", "1", {})


def test_blobs_round_trip_in_several_parts(store, monkeypatch):
    import indexer.store.appstate_es as es_state

    monkeypatch.setattr(es_state, "PART", 1000)  # several parts on ES without megabytes in the test
    data = os.urandom(3500)
    assert store.blob_get("incident_model", "usem3") is None
    store.blob_put("incident_model", "usem3", data)
    assert store.blob_get("incident_model", "usem3") == data
    store.blob_put("incident_model", "usem3", data[:1200])  # shorter: old surplus parts go
    assert store.blob_get("incident_model", "usem3") == data[:1200]
    store.blob_put("incident_model", "st-minilm", b"")
    assert store.blob_keys("incident_model") == ["st-minilm", "usem3"]
    assert store.blob_delete("incident_model", "usem3") is True
    assert store.blob_get("incident_model", "usem3") is None
    assert store.blob_keys("incident_model") == ["st-minilm"]


def test_typed_repo(store):
    sources = StateRepo(store, "source", Source)
    key = str(sources.next_id())
    sources.put(key, Source(url="https://a.example/feed", every_minutes=60))
    assert sources.get(key) == Source(url="https://a.example/feed", every_minutes=60)
    assert sources.create(key, Source(url="x", every_minutes=1)) is False
    assert list(sources) == [Source(url="https://a.example/feed", every_minutes=60)]


def _claim(path: str, key: str, out) -> None:
    s = open_store(path)
    out.put(s.state_create("claim", key, {"pid": os.getpid()}))
    s.close()


def test_create_is_atomic_across_processes(tmp_path):
    path = str(tmp_path / "cw.db")
    open_store(path).close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(path, "job-1", out)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    results = [out.get(timeout=5) for _ in procs]
    assert sorted(results) == [False, False, False, True]
