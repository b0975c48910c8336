"""Build the three demo sites as static file trees plus the truth manifest."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import site_blog, site_forum, site_reviews
from .corpus import Thread, generate_corpus
from .truth import TRUTH_FILE, TruthPost, load_truth, save_truth


@dataclass(frozen=True, slots=True)
class DemoSite:
    name: str  # "blog" | "forum" | "reviews"
    kind: str  # "blog" | "forum" | "review"
    root: Path  # directory holding the site's files


_Renderer = Callable[[Path, list[Thread]], list[TruthPost]]
_SITES: tuple[tuple[str, str, _Renderer], ...] = (
    ("blog", "blog", site_blog.render),
    ("forum", "forum", site_forum.render),
    ("reviews", "review", site_reviews.render),
)


def build_demo_sites(out_dir: Path) -> list[DemoSite]:
    """Write out_dir/{blog,forum,reviews}/ and out_dir/truth.json.

    Each site directory is recreated from scratch, so the output is the same
    bytes on every run.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threads = generate_corpus()
    truth: list[TruthPost] = []
    sites: list[DemoSite] = []
    for name, kind, render in _SITES:
        root = out_dir / name
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        truth.extend(render(root, [t for t in threads if t.site == name]))
        sites.append(DemoSite(name, kind, root))
    save_truth(out_dir / TRUTH_FILE, truth)
    return sites


def truth_manifest(sites: list[DemoSite]) -> list[TruthPost]:
    """Every root post and comment of the given sites, from the truth.json
    that build_demo_sites wrote next to them."""
    if not sites:
        return []
    path = Path(sites[0].root).parent / TRUTH_FILE
    names = {s.name for s in sites}
    return [p for p in load_truth(path) if p.site in names]
