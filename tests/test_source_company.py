"""A source declared about a company (sources.toml `company`, `crawl --about`):
its posts are about that company even when their text never names it (a shop's
own forum section, a review page per company), besides any company they name."""

from __future__ import annotations

from indexer.companies import CompanyResolver
from indexer.pipeline import analyse
from indexer.store import open_store
from tests.hostile_helpers import article, cli
from tests.test_crawl_site import SiteServer


def _crawl(tmp_path, name: str, *extra: str) -> dict[str, list[str]]:
    root = tmp_path / "site"
    if not root.exists():
        root.mkdir()
        (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
        (root / "a.html").write_text(
            article("Опять потеряли посылку", "Курьер второй раз потерял мою посылку, поддержка молчит неделю."),
            encoding="utf-8",
        )
        (root / "b.html").write_text(
            article("Деньги за заказ", "Вернули деньги не на карту Сбербанка, а бонусами, хотя я просила карту."),
            encoding="utf-8",
        )
    db = tmp_path / f"{name}.db"
    with SiteServer(root) as site:
        urls = [f"{site.base_url}/a.html", f"{site.base_url}/b.html"]
        proc = cli("--store", f"sqlite:///{db}", "crawl", "blog", *urls, *extra, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open_store(db) as store:
        analyse(store, CompanyResolver.default())
        return {p.url.rsplit("/", 1)[1]: p.companies for p in store.iter_posts()}


def test_posts_of_a_source_about_a_company_are_about_it(tmp_path):
    plain = _crawl(tmp_path, "plain")
    assert plain == {"a.html": [], "b.html": ["sberbank"]}
    about = _crawl(tmp_path, "about", "--about", "ozon")
    assert about == {"a.html": ["ozon"], "b.html": ["ozon", "sberbank"]}


def test_the_scheduler_passes_the_sources_company_to_the_crawl(tmp_path):
    from complaintwatch.cli import build_parser
    from complaintwatch.scheduler import RunConfig, Runner
    from complaintwatch.sources import parse_sources

    (src,) = parse_sources('[[source]]\nkind = "feed"\nurl = "https://b.example/feed/"\ncompany = "ozon"\n')
    cfg = RunConfig(store_url="sqlite:///x.db", sources_file=tmp_path / "s.toml", cache_dir=tmp_path / "cache")
    cmd = Runner(None, cfg).crawl_command(src, tmp_path / "stats.json")
    assert build_parser().parse_args(cmd[3:]).about == "ozon"
