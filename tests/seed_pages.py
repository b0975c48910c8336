"""Wrap the two real seed posts (../shared/seeds) in realistic blog HTML.

000 becomes a vc.ru-style post with the shop's official reply and a reader
comment; 002 becomes a LiveJournal (s2 "b-singlepost") entry with its date
line, tags and the "Previous post / Next post" navigation around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path


@dataclass(slots=True)
class SeedThread:
    title: str
    body: list[str]  # paragraphs
    replies: list[list[str]]  # each reply: paragraphs


def read_seed_000(shared: Path) -> SeedThread:
    lines = [ln.strip() for ln in (shared / "seeds" / "000_e27f6b1a759fe5fe.txt").read_text("utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    reply_at = next(i for i, ln in enumerate(lines) if ln.startswith("Борис, добрый день"))
    return SeedThread(
        title=lines[0],
        body=lines[1:reply_at],
        replies=[lines[reply_at:-1], [lines[-1]]],  # the shop's answer, then a reader
    )


def read_seed_002(shared: Path) -> tuple[SeedThread, str, list[str]]:
    """(thread, the date line as shown, tags)."""
    raw = (shared / "seeds" / "002_82d63a3b189fd4da.txt").read_text("utf-8").splitlines()
    lines = [ln.strip() for ln in raw if ln.strip()]
    title, date_line = lines[0], lines[1]
    end = lines.index("Previous post Next post")
    tags = [t.strip() for t in lines[end - 1].split(",")]
    body = [ln for ln in lines[2 : end - 1] if ln != "[Spoiler (click to open)]"]
    return SeedThread(title=title, body=body, replies=[]), date_line, tags


def _paras(ps: list[str]) -> str:
    return "\n".join(f"<p>{escape(p)}</p>" for p in ps)


def livejournal_page(thread: SeedThread, date_line: str, tags: list[str], user: str, url: str) -> str:
    tag_links = ", ".join(f'<a href="https://{user}.livejournal.com/tag/{escape(t)}">{escape(t)}</a>' for t in tags)
    return f"""<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8">
<title>{escape(thread.title)}: {user} — LiveJournal</title>
<meta property="og:title" content="{escape(thread.title)}">
<meta property="og:type" content="article">
<meta property="og:url" content="{url}">
<link rel="canonical" href="{url}">
</head><body class="s-schemius p-journal-style-s2">
<header class="s-header"><a href="https://{user}.livejournal.com/">{user}</a> — <nav>
<a href="https://{user}.livejournal.com/profile">Profile</a> <a href="#">Recent Entries</a>
<a href="#">Archive</a></nav></header>
<article class="b-singlepost hentry h-entry" role="main">
<div class="b-singlepost-about"><dl class="b-singlepost-author author vcard p-author h-card">
<dd class="b-singlepost-author-userinfo"><span class="b-singlepost-author-user fn p-name">
<span class="ljuser i-ljuser" data-ljuser="{user}" lj:user="{user}"><a class="i-ljuser-username"
 href="https://{user}.livejournal.com/"><b>{user}</b></a></span></span><br>
<time class="b-singlepost-author-date published dt-published">{escape(date_line)}</time></dd></dl>
<ul class="b-linkbar"><li class="b-linkbar-item"><a class="b-controls b-controls-prev" href="#">Previous post</a></li>
<li class="b-linkbar-item"><a class="b-controls b-controls-next" href="#">Next post</a></li></ul></div>
<h1 class="b-singlepost-title entry-title p-name">{escape(thread.title)}</h1>
<div class="b-singlepost-bodywrapper"><article class="b-singlepost-body entry-content e-content">
{_paras(thread.body)}
</article></div>
<div class="b-singlepost-tags ljtags"><span class="b-singlepost-tags-head">Tags: </span>
<span class="b-singlepost-tags-items">{tag_links}</span></div>
</article>
<nav class="entry-navigation"><a href="#">Previous post</a> <a href="#">Next post</a> <a href="#">Up</a></nav>
<footer>LiveJournal © 1999–2013</footer>
</body></html>"""


@dataclass(slots=True)
class VcComment:
    id: int
    author: str
    iso: str  # machine date
    paragraphs: list[str]
    verified: bool = False


def vcru_page(thread: SeedThread, author: str, iso: str, shown: str, comments: list[VcComment], url: str) -> str:
    """An Osnova (vc.ru) post page: article, then the comment tree."""
    items = []
    for c in comments:
        badge = '<span class="comment__verified" title="Подтверждённый аккаунт">✓</span>' if c.verified else ""
        items.append(f"""<div class="comment" data-id="{c.id}">
  <div class="comment__header"><a class="comment__author" href="/u/{c.id}">
    <span class="comment__author-name">{escape(c.author)}</span>{badge}</a>
    <a class="comment__date" href="{url}?comment={c.id}"><time datetime="{c.iso}">{c.iso[:10]}</time></a></div>
  <div class="comment__text">{_paras(c.paragraphs)}</div>
  <div class="comment__actions"><button>Ответить</button></div>
</div>""")
    return f"""<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>{escape(thread.title)} — Личный опыт на vc.ru</title>
<meta property="og:title" content="{escape(thread.title)}"><meta property="og:type" content="article">
<link rel="canonical" href="{url}"></head>
<body><header class="site-header"><a href="/">vc.ru</a> <a href="/new">Свежее</a>
<a href="/popular">Популярное</a></header>
<div class="content content--full">
  <div class="content-header">
    <div class="content-header-author"><a href="/u/1" class="content-header-author__name">{escape(author)}</a></div>
    <div class="content-header__date"><time datetime="{iso}">{escape(shown)}</time></div>
  </div>
  <h1 class="content-title">{escape(thread.title)}</h1>
  <div class="content__body">{_paras(thread.body)}</div>
</div>
<div class="comments"><div class="comments__title">{len(comments)} комментария</div>
{chr(10).join(items)}
</div>
<footer>© vc.ru</footer></body></html>"""
