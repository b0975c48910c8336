"""The takedown's "whole thread" walk (indexer.store.types.whole_threads), written once for
both backends: from the posts at the listed URLs, every post in their threads or answering
them, replies of replies included, whatever chunk size a backend's look-up takes. The
backends' own takedowns are tested in test_takedown_complete.py and test_store.py."""

from __future__ import annotations

import pytest

from indexer.store.types import whole_threads

# post key -> (url, thread_url, parent_url): a thread whose replies answer replies, another
# thread, a post answering itself, and a reply that names only its parent
POSTS = {
    1: ("https://f.test/t/1", "https://f.test/t/1", None),
    2: ("https://f.test/t/1#2", "https://f.test/t/1", "https://f.test/t/1"),
    3: ("https://f.test/r/3", None, "https://f.test/t/1#2"),  # answers a reply, on its own page
    4: ("https://f.test/r/4", None, "https://f.test/r/3"),  # and its answer
    5: ("https://f.test/r/5", "https://f.test/r/5", "https://f.test/r/5"),  # a loop
    6: ("https://f.test/t/6", "https://f.test/t/6", None),
    7: ("https://f.test/t/6#7", "https://f.test/t/6", "https://f.test/t/6"),
}


def _under(calls: list[list[str]]):
    def under(urls: list[str]) -> list[tuple[int, str]]:
        calls.append(urls)
        return [(k, u) for k, (u, t, p) in POSTS.items() if u in urls or t in urls or p in urls]

    return under


@pytest.mark.parametrize("chunk", [1, 2, 300])
def test_walk_reaches_replies_of_replies_in_any_chunk_size(chunk):
    calls: list[list[str]] = []
    seeds = [(1, POSTS[1][0]), (1, POSTS[1][0])]  # listed twice (two variants of one URL)
    assert whole_threads(seeds, _under(calls), chunk) == [1, 2, 3, 4]
    assert all(0 < len(c) <= chunk for c in calls)
    assert sum(len(c) for c in calls) == 4  # each post's URL looked up once


def test_walk_stops_on_a_loop_and_leaves_other_threads():
    assert whole_threads([(5, POSTS[5][0])], _under([]), 300) == [5]
    assert whole_threads([(7, POSTS[7][0])], _under([]), 300) == [7]  # a comment: not its thread
    assert whole_threads([], _under([]), 300) == []


def test_walk_keys_may_be_document_ids():
    by_id = {f"doc{k}": v for k, v in POSTS.items()}

    def under(urls: list[str]) -> list[tuple[str, str]]:
        return [(k, u) for k, (u, t, p) in by_id.items() if u in urls or t in urls or p in urls]

    assert whole_threads([("doc6", POSTS[6][0])], under, 1000) == ["doc6", "doc7"]
