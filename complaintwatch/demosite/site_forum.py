"""The XenForo 2 forum "Покупатели.Форум / Shoppers Forum".

Markup follows XenForo 2.2 (the saved katzen-forum thread): thread pages
hold article.message.message--post[data-author][data-content="post-N"] with
time.u-dt[datetime] (XenForo's "+0300" offset format plus data-time epoch),
.message-body .bbWrapper, h5.userTitle; quotes are blockquote.bbCodeBlock--quote
inside .bbWrapper. Long threads are paged at /threads/slug.ID/page-N with
<link rel="next">. Thread lists use div.structItem--thread.
Templates: templates/forum/; strings and forum sections: data/forum.toml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .companies import Company
from .corpus import Message, Thread
from .render import make_env, pages, truth_post, write_file, write_robots, write_sitemap, write_static
from .resources import load_data
from .textutil import clock, human_date, short_date, slugify
from .truth import TruthPost

_DATA = load_data("forum")
SITE_NAME: str = _DATA["name"]
UI: dict[str, dict] = _DATA["ui"]  # theme strings per language
POSTS_PER_PAGE = 10
THREADS_PER_PAGE = 20
FIRST_THREAD_ID = 2301
FIRST_POST_ID = 40117


@dataclass(slots=True)
class _Node:
    id: int
    lang: str
    title: str
    description: str
    slug: str
    threads: list[dict] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/forums/{self.slug}.{self.id}/"


@dataclass(slots=True)
class _User:
    id: int
    name: str
    slug: str
    initial: str
    title: str
    joined: str
    posts: int


def _xftime(dt: datetime, lang: str) -> dict:
    """XenForo's own attribute set; datetime uses its "+0300" offset style."""
    date = human_date(dt, lang)
    return {
        "iso": dt.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "epoch": int(dt.timestamp()),
        "date": date,
        "clock": clock(dt, lang),
        "title": f"{date} {'в' if lang == 'ru' else 'at'} {clock(dt, lang)}",
        "short": short_date(dt, lang),
    }


def _node_for(nodes: dict[tuple[str, str], _Node], t: Thread) -> _Node:
    key = "praise" if t.topic == "praise" else t.company.kind
    return nodes[(t.lang, key)]


def _users(threads: list[Thread]) -> dict[str, _User]:
    """One member per display name; ids in order of first post, like signups."""
    msgs = sorted(
        ((m.published.astimezone(timezone.utc), m, t.company, t.lang) for t in threads for m in [t.root, *t.replies]),
        key=lambda x: x[0],
    )
    counts: dict[str, int] = {}
    first: dict[str, tuple[datetime, Message, Company, str]] = {}
    for item in msgs:
        name = item[1].author.name
        counts[name] = counts.get(name, 0) + 1
        first.setdefault(name, item)
    users: dict[str, _User] = {}
    for n, (name, (when, msg, company, lang)) in enumerate(first.items()):
        uid = 1040 + 37 * n
        ui = UI["ru" if lang == "ru" else "en"]
        if msg.is_company_reply:
            title = ui["official_title"].format(company=company.name(lang))
        else:
            title = ui["ranks"][min(2, counts[name] // 3)]
        users[name] = _User(
            id=uid,
            name=name,
            slug=f"{slugify(name, 40)}.{uid}",
            initial=name[:1].upper(),
            title=title,
            joined=short_date(when, lang),
            posts=counts[name] + (uid * 7) % 300,
        )
    return users


def render(root: Path, threads: list[Thread]) -> list[TruthPost]:
    env = make_env("forum")
    users = _users(threads)
    nodes: dict[tuple[str, str], _Node] = {}
    # a thread goes to the forum listing its company's kind, praise to the kudos forum
    for lang, defs in _DATA["nodes"].items():
        for d in defs:
            node = _Node(d["id"], lang, d["title"], d["description"], slugify(d["title"]))
            for key in d["keys"]:
                nodes[(lang, key)] = node

    # Post ids are global and chronological, like a real forum's.
    stamps = sorted(
        (m.published.astimezone(timezone.utc), ti, ri)
        for ti, t in enumerate(threads)
        for ri, m in enumerate([t.root, *t.replies])
    )
    post_ids = {(ti, ri): FIRST_POST_ID + 2 * n for n, (_, ti, ri) in enumerate(stamps)}

    truth: list[TruthPost] = []
    sitemap: list[tuple[str, datetime]] = []
    for ti, t in enumerate(threads):
        tid = FIRST_THREAD_ID + 3 * ti
        path = f"/threads/{slugify(t.title, 50)}.{tid}/"
        msgs = [t.root, *t.replies]
        chunks = pages(list(enumerate(msgs)), POSTS_PER_PAGE)
        page_paths = [path if n == 1 else f"{path}page-{n}" for n in range(1, len(chunks) + 1)]
        starter = users[t.root.author.name]
        info = {
            "id": tid,
            "title": t.title,
            "path": path,
            "page_paths": page_paths,
            "starter": starter,
            "start": _xftime(t.root.published, t.lang),
            "last": _xftime(msgs[-1].published, t.lang),
            "last_user": users[msgs[-1].author.name],
            "n_replies": len(t.replies),
            "views": 40 + (tid * 13) % 900 + 60 * len(t.replies),
            "first_post_id": post_ids[(ti, 0)],
            "description": t.root.text[:150].replace("\n\n", " ") + "...",
            "sort_key": msgs[-1].published.astimezone(timezone.utc),
        }
        _node_for(nodes, t).threads.append(info)
        jsonld = {
            "@context": "https://schema.org",
            "@type": "DiscussionForumPosting",
            "@id": f"__BASE_URL__{path}",
            "headline": t.title,
            "articleBody": t.root.text[:200] + ("..." if len(t.root.text) > 200 else ""),
            "articleSection": _node_for(nodes, t).title,
            "author": {"@type": "Person", "name": t.root.author.name},
            "datePublished": t.root.published.isoformat(timespec="seconds"),
            "dateModified": msgs[-1].published.isoformat(timespec="seconds"),
            "inLanguage": t.lang,
            "interactionStatistic": {
                "@type": "InteractionCounter",
                "interactionType": "https://schema.org/ReplyAction",
                "userInteractionCount": len(t.replies),
            },
            "publisher": {"@type": "Organization", "name": SITE_NAME},
            "mainEntityOfPage": {"@type": "WebPage", "@id": f"__BASE_URL__{path}"},
        }
        for n, chunk in enumerate(chunks, start=1):
            page_path = page_paths[n - 1]
            posts = []
            for ri, m in chunk:
                pid = post_ids[(ti, ri)]
                posts.append(
                    {
                        "id": pid,
                        "number": ri + 1,
                        "user": users[m.author.name],
                        "staff": m.is_company_reply,
                        "time": _xftime(m.published, t.lang),
                        "paragraphs": m.paragraphs,
                        "quote": m.quote,
                    }
                )
                if ri == 0:
                    truth.append(
                        truth_post(
                            t,
                            m,
                            site="forum",
                            kind="forum",
                            path=path,
                            thread_path=path,
                            parent_path=None,
                            position=0,
                            anchor=f"post-{pid}",
                        )
                    )
                else:
                    truth.append(
                        truth_post(
                            t,
                            m,
                            site="forum",
                            kind="forum",
                            path=f"{path}#post-{pid}",
                            page_path=page_path,
                            thread_path=path,
                            parent_path=path,
                            position=ri,
                            anchor=f"post-{pid}",
                        )
                    )
            nav = _nav(page_paths, n)
            html = env.get_template("thread.html").render(
                ui=UI[t.lang],
                site_name=SITE_NAME,
                template="thread_view",
                container_key=f"node-{_node_for(nodes, t).id}",
                content_key=f"thread-{tid}",
                breadcrumbs=_crumbs(t.lang, _node_for(nodes, t)),
                thread=info,
                posts=posts,
                page_path=page_path,
                nav=nav,
                jsonld=jsonld,
            )
            write_file(root, page_path, html)
            sitemap.append((page_path, chunk[-1][1].published))

    unique_nodes = list({id(n): n for n in nodes.values()}.values())
    for node in unique_nodes:
        _render_node(env, root, node)
    cats = []
    for lang in ("ru", "en"):
        cid, ctitle = _category(lang)
        lnodes = [
            {
                "id": n.id,
                "path": n.path,
                "title": n.title,
                "description": n.description,
                "threads": n.threads,
                "n_posts": sum(1 + t["n_replies"] for t in n.threads),
            }
            for n in unique_nodes
            if n.lang == lang
        ]
        cats.append({"id": cid, "title": ctitle, "slug": slugify(ctitle, 30), "nodes": lnodes})
    html = env.get_template("index.html").render(
        ui=UI["ru"],
        site_name=SITE_NAME,
        template="forum_list",
        container_key="",
        content_key="",
        breadcrumbs=[{"path": "/", "name": UI["ru"]["forums"]}],
        categories=cats,
    )
    write_file(root, "/", html)
    write_static(root, "forum")
    write_sitemap(root, sitemap)
    write_robots(root, ["/login/", "/register/", "/members/", "/search/", "/inline-mod/"])
    return truth


def _nav(page_paths: list[str], current: int) -> dict:
    return {
        "current": current,
        "prev": page_paths[current - 2] if current > 1 else None,
        "next": page_paths[current] if current < len(page_paths) else None,
        "pages": [{"num": k, "path": p, "current": k == current} for k, p in enumerate(page_paths, start=1)],
    }


def _category(lang: str) -> tuple[int, str]:
    """The category holding this language's forums: (id, title)."""
    cat = _DATA["categories"][lang]
    return cat["id"], cat["title"]


def _crumbs(lang: str, node: _Node | None) -> list[dict]:
    cid, ctitle = _category(lang)
    crumbs = [
        {"path": "/", "name": UI[lang]["forums"]},
        {"path": f"/#{slugify(ctitle, 30)}.{cid}", "name": ctitle},
    ]
    if node is not None:
        crumbs.append({"path": node.path, "name": node.title})
    return crumbs


def _render_node(env, root: Path, node: _Node) -> None:
    ordered = sorted(node.threads, key=lambda t: t["sort_key"], reverse=True)
    chunks = pages(ordered, THREADS_PER_PAGE)
    paths = [node.path if n == 1 else f"{node.path}page-{n}" for n in range(1, len(chunks) + 1)]
    for n, chunk in enumerate(chunks, start=1):
        html = env.get_template("list.html").render(
            ui=UI[node.lang],
            site_name=SITE_NAME,
            template="forum_view",
            container_key=f"node-{node.id}",
            content_key="",
            breadcrumbs=_crumbs(node.lang, None),
            node=node,
            threads=chunk,
            page_path=paths[n - 1],
            nav=_nav(paths, n),
        )
        write_file(root, paths[n - 1], html)
