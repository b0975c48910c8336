"""looks_like_company_reply: badges, company-named accounts, support-desk voice."""

from __future__ import annotations

import pytest

from crawlers.extraction.company_reply import looks_like_company_reply

OZON = ["OZON", "Озон", "ozon.ru"]


@pytest.mark.parametrize(
    ("author", "badge", "text"),
    [
        ("Мария", "Официальный представитель", "Посмотрим."),
        ("Support", "Staff Member", "We are on it."),
        ("anna", "verified", "Thanks."),
        ("OZON", None, "Проверим."),
        ("Ozon Support", None, "Проверим."),
        ("ozon.ru", None, "Проверим."),
        ("ООО «Озон»", None, "Проверим."),
        ("Анна", None, "Борис, добрый день. Внимательно изучили вашу ситуацию и вернули деньги на карту."),
        ("Анна", None, "Здравствуйте! Я официальный представитель компании, напишите номер заказа."),
        ("Kate", None, "Hi Tom, sorry about that.\n\nWith best regards, Gousto support team"),
        ("Kate", None, "We apologise for the inconvenience caused."),
        ("Светлана", None, "Добрый день, Ирина! Мы проверили ваш заказ 12345, курьер привезёт его завтра."),
    ],
)
def test_company_replies_are_recognised(author, badge, text):
    assert looks_like_company_reply(author, badge, text, OZON)


@pytest.mark.parametrize(
    ("author", "badge", "text"),
    [
        ("boris_k", "Forenprofi", "Озон опять потерял мою посылку, поддержка молчит."),
        ("ozon_hater", None, "OZON опять отменил заказ."),
        ("Mrs H Pyke", None, "I cannot thank Gousto enough. What a fantastic idea!"),
        ("Tom", "Erfahrener Benutzer", "Hello, my order never arrived and nobody answers."),
        (None, None, None),
        ("Анна", None, "Добрый день. Второй месяц жду возврат, в поддержке отвечают шаблонами."),
    ],
)
def test_customers_are_not_company_replies(author, badge, text):
    assert not looks_like_company_reply(author, badge, text, OZON)


def test_no_company_names_still_uses_badge_and_text():
    assert looks_like_company_reply("x", "Official", "", [])
    assert not looks_like_company_reply("OZON", None, "Проверим.", [])
