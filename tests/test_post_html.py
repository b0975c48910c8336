"""Posts in lists built in Python (web/post_html.py, issue 16 "Serving under
load"): the markup is exactly what the Jinja macros made before (kept here as
the reference), for every post of the web dataset and for hostile ones (markup,
bidi controls and quotes in titles, authors, site names and company names;
undated, untitled comments; company replies; unknown incident types), with
pseudonymised authors, and under a URL prefix; the search page's result list
is the reference loop's output."""

from __future__ import annotations

from datetime import timedelta

import pytest
from markupsafe import Markup

from complaintwatch.models import Post, SiteKind
from complaintwatch.sites import SITE_STATE
from tests.clock import NOW
from web import create_app
from web.params import parse_search_params
from web.post_html import post_item_html, post_meta_html, result_items_html
from web.search import run_search

# templates/_macros.html's post macros as they were, rendered by Jinja: the reference markup
REFERENCE = """\
{% macro incident_link(incidents, incident_id) -%}
  {%- if incident_id is not none -%}
    {%- set inc = incidents.get(incident_id) -%}
    <a class="tag tag-incident" href="{{ url_for('incidents.incident', incident_id=incident_id) }}">\
{{ inc.label_en if inc else 'Incident #' ~ incident_id }}</a>
  {%- endif -%}
{%- endmacro %}

{% macro company_links(companies) -%}
  {%- for c in companies -%}
    <a class="tag tag-company" dir="auto" href="{{ url_for('companies.company', company_id=c) }}">\
{{ company_name(c) }}</a>
  {%- endfor -%}
{%- endmacro %}

{% macro post_meta(post, incidents) -%}
  <div class="meta">
    <time datetime="{{ post.published_at.isoformat() if post.published_at else '' }}">\
{{ post.published_at|date }}</time>
    {% set site = site_info(post.source_site, post.site_kind.value) %}
    <span class="sep">·</span> <span class="site" title="{{ post.source_site }}">{{ site.label }}</span>
    {%- if site.kind_label %} <span class="site-kind muted">({{ site.kind_label }})</span>{% endif %}
    {% if post.author %}<span class="sep"> · </span><span class="author" dir="auto">\
{{ post.author|author }}</span>{% endif %}
    {% if post.language %}<span class="sep"> · </span><span class="lang">{{ post.language }}</span>{% endif %}
    {% if post.is_comment %}<span class="sep"> · </span><span class="kind">comment</span>{% endif %}
    {% if post.is_company_reply %}<span class="sep"> · </span>\
<span class="badge badge-reply">company reply</span>{% endif %}
  </div>
  <div class="tags">{{ company_links(post.companies) }} {{ incident_link(incidents, post.incident_id) }}</div>
{%- endmacro %}

{% macro post_item(post, incidents, snippet=none, extra_class='', similar=false) -%}
  <article class="result {{ extra_class }}{% if similar %} similar{% endif %}" data-post-id="{{ post.id }}"\
{% if similar %} data-similar="1"{% endif %}>
    {% if similar %}<p class="similar-mark"><span class="badge badge-similar" title="Found by meaning: \
the words of the query are not in this post">similar in meaning</span></p>{% endif %}
    <h3 dir="auto"><a href="{{ url_for('posts.post', post_id=post.id) }}">
      {%- if post.title or not post.is_comment %}{{ post|post_title }}{% else %}Comment\
{% if post.author %} by <bdi>{{ post.author|author }}</bdi>{% endif %}{% endif -%}
    </a></h3>
    {% if snippet is not none %}
      <p class="snippet" dir="auto">{{ snippet }}</p>
    {% else %}
      <p class="snippet" dir="auto">{{ post.text|truncate(240, true, '…', 0) }}</p>
    {% endif %}
    {{ post_meta(post, incidents) }}
  </article>
{%- endmacro %}
"""

SNIPPET = Markup("…the <mark>card</mark> was &lt;blocked&gt; twice…")
HOSTILE_SITE = "evil.example"


def _reference(app, call: str, **context) -> str:
    defs = app.jinja_env.from_string(REFERENCE).render()  # the blank lines between the macros
    out = app.jinja_env.from_string(REFERENCE + call).render(**context)
    assert out.startswith(defs)
    return out[len(defs) :]


def _hostile_posts() -> list[Post]:
    """Posts with everything a renderer can get wrong, none of them stored."""
    base = dict(url="https://evil.example/t/1", source_site=HOSTILE_SITE, site_kind=SiteKind.FORUM)
    t = NOW - timedelta(days=3)
    return [
        Post(
            **base,
            title='<script>alert("t")</script> & \u202eevil',
            text="<b>bold</b> " + "word " * 80,
            author='Mallory <m@x> "&" \u202e',
            published_at=t,
            language="en",
            companies=["sber", "acme&<co>", 'q"uote'],
            incident_id=10**6,  # not a known type: "Incident #1000000"
            id=10**9,
        ),
        Post(  # an untitled comment with an author: "Comment by <bdi>author</bdi>"
            **{**base, "url": "https://evil.example/t/1#c1"},
            title="",
            text="short & <i>plain</i>",
            author="Eve & Co",
            parent_url="https://evil.example/t/1",
            id=7,
        ),
        Post(  # an untitled, anonymous, undated company reply in no language, tagged nowhere
            url="https://blog.example/p#r",
            source_site="blog.example",
            site_kind=SiteKind.BLOG,
            title="",
            text="",
            parent_url="https://blog.example/p",
            is_company_reply=True,
            id=8,
        ),
        Post(url="https://x.example/a", source_site="x.example", site_kind=SiteKind.REVIEW, title="", text="", id=9),
    ]


@pytest.fixture(scope="module", params=["plain", "pseudonymised", "prefixed"])
def app_ctx(request, ds):
    """The app over the web dataset (with a site named in markup), in a request context."""
    ds.store.state_put(SITE_STATE, HOSTILE_SITE, {"name": 'Evil <Forum> & "Co"', "kind": "forum", "source": "title"})
    config = {"TESTING": True, "COMPANY_NAMES": {"acme&<co>": "Acme <&> \u202eCo"}}
    if request.param == "pseudonymised":
        config |= {"PSEUDONYMISE_AUTHORS": True, "PSEUDONYM_KEY": "k" * 32}
    app = create_app(ds.store, ds.embedder, config)
    base_url = "http://localhost/under/prefix" if request.param == "prefixed" else "http://localhost/"
    with app.test_request_context("/", base_url=base_url):
        yield app


def _all_posts(ds) -> list[Post]:
    stored = list(ds.store.iter_posts())
    assert len(stored) >= 20
    return stored + _hostile_posts()


def test_post_markup_is_the_macros(app_ctx, ds):
    incidents = {i.id: i for i in ds.store.incidents()}
    posts = _all_posts(ds)
    assert any(p.author for p in posts) and any(p.is_company_reply for p in posts) and any(p.is_comment for p in posts)
    assert any(p.incident_id in incidents for p in posts)
    variants = [
        {"snippet": None, "extra_class": "", "similar": False},
        {"snippet": SNIPPET, "extra_class": "", "similar": True},
        {"snippet": "<raw & unsafe>", "extra_class": "representative", "similar": False},
    ]
    for p in posts:
        for v in variants:
            want = _reference(
                app_ctx,
                "{{ post_item(post, incidents, snippet, extra_class, similar) }}",
                post=p,
                incidents=incidents,
                **v,
            )
            got = post_item_html(p, incidents, v["snippet"], v["extra_class"], v["similar"])
            assert isinstance(got, Markup)
            assert str(got) == want, p.url
        assert str(post_meta_html(p, incidents)) == _reference(
            app_ctx, "{{ post_meta(post, incidents) }}", post=p, incidents=incidents
        )
    hostile = post_item_html(_hostile_posts()[0], incidents)
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile and "Incident #1000000" in hostile
    assert "&lt;Forum&gt;" in hostile and "Acme &lt;&amp;&gt; Co" in hostile and "\u202e" not in hostile


def test_search_results_are_the_macro_loop(app_ctx, ds):
    """The search page's list: each result on its line, as the loop over the macro made it."""
    incidents = {i.id: i for i in ds.store.incidents()}
    loop = (
        "{% for item in items %}\n    {{ post_item(item.post, incidents, item.snippet, similar=item.similar) }}\n"
        "{% endfor %}\n"
    )
    seen_similar = False
    for q in ["заказ отменили", "card blocked", "refund", "нет такого слова вообще"]:
        params = parse_search_params({"q": q}, strict=False, max_results=5000, per_page=20, max_per_page=20)
        items = run_search(params).items
        seen_similar |= any(it.similar for it in items)
        want = _reference(app_ctx, loop, items=items, incidents=incidents)
        assert str(result_items_html(items, incidents)) == want
    assert seen_similar  # the "similar in meaning" variant was among them
