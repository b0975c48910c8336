"""Build the demo sites into OUT_DIR and serve them until Ctrl-C."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from . import build_demo_sites, serve_demo_sites, truth_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m complaintwatch.demosite", description=__doc__)
    parser.add_argument("out_dir", type=Path, help="where to write the sites (blog/, forum/, reviews/, truth.json)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    sites = build_demo_sites(args.out_dir)
    truth = truth_manifest(sites)
    roots = sum(1 for p in truth if p.is_root)
    print(f"built {roots} posts and {len(truth) - roots} comments/replies into {args.out_dir}")
    with serve_demo_sites(sites, host=args.host) as server:
        for site in sites:
            print(f"  {site.name:8} {server.base_urls[site.name]}/   sitemap: {server.start_urls[site.name][0]}")
        print("serving; Ctrl-C to stop", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
