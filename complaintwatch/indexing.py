"""What the `index` command and `complaintwatch demo` share: progress on
stderr, where the fitted incident model lives, the one-line report.

Kept apart from cli.py so the demo needs nothing from the CLI module.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def print_progress(step: str, done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r  {step}: {done}/{total}{end}")
    sys.stderr.flush()


def incident_model_path(store, embedder_name: str, store_url: str = "") -> Path:
    """The fitted incident model (it keeps incident ids stable across runs):
    beside an embedded store's database, else in the state folder
    ($COMPLAINTWATCH_STATE_DIR, default ./.complaintwatch) keyed by store URL."""
    import hashlib

    from indexer.pipeline import model_path_for

    path = getattr(store, "path", None)
    if path is None:
        state = Path(os.environ.get("COMPLAINTWATCH_STATE_DIR", ".complaintwatch"))
        state.mkdir(parents=True, exist_ok=True)
        path = state / f"store-{hashlib.sha256(store_url.encode()).hexdigest()[:16]}"
    return model_path_for(path, embedder_name)


def report_line(r) -> str:
    return (
        f"indexed {r.posts} posts in {r.seconds:.1f}s: {r.embedded} embedded, {r.with_company} with a company; "
        f"{r.clusters} incident clusters, {r.assigned} posts typed ({r.from_taxonomy} by the seed taxonomy alone), "
        f"{r.outliers} outliers; stance: "
        + (", ".join(f"{n} {k}" for k, n in sorted(r.stances.items(), key=lambda kv: -kv[1])) or "none")
        + f" ({r.classified} classified now)"
    )
