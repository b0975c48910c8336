"""Property-based tests (hypothesis) for the user query parser and for
search_text on both store backends: any Unicode a user can type is safe, and
the results mean what the query says."""

from __future__ import annotations

import random
import re
import sqlite3

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from complaintwatch.models import Post, SiteKind
from indexer.analysis import searchable_title, stems
from indexer.query import MAX_QUERY_CHARS, MAX_TERMS, ParsedQuery, parse_query, to_fts5

# any code point, lone surrogates and control characters included
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
# text that leans on the query syntax: quotes, minus, OR, FTS5 and ES operators
SYNTAX = st.lists(
    st.sampled_from(list("\"-()*^:+~/\\{}[]!?&|<>='., \t\n\x00") + ["OR", "AND", "NOT", "NEAR", "title", "заказ", "a"]),
    max_size=40,
).map("".join)
QUERY_TEXT = st.one_of(ANY_TEXT, SYNTAX)

_QUOTED = re.compile(r'"[^"]*"')


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    """An FTS5 table exactly like the embedded store's."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(title, text, tokenize = 'unicode61 remove_diacritics 2')")
    db.execute("INSERT INTO t VALUES ('заказ отмен', 'деньг не верн refund card')")
    return db


@settings(max_examples=400, deadline=None)
@given(QUERY_TEXT)
@example("\ud800 заказ \udfff")
@example('"' * 1001)
@example("x" * 100_000)
def test_parse_and_fts5_never_raise_and_always_quote(q):
    pq = parse_query(q)
    assert isinstance(pq, ParsedQuery)
    expr = to_fts5(pq)
    if pq.is_empty():
        assert expr is None
        return
    # every term is inside double quotes; outside them only our own operators
    assert set(re.findall(r"[^\s()]+", _QUOTED.sub(" ", expr))) <= {"AND", "OR", "NOT"}, expr
    for phrase in _QUOTED.findall(expr):
        assert '"' not in phrase[1:-1]
        assert phrase[1:-1].encode("utf-8")  # no lone surrogates: SQLite and JSON need valid UTF-8
    assert len(pq.must) + len(pq.exclude) + sum(len(g) for g in pq.any_of) <= MAX_QUERY_CHARS // 2


@settings(max_examples=400, deadline=None)
@given(QUERY_TEXT)
def test_fts5_expression_never_errors_in_sqlite(fts, q):
    expr = to_fts5(parse_query(q))
    if expr is not None:
        fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expr,)).fetchone()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["заказ", "отменили", "refund", "card", "деньги"]), min_size=1, max_size=4), ANY_TEXT)
def test_excluded_terms_are_never_positive(words, noise):
    """'-x' always excludes x, wherever it sits in the query."""
    q = " ".join(words) + " " + noise.replace("-", " ").replace('"', " ") + " -" + words[0]
    pq = parse_query(q)
    assert [stems(words[0])[0]] in pq.exclude


def test_long_queries_are_cut():
    pq = parse_query("заказ " * 10_000)
    assert 0 < len(pq.must) <= MAX_TERMS


# -- search_text on both backends ------------------------------------------------

VOCAB = [
    "заказ", "заказа", "заказы", "отменили", "отмена", "отменил", "доставка", "доставку", "карта", "карту",
    "деньги", "денег", "поддержка", "ozon", "Озон", "refund", "refunds", "refunded", "order", "orders",
    "cancelled", "cancel", "delivery", "card", "support", "money",
]  # fmt: skip


def _corpus(n: int = 60) -> list[Post]:
    rnd = random.Random(7)
    posts = []
    for i in range(n):
        title = " ".join(rnd.choices(VOCAB, k=rnd.randint(0, 3)))
        text = " ".join(rnd.choices(VOCAB, k=rnd.randint(1, 12)))
        root = f"http://prop.test/{i - i % 3}"  # a thread: an opening post and two comments
        comment = i % 3 != 0
        posts.append(
            Post(
                url=f"{root}#c{i}" if comment else root,
                source_site="prop.test",
                site_kind=SiteKind.FORUM,
                title=title,
                text=text,
                parent_url=root if comment else None,
                thread_url=root,
            )
        )
    return posts


def _has_phrase(tokens: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1))


def expected_matches(posts: list[Post], q: str) -> set[str]:
    """A reference model of the query language: phrases match inside one field
    (the title of a comment is not indexed), all 'must' and one of each OR
    group, none of the excluded."""
    pq = parse_query(q)
    if pq.is_empty():
        return set()
    out = set()
    for p in posts:
        fields = [stems(searchable_title(p.title, p.parent_url)), stems(p.text)]

        def hit(ph: list[str], fields=fields) -> bool:
            return any(_has_phrase(f, ph) for f in fields)

        if (
            all(hit(ph) for ph in pq.must)
            and all(any(hit(ph) for ph in grp) for grp in pq.any_of)
            and not any(hit(ph) for ph in pq.exclude)
        ):
            out.add(p.url)
    return out


WORD = st.sampled_from(VOCAB)
TERM = st.one_of(
    WORD,
    WORD.map(lambda w: "-" + w),
    st.lists(WORD, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.lists(WORD, min_size=2, max_size=3).map(lambda ws: '-"' + " ".join(ws) + '"'),
    st.just("OR"),
)
VOCAB_QUERY = st.lists(TERM, min_size=1, max_size=6).map(" ".join)


@pytest.fixture
def corpus_store(store):
    posts = _corpus()
    store.upsert_posts(posts)
    return store, posts


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(q=VOCAB_QUERY)
@example(q="заказ -заказ")
@example(q="refund OR -card")
@example(q='"отменили заказ" -ozon')
def test_search_text_matches_the_reference_model(corpus_store, q):
    store, posts = corpus_store
    hits, total = store.search_text(q, limit=1000)
    got = {h.post.url for h in hits}
    assert got == expected_matches(posts, q), q
    assert total == len(hits)
    for h in hits:  # excluded terms never appear in a result (a phrase lives inside one field)
        for field in (searchable_title(h.post.title, h.post.parent_url), h.post.text):
            for ph in parse_query(q).exclude:
                assert not _has_phrase(stems(field), ph), (q, h.post.url)


@_SETTINGS
@given(q=QUERY_TEXT)
@example(q="\ud800\udc00\udfff заказ")
@example(q='title:заказ AND {"match_all": {}} OR *:* ~2 /.*/ \\')
def test_search_text_never_raises(corpus_store, q):
    store, posts = corpus_store
    hits, total = store.search_text(q, limit=5)
    assert 0 <= len(hits) <= 5 and total >= len(hits)
    assert {h.post.url for h in hits} <= {p.url for p in posts}
