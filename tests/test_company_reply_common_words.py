"""A forum user named like a common-word alias ("chase", "target", "delta",
"ally") is a person, not the company: the crawl pipeline flags a reply as the
company's by the author's name only when the name carries an official marker
("Chase Support", "ООО «Коробка»", "target.com") or is the company's full
display name; coined names ("Ozon", "ozon.ru") work as before."""

from __future__ import annotations

import pytest

from complaintwatch.companies import Company
from crawlers.items import PostItem
from crawlers.pipelines import BuildPostPipeline, reply_names

THREAD = "https://forum.test/t/1"
NEUTRAL = "Same here, still waiting for an answer."  # no support-desk phrasing: only the name can tell


@pytest.fixture(scope="module")
def build():
    return BuildPostPipeline()


def _reply(build, author: str) -> bool:
    item = PostItem(
        url=f"{THREAD}#c1",
        site_kind="forum",
        title="",
        text=NEUTRAL,
        author=author,
        parent_url=THREAD,
        thread_url=THREAD,
        position=1,
        language="en",
    )
    return build.process_item(item).is_company_reply


@pytest.mark.parametrize("author", ["chase", "Chase", "target", "delta", "ally", "chase bank", "Delta", "amazon"])
def test_forum_users_named_like_a_common_word_are_not_the_company(build, author):
    assert not _reply(build, author)


@pytest.mark.parametrize(
    "author",
    [
        "Chase Support",  # role word
        "Official Chase",
        "chase.com",  # domain
        "Target",  # the full display name, as written
        "Ally",
        "Delta Air Lines",  # the full display name
        "delta air lines",
        "Ally Support Team",
        "JPMorgan Chase",  # not a common word: as before
        "OZON",
        "ozon.ru",
    ],
)
def test_official_and_full_names_still_mark_a_company_reply(build, author):
    assert _reply(build, author)


def test_reply_names_sort_common_words_apart():
    names, common, display = reply_names(
        [
            Company("chase", "Chase (JPMorgan Chase)", aliases=["Chase", "JPMorgan Chase", "chase.com"]),
            Company("korobka", "Коробка", aliases=["Коробка", "korobka.ru"]),
        ]
    )
    assert names == ["Chase (JPMorgan Chase)", "JPMorgan Chase", "korobka.ru"]
    assert common == ["Chase", "chase.com", "Коробка"]
    assert display == ["Коробка"]
