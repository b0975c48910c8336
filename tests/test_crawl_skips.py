"""Every skip is counted in the crawl summary and logged at INFO or above,
through the real CLI (`-v`, which shows INFO and up, never DEBUG) against a
local site with one page of each kind of skip: robots.txt Disallow, a
redirect loop (from a sitemap link, and from a start URL, which Scrapy's
duplicate filter does not stop), endless redirects, a connection dropped
without an answer, a 404, an empty post and a page over DOWNLOAD_MAXSIZE.
Scrapy's telnet console and remote-control server are off."""

from __future__ import annotations

import re

import pytest

from crawlers import settings as project_settings
from tests.hostile_helpers import DROP, HostileSite, article, cli, html, summary

PAGES = ["/private/secret.html", "/loop-c", "/redirect/0", "/drop.html", "/missing.html", "/empty.html", "/big.html"]


def route(base: str, path: str):
    if path == "/robots.txt":
        return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"
    if path == "/sitemap.xml":
        locs = "".join(f"<url><loc>{base}{p}</loc></url>" for p in [*PAGES, "/good.html"])
        body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
        return 200, {"Content-Type": "application/xml"}, body.encode()
    loops = {"/loop-a": "/loop-b", "/loop-b": "/loop-a", "/loop-c": "/loop-d", "/loop-d": "/loop-c"}
    if path in loops:
        return 302, {"Location": loops[path]}, b""
    if m := re.fullmatch(r"/redirect/(\d+)", path):
        return 302, {"Location": f"/redirect/{int(m.group(1)) + 1}"}, b""
    if path == "/drop.html":
        return DROP
    if path == "/empty.html":
        return html(200, article("Nothing to say", ""))
    if path == "/big.html":  # announced over DOWNLOAD_MAXSIZE: cancelled on the headers
        return 200, {"Content-Length": str(project_settings.DOWNLOAD_MAXSIZE + 1)}, b""
    if path == "/good.html":
        return html(200, article("Refund refused", "The shop refused my refund for a broken kettle."))
    return html(404, "<html><body>not here</body></html>")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("skips")
    site = HostileSite(lambda path: route(site.url, path))
    with site:
        proc = cli(
            "--store", f"sqlite:///{tmp / 'cw.db'}", "-v", "crawl", "blog", f"{site.url}/sitemap.xml",
            f"{site.url}/loop-a", "--no-cache", cwd=tmp,
        )  # fmt: skip
        paths = site.paths()
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {"proc": proc, "url": site.url, "paths": paths}


def test_every_skip_is_counted_in_the_summary(run):
    lines = summary(run["proc"])
    assert lines["skipped"] == (
        "1 robots.txt, 2 redirect loop, 1 too many redirects, 1 failed download, 1 HTTP error, 1 oversize, 1 empty post"
    )
    assert lines["crawled"].endswith(" 1 new, 0 updated, 0 unchanged posts; 8 skipped")


def test_every_skip_is_logged_at_info_or_above(run):
    u, log = run["url"], run["proc"].stderr
    expected = [
        f"INFO crawlers.middlewares: skipped {u}/private/secret.html: forbidden by robots.txt",
        f"INFO crawlers.middlewares: skipped {u}/loop-c: redirect loop ({u}/loop-c -> {u}/loop-d -> {u}/loop-c)",
        f"INFO crawlers.middlewares: skipped {u}/loop-a: redirect loop ({u}/loop-a -> {u}/loop-b -> {u}/loop-a",
        f"INFO crawlers.middlewares: skipped {u}/redirect/0: too many redirects (more than 20)",
        f"WARNING crawlers.middlewares: skipped {u}/drop.html: download failed (",
        f"INFO scrapy.spidermiddlewares.httperror: Ignoring response <404 {u}/missing.html>",
        f"WARNING crawlers.middlewares: skipped {u}/big.html: download cancelled (over DOWNLOAD_MAXSIZE=",
        f"INFO blog: empty post skipped {u}/empty.html",
    ]
    missing = [line for line in expected if line not in log]
    assert not missing, log[-6000:]


def test_skipped_pages_were_really_skipped(run):
    paths = run["paths"]
    assert "/private/secret.html" not in paths  # robots.txt obeyed
    assert paths.count("/loop-c") == 1 and paths.count("/loop-d") == 1  # stopped at the first repeat
    assert paths.count("/loop-a") == 2 and paths.count("/loop-b") == 2  # a start URL may come back once
    assert len([p for p in paths if p.startswith("/redirect/")]) == 21  # REDIRECT_MAX_TIMES + 1
    assert paths.count("/drop.html") == 1 + project_settings.RETRY_TIMES


def test_no_telnet_console_or_remote_control(run):
    assert project_settings.TELNETCONSOLE_ENABLED is False
    assert project_settings.REMOTE_CONTROL_ENABLED is False
    log = run["proc"].stderr
    extensions = log.split("Enabled extensions:")[1].split("]")[0]
    assert "CoreStats" in extensions and "CrawlProgress" in extensions
    assert "Telnet" not in extensions and "RemoteControl" not in extensions
    assert "Telnet console listening" not in log and "Remote control HTTP server listening" not in log
