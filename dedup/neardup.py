"""Stage 1 wired together: articles in; dup groups and one canonical article per group out.

normalise -> tokenise (batches, compiled) -> learn outlet boilerplate -> shingle sets -> MinHash ->
LSH candidates (whole text, and lead) -> exact verification -> groups -> canonical article.

Articles stream in through :meth:`DupFinder.add`; what is kept per article is its hashed tokens
until the corpus has been seen (boilerplate is learned from the whole corpus, so grouping does not
depend on input order), then its shingle set and signature. No text is held.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

from dedup.arrays import sorted_unique
from dedup.boilerplate import boilerplate_mask, line_outlets, line_recurrence, stripped_lines
from dedup.config import NearDupConfig
from dedup.groups import PairScores, choose_canonical, link_articles, verify_pairs
from dedup.lsh import band_keys, candidate_pairs, lsh_params
from dedup.minhash import signatures
from dedup.normalize import article_text
from dedup.records import Article, ArticleId, FieldMap, RecordError, article_from_record
from dedup.shingle import TokenBatch, shingle_sets, take_docs, tokenize, tokenize_encoded
from dedup.spill import Spill, Spilled

__all__ = [
    "DupFinder",
    "tokenize_texts",
    "DupResult",
    "DupAssignment",
    "NearDupStats",
    "find_near_duplicates",
    "DuplicateIdError",
]

Progress = Callable[[str, int, int | None], None]
SPILL_AFTER_BYTES = 64 << 20  # token arrays held in memory before later batches go to a spill file


class DuplicateIdError(RecordError):
    """An article id that was seen before; ``first_index`` is the earlier article's index."""

    def __init__(self, article_id: ArticleId, first_index: int) -> None:
        super().__init__(f"duplicate id {article_id!r} (first seen as article {first_index + 1})")
        self.article_id = article_id
        self.first_index = first_index


class DupAssignment(NamedTuple):
    id: ArticleId
    dup_group: ArticleId
    is_canonical: bool


@dataclass
class NearDupStats:
    """What stage 1 did, for the summary line and for benchmarks."""

    articles: int = 0
    groups: int = 0
    duplicates: int = 0
    too_short: int = 0
    exact_copies: int = 0
    candidate_pairs: int = 0
    linked_pairs: int = 0
    boilerplate_lines: int = 0
    non_prose_lines: int = 0
    lsh_bands: int = 0
    lsh_rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class DupResult:
    """Stage 1 output: for article ``i`` (in input order), ``canonical[i]`` is the index of its group's
    canonical article; a singleton is its own canonical."""

    ids: list[ArticleId]
    canonical: np.ndarray
    stats: NearDupStats
    pairs: PairScores | None = None
    rejects: list[tuple[int, str]] = field(default_factory=list)
    set_sizes: np.ndarray | None = None  # shingles per article, for re-linking the pairs (dedup.tune)
    id_hash: np.ndarray | None = None  # the order-free tie-break of each article

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def is_canonical(self) -> np.ndarray:
        return self.canonical == np.arange(len(self.canonical))

    def dup_group(self, i: int) -> ArticleId:
        """The dup-group id (its canonical article's id) of article ``i``."""
        return self.ids[int(self.canonical[i])]

    def assignments(self) -> Iterator[DupAssignment]:
        ids, canonical = self.ids, self.canonical.tolist()
        for i, c in enumerate(canonical):
            yield DupAssignment(ids[i], ids[c], i == c)

    def groups(self) -> dict[ArticleId, list[ArticleId]]:
        """Dup groups with more than one member: canonical id -> member ids (canonical first)."""
        out: dict[ArticleId, list[ArticleId]] = {}
        counts = np.bincount(self.canonical, minlength=len(self.ids))
        for i in np.flatnonzero(counts[self.canonical] > 1):
            c = int(self.canonical[i])
            out.setdefault(self.ids[c], [self.ids[c]])
            if i != c:
                out[self.ids[c]].append(self.ids[i])
        return out


def _id_digest(value: ArticleId) -> bytes:
    """An 8-byte hash of an id that is the same in every process (``hash()`` is salted)."""
    data = (
        value.encode("utf-8", "surrogatepass") if isinstance(value, str) else b"\x00int" + str(value).encode()
    )
    return hashlib.blake2b(data, digest_size=8).digest()


def _stable_hash(value: ArticleId) -> int:
    """:func:`_id_digest` as a 64-bit int."""
    return int.from_bytes(_id_digest(value), "little")


def stable_hashes(ids: list[ArticleId]) -> np.ndarray:
    """:func:`_stable_hash` of each id, as uint64: the digests joined and read at once."""
    return np.frombuffer(b"".join([_id_digest(v) for v in ids]), dtype="<u8").astype(np.uint64)


def _id_rank(ids: list[ArticleId], subset: np.ndarray) -> np.ndarray:
    """Rank of each id for the "smallest id" tie-break; integers before strings. Only ``subset`` ranked."""
    rank = np.zeros(len(ids), dtype=np.int64)
    if len(subset):
        keyed = sorted(subset.tolist(), key=lambda i: (isinstance(ids[i], str), ids[i]))
        rank[np.asarray(keyed, dtype=np.int64)] = np.arange(1, len(keyed) + 1)
    return rank


class DupFinder:
    """Collects articles, then finds their dup groups in one go (:meth:`finish`).

    >>> finder = DupFinder()
    >>> for article in articles:          # doctest: +SKIP
    ...     finder.add(article)
    >>> result = finder.finish()          # doctest: +SKIP
    """

    def __init__(self, config: NearDupConfig | None = None, progress: Progress | None = None) -> None:
        self.config = config or NearDupConfig()
        self._progress = progress
        self._ids: list[ArticleId] = []
        self._index: dict[ArticleId, int] = {}
        self._id_hash: list[int] = []
        self._outlet_codes: dict[str, int] = {}
        self._outlet: list[int] = []
        self._dates: list[float] = []
        self._pending: list[str] = []
        self._awaiting = 0  # articles added without text: their tokens come with add_tokens()
        self._batches: list[TokenBatch] = []
        self._token_spills: list[Spilled | None] = []  # where a batch's tokens were parked
        self._held_bytes = 0
        self._spill: Spill | None = None
        self._started = time.perf_counter()
        self._seconds: dict[str, float] = {"read": 0.0}
        self._spent = False

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._index

    def add(self, article: Article) -> int:
        """Add one article; returns its index. Raises :class:`DuplicateIdError` for a seen id."""
        return self.add_prepared(article, article_text(article.title, article.text))

    def add_prepared(self, article: Article, text: str | None) -> int:
        """Add an article whose text was already cleaned by :func:`~dedup.normalize.article_text`
        (e.g. in a worker process); ``article.title``/``article.text`` are not looked at.

        ``text=None``: the text was tokenised elsewhere too (:func:`tokenize_texts` in a worker);
        its tokens follow, with those of the articles added alongside it, in :meth:`add_tokens`.
        """
        self._check_open()
        if text is not None and self._awaiting:
            raise RuntimeError("add the tokens of the articles added without text (add_tokens) first")
        if article.id in self._index:
            raise DuplicateIdError(article.id, self._index[article.id])
        i = len(self._ids)
        self._index[article.id] = i
        self._ids.append(article.id)
        self._id_hash.append(_stable_hash(article.id))
        if article.outlet:
            self._outlet.append(self._outlet_codes.setdefault(article.outlet, len(self._outlet_codes)))
        else:
            self._outlet.append(-1)
        self._dates.append(np.nan if article.published_at is None else article.published_at)
        if text is None:
            self._awaiting += 1
            return i
        self._pending.append(text)
        if len(self._pending) >= self.config.batch_size:
            self._flush()
        return i

    def add_tokens(self, batch: TokenBatch, accepted: np.ndarray | None = None) -> None:
        """The tokens of the articles added since with ``text=None``, in order.

        ``accepted`` (one bool per article of ``batch``) marks those that were added: the others
        (e.g. a repeated id, rejected after the worker tokenised it) are dropped from the batch.
        """
        self._check_open()
        if accepted is not None and not np.all(accepted):
            batch = take_docs(batch, np.flatnonzero(accepted))
        if batch.n_docs != self._awaiting:
            raise ValueError(f"{batch.n_docs} tokenised articles for {self._awaiting} added without text")
        self._flush()
        self._awaiting = 0
        if batch.n_docs:
            self._keep(batch)

    def add_encoded(self, encoded: tuple[np.ndarray, np.ndarray], accepted: np.ndarray | None = None) -> None:
        """:meth:`add_tokens` for texts sent as one UTF-8 buffer (:func:`~dedup.normalize.encode_texts`
        in a worker that has no compiled code loaded): they are tokenised here."""
        self._check_open()
        self.add_tokens(self._tokenized(tokenize_encoded, *encoded), accepted)

    def _check_open(self) -> None:
        if self._spent:
            raise RuntimeError("this DupFinder has finished; start a new one for more articles")

    def _flush(self) -> None:
        if self._pending:
            batch = self._tokenized(tokenize, self._pending)
            self._pending = []
            self._keep(batch)

    def _tokenized(self, tokenizer, *texts) -> TokenBatch:
        """``tokenizer(*texts)``, its time counted as this finder's tokenising time."""
        t = time.perf_counter()
        batch = tokenizer(*texts)
        self._seconds["tokenize"] = self._seconds.get("tokenize", 0.0) + time.perf_counter() - t
        return batch

    def _keep(self, batch: TokenBatch) -> None:
        """Hold a tokenised batch until finish(); a big corpus parks its tokens on disk."""
        self._held_bytes += batch.tokens.nbytes
        if self._held_bytes > SPILL_AFTER_BYTES:
            if self._spill is None:
                self._spill = Spill()
            self._token_spills.append(self._spill.put(batch.tokens))
            batch.tokens = batch.tokens[:0]
        else:
            self._token_spills.append(None)
        self._batches.append(batch)
        if self._progress:
            self._progress("read", len(self._ids), None)

    # -----------------------------------------------------------------------------------------

    def finish(self) -> DupResult:
        """Group everything added so far. The finder is spent afterwards."""
        self._check_open()
        if self._awaiting:
            raise RuntimeError(
                f"{self._awaiting} articles were added without text and never got their tokens"
            )
        self._flush()
        self._spent = True
        cfg = self.config
        n = len(self._ids)
        secs = self._seconds
        secs["read"] = time.perf_counter() - self._started - secs.get("tokenize", 0.0)
        stats = NearDupStats(articles=n)
        id_hash = np.array(self._id_hash, dtype=np.uint64)
        outlet = np.array(self._outlet, dtype=np.int64)
        dates = np.array(self._dates, dtype=np.float64)

        t = time.perf_counter()
        keep = self._learn_boilerplate(outlet, id_hash, stats)
        secs["boilerplate"] = time.perf_counter() - t

        t = time.perf_counter()
        bands, rows = lsh_params(cfg.threshold, cfg.num_perm)
        lead_bands, lead_rows = lsh_params(cfg.lead_threshold, cfg.lead_perm)
        try:
            sketched = self._shingle_all(keep, (bands, rows), (lead_bands, lead_rows))
            secs["shingle"] = time.perf_counter() - t - sketched.minhash_seconds
            secs["minhash"] = sketched.minhash_seconds
            self._report("minhash", n)

            t = time.perf_counter()
            active = np.flatnonzero(sketched.n_tokens >= cfg.min_tokens)
            stats.too_short = n - len(active)
            reps, exact_left, exact_right = _exact_copies(active, sketched.content_hash, id_hash)
            stats.exact_copies = len(exact_left)
            stats.lsh_bands, stats.lsh_rows = bands, rows
            left, right = candidate_pairs(sketched.keys, reps, id_hash, cfg.max_bucket)
            sketched.keys = None
            has_lead = reps[sketched.lead_sizes[reps] > 0]
            lead_left, lead_right = candidate_pairs(sketched.lead_keys, has_lead, id_hash, cfg.max_bucket)
            sketched.lead_keys = None
            left, right = _merge_pairs(left, right, lead_left, lead_right)
            stats.candidate_pairs = len(left)
            secs["lsh"] = time.perf_counter() - t
            self._report("lsh", n)

            # the shingle sets are joined only now: LSH never holds them (with a spill file)
            t = time.perf_counter()
            shingles, offsets = _concat_csr(sketched.shingles, sketched.offsets, self._spill)
        finally:
            if self._spill is not None:
                self._spill.close()
                self._spill = None
        scores = verify_pairs(shingles, offsets, left, right)
        del shingles, left, right
        sizes = np.diff(offsets)
        del offsets
        scores = _with_exact(scores, exact_left, exact_right, sizes)
        labels = link_articles(
            n,
            scores,
            sizes,
            id_hash,
            jaccard_threshold=cfg.threshold,
            containment_threshold=cfg.containment,
            min_overlap=cfg.min_overlap,
        )
        linked = (scores.jaccard >= cfg.threshold) | (
            (scores.containment >= cfg.containment) & (scores.shared >= cfg.min_overlap)
        )
        stats.linked_pairs = int(linked.sum())
        counts = np.bincount(labels, minlength=n)
        in_groups = np.flatnonzero(counts[labels] > 1)
        # "longest" means the most words after cleaning: boilerplate does not make a copy longer
        lengths = sketched.n_tokens.astype(np.int64)
        canonical = choose_canonical(labels, dates, lengths, _id_rank(self._ids, in_groups), cfg.canonical)
        secs["group"] = time.perf_counter() - t
        stats.groups = int(np.count_nonzero(canonical == np.arange(n)))
        stats.duplicates = n - stats.groups
        secs["total"] = time.perf_counter() - self._started
        stats.seconds = {k: round(v, 4) for k, v in secs.items()}
        return DupResult(self._ids, canonical, stats, scores, set_sizes=sizes, id_hash=id_hash)

    def _report(self, phase: str, done: int) -> None:
        if self._progress:
            self._progress(phase, done, len(self._ids))

    def _learn_boilerplate(
        self, outlet: np.ndarray, id_hash: np.ndarray, stats: NearDupStats
    ) -> list[np.ndarray]:
        """Per batch, which lines to keep: all but learned outlet boilerplate."""
        cfg = self.config
        line_doc, line_tokens, is_headline, line_hash = [], [], [], []
        doc0 = 0
        sentence = []
        for batch in self._batches:
            per_doc = np.diff(batch.doc_line_offsets)
            line_doc.append(np.repeat(np.arange(doc0, doc0 + batch.n_docs, dtype=np.int32), per_doc))
            line_tokens.append(np.diff(batch.line_offsets).astype(np.int32))
            head = np.zeros(len(batch.line_hashes), dtype=np.bool_)
            head[batch.doc_line_offsets[:-1]] = True
            is_headline.append(head)
            line_hash.append(batch.line_hashes)
            sentence.append(batch.line_sentence)
            # shingling needs neither again: the joined copies below are the only ones kept
            batch.line_hashes, batch.line_sentence = batch.line_hashes[:0], batch.line_sentence[:0]
            doc0 += batch.n_docs
        if not line_doc:
            return []
        line_doc_all = np.concatenate(line_doc)
        head_all = np.concatenate(is_headline)
        hash_all = np.concatenate(line_hash)
        tokens_all = np.concatenate(line_tokens)
        sentence_all = np.concatenate(sentence)
        del line_doc, is_headline, line_hash, line_tokens, sentence
        # an article's identity for counting: its headline, or its id when it has none
        headline_key = np.where(tokens_all[head_all] == 0, id_hash, hash_all[head_all])
        n = len(self._ids)
        line_outlet = np.where(head_all, -2, outlet[line_doc_all])  # -2: a headline, -1: unknown outlet
        learned = boilerplate_mask(
            line_recurrence(line_outlet, hash_all, headline_key[line_doc_all]),
            line_outlets(line_outlet, hash_all),
            line_doc_all,
            tokens_all,
            n,
            min_articles=cfg.boilerplate_min_articles,
            frequent_articles=cfg.boilerplate_frequent_articles,
            min_tokens=cfg.min_tokens,
        )
        del line_outlet, hash_all, headline_key
        stats.boilerplate_lines = int(learned.sum())
        boiler = stripped_lines(
            learned,
            tokens_all,
            sentence_all,
            line_doc_all,
            head_all,
            n,
            min_tokens=cfg.min_tokens,
            prose_only=cfg.prose_only,
        )
        stats.non_prose_lines = int(boiler.sum()) - stats.boilerplate_lines
        keep = ~boiler
        return np.split(keep, np.cumsum([len(b.line_offsets) - 1 for b in self._batches])[:-1])

    def _shingle_all(
        self, keep: list[np.ndarray], main_lsh: tuple[int, int], lead_lsh: tuple[int, int]
    ) -> _Sketched:
        """Shingle sets of every batch and the LSH band keys of their signatures.

        Signatures live one batch at a time (only their band keys are kept), token batches are
        freed as they are shingled, and with a spill file each batch's sets wait there until
        verification joins them, so the LSH step never holds them.
        """
        cfg = self.config
        n = len(self._ids)
        out = _Sketched(
            keys=np.empty((main_lsh[0], n), dtype=np.uint64),
            lead_keys=np.empty((lead_lsh[0], n), dtype=np.uint64),
            content_hash=np.empty(n, dtype=np.uint64),
            n_tokens=np.empty(n, dtype=np.int32),
            lead_sizes=np.empty(n, dtype=np.int64),
        )
        doc = 0
        while self._batches:
            batch = self._batches.pop(0)
            handle = self._token_spills.pop(0)
            if handle is not None:
                batch.tokens = self._spill.get(handle)
            part = shingle_sets(
                batch, keep.pop(0), shingle_size=cfg.shingle_size, lead_shingles=cfg.lead_shingles
            )
            del batch
            t = time.perf_counter()
            end = doc + part.n_docs
            out.keys[:, doc:end] = band_keys(
                signatures(part.shingles, part.offsets, cfg.num_perm, cfg.seed), *main_lsh
            )
            out.lead_keys[:, doc:end] = band_keys(
                signatures(part.lead, part.lead_offsets, cfg.lead_perm, cfg.seed), *lead_lsh
            )
            out.minhash_seconds += time.perf_counter() - t
            out.content_hash[doc:end] = part.content_hash
            out.n_tokens[doc:end] = part.n_tokens
            out.lead_sizes[doc:end] = np.diff(part.lead_offsets)
            out.shingles.append(self._spill.put(part.shingles) if self._spill is not None else part.shingles)
            out.offsets.append(part.offsets)
            doc = end
            self._report("shingle", doc)
        return out


@dataclass(slots=True)
class _Sketched:
    """What LSH needs of every article, and the shingle sets (pieces, some spilled) for verification."""

    keys: np.ndarray | None
    lead_keys: np.ndarray | None
    content_hash: np.ndarray
    n_tokens: np.ndarray
    lead_sizes: np.ndarray
    shingles: list = field(default_factory=list)  # per batch: an array, or where it was spilled
    offsets: list = field(default_factory=list)
    minhash_seconds: float = 0.0


def _concat_csr(
    values: list[np.ndarray | Spilled], offsets: list[np.ndarray], spill: Spill | None
) -> tuple[np.ndarray, np.ndarray]:
    """Join CSR pieces; a piece may wait in ``spill`` (read straight into place)."""
    total = sum(int(o[-1]) for o in offsets)
    out = np.empty(total, dtype=np.uint32)
    out_off = np.zeros(sum(len(o) - 1 for o in offsets) + 1, dtype=np.int64)
    pos = 0
    doc = 0
    for k, o in enumerate(offsets):
        n = int(o[-1])
        piece = values[k]
        if isinstance(piece, Spilled):
            spill.read_into(piece, out[pos : pos + n])
        else:
            out[pos : pos + n] = piece
        values[k] = None  # free as we go
        out_off[doc + 1 : doc + len(o)] = o[1:] + pos
        pos += n
        doc += len(o) - 1
    return out, out_off


def _exact_copies(
    active: np.ndarray, content_hash: np.ndarray, tiebreak: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Collapse articles with identical shingle sets: one representative each, plus (copy, rep) links."""
    if len(active) == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e, e
    order = active[np.lexsort((tiebreak[active], content_hash[active]))]
    h = content_hash[order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = h[1:] != h[:-1]
    rep_of = order[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
    copies = ~first
    return np.sort(order[first]), order[copies], rep_of[copies]


def _merge_pairs(l1, r1, l2, r2) -> tuple[np.ndarray, np.ndarray]:
    if len(l2) == 0:
        return l1, r1
    code = sorted_unique(
        np.concatenate(
            [
                (l1.astype(np.uint64) << np.uint64(32)) | r1.astype(np.uint64),
                (l2.astype(np.uint64) << np.uint64(32)) | r2.astype(np.uint64),
            ]
        )
    )
    return (code >> np.uint64(32)).astype(np.int64), (code & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _with_exact(scores: PairScores, left: np.ndarray, right: np.ndarray, sizes: np.ndarray) -> PairScores:
    if len(left) == 0:
        return scores
    ones = np.ones(len(left))
    return PairScores(
        np.concatenate([scores.left, left]),
        np.concatenate([scores.right, right]),
        np.concatenate([scores.shared, sizes[left]]),
        np.concatenate([scores.jaccard, ones]),
        np.concatenate([scores.containment, ones]),
    )


def tokenize_texts(texts: list[str | None]) -> tuple[TokenBatch, list[None]]:
    """Worker-side packing (see :func:`dedup.runner.scan_articles`): a range's cleaned texts become
    one token batch, and the articles go on without their text (:meth:`DupFinder.add_tokens`)."""
    return tokenize(texts), [None] * len(texts)


def find_near_duplicates(
    records: Iterable[Mapping | Article],
    config: NearDupConfig | None = None,
    *,
    fields: FieldMap | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    progress: Progress | None = None,
) -> DupResult:
    """Find the dup groups of articles given as dicts (JSON records) or :class:`Article` values.

    >>> result = find_near_duplicates([
    ...     {"id": "a", "title": "Storm hits coast", "text": "A storm hit the coast on Monday night ..."},
    ...     {"id": "b", "title": "Coast storm", "text": "A storm hit the coast on Monday night ..."},
    ... ])                                                           # doctest: +SKIP
    >>> [tuple(a) for a in result.assignments()]                    # doctest: +SKIP
    [('a', 'a', True), ('b', 'a', False)]

    Records that fail validation raise :class:`~dedup.records.RecordError` (``on_error="raise"``;
    a repeated id raises its subclass :class:`DuplicateIdError`) or are listed in ``result.rejects``
    as ``(record_number, reason)`` with 1-based record numbers (``on_error="skip"``).
    """
    finder = DupFinder(config, progress)
    rejects: list[tuple[int, str]] = []
    for number, record in enumerate(records, start=1):
        try:
            article = (
                record if isinstance(record, Article) else article_from_record(record, fields or FieldMap())
            )
            finder.add(article)
        except RecordError as err:
            if on_error == "raise":
                err.args = (f"record {number}: {err}",)
                raise
            rejects.append((number, str(err)))
    result = finder.finish()
    result.rejects = rejects
    return result
