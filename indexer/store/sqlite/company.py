"""The embedded store's per-company aggregates (the company page) from one
compact read of the company's posts and their threads.

The SQL of each aggregate walked the company's rows again (at 100k posts the
largest company has 63k of them: 0.1-1.3 s per aggregate, ~3.5 s per page).
Here one query reads the columns the aggregates need as numbers (stance and
story codes, epoch seconds, thread keys), one more the company replies in the
threads of the company's opening posts; every aggregate is then a few numpy
operations. SearchState keeps the result per change marker, so the aggregates
of one page (and the next pages, until a write) share one read.

Definitions are those of the SQL they replace (AnalyticsStore, ../roles.py): a
thread is the posts whose url or thread_url is the opening post's thread_url
(or url); a story posted on several URLs (same content_hash) counts once.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from ...stance import COMPLAINT, STANCES
from ..types import ComplaintReply, ComplaintSummary, IncidentStat

_NO_DATE = np.iinfo(np.int64).min


def _codes(values) -> tuple[np.ndarray, dict]:
    """Each value's code (first seen first) and the codes by value: int32 keeps the
    columns of a large company small (~40 bytes a post)."""
    codes: dict = {}
    arr = np.fromiter((codes.setdefault(v, len(codes)) for v in values), dtype=np.int32, count=len(values))
    return arr, codes


def _seconds(values) -> np.ndarray:
    return np.fromiter((_NO_DATE if v is None else v for v in values), dtype=np.int64, count=len(values))


def _month_name(m: int) -> str:
    return f"{1970 + m // 12:04d}-{m % 12 + 1:02d}"


def _when(sec: int | None) -> datetime | None:
    return None if sec is None or sec == _NO_DATE else datetime.fromtimestamp(int(sec), tz=timezone.utc)


def _by_month(months: np.ndarray) -> dict[str, int]:
    values, n = np.unique(months, return_counts=True)
    return {_month_name(int(m)): int(c) for m, c in zip(values, n)}


def _distinct_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (a, b) pairs, sorted."""
    if not len(a):
        return a, b
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


@dataclass
class CompanyPosts:
    """The posts mentioning one company, as columns in post id order, and the
    threads of its opening posts by thread key code."""

    company: str
    ids: np.ndarray
    root: np.ndarray  # no parent_url
    reply: np.ndarray  # is_company_reply
    stance: np.ndarray  # codes into stances
    stances: dict[str | None, int]
    incident: np.ndarray  # -1: none
    sec: np.ndarray  # published_at as epoch seconds (_NO_DATE: unknown)
    story: np.ndarray  # content_hash codes
    key: np.ndarray  # thread key (coalesce(thread_url, url)) codes
    # per thread key: its posts, the company replies among them, the first reply's seconds
    members: np.ndarray
    replies: np.ndarray
    first_reply: np.ndarray

    @property
    def dated(self) -> np.ndarray:
        return self.sec != _NO_DATE

    @property
    def month(self) -> np.ndarray:
        """Months since 1970-01 (UTC), as substr(published_at, 1, 7); meaningless where not dated."""
        return np.where(self.dated, self.sec, 0).astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)

    def _is(self, value: str | None) -> np.ndarray:
        code = self.stances.get(value)
        return np.zeros(len(self.ids), dtype=bool) if code is None else self.stance == code

    @property
    def complaint_stance(self) -> np.ndarray:
        """Stance "complaint", or none yet (an older store, not classified)."""
        return self._is(COMPLAINT) | self._is(None)

    @property
    def complaints(self) -> np.ndarray:
        """The complaints: opening posts by customers (not the company's replies)."""
        return self.root & ~self.reply & self.complaint_stance

    # -- loading --
    @classmethod
    def load(cls, db: sqlite3.Connection, company: str) -> CompanyPosts:
        rows = db.execute(
            "SELECT p.id, p.parent_url IS NULL, p.is_company_reply != 0, p.stance, coalesce(p.incident_id, -1),"
            " CAST(strftime('%s', p.published_at) AS INTEGER), p.content_hash, coalesce(p.thread_url, p.url),"
            " CASE WHEN p.thread_url IS NULL THEN 0 WHEN p.thread_url = p.url THEN 1 ELSE 2 END"
            " FROM post_companies c JOIN posts p ON p.id = c.post_id WHERE c.company = ? ORDER BY p.id",
            (company,),
        ).fetchall()
        cols = list(zip(*rows)) if rows else [()] * 9
        n = len(rows)
        root = np.fromiter(cols[1], dtype=bool, count=n)
        reply = np.fromiter(cols[2], dtype=bool, count=n)
        stance, stances = _codes(cols[3])
        story, _ = _codes(cols[6])
        key, key_codes = _codes(cols[7])
        # 0: no thread_url (its key is its url), 1: its thread_url is its url, 2: another url
        thread_kind = np.fromiter(cols[8], dtype=np.int8, count=n)
        sec = _seconds(cols[5])
        threads = _Threads(len(key_codes))
        root_keys = np.unique(key[root])
        if len(root_keys):
            keys = list(key_codes)
            # the posts whose thread_url is a key (the posts_thread index, key by key)
            found = db.execute(
                "SELECT thread_url, count(*), sum(is_company_reply != 0),"
                " CAST(strftime('%s', min(CASE WHEN is_company_reply THEN published_at END)) AS INTEGER)"
                " FROM posts WHERE thread_url IN (SELECT value FROM json_each(?)) GROUP BY thread_url",
                (json.dumps([keys[c] for c in root_keys.tolist()]),),
            ).fetchall()
            if found:
                t = list(zip(*found))
                threads.add(
                    np.fromiter((key_codes[k] for k in t[0]), dtype=np.int32, count=len(found)),
                    np.fromiter(t[1], dtype=np.int64, count=len(found)),
                    np.fromiter(t[2], dtype=np.int64, count=len(found)),
                    _seconds(t[3]),
                )
            # ...and the post at the key's url unless its thread_url is the key (counted
            # above): for an opening post without a thread_url that is the post itself; a
            # thread_url pointing elsewhere needs a look-up
            elsewhere = np.unique(key[root & (thread_kind == 2)])
            if len(elsewhere):
                found = db.execute(
                    "SELECT url, is_company_reply != 0, CAST(strftime('%s', published_at) AS INTEGER) FROM posts"
                    " WHERE url IN (SELECT value FROM json_each(?)) AND (thread_url IS NULL OR thread_url != url)",
                    (json.dumps([keys[c] for c in elsewhere.tolist()]),),
                ).fetchall()
                if found:
                    t = list(zip(*found))
                    rep = np.fromiter(t[1], dtype=bool, count=len(found))
                    threads.add(
                        np.fromiter((key_codes[k] for k in t[0]), dtype=np.int32, count=len(found)),
                        np.ones(len(found), dtype=np.int64),
                        rep.astype(np.int64),
                        np.where(rep, _seconds(t[2]), _NO_DATE),
                    )
            bare = root & (thread_kind == 0) & ~np.isin(key, elsewhere)
            ones = np.ones(int(bare.sum()), dtype=np.int64)
            threads.add(key[bare], ones, reply[bare].astype(np.int64), np.where(reply[bare], sec[bare], _NO_DATE))
        return cls(
            company=company,
            ids=np.fromiter(cols[0], dtype=np.int64, count=n),
            root=root,
            reply=reply,
            stance=stance,
            stances=stances,
            incident=np.fromiter(cols[4], dtype=np.int64, count=n),
            sec=sec,
            story=story,
            key=key,
            members=threads.members,
            replies=threads.replies,
            first_reply=threads.first,
        )


class _Threads:
    """Per thread key code: its posts, the company replies among them and the
    first reply's seconds, summed over the parts of the thread as they are read."""

    _LATEST = np.iinfo(np.int64).max

    def __init__(self, n: int):
        self.members = np.zeros(n, dtype=np.int64)
        self.replies = np.zeros(n, dtype=np.int64)
        self._first = np.full(n, self._LATEST, dtype=np.int64)

    def add(self, codes: np.ndarray, members: np.ndarray, replies: np.ndarray, first: np.ndarray) -> None:
        np.add.at(self.members, codes, members)
        np.add.at(self.replies, codes, replies)
        np.minimum.at(self._first, codes, np.where(first == _NO_DATE, self._LATEST, first))

    @property
    def first(self) -> np.ndarray:
        return np.where(self._first == self._LATEST, _NO_DATE, self._first)


def _first_by(values: np.ndarray, sec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct value (sorted) and its smallest ``sec``."""
    order = np.lexsort((sec, values))
    distinct, first = np.unique(values[order], return_index=True)
    return distinct, sec[order][first]


def _reply_rows(db: sqlite3.Connection, ids: list[int]) -> dict[int, tuple]:
    rows = db.execute(
        "SELECT id, url, title, published_at, content_hash, incident_id FROM posts"
        " WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    ).fetchall()
    return {r[0]: tuple(r) for r in rows}


def _complaint_reply(row: tuple, replied: bool, first_reply: datetime | None) -> ComplaintReply:
    pid, url, title, published, content_hash, incident_id = row
    when = datetime.fromisoformat(published) if published else None
    return ComplaintReply(pid, url, title, when, content_hash, incident_id, replied, first_reply)


class CompanyAggregates:
    """The Store aggregates of one company (SQLiteStore answers with these) over its columns."""

    def __init__(self, posts: CompanyPosts):
        self.p = posts

    def incident_stats(self) -> list[IncidentStat]:
        p = self.p
        m = p.root & p.complaint_stance & (p.incident >= 0)
        inc, story, sec, month = p.incident[m], p.story[m], p.sec[m], p.month[m]
        types, totals = np.unique(_distinct_pairs(inc, story)[0], return_counts=True)
        dated = sec != _NO_DATE
        monthly: dict[int, dict[str, int]] = {int(t): {} for t in types}
        if dated.any():  # stories per (type, month): distinct (type, month, story) triples
            triples = np.unique(np.stack([inc[dated], month[dated], story[dated]], axis=1), axis=0)
            pairs, n = np.unique(triples[:, :2], axis=0, return_counts=True)
            for (t, mo), c in zip(pairs.tolist(), n.tolist()):
                monthly[t][_month_name(mo)] = c
        first = dict(zip(*(a.tolist() for a in _first_by(inc[dated], sec[dated]))))
        last = {t: -s for t, s in zip(*(a.tolist() for a in _first_by(inc[dated], -sec[dated])))}
        stats = [
            IncidentStat(p.company, t, c, _when(first.get(t)), _when(last.get(t)), monthly[t])
            for t, c in zip(types.tolist(), totals.tolist())
        ]
        return sorted(stats, key=lambda s: -s.count)  # stable: ties by type id, as the SQL grouped them

    def complaint_months(self) -> dict[str, int]:
        p = self.p
        m = p.root & p.dated & p.complaint_stance
        months, _ = _distinct_pairs(p.month[m], p.story[m])
        return _by_month(months)

    def reply_months(self) -> dict[str, int]:
        p = self.p
        m = p.reply & p.dated
        return _by_month(p.month[m])

    def reply_stats(self) -> tuple[int, int]:
        p = self.p
        keys = p.key[p.root]
        threads = p.members[keys] > 1
        return int(threads.sum()), int((threads & (p.replies[keys] > 0)).sum())

    def stance_counts(self) -> dict[str, int]:
        """{stance: the company's posts of it}, as count_latest(SearchFilters(company, stance)) counts."""
        p = self.p
        out = {}
        for st in STANCES:
            m = (p._is(COMPLAINT) | (p._is(None) & ~p.reply)) if st == COMPLAINT else p._is(st)
            out[st] = int(m.sum())
        return out

    def complaint_replies(self, db: sqlite3.Connection) -> list[ComplaintReply]:
        p = self.p
        c = p.complaints
        ids, keys = p.ids[c], p.key[c]
        rows = _reply_rows(db, ids.tolist())
        replied, first = (p.replies[keys] > 0).tolist(), p.first_reply[keys].tolist()
        return [
            _complaint_reply(rows[i], r, _when(f) if r else None)
            for i, r, f in zip(ids.tolist(), replied, first)
            if i in rows
        ]

    def summary(self, db: sqlite3.Connection, unanswered: int) -> ComplaintSummary:
        p = self.p
        c = p.complaints
        ids, keys, sec, story = p.ids[c], p.key[c], p.sec[c], p.story[c]
        answered = p.replies[keys] > 0
        first = p.first_reply[keys]
        timed = answered & (first != _NO_DATE) & (sec != _NO_DATE)
        hours = np.maximum(0.0, (first[timed] - sec[timed]) / 3600)
        # newest first, undated last (their seconds sort lowest), then the higher id
        open_ = np.flatnonzero(~answered)
        newest = open_[np.lexsort((ids[open_], sec[open_]))[::-1][: max(0, unanswered)]]
        rows = _reply_rows(db, ids[newest].tolist())
        dated = sec != _NO_DATE
        _, first_seen = _first_by(story[dated], sec[dated])  # a story once, when first seen
        return ComplaintSummary(
            complaints=int(c.sum()),
            answered=int(answered.sum()),
            median_response_hours=round(float(np.median(hours)), 1) if len(hours) else None,
            unanswered=[_complaint_reply(rows[i], False, None) for i in ids[newest].tolist() if i in rows],
            unanswered_total=len(open_),
            stories=len(np.unique(story)),
            monthly=_by_month(
                first_seen.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
                if len(first_seen)
                else first_seen
            ),
        )


__all__ = ["CompanyAggregates", "CompanyPosts"]
