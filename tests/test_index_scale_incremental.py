"""Index cost follows what changed (issue 16), on both backends, with real
texts from ../shared/data: an incremental run analyses, embeds, classifies
and types only new or changed posts and writes no other post; a changed post
is analysed and typed again, and so are the comments that take its company; a
new alias table analyses everything again; a full re-fit with vectors present
analyses nothing and rewrites only the incident ids that change."""

from __future__ import annotations

import sqlite3

import numpy as np

from complaintwatch.models import Incident, Post, SiteKind
from indexer.companies import CompanyResolver
from indexer.pipeline import run_index
from tests.clock import NOW
from tests.corpora import load_cfpb, load_ru_reviews

ALIASES = '[acme-bank]\nname = "Acme Bank"\naliases = ["Acme Bank", "Acme Savings"]\nindustry = "banking"\n'
ALIASES_MORE = ALIASES + '\n[zenith-card]\nname = "Zenith Card"\naliases = ["Zenith Card"]\nindustry = "banking"\n'


class Writes:
    """Which posts a stretch of work wrote (their row or document), observed
    from the store itself: an SQLite trigger on the store's own connection;
    Elasticsearch's per-document updated_at, which every write sets."""

    def __init__(self, store):
        self.store = store
        if hasattr(store, "db"):
            store.db.execute("CREATE TEMP TABLE IF NOT EXISTS written (id INTEGER)")
            store.db.execute(
                "CREATE TEMP TRIGGER IF NOT EXISTS post_written AFTER UPDATE ON posts"
                " BEGIN INSERT INTO written VALUES (new.id); END"
            )
        self.reset()

    def _stamps(self) -> dict[int, int]:
        self.store.refresh()
        out: dict[int, int] = {}
        for hits in self.store._scan({"match_all": {}}, ["id", "updated_at"], 5000):
            out.update((h["_source"]["id"], h["_source"].get("updated_at")) for h in hits)
        return out

    def reset(self) -> None:
        if hasattr(self.store, "db"):
            with self.store.db as db:
                db.execute("DELETE FROM written")
        else:
            self.before = self._stamps()

    def ids(self) -> set[int]:
        if hasattr(self.store, "db"):
            got = {r[0] for r in self.store.db.execute("SELECT id FROM written")}
        else:
            got = {pid for pid, at in self._stamps().items() if self.before.get(pid) != at}
        self.reset()
        return got


def _resolver(tmp_path, text: str) -> CompanyResolver:
    path = tmp_path / f"aliases-{abs(hash(text))}.toml"
    path.write_text(text, encoding="utf-8")
    return CompanyResolver.default([path])


def _corpus(shared) -> list[Post]:
    """English complaints and Russian bank reviews, a few of them threads
    with a comment that names no company (it takes the thread's)."""
    posts = load_cfpb(shared, limit=60, label_as_title=False) + load_ru_reviews(shared, limit=30)
    for i, root in enumerate(posts[:3]):
        posts.append(
            Post(
                url=f"{root.url}#c{i}",
                source_site=root.source_site,
                site_kind=root.site_kind,
                title="",
                text="Same here: I waited for weeks and nobody answered my letters about it. " * 3,
                published_at=NOW,
                parent_url=root.url,
                thread_url=root.url,
                position=1,
            )
        )
    return posts


def _new_posts(shared, n: int) -> list[Post]:
    return load_cfpb(shared, limit=n, start=400, label_as_title=False)


def test_incremental_run_works_on_new_posts_only(store, shared, usem3, tmp_path):
    resolver = _resolver(tmp_path, ALIASES)
    store.upsert_posts(_corpus(shared))
    first = run_index(store, usem3, resolver)
    total = store.count_posts()
    assert first.analysed == first.embedded == total and first.typed == total
    typed = {p.id: p.incident_id for p in store.iter_posts()}
    assert any(typed.values())

    writes = Writes(store)
    new = _new_posts(shared, 3)
    store.upsert_posts(new)
    new_ids = {store.get_post_by_url(p.url).id for p in new}
    writes.reset()
    report = run_index(store, usem3, resolver, incremental=True)
    assert (report.analysed, report.embedded, report.classified, report.typed) == (3, 3, 3, 3)
    assert report.posts == total + 3
    assert writes.ids() == new_ids  # not one other post was written
    after = {p.id: p.incident_id for p in store.iter_posts()}
    assert all(after[pid] == iid for pid, iid in typed.items())
    assert sum(i.size for i in store.incidents()) == sum(iid is not None for iid in after.values())

    # nothing new: nothing to do, nothing written
    again = run_index(store, usem3, resolver, incremental=True)
    assert (again.analysed, again.embedded, again.classified, again.typed) == (0, 0, 0, 0)
    assert writes.ids() == set()
    assert store.check() == []


def test_changed_post_and_the_comments_that_take_its_company_are_done_again(store, shared, usem3, tmp_path):
    resolver = _resolver(tmp_path, ALIASES)
    posts = _corpus(shared)
    store.upsert_posts(posts)
    run_index(store, usem3, resolver)
    root = store.get_post_by_url(posts[0].url)
    (comment,) = [p for p in store.thread(root.url) if p.parent_url]
    assert "acme-bank" not in comment.companies

    writes = Writes(store)
    store.upsert_posts([root.with_(text="Acme Bank closed my account without notice. " + root.text, id=None)])
    writes.reset()
    report = run_index(store, usem3, resolver, incremental=True)
    # the opening post changed; its comment names no company and takes the thread's
    assert (report.analysed, report.embedded, report.typed) == (2, 1, 1)
    assert store.get_post(root.id).companies[0] == "acme-bank"
    assert "acme-bank" in store.get_post(comment.id).companies
    assert writes.ids() == {root.id, comment.id}

    # an unchanged re-crawl changes nothing the index run does
    store.upsert_posts([store.get_post(root.id).with_(id=None)])
    quiet = run_index(store, usem3, resolver, incremental=True)
    assert (quiet.analysed, quiet.embedded, quiet.typed) == (0, 0, 0)


def test_new_alias_table_analyses_every_post_again(store, shared, usem3, tmp_path):
    store.upsert_posts(_corpus(shared))
    run_index(store, usem3, _resolver(tmp_path, ALIASES))
    target = store.iter_posts().__next__()
    store.upsert_posts([target.with_(text=target.text + " I also pay with my Zenith Card.", id=None)])
    run_index(store, usem3, _resolver(tmp_path, ALIASES), incremental=True)
    assert "zenith-card" not in store.get_post(target.id).companies

    more = _resolver(tmp_path, ALIASES_MORE)
    report = run_index(store, usem3, more, incremental=True)
    assert report.analysed == store.count_posts() and report.embedded == 0 and report.typed == 0
    assert "zenith-card" in store.get_post(target.id).companies
    assert run_index(store, usem3, more, incremental=True).analysed == 0


def test_full_refit_with_vectors_present_analyses_nothing_and_rewrites_only_changed_types(
    store, shared, usem3, tmp_path
):
    resolver = _resolver(tmp_path, ALIASES)
    store.upsert_posts(_corpus(shared))
    run_index(store, usem3, resolver)
    before = {p.id: p.incident_id for p in store.iter_posts()}
    writes = Writes(store)
    report = run_index(store, usem3, resolver)
    assert (report.analysed, report.embedded, report.classified) == (0, 0, 0)
    after = {p.id: p.incident_id for p in store.iter_posts()}
    moved = {pid for pid in after if after[pid] != before[pid]}
    assert writes.ids() == moved  # the posts whose type changed, and no other
    assert report.typed == store.count_vectors(usem3.name)


def test_replace_incidents_writes_only_what_differs(store, shared):
    posts = load_ru_reviews(shared, limit=12)
    store.upsert_posts(posts)
    ids = sorted(p.id for p in store.iter_posts())
    inc = [Incident(1, "Cards", "Карты", size=6), Incident(2, "Loans", "Кредиты", size=6)]
    assignment = {pid: 1 + (i % 2) for i, pid in enumerate(ids)}
    store.replace_incidents(inc, assignment)
    writes = Writes(store)
    store.replace_incidents(inc, assignment | {ids[0]: 2, ids[1]: None})
    assert writes.ids() == {ids[0], ids[1]}
    got = {p.id: p.incident_id for p in store.iter_posts()}
    assert got[ids[0]] == 2 and got[ids[1]] is None and got[ids[2]] == assignment[ids[2]]
    # a post left out of the assignment loses its type
    store.replace_incidents(inc, {pid: iid for pid, iid in assignment.items() if pid != ids[3]})
    assert store.get_post(ids[3]).incident_id is None


def test_posts_changed_after_the_run_started_are_left_for_the_next_run(store, shared):
    posts = load_ru_reviews(shared, limit=4)
    store.upsert_posts(posts)
    upto = store.change_seq()
    stored = [p for page in store.posts_to_analyse(upto=upto) for p in page]
    assert len(stored) == 4
    # a crawl changes the first post while the run works
    store.upsert_posts([stored[0].with_(text=stored[0].text + " UPD: всё ещё не решено", id=None)])
    assert store.change_seq() > upto
    store.set_analysis([(p.id, ["sberbank"], "ru") for p in stored], upto=upto)
    left = [p.id for page in store.posts_to_analyse() for p in page]
    assert left == [stored[0].id]
    assert store.get_post(stored[0].id).companies == ["gazprombank"]  # as the crawl stored it, not the run
    assert store.get_post(stored[1].id).companies == ["sberbank"]
    store.replace_incidents([Incident(3, "Cards", "Карты", size=4)], {p.id: 3 for p in stored}, upto=upto)
    assert store.get_post(stored[0].id).incident_id is None
    assert store.get_post(stored[1].id).incident_id == 3
    store.set_vectors("m", [(p.id, np.ones(4, np.float32) / 2) for p in stored])
    untyped = [p.id for page in store.posts_to_type("m") for p in page]
    assert untyped == [stored[0].id]


def test_vectors_in_bulk_and_by_id(store):
    posts = [
        Post(url=f"https://v.test/{i}", source_site="v.test", site_kind=SiteKind.FORUM, title="", text=f"post {i}")
        for i in range(30)
    ]
    store.upsert_posts(posts)
    ids = sorted(p.id for p in store.iter_posts())
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(30, 8)).astype(np.float32)
    store.set_vectors("m", list(zip(ids[:25], vecs[:25])))
    got_ids, mat = store.vectors("m")
    assert got_ids.tolist() == ids[:25] and np.allclose(mat, vecs[:25], atol=1e-6)
    assert store.count_vectors("m") == 25 and store.count_vectors("other") == 0
    some, sub = store.vectors("m", ids=[ids[7], ids[27], ids[3]])  # ids[27] has none
    assert some.tolist() == [ids[7], ids[3]] and np.allclose(sub, vecs[[7, 3]], atol=1e-6)


def test_sqlite_v5_database_migrates_to_the_journal(tmp_path):
    from indexer.store.sqlite import MIGRATIONS, SQLiteStore

    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    conn.executescript(";".join(MIGRATIONS[:5]) + "; PRAGMA user_version=5;")
    for i, iid in ((1, 5), (2, None)):
        conn.execute(
            "INSERT INTO posts (id, url, source_site, site_kind, title, text, fetched_at, content_hash, incident_id)"
            " VALUES (?, ?, 'example.org', 'forum', 'Lost parcel', 'My parcel was lost', '2024-01-01T00:00:00+00:00',"
            " ?, ?)",
            (i, f"https://example.org/p/{i}", f"h{i}", iid),
        )
        conn.execute("INSERT INTO posts_fts (rowid, title, text) VALUES (?, 'lost parcel', 'my parcel was lost')", (i,))
        conn.execute(
            "INSERT INTO vectors (post_id, model, vec) VALUES (?, 'm', ?)", (i, np.ones(4, np.float32).tobytes())
        )
    conn.execute("INSERT INTO incidents (id, label_en, label_ru, size) VALUES (5, 'Lost parcel', 'Потеря', 1)")
    conn.commit()
    conn.close()
    s = SQLiteStore(path)
    try:
        assert s.schema_version() == 6 and s.change_seq() == 2
        # analysed once after the upgrade; a post that has a type keeps it, the others get typed
        assert [p.id for page in s.posts_to_analyse() for p in page] == [1, 2]
        assert [p.id for page in s.posts_to_type("m") for p in page] == [2]
        s.upsert_posts([Post(url="https://example.org/p/3", source_site="example.org", site_kind=SiteKind.FORUM,
                             title="New", text="Another lost parcel")])  # fmt: skip
        assert s.change_seq() == 3 and s.get_post_by_url("https://example.org/p/3").id == 3
        plan = " ".join(
            r[-1] for r in s.db.execute("EXPLAIN QUERY PLAN SELECT id FROM posts WHERE analysed_seq IS NULL")
        )
        assert "posts_unanalysed" in plan, plan
        assert s.check() == []
    finally:
        s.close()


def test_unmasked_cluster_texts_of_analysed_posts_without_companies_are_the_masked_ones(shared, tmp_path):
    """run_index skips the resolver's scan for analysed posts that name no
    company; on real texts that gives exactly what masking gives."""
    from indexer.pipeline import _cluster_texts, analyse
    from indexer.store import open_store

    resolver = CompanyResolver.default()
    with open_store(tmp_path / "mask.db") as store:
        store.upsert_posts(load_cfpb(shared, limit=150, label_as_title=False) + load_ru_reviews(shared, limit=150))
        analyse(store, resolver)
        posts = list(store.iter_posts())
    assert sum(not p.companies for p in posts) >= 50 and sum(bool(p.companies) for p in posts) >= 50
    assert _cluster_texts(posts, resolver, analysed=True) == _cluster_texts(posts, resolver)


def test_example_vectors_are_embedded_once_per_store(store, usem3):
    from indexer.clustering import taxonomy_prototypes
    from indexer.pipeline import _ExampleVectors
    from indexer.taxonomy import load_taxonomy

    calls = []

    class Counting:
        name, dim = usem3.name, usem3.dim

        def encode(self, texts):
            calls.append(len(texts))
            return usem3.encode(texts)

    first = taxonomy_prototypes(load_taxonomy(), _ExampleVectors(store, Counting()))
    again = taxonomy_prototypes(load_taxonomy(), _ExampleVectors(store, Counting()))
    assert len(calls) == 1 and calls[0] >= 100
    assert [p.key for p in again] == [p.key for p in first]
    assert all(np.allclose(a.vector, b.vector) and a.min_sim == b.min_sim for a, b in zip(first, again))
