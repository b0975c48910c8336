"""Privacy: author pseudonyms in every view (pages, API, feeds, exports), and
the takedown list (store on both backends, the CLI, and crawls that never
fetch a taken-down URL again)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from complaintwatch.models import Incident, Post, SiteKind
from indexer.store import open_store
from tests.crawl_helpers import REPO_ROOT
from tests.reliability_helpers import STORY, Route, Site, cli, crawl, page, serve
from web import create_app
from web.privacy import QuotedNames, load_or_create_key, pseudonym

XSS = "<script>alert(1)</script>"
AUTHORS = ["Иван Петров", "Marina K.", XSS, "Служба поддержки OZON"]
KEY = "test-key-not-secret"


def _post(i: int, author: str | None, **kw) -> Post:
    kw.setdefault("url", f"https://forum.example/t/{i}")
    kw.setdefault("title", f"Озон отменил заказ №{i}")
    return Post(
        source_site="forum.example",
        site_kind=SiteKind.FORUM,
        text=f"Заказ {i} отменили без объяснений, деньги не вернули. Refund refused.",
        author=author,
        published_at=datetime(2024, 5, 1 + i, tzinfo=timezone.utc),
        **kw,
    )


@pytest.fixture(scope="module")
def authored_store(tmp_path_factory):
    store = open_store(tmp_path_factory.mktemp("priv") / "p.db")
    root = _post(0, AUTHORS[0])
    posts = [
        root,
        _post(1, AUTHORS[1], url=root.url + "#c1", parent_url=root.url, thread_url=root.url, position=1),
        _post(2, AUTHORS[2], url=root.url + "#c2", parent_url=root.url, thread_url=root.url, position=2),
        _post(3, AUTHORS[3], url=root.url + "#c3", parent_url=root.url, thread_url=root.url, position=3),
        _post(4, None),
    ]
    posts[3].is_company_reply = True
    store.upsert_posts(posts)
    store.set_analysis([(p.id, ["ozon"], "ru") for p in posts])
    store.replace_incidents(
        [Incident(1, "Order cancelled", "Отмена заказа", ["заказ"], size=5)], {p.id: 1 for p in posts}
    )
    yield store, posts
    store.close()


def _views(client, posts) -> dict[str, str]:
    out = {}
    for path in (
        "/",
        "/search?q=заказ",
        "/company/ozon",
        "/company/ozon/feed.atom",
        f"/incident/{1}",
        *(f"/post/{p.id}" for p in posts),
        "/api/v1/search?q=заказ&per_page=100",
        "/api/v1/company/ozon",
        f"/api/v1/incident/{1}",
        *(f"/api/v1/post/{p.id}" for p in posts),
        "/export.csv?q=заказ",
        "/export.json?q=заказ",
        "/export.json",
    ):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        out[path] = r.get_data(as_text=True)
    return out


def test_pseudonymised_authors_never_show_their_names(authored_store):
    store, posts = authored_store
    app = create_app(store, None, {"TESTING": True, "PSEUDONYMISE_AUTHORS": True, "PSEUDONYM_KEY": KEY})
    views = _views(app.test_client(), posts)
    names = [*AUTHORS, "Иван", "Петров", "Marina", "&lt;script&gt;"]
    for path, body in views.items():
        for name in names:
            assert name not in body, (path, name)
    # each author keeps one pseudonym on every kind of view
    for author in AUTHORS:
        alias = pseudonym(author, KEY)
        assert re.fullmatch(r"user-[0-9a-f]{16}", alias)
        for path in (f"/post/{posts[0].id}", "/company/ozon/feed.atom", "/export.csv?q=заказ"):
            assert alias in views[path], (path, author)
    api_post = json.loads(views[f"/api/v1/post/{posts[0].id}"])
    assert [p["author"] for p in api_post["thread"]] == [pseudonym(a, KEY) for a in AUTHORS]
    rows = list(csv.DictReader(io.StringIO(views["/export.csv?q=заказ"].lstrip("\ufeff"))))
    assert {r["author"] for r in rows} == {pseudonym(a, KEY) for a in AUTHORS} | {""}
    # no author stays no author
    assert json.loads(views[f"/api/v1/post/{posts[4].id}"])["post"]["author"] is None


def test_pseudonyms_are_stable_per_key_and_off_by_default(authored_store, monkeypatch):
    store, posts = authored_store
    path = f"/api/v1/post/{posts[0].id}"

    def author_with(config):
        app = create_app(store, None, {"TESTING": True, **config})
        return app.test_client().get(path).get_json()["post"]["author"]

    assert author_with({}) == AUTHORS[0]  # off by default
    a = author_with({"PSEUDONYMISE_AUTHORS": True, "PSEUDONYM_KEY": KEY})
    assert a == author_with({"PSEUDONYMISE_AUTHORS": True, "PSEUDONYM_KEY": KEY})  # a restart: same pseudonym
    assert a != author_with({"PSEUDONYMISE_AUTHORS": True, "PSEUDONYM_KEY": KEY + "2"})
    monkeypatch.setenv("COMPLAINTWATCH_PSEUDONYM_KEY", KEY)
    assert author_with({"PSEUDONYMISE_AUTHORS": True}) == a  # the key from the environment
    monkeypatch.delenv("COMPLAINTWATCH_PSEUDONYM_KEY")
    with pytest.raises(ValueError, match="needs a key"):
        create_app(store, None, {"PSEUDONYMISE_AUTHORS": True})
    assert pseudonym("  Иван   Петров ", KEY) == pseudonym("Иван Петров", KEY)


def test_key_file_is_created_once_and_private(tmp_path):
    k1 = load_or_create_key(tmp_path / "state")
    assert len(k1) == 64 and load_or_create_key(tmp_path / "state") == k1
    assert (tmp_path / "state" / "pseudonym.key").stat().st_mode & 0o077 == 0
    assert list((tmp_path / "state").iterdir()) == [tmp_path / "state" / "pseudonym.key"]


def _serve(store_url: str, state: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "COMPLAINTWATCH_STATE_DIR": str(state), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("COMPLAINTWATCH_PSEUDONYM_KEY", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "complaintwatch",
            "--store",
            store_url,
            "serve",
            "--port",
            "0",
            "--pseudonymise-authors",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert m, line
    return proc, m.group(0)


def test_serve_pseudonymise_authors_survives_a_restart(tmp_path, authored_store):
    store, posts = authored_store
    url = f"sqlite:///{store.path}"
    seen = []
    for _ in range(2):
        proc, base = _serve(url, tmp_path / "state")
        try:
            body = urllib.request.urlopen(f"{base}api/v1/post/{posts[0].id}", timeout=30).read()
            seen.append(json.loads(body)["post"]["author"])
            html = urllib.request.urlopen(f"{base}post/{posts[0].id}", timeout=30).read().decode()
            assert AUTHORS[0] not in html and seen[-1] in html
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert seen[0] == seen[1] != AUTHORS[0]
    assert seen[0] == pseudonym(AUTHORS[0], (tmp_path / "state" / "pseudonym.key").read_text().strip())


# -- names that other posts quote ------------------------------------------------

QUOTED_AUTHORS = ["Alex_Edw", "Иван Петров", "marina.k", "Ozon_Support"]


@pytest.fixture(scope="module")
def quoting_store(tmp_path_factory):
    """A forum thread as people write them: greetings, @mentions, quote headers."""
    store = open_store(tmp_path_factory.mktemp("quoted") / "q.db")
    base = "https://forum.example/t/77"

    def msg(i: int, author: str, text: str, **kw) -> Post:
        return Post(
            url=f"{base}#p{i}" if i else base,
            source_site="forum.example",
            site_kind=SiteKind.FORUM,
            title="Озон отменил заказ и не вернул деньги",
            text=text,
            author=author,
            published_at=datetime(2024, 3, 1 + i, tzinfo=timezone.utc),
            **({"parent_url": base, "thread_url": base, "position": i} if i else {}),
            **kw,
        )

    posts = [
        msg(0, "Alex_Edw", "Заказ отменили через неделю, деньги не вернули. Поддержка молчит."),
        msg(1, "Иван Петров", "Hi Alex_Edw, у меня то же самое: заказ отменили, деньги вернули через месяц."),
        msg(2, "marina.k", "@Alex_Edw @Иван  Петров пишите в претензионный отдел, мне там заказ вернули."),
        msg(
            3,
            "Ozon_Support",
            "alex_edw wrote:\n> Поддержка молчит.\nЗдравствуйте, ALEX_EDW! Заказ проверили, деньги вернём.",
            is_company_reply=True,
        ),
        msg(4, "Гость", "Цитата (marina.k @ 03.03.2024): мне там заказ вернули. А вот Alex_Edwards пишет иначе."),
    ]
    store.upsert_posts(posts)
    store.set_analysis([(p.id, ["ozon"], "ru") for p in posts])
    store.replace_incidents(
        [Incident(1, "Заказ / alex_edw", "Заказ / alex_edw", ["заказ", "alex_edw"], size=5)], {p.id: 1 for p in posts}
    )
    yield store, posts
    store.close()


_NAME_PATTERNS = [r"alex_edw", r"иван\s+петров", r"петров", r"marina\.k", r"ozon_support"]


def _names_in(body: str) -> list[str]:
    return [n for n in _NAME_PATTERNS if re.search(rf"(?<!\w){n}(?!\w)", body, re.IGNORECASE)]


def test_pseudonymised_mode_replaces_names_that_posts_quote(quoting_store):
    store, posts = quoting_store
    root = posts[0].id
    paths = [
        f"/post/{root}",
        f"/api/v1/post/{root}",
        "/search?q=заказ",
        "/search?q=Alex_Edw",
        "/api/v1/search?q=заказ&per_page=100",
        "/api/v1/search?q=Петров",
        "/company/ozon/feed.atom",
        "/export.csv?q=заказ",
        "/export.json?q=заказ",
        "/incident/1",
        "/api/v1/incident/1",
        "/api/v1/incidents",
    ]
    plain = create_app(store, None, {"TESTING": True}).test_client()
    assert _names_in(plain.get(f"/post/{root}").get_data(as_text=True)) == _NAME_PATTERNS  # the data has them
    client = create_app(
        store, None, {"TESTING": True, "PSEUDONYMISE_AUTHORS": True, "PSEUDONYM_KEY": KEY}
    ).test_client()
    bodies = {}
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, path
        bodies[path] = body = r.get_data(as_text=True)
        if path == "/search?q=Alex_Edw":  # the page repeats the query typed: only the results count
            body = " ".join(re.findall(r'<p class="snippet"[^>]*>(.*?)</p>', body, re.S))
            assert pseudonym("Alex_Edw", KEY) in body
        elif path == "/api/v1/search?q=Петров":
            body = json.dumps(json.loads(body)["results"], ensure_ascii=False)
        assert _names_in(body) == [], (path, _names_in(body))
    alex, ivan, marina = (pseudonym(a, KEY) for a in QUOTED_AUTHORS[:3])
    thread = {p["id"]: p for p in json.loads(bodies[f"/api/v1/post/{root}"])["thread"]}
    assert thread[posts[1].id]["text"].startswith(f"Hi {alex}, у меня")
    assert thread[posts[2].id]["text"].startswith(f"@{alex} @{ivan} пишите")  # any spacing inside the name
    # any case; the pseudonym is the author's, as on the author field
    assert thread[posts[3].id]["text"] == f"{alex} wrote:\n> Поддержка молчит.\nЗдравствуйте, {alex}! " + (
        "Заказ проверили, деньги вернём."
    )
    assert thread[posts[3].id]["text"].count(alex) == 2 and thread[posts[0].id]["author"] == alex
    assert thread[posts[4].id]["text"].startswith(f"Цитата ({marina} @ 03.03.2024)")
    assert "Alex_Edwards" in thread[posts[4].id]["text"]  # another word, not the name
    for path in (f"/post/{root}", "/company/ozon/feed.atom", "/export.json?q=заказ"):
        assert alex in bodies[path] and marina in bodies[path], path
    rows = list(csv.DictReader(io.StringIO(bodies["/export.csv?q=заказ"].lstrip("\ufeff"))))
    assert any(r["text"].startswith(f"Hi {alex},") for r in rows)
    hits = json.loads(bodies["/api/v1/search?q=Петров"])
    assert any(ivan in h["snippet_html"] for h in hits["results"])  # the snippet is made from the new text
    assert json.loads(bodies["/api/v1/incident/1"])["incident"]["keywords"] == ["заказ", alex]


def test_quoted_names_are_whole_words_and_the_longest_wins():
    names = QuotedNames(["Иван", "Иван Петров", "Al", "Ann-Marie", "<b>x</b>"], KEY)
    p = {n: pseudonym(n, KEY) for n in ["Иван", "Иван Петров", "Ann-Marie", "<b>x</b>"]}
    assert names.replace("Иван Петров и Иван, Иванов") == f"{p['Иван Петров']} и {p['Иван']}, Иванов"
    assert names.replace("Al and ann-marie, Ann-Maries") == f"Al and {p['Ann-Marie']}, Ann-Maries"  # "Al": too short
    assert names.replace("a <b>x</b> b") == f"a {p['<b>x</b>']} b"
    assert names.replace("") == "" and names.replace(None) is None


def test_pseudonyms_carry_64_bits_and_100k_names_do_not_collide():
    first = ["Alex", "Иван", "Marina", "Олег", "Sam", "Анна", "Chris", "Дмитрий", "Kate", "Сергей"]
    last = ["Edw", "Петров", "K", "Smith", "Иванова", "Lee", "Сидоров", "Brown", "Кузнецов", "Nguyen"]
    names = [f"{first[i % 10]}_{last[i // 10 % 10]}{i // 100}" for i in range(100_000)]
    assert len(set(names)) == 100_000
    aliases = [pseudonym(n, KEY) for n in names]
    assert len(set(aliases)) == 100_000  # 0 collisions (24 bits gave 307)
    assert all(re.fullmatch(r"user-[0-9a-f]{16}", a) for a in aliases[:1000])
    # all of them are looked for in text, each as a whole word
    quoted = QuotedNames(names, KEY)
    assert len(quoted) == 100_000
    text = f"Hi {names[12_345]}, see @{names[99_999]} and {names[7]}x."
    assert quoted.replace(text) == f"Hi {aliases[12_345]}, see @{aliases[99_999]} and {names[7]}x."


# -- takedowns -----------------------------------------------------------------


def _thread(base: str) -> list[Post]:
    root = Post(url=base, source_site="t.test", site_kind=SiteKind.FORUM, title="Заказ отменили", text=STORY)
    c1 = Post(
        url=base + "#c1",
        source_site="t.test",
        site_kind=SiteKind.FORUM,
        title="Заказ отменили",
        text="У меня так же: отменили заказ и молчат.",
        parent_url=base,
        thread_url=base,
        position=1,
    )
    # a reply to the comment, filed under a thread URL that went missing on the page
    c2 = Post(
        url=base + "#c2",
        source_site="t.test",
        site_kind=SiteKind.FORUM,
        title="",
        text="Напишите в поддержку ещё раз, заказ вернут.",
        parent_url=base + "#c1",
        position=2,
    )
    return [root, c1, c2]


def test_takedown_deletes_posts_comments_and_vectors(store):
    doomed = _thread("https://t.test/thread/1")
    kept = _thread("https://t.test/thread/2")
    store.upsert_posts(doomed + kept)
    vecs = np.eye(6, 8, dtype=np.float32)
    store.set_vectors("m", [(p.id, v) for p, v in zip(doomed + kept, vecs)])
    store.set_analysis([(p.id, ["ozon"], "ru") for p in doomed + kept])
    assert store.search_text("отменили")[1] == 4
    # the URL as someone pastes it: tracking junk, a trailing slash, upper-case host
    assert store.add_takedowns(["HTTPS://T.test/thread/1/?utm_source=mail"]) == 3
    assert store.takedowns() == ["https://t.test/thread/1"]
    assert store.count_posts() == 3 and all(store.get_post_by_url(p.url) is None for p in doomed)
    assert sorted(store.vectors("m")[0].tolist()) == sorted(p.id for p in kept)
    hits, total = store.search_text("отменили", limit=50)
    assert total == 2 and {h.post.url for h in hits} <= {p.url for p in kept}
    assert store.companies() == [("ozon", 3)]
    assert store.check() == []
    # listing again changes nothing; removing takes it off the list, nothing comes back
    assert store.add_takedowns(["https://t.test/thread/1", "", "  "]) == 0
    assert store.remove_takedown("https://t.test/thread/1/") is True
    assert store.remove_takedown("https://t.test/thread/1") is False
    assert store.takedowns() == [] and store.count_posts() == 3


def test_check_reports_a_taken_down_post_that_came_back(store):
    posts = _thread("https://t.test/thread/3")
    store.add_takedowns([posts[0].url])
    store.upsert_posts(posts)  # e.g. an import that does not look at the list
    assert any("taken-down" in p for p in store.check())


def test_takedown_survives_reopening(store):
    store.add_takedowns(["https://t.test/a", "https://t.test/b#c9"])
    if getattr(store, "path", None) is not None:
        again = open_store(store.path)
    else:
        again = open_store(store.url)
    try:
        assert again.takedowns() == ["https://t.test/a", "https://t.test/b#c9"]
    finally:
        again.close()


def test_a_v3_store_migrates_to_the_takedown_schema(store, tmp_path):
    """A store a v3 complaintwatch left (no takedown table/index) opens,
    migrates in place and takes takedowns."""
    if getattr(store, "path", None) is not None:
        import sqlite3

        from indexer.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteStore

        conn = sqlite3.connect(tmp_path / "v3.db")
        conn.executescript(";".join(MIGRATIONS[:3]) + "; PRAGMA user_version=3;")
        conn.close()
        again = SQLiteStore(tmp_path / "v3.db")
    else:
        from indexer.store.es import SCHEMA_VERSION, ElasticsearchStore

        store.es.indices.delete(index=store.takedowns_index)
        store.es.indices.put_mapping(index=store.alias, meta={"complaintwatch_schema": 3})
        again = ElasticsearchStore(store.url)
    try:
        assert again.schema_version() == SCHEMA_VERSION >= 4
        assert again.takedowns() == [] and again.add_takedowns(["https://x.test/1"]) == 0
        assert again.takedowns() == ["https://x.test/1"] and again.check() == []
    finally:
        again.close()


def test_a_taken_down_url_is_never_fetched_again(tmp_path):
    """Crawl a blog, take one article down with the CLI, crawl again (its
    listing link and a full-content feed entry still point at it): the page
    is never requested again and the post stays deleted. Taking it off the
    list lets the next crawl fetch it."""
    store_url = f"sqlite:///{tmp_path / 'cw.db'}"
    site = Site()
    arts = [f"/2024/03/post-{i}.html" for i in range(3)]
    with serve(site):
        listing = "".join(
            f'<article><h2 class="entry-title"><a href="{site.url}{a}">Пост {i}</a></h2></article>'
            for i, a in enumerate(arts)
        )
        site.routes["/"] = Route(f"<!doctype html><html><body>{listing}</body></html>".encode())
        for i, a in enumerate(arts):
            site.routes[a] = Route(page(f"Пост {i}", STORY + f"\nПост номер {i}.").encode())
        first = crawl(store_url, "blog", [site.url + "/"])
        assert "3 new" in first.stdout
        doomed = site.url + arts[1]
        out = cli("--store", store_url, "takedown", "add", doomed + "?utm_source=lawyer")
        assert out.returncode == 0 and "1 stored posts deleted" in out.stdout, out.stdout + out.stderr
        assert cli("--store", store_url, "takedown", "list").stdout.split() == [doomed]
        site.routes["/feed.atom"] = Route(
            (
                '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>Блог</title><id>{site.url}/</id><updated>2024-03-05T10:00:00Z</updated>"
                f'<entry><title>Пост 1</title><link href="{doomed}"/><id>{doomed}</id>'
                "<updated>2024-03-05T10:00:00Z</updated><author><name>Иван</name></author>"
                '<content type="html">&lt;p&gt;Полный текст поста номер 1 прямо в ленте.&lt;/p&gt;</content>'
                "</entry></feed>"
            ).encode(),
            "application/atom+xml",
        )
        site.requested.clear()
        second = crawl(store_url, "blog", [site.url + "/", site.url + "/feed.atom"])
        assert arts[1] not in site.requested and arts[0] in site.requested
        assert f"skipped taken-down URL {doomed}" in second.stderr
        assert f"Dropped: taken-down URL {doomed}" in second.stderr  # the feed entry
        with open_store(tmp_path / "cw.db") as store:
            assert store.get_post_by_url(doomed) is None and store.count_posts() == 2
        assert cli("--store", store_url, "check").returncode == 0
        # off the list: the next crawl may fetch it again
        assert cli("--store", store_url, "takedown", "remove", doomed).returncode == 0
        assert cli("--store", store_url, "takedown", "remove", doomed).returncode == 1
        site.requested.clear()
        crawl(store_url, "blog", [site.url + "/"])
        assert arts[1] in site.requested
    with open_store(tmp_path / "cw.db") as store:
        assert store.get_post_by_url(doomed) is not None


def test_takedown_cli_on_the_search_server(store):
    """`complaintwatch takedown` against either backend's URL."""
    url = f"sqlite:///{store.path}" if getattr(store, "path", None) is not None else store.url
    store.upsert_posts(_thread("https://t.test/cli"))
    out = cli("--store", url, "takedown", "add", "https://t.test/cli", "https://t.test/never-stored")
    assert out.returncode == 0 and "2 URLs on the takedown list; 3 stored posts deleted" in out.stdout, out.stderr
    assert cli("--store", url, "takedown", "list").stdout.split() == [
        "https://t.test/cli",
        "https://t.test/never-stored",
    ]
    assert store.count_posts() == 0
