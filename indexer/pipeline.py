"""`complaintwatch index`: store -> companies/language -> vectors -> incidents -> store.

Each step only does the work that is missing (posts without a vector get
embedded; analysis is cheap and redone), so an interrupted run just resumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .companies import CompanyResolver
from .embedders import Embedder
from .language import detect_language
from .store.base import Store
from .taxonomy import TaxonomyAssigner, load_taxonomy

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def _no_progress(step: str, done: int, total: int) -> None:
    pass


@dataclass(slots=True)
class IndexReport:
    posts: int = 0
    embedded: int = 0
    with_company: int = 0
    assigned: int = 0
    outliers: int = 0
    seconds: float = 0.0


def embed_text(title: str, text: str) -> str:
    return f"{title}. {text}" if title else text


def analyse(store: Store, resolver: CompanyResolver, progress: Progress = _no_progress) -> int:
    """Resolve companies and language for every post. Comments that name no
    company are about the thread's company."""
    posts = list(store.iter_posts())
    by_url = {p.url: p for p in posts}
    updates, with_company = [], 0
    for i, p in enumerate(posts):
        companies = resolver.resolve(p.title, p.text)
        if not companies and p.parent_url:
            root = by_url.get(p.thread_url or p.parent_url)
            if root is not None:
                companies = resolver.resolve(root.title, root.text)
        lang = p.language or detect_language(f"{p.title}\n{p.text}")
        updates.append((p.id, companies, lang))
        with_company += bool(companies)
        if len(updates) >= 500:
            store.set_analysis(updates)
            updates = []
            progress("companies", i + 1, len(posts))
    store.set_analysis(updates)
    progress("companies", len(posts), len(posts))
    return with_company


def embed_missing(store: Store, embedder: Embedder, progress: Progress = _no_progress, batch: int = 256) -> int:
    total = store.count_posts()
    have = len(store.vectors(embedder.name)[0])
    done = 0
    for posts in store.posts_without_vector(embedder.name, batch=batch):
        vecs = embedder.encode([embed_text(p.title, p.text) for p in posts])
        store.set_vectors(embedder.name, [(p.id, v) for p, v in zip(posts, vecs)])
        done += len(posts)
        progress("embeddings", have + done, total)
    return done


def assign_incidents(store: Store, assigner: TaxonomyAssigner) -> tuple[int, int]:
    ids, mat = store.vectors(assigner.model_name)
    labels = assigner.assign(mat) if len(ids) else []
    # company replies describe no incident of their own
    replies = {p.id for p in store.iter_posts() if p.is_company_reply}
    assignment = {int(pid): (None if int(pid) in replies else lab) for pid, lab in zip(ids, labels)}
    incidents = assigner.incidents()
    sizes = {}
    for lab in assignment.values():
        if lab is not None:
            sizes[lab] = sizes.get(lab, 0) + 1
    for inc in incidents:
        inc.size = sizes.get(inc.id, 0)
    store.replace_incidents(incidents, assignment)
    assigned = sum(1 for v in assignment.values() if v is not None)
    return assigned, len(assignment) - assigned


def run_index(
    store: Store,
    embedder: Embedder,
    resolver: CompanyResolver | None = None,
    taxonomy_path: str | None = None,
    progress: Progress = _no_progress,
) -> IndexReport:
    t0 = time.perf_counter()
    resolver = resolver or CompanyResolver.default()
    report = IndexReport(posts=store.count_posts())
    report.with_company = analyse(store, resolver, progress)
    report.embedded = embed_missing(store, embedder, progress)
    assigner = TaxonomyAssigner(load_taxonomy(taxonomy_path), embedder)
    report.assigned, report.outliers = assign_incidents(store, assigner)
    report.seconds = time.perf_counter() - t0
    return report
