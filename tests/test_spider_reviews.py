"""The reviews spider: the real Trustpilot single-review page, and a small
Trustpilot-style company site (JSON-LD + microdata + 2021 card markup with a
company reply, pagination, a truncated card) served from a temp dir."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawlers.spiders.reviews import ReviewsSpider
from tests.crawl_helpers import CrawlResult, crawl, serve_directory, shared_pages_url

UTC = timezone.utc
TRUSTPILOT = "review_trustpilot__en__gousto_single_review.html"

JSON_LD = {
    "@context": "https://schema.org",
    "@graph": [
        {
            "@type": "Organization",
            "name": "Acme Shop",
            "review": [
                {
                    "@type": "Review",
                    "author": {"@type": "Person", "name": "Ivan Petrov"},
                    "datePublished": "2023-05-01T10:00:00Z",
                    "name": "Parcel lost",
                    "reviewBody": "Acme Shop lost my parcel and support only sends templates.",
                },
                {
                    "@type": "Review",
                    "author": {"@type": "Person", "name": "Jane Roe"},
                    "datePublished": "2023-05-02T09:30:00Z",
                    "name": "Charged twice",
                    "reviewBody": "I was charged twice for one order and still wait for the refund.",
                },
            ],
        }
    ],
}

COMPANY_PAGE = f"""<!doctype html><html lang="en"><head><title>Acme Shop reviews</title>
<script type="application/ld+json">{json.dumps(JSON_LD)}</script></head><body>
<article data-service-review-card-paper="true">
  <span data-consumer-name-typography="true">Ivan Petrov</span>
  <time data-service-review-date-time-ago="true" datetime="2023-05-01T10:00:00.000Z">May 1</time>
  <a href="/reviews/aaaaaaaaaaaaaaaaaaaaaaaa" data-review-title-typography="true"><h2>Parcel lost</h2></a>
  <p data-service-review-text-typography="true">Acme Shop lost my parcel and support only sends templates.</p>
  <div><p>Reply from Acme Shop</p>
    <time data-service-review-business-reply-date-time-ago="true" datetime="2023-05-03T08:00:00.000Z">May 3</time>
    <p data-service-review-business-reply-text-typography="true">Ivan, we are sorry. We found the parcel.</p></div>
</article>
<article data-service-review-card-paper="true">
  <span data-consumer-name-typography="true">Jane Roe</span>
  <a href="/reviews/bbbbbbbbbbbbbbbbbbbbbbbb" data-review-title-typography="true"><h2>Charged twice</h2></a>
  <p data-service-review-text-typography="true">I was charged twice for one order and still wait for the refund.</p>
</article>
<article data-service-review-card-paper="true">
  <span data-consumer-name-typography="true">Max Mustermann</span>
  <a href="/reviews/cccccccccccccccccccccccc.html" data-review-title-typography="true"><h2>Truncated</h2></a>
</article>
<nav><a name="pagination-button-next" href="/review/acme-page-2.html">Next page</a></nav>
</body></html>"""

PAGE_2 = """<!doctype html><html lang="en"><head><title>Acme Shop reviews, page 2</title></head><body>
<div itemscope itemtype="https://schema.org/Review">
  <div itemprop="itemReviewed" itemscope itemtype="https://schema.org/Organization">
    <span itemprop="name">Acme Shop</span></div>
  <span itemprop="author" itemscope itemtype="https://schema.org/Person"><span itemprop="name">Olga</span></span>
  <meta itemprop="datePublished" content="2023-04-20">
  <h2 itemprop="name">Wrong item</h2>
  <p itemprop="reviewBody">Ordered a kettle, got a toaster. Acme Shop refuses the return.</p>
</div></body></html>"""

SINGLE = """<!doctype html><html lang="en"><head><title>Review</title>
<link rel="canonical" href="/reviews/cccccccccccccccccccccccc.html"></head><body>
<div class="company-name">Review of <a href="/review/acme">Acme Shop</a></div>
<article class="review" id="cccccccccccccccccccccccc">
<script type="application/json" data-initial-state="review-info">
{"reviewId":"cccccccccccccccccccccccc","reviewHeader":"Truncated","consumerName":"Max Mustermann",
 "businessUnitDisplayName":"Acme Shop","reviewBody":"The full text of the review: the courier never came."}
</script>
<script type="application/json" data-initial-state="review-dates">{"publishedDate":"2023-04-30T12:00:00Z"}</script>
<div class="review__company-reply"><div class="brand-company-reply__company">Acme Shop</div>
<div class="brand-company-reply__content">Max, please send us your order number.</div></div>
</article></body></html>"""


@pytest.fixture(scope="module")
def trustpilot() -> CrawlResult:
    return crawl(ReviewsSpider, [f"{shared_pages_url()}/{TRUSTPILOT}"])


@pytest.fixture(scope="module")
def company_site(tmp_path_factory) -> tuple[str, CrawlResult]:
    root: Path = tmp_path_factory.mktemp("reviews_site")
    (root / "review").mkdir()
    (root / "reviews").mkdir()
    (root / "review" / "acme.html").write_text(COMPANY_PAGE, encoding="utf-8")
    (root / "review" / "acme-page-2.html").write_text(PAGE_2, encoding="utf-8")
    (root / "reviews" / "cccccccccccccccccccccccc.html").write_text(SINGLE, encoding="utf-8")
    with serve_directory(root) as base:
        return base, crawl(ReviewsSpider, [f"{base}/review/acme.html"])


def test_trustpilot_single_review(trustpilot):
    assert trustpilot.warnings("parse failed") == []
    (review,) = trustpilot.items
    assert review.url == f"{shared_pages_url()}/{TRUSTPILOT}"
    assert review.author == "Mrs H Pyke"
    assert review.published == datetime(2016, 11, 4, 20, 37, 27, tzinfo=UTC)
    assert review.title == "Gousto has changed my life...."
    assert review.text.startswith("I cannot thank Gousto enough.")
    assert review.company_hint == "gousto.co.uk"
    assert review.language == "en" and review.site_kind == "review"
    assert review.parent_url is None and review.position == 0


def test_company_page_reviews_replies_pagination_and_single_pages(company_site):
    base, result = company_site
    assert result.warnings("parse failed") == []
    by_author = {i.author: i for i in result.items if not i.is_company_reply}
    assert set(by_author) == {"Ivan Petrov", "Jane Roe", "Max Mustermann", "Olga"}
    assert all(i.company_hint == "Acme Shop" for i in result.items)

    ivan = by_author["Ivan Petrov"]
    assert ivan.url == f"{base}/reviews/aaaaaaaaaaaaaaaaaaaaaaaa"  # the card's permalink
    assert ivan.published == datetime(2023, 5, 1, 10, 0, tzinfo=UTC)
    assert ivan.title == "Parcel lost"

    replies = [i for i in result.items if i.is_company_reply]
    assert len(replies) == 2
    reply = next(r for r in replies if r.parent_url == ivan.url)
    assert reply.text == "Ivan, we are sorry. We found the parcel."
    assert (reply.thread_url, reply.position, reply.author) == (ivan.url, 1, "Acme Shop")
    assert reply.published == datetime(2023, 5, 3, 8, 0, tzinfo=UTC)

    # The truncated card was followed to its single-review page.
    max_ = by_author["Max Mustermann"]
    assert max_.url == f"{base}/reviews/cccccccccccccccccccccccc.html"
    assert max_.text == "The full text of the review: the courier never came."
    assert any(r.parent_url == max_.url and r.author == "Acme Shop" for r in replies)

    # Page 2 (microdata) via the pagination link.
    olga = by_author["Olga"]
    assert olga.published == datetime(2023, 4, 20, tzinfo=UTC)
    assert olga.text.startswith("Ordered a kettle")
    assert len(result.items) == 6
