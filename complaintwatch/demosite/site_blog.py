"""The WordPress multi-author blog "Жалобная книга / Complaint Book".

Markup follows a Twenty Fifteen based WordPress theme (the saved lemire.me
page): article.post > h1.entry-title / div.entry-content, footer with
time.entry-date.published and .author.vcard a.url.fn[rel=author], threaded
comments as ol.comment-list > li.comment > article.comment-body with nested
ol.children. Yoast-style <meta property="article:published_time"> in <head>.
"""

# ruff: noqa: E501 -- hand-written prose and HTML templates read better unwrapped

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

from .companies import COMPANIES, Company
from .corpus import Message, Thread
from .render import BASE, make_env, pages, truth_post, write_file, write_robots, write_sitemap
from .textutil import human_date, human_datetime, plural_ru, slugify
from .truth import TruthPost

SITE_NAME = "Жалобная книга / Complaint Book"
PER_PAGE = 20
FIRST_POST_ID = 1187
FIRST_COMMENT_ID = 24051

UI = {
    "ru": {
        "html_lang": "ru-RU",
        "og_locale": "ru_RU",
        "posted_on": "Опубликовано",
        "author": "Автор",
        "categories": "Рубрики",
        "says": "пишет:",
        "reply": "Ответить",
        "leave_reply": "Добавить комментарий",
        "comment": "Комментарий",
        "post_comment": "Отправить комментарий",
        "official": "Официальный ответ компании",
        "prev": "Предыдущая запись",
        "next": "Следующая запись",
    },
    "en": {
        "html_lang": "en-US",
        "og_locale": "en_US",
        "posted_on": "Posted on",
        "author": "Author",
        "categories": "Categories",
        "says": "says:",
        "reply": "Reply",
        "leave_reply": "Leave a Reply",
        "comment": "Comment",
        "post_comment": "Post Comment",
        "official": "Official company reply",
        "prev": "Previous post",
        "next": "Next post",
    },
}

_BASE_TPL = """<!DOCTYPE html>
<html lang="{{ ui.html_lang }}" class="no-js">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width">
<link rel="profile" href="https://gmpg.org/xfn/11">
<title>{% block title %}{% endblock %}</title>
<link rel="alternate" type="application/rss+xml" title="{{ site_name }} &raquo; Feed" href="__BASE_URL__/feed/" />
{% block head %}{% endblock %}
<meta name="generator" content="WordPress 6.4.3" />
<link rel='stylesheet' id='complaintbook-style-css' href='__BASE_URL__/wp-content/themes/complaintbook/style.css?ver=1.4' type='text/css' media='all' />
</head>
<body class="{% block body_class %}{% endblock %}">
<div id="page" class="hfeed site">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<div id="sidebar" class="sidebar">
<header id="masthead" class="site-header" role="banner">
<div class="site-branding">
<p class="site-title"><a href="__BASE_URL__/" rel="home">{{ site_name }}</a></p>
<p class="site-description">Истории покупателей о магазинах и сервисах · Customer stories about shops and services</p>
</div>
</header>
<div id="secondary" class="secondary">
<div id="widget-area" class="widget-area" role="complementary">
<aside id="recent-posts-2" class="widget widget_recent_entries"><h2 class="widget-title">Свежие записи / Recent Posts</h2>
<ul>
{% for p in recent %}
<li><a href="__BASE_URL__{{ p.path }}">{{ p.title }}</a></li>
{% endfor %}
</ul>
</aside>
<aside id="categories-2" class="widget widget_categories"><h2 class="widget-title">Рубрики / Categories</h2>
<ul>
{% for c in categories %}
<li class="cat-item cat-item-{{ c.term_id }}"><a href="__BASE_URL__{{ c.path }}">{{ c.name }}</a> ({{ c.count }})</li>
{% endfor %}
</ul>
</aside>
</div>
</div>
</div>
<div id="content" class="site-content">
<div id="primary" class="content-area">
<main id="main" class="site-main" role="main">
{% block main %}{% endblock %}
</main>
</div>
</div>
<footer id="colophon" class="site-footer" role="contentinfo">
<div class="site-info">{{ site_name }} · Proudly powered by WordPress</div>
</footer>
</div>
</body>
</html>
"""

_SINGLE_TPL = """{% extends "base.html" %}
{% block title %}{{ post.title }} &#8211; {{ site_name }}{% endblock %}
{% block head %}
<link rel="canonical" href="__BASE_URL__{{ post.path }}" />
<link rel='shortlink' href='__BASE_URL__/?p={{ post.id }}' />
<meta name="description" content="{{ post.excerpt }}" />
<meta name="author" content="{{ post.author }}" />
<meta property="og:locale" content="{{ ui.og_locale }}" />
<meta property="og:type" content="article" />
<meta property="og:title" content="{{ post.title }}" />
<meta property="og:description" content="{{ post.excerpt }}" />
<meta property="og:url" content="__BASE_URL__{{ post.path }}" />
<meta property="og:site_name" content="{{ site_name }}" />
<meta property="article:section" content="{{ post.cat.name }}" />
<meta property="article:published_time" content="{{ post.published|iso }}" />
<meta property="article:modified_time" content="{{ post.modified|iso }}" />
{% endblock %}
{% block body_class %}post-template-default single single-post postid-{{ post.id }} single-format-standard{% endblock %}
{% block main %}
<article id="post-{{ post.id }}" class="post-{{ post.id }} post type-post status-publish format-standard hentry category-{{ post.cat.slug }}">
<header class="entry-header">
<h1 class="entry-title">{{ post.title }}</h1>
</header>
<div class="entry-content">
{% for p in post.paragraphs %}
<p>{{ p }}</p>
{% endfor %}
</div>
<footer class="entry-footer"><span class="posted-on"><span class="screen-reader-text">{{ ui.posted_on }} </span><a href="__BASE_URL__{{ post.path }}" rel="bookmark"><time class="entry-date published" datetime="{{ post.published|iso }}">{{ post.published_human }}</time><time class="updated" datetime="{{ post.modified|iso }}">{{ post.modified_human }}</time></a></span><span class="byline"><span class="author vcard"><span class="screen-reader-text">{{ ui.author }} </span><a class="url fn n" href="__BASE_URL__{{ post.author_path }}" rel="author">{{ post.author }}</a></span></span><span class="cat-links"><span class="screen-reader-text">{{ ui.categories }} </span><a href="__BASE_URL__{{ post.cat.path }}" rel="category tag">{{ post.cat.name }}</a></span></footer>
</article>
<div id="comments" class="comments-area">
{% if post.comments %}
<h2 class="comments-title">
{{ post.comments_title }}</h2>
<ol class="comment-list">
{% for c in post.comments recursive %}
<li id="comment-{{ c.id }}" class="{{ c.classes }}">
<article id="div-comment-{{ c.id }}" class="comment-body">
<footer class="comment-meta">
<div class="comment-author vcard">
<b class="fn">{{ c.author }}</b> <span class="says">{{ ui.says }}</span>{% if c.official %} <span class="comment-badge comment-badge--official" title="{{ ui.official }}">{{ ui.official }}</span>{% endif %}
</div>
<div class="comment-metadata">
<a href="__BASE_URL__{{ post.path }}#comment-{{ c.id }}">
<time datetime="{{ c.published|iso }}">
{{ c.human }} </time>
</a>
</div>
</footer>
<div class="comment-content">
{% for p in c.paragraphs %}
<p>{{ p }}</p>
{% endfor %}
</div>
<div class="reply"><a rel='nofollow' class='comment-reply-link' href='#comment-{{ c.id }}' data-commentid="{{ c.id }}" data-postid="{{ post.id }}" data-belowelement="div-comment-{{ c.id }}" data-respondelement="respond" aria-label='{{ ui.reply }}: {{ c.author }}'>{{ ui.reply }}</a></div> </article>
{% if c.children %}
<ol class="children">
{{ loop(c.children) }}
</ol>
{% endif %}
</li>
{% endfor %}
</ol>
{% endif %}
<div id="respond" class="comment-respond">
<h3 id="reply-title" class="comment-reply-title">{{ ui.leave_reply }}</h3>
<form action="__BASE_URL__/wp-comments-post.php" method="post" id="commentform" class="comment-form" novalidate><p class="comment-form-comment"><label for="comment">{{ ui.comment }}</label> <textarea id="comment" name="comment" cols="45" rows="8" maxlength="65525" required="required"></textarea></p><p class="form-submit"><input name="submit" type="submit" id="submit" class="submit" value="{{ ui.post_comment }}" /> <input type='hidden' name='comment_post_ID' value='{{ post.id }}' id='comment_post_ID' /></p></form>
</div>
</div>
<nav class="navigation post-navigation" aria-label="Posts">
<div class="nav-links">
{% if post.prev %}<div class="nav-previous"><a href="__BASE_URL__{{ post.prev.path }}" rel="prev"><span class="meta-nav" aria-hidden="true">{{ ui.prev }}</span> <span class="post-title">{{ post.prev.title }}</span></a></div>{% endif %}
{% if post.next %}<div class="nav-next"><a href="__BASE_URL__{{ post.next.path }}" rel="next"><span class="meta-nav" aria-hidden="true">{{ ui.next }}</span> <span class="post-title">{{ post.next.title }}</span></a></div>{% endif %}
</div>
</nav>
{% endblock %}
"""

_LIST_TPL = """{% extends "base.html" %}
{% block title %}{{ heading }} &#8211; {{ site_name }}{% endblock %}
{% block head %}
<link rel="canonical" href="__BASE_URL__{{ path }}" />
{% if prev %}<link rel="prev" href="__BASE_URL__{{ prev }}" />
{% endif %}
{% if next %}<link rel="next" href="__BASE_URL__{{ next }}" />
{% endif %}
<meta property="og:type" content="website" />
<meta property="og:site_name" content="{{ site_name }}" />
{% endblock %}
{% block body_class %}{{ body_class }}{% endblock %}
{% block main %}
<header class="page-header">
<h1 class="page-title">{{ heading }}</h1>
</header>
{% for p in posts %}
<article id="post-{{ p.id }}" class="post-{{ p.id }} post type-post status-publish format-standard hentry category-{{ p.cat.slug }}" lang="{{ p.lang }}">
<header class="entry-header">
<h2 class="entry-title"><a href="__BASE_URL__{{ p.path }}" rel="bookmark">{{ p.title }}</a></h2>
</header>
<div class="entry-summary">
<p>{{ p.excerpt }} [&hellip;]</p>
</div>
<footer class="entry-footer"><span class="posted-on"><a href="__BASE_URL__{{ p.path }}" rel="bookmark"><time class="entry-date published" datetime="{{ p.published|iso }}">{{ p.published_human }}</time></a></span><span class="byline"><span class="author vcard"><a class="url fn n" href="__BASE_URL__{{ p.author_path }}">{{ p.author }}</a></span></span><span class="comments-link"><a href="__BASE_URL__{{ p.path }}#comments">{{ p.n_comments }}</a></span></footer>
</article>
{% endfor %}
<nav class="navigation pagination" aria-label="Posts">
<h2 class="screen-reader-text">Posts navigation</h2>
<div class="nav-links">
{% if prev %}<a class="prev page-numbers" href="__BASE_URL__{{ prev }}">&larr;</a>
{% endif %}
{% for n in page_links %}
{% if n.current %}<span aria-current="page" class="page-numbers current">{{ n.num }}</span>
{% else %}<a class="page-numbers" href="__BASE_URL__{{ n.path }}">{{ n.num }}</a>
{% endif %}
{% endfor %}
{% if next %}<a class="next page-numbers" href="__BASE_URL__{{ next }}">&rarr;</a>
{% endif %}
</div>
</nav>
{% endblock %}
"""

_FEED_TPL = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>

<channel>
	<title>{{ site_name }}</title>
	<atom:link href="__BASE_URL__/feed/" rel="self" type="application/rss+xml" />
	<link>__BASE_URL__</link>
	<description>Истории покупателей о магазинах и сервисах</description>
	<lastBuildDate>{{ build_date }}</lastBuildDate>
	<language>ru-RU</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<generator>https://wordpress.org/?v=6.4.3</generator>
{% for p in posts %}
	<item>
		<title>{{ p.title }}</title>
		<link>__BASE_URL__{{ p.path }}</link>
		<comments>__BASE_URL__{{ p.path }}#comments</comments>
		<dc:creator>{{ p.author }}</dc:creator>
		<pubDate>{{ p.pub_date }}</pubDate>
		<category>{{ p.cat.name }}</category>
		<guid isPermaLink="false">__BASE_URL__/?p={{ p.id }}</guid>
		<description>{{ p.excerpt }} [&#8230;]</description>
		<content:encoded>{% for para in p.paragraphs %}&lt;p&gt;{{ para }}&lt;/p&gt;
{% endfor %}</content:encoded>
		<slash:comments>{{ p.comment_count }}</slash:comments>
	</item>
{% endfor %}
</channel>
</rss>
"""

_CSS = """body{margin:0;font-family:Georgia,'Noto Serif',serif;background:#f1f1f1;color:#333}
#page{display:flex;max-width:1200px;margin:0 auto}
.sidebar{width:28%;background:#fff;padding:2em;box-shadow:0 0 1px rgba(0,0,0,.15)}
.site-title a{font-size:1.4em;font-weight:bold;color:#8a1c1c;text-decoration:none}
.site-content{width:72%;padding:2em}
article.post{background:#fff;padding:2em 3em;margin-bottom:2em}
.entry-title{font-size:1.8em}.entry-title a{color:#333;text-decoration:none}
.entry-footer{color:#707070;font-size:.85em}.entry-footer span{margin-right:1em}
.screen-reader-text{position:absolute;left:-9999px}
.comments-area{background:#fff;padding:2em 3em}
.comment-list,.children{list-style:none;padding-left:0}.children{margin-left:2em}
.comment-body{border-top:1px solid #eaeaea;padding:1em 0}
.comment-author .fn{font-weight:bold}.comment-metadata{font-size:.8em;color:#707070}
.comment-badge--official{background:#8a1c1c;color:#fff;font-size:.7em;padding:2px 6px;border-radius:3px}
.comment-author-official>.comment-body{background:#fdf6f6}
.page-numbers{padding:.3em .6em}.current{font-weight:bold}
"""

TEMPLATES = {"base.html": _BASE_TPL, "single.html": _SINGLE_TPL, "list.html": _LIST_TPL, "feed.xml": _FEED_TPL}


@dataclass(slots=True)
class _Category:
    term_id: int
    slug: str
    name: str
    path: str
    count: int = 0


@dataclass(slots=True)
class _Comment:
    id: int
    msg: Message
    author: str
    official: bool
    classes: str
    published: datetime
    human: str
    paragraphs: list[str]
    children: list[_Comment] = field(default_factory=list)


def _excerpt(text: str, words: int = 38) -> str:
    parts = text.split()
    return " ".join(parts[:words])


def _category(company: Company, term_id: int) -> _Category:
    slug = company.id.replace("_", "-")
    name = company.name_ru if company.name_ru == company.name_en else f"{company.name_ru} / {company.name_en}"
    return _Category(term_id, slug, name, f"/category/{slug}/")


def _comments_title(n: int, title: str, lang: str) -> str:
    if lang == "ru":
        return f"{n} {plural_ru(n, 'комментарий', 'комментария', 'комментариев')} к «{title}»"
    return f"One thought on “{title}”" if n == 1 else f"{n} thoughts on “{title}”"


def _comment_classes(c: _Comment, depth: int, index: int, has_children: bool, company: Company) -> str:
    parity = "even" if index % 2 == 0 else "odd alt"
    cls = ["comment"]
    if c.official:
        cls += ["byuser", f"comment-author-{company.official_account.lower()}", "comment-author-official"]
    cls.append(parity)
    if depth == 1:
        cls.append(f"thread-{'even' if index % 2 == 0 else 'odd'}")
    cls.append(f"depth-{depth}")
    if has_children:
        cls.append("parent")
    return " ".join(cls)


def render(root: Path, threads: list[Thread]) -> list[TruthPost]:
    env = make_env(TEMPLATES)
    categories = {c.id: _category(c, 2 + i) for i, c in enumerate(COMPANIES)}

    # Comment ids are global and chronological, as WordPress assigns them.
    stamps = sorted(
        (m.published.astimezone(timezone.utc), ti, ri) for ti, t in enumerate(threads) for ri, m in enumerate(t.replies)
    )
    comment_ids = {(ti, ri): FIRST_COMMENT_ID + 3 * n for n, (_, ti, ri) in enumerate(stamps)}

    posts: list[dict] = []
    slugs: set[str] = set()
    truth: list[TruthPost] = []
    for ti, t in enumerate(threads):
        pid = FIRST_POST_ID + 4 * ti
        slug = slugify(t.title)
        while slug in slugs:
            slug += "-2"
        slugs.add(slug)
        pub = t.root.published
        path = f"/{pub:%Y/%m/%d}/{slug}/"
        cat = categories[t.company.id]
        cat.count += 1
        last = max([pub, *(m.published for m in t.replies)], key=lambda d: d.astimezone(timezone.utc))
        post = {
            "id": pid,
            "thread": t,
            "lang": t.lang,
            "path": path,
            "title": t.title,
            "paragraphs": t.root.paragraphs,
            "excerpt": _excerpt(t.root.text),
            "author": t.root.author.name,
            "author_path": f"/author/{slugify(t.root.author.name)}/",
            "published": pub,
            "published_human": human_date(pub, t.lang),
            "modified": last,
            "modified_human": human_date(last, t.lang),
            "pub_date": format_datetime(pub.astimezone(timezone.utc)),
            "cat": cat,
            "comment_count": len(t.replies),
        }
        post["n_comments"] = (
            f"{len(t.replies)} {plural_ru(len(t.replies), 'комментарий', 'комментария', 'комментариев')}"
            if t.lang == "ru"
            else f"{len(t.replies)} comments"
        )
        post["comments"], comment_truth = _comment_tree(t, ti, comment_ids, path)
        post["comments_title"] = _comments_title(len(t.replies), t.title, t.lang)
        truth.append(
            truth_post(
                t,
                t.root,
                site="blog",
                kind="blog",
                path=path,
                thread_path=path,
                parent_path=None,
                position=0,
                anchor=f"post-{pid}",
            )
        )
        truth.extend(comment_truth)
        posts.append(post)

    newest_first = posts[::-1]
    common = {
        "site_name": SITE_NAME,
        "recent": newest_first[:5],
        "categories": list(categories.values()),
    }
    for i, post in enumerate(posts):
        post["prev"] = posts[i - 1] if i > 0 else None
        post["next"] = posts[i + 1] if i + 1 < len(posts) else None
    for post in posts:
        html = env.get_template("single.html").render(post=post, ui=UI[post["lang"]], **common)
        write_file(root, post["path"], html)

    _render_lists(env, root, "/", "Жалобная книга / Complaint Book", "home blog", newest_first, common)
    for cat in categories.values():
        in_cat = [p for p in newest_first if p["cat"] is cat]
        _render_lists(env, root, cat.path, cat.name, f"archive category category-{cat.slug}", in_cat, common)
    authors: dict[str, list[dict]] = {}
    for p in newest_first:
        authors.setdefault(p["author_path"], []).append(p)
    for apath, aposts in authors.items():
        _render_lists(env, root, apath, aposts[0]["author"], "archive author", aposts, common)

    build = max(p["modified"].astimezone(timezone.utc) for p in posts)
    feed = env.get_template("feed.xml").render(
        posts=newest_first[:PER_PAGE], build_date=format_datetime(build), site_name=SITE_NAME
    )
    write_file(root, "/feed/", feed, index="index.xml")
    write_file(root, "/wp-content/themes/complaintbook/style.css", _CSS)
    write_sitemap(root, [(p["path"], p["modified"]) for p in posts])
    write_robots(root, ["/wp-admin/", "/wp-login.php", "/wp-comments-post.php"])
    return truth


def _comment_tree(
    t: Thread, ti: int, comment_ids: dict[tuple[int, int], int], path: str
) -> tuple[list[_Comment], list[TruthPost]]:
    nodes = [
        _Comment(
            id=comment_ids[(ti, ri)],
            msg=m,
            author=m.author.name,
            official=m.is_company_reply,
            classes="",
            published=m.published,
            human=human_datetime(m.published, t.lang),
            paragraphs=m.paragraphs,
        )
        for ri, m in enumerate(t.replies)
    ]
    top: list[_Comment] = []
    for node, m in zip(nodes, t.replies):
        (top if m.reply_to is None else nodes[m.reply_to].children).append(node)

    truth: list[TruthPost] = []

    def walk(level: list[_Comment], depth: int, parent: _Comment | None) -> None:
        for i, c in enumerate(level):
            c.classes = _comment_classes(c, depth, i, bool(c.children), t.company)
            truth.append(
                truth_post(
                    t,
                    c.msg,
                    site="blog",
                    kind="blog",
                    path=f"{path}#comment-{c.id}",
                    thread_path=path,
                    parent_path=path if parent is None else f"{path}#comment-{parent.id}",
                    position=len(truth) + 1,
                    anchor=f"comment-{c.id}",
                )
            )
            walk(c.children, depth + 1, c)

    walk(top, 1, None)
    return top, truth


def _render_lists(env, root: Path, base: str, heading: str, body_class: str, posts: list[dict], common: dict) -> None:
    chunks = pages(posts, PER_PAGE)
    paths = [base if n == 1 else f"{base}page/{n}/" for n in range(1, len(chunks) + 1)]
    for n, chunk in enumerate(chunks, start=1):
        html = env.get_template("list.html").render(
            ui=UI["ru"],
            heading=heading,
            body_class=body_class,
            path=paths[n - 1],
            posts=chunk,
            prev=paths[n - 2] if n > 1 else None,
            next=paths[n] if n < len(chunks) else None,
            page_links=[{"num": k, "path": paths[k - 1], "current": k == n} for k in range(1, len(chunks) + 1)],
            **common,
        )
        write_file(root, paths[n - 1], html)


__all__ = ["render", "BASE"]
