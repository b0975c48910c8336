"""What the `index` command and `complaintwatch demo` share: progress on
stderr, where older versions kept the fitted incident model (it lives in the
store now: indexer/model_store.py), the one-line report.

Kept apart from cli.py so the demo needs nothing from the CLI module.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def print_progress(step: str, done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r  {step}: {done}/{total}{end}")
    sys.stderr.flush()


def legacy_model_path(store: object, embedder_name: str, store_url: str = "") -> Path | None:
    """Where versions before the model moved into the store saved the fitted
    incident model of a store without a database file (Elasticsearch): the
    state folder, keyed by store URL. `index` imports it into the store once;
    a file beside an SQLite database is found by the indexer itself."""
    if getattr(store, "path", None) is not None or not store_url:
        return None
    from indexer.model_store import legacy_path

    return legacy_path(_legacy_base(store_url), embedder_name)


def legacy_model_paths(store: object, store_url: str) -> list[Path]:
    """Every such file of this store (one per embedder): a takedown scrubs them too."""
    if getattr(store, "path", None) is not None or not store_url:
        return []
    from indexer.model_store import legacy_paths

    return legacy_paths(_legacy_base(store_url))


def _legacy_base(store_url: str) -> Path:
    from .config import load_settings

    return load_settings().state_dir / f"store-{hashlib.sha256(store_url.encode()).hexdigest()[:16]}"


# deprecated name (complaintwatch/scheduler.py): run_index's model_path is only an import path now
incident_model_path = legacy_model_path


def report_line(r) -> str:
    return (
        f"indexed {r.posts} posts in {r.seconds:.1f}s: {r.embedded} embedded, {r.with_company} with a company; "
        f"{r.clusters} incident clusters, {r.assigned} posts typed ({r.from_taxonomy} by the seed taxonomy alone), "
        f"{r.outliers} outliers; stance: "
        + (", ".join(f"{n} {k}" for k, n in sorted(r.stances.items(), key=lambda kv: -kv[1])) or "none")
        + f" ({r.classified} classified now)"
    )
