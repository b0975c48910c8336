"""Company resolution is precise first: hand-written regressions and the real
CFPB complaints (../shared/data) with an alias file built from their `Company`
column."""

from __future__ import annotations

import csv

import pytest

from complaintwatch.companies import Company, builtin_companies
from indexer.companies import CompanyResolver, alias_file_from_csv, aliases_for, strip_legal

CFPB = "data/cfpb_complaints_mixed_2015-2020_narratives.csv"
INDUSTRIES = {"ecommerce", "banking", "telecom", "delivery", "travel"}


@pytest.fixture(scope="module")
def resolver():
    return CompanyResolver.default()


@pytest.mark.parametrize(
    "text,expected",
    [
        # a short name inside a longer one is that longer name
        ("I have a mortgage with M & T Bank and they lost my payment", ["m_and_t"]),
        ("M&T Bank charged a late fee", ["m_and_t"]),
        ("Перевёл деньги в Т-Банк, а они пропали", ["tinkoff"]),
        # no stems for Latin aliases, common words need their capital
        ("The unit arrived broken and the united front of support staff ignored me", []),
        ("United Airlines lost my bag", ["united_airlines"]),
        ("I had to chase the refund for weeks", []),
        ("Chase refused to refund the charge", ["chase"]),
        ("I will discover what happened", []),
        ("the target date passed", []),
        ("an ally told me", []),
        # short aliases only as written
        ("купил на wb куртку", []),
        ("купил на WB куртку", ["wildberries"]),
        ("мтс", []),
        ("Связь МТС пропала", ["mts"]),
        ("the dns server", []),
        # Russian case endings still match brand names
        ("Открыл вклад в Сбербанке", ["sberbank"]),
        ("Кредитка от Т-Банка", ["tinkoff"]),
        ("Посылка, отправленная Почтой России, потерялась", ["pochta_rossii"]),
        ("Счёт в Озон Банке заблокировали", ["ozon_bank"]),
        ("Летел Победой в Сочи", ["pobeda"]),
        ("Это была победа над поддержкой", []),
        ("Заказал в Вайлдберриз", ["wildberries"]),
        ("Звонил в Мегафон", ["megafon"]),
        # domains as written
        ("see wellsfargo.com for details", ["wells_fargo"]),
        # a shop's co-branded card is the bank's product
        ("My Best Buy credit card was charged twice", []),
        ("Best Buy cancelled my order", ["best_buy"]),
        # ...and so is a payment app's: PayPal Credit is Synchrony's, "PayPal" after it means that card
        ("I used PayPal Credit for the purchase. Then I contacted PayPal about the payment.", []),
        ("PayPal froze my account", ["paypal"]),
        # a common-word name where a verb goes, with its object, is the verb
        ('Some lenders like to " Chase the Balance " every month', []),
        ("I had to Chase the refund for weeks", []),
        ("I called Chase the next day", ["chase"]),
        # a carrier a letter was sent by is not what the post is about; a lost parcel is
        ("I sent my dispute by USPS certified mail and they ignored it", []),
        ("The bank received it according to USPS but never posted the payment", []),
        ("USPS lost my package", ["usps"]),
        ("My package sent via UPS never arrived", ["ups"]),
        # "app" is a word: "cash app" in lower case is any cash app
        ("the money was sent through cash app to a stranger", []),
        ("I sent the money with Cash App", ["cash_app"]),
        # short Russian names match with case endings, never by a stem that is half the language
        ("Тем не менее банк вернул деньги", []),
        ("Открыл тему на форуме", []),
        ("Заказал на Тему кроссовки", ["temu"]),
        ("Не стал ждать, ибо нечего", []),
        ("Купил на Ибее часы", ["ebay"]),
        ("Уберите эту комиссию", []),
        ("Ездил на Убере в аэропорт", ["uber"]),
        ("Перевёл деньги в Сбере", ["sberbank"]),
    ],
)
def test_precise_matches(resolver, text, expected):
    assert resolver.resolve(text) == expected


def test_short_name_glued_by_ampersand_is_not_a_mention():
    r = CompanyResolver([Company(id="tinkoff", name="Т-Банк", aliases=["T-Bank"])])
    assert r.resolve("M & T Bank lost my payment") == []
    assert r.resolve("BB&T Bank lost my payment") == []
    assert r.resolve("T-Bank lost my payment") == ["tinkoff"]


def test_passing_mention_of_another_industry_is_left_out(resolver):
    text = "Chase closed my account. Chase never answered. I sent my dispute by USPS."
    assert resolver.resolve(text) == ["chase"]
    assert resolver.resolve(text, passing=True) == ["chase", "usps"]


@pytest.mark.parametrize(
    "registered,alias",
    [
        ("BBVA FINANCIAL CORPORATION", "BBVA"),  # an acronym of four capitals is a name
        ("ECMC Group, Inc.", "ECMC"),
        ("PENNYMAC LOAN SERVICES, LLC.", "PENNYMAC"),  # what a lender or servicer does is a business word
        ("RUSHMORE LOAN MANAGEMENT SERVICES LLC", "Rushmore"),
        ("AES/PHEAA", "PHEAA"),  # two names of one company, each written alone
    ],
)
def test_alias_builder_finds_the_name_people_write(registered, alias):
    assert alias in aliases_for(registered)


@pytest.mark.parametrize(
    "registered,too_common",
    [
        ("Specialized Loan Servicing LLC", "Specialized"),  # an inflected dictionary word ("special")
        ("Lakeview Loan Servicing, LLC", "Lakeview"),
        ("Select Portfolio Servicing, Inc.", "Select Portfolio"),
        ("Credit Acceptance Corporation", "Credit"),
    ],
)
def test_alias_builder_keeps_dictionary_words_in_their_full_name(registered, too_common):
    assert too_common not in aliases_for(registered)


def test_builtin_table_is_broad_and_complete():
    table = builtin_companies()
    assert 80 <= len(table) <= 200
    ids = {c.id for c in table}
    for cid in ["equifax", "experian", "transunion", "chase", "wildberries", "aeroflot", "cdek", "mts", "usps"]:
        assert cid in ids
    for c in table:
        assert c.industry in INDUSTRIES, c.id
        assert c.name and c.name != c.id, c.id
        assert c.aliases and c.domains, c.id


@pytest.mark.parametrize(
    "raw,core",
    [
        ("JPMORGAN CHASE & CO.", "JPMORGAN CHASE"),
        ("MONEY SOURCE, THE", "MONEY SOURCE"),
        ("Navient Solutions, LLC.", "Navient Solutions"),
        ("CITIBANK, N.A.", "CITIBANK"),
        ("TRANSUNION INTERMEDIATE HOLDINGS, INC.", "TRANSUNION"),
        ("BANK OF AMERICA, NATIONAL ASSOCIATION", "BANK OF AMERICA"),
        ("U.S. BANCORP", "U.S. BANCORP"),
        ("Stenger & Stenger, P.C", "Stenger & Stenger"),
    ],
)
def test_strip_legal(raw, core):
    assert strip_legal(raw) == core


def _evaluate(resolver, rows, truth):
    named = correct = hit = 0
    for row, y in zip(rows, truth, strict=True):
        got = resolver.resolve(row["Consumer complaint narrative"])
        named += len(got)
        correct += sum(c == y for c in got)
        hit += y in got
    return correct / named, hit / len(rows)


@pytest.fixture(scope="module")
def cfpb(shared, tmp_path_factory):
    path = shared / CFPB
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = tmp_path_factory.mktemp("aliases") / "cfpb.toml"
    table = alias_file_from_csv(path, "Company", out, CompanyResolver.default(), "banking")
    truth = [table[r["Company"].strip()].id for r in rows]
    return rows, truth, out, table


def test_alias_file_from_company_column(cfpb):
    _, _, out, table = cfpb
    by_name = {raw: c for raw, c in table.items()}
    # registered names of built-in companies extend them; others get a display name, not a slug
    assert by_name["EQUIFAX, INC."].id == "equifax"
    assert by_name["JPMORGAN CHASE & CO."].id == "chase"
    assert by_name["CAPITAL ONE FINANCIAL CORPORATION"].id == "capital_one"
    assert by_name["M&T BANK CORPORATION"].id == "m_and_t"
    assert "Navient" in by_name["Navient Solutions, LLC."].aliases
    assert by_name["Midwest Recovery Systems"].name == "Midwest Recovery Systems"
    r = CompanyResolver.default([out])
    assert r.name("midwest-recovery-systems") == "Midwest Recovery Systems"


def test_cfpb_precision_with_company_column_aliases(cfpb):
    rows, truth, out, _ = cfpb
    precision, recall = _evaluate(CompanyResolver.default([out]), rows, truth)
    # measured 0.980 / 0.487 (0.968 / 0.477 before the verb, co-brand, channel and alias-builder
    # rules): what is left is real mentions of other companies ("Experian and TransUnion",
    # "returned it to Walmart") that the complaint was not filed against
    assert precision >= 0.98
    assert recall >= 0.48


def test_cfpb_precision_builtin_only(cfpb):
    rows, truth, _, _ = cfpb
    precision, recall = _evaluate(CompanyResolver.default(), rows, truth)
    assert precision >= 0.97  # measured 0.977 (0.959 before)
    assert recall >= 0.38  # measured 0.386


# Real CFPB complaints (by Complaint ID) and what they name, read by hand: the company the
# complaint was filed against, and names that are no company the post is about.
CFPB_ROWS = [
    # "some companies like to " Chase the Balance "" in a complaint about Comenity
    ("3159239", set(), {"chase"}),
    # "I have a PayPal Credit line of credit ... I contacted PayPal": Synchrony's card
    ("3162477", set(), {"paypal"}),
    # "sent to the address noted in this letter by USPS"
    ("3164010", set(), {"usps"}),
    # "they received it according to USPS", a mortgage payment to BBVA
    ("3105424", set(), {"usps"}),
    # "sent through cash app to an unknown name", a complaint about Regions
    ("3157125", set(), {"cash_app"}),
    # Bank of America, named once; "They send it by regular mail" no longer outvotes it
    ("3121663", {"bank_of_america"}, set()),
    # names the alias builder now makes from the Company column
    ("3096980", {"bbva-financial"}, set()),  # "My mortgage company BBVA"
    ("3124526", {"aes-pheaa"}, set()),  # "PHEAA is harassing me"
    ("3180696", {"rushmore-loan-management-services"}, set()),  # "Rushmore Mortgage services"
    ("3170399", {"pennymac-loan-services"}, set()),  # "PennyMac Financial"
    ("3165419", {"ecmc-group"}, set()),  # "the collection place ECMC"
]


def test_cfpb_rows_name_what_they_are_about(cfpb):
    rows, _, out, _ = cfpb
    by_id = {r["Complaint ID"]: r["Consumer complaint narrative"] for r in rows}
    r = CompanyResolver.default([out])
    for cid, named, not_named in CFPB_ROWS:
        got = set(r.resolve(by_id[cid]))
        assert named <= got and not (not_named & got), (cid, got)
