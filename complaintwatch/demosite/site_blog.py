"""The WordPress multi-author blog "Жалобная книга / Complaint Book".

Markup follows a Twenty Fifteen based WordPress theme (the saved lemire.me
page): article.post > h1.entry-title / div.entry-content, footer with
time.entry-date.published and .author.vcard a.url.fn[rel=author], threaded
comments as ol.comment-list > li.comment > article.comment-body with nested
ol.children. Yoast-style <meta property="article:published_time"> in <head>.
Templates: templates/blog/; strings: data/blog.toml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from .companies import COMPANIES, Company
from .corpus import Message, Thread
from .render import BASE, make_env, pages, truth_post, write_file, write_robots, write_sitemap, write_static
from .resources import load_data
from .textutil import human_date, human_datetime, plural_ru, slugify
from .truth import TruthPost

_DATA = load_data("blog")
SITE_NAME: str = _DATA["name"]
UI: dict[str, dict[str, str]] = _DATA["ui"]  # theme strings per post language
PER_PAGE = 20
FIRST_POST_ID = 1187
FIRST_COMMENT_ID = 24051


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
    env = make_env("blog")
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
        post: dict[str, Any] = {
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

    _render_lists(env, root, "/", SITE_NAME, "home blog", newest_first, common)
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
    write_static(root, "blog")
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
