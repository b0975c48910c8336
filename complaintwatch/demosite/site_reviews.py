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
"""

# ruff: noqa: E501 -- hand-written prose and HTML templates read better unwrapped

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from .companies import COMPANIES, Company
from .corpus import Thread
from .render import make_env, pages, truth_post, write_file, write_robots, write_sitemap
from .textutil import human_date, human_datetime, plural_ru
from .truth import TruthPost

SITE_NAME = "OtzyvPro / ReviewPro"
PER_PAGE = 10

UI = {
    "ru": {
        "html_lang": "ru-RU",
        "og_locale": "ru_RU",
        "review_of": "Отзыв о компании",
        "reply_from": "Ответ компании",
        "reviews": "Отзывы",
        "trustscore": "Рейтинг",
        "prev": "Предыдущая страница",
        "next": "Следующая страница",
        "recent": "Свежие отзывы",
        "companies": "Компании",
        "stars": ("", "1 звезда: плохо", "2 звезды: ниже среднего", "3 звезды: средне", "4 звезды: хорошо",
                  "5 звёзд: отлично"),
    },
    "en": {
        "html_lang": "en-GB",
        "og_locale": "en_GB",
        "review_of": "Review of",
        "reply_from": "Reply from",
        "reviews": "Reviews",
        "trustscore": "TrustScore",
        "prev": "Previous page",
        "next": "Next page",
        "recent": "Recent reviews",
        "companies": "Companies",
        "stars": ("", "1 star: Bad", "2 stars: Poor", "3 stars: Average", "4 stars: Great", "5 stars: Excellent"),
    },
}  # fmt: skip

_BASE_TPL = """<!DOCTYPE html>
<html lang="{{ ui.html_lang }}">
<head>
<meta charset="UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %}</title>
<meta name="application-name" content="OtzyvPro">
<meta property="og:site_name" content="{{ site_name }}" />
{% block head %}{% endblock %}
<link rel="stylesheet" type="text/css" href="/static/reviews.css" />
</head>
<body >
<div id="wrapper" class="wrapper">
<header class="header header--fixed" data-header role="banner">
<div class="header__actual"><div class="header__container"><div class="header__wrapper">
<div class="logo__container"><a href="/" title="{{ site_name }}" class="logo">{{ site_name }}</a></div>
</div></div></div>
</header>
<main role="main" class="page-content">
{% block main %}{% endblock %}
</main>
<footer class="brand-footer" role="contentinfo"><div class="brand-footer__wrapper">&copy; {{ site_name }}</div></footer>
</div>
</body>
</html>
"""

_CARD = """{% macro card(r, ui, reply_anchor) %}
<div class="review-card">
<div class="card" data-popover-target="review">
<article class="review"
         id="{{ r.id }}"
         data-reviewmid="{{ r.id }}"
         data-review-domain-name="{{ r.company.domain }}"
         data-review-domain-id="{{ r.bu_id }}"
         data-review-user-id="{{ r.user_id }}"
         data-review-is-reported="false"
         lang="{{ r.lang }}">
<aside class="review__consumer-information">
<a href="/users/{{ r.user_id }}" class="consumer-information">
<div class="consumer-information__picture" data-consumer-initial="{{ r.initial }}"></div>
<div class="consumer-information__details">
<div class="consumer-information__name" v-pre>
{{ r.author }}
</div>
<div class="consumer-information__data">
<div class="consumer-information__review-count"><span>{{ r.review_count }}</span></div>
</div>
</div>
</a>
</aside>
<section class="review__content">
<div class="review-content">
<div class="review-content__header" v-pre>
<div class="review-content-header">
<div class="star-rating star-rating--medium">
<img src="/static/stars/stars-{{ r.rating }}.svg" alt="{{ r.rating_alt }}">
</div>
<div class="review-content-header__dates">
<time class="review-date--published" datetime="{{ r.published|iso }}" title="{{ r.published_title }}">{{ r.published_human }}</time>
</div>
</div>
</div>
<div class="review-content__body" v-pre>
<h2 class="review-content__title">
<a class="link link--large link--dark" href="/reviews/{{ r.id }}">{{ r.title }}</a>
</h2>
<p class="review-content__text">
{% for p in r.paragraphs %}{% if not loop.first %}<br /><br />{% endif %}{{ p }}{% endfor %}
</p>
</div>
</div>
</section>
{% if r.reply %}
<div class="review__company-reply review-company-reply" id="{{ reply_anchor }}">
<div class="company-reply__header">
<span class="company-reply__label">{{ ui.reply_from }}</span> <span class="company-reply__company-name">{{ r.reply.company }}</span>
<time class="company-reply__date" datetime="{{ r.reply.published|iso }}">{{ r.reply.human }}</time>
</div>
<div class="company-reply__content">
<p class="company-reply__text">
{% for p in r.reply.paragraphs %}{% if not loop.first %}<br /><br />{% endif %}{{ p }}{% endfor %}
</p>
</div>
</div>
{% endif %}
</article>
</div>
</div>
{% endmacro %}
"""

_SINGLE_TPL = """{% extends "base.html" %}
{% from "card.html" import card %}
{% block title %}{{ r.title }} | {{ ui.review_of }} {{ r.company_name }} | OtzyvPro{% endblock %}
{% block head %}
<meta name="description" content="{{ r.excerpt }}" />
<link rel="canonical" href="__BASE_URL__/reviews/{{ r.id }}" />
<meta property="og:title" content="{{ r.og_title }}" />
<meta property="og:type" content="otzyvpro:review" />
<meta property="og:url" content="__BASE_URL__/reviews/{{ r.id }}" />
<meta property="og:description" content="&quot;{{ r.excerpt }}&quot;" />
<meta property="og:locale" content="{{ ui.og_locale }}"/>
<script type="application/ld+json">
{{ jsonld|jsonld }}
</script>
<script type="application/json" data-initial-state="review-info">
{{ review_info|jsonld }}
</script>
<script type="application/json" data-initial-state="review-dates">
{{ review_dates|jsonld }}
</script>
{% endblock %}
{% block main %}
<div class="single-review-page">
<div class="container">
<div class="row">
<div class="col-xs-12 col-sm-8">
<div class="company-name">
    {{ ui.review_of }} <a href='/review/{{ r.company.domain }}/'>{{ r.company.domain }}</a>
</div>
{{ card(r, ui, "reply") }}
</div>
</div>
</div>
</div>
{% endblock %}
"""

_COMPANY_TPL = """{% extends "base.html" %}
{% from "card.html" import card %}
{% block title %}{{ company_name }} — {{ ui.reviews }} ({{ total }}){% if nav.current > 1 %} · {{ nav.current }}{% endif %} | OtzyvPro{% endblock %}
{% block head %}
<link rel="canonical" href="__BASE_URL__{{ page_path }}" />
{% if nav.prev %}<link rel="prev" href="__BASE_URL__{{ nav.prev }}" />
{% endif %}
{% if nav.next %}<link rel="next" href="__BASE_URL__{{ nav.next }}" />
{% endif %}
<script type="application/ld+json">
{{ jsonld|jsonld }}
</script>
{% endblock %}
{% block main %}
<div class="company-profile" data-business-unit-id="{{ bu_id }}">
<div class="company-profile-header">
<h1 class="multi-size-header"><span class="multi-size-header__big">{{ company_name }}</span> <span class="multi-size-header__small">{{ domain }}</span></h1>
<div class="header_trustscore"><span>{{ ui.trustscore }}</span> <span class="header_trustscore__score">{{ score }}</span> · <span class="header_trustscore__count">{{ ui.reviews }}: {{ total }}</span></div>
</div>
<div class="review-list">
{% for r in reviews %}
{{ card(r, UIS[r.lang], "reply-" ~ r.id) }}
{% endfor %}
</div>
<nav class="pagination-container" aria-label="Pagination">
{% if nav.prev %}<a class="pagination-link prev-page" rel="prev" href="{{ nav.prev }}" data-page-number="prev-page">{{ ui.prev }}</a>
{% endif %}
{% for p in nav.pages %}{% if p.current %}<span class="pagination-page pagination-page--current">{{ p.num }}</span>{% else %}<a class="pagination-page" href="{{ p.path }}">{{ p.num }}</a>{% endif %}
{% endfor %}
{% if nav.next %}<a class="pagination-link next-page" rel="next" href="{{ nav.next }}" data-page-number="next-page">{{ ui.next }}</a>
{% endif %}
</nav>
</div>
{% endblock %}
"""

_HOME_TPL = """{% extends "base.html" %}
{% block title %}{{ site_name }}{% endblock %}
{% block head %}
<link rel="canonical" href="__BASE_URL__/" />
{% endblock %}
{% block main %}
<section class="home-companies">
<h1>{{ ui.companies }}</h1>
<ul class="business-unit-list">
{% for c in companies %}
<li class="business-unit-card"><a class="business-unit-card__link" href="/review/{{ c.domain }}/"><span class="business-unit-card__name">{{ c.name }}</span> <span class="business-unit-card__domain">{{ c.domain }}</span></a> <span class="business-unit-card__score">{{ c.score }}</span> · <span class="business-unit-card__count">{{ c.total }}</span></li>
{% endfor %}
</ul>
</section>
<section class="home-recent">
<h2>{{ ui.recent }}</h2>
<ul class="recent-reviews">
{% for r in recent %}
<li class="recent-review" lang="{{ r.lang }}"><a href="/reviews/{{ r.id }}">{{ r.title }}</a> — <span>{{ r.author }}</span> · <a href="/review/{{ r.company.domain }}/">{{ r.company_name }}</a> · <time datetime="{{ r.published|iso }}">{{ r.published_human }}</time></li>
{% endfor %}
</ul>
</section>
{% endblock %}
"""

_CSS = """body{margin:0;font-family:Helvetica,Arial,sans-serif;background:#fcfbf3;color:#191919}
.header{background:#000032;padding:14px 24px}.logo{color:#fff;font-weight:bold;font-size:20px;text-decoration:none}
.page-content{max-width:900px;margin:0 auto;padding:24px}
.card{background:#fff;border-radius:8px;padding:16px 24px;margin:12px 0;box-shadow:0 1px 2px rgba(0,0,0,.1)}
.review{display:flex;flex-wrap:wrap;gap:16px}.review__consumer-information{width:160px}.review__content{flex:1}
.consumer-information{color:#191919;text-decoration:none}.consumer-information__name{font-weight:bold}
.review-content__title a{color:#191919;text-decoration:none;font-size:18px}
.review-content-header{display:flex;justify-content:space-between;color:#6f6f6f;font-size:13px}
.review__company-reply{width:100%;border-left:3px solid #00b67a;background:#f7f7f7;padding:8px 16px}
.company-reply__company-name{font-weight:bold}
.company-reply__header{display:flex;justify-content:space-between;font-size:13px;color:#6f6f6f}
.star-rating img{height:20px}.pagination-container{display:flex;gap:10px;margin:20px 0}
"""

_STAR_COLORS = ("", "#ff3722", "#ff8622", "#ffce00", "#73cf11", "#00b67a")

TEMPLATES = {"base.html": _BASE_TPL, "card.html": _CARD, "single.html": _SINGLE_TPL, "company.html": _COMPANY_TPL,
             "home.html": _HOME_TPL}  # fmt: skip


def _hex_id(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:24]


def _stars_svg(n: int) -> str:
    boxes = "".join(
        f'<rect x="{i * 22}" y="0" width="20" height="20" fill="{_STAR_COLORS[n] if i < n else "#dcdce6"}"/>'
        for i in range(5)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="108" height="20" viewBox="0 0 108 20">{boxes}</svg>\n'


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
    env = make_env(TEMPLATES)
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
        write_file(root, f"/static/stars/stars-{n}.svg", _stars_svg(n))
    write_file(root, "/static/reviews.css", _CSS)
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
