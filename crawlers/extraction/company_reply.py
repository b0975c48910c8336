"""Is this reply written by the company itself?

Company answers must not be counted as complaints, and they are a signal of
their own (the company acknowledged the incident). Three kinds of evidence,
any one of which is enough:

* a badge the platform gives staff/official/verified accounts;
* an account named like the company ("Ozon", "OZON.ru", "Ozon Support");
* support-desk phrasing ("официальный представитель", "Внимательно изучили
  вашу ситуацию", "with best regards, X support team").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_BADGE = re.compile(
    r"official|verified|staff|employee|representative|company|brand|business|support|customer care"
    r"|официальн|представител|сотрудник|поддержк|верифицир|подтвержд|компани|бренд"
    r"|offiziell|mitarbeiter|kundenservice|kundendienst|unternehmen",
    re.I,
)

# Phrases a customer practically never writes about their own problem.
_STRONG = re.compile(
    "|".join(
        (
            r"официальн\w* представител",
            r"представител\w* компании",
            r"(?:внимательно )?изучили ваш[уе]? (?:ситуаци|обращени|отзыв|вопрос)",
            r"приносим (?:свои |наши )?извинения",
            r"благодарим (?:вас )?за (?:обратную связь|ваш отзыв|обращение)",
            r"с уважением,?\s+(?:команда|служба|отдел|специалист|ваш)",
            r"(?:служба|команда) (?:клиентской )?поддержки\s*$",
            r"(?:best|kind|warm)?\s*regards,?\s+(?:the\s+)?[\w .&'-]{0,40}?\b(?:support|care|customer service|team)\b",
            r"we(?:'ve| have)? (?:looked into|reviewed|investigated|checked) your"
            r" (?:case|situation|complaint|account|order)",
            r"we(?: sincerely| truly)? apologi[sz]e for (?:the|any) inconvenience",
            r"thank you for (?:your feedback|taking the time to (?:leave|write|share))",
            r"(?:please|kindly) (?:send us a (?:dm|direct message|private message)|contact our support)",
            r"mit freundlichen grüßen,?\s+(?:ihr|das|ihre)\b",
            r"wir entschuldigen uns für (?:die|etwaige) unannehmlichkeiten",
        )
    ),
    re.I | re.M,
)
_GREETING = re.compile(
    r"^\W*(?:[\w-]+,\s*)?(?:добрый день|здравствуйте|добрый вечер|hello|hi|dear|hallo|guten tag)\b", re.I
)
_COMPANY_VOICE = re.compile(
    r"\bмы (?:проверили|уточнили|разобрались|передали|направили|свяжемся)"
    r"|ваш(?:им|ему|его|у|е)? (?:заказ|обращени|ситуаци)"
    r"|\bwe (?:have )?(?:checked|passed|forwarded|escalated|will contact)|\byour (?:order|ticket|case)\b",
    re.I,
)

_ROLE_WORDS = frozenset(
    "official support help care team service customer customers cs store shop online app bank group russia"
    " официальный официальная поддержка помощь команда служба сервис онлайн магазин банк"
    " offiziell kundenservice hilfe team".split()
)
_LEGAL = frozenset("ооо оао пао зао ао llc ltd inc gmbh ag plc co corp sa".split())
_TLD = re.compile(r"\.(?:ru|com|co\.uk|co|de|net|org|рф|ua|by|kz|io)\b", re.I)
_TOKEN = re.compile(r"[^\W_]+")


def _tokens(name: str) -> list[str]:
    return [t for t in _TOKEN.findall(_TLD.sub(" ", name.lower())) if t not in _LEGAL]


def _named_like_company(author: str, company_names: Iterable[str]) -> bool:
    """Author, minus role words ("support", "official"), is exactly the company."""
    author_core = [t for t in _tokens(author) if t not in _ROLE_WORDS]
    if not author_core:
        return False
    for company in company_names:
        core = [t for t in _tokens(company) if t not in _ROLE_WORDS] or _tokens(company)
        if core and ("".join(author_core) == "".join(core) or author_core == core):
            return True
    return False


# What makes an account name official rather than a person's handle: a role
# word ("Chase Support", "Служба поддержки Коробки"), a legal form ("ООО «Коробка»")
# or a domain ("target.com").
_OFFICIAL_WORDS = frozenset(
    "official support help care team service cs helpdesk"
    " официальный официальная поддержка поддержки помощь команда служба сервис"
    " offiziell kundenservice hilfe".split()
)


def has_official_marker(author: str) -> bool:
    low = author.lower()
    return bool(_TLD.search(low)) or any(t in _OFFICIAL_WORDS or t in _LEGAL for t in _TOKEN.findall(low))


def core_words(name: str) -> list[str]:
    """The words of a name that tell the company apart ("Ozon Support" -> ["ozon"], "ozon.ru" -> ["ozon"])."""
    return [t for t in _tokens(name) if t not in _ROLE_WORDS] or _tokens(name)


def _same_as_written(author: str, name: str) -> bool:
    """The account is named exactly like the company, capitals included ("Target", not "target")."""
    return " ".join(author.split()) == " ".join(name.split())


def looks_like_company_reply(
    author: str | None,
    badge: str | None,
    text: str | None,
    company_names: Iterable[str] = (),
    common_names: Iterable[str] = (),
    common_display_names: Iterable[str] = (),
) -> bool:
    """True when the post reads as written by (a representative of) the company.

    ``company_names``: names and aliases an account named like them is the
    company. ``common_names``: aliases that are common words ("Chase", "Ally",
    "Коробка"), where a forum user "chase" is a person: they count only when the
    account name also carries an official marker (has_official_marker).
    ``common_display_names``: full display names made of common words ("Target",
    "Delta Air Lines"); besides the marker, an account named exactly so counts
    (a one-word one with its capitals as written)."""
    names = [n for n in company_names if n and n.strip()]
    if badge and _BADGE.search(badge):
        return True
    if author and names and _named_like_company(author, names):
        return True
    if author and (common := [n for n in (*common_names, *common_display_names) if n and n.strip()]):
        if has_official_marker(author) and _named_like_company(author, common):
            return True
        for name in common_display_names:
            if (
                name
                and name.strip()
                and (
                    _same_as_written(author, name)
                    or (len(core_words(name)) > 1 and _named_like_company(author, [name]))
                )
            ):
                return True
    if not text:
        return False
    if _STRONG.search(text):
        return True
    head = text.strip()[:400]
    return bool(_GREETING.search(head) and _COMPANY_VOICE.search(head))
