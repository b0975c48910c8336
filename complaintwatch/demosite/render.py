"""Shared rendering plumbing: Jinja environment, file layout, sitemaps, robots.

Each site's templates live in templates/<site>/, its fixed files (CSS) in
static/<site>/ under the URL path they are served at.

URL layout rule (mirrored by server.py): a path ending in "/" is stored as
<path>/index.html (or index.xml for feeds); any other path is stored as a
file of that exact name, and extension-less files are served as HTML. This
lets the demo keep the real platforms' URL shapes ("/reviews/<id>",
"/threads/slug.123/page-2") with a plain static file tree.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .corpus import Message, Thread
from .resources import PACKAGE, static_files
from .truth import TruthPost

BASE = "__BASE_URL__"  # replaced by the server with http://127.0.0.1:PORT


def make_env(site: str) -> Environment:
    """Jinja environment over templates/<site>/."""
    env = Environment(
        loader=PackageLoader(PACKAGE, f"templates/{site}"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["jsonld"] = to_jsonld
    env.filters["iso"] = lambda dt: dt.isoformat(timespec="seconds")
    return env


def to_jsonld(obj: object) -> Markup:
    """JSON for a <script> block: "</" is escaped so text cannot close the tag."""
    text = json.dumps(obj, ensure_ascii=False, indent=2).replace("</", "<\\/")
    return Markup(text)


def write_file(root: Path, url_path: str, content: str, index: str = "index.html") -> None:
    rel = url_path.lstrip("/")
    target = root / rel / index if url_path.endswith("/") else root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(content)


def write_static(root: Path, site: str) -> None:
    for url_path, content in static_files(site):
        write_file(root, url_path, content)


def write_sitemap(root: Path, entries: list[tuple[str, datetime]]) -> None:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for path, lastmod in entries:
        lines.append(
            f"  <url><loc>{xml_escape(BASE + path)}</loc>"
            f"<lastmod>{lastmod.isoformat(timespec='seconds')}</lastmod></url>"
        )
    lines.append("</urlset>")
    write_file(root, "/sitemap.xml", "\n".join(lines) + "\n")


def write_robots(root: Path, disallow: list[str]) -> None:
    lines = ["User-agent: *", *(f"Disallow: {p}" for p in disallow), "", f"Sitemap: {BASE}/sitemap.xml", ""]
    write_file(root, "/robots.txt", "\n".join(lines))


def pages(items: list, per_page: int) -> list[list]:
    return [items[i : i + per_page] for i in range(0, len(items), per_page)] or [[]]


def truth_post(
    thread: Thread,
    msg: Message,
    *,
    site: str,
    kind: str,
    path: str,
    page_path: str | None = None,
    thread_path: str,
    parent_path: str | None,
    position: int,
    anchor: str | None,
) -> TruthPost:
    root = msg is thread.root
    return TruthPost(
        site=site,
        kind=kind,
        path=path,
        page_path=page_path or thread_path,
        thread_path=thread_path,
        parent_path=parent_path,
        position=position,
        anchor=anchor,
        companies=thread.companies,
        incident=thread.incident if root else None,
        language=thread.lang,
        published=msg.published.isoformat(timespec="seconds"),
        author=msg.author.name,
        is_company_reply=msg.is_company_reply,
        title=thread.title,
        text=msg.text,
        rating=thread.rating if root else None,
    )
