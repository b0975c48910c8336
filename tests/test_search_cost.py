"""The search request's store-side shortcuts (issue 16) give exactly what the
plain computations give, on real posts from ../shared:

- snippets stem only the words that start like a query stem and find the densest
  window by bisection: compared with the definition (stem every word, count every
  window); the rule "a stem keeps its word's first two letters" checked on every
  word of three real corpora;
- the embedded store ranks text hits without reading the posts
  (``search_text_ranked``) and shares one full-text match between the count, the
  ranking and the facets: compared with SQL's own ORDER BY bm25 and count;
- a search page reads the posts it shows, not all 100 fusion candidates."""

from __future__ import annotations

import html
import random
import re

import pytest

from complaintwatch.models import SearchFilters
from indexer import snippets
from indexer.analysis import stem
from indexer.query import parse_query, to_fts5
from indexer.snippets import snippet
from indexer.store.sqlite import SQLiteStore
from tests.corpora import load_cfpb, load_ru_reviews, load_sravni_stars
from web import create_app

_WORD = re.compile(r"\w+")


def reference_snippet(text: str, query_stems: set[str], width: int = 240) -> str:
    """The definition: every word whose stem is a query stem, the window that covers most of them."""
    text = " ".join(text.split())
    matches = [m for m in _WORD.finditer(text) if stem(m.group()) in query_stems] if query_stems else []
    start = 0
    if matches:
        best = max(matches, key=lambda m: sum(1 for o in matches if m.start() <= o.start() < m.start() + width))
        start = max(0, best.start() - width // 4)
    end = min(len(text), start + width)
    if start > 0:
        sp = text.find(" ", start)
        start = sp + 1 if 0 <= sp < best.start() else start
    if end < len(text):
        sp = text.rfind(" ", start, end)
        end = sp if sp > start else end
    out, pos = [], start
    for m in matches:
        if m.start() < start or m.end() > end:
            continue
        out += [html.escape(text[pos : m.start()]), "<mark>" + html.escape(m.group()) + "</mark>"]
        pos = m.end()
    out.append(html.escape(text[pos:end]))
    return ("…" if start > 0 else "") + "".join(out) + ("…" if end < len(text) else "")


@pytest.fixture(scope="module")
def real_posts():
    return load_ru_reviews(limit=400) + load_cfpb(limit=400)


def _queries(posts, n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        words = _WORD.findall(rnd.choice(posts).text) or ["x"]
        out.append(" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 4))))
    return out


def test_snippets_equal_the_definition(real_posts):
    rnd = random.Random(7)
    checked = marked = 0
    for q in _queries(real_posts, 1500, 3):
        post = rnd.choice(real_posts)
        stems = parse_query(q).positive_stems
        for width in (240, 60):
            got = snippet(post.text, stems, width)
            assert got == reference_snippet(post.text, stems, width), (q, post.url)
            checked += 1
            marked += "<mark>" in got
    assert checked == 3000 and marked > 300  # many snippets had matches to place


def test_stems_keep_their_words_first_two_letters():
    """What lets snippets stem only the words that start like a query stem: on every
    word of the CFPB, bank-review and star-rated corpora (~50k distinct), a word starts
    with its stem's first two letters (lower-cased, ё as е), Porter2's lying/dying/tying
    apart, which the snippets know."""
    words = set()
    for post in load_cfpb() + load_ru_reviews() + load_sravni_stars():
        words.update(_WORD.findall(f"{post.title} {post.text}"))
    assert len(words) > 40_000
    broken = {w for w in words if not w.lower().replace("ё", "е").startswith(stem(w)[:2])}
    assert {stem(w) for w in broken} <= set(snippets._EXCEPTIONS)
    for st, head in snippets._EXCEPTIONS.items():
        assert stem(head[:2] + "ing") == st  # lying, dying, tying


def test_snippets_mark_exceptional_and_yo_spellings():
    text = "He was LYING about the Ёлки delivery; ёлка, елки and happy customers"
    got = snippet(text, parse_query("lie елка happiness").positive_stems)
    assert got == (
        "He was <mark>LYING</mark> about the <mark>Ёлки</mark> delivery; <mark>ёлка</mark>, "
        "<mark>елки</mark> and <mark>happy</mark> customers"
    )
    assert got == reference_snippet(text, parse_query("lie елка happiness").positive_stems)


@pytest.fixture(scope="module")
def lite(tmp_path_factory, real_posts):
    s = SQLiteStore(tmp_path_factory.mktemp("cost") / "s.db")
    s.upsert_posts(real_posts)
    yield s
    s.close()


def test_ranked_text_search_is_sqls_bm25_order(lite, real_posts):
    langs = {p.language for p in real_posts}
    assert {"ru", "en"} <= langs
    for q in _queries(real_posts, 60, 5) + [
        "карта",
        "credit card",
        "банк OR bank",
        '"кредитная карта"',
        "card -credit",
    ]:
        expr = to_fts5(parse_query(q))
        rows = lite.db.execute(
            "SELECT rowid, bm25(posts_fts, 2.0, 1.0) AS s FROM posts_fts WHERE posts_fts MATCH ? ORDER BY s, rowid",
            (expr,),
        ).fetchall()
        want = [(r[0], -r[1]) for r in rows]
        for limit, offset in ((100, 0), (20, 0), (5, 3), (0, 0), (10, len(want)), (7, max(0, len(want) - 4))):
            ranked, total = lite.search_text_ranked(q, limit=limit, offset=offset)
            assert total == len(want), q
            assert ranked == want[offset : offset + limit], (q, limit, offset)
        hits, total = lite.search_text(q, limit=20)
        assert [(h.post.id, h.score) for h in hits] == want[:20] and total == len(want)
        # filtered: the same order among the posts that pass
        ru = {p.id for p in lite.get_posts([i for i, _ in want]).values() if p.language == "ru"}
        ranked, total = lite.search_text_ranked(q, SearchFilters(language="ru"), limit=30)
        assert ranked == [w for w in want if w[0] in ru][:30] and total == len(ru), q


def test_facets_count_the_same_match_after_a_write(lite, real_posts):
    """The remembered match is per store state: a new matching post shows in the count and the facets."""
    q = "ипотека"
    before = lite.search_text_ranked(q)[1]
    facets = lite.facet_counts(q, None, ("lang",))
    assert sum(c.count for c in facets["lang"]) == before > 0
    new = real_posts[0].with_(url=real_posts[0].url + "#again", text="Ипотека одобрена, спасибо")
    lite.upsert_posts([new])
    assert lite.search_text_ranked(q)[1] == before + 1
    assert sum(c.count for c in lite.facet_counts(q, None, ("lang",))["lang"]) == before + 1


def test_a_search_page_reads_only_the_posts_it_shows(lite):
    q = "банк"
    assert lite.search_text_ranked(q)[1] > 100  # more text candidates than a page shows
    read: list[int] = []

    def trace(sql: str) -> None:
        m = re.search(r"FROM posts WHERE id IN \(([^)]*)\)", sql)
        if m:
            read.extend(int(x) for x in m.group(1).split(","))

    client = create_app(lite, None, {"TESTING": True}).test_client()
    lite.db.set_trace_callback(trace)
    try:
        data = client.get("/api/v1/search", query_string={"q": q, "per_page": 20}).get_json()
        assert client.get("/search", query_string={"q": q}).status_code == 200
    finally:
        lite.db.set_trace_callback(None)
    assert len(data["results"]) == 20 and data["matches"] > 100
    assert sorted(read[:20]) == sorted(r["post"]["id"] for r in data["results"])
    assert len(read) <= 40  # the API's page and the HTML page's: 20 posts each, not 100
    assert all("<mark>" in r["snippet_html"] and r["matched"] == "text" for r in data["results"])
