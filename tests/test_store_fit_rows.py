"""PostStore.iter_fit_rows: the lean read the incident fit makes (indexer/pipeline.py
_fit_posts) hands out exactly the stored fields iter_posts() does, on both backends."""

from __future__ import annotations

from complaintwatch.models import Incident
from indexer.store.types import FitRow
from tests.corpora import load_cfpb, load_ru_reviews


def test_fit_rows_equal_the_posts_fields(store, shared):
    cfpb = load_cfpb(shared, limit=120)
    ru = load_ru_reviews(shared, limit=120)
    thread = cfpb[0].url
    # real reviews as the replies of a thread: some by the company, one naming no company
    replies = [
        p.with_(parent_url=thread, thread_url=thread, position=i + 1, is_company_reply=i % 4 == 0)
        for i, p in enumerate(ru[:40])
    ]
    replies[1] = replies[1].with_(companies=[])
    store.upsert_posts(cfpb + replies + ru[40:])
    posts = list(store.iter_posts())
    ids = [p.id for p in posts]
    store.set_stance([(pid, "complaint" if i % 3 else "praise") for i, pid in enumerate(ids[:90])])
    store.replace_incidents(
        [Incident(id=7, label_en="a", label_ru="а", size=30), Incident(id=9, label_en="b", label_ru="б", size=15)],
        {**{pid: 7 for pid in ids[10:40]}, **{pid: 9 for pid in ids[150:165]}},
    )

    expected = [
        FitRow(p.id, p.title, p.text, p.companies, p.is_company_reply, p.parent_url, p.stance, p.incident_id)
        for p in store.iter_posts()
    ]
    got = list(store.iter_fit_rows(batch=50))  # pages: the read goes on past the first one
    assert got == expected
    assert all(type(r) is FitRow for r in got)
    assert [r.id for r in got] == sorted(ids)  # id order, every post once

    # the data varies in every field, so a field read wrong (or from another column) shows above
    assert len({r.title for r in got}) > 10 and len({r.text for r in got}) > 200
    assert {tuple(r.companies) for r in got} >= {("gazprombank",), ()} and len({tuple(r.companies) for r in got}) > 3
    assert {r.is_company_reply for r in got} == {True, False}
    assert {r.parent_url for r in got} == {None, thread}
    assert {r.stance for r in got} == {None, "complaint", "praise"}
    assert {r.incident_id for r in got} == {None, 7, 9}
    assert sum(r.incident_id == 9 for r in got) == 15 and sum(r.is_company_reply for r in got) == 10
