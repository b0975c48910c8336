"""Responsive layout in a real headless Chromium at a phone width (390 px) and
a laptop width (1366 px): no page scrolls sideways, the top menu is on screen,
every table column can be reached (on screen, or inside the table's own
sideways-scrolling wrapper, never hidden). Screenshots of every page go to a
folder under pytest's tmp dir for review (its path is printed)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

pytestmark = pytest.mark.browser

WIDTHS = (390, 1366)
TABLE_PAGES = {"companies", "company", "compare", "incident", "alerts"}

# For each header cell: shown (not display:none, has a size) and either on
# screen or inside an ancestor that scrolls sideways and whose scroll range
# covers it.
REACHABLE_JS = """
() => Array.from(document.querySelectorAll('table th')).map(th => {
  const r = th.getBoundingClientRect();
  const shown = th.checkVisibility() && r.width > 0 && r.height > 0;
  const onScreen = r.left >= 0 && r.right <= window.innerWidth + 0.5;
  let el = th.parentElement, scroller = null;
  while (el && el !== document.body) {
    const ox = getComputedStyle(el).overflowX;
    if (ox === 'auto' || ox === 'scroll') { scroller = el; break; }
    el = el.parentElement;
  }
  let inScroller = false;
  if (scroller) {
    const s = scroller.getBoundingClientRect();
    const left = r.left - s.left + scroller.scrollLeft;
    inScroller = s.left >= 0 && s.right <= window.innerWidth + 0.5
      && left >= -0.5 && left + r.width <= scroller.scrollWidth + 0.5;
  }
  return {text: th.innerText.trim(), shown, onScreen, inScroller};
})
"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    d = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {d}")
    return d


def pages(ds) -> dict[str, str]:
    return {
        "home": "/",
        "search": "/search?q=" + quote("отменили заказ"),
        "companies": "/companies",
        "company": "/company/ozon",
        "compare": "/compare?c=ozon&c=sberbank&c=megafon&c=skyjet",
        "incident": "/incident/1",
        "post": f"/post/{ds.ids['card_thread']}",
        "alerts": "/alerts",
    }


@pytest.fixture(scope="module")
def with_alert(server, browser):
    """An alert, so that /alerts has its table."""
    ctx = browser.new_context()
    r = ctx.request.post(
        server.url + "/api/v1/alerts", data={"kind": "search", "params": {"q": "отменили заказ", "company": "ozon"}}
    )
    assert r.status == 201, r.text()
    yield
    ctx.request.delete(server.url + r.json()["links"]["api"])
    ctx.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_sideways_scroll_menu_on_screen_every_column_reachable(browser, server, ds, shots, with_alert, width):
    ctx = browser.new_context(viewport={"width": width, "height": 844 if width < 600 else 900})
    page = ctx.new_page()
    try:
        for name, path in pages(ds).items():
            page.goto(server.url + path)
            page.wait_for_load_state("load")
            where = f"{name} at {width}px"
            sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert sw <= iw, f"{where}: the page scrolls sideways ({sw} > {iw})"
            # the whole menu is on screen and can be clicked
            links = page.locator("header nav a")
            assert links.count() == 5
            for i in range(links.count()):
                box = links.nth(i).bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= iw, f"{where}: menu link {i} off-screen"
            cells = page.evaluate(REACHABLE_JS)
            if name in TABLE_PAGES:
                assert len(cells) >= 2, f"{where}: no table"
            for c in cells:
                assert c["shown"] and (c["onScreen"] or c["inScroller"]), f"{where}: column {c} not reachable"
            out = shots / f"{width}-{name}.png"
            page.screenshot(path=str(out), full_page=True)
            assert out.stat().st_size > 5_000
    finally:
        ctx.close()


def test_phone_compare_table_scrolls_inside_its_wrapper(browser, server):
    """At 390 px a reader sees all four companies of a comparison by scrolling
    the table, not the page, and the menu still takes them to the other pages."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    try:
        page.goto(server.url + "/compare?c=ozon&c=sberbank&c=megafon&c=skyjet")
        heads = page.locator("#compare-table thead th")
        assert heads.count() >= 5  # incident type + four companies
        for i in range(heads.count()):
            assert heads.nth(i).is_visible()
        wrapper = page.locator(".table-scroll").first
        last = heads.nth(heads.count() - 1)
        wrapper.evaluate("el => el.scrollTo(el.scrollWidth, 0)")
        box, wbox = last.bounding_box(), wrapper.bounding_box()
        assert box["x"] + box["width"] <= wbox["x"] + wbox["width"] + 1  # scrolled into the wrapper's view
        assert page.evaluate("window.scrollX") == 0  # the page itself did not move
        with page.expect_navigation():
            page.locator("header nav a", has_text="Alerts").click()
        assert page.url.endswith("/alerts")
    finally:
        ctx.close()


def test_phone_user_sees_similar_marks_and_switches_them_off(browser, server):
    """Type a query, read the "similar in meaning" marks, leave them out with the filter."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    try:
        page.goto(server.url + "/")
        page.fill("input[name=q]", "flight refund")
        with page.expect_navigation():
            page.press("input[name=q]", "Enter")
        marked = page.locator("article.result.similar .badge-similar")
        assert marked.count() >= 1 and marked.first.inner_text() == "similar in meaning"
        assert page.locator("article.result:not(.similar)").count() >= 1
        page.click(".filters summary")
        page.select_option("select[name=similar]", "0")
        with page.expect_navigation():
            page.click(".search-row button[type=submit]")
        assert "similar=0" in page.url
        assert page.locator("article.result").count() >= 1 and page.locator(".badge-similar").count() == 0
        with page.expect_navigation():
            page.click("#similar-on")
        assert "similar=0" not in page.url and page.locator(".badge-similar").count() >= 1
    finally:
        ctx.close()
