"""Company resolution and language detection on the real seed posts."""

from __future__ import annotations

import pytest

from complaintwatch.companies import Company
from complaintwatch.language import detect_language
from indexer.companies import CompanyResolver


@pytest.fixture(scope="module")
def resolver():
    return CompanyResolver.default()


@pytest.mark.parametrize("seed", ["000_e27f6b1a759fe5fe.txt", "002_82d63a3b189fd4da.txt"])
def test_seeds_are_about_ozon_in_russian(shared, resolver, seed):
    text = (shared / "seeds" / seed).read_text(encoding="utf-8")
    companies = resolver.resolve(text)
    assert companies[0] == "ozon"
    assert detect_language(text) == "ru"


def test_seed_002_names_amazon_too(shared, resolver):
    text = (shared / "seeds" / "002_82d63a3b189fd4da.txt").read_text(encoding="utf-8")
    assert set(resolver.resolve(text)) == {"ozon", "amazon"}


@pytest.mark.parametrize(
    "mention",
    ["OZON", "Озон", "ozon.ru", "OZON'a", "OZON’a", "Ozon.ru", "в Озоне", "у Озона", "Озоном"],
)
def test_alias_forms_resolve_to_one_company(resolver, mention):
    assert resolver.resolve(f"Купил на днях {mention} телефон") == ["ozon"]


def test_user_alias_file_extends_table(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('[ozon]\naliases = ["Озончик"]\n\n[korobka]\nname = "Коробка"\nproper = true\n', encoding="utf-8")
    r = CompanyResolver.default([f])
    assert r.resolve("заказал в Озончике") == ["ozon"]
    # a company name that is also a common word counts only when capitalised
    assert r.resolve("товар пришёл в мятой коробке") == []
    assert r.resolve("заказал в Коробке пылесос") == ["korobka"]


def test_posts_about_several_companies_get_several(resolver):
    got = resolver.resolve("Сравнил OZON и Wildberries: на Вайлдберриз вернули деньги, а Озон нет. Озон хуже.")
    assert got == ["ozon", "wildberries"]


def test_resolver_add_merges():
    r = CompanyResolver([Company(id="a", name="Alpha")])
    r.add(Company(id="a", name="Alpha", aliases=["Альфа"]))
    assert r.resolve("в Альфе") == ["a"]


@pytest.mark.parametrize(
    "text,lang",
    [
        ("Магазин отменил мой оплаченный заказ и не извинился", "ru"),
        ("The shop cancelled my paid order and never apologised for it", "en"),
        ("ok", None),
        ("", None),
        ("Заказ отменён", "ru"),
    ],
)
def test_language(text, lang):
    assert detect_language(text) == lang


def test_review_subject_names_the_company_when_the_text_does_not(tmp_path):
    from complaintwatch.models import Post, SiteKind
    from indexer.pipeline import analyse
    from indexer.store import open_store

    with open_store(tmp_path / "s.db") as store:
        store.upsert_posts(
            [
                Post(
                    url="http://r.test/review/1",
                    source_site="r.test",
                    site_kind=SiteKind.REVIEW,
                    title="Never again",
                    text="The box arrived two days late and the fish was warm.",
                    subject="gousto.co.uk",
                ),
                Post(
                    url="http://r.test/review/1#reply",
                    source_site="r.test",
                    site_kind=SiteKind.REVIEW,
                    title="Never again",
                    text="Sorry to hear that, we have refunded the box.",
                    parent_url="http://r.test/review/1",
                    thread_url="http://r.test/review/1",
                ),
            ]
        )
        analyse(store, CompanyResolver.default())
        review, reply = store.thread("http://r.test/review/1")
        assert review.companies == ["gousto"] and reply.companies == ["gousto"]


def test_stemming_is_thread_safe(shared):
    """Snowball stemmers keep per-call state; the web server and concurrent
    store writers stem from many threads at once."""
    import threading

    from indexer.analysis import stem, stems

    words = sorted(set((shared / "seeds" / "000_e27f6b1a759fe5fe.txt").read_text("utf-8").split()))
    expected = stems(" ".join(words))
    errors, results = [], []

    def work():
        try:
            for _ in range(5):
                stem.cache_clear()
                results.append(stems(" ".join(words)))
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and all(r == expected for r in results)
