"""The sources file: validation errors that name the entry and the field,
defaults, schedules (intervals and cron), and `complaintwatch sources check`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from complaintwatch.cli import main
from complaintwatch.sources import (
    SourcesError,
    append_sources,
    load_sources,
    parse_duration,
    parse_sources,
)

UTC = timezone.utc

GOOD = """\
# what we crawl
[defaults]
every = "6h"
delay = 2.0

[[source]]
kind = "forum"
url = "https://forum.example/forums/banks.12/"
every = "30m"
max_pages = 200
company = "ozon"

[[source]]
kind = "feed"
url = "https://blog.example/feed/"

[[source]]
kind = "subreddit"
url = "https://www.reddit.com/r/Banking/"
cron = "15 */4 * * *"
concurrency = 1

[[source]]
kind = "reviews"
url = "https://reviews.example/company/ozon"
enabled = false
"""

# one file, one mistake per entry: every problem is reported, each naming its entry and field
BAD = """\
[defaults]
every = "6h"

[[source]]
kind = "forum"
url = "https://forum.example/forums/banks.12/"
every = "30x"

[[source]]
kind = "newsgroup"
url = "https://news.example/"

[[source]]
kind = "blog"
url = "ftp://files.example/"
max_page = 3

[[source]]
kind = "subreddit"
url = "https://www.reddit.com/r/Banking/"
cron = "61 * * * *"

[[source]]
kind = "forum"
url = "https://forum.example/forums/banks.12/"
concurrency = 0

[[source]]
url = "https://no-kind.example/"
every = "10s"

[[source]]
kind = "pikabu"
url = "https://pikabu.ru/tag/ozon"
every = "1h"
cron = "0 * * * *"
"""


def test_good_file_with_defaults_and_schedules(tmp_path):
    sources = parse_sources(GOOD)
    forum, feed, reddit, reviews = sources
    assert (forum.spider, forum.every, forum.delay, forum.max_pages, forum.company) == (
        "forum",
        "30m",
        2.0,
        200,
        "ozon",
    )
    assert (feed.spider, feed.every, feed.delay) == ("blog", "6h", 2.0)  # [defaults] fill in
    assert (reddit.spider, reddit.every, reddit.cron) == ("reddit", None, "15 */4 * * *")  # its cron replaces every
    assert reviews.enabled is False
    assert forum.site == "forum.example" and len({s.key for s in sources}) == 4
    assert forum.schedule == "every 30m" and reddit.schedule == "cron 15 */4 * * * (UTC)"


def test_bad_file_lists_every_problem_with_entry_and_field(tmp_path):
    with pytest.raises(SourcesError) as err:
        parse_sources(BAD, "sources.toml")
    assert err.value.problems == [
        "source 1 (https://forum.example/forums/banks.12/): every: '30x' is not a duration like 30m, 6h, 1d or 1h30m",
        "source 2 (https://news.example/): kind: unknown kind 'newsgroup'; "
        "known kinds: feed, blog, forum, reviews, subreddit, pikabu, vcru",
        "source 3 (ftp://files.example/): url: 'ftp://files.example/' is not an http(s) URL with a host",
        "source 3 (ftp://files.example/): max_page: unknown field; did you mean 'max_pages'?",
        "source 4 (https://www.reddit.com/r/Banking/): cron: Error validating expression '61': "
        "the last value (61) is higher than the maximum value (59)",
        "source 5 (https://forum.example/forums/banks.12/): concurrency: Input should be greater than or equal to 1",
        "source 6 (https://no-kind.example/): every: '10s' is shorter than 1m",
        "source 6 (https://no-kind.example/): kind: required, missing",
        "source 7 (https://pikabu.ru/tag/ozon): give either every or cron, not both",
    ]
    assert str(err.value).splitlines()[0].startswith("sources.toml: source 1 (https://forum.example/")


def test_duplicates_syntax_errors_and_unknown_tables():
    twice = '[[source]]\nkind = "feed"\nurl = "https://b.example/feed"\n\n[[source]]\nkind = "blog"\nurl = "https://b.example/feed"\n'
    with pytest.raises(SourcesError, match=r"source 2 \(https://b.example/feed\): the same blog URL as source 1"):
        parse_sources(twice)
    with pytest.raises(SourcesError, match=r"not valid TOML: .*line 2"):
        parse_sources("[[source]]\nkind = forum\n")
    with pytest.raises(SourcesError) as err:
        parse_sources('[[sources]]\nkind = "forum"\nurl = "https://f.example/"\n[defaults]\nmax_pages = -1\n')
    assert err.value.problems == [
        "unknown table 'sources': the file has [defaults] and [[source]] entries",
        "[defaults]: max_pages: Input should be greater than or equal to 0",
    ]


def test_next_due_from_the_last_run_never_a_backlog():
    every, cron = parse_sources(
        '[[source]]\nkind = "forum"\nurl = "https://f.example/"\nevery = "6h"\n'
        '[[source]]\nkind = "forum"\nurl = "https://g.example/"\ncron = "15 */4 * * *"\n'
    )
    start = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert every.next_due(None) is None  # never run: due now
    assert every.next_due(start) == start + timedelta(hours=6)
    assert cron.next_due(start) == datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
    # a run that started exactly on a cron time is not due again at once
    assert cron.next_due(datetime(2026, 3, 1, 12, 15, tzinfo=UTC)) == datetime(2026, 3, 1, 16, 15, tzinfo=UTC)
    assert parse_duration("1h30m") == timedelta(minutes=90) and parse_duration("1d") == timedelta(days=1)


def test_missing_file_is_no_sources_and_unreadable_is_an_error(tmp_path):
    assert load_sources(tmp_path / "none.toml") == []
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[[source]]\nkind = "forum"\nurl = "https://f.example/\xe9"\n')
    with pytest.raises(SourcesError, match="cannot read"):
        load_sources(bad)


def test_append_validates_and_keeps_comments(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(GOOD)
    new = parse_sources(
        '[[source]]\nkind = "forum"\nurl = "https://forum.example/search.php?keywords=OZON"\ncompany = "ozon"\n'
    )
    assert append_sources(path, new) == new
    text = path.read_text()
    assert text.startswith(GOOD) and text.count("[[source]]") == 5
    assert [s.url for s in load_sources(path)][-1] == "https://forum.example/search.php?keywords=OZON"
    # the default interval is written out: the file's [defaults] must not change it
    assert load_sources(path)[-1].every == "6h"


def test_cli_check(tmp_path, capsys):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(GOOD)
    bad.write_text(BAD)
    assert main(["sources", "check", str(good)]) == 0
    assert capsys.readouterr().out.strip() == f"{good}: 4 sources OK (1 feed, 1 forum, 1 reviews, 1 subreddit)"
    assert main(["sources", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: source 2 (https://news.example/): kind: unknown kind 'newsgroup'" in err
    assert err.strip().endswith(f"9 problems in {bad}")
    assert main(["sources", "check", str(tmp_path / "missing.toml")]) == 2


def test_cli_check_default_file_from_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COMPLAINTWATCH_STATE_DIR", str(tmp_path))
    (tmp_path / "sources.toml").write_text(GOOD)
    assert main(["sources", "check"]) == 0
    assert "4 sources OK" in capsys.readouterr().out
    other = tmp_path / "elsewhere.toml"
    other.write_text(BAD)
    monkeypatch.setenv("COMPLAINTWATCH_SOURCES_FILE", str(other))
    assert main(["sources", "check"]) == 1
