"""The web UI in a real headless Chromium (Debian's, driven by Playwright).

Needs: apt-get install chromium; pip install playwright. No browser download:
Playwright launches /usr/bin/chromium."""

from __future__ import annotations

import csv
import io
import os
import re
from urllib.parse import quote

import pytest

from tests.browser_helpers import XSS

SCREENSHOT = "/tmp/cw_company.png"
pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser):
    """A fresh page that fails the test on any JS dialog (alert = XSS executed),
    any CSP violation or any uncaught page error."""
    ctx = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(10_000)
    problems: list[str] = []

    def on_dialog(dialog):
        problems.append(f"dialog {dialog.type}: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield pg
    ctx.close()
    assert not problems, problems


def test_search_box_shows_highlighted_snippets(page, server):
    page.goto(server.url + "/")
    page.fill("input[name=q]", "отменили заказ")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    assert "q=" in page.url and "company=" not in page.url  # empty filters are not sent
    results = page.locator("article.result")
    assert results.count() == 20
    marks = page.locator("article.result .snippet mark")
    assert marks.count() >= 20
    assert {m.lower() for m in marks.all_inner_texts()} <= {"отменил", "отменили", "отменён", "заказ", "заказа"}
    assert page.locator("a[rel=next]").count() == 1
    # the sort control submits the form by itself
    with page.expect_navigation():
        page.select_option("select[name=sort]", "date")
    assert "sort=date" in page.url
    dates = page.locator("article.result time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert dates == sorted(dates, reverse=True)


def test_company_page_chart(page, server):
    page.goto(server.url + "/company/ozon")
    assert page.locator("svg").count() >= 1
    assert page.locator("svg.timeline-chart").count() == 1  # one mention timeline, one y-scale
    assert page.locator("svg.timeline-chart rect.bar.complaints").count() >= 10
    assert page.locator("svg.sparkline path.spark").count() >= 1
    box = page.locator("svg.timeline-chart").first.bounding_box()
    assert box and box["width"] > 600 and box["height"] > 60
    assert page.locator("table.failures tbody tr").count() == 2
    assert page.locator(".trend-rising").count() >= 1
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert os.path.getsize(SCREENSHOT) > 10_000


def test_export_download(page, server, ds):
    page.goto(server.url + "/search?q=refund&company=skyjet")
    shown = page.locator("article.result").evaluate_all("els => els.map(e => Number(e.dataset.postId))")
    with page.expect_download() as info:
        page.click("#export-csv")
    dl = info.value
    assert re.fullmatch(r"complaintwatch-search-\d{8}\.csv", dl.suggested_filename)
    with open(dl.path(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(io.StringIO(fh.read())))
    assert [int(r["id"]) for r in rows] == shown and len(rows) == 5
    assert {r["companies"] for r in rows} == {"skyjet"}
    bait = next(r for r in rows if int(r["id"]) == ds.ids["csv_bait"])
    assert bait["title"].startswith("'=")


def test_xss_does_not_execute(page, server, ds):
    for path in (
        f"/post/{ds.ids['xss']}",
        "/search?q=" + quote(XSS) + "&site=" + quote('"><script>alert(4)</script>'),
        "/search?q=интернет",
        "/company/megafon",
        "/incident/5",
        f"/post/{ds.ids['jsurl']}",
    ):
        page.goto(server.url + path)
        page.wait_for_load_state("load")
    # the hostile text is visible as text
    page.goto(server.url + f"/post/{ds.ids['xss']}")
    assert XSS in page.locator("article.post h1").inner_text()
    assert "<img src=x onerror=alert(2)>" in page.locator(".post-text").inner_text()
    assert page.locator("article.post img").count() == 0
    # the dialog/CSP/page-error checks run in the fixture teardown


def test_save_search_as_alert(page, server):
    page.goto(server.url + "/search?q=" + quote("отменили заказ") + "&company=ozon")
    name = f"Ozon cancellations {XSS}"
    page.fill("form.save-alert input[name=name]", name)
    with page.expect_navigation():
        page.click("#save-alert")
    assert re.search(r"/alerts#alert-\d+$", page.url)
    assert "Saved the alert" in page.locator("p.flash").inner_text()
    row = page.locator("#alerts-table tr.alert-row", has_text="Ozon cancellations")
    assert row.count() == 1
    assert row.locator("a.alert-name").inner_text() == name  # the hostile name shown as text
    assert "отменили заказ" in row.inner_text() and row.locator(".new-count").inner_text() == "0"
    # its page, its feed link, then delete it
    with page.expect_navigation():
        row.locator("a.alert-name").click()
    assert page.locator("h1").inner_text() == name
    assert page.locator("link[type='application/atom+xml']").count() == 1
    with page.expect_navigation():
        page.click("button.delete")
    assert page.locator("#alerts-table tr.alert-row", has_text="Ozon cancellations").count() == 0
