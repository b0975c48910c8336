"""The XenForo 2 forum "Покупатели.Форум / Shoppers Forum".

Markup follows XenForo 2.2 (the saved katzen-forum thread): thread pages
hold article.message.message--post[data-author][data-content="post-N"] with
time.u-dt[datetime] (XenForo's "+0300" offset format plus data-time epoch),
.message-body .bbWrapper, h5.userTitle; quotes are blockquote.bbCodeBlock--quote
inside .bbWrapper. Long threads are paged at /threads/slug.ID/page-N with
<link rel="next">. Thread lists use div.structItem--thread.
"""

# ruff: noqa: E501 -- hand-written prose and HTML templates read better unwrapped

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .companies import Company
from .corpus import Message, Thread
from .render import make_env, pages, truth_post, write_file, write_robots, write_sitemap
from .textutil import clock, human_date, short_date, slugify
from .truth import TruthPost

SITE_NAME = "Покупатели.Форум / Shoppers Forum"
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


# Forums per language; a thread goes to the one matching its company's kind,
# praise goes to the kudos forum.
_NODES = {
    "ru": [
        (2, "Интернет-магазины и маркетплейсы", "Заказы, возвраты, отмены, качество товаров", ("marketplace", "electronics", "fashion", "home")),
        (3, "Доставка продуктов", "Сервисы доставки еды и продуктов", ("grocery",)),
        (4, "Курьерские службы и посылки", "Потерянные и задержанные отправления", ("courier",)),
        (5, "Банки, карты и платёжные сервисы", "Списания, кэшбэк, блокировки", ("payments",)),
        (6, "Благодарности и хорошие истории", "Когда всё прошло хорошо", ("praise",)),
    ],
    "en": [
        (12, "Online shops & marketplaces", "Orders, returns, cancellations, product quality", ("marketplace", "electronics", "fashion", "home")),
        (13, "Grocery delivery", "Food and grocery delivery services", ("grocery",)),
        (14, "Couriers & parcels", "Lost and delayed shipments", ("courier",)),
        (15, "Banks, cards & payments", "Charges, cashback, blocked cards", ("payments",)),
        (16, "Kudos & good experiences", "When things went right", ("praise",)),
    ],
}  # fmt: skip
_CATEGORIES = {"ru": (1, "Русскоязычный раздел"), "en": (11, "English section")}

UI = {
    "ru": {
        "html_lang": "ru-RU",
        "starter": "Автор темы",
        "start_date": "Дата начала",
        "replies": "Ответы",
        "views": "Просмотры",
        "joined": "Регистрация",
        "messages": "Сообщения",
        "said": "сказал(а):",
        "expand": "Нажмите для раскрытия...",
        "prev": "Назад",
        "next": "Вперёд",
        "page": "Страница",
        "staff": "Представитель компании",
        "forums": "Форумы",
        "threads": "Темы",
    },
    "en": {
        "html_lang": "en-US",
        "starter": "Thread starter",
        "start_date": "Start date",
        "replies": "Replies",
        "views": "Views",
        "joined": "Joined",
        "messages": "Messages",
        "said": "said:",
        "expand": "Click to expand...",
        "prev": "Prev",
        "next": "Next",
        "page": "Page",
        "staff": "Company representative",
        "forums": "Forums",
        "threads": "Threads",
    },
}

_BASE_TPL = """<!DOCTYPE html>
<html id="XF" lang="{{ ui.html_lang }}" dir="LTR"
	data-app="public"
	data-template="{{ template }}"
	data-container-key="{{ container_key }}"
	data-content-key="{{ content_key }}"
	data-logged-in="false"
	data-cookie-prefix="xf_"
	class="has-no-js template-{{ template }}">
<head>
	<meta charset="utf-8" />
	<meta http-equiv="X-UA-Compatible" content="IE=Edge" />
	<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
	<title>{% block title %}{% endblock %} | {{ site_name }}</title>
	<meta property="og:site_name" content="{{ site_name }}" />
{% block head %}{% endblock %}
	<link rel="stylesheet" href="/styles/forum.css" />
</head>
<body data-template="{{ template }}">
<div class="p-pageWrapper" id="top">
<header class="p-header" id="header">
	<div class="p-header-inner"><div class="p-header-content">
		<div class="p-header-logo p-header-logo--image"><a href="/">{{ site_name }}</a></div>
	</div></div>
</header>
<div class="p-body">
	<div class="p-body-inner">
		<ul class="p-breadcrumbs " itemscope itemtype="https://schema.org/BreadcrumbList">
{% for crumb in breadcrumbs %}
			<li itemprop="itemListElement" itemscope itemtype="https://schema.org/ListItem">
				<a href="{{ crumb.path }}" itemprop="item"><span itemprop="name">{{ crumb.name }}</span></a>
				<meta itemprop="position" content="{{ loop.index }}" />
			</li>
{% endfor %}
		</ul>
{% block body %}{% endblock %}
	</div>
</div>
<footer class="p-footer" id="footer"><div class="p-footer-inner"><div class="p-footer-copyright">Forum software by XenForo&reg; &copy; 2010-2024 XenForo Ltd.</div></div></footer>
</div>
</body>
</html>
"""

_PAGENAV = """{% macro pagenav(nav, ui) %}
{% if nav.pages|length > 1 %}
<div class="pageNavWrapper pageNavWrapper--mixed ">
<div class="pageNav  ">
{% if nav.prev %}	<a href="{{ nav.prev }}" class="pageNav-jump pageNav-jump--prev">{{ ui.prev }}</a>
{% endif %}
	<ul class="pageNav-main">
{% for p in nav.pages %}
		<li class="pageNav-page {% if p.current %}pageNav-page--current {% endif %}"><a href="{{ p.path }}">{{ p.num }}</a></li>
{% endfor %}
	</ul>
{% if nav.next %}	<a href="{{ nav.next }}" class="pageNav-jump pageNav-jump--next">{{ ui.next }}</a>
{% endif %}
</div>
</div>
{% endif %}
{% endmacro %}
"""

_TIME = """{% macro xftime(t, extra='') %}<time {{ extra|safe }} class="u-dt" dir="auto" datetime="{{ t.iso }}" data-time="{{ t.epoch }}" data-date-string="{{ t.date }}" data-time-string="{{ t.clock }}" title="{{ t.title }}">{{ t.short }}</time>{% endmacro %}
"""

_THREAD_TPL = """{% extends "base.html" %}
{% from "macros.html" import pagenav, xftime %}
{% block title %}{{ thread.title }}{% if nav.current > 1 %} | {{ ui.page }} {{ nav.current }}{% endif %}{% endblock %}
{% block head %}
	<meta name="description" content="{{ thread.description }}" />
	<meta property="og:description" content="{{ thread.description }}" />
	<meta property="og:url" content="__BASE_URL__{{ page_path }}" />
	<meta property="og:type" content="website" />
	<meta property="og:title" content="{{ thread.title }}" />
	<link rel="canonical" href="__BASE_URL__{{ page_path }}" />
{% if nav.prev %}	<link rel="prev" href="__BASE_URL__{{ nav.prev }}" />
{% endif %}
{% if nav.next %}	<link rel="next" href="__BASE_URL__{{ nav.next }}" />
{% endif %}
	<script type="application/ld+json">
{{ jsonld|jsonld }}
	</script>
{% endblock %}
{% block body %}
<div class="p-body-header">
	<div class="p-title ">
		<h1 class="p-title-value">{{ thread.title }}</h1>
	</div>
	<div class="p-description">
		<ul class="listInline listInline--bullet">
			<li>
				<span class="u-srOnly">{{ ui.starter }}</span>
				<a href="/members/{{ thread.starter.slug }}/" class="username  u-concealed" dir="auto" data-user-id="{{ thread.starter.id }}">{{ thread.starter.name }}</a>
			</li>
			<li>
				<span class="u-srOnly">{{ ui.start_date }}</span>
				<a href="{{ thread.path }}" class="u-concealed">{{ xftime(thread.start) }}</a>
			</li>
		</ul>
	</div>
</div>
<div class="p-body-main  ">
<div class="p-body-content">
<div class="p-body-pageContent">
<div class="block block--messages" data-xf-init="" data-type="post" data-href="/inline-mod/" data-search-target="*">
	<span class="u-anchorTarget" id="posts"></span>
	<div class="block-outer">{{ pagenav(nav, ui) }}</div>
	<div class="block-container lbContainer" data-xf-init="lightbox select-to-quote" data-message-selector=".js-post" data-lb-id="thread-{{ thread.id }}" data-lb-universal="0">
		<div class="block-body js-replyNewMessageContainer">
{% for m in posts %}
	<article class="message message--post js-post js-inlineModContainer {% if m.staff %}message--staff {% endif %} "
		data-author="{{ m.user.name }}"
		data-content="post-{{ m.id }}"
		id="js-post-{{ m.id }}">
		<span class="u-anchorTarget" id="post-{{ m.id }}"></span>
		<div class="message-inner">
			<div class="message-cell message-cell--user">
				<section itemscope itemtype="https://schema.org/Person" class="message-user">
					<div class="message-avatar ">
						<div class="message-avatar-wrapper">
							<a href="/members/{{ m.user.slug }}/" class="avatar avatar--m avatar--default avatar--default--dynamic" data-user-id="{{ m.user.id }}" title="{{ m.user.name }}"><span class="avatar-u{{ m.user.id }}-m" role="img" aria-label="{{ m.user.name }}">{{ m.user.initial }}</span></a>
						</div>
					</div>
					<div class="message-userDetails">
						<h4 class="message-name"><a href="/members/{{ m.user.slug }}/" class="username " dir="auto" itemprop="name" data-user-id="{{ m.user.id }}" data-xf-init="member-tooltip">{% if m.staff %}<span class="username--staff">{{ m.user.name }}</span>{% else %}{{ m.user.name }}{% endif %}</a></h4>
						<h5 class="userTitle message-userTitle" dir="auto" itemprop="jobTitle">{{ m.user.title }}</h5>
{% if m.staff %}
						<div class="userBanner userBanner--staff message-userBanner" dir="auto" itemprop="jobTitle"><span class="userBanner-before"></span><strong>{{ ui.staff }}</strong><span class="userBanner-after"></span></div>
{% endif %}
					</div>
					<div class="message-userExtras">
						<dl class="pairs pairs--justified"><dt>{{ ui.joined }}</dt><dd>{{ m.user.joined }}</dd></dl>
						<dl class="pairs pairs--justified"><dt>{{ ui.messages }}</dt><dd>{{ m.user.posts }}</dd></dl>
					</div>
					<span class="message-userArrow"></span>
				</section>
			</div>
			<div class="message-cell message-cell--main">
				<div class="message-main js-quickEditTarget">
					<header class="message-attribution message-attribution--split">
						<ul class="message-attribution-main listInline ">
							<li class="u-concealed">
								<a href="{{ page_path }}#post-{{ m.id }}" rel="nofollow">{{ xftime(m.time, 'itemprop="datePublished"') }}</a>
							</li>
						</ul>
						<ul class="message-attribution-opposite message-attribution-opposite--list ">
							<li><a href="{{ page_path }}#post-{{ m.id }}" class="message-attribution-gadget" rel="nofollow">#{{ m.number }}</a></li>
						</ul>
					</header>
					<div class="message-content js-messageContent">
						<div class="message-userContent lbContainer js-lbContainer " data-lb-id="post-{{ m.id }}" data-lb-caption-desc="{{ m.user.name }} &middot; {{ m.time.title }}">
							<article class="message-body js-selectToQuote">
								<div class="bbWrapper">{% if m.quote %}<blockquote data-attributes="member: {{ thread.starter.id }}" data-quote="{{ thread.starter.name }}" data-source="post: {{ thread.first_post_id }}"
	class="bbCodeBlock bbCodeBlock--expandable bbCodeBlock--quote js-expandWatch">
	<div class="bbCodeBlock-title"><a href="{{ thread.path }}#post-{{ thread.first_post_id }}" class="bbCodeBlock-sourceJump" rel="nofollow" data-xf-click="attribution" data-content-selector="#post-{{ thread.first_post_id }}">{{ thread.starter.name }} {{ ui.said }}</a></div>
	<div class="bbCodeBlock-content">
		<div class="bbCodeBlock-expandContent js-expandContent ">{{ m.quote }}</div>
		<div class="bbCodeBlock-expandLink js-expandLink"><a role="button" tabindex="0">{{ ui.expand }}</a></div>
	</div>
</blockquote>{% endif %}{% for p in m.paragraphs %}{% if not loop.first %}<br />
<br />
{% endif %}{{ p }}{% endfor %}</div>
								<div class="js-selectToQuoteEnd">&nbsp;</div>
							</article>
						</div>
					</div>
					<footer class="message-footer"><div class="reactionsBar js-reactionsList "></div></footer>
				</div>
			</div>
		</div>
	</article>
{% endfor %}
		</div>
	</div>
	<div class="block-outer block-outer--after">{{ pagenav(nav, ui) }}</div>
</div>
</div>
</div>
</div>
{% endblock %}
"""

_LIST_TPL = """{% extends "base.html" %}
{% from "macros.html" import pagenav, xftime %}
{% block title %}{{ node.title }}{% if nav.current > 1 %} | {{ ui.page }} {{ nav.current }}{% endif %}{% endblock %}
{% block head %}
	<link rel="canonical" href="__BASE_URL__{{ page_path }}" />
{% if nav.prev %}	<link rel="prev" href="__BASE_URL__{{ nav.prev }}" />
{% endif %}
{% if nav.next %}	<link rel="next" href="__BASE_URL__{{ nav.next }}" />
{% endif %}
{% endblock %}
{% block body %}
<div class="p-body-header"><div class="p-title "><h1 class="p-title-value">{{ node.title }}</h1></div><div class="p-description">{{ node.description }}</div></div>
<div class="block block--threadList" data-xf-init="inline-mod" data-type="thread">
	<div class="block-outer">{{ pagenav(nav, ui) }}</div>
	<div class="block-container">
		<div class="block-body">
			<div class="structItemContainer">
				<div class="structItemContainer-group js-threadList">
{% for t in threads %}
	<div class="structItem structItem--thread js-inlineModContainer js-threadListItem-{{ t.id }}" data-author="{{ t.starter.name }}">
		<div class="structItem-cell structItem-cell--icon">
			<div class="structItem-iconContainer"><span class="avatar avatar--s avatar--default" data-user-id="{{ t.starter.id }}" title="{{ t.starter.name }}">{{ t.starter.initial }}</span></div>
		</div>
		<div class="structItem-cell structItem-cell--main" data-xf-init="touch-proxy">
			<div class="structItem-title">
				<a href="{{ t.path }}" class="" data-tp-primary="on" data-xf-init="preview-tooltip">{{ t.title }}</a>
			</div>
			<div class="structItem-minor">
				<ul class="structItem-parts">
					<li><a href="/members/{{ t.starter.slug }}/" class="username " dir="auto" data-user-id="{{ t.starter.id }}">{{ t.starter.name }}</a></li>
					<li class="structItem-startDate"><a href="{{ t.path }}" rel="nofollow">{{ xftime(t.start) }}</a></li>
{% if t.page_paths|length > 1 %}
					<span class="structItem-pageJump">
{% for p in t.page_paths[1:] %}
						<a href="{{ p }}">{{ loop.index + 1 }}</a>
{% endfor %}
					</span>
{% endif %}
				</ul>
			</div>
		</div>
		<div class="structItem-cell structItem-cell--meta" title="">
			<dl class="pairs pairs--justified"><dt>{{ ui.replies }}</dt><dd>{{ t.n_replies }}</dd></dl>
			<dl class="pairs pairs--justified structItem-minor"><dt>{{ ui.views }}</dt><dd>{{ t.views }}</dd></dl>
		</div>
		<div class="structItem-cell structItem-cell--latest">
			<a href="{{ t.page_paths[-1] }}" rel="nofollow">{{ xftime(t.last, 'class="structItem-latestDate"') }}</a>
			<div class="structItem-minor"><a href="/members/{{ t.last_user.slug }}/" class="username " dir="auto" data-user-id="{{ t.last_user.id }}">{{ t.last_user.name }}</a></div>
		</div>
	</div>
{% endfor %}
				</div>
			</div>
		</div>
	</div>
	<div class="block-outer block-outer--after">{{ pagenav(nav, ui) }}</div>
</div>
{% endblock %}
"""

_INDEX_TPL = """{% extends "base.html" %}
{% block title %}{{ ui.forums }}{% endblock %}
{% block head %}
	<link rel="canonical" href="__BASE_URL__/" />
{% endblock %}
{% block body %}
<div class="p-body-header"><div class="p-title "><h1 class="p-title-value">{{ site_name }}</h1></div></div>
{% for cat in categories %}
<div class="block block--category block--category{{ cat.id }}">
	<span class="u-anchorTarget" id="{{ cat.slug }}.{{ cat.id }}"></span>
	<div class="block-container">
		<h2 class="block-header"><a href="/#{{ cat.slug }}.{{ cat.id }}">{{ cat.title }}</a></h2>
		<div class="block-body">
{% for node in cat.nodes %}
			<div class="node node--id{{ node.id }} node--depth2 node--forum node--read">
				<div class="node-body">
					<span class="node-icon" aria-hidden="true"><i class="fa--xf far fa-comments"></i></span>
					<div class="node-main js-nodeMain">
						<h3 class="node-title"><a href="{{ node.path }}" data-xf-init="element-tooltip" data-shortcut="node-description">{{ node.title }}</a></h3>
						<div class="node-description node-description--tooltip js-nodeDescTooltip">{{ node.description }}</div>
					</div>
					<div class="node-stats">
						<dl class="pairs pairs--rows"><dt>{{ ui.threads }}</dt><dd>{{ node.threads|length }}</dd></dl>
						<dl class="pairs pairs--rows"><dt>{{ ui.messages }}</dt><dd>{{ node.n_posts }}</dd></dl>
					</div>
				</div>
			</div>
{% endfor %}
		</div>
	</div>
</div>
{% endfor %}
{% endblock %}
"""

_CSS = """body{margin:0;font-family:'Segoe UI',Roboto,Arial,sans-serif;font-size:14px;background:#fefefe;color:#141414}
.p-header{background:#185886;color:#fff;padding:12px 20px}.p-header a{color:#fff;font-size:20px;text-decoration:none}
.p-body-inner{max-width:1200px;margin:0 auto;padding:10px}
.p-breadcrumbs{list-style:none;padding:0;display:flex;gap:8px}.p-breadcrumbs li+li:before{content:'›';margin-right:8px}
.block-container{border:1px solid #d8d8d8;border-radius:3px;background:#fff;margin:8px 0}
.block-header{background:#f5f5f5;margin:0;padding:8px 10px;font-size:16px}
.node-body,.structItem{display:flex;border-top:1px solid #e7e7e7;padding:8px 10px;gap:12px}
.node-main,.structItem-cell--main{flex:1}.pairs dt{color:#8c8c8c;display:inline}.pairs dd{display:inline;margin-left:4px}
.message-inner{display:flex;border-top:1px solid #e7e7e7}.message-cell--user{width:160px;background:#f5f5f5;padding:10px;text-align:center}
.message-cell--main{flex:1;padding:10px}.message-attribution{display:flex;justify-content:space-between;color:#8c8c8c;font-size:12px}
.userTitle{font-weight:normal;color:#8c8c8c;margin:2px 0}.userBanner--staff{background:#185886;color:#fff;border-radius:3px;padding:1px 5px;font-size:11px}
.bbCodeBlock--quote{border-left:3px solid #185886;background:#f5f5f5;margin:0 0 8px;padding:6px 10px}
.pageNav-main{display:inline-flex;list-style:none;gap:4px;padding:0}.pageNav-page--current a{font-weight:bold}
.u-srOnly{position:absolute;left:-9999px}.listInline{list-style:none;padding:0;display:flex;gap:10px}
"""

TEMPLATES = {
    "base.html": _BASE_TPL,
    "macros.html": _PAGENAV + _TIME,
    "thread.html": _THREAD_TPL,
    "list.html": _LIST_TPL,
    "index.html": _INDEX_TPL,
}


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
        if msg.is_company_reply:
            title = (
                f"Официальный представитель {company.name_ru}"
                if lang == "ru"
                else f"Official {company.name_en} representative"
            )
        else:
            c = counts[name]
            title = ("Новичок", "Участник", "Активный участник")[min(2, c // 3)]
            if lang == "en":
                title = ("New member", "Member", "Well-known member")[min(2, c // 3)]
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
    env = make_env(TEMPLATES)
    users = _users(threads)
    nodes: dict[tuple[str, str], _Node] = {}
    for lang, defs in _NODES.items():
        for nid, title, desc, keys in defs:
            node = _Node(nid, lang, title, desc, slugify(title))
            for key in keys:
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
        cid, ctitle = _CATEGORIES[lang]
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
    write_file(root, "/styles/forum.css", _CSS)
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


def _crumbs(lang: str, node: _Node | None) -> list[dict]:
    cid, ctitle = _CATEGORIES[lang]
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
