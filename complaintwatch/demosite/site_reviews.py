"""The Trustpilot-like review site "OtzyvPro / ReviewPro".

Markup follows Trustpilot's single-review page (the saved gousto review):
article.review[data-review-domain-name] with .consumer-information__name,
.star-rating img[alt], h2.review-content__title, p.review-content__text and
the data-initial-state JSON blocks; unlike the real page, each single-review
page also carries a schema.org Review in <script type="application/ld+json">
and a visible <time datetime>. The company's answer is one
div.review__company-reply.review-company-reply (name in
.company-reply__company-name, text in .company-reply__content), id "reply"
on the single-review page and "reply-<review id>" on company listing pages.
Templates: templates/reviews/; strings: data/reviews.toml.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from .companies import COMPANIES, Company
from .corpus import Thread
from .render import make_env, pages, truth_post, write_file, write_robots, write_sitemap, write_static
from .resources import load_data
from .textutil import human_date, human_datetime, plural_ru
from .truth import TruthPost

_DATA = load_data("reviews")
SITE_NAME: str = _DATA["name"]
UI: dict[str, dict] = _DATA["ui"]  # theme strings per language; stars[n]: alt text of n stars
PER_PAGE = 10


def _hex_id(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:24]


def _review_count(n: int, lang: str) -> str:
    if lang == "ru":
        return f"{n} {plural_ru(n, 'отзыв', 'отзыва', 'отзывов')}"
    return f"{n} review" if n == 1 else f"{n} reviews"


def _utc_z(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _review(t: Thread, index: int, per_author: dict[str, int]) -> dict:
    c = t.company
    ui = UI[t.lang]
    rid = _hex_id("otzyvpro", index, t.title)
    author = t.root.author.name
    reply = None
    if t.replies:
        m = t.replies[0]
        reply = {
            "company": c.name(t.lang),
            "published": m.published,
            "human": human_date(m.published, t.lang),
            "paragraphs": m.paragraphs,
            "msg": m,
        }
    verb = "оценил(а)" if t.lang == "ru" else "gave"
    og_title = (
        f"{author} {verb} {c.domain} {t.rating} из 5"
        if t.lang == "ru"
        else f"{author} gave {c.domain} {t.rating} stars. Check out the full review..."
    )
    return {
        "id": rid,
        "thread": t,
        "lang": t.lang,
        "company": c,
        "company_name": c.name(t.lang),
        "bu_id": _hex_id("bu", c.domain),
        "user_id": _hex_id("user", author),
        "author": author,
        "initial": author[:1],
        "review_count": _review_count(per_author[author], t.lang),
        "rating": t.rating,
        "rating_alt": ui["stars"][t.rating],
        "published": t.root.published,
        "published_human": human_date(t.root.published, t.lang),
        "published_title": human_datetime(t.root.published, t.lang),
        "title": t.title,
        "paragraphs": t.root.paragraphs,
        "excerpt": t.root.text.replace("\n\n", " ")[:100] + "...",
        "og_title": og_title,
        "reply": reply,
    }


def _jsonld(r: dict) -> dict:
    c: Company = r["company"]
    return {
        "@context": "https://schema.org",
        "@type": "Review",
        "@id": f"__BASE_URL__/reviews/{r['id']}",
        "url": f"__BASE_URL__/reviews/{r['id']}",
        "name": r["title"],
        "reviewBody": r["thread"].root.text,
        "datePublished": r["published"].isoformat(timespec="seconds"),
        "inLanguage": r["lang"],
        "author": {"@type": "Person", "name": r["author"], "url": f"__BASE_URL__/users/{r['user_id']}"},
        "reviewRating": {"@type": "Rating", "ratingValue": r["rating"], "bestRating": 5, "worstRating": 1},
        "itemReviewed": {"@type": "Organization", "name": r["company_name"], "url": f"https://{c.domain}/",
                         "sameAs": f"__BASE_URL__/review/{c.domain}/"},
        "publisher": {"@type": "Organization", "name": SITE_NAME},
    }  # fmt: skip


def render(root: Path, threads: list[Thread]) -> list[TruthPost]:
    env = make_env("reviews")
    per_author: dict[str, int] = {}
    for t in threads:
        per_author[t.root.author.name] = per_author.get(t.root.author.name, 0) + 1
    reviews = [_review(t, i, per_author) for i, t in enumerate(threads)]

    truth: list[TruthPost] = []
    sitemap: list[tuple[str, datetime]] = []
    for r in reviews:
        t, path = r["thread"], f"/reviews/{r['id']}"
        html = env.get_template("single.html").render(
            r=r,
            ui=UI[r["lang"]],
            site_name=SITE_NAME,
            jsonld=_jsonld(r),
            review_info={
                "reviewId": r["id"],
                "businessUnitId": r["bu_id"],
                "businessUnitDisplayName": r["company"].domain,
                "consumerId": r["user_id"],
                "consumerName": r["author"],
                "reviewHeader": r["title"],
                "reviewBody": t.root.text,
                "stars": r["rating"],
            },
            review_dates={
                "publishedDate": _utc_z(r["published"]),
                "updatedDate": None,
                "reportedDate": None,
                "companyReplyDate": _utc_z(r["reply"]["published"]) if r["reply"] else None,
            },
        )
        write_file(root, path, html)
        truth.append(
            truth_post(
                t,
                t.root,
                site="reviews",
                kind="review",
                path=path,
                thread_path=path,
                parent_path=None,
                position=0,
                anchor=r["id"],
            )
        )
        last = t.root.published
        if r["reply"]:
            m = r["reply"]["msg"]
            last = m.published
            truth.append(
                truth_post(
                    t,
                    m,
                    site="reviews",
                    kind="review",
                    path=f"{path}#reply",
                    thread_path=path,
                    parent_path=path,
                    position=1,
                    anchor="reply",
                )
            )
        sitemap.append((path, last))

    summary = []
    for c in COMPANIES:
        mine = [r for r in reversed(reviews) if r["company"] is c]
        if not mine:
            continue
        score = f"{sum(r['rating'] for r in mine) / len(mine):.1f}"
        summary.append({"name": c.name_ru, "domain": c.domain, "score": score, "total": len(mine)})
        _render_company(env, root, c, mine, score)

    home = env.get_template("home.html").render(
        ui=UI["ru"], site_name=SITE_NAME, companies=summary, recent=list(reversed(reviews))[:20]
    )
    write_file(root, "/", home)
    for n in range(1, 6):
        write_file(root, f"/static/stars/stars-{n}.svg", env.get_template("stars.svg").render(n=n))
    write_static(root, "reviews")
    write_sitemap(root, sitemap)
    write_robots(root, ["/users/", "/search", "/evaluate/", "/login"])
    return truth


def _render_company(env, root: Path, c: Company, mine: list[dict], score: str) -> None:
    base = f"/review/{c.domain}/"
    chunks = pages(mine, PER_PAGE)
    paths = [base if n == 1 else f"{base}page/{n}/" for n in range(1, len(chunks) + 1)]
    jsonld = {
        "@context": "https://schema.org",
        "@type": "Organization",
        "@id": f"__BASE_URL__{base}",
        "name": c.name_ru,
        "alternateName": c.name_en,
        "url": f"https://{c.domain}/",
        "aggregateRating": {"@type": "AggregateRating", "ratingValue": score, "reviewCount": len(mine),
                            "bestRating": 5, "worstRating": 1},
    }  # fmt: skip
    for n, chunk in enumerate(chunks, start=1):
        nav = {
            "current": n,
            "prev": paths[n - 2] if n > 1 else None,
            "next": paths[n] if n < len(chunks) else None,
            "pages": [{"num": k, "path": p, "current": k == n} for k, p in enumerate(paths, start=1)],
        }
        html = env.get_template("company.html").render(
            ui=UI["ru"],
            UIS=UI,
            site_name=SITE_NAME,
            company_name=c.name_ru,
            domain=c.domain,
            bu_id=_hex_id("bu", c.domain),
            score=score,
            total=len(mine),
            reviews=chunk,
            page_path=paths[n - 1],
            nav=nav,
            jsonld=jsonld,
        )
        write_file(root, paths[n - 1], html)
