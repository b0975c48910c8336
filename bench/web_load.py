"""Load on the web UI and JSON API: requests/s, p50/p95 latency and errors
per step of increasing concurrency, against the threaded server of
`complaintwatch serve` on 127.0.0.1 with the demo data.

    python bench/web_load.py                           # steps 1,10,25,50 clients, 60 s each
    python bench/web_load.py --seconds 15 --json out.json
    python bench/web_load.py --url http://127.0.0.1:8000/   # a server you started

Without --url it builds the demo store once (`complaintwatch demo --no-serve`
into --workdir, kept for the next run) and starts `complaintwatch serve` in a
subprocess on a free loopback port, stopped at the end. Each client is a
thread with one keep-alive HTTP/1.1 connection (http.client), sending a fixed
mix: searches in Russian and English (HTML and API), company pages and their
API, post pages, the Atom feed, CSV/JSON exports. Bounded: every step stops
at --seconds or --max-requests, whichever comes first; loopback only.
Errors: any status other than 200, and any connection error or timeout.
Target: zero errors at 50 concurrent clients.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

REPO = Path(__file__).resolve().parents[1]

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


@dataclass
class Step:
    clients: int
    seconds: float
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # kind -> latencies
    error_samples: list[str] = field(default_factory=list)

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
        }


def _get_json(host: str, port: int, path: str) -> dict:
    conn = http.client.HTTPConnection(host, port, timeout=60)
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
    """(kind, path) pairs drawn from what the server actually has."""
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
    mix: list[tuple[str, str]],
    clients: int,
    seconds: float,
    max_requests: int,
    close: bool = False,
) -> Step:
    step = Step(clients, seconds)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    budget = [max_requests]
    start = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        rnd = random.Random(n)
        conn: http.client.HTTPConnection | None = None
        lat, errs, kinds, samples = [], 0, {}, []  # kinds: kind -> latencies
        start.wait()
        while time.monotonic() < stop_at:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            kind, path = mix[rnd.randrange(len(mix))]
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
            for k, v in kinds.items():
                step.by_kind.setdefault(k, []).extend(v)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join(seconds + 120)
    step.seconds = time.monotonic() - t0
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


def start_server(db: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "complaintwatch", "--store", f"sqlite:///{db}", "serve", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if not m:
        proc.kill()
        raise SystemExit(f"complaintwatch serve did not start: {line!r}")
    return proc, m.group(0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="a running server on 127.0.0.1 (default: start one on the demo data)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/complaintwatch-load"), help="demo store folder")
    ap.add_argument("--steps", default="1,10,25,50", help="concurrent clients per step")
    ap.add_argument("--seconds", type=float, default=60.0, help="duration of each step (at most 60)")
    ap.add_argument("--max-requests", type=int, default=100_000, help="request cap per step")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of one-client load first (not reported)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--by-kind", action="store_true", help="print p95 latency per request kind")
    ap.add_argument("--close", action="store_true", help="a new connection per request (no keep-alive)")
    ap.add_argument("--writer", action="store_true", help="re-upsert the posts from another process meanwhile")
    args = ap.parse_args(argv)
    seconds = min(args.seconds, 60.0)
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    if max(steps) > 200:
        raise SystemExit("at most 200 concurrent clients")

    proc, db = None, None
    if args.url:
        url = args.url
        if args.writer:
            raise SystemExit("--writer needs the server this script starts (it writes to its store)")
    else:
        db = build_demo(args.workdir)
        proc, url = start_server(db)
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
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
