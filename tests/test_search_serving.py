"""Per-request work of the search page and API done once per store change
(issue 16, serving under load): company display names and the company
drop-down's labels are kept until the store changes, and the API's post links
are url_for's pattern with the id put in. Each must still show what a fresh
read gives: a rename in the store shows on the next request, and links carry
the URL prefix the app is mounted under."""

from __future__ import annotations

import re

from flask import url_for

from web import create_app

RLO = "\u202e"  # a bidi control: display names never carry one (web/safetext.py)


def _company_labels(client) -> dict[str, str]:
    return {f["value"]: f["label"] for f in client.get("/api/v1/search?q=").get_json()["facets"]["company"]}


def test_company_names_follow_store_changes(ds):
    app = create_app(ds.store, None, {"TESTING": True, "COMPANY_NAMES": {}})
    client = app.test_client()
    before = _company_labels(client)
    company = sorted(before)[0]
    assert _company_labels(client) == before  # the kept names: the same answer

    ds.store.set_company_names({company: f"Renamed{RLO} Co <&>"})
    after = _company_labels(client)
    assert after[company] == "Renamed Co <&>"
    assert {k: v for k, v in after.items() if k != company} == {k: v for k, v in before.items() if k != company}
    page = client.get("/search").get_data(as_text=True)
    assert re.search(rf'<option value="{re.escape(company)}">Renamed Co &lt;&amp;&gt; \(', page)
    assert client.get("/api/v1/companies").get_json()["companies"]  # the other readers of the names
    assert any(c["name"] == "Renamed Co <&>" for c in client.get("/api/v1/companies").get_json()["companies"])

    ds.store.set_company_names({company: "Renamed again"})
    assert _company_labels(client)[company] == "Renamed again"


def test_post_links_are_url_fors_under_a_prefix(ds):
    app = create_app(ds.store, None, {"TESTING": True})
    client = app.test_client()
    for prefix in ("", "/cw"):
        body = client.get("/api/v1/search?q=&per_page=50", environ_overrides={"SCRIPT_NAME": prefix}).get_json()
        assert len(body["results"]) > 10
        with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": prefix}):
            for r in body["results"]:
                pid = r["post"]["id"]
                expected = {"html": url_for("posts.post", post_id=pid), "api": url_for("api.post", post_id=pid)}
                assert r["post"]["links"] == expected
                assert expected["html"] == f"{prefix}/post/{pid}"
