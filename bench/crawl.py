"""Pages/second of our spiders vs `scrapy bench`, both on 127.0.0.1.

    python bench/crawl.py [--copies 11] [--bench-seconds 20] [--rounds 2]

The site: the bundled demo WordPress blog and XenForo forum
(complaintwatch.demosite), replicated --copies times under /blog<k>/ and
/forum<k>/ with every link rewritten into its copy, so the crawl has
thousands of distinct pages (with the default 11 copies: 2,224 pages, 9,053 posts). Served
from memory by a Twisted web server in its own process; before the crawl the
script measures what that server answers to a plain keep-alive client, to
show it is not the bottleneck.

Ours: the blog and forum spiders (crawling concurrently in one process, from
each copy's sitemap.xml, as `complaintwatch demo` does) with the project
settings plus the loopback overrides (what `complaintwatch crawl` uses for
127.0.0.1: robots.txt, AutoThrottle, HTTP cache in a temp dir) and the real
item pipelines writing to a temp SQLite store.

Baseline: `python -m scrapy bench -s LOGSTATS_INTERVAL=1 -s
CLOSESPIDER_TIMEOUT=<n>` in a subprocess (outside the project, so with
Scrapy's default settings): a spider that only follows links, served by
Scrapy's own bench server. Both rates are the median pages per 1-second
interval, first (ramp-up) and last (closing) intervals excluded: for scrapy
bench from its "Crawled N pages (at X pages/min)" LogStats lines, for ours
from the arrival time of every response; ours is also given as total pages /
crawl time. The two alternate for --rounds rounds (each of ours a first crawl
into a fresh store and cache) and the best of each is compared, so a burst of
other load on a shared machine does not decide the ratio (~2 minutes on 2
cores).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TOKEN = "__BASE_URL__"
_RATE = re.compile(r"Crawled (\d+) pages \(at (\d+) pages/min\)")


# --- the site ------------------------------------------------------------------


def build_site(root: Path, copies: int) -> dict[str, list[str]]:
    """Write the replicated site under root/www; returns start paths per spider."""
    from complaintwatch.demosite import build_demo_sites

    sites = {s.name: Path(s.root) for s in build_demo_sites(root / "demo")}
    www = root / "www"
    starts: dict[str, list[str]] = {"blog": [], "forum": []}
    disallow: list[str] = []
    for k in range(copies):
        for name in ("blog", "forum"):
            prefix = f"/{name}{k}"
            for src in sites[name].rglob("*"):
                if not src.is_file() or src.name == "robots.txt":
                    continue
                dst = www / prefix.strip("/") / src.relative_to(sites[name])
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src.suffix in {".html", ".xml", ".txt", ""}:
                    # absolute (token) and root-relative ('href="/threads/...') links stay in the copy
                    body = src.read_bytes().replace(TOKEN.encode(), f"{TOKEN}{prefix}".encode())
                    dst.write_bytes(re.sub(rb'(=\s*["\'])/(?!/)', rb"\1" + prefix.encode() + b"/", body))
                else:
                    shutil.copyfile(src, dst)
            starts[name].append(f"{prefix}/sitemap.xml")
            robots = (sites[name] / "robots.txt").read_text(encoding="utf-8").splitlines()
            disallow += [ln.replace(": /", f": {prefix}/") for ln in robots if ln.startswith("Disallow:")]
    (www / "robots.txt").write_text("User-agent: *\n" + "\n".join(disallow) + "\n", encoding="utf-8")
    return starts


def _content_type(path: Path) -> bytes:
    if path.name == "index.xml":
        return b"application/rss+xml; charset=utf-8"
    return {
        ".xml": b"application/xml; charset=utf-8",
        ".txt": b"text/plain; charset=utf-8",
        ".css": b"text/css; charset=utf-8",
        ".svg": b"image/svg+xml",
    }.get(path.suffix, b"text/html; charset=utf-8")


def serve(www: Path, port_file: Path) -> None:
    """The server process: every file in memory, Twisted web, HTTP/1.1 keep-alive."""
    from twisted.internet import reactor
    from twisted.web import resource, server

    files: dict[bytes, tuple[bytes, bytes]] = {}
    redirects: set[bytes] = set()

    def load(base: str) -> None:
        for path in www.rglob("*"):
            if not path.is_file():
                continue
            body = path.read_bytes().replace(TOKEN.encode(), base.encode())
            rel = "/" + path.relative_to(www).as_posix()
            files[rel.encode()] = (body, _content_type(path))
            if path.name in ("index.html", "index.xml"):
                files[rel.rsplit("/", 1)[0].encode() + b"/"] = (body, _content_type(path))
                redirects.add(rel.rsplit("/", 1)[0].encode())

    class Site(resource.Resource):
        isLeaf = True

        def render_GET(self, request):  # noqa: N802 - Twisted's name
            path = request.path
            if path in files:
                body, ctype = files[path]
                request.setHeader(b"content-type", ctype)
                return body
            if path in redirects:
                request.setResponseCode(301)
                request.setHeader(b"location", path + b"/")
                return b""
            request.setResponseCode(404)
            return b"<html><body>404</body></html>"

    site = server.Site(Site())
    site.log = lambda request: None  # no access log
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    load(f"http://127.0.0.1:{port.getHost().port}")
    port_file.write_text(str(port.getHost().port))
    reactor.run()


def server_capacity(base: str, paths: list[str], seconds: float = 3.0, clients: int = 8) -> float:
    """Pages/second the server answers to `clients` keep-alive clients (threads)."""
    host, port = base.removeprefix("http://").split(":")
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n = i
        while time.monotonic() < stop:
            conn.request("GET", paths[n % len(paths)])
            conn.getresponse().read()
            n += clients
            done[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


# --- the two crawls -------------------------------------------------------------


class PageClock:
    """Extension for our crawl: when each response arrived (all spiders)."""

    times: list[float] = []

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy import signals

        ext = cls()
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        return ext

    def response_received(self, **kwargs) -> None:
        PageClock.times.append(time.monotonic())


def crawl_child(spec: dict) -> None:
    """Our crawl, in its own process (one Twisted reactor per process)."""
    from bench.crawl import PageClock as Clock  # the instance Scrapy loads by name
    from crawlers.runner import CrawlJob, crawl_settings, run_crawls

    settings = crawl_settings(spec["store"], cache_dir=Path(spec["cache"]), http_cache=True, loopback=True)
    settings.set("EXTENSIONS", {**settings.getdict("EXTENSIONS"), "bench.crawl.PageClock": 0}, priority="cmdline")
    settings.set("TELNETCONSOLE_ENABLED", False, priority="cmdline")
    jobs = [CrawlJob(name, urls) for name, urls in spec["jobs"].items()]
    stats = run_crawls(jobs, settings)
    out = {"times": Clock.times, "spiders": {}}
    for name, st in stats.items():
        out["spiders"][name] = {
            "pages": st.get("response_received_count", 0),
            "new": st.get("complaintwatch/new", 0),
            "seconds": (st["finish_time"] - st["start_time"]).total_seconds(),
            "parse_failed": st.get("complaintwatch/parse_failed", 0),
        }
    Path(spec["result"]).write_text(json.dumps(out))


def per_second(times: list[float]) -> list[int]:
    """Pages per 1-s interval from the first response on (as LogStats counts)."""
    if not times:
        return []
    t0 = min(times)
    bins = [0] * (int(max(times) - t0) + 1)
    for t in times:
        bins[int(t - t0)] += 1
    return bins


def median_steady(per_interval: list[float]) -> float:
    """Median of the intervals, the first (ramp-up) and last (closing) excluded."""
    core = per_interval[1:-1] or per_interval
    return statistics.median(core) if core else 0.0


def our_crawl(tmp: Path, base: str, starts: dict[str, list[str]]) -> tuple[dict, list[int], float, float]:
    spec = {
        "store": f"sqlite:///{tmp / 'store.db'}",
        "cache": str(tmp / "httpcache"),
        "jobs": {name: [base + p for p in paths] for name, paths in starts.items()},
        "result": str(tmp / "result.json"),
    }
    t0, cpu0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], cwd=REPO, capture_output=True, text=True
    )
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"our crawl failed:\n{proc.stderr[-3000:]}")
    result = json.loads((tmp / "result.json").read_text())
    return result["spiders"], per_second(result["times"]), wall, cpu


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def scrapy_bench(seconds: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    with tempfile.TemporaryDirectory() as cwd:  # outside the project: Scrapy's default settings
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "bench",
                "-s",
                "LOGSTATS_INTERVAL=1",
                "-s",
                f"CLOSESPIDER_TIMEOUT={seconds}",
                "-s",
                "TELNETCONSOLE_ENABLED=False",
            ],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    rates = [int(m.group(2)) / 60 for m in _RATE.finditer(proc.stderr)]  # per 1-s interval
    if not rates:
        raise SystemExit(f"scrapy bench printed no rates:\n{proc.stderr[-3000:]}")
    return rates


def _report(result: dict, rates: list[int], wall: float, cpu: float) -> tuple[float, float]:
    pages = sum(r["pages"] for r in result.values())
    posts = sum(r["new"] for r in result.values())
    crawl_s = max(r["seconds"] for r in result.values())
    overall, steady = pages / crawl_s, median_steady(rates)
    for name, r in sorted(result.items()):
        print(
            f"    {name:6} {r['pages']:5} pages, {r['new']:5} posts stored in {r['seconds']:.1f}s"
            f" ({r['pages'] / r['seconds']:.0f} pages/s), {r['parse_failed']} parse failures"
        )
    print(
        f"  ours:         {steady:6.1f} pages/s steady (median of {len(rates)} 1-s intervals); "
        f"{overall:.1f} pages/s overall ({pages} pages, {posts} posts in {crawl_s:.1f}s); "
        f"process {wall:.1f}s wall, {cpu:.1f}s CPU"
    )
    return steady, overall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=11, help="copies of the demo blog and forum (~210 pages each)")
    ap.add_argument("--bench-seconds", type=int, default=20, help="CLOSESPIDER_TIMEOUT of scrapy bench")
    ap.add_argument("--rounds", type=int, default=2, help="alternate ours/scrapy bench; the best of each counts")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return crawl_child(json.loads(args.child))
    if args.serve:
        return serve(Path(args.serve[0]), Path(args.serve[1]))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} at start; scrapy {__import__('scrapy').__version__}")
    ours: list[tuple[float, float]] = []
    bench: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t = time.perf_counter()
        starts = build_site(tmp, args.copies)
        files = sum(1 for p in (tmp / "www").rglob("*") if p.is_file())
        print(f"site: {args.copies} copies of the demo blog + forum, {files} files ({time.perf_counter() - t:.1f}s)")

        port_file = tmp / "port"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(tmp / "www"), str(port_file)], cwd=REPO)
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.05)
            base = f"http://127.0.0.1:{port_file.read_text()}"
            page_paths = [
                "/" + p.relative_to(tmp / "www").parent.as_posix() + "/"
                for p in (tmp / "www").rglob("index.html")
                if "/threads/" in p.as_posix() or "/20" in p.as_posix()
            ]
            capacity = server_capacity(base, page_paths)
            print(f"server: {capacity:,.0f} pages/s to 8 keep-alive Python clients (Twisted web, files in memory)")
            for n in range(args.rounds):
                print(f"round {n + 1}:")
                run_dir = tmp / f"round{n}"  # a fresh store and HTTP cache: every round is a first crawl
                run_dir.mkdir()
                ours.append(_report(*our_crawl(run_dir, base, starts)))
                rates = scrapy_bench(args.bench_seconds)
                bench.append(median_steady(rates))
                print(f"  scrapy bench: {bench[-1]:6.1f} pages/s steady (median of {len(rates)} 1-s intervals)")
        finally:
            server.terminate()
            server.wait()

    steady, overall = max(ours)
    base_rate = max(bench)
    print(f"\nbest of {args.rounds} rounds (the box is shared: slower rounds met other load)")
    print(f"ours:         {steady:6.1f} pages/s steady, {overall:.1f} pages/s overall")
    print(f"scrapy bench: {base_rate:6.1f} pages/s steady")
    print(f"ratio ours/scrapy bench: {steady / base_rate:.2f} (steady), {overall / base_rate:.2f} (overall)")
    print(f"server headroom: {capacity / steady:.0f}x our steady rate (the server is not the bottleneck)")


if __name__ == "__main__":
    main()
