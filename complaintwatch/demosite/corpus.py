"""Deterministic text generation: threads (a root post plus its comments,
replies and company answers) about the fictional companies.

Everything flows from one random.Random(seed); iteration orders are fixed so
the same seed always yields the same corpus, byte for byte.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from . import vocab
from .companies import COMPANIES, COMPANY_BY_ID, COURIER_ID, LAST_DAY, SHOP_KINDS, Company, Trend
from .fragments import FRAGMENTS, Fragments
from .textutil import EN_MONTHS, RU_MONTHS_GEN, group_digits, plural_ru, translit

SEED = 20190301
SITES = ("blog", "forum", "reviews")
_SITE_SHARE = (0.30, 0.32, 0.38)
_RU_SHARE = 0.6
# Root posts stop early enough that every comment still predates LAST_DAY.
_LAST_ROOT_DAY = LAST_DAY - timedelta(days=60)
_ALL_KINDS = frozenset({*SHOP_KINDS, "courier", "payments"})


def tz_for(lang: str, site: str) -> timezone:
    """Russian posts are Moscow time; English blog authors sit in US Eastern
    (fixed -05:00), English forum/review users in UTC."""
    if lang == "ru":
        return timezone(timedelta(hours=3))
    return timezone(timedelta(hours=-5)) if site == "blog" else timezone.utc


@dataclass(frozen=True, slots=True)
class Person:
    name: str  # as displayed on the site
    first: str  # how a company reply addresses them
    gender: str  # "m" | "f", drives Russian verb endings


@dataclass(slots=True)
class Message:
    author: Person
    paragraphs: list[str]
    published: datetime
    is_company_reply: bool = False
    reply_to: int | None = None  # index in Thread.replies it answers; None = the root post
    quote: str | None = None  # forum only: quoted excerpt of the root post, not part of text

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(slots=True)
class Thread:
    site: str  # blog | forum | reviews
    lang: str
    company: Company
    companies: tuple[str, ...]  # company ids the root post names
    incident: str | None  # taxonomy key, None for praise/questions
    topic: str  # fragment pool used: incident key, "praise" or "question"
    title: str
    root: Message
    replies: list[Message]
    rating: int | None = None  # reviews only, 1..5


# -- fragment handling -------------------------------------------------------

_TAG = re.compile(r"^([A-Za-z,]+)\|")
_GENDER = re.compile(r"\[\[([^/\]]*)/([^\]]*)\]\]")


def _tag_allows(tag: str, kind: str) -> bool:
    if tag == "goods":
        return kind in SHOP_KINDS and kind != "grocery"
    if tag in _ALL_KINDS:
        return tag == kind
    codes = {"S": kind in SHOP_KINDS, "C": kind == "courier", "P": kind == "payments"}
    return any(codes.get(ch, False) for ch in tag)


def fits(fragment: str, kind: str) -> str | None:
    """The fragment without its kind tag, or None when it does not fit `kind`."""
    m = _TAG.match(fragment)
    if not m:
        return fragment
    if any(_tag_allows(t, kind) for t in m.group(1).split(",")):
        return fragment[m.end() :]
    return None


def fill(fragment: str, ctx: dict[str, str], gender: str) -> str:
    text = _GENDER.sub(lambda m: m.group(1) if gender == "m" else m.group(2), fragment)
    # "руб." closing a sentence must not end up as "руб.."
    return text.format_map(ctx).replace("руб..", "руб.")


def _frag(lang: str) -> Fragments:
    return FRAGMENTS["ru" if lang == "ru" else "en"]


def _pool(lang: str, topic: str, part: str, kind: str) -> list[str]:
    raw = _frag(lang).pools[topic][part]
    pool = [f for f in (fits(x, kind) for x in raw) if f is not None]
    if not pool:
        raise ValueError(f"no {part} for {topic}/{kind}/{lang}")
    return pool


# -- concrete details --------------------------------------------------------


def _money(n_rub: int, lang: str, style: int) -> str:
    if lang == "ru":
        if style == 0:
            return f"{group_digits(n_rub)} ₽"
        if style == 1:
            return f"{n_rub} руб."
        if style == 2:
            return f"{group_digits(n_rub)} {plural_ru(n_rub, 'рубль', 'рубля', 'рублей')}"
        return f"{n_rub}р"
    dollars = n_rub / 90
    return f"${dollars:,.2f}" if style % 2 else f"${round(dollars):,}"


def _price(rng: random.Random, lo: int, hi: int) -> int:
    n = rng.randint(lo, hi)
    step = 100 if n < 20000 else 1000
    return max(lo, (n // step) * step - rng.choice((0, 0, 10, 1)))


def _ru_date(d: date) -> str:
    return f"{d.day} {RU_MONTHS_GEN[d.month]}"


def _en_date(d: date) -> str:
    return f"{EN_MONTHS[d.month]} {d.day}"


def _digits(rng: random.Random, k: int) -> str:
    return str(rng.randint(10 ** (k - 1), 10**k - 1))


def _order_number(rng: random.Random, company: Company, lang: str) -> str:
    fmt = vocab.ORDER_FORMATS[company.id]
    num = fmt.format(**{f"n{k}": _digits(rng, k) for k in (4, 5, 6, 8, 9)})
    if rng.random() < 0.5:
        num = ("№" if lang == "ru" else "#") + num
    return num


def _shop_forms(rng: random.Random, company: Company, lang: str, prefix: str) -> dict[str, str]:
    """{shop}, {shop_gen}, ... as this author spells the company: usually the
    inflected brand name, sometimes the (indeclinable) domain or an alias."""
    cases = ("", "_gen", "_dat", "_acc", "_ins", "_prep")
    if lang == "ru":
        forms = company.forms_ru if rng.random() < 0.8 else (company.domain,) * 6
    else:
        forms = (rng.choice((company.name_en,) * 4 + (company.domain, company.aliases_en[0])),) * 6
    return {prefix + case: form for case, form in zip(cases, forms)}


def make_context(rng: random.Random, company: Company, lang: str, when: datetime) -> dict[str, str]:
    ru = lang == "ru"
    words = vocab.WORDS["ru" if ru else "en"]
    lo, hi = vocab.AMOUNT_RANGES[company.kind]
    amount = _price(rng, lo, hi)
    style = rng.randrange(4)
    order_day = when.date() - timedelta(days=rng.randint(4, 40))
    promised = order_day + timedelta(days=rng.randint(2, 9))
    days, weeks = rng.randint(3, 30), rng.randint(2, 6)
    wait = rng.choice((25, 30, 35, 40, 45, 50, 55, 70, 90))
    hours = rng.randint(2, 6)
    points = rng.choice((300, 500, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4700, 5000, 7500))
    city = rng.choice(words.cities) if ru else (rng.choice(words.cities),) * 3
    street = rng.choice(words.streets)
    track_prefix = "PE" if company.kind == "courier" else rng.choice(("RA", "LP", "ZA", "CX", "PE"))
    ctx = {
        "order": _order_number(rng, company, lang),
        "amount": _money(amount, lang, style),
        "amount_x2": _money(amount * 2, lang, style),
        "amount2": _money(max(100, amount * rng.randint(8, 35) // 1000 * 10), lang, style),
        "amount_up": _money(amount * rng.randint(14, 21) // 100 * 10, lang, style),
        "product": rng.choice(vocab.PRODUCTS[company.kind][lang]),
        "city": city[0],
        "city_prep": city[1],
        "city_gen": city[2],
        "pvz": f"на {street}, {rng.randint(2, 120)}" if ru else f"the pickup point on {street}",
        "track": f"{track_prefix}{_digits(rng, 9)}RU",
        "date": _ru_date(order_day) if ru else _en_date(order_day),
        "date2": _ru_date(promised) if ru else _en_date(promised),
        "days": f"{days} {plural_ru(days, 'день', 'дня', 'дней')}" if ru else f"{days} days",
        "weeks": f"{weeks} {plural_ru(weeks, 'неделю', 'недели', 'недель')}" if ru else f"{weeks} weeks",
        "wait": f"{wait} минут" if ru else f"{wait} minutes",
        "hours": f"{hours} {plural_ru(hours, 'час', 'часа', 'часов')}" if ru else f"{hours} hours",
        "operator": rng.choice(words.operators),
        "agent": rng.choice(words.agents),
        "ticket": f"№ {_digits(rng, 6)}" if ru else f"#{_digits(rng, 6)}",
        "card": f"*{_digits(rng, 4)}" if ru else f"ending {_digits(rng, 4)}",
        "promo": f"{rng.choice(vocab.PROMO_STEMS)}{rng.choice(('300', '500', '1000', '15', str(when.year)))}",
        "points": (
            f"{group_digits(points)} {plural_ru(points, 'балл', 'балла', 'баллов')}" if ru else f"{points:,} points"
        ),
        "year": str(when.year),
        "first": "",
    }
    if company.kind == "courier":  # a courier's "order number" is the tracking number
        ctx["order"] = ctx["track"]
    ctx.update(_shop_forms(rng, company, lang, "shop"))
    ctx.update(_shop_forms(rng, COMPANY_BY_ID[COURIER_ID], lang, "courier"))
    return ctx


# -- people ------------------------------------------------------------------


def _ru_surname(surname: str, gender: str) -> str:
    if gender == "m":
        return surname
    if surname.endswith("ский"):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ев", "ёв", "ин")):
        return surname + "а"
    return surname


def make_person(rng: random.Random, lang: str, site: str) -> Person:
    gender = rng.choice("mf")
    words = vocab.WORDS["ru" if lang == "ru" else "en"]
    first = rng.choice(words.male if gender == "m" else words.female)
    last = rng.choice(words.surnames)
    if lang == "ru":
        last = _ru_surname(last, gender)
    nick_words = words.nick_words
    lat_first, lat_last = translit(first), translit(last)
    nicks = (
        f"{lat_first}_{lat_last[:3]}",
        f"{lat_first.lower()}{rng.randint(70, 99)}",
        f"{rng.choice(nick_words)}_{rng.randint(1, 999)}",
        f"{lat_first}{lat_last[0]}",
    )
    roll = rng.random()
    if site == "forum" or (site == "blog" and roll < 0.12):
        nick = rng.choice(nicks)
        return Person(nick, nick, gender)
    if site == "reviews":
        name = f"{first} {last[0]}." if roll < 0.7 else first
        return Person(name, first, gender)
    return Person(f"{first} {last}" if roll < 0.8 else first, first, gender)


def _official(company: Company, lang: str, site: str) -> Person:
    name = {
        "blog": company.official_name(lang),
        "forum": company.official_account,
        "reviews": company.name(lang),
    }[site]
    return Person(name, name, "f")


# -- composition -------------------------------------------------------------


# Words of company names and domains: typos there would hide the company.
_PROTECTED = frozenset(w.lower() for c in COMPANIES for a in c.aliases for w in re.findall(r"\w+", a))


def _typo(rng: random.Random, text: str) -> str:
    """Swap two letters in one longer lower-case word: people do make typos."""
    words = [m for m in re.finditer(r"\b[a-zа-яё]{7,}\b", text) if m.group(0) not in _PROTECTED]
    if not words:
        return text
    m = rng.choice(words)
    w = m.group(0)
    i = rng.randrange(1, len(w) - 2)
    w = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
    return text[: m.start()] + w + text[m.end() :]


def _split(rng: random.Random, sentences: list[str], k: int) -> list[str]:
    k = max(1, min(k, len(sentences)))
    cuts = sorted(rng.sample(range(1, len(sentences)), k - 1)) if k > 1 else []
    bounds = [0, *cuts, len(sentences)]
    return [" ".join(sentences[a:b]) for a, b in zip(bounds, bounds[1:])]


def _compose(
    rng: random.Random, lang: str, topic: str, company: Company, site: str, ctx: dict[str, str], gender: str
) -> tuple[list[str], bool]:
    """Paragraphs of a root post, and whether it names the courier too."""
    kind = company.kind

    def pick(part: str) -> str:
        return fill(rng.choice(_pool(lang, topic, part, kind)), ctx, gender)

    complaint = topic not in ("praise", "question")
    n_mid = {"blog": rng.randint(3, 5), "forum": rng.randint(1, 3), "reviews": rng.choice((0, 1, 1, 2))}[site]
    middles = [fill(m, ctx, gender) for m in rng.sample(_pool(lang, topic, "middles", kind), n_mid)]
    sentences = [pick("openers"), *middles]
    n_generic = (rng.random() < 0.6) + (rng.random() < 0.3) if site == "blog" else int(rng.random() < 0.2)
    if complaint:
        for filler in rng.sample(_frag(lang).generic, n_generic):
            sentences.insert(rng.choice((1, len(sentences))), fill(filler, ctx, gender))
    # Parcel-shipping shops sometimes name the courier too; grocery has its own vans.
    names_courier = (
        kind in SHOP_KINDS - {"grocery"} and topic in ("lost_parcel", "delivery_delay") and rng.random() < 0.3
    )
    if names_courier:
        sentences.append(fill(rng.choice(_frag(lang).courier_mentions), ctx, gender))
    if site != "forum" or rng.random() < 0.75:
        sentences.append(pick("closers"))
    k = {"blog": rng.randint(2, 3), "forum": rng.randint(1, 2), "reviews": rng.randint(1, 2)}[site]
    paragraphs = _split(rng, sentences, k)
    if rng.random() < 0.06:
        j = rng.randrange(len(paragraphs))
        paragraphs[j] = _typo(rng, paragraphs[j])
    return paragraphs, names_courier


def _comment_text(rng: random.Random, thread: Thread, ctx: dict[str, str], gender: str) -> list[str]:
    frag = _frag(thread.lang)
    complaint = thread.incident is not None
    # Praise and questions only get on-topic answers; the generic pools are complaint talk.
    which = rng.choices(("same", "topic", "skeptic", "ask"), (0.35, 0.35, 0.1, 0.2))[0] if complaint else "topic"
    topic_pool = _pool(thread.lang, thread.topic, "comments", thread.company.kind)
    first = rng.choice(topic_pool if which == "topic" else frag.comments[which])
    parts = [fill(first, ctx, gender)]
    if which == "same" and rng.random() < 0.4:
        parts.append(fill(rng.choice(topic_pool), ctx, gender))
    return [" ".join(parts)]


def _reply_count(rng: random.Random, site: str) -> int:
    if site == "reviews":
        return 0
    if site == "forum" and rng.random() < 0.08:
        return rng.randint(12, 24)  # the occasional megathread, spans pages
    return rng.choices((0, 1, 2, 3, 4, 5, 6), (0.1, 0.22, 0.27, 0.18, 0.12, 0.07, 0.04))[0]


class _Crowd:
    """Commenters: a few regulars show up in many threads, like on real sites."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.regulars = {
            (lang, site): [make_person(rng, lang, site) for _ in range(18)] for site in SITES for lang in ("ru", "en")
        }

    def person(self, lang: str, site: str) -> Person:
        if self.rng.random() < (0.5 if site == "forum" else 0.25):
            return self.rng.choice(self.regulars[(lang, site)])
        return make_person(self.rng, lang, site)


def _company_reply(rng: random.Random, thread: Thread, root_ctx: dict[str, str], when: datetime) -> Message:
    """The official answer quotes the customer's own order number and name."""
    frag = _frag(thread.lang)
    ctx = {**root_ctx, "first": thread.root.author.first}
    styles = frag.replies[thread.company.id]
    pool = styles["praise"] if thread.topic == "praise" else styles["complaint"]
    text = fill(rng.choice(pool), ctx, thread.root.author.gender)
    return Message(_official(thread.company, thread.lang, thread.site), [text], when, is_company_reply=True)


def _add_replies(rng: random.Random, thread: Thread, root_ctx: dict[str, str], crowd: _Crowd) -> None:
    n = _reply_count(rng, thread.site)
    answers = rng.random() < thread.company.reply_rate
    slot = rng.randint(0, n) if answers else None
    op, lang, site = thread.root.author, thread.lang, thread.site
    t = thread.root.published
    msgs: list[Message] = []
    for i in range(n + (1 if answers else 0)):
        if i == slot:
            t += timedelta(minutes=rng.randint(6 * 60, 60 * 60))
            msgs.append(_company_reply(rng, thread, root_ctx, t))
            continue
        t += timedelta(minutes=rng.randint(5, 30 * 60 if n < 10 else 6 * 60))
        ctx = make_context(rng, thread.company, lang, t)
        prev = msgs[-1] if msgs else None
        if prev is not None and prev.is_company_reply and rng.random() < 0.6:
            text = fill(rng.choice(_frag(lang).comments["op_thanks"]), root_ctx, op.gender)
            msgs.append(Message(op, [text], t, reply_to=len(msgs) - 1))
        elif msgs and rng.random() < 0.18:
            text = fill(rng.choice(_frag(lang).comments["op_followup"]), root_ctx, op.gender)
            others = [j for j, m in enumerate(msgs) if m.author != op]
            target = others[-1] if others and site == "blog" and rng.random() < 0.7 else None
            msgs.append(Message(op, [text], t, reply_to=target))
        else:
            who = crowd.person(lang, site)
            target = rng.randrange(len(msgs)) if msgs and site == "blog" and rng.random() < 0.25 else None
            quote = None
            if site == "forum" and rng.random() < 0.15:
                quote = re.split(r"(?<=[.!?])\s", thread.root.paragraphs[0])[0]
            msgs.append(Message(who, _comment_text(rng, thread, ctx, who.gender), t, reply_to=target, quote=quote))
    if site != "blog":  # only WordPress threads comments; elsewhere replies are flat
        for m in msgs:
            m.reply_to = None
    thread.replies = msgs


# -- corpus ------------------------------------------------------------------


def _apportion(n: int, trends: tuple[Trend, ...]) -> list[Trend]:
    """Exactly n trend slots, in proportion to the weights (largest remainder),
    so every company's profile is met exactly rather than on average."""
    total = sum(t.weight for t in trends)
    quotas = [t.weight / total * n for t in trends]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(trends)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return [t for t, c in zip(trends, counts) for _ in range(c)]


def _sample_day(rng: random.Random, trend: Trend) -> date:
    end = min(trend.end, _LAST_ROOT_DAY)
    span = (end - trend.start).days
    if trend.shape == "rising":
        x = rng.triangular(0, span, span)
    elif trend.shape == "falling":
        x = rng.triangular(0, span, 0)
    else:
        x = rng.uniform(0, span)
    return trend.start + timedelta(days=int(x))


def _title(rng: random.Random, lang: str, topic: str, company: Company, ctx: dict[str, str], gender: str) -> str:
    title = fill(rng.choice(_pool(lang, topic, "titles", company.kind)), ctx, gender)
    if "." not in title.split()[0]:  # keep "korobka.ru: ..." as people type it
        title = title[0].upper() + title[1:]
    return title


def _rating(rng: random.Random, topic: str) -> int:
    if topic == "praise":
        return rng.choices((4, 5), (0.25, 0.75))[0]
    if topic == "question":
        return 3
    if topic == "delivery_delay":
        return rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0]
    return rng.choices((1, 2), (0.75, 0.25))[0]


def _exact_shuffle(rng: random.Random, n: int, labels: tuple[str, ...], shares: tuple[float, ...]) -> list[str]:
    counts = [round(n * s) for s in shares[:-1]]
    counts.append(n - sum(counts))
    out = [lab for lab, c in zip(labels, counts) for _ in range(c)]
    rng.shuffle(out)
    return out


def generate_corpus(seed: int = SEED) -> list[Thread]:
    """All threads, sorted by the root post's publication time."""
    rng = random.Random(seed)
    crowd = _Crowd(rng)
    threads: list[Thread] = []
    seen_texts: set[str] = set()
    for company in COMPANIES:
        slots = _apportion(company.posts, company.trends)
        rng.shuffle(slots)
        sites = _exact_shuffle(rng, company.posts, SITES, _SITE_SHARE)
        langs = _exact_shuffle(rng, company.posts, ("ru", "en"), (_RU_SHARE, 1 - _RU_SHARE))
        for trend, site, lang in zip(slots, sites, langs):
            topic = trend.incident or ("question" if site != "reviews" and rng.random() < 0.35 else "praise")
            day = _sample_day(rng, trend)
            published = datetime.combine(
                day, time(rng.randint(7, 23), rng.randint(0, 59), rng.randint(0, 59)), tz_for(lang, site)
            )
            author = make_person(rng, lang, site)
            # Redraw on an exact-duplicate text, and on blog/forum posts that never
            # name the company (a review page names it for the reader).
            for _ in range(100):
                ctx = make_context(rng, company, lang, published)
                paragraphs, names_courier = _compose(rng, lang, topic, company, site, ctx, author.gender)
                title = _title(rng, lang, topic, company, ctx, author.gender)
                text = "\n".join(paragraphs)
                named = any(alias in f"{title}\n{text}" for alias in company.aliases)
                if text not in seen_texts and (named or site == "reviews"):
                    break
            seen_texts.add(text)
            companies = (company.id, COURIER_ID) if names_courier else (company.id,)
            thread = Thread(
                site=site,
                lang=lang,
                company=company,
                companies=companies,
                incident=trend.incident,
                topic=topic,
                title=title,
                root=Message(author, paragraphs, published),
                replies=[],
                rating=_rating(rng, topic) if site == "reviews" else None,
            )
            _add_replies(rng, thread, ctx, crowd)
            threads.append(thread)
    threads.sort(key=lambda t: (t.root.published.astimezone(timezone.utc), t.company.id, t.title))
    return threads
