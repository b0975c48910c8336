"""The labelled corpora in ../shared/data as stored Posts, for tests and bench/.

One loader per file, so every test and benchmark reads them the same way."""

from __future__ import annotations

import csv
import re
from datetime import datetime, timezone
from pathlib import Path

from complaintwatch.models import Post, SiteKind

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CFPB = "cfpb_complaints_mixed_2015-2020_narratives.csv"
RU_REVIEWS = "ru_gazprombank_reviews_banki_sravni_2025_sample.csv"


def _ru_date(raw: str) -> datetime | None:
    for fmt in ("%d.%m.%Y %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw.strip(), fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None  # "26 февраля" without a year: left undated


def load_ru_reviews(shared: Path = SHARED, limit: int | None = None) -> list[Post]:
    """Real Russian bank reviews (sravni.ru / banki.ru), one company, label = product."""
    posts: list[Post] = []
    seen: set[str] = set()
    with (shared / "data" / RU_REVIEWS).open(encoding="utf-8") as fh:
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
                    published_at=_ru_date(row["review_date"]),
                    language="ru",
                    companies=["gazprombank"],
                )
            )
            if limit and len(posts) >= limit:
                break
    return posts


def company_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "unknown"


def load_cfpb(
    shared: Path = SHARED, limit: int | None = None, start: int = 0, label_as_title: bool = True
) -> list[Post]:
    """Real CFPB narratives (English). `label_as_title=False` keeps the Issue
    label out of the post, for tests that measure how posts are grouped."""
    csv.field_size_limit(10**7)
    posts: list[Post] = []
    with (shared / "data" / CFPB).open(encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            text = row["Consumer complaint narrative"].strip()
            if i < start or not text:
                continue
            posts.append(
                Post(
                    url=f"https://www.consumerfinance.gov/complaint/{row['Complaint ID'] or i}",
                    source_site="consumerfinance.gov",
                    site_kind=SiteKind.REVIEW,
                    title=row["Issue"] if label_as_title else "",
                    text=text,
                    published_at=datetime.strptime(row["Date received"], "%Y/%m/%d").replace(tzinfo=timezone.utc),
                    language="en",
                    companies=[company_slug(row["Company"])],
                    subject=None if label_as_title else row["Company"],
                )
            )
            if limit and len(posts) >= limit:
                break
    return posts


RU_STARS = "ru_sravni_bank_reviews_2022_stars.csv"
# sravni.ru's bank slugs -> the company table's ids (complaintwatch/data/companies.toml)
SRAVNI_BANKS = {
    "tinkoff-bank": "tinkoff",
    "sovkombank": "sovcombank",
    "gazprombank": "gazprombank",
    "mts-bank": "mts_bank",
    "sberbank-rossii": "sberbank",
    "vtb": "vtb",
    "alfa-bank": "alfabank",
    "tochka": "tochka",
}


def load_sravni_stars(shared: Path = SHARED, limit: int | None = None) -> list[Post]:
    """Real Russian bank reviews from sravni.ru (51 banks) with their star rating; the bank as
    the company table names it (SRAVNI_BANKS, else a slug), undated."""
    posts: list[Post] = []
    with (shared / "data" / RU_STARS).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row["text"].strip() or not row["stars"].strip():
                continue
            posts.append(
                Post(
                    url=f"https://www.sravni.ru{row['link']}",
                    source_site="sravni.ru",
                    site_kind=SiteKind.REVIEW,
                    title="",
                    text=row["text"],
                    language="ru",
                    companies=[SRAVNI_BANKS.get(row["bank"], company_slug(row["bank"]))],
                    rating=int(row["stars"]),
                )
            )
            if limit and len(posts) >= limit:
                break
    return posts
