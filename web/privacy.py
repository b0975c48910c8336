"""Author pseudonyms.

With PSEUDONYMISE_AUTHORS on, every author name the app shows (pages, JSON
API, Atom feeds, CSV/JSON exports) is a pseudonym like ``user-3f9a2c81d04e7b65``: an
HMAC-SHA256 of the name under a secret key (the PSEUDONYM_KEY setting, else
$COMPLAINTWATCH_PSEUDONYM_KEY). The same author keeps the same pseudonym on
every page and across restarts, and the name cannot be recovered, or guessed
and confirmed, without the key. ``complaintwatch serve --pseudonymise-authors``
keeps a generated key in the state folder when none is given.

Everything goes through :func:`shown_author` (the ``author`` template filter).
Names that posts quote ("Hi Alex_Edw", "@Alex_Edw", "Alex_Edw wrote:") are
replaced too: with the mode on, the app reads the store through
:class:`PseudonymisingStore`, which gives every post's title and text (and
so snippets, feeds and exports) and every incident type's labels and
keywords with each stored author name (:class:`QuotedNames`) replaced by its
pseudonym.

A pseudonym carries 64 bits (16 hex digits): at 24 bits, 100,000 authors
already shared 307 pseudonyms; at 64 bits a collision among a million authors
has a chance of about 3 in 100 million.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import overload

from flask import Flask, current_app, has_app_context

from complaintwatch.models import Incident, Post, SearchHit
from indexer.store.base import Store

KEY_ENV = "COMPLAINTWATCH_PSEUDONYM_KEY"
KEY_FILE = "pseudonym.key"


PSEUDONYM_HEX = 16  # 64 bits


def pseudonym(name: str, key: str) -> str:
    """``user-`` and 16 hex digits (64 bits) of HMAC-SHA256(key, name with whitespace normalised)."""
    norm = " ".join(name.split()).encode("utf-8", "surrogatepass")
    return "user-" + hmac.new(key.encode("utf-8"), norm, hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


_WORD = re.compile(r"\w+")
# Shorter names ("Al", "я") are not looked for in text: they would replace
# ordinary words everywhere. The author field itself is always pseudonymised.
MIN_QUOTED_CHARS = 3


class QuotedNames:
    """Finds author names where a text quotes them and puts their pseudonyms
    there. A name matches case-insensitively, with any whitespace between its
    words, and only as a whole: "Alex_Edw" in "Hi @alex_edw," but not in
    "Alex_Edwards". One pass over the text's words with a lookup per word,
    so 100,000 authors cost no more than ten."""

    def __init__(self, names: Iterable[str], key: str):
        self.key = key
        # lower-cased first word -> (pattern, chars before that word, names spelt so, case-insensitively)
        groups: dict[str, list[str]] = {}
        for name in names:
            norm = " ".join((name or "").split())
            if len(norm) >= MIN_QUOTED_CHARS and _WORD.search(norm):
                groups.setdefault(norm.lower(), []).append(norm)
        # (name pattern, compiled when first needed, chars before the first word, ends in a word char, pseudonyms)
        self._by_word: dict[str, list[tuple[str, int, bool, dict[str, str]]]] = {}
        self._compiled: dict[str, re.Pattern[str]] = {}
        for low, spellings in groups.items():
            first = _WORD.search(low)
            assert first is not None  # groups holds only names with a word
            pattern = r"\s+".join(re.escape(w) for w in spellings[0].split(" "))
            ends_in_word = bool(_WORD.fullmatch(low[-1]))
            by_spelling = {n: pseudonym(n, key) for n in sorted(spellings)}
            self._by_word.setdefault(first.group(), []).append((pattern, first.start(), ends_in_word, by_spelling))
        for cands in self._by_word.values():
            cands.sort(key=lambda c: -len(c[0]))  # the longest name first: "Иван Петров" before "Иван"

    def __len__(self) -> int:
        return sum(len(c) for c in self._by_word.values())

    @overload
    def replace(self, text: str) -> str: ...
    @overload
    def replace(self, text: None) -> None: ...
    def replace(self, text: str | None) -> str | None:
        if not text or not self._by_word:
            return text
        out: list[str] = []
        pos = 0
        for w in _WORD.finditer(text):
            if w.start() < pos or (cands := self._by_word.get(w.group().lower())) is None:
                continue
            for pattern, offset, ends_in_word, by_spelling in cands:
                start = w.start() - offset
                if start < 0 or start < pos:
                    continue
                if (compiled := self._compiled.get(pattern)) is None:
                    compiled = self._compiled[pattern] = re.compile(pattern, re.IGNORECASE)
                if (m := compiled.match(text, start)) is None:
                    continue
                if ends_in_word and _WORD.match(text, m.end()):  # only part of a longer word
                    continue
                spelt = " ".join(m.group().split())
                alias = by_spelling.get(spelt) or next(iter(by_spelling.values()))
                out += [text[pos:start], alias]
                pos = m.end()
                break
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)


class PseudonymisingStore:
    """The store as the app reads it in pseudonymised mode: posts, search
    hits (with snippets made again from the new text) and incident types
    come back with quoted author names replaced; all else passes through.
    The names are read again when the number of posts changes (a crawl)."""

    RECHECK_SECONDS = 1.0

    def __init__(self, store: Store, key: str):
        self._store = store
        self._key = key
        self._lock = threading.Lock()
        self._names: QuotedNames | None = None
        self._count = -1
        self._checked = 0.0

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def quoted_names(self) -> QuotedNames:
        now = time.monotonic()
        if self._names is not None and now - self._checked < self.RECHECK_SECONDS:
            return self._names
        with self._lock:
            count = self._store.count_posts()
            if self._names is None or count != self._count:
                self._names, self._count = QuotedNames(self._store.authors(), self._key), count
            self._checked = now
            return self._names

    @overload
    def _post(self, p: Post, names: QuotedNames | None = None) -> Post: ...
    @overload
    def _post(self, p: None, names: QuotedNames | None = None) -> None: ...
    def _post(self, p: Post | None, names: QuotedNames | None = None) -> Post | None:
        if p is None:
            return None
        names = names or self.quoted_names()
        title, text = names.replace(p.title), names.replace(p.text)
        if title == p.title and text == p.text:
            return p
        return dataclasses.replace(p, title=title, text=text, content_hash=p.content_hash)

    def _posts(self, posts: Iterable[Post]) -> list[Post]:
        names = self.quoted_names()
        return [self._post(p, names) for p in posts]

    def get_post(self, post_id: int) -> Post | None:
        return self._post(self._store.get_post(post_id))

    def get_post_by_url(self, url: str) -> Post | None:
        return self._post(self._store.get_post_by_url(url))

    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        names = self.quoted_names()
        return {i: self._post(p, names) for i, p in self._store.get_posts(ids).items()}

    def iter_posts(self, batch: int = 500):
        names = self.quoted_names()
        for p in self._store.iter_posts(batch):
            yield self._post(p, names)

    def thread(self, thread_url: str) -> list[Post]:
        return self._posts(self._store.thread(thread_url))

    def latest_posts(self, *args, **kwargs) -> list[Post]:
        return self._posts(self._store.latest_posts(*args, **kwargs))

    def same_story(self, post: Post) -> list[Post]:
        return self._posts(self._store.same_story(post))

    def search_text(self, query: str, *args, **kwargs) -> tuple[list[SearchHit], int]:
        from indexer.query import parse_query
        from indexer.snippets import snippet

        hits, total = self._store.search_text(query, *args, **kwargs)
        names = self.quoted_names()
        out = []
        for h in hits:
            post = self._post(h.post, names)
            if post is not h.post:  # the store's snippet shows the old text
                h = SearchHit(post=post, score=h.score, snippet=snippet(post.text, parse_query(query).positive_stems))
            out.append(h)
        return out, total

    def incidents(self) -> list[Incident]:
        names = self.quoted_names()
        out = []
        for i in self._store.incidents():
            out.append(
                dataclasses.replace(
                    i,
                    label_en=names.replace(i.label_en),
                    label_ru=names.replace(i.label_ru),
                    keywords=[names.replace(k) for k in i.keywords],
                )
            )
        return out


def pseudonym_key(config) -> str | None:
    return config.get("PSEUDONYM_KEY") or os.environ.get(KEY_ENV) or None


def _required_key(config) -> str:
    key = pseudonym_key(config)
    if not key:
        raise ValueError(f"PSEUDONYMISE_AUTHORS needs a key: the PSEUDONYM_KEY setting or ${KEY_ENV}")
    return key


def shown_author(name: str | None) -> str | None:
    """The author as the app shows it: the name, or its pseudonym when
    PSEUDONYMISE_AUTHORS is on. Empty stays empty ("anonymous" in templates)."""
    if not name or not name.strip() or not has_app_context():
        return name
    config = current_app.config
    if not config.get("PSEUDONYMISE_AUTHORS"):
        return name
    return pseudonym(name, _required_key(config))


def init_app(app: Flask) -> None:
    """Refuse to start pseudonymising without a key (a random per-process key
    would change every pseudonym on restart); register the template filter."""
    if app.config.get("PSEUDONYMISE_AUTHORS"):
        _required_key(app.config)
    app.jinja_env.filters["author"] = shown_author
    svc = app.extensions.get("complaintwatch")
    if app.config.get("PSEUDONYMISE_AUTHORS") and svc is not None and not isinstance(svc.store, PseudonymisingStore):
        svc.store = PseudonymisingStore(svc.store, _required_key(app.config))


def load_or_create_key(state_dir: Path) -> str:
    """The key in ``state_dir/pseudonym.key``, created (mode 0600) on first use."""
    path = Path(state_dir) / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    tmp = path.with_name(f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    try:
        os.link(tmp, path)  # appears complete or not at all; fails if another process made one first
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
    finally:
        tmp.unlink()
    return key
