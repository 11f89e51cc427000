"""LSH banding over MinHash signatures: band parameters from a threshold, then candidate pairs.

The band/row split is chosen the way ``datasketch.MinHashLSH`` chooses it: the ``(b, r)`` with
``b * r <= num_perm`` that minimises the weighted false-positive and false-negative areas under the
S-curve ``1 - (1 - s**r)**b`` around the Jaccard threshold. It is exposed (:func:`lsh_params`) so
users can see what their threshold buys.

Candidates are found in batch, without a hash table of Python objects: each band's rows hash to one
64-bit key per article, the keys are sorted, and runs of equal keys are buckets. A bucket yields all
its pairs while small; a huge bucket (thousands of exact copies, say) yields a star around its first
member plus a chain, which keeps the pair count linear while union-find still joins them all.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from numba import get_num_threads, njit, prange

from dedup.arrays import sorted_unique

FOLD_PAIRS = 1 << 22  # candidate pairs gathered before they are folded into the distinct set

__all__ = [
    "lsh_params",
    "band_keys",
    "candidate_pairs",
    "collision_probability",
    "RunMatcher",
    "bucket_pairs",
    "distinct_pairs",
    "sorted_bands",
    "merge_runs",
    "merged_run_size",
]


def collision_probability(similarity: np.ndarray | float, bands: int, rows: int) -> np.ndarray:
    """Probability that two sets of this Jaccard similarity share at least one band."""
    s = np.asarray(similarity, dtype=np.float64)
    return 1.0 - (1.0 - s**rows) ** bands


@lru_cache(maxsize=64)
def lsh_params(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """``(bands, rows)`` minimising the weighted error areas for a Jaccard threshold (as datasketch)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1 (exclusive), got {threshold}")
    if num_perm < 2:
        raise ValueError(f"num_perm must be at least 2, got {num_perm}")
    grid = 4097  # Simpson's rule on each side of the threshold; the integrands are smooth
    lo = np.linspace(0.0, threshold, grid)
    hi = np.linspace(threshold, 1.0, grid)
    best, best_err = (1, 1), np.inf
    for r in range(1, num_perm + 1):
        n_b = num_perm // r
        # (1 - s**r) ** b for b = 1..n_b as running products: cheaper than n_b powers
        miss_lo = np.cumprod(np.broadcast_to(1.0 - lo**r, (n_b, grid)), axis=0)
        miss_hi = np.cumprod(np.broadcast_to(1.0 - hi**r, (n_b, grid)), axis=0)
        fp = _simpson(1.0 - miss_lo, threshold / (grid - 1))
        fn = _simpson(miss_hi, (1.0 - threshold) / (grid - 1))
        err = fp * false_positive_weight + fn * false_negative_weight
        i = int(np.argmin(err))
        if err[i] < best_err - 1e-12 or (abs(err[i] - best_err) <= 1e-12 and i + 1 < best[0]):
            best, best_err = (i + 1, r), float(err[i])
    return best


def _simpson(y: np.ndarray, h: float) -> np.ndarray:
    """Simpson's rule along the last axis."""
    return h / 3.0 * (y[..., 0] + y[..., -1] + 4.0 * y[..., 1:-1:2].sum(-1) + 2.0 * y[..., 2:-1:2].sum(-1))


@njit(cache=True, parallel=True)
def _band_keys(sig, bands, rows, out):
    n = sig.shape[0]
    for d in prange(n):
        for band in range(bands):
            h = np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(band)
            for j in range(band * rows, band * rows + rows):
                h = (h ^ np.uint64(sig[d, j])) * np.uint64(0x100000001B3)
                h ^= h >> np.uint64(29)
            out[band, d] = h


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 key per band and article, shape ``(bands, n_docs)``."""
    if bands * rows > signatures.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} permutations")
    out = np.empty((bands, signatures.shape[0]), dtype=np.uint64)
    if signatures.shape[0]:
        _band_keys(np.ascontiguousarray(signatures), bands, rows, out)
    return out


@njit(cache=True)
def _count_pairs(sorted_keys, max_bucket):
    n = len(sorted_keys)
    total = 0
    i = 0
    while i < n:
        j = i + 1
        while j < n and sorted_keys[j] == sorted_keys[i]:
            j += 1
        s = j - i
        if s > 1:
            total += s * (s - 1) // 2 if s <= max_bucket else 2 * (s - 1) - 1
        i = j
    return total


@njit(cache=True)
def _emit_pairs(sorted_keys, order, max_bucket, left, right):
    n = len(sorted_keys)
    w = 0
    i = 0
    while i < n:
        j = i + 1
        while j < n and sorted_keys[j] == sorted_keys[i]:
            j += 1
        s = j - i
        if s > 1:
            if s <= max_bucket:
                for p in range(i, j):
                    for q in range(p + 1, j):
                        left[w] = order[p]
                        right[w] = order[q]
                        w += 1
            else:
                for q in range(i + 1, j):  # star around the first member
                    left[w] = order[i]
                    right[w] = order[q]
                    w += 1
                for q in range(i + 2, j):  # and a chain through the rest
                    left[w] = order[q - 1]
                    right[w] = order[q]
                    w += 1
        i = j
    return w


def candidate_pairs(
    keys: np.ndarray, members: np.ndarray, tiebreak: np.ndarray, max_bucket: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs ``(i, j)``, ``i < j``, of article indices that share a key in any band.

    ``members`` are the article indices that take part (e.g. those with a non-empty shingle set);
    ``tiebreak`` (one uint64 per article, e.g. a hash of its id) orders articles inside a bucket so
    the pairs do not depend on input order. ``max_bucket=0`` always emits all pairs.
    """
    if max_bucket <= 0:
        max_bucket = np.iinfo(np.int64).max
    members = np.asarray(members, dtype=np.int64)
    if len(members) < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    by_tiebreak = members[np.argsort(tiebreak[members], kind="stable")]
    # Wire copies collide in most bands, so the bands repeat the same pairs many times: pairs are
    # folded into one sorted, distinct set every few bands, which bounds memory by the distinct pairs.
    code = np.empty(0, dtype=np.uint64)
    pending: list[np.ndarray] = []
    pending_size = 0
    for band in range(keys.shape[0]):
        band_keys_ = keys[band, by_tiebreak]
        idx = np.argsort(band_keys_, kind="stable")
        sorted_keys = band_keys_[idx]
        order = by_tiebreak[idx]
        count = _count_pairs(sorted_keys, max_bucket)
        if count == 0:
            continue
        left = np.empty(count, dtype=np.int64)
        right = np.empty(count, dtype=np.int64)
        _emit_pairs(sorted_keys, order, max_bucket, left, right)
        lo = np.minimum(left, right).astype(np.uint64)
        hi = np.maximum(left, right).astype(np.uint64)
        del left, right
        pending.append((lo << np.uint64(32)) | hi)
        pending_size += count
        if pending_size > max(4 * len(code), FOLD_PAIRS):
            code = sorted_unique(np.concatenate([code, *pending]))
            pending, pending_size = [], 0
    if pending:
        code = sorted_unique(np.concatenate([code, *pending]))
    return (code >> np.uint64(32)).astype(np.int64), (code & np.uint64(0xFFFFFFFF)).astype(np.int64)


@njit(cache=True, parallel=True)
def _find_matches(run_keys, queries, articles, first_band, row_start, count):
    """Per band (in parallel) and sorted query: where its key starts in the sorted run and how
    often it occurs there, written at its article's row (``row_start[a, first_band + b]``, as a
    position in the flattened run). The queries are sorted, so each search gallops on from the last."""
    n = run_keys.shape[1]
    for b in prange(queries.shape[0]):
        keys = run_keys[b]
        lo = 0
        for i in range(queries.shape[1]):
            q = queries[b, i]
            if lo < n and keys[lo] < q:
                prev, step = lo, 1
                cur = lo + 1
                while cur < n and keys[cur] < q:
                    prev = cur
                    step *= 2
                    cur = prev + step
                a, z = prev + 1, min(cur, n)
                while a < z:
                    mid = (a + z) // 2
                    if keys[mid] < q:
                        a = mid + 1
                    else:
                        z = mid
                lo = a
            c = 0
            while lo + c < n and keys[lo + c] == q:
                c += 1
            row = articles[b, i]
            row_start[row, first_band + b] = b * n + lo
            count[row, first_band + b] = c


@njit(cache=True, parallel=True)
def _gather_distinct(
    docs, kind_of_band, row_start, count, lane_bounds, seen, room, out_new, out_doc, written
):
    """Each lane (a range of new articles, in parallel) walks its articles' matches in every band
    of every kind and keeps a stored article only the first time it meets it for that article:
    ``seen[lane, d]`` holds the last article (+1) that met ``d``."""
    for lane in prange(len(lane_bounds) - 1):
        w = lane * room
        for a in range(lane_bounds[lane], lane_bounds[lane + 1]):
            for b in range(row_start.shape[1]):
                flat = docs[kind_of_band[b]]
                s = row_start[a, b]
                for j in range(s, s + count[a, b]):
                    d = flat[j]
                    if seen[lane, d] != a + 1:
                        seen[lane, d] = a + 1
                        out_new[w] = a
                        out_doc[w] = d
                        w += 1
        written[lane] = w - lane * room


class RunMatcher:
    """The stored articles that share a band key with each new article of a batch, looked up in
    sorted runs (per band: stored keys sorted, with the stored article of each), each pair once.

    ``queries``: per kind of key (e.g. full-text and lead bands), the batch's sorted keys and
    their columns (:func:`sorted_bands`) and the new article of each column. A run holds the
    same kinds. Built once per batch: it keeps the scratch the lookups share, one row of match
    positions per new article and a mark per stored article per thread."""

    def __init__(
        self,
        queries: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        n_new: int,
        n_stored: int,
        threads: int = 1,
    ) -> None:
        if n_new >= np.iinfo(np.int32).max:  # the marks are int32
            raise ValueError(f"a batch of {n_new:,} articles is too large: add it in parts")
        self.queries = [(keys, members[order]) for keys, order, members in queries]
        bands = [keys.shape[0] for keys, _, _ in queries]
        self.first_band = np.concatenate([[0], np.cumsum(bands)]).astype(np.int64)
        self.kind_of_band = np.repeat(np.arange(len(bands)), bands).astype(np.int64)
        self.row_start = np.zeros((n_new, int(self.first_band[-1])), dtype=np.int64)
        self.count = np.zeros((n_new, int(self.first_band[-1])), dtype=np.int64)  # 0: not a member
        lanes = max(1, min(threads, n_new))
        self.lane_bounds = (np.arange(lanes + 1) * n_new // lanes).astype(np.int64)
        self.seen = np.zeros((lanes, max(n_stored, 1)), dtype=np.int32)

    def lookup(self, run: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """``run``: per kind, the stored keys sorted per band and the stored article of each (an
        article below ``n_stored``). Returns each (new article, stored article) pair sharing a key
        in some band of some kind once, grouped by new article."""
        for k, ((run_keys, _), (keys, articles)) in enumerate(zip(run, self.queries, strict=True)):
            cols = slice(self.first_band[k], self.first_band[k + 1])
            if run_keys.shape[1] == 0 or keys.shape[1] == 0:
                self.count[:, cols] = 0
                continue
            _find_matches(run_keys, keys, articles, self.first_band[k], self.row_start, self.count)
        room = int(self.count.sum())
        lanes = len(self.lane_bounds) - 1
        out_new = np.empty(room * lanes, dtype=np.int64)  # a lane's room: untouched pages cost nothing
        out_doc = np.empty(room * lanes, dtype=np.int64)
        written = np.zeros(lanes, dtype=np.int64)
        if room:
            docs = tuple(_read_only(np.asarray(run_docs, dtype=np.int64)).reshape(-1) for _, run_docs in run)
            _gather_distinct(
                docs,
                self.kind_of_band,
                self.row_start,
                self.count,
                self.lane_bounds,
                self.seen,
                room,
                out_new,
                out_doc,
                written,
            )
        keep = [slice(lane * room, lane * room + int(written[lane])) for lane in range(lanes)]
        return np.concatenate([out_new[k] for k in keep]), np.concatenate([out_doc[k] for k in keep])


@njit(cache=True, inline="always")
def _first_shared_band(by_article, p, q, band):
    """Whether ``band`` is the first band in which articles ``p`` and ``q`` share a key."""
    for earlier in range(band):  # noqa: SIM110 - a loop numba compiles, not a generator
        if by_article[p, earlier] == by_article[q, earlier]:
            return False
    return True


@njit(cache=True, parallel=True)
def _bucket_pair_pass(sorted_keys, pos, by_article, offsets, left, right, counts, fill):
    """Per band: count the pairs first shared in it (``fill`` false: into ``counts``), or write
    them from ``offsets[band]`` on (``fill`` true)."""
    for b in prange(sorted_keys.shape[0]):
        keys = sorted_keys[b]
        w = offsets[b]
        i = 0
        while i < len(keys):
            j = i + 1
            while j < len(keys) and keys[j] == keys[i]:
                j += 1
            for p in range(i, j):
                for q in range(p + 1, j):
                    if _first_shared_band(by_article, pos[b, p], pos[b, q], b):
                        if fill:
                            left[w] = min(pos[b, p], pos[b, q])
                            right[w] = max(pos[b, p], pos[b, q])
                        w += 1
            i = j
        if not fill:
            counts[b] = w - offsets[b]


def bucket_pairs(sorted_keys: np.ndarray, pos: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct pair ``(i, j)``, ``i < j``, of articles that share a key in a band.

    ``keys``: per band, the articles' keys; ``sorted_keys``: per band, the same sorted, and
    ``pos`` the article each came from. Where the sorted keys are at hand already (the index's
    lookups sort them), this is :func:`candidate_pairs` with ``max_bucket=0`` without sorting
    again: a pair is emitted in the first band it shares only (copies share most bands, and the
    repeats cost more to sort away than to skip), in no particular order."""
    by_article = np.ascontiguousarray(keys.T)
    bands = sorted_keys.shape[0]
    counts = np.empty(bands, dtype=np.int64)
    none = np.empty(0, dtype=np.int64)
    _bucket_pair_pass(sorted_keys, pos, by_article, np.zeros(bands, np.int64), none, none, counts, False)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    left = np.empty(offsets[-1], dtype=np.int64)
    right = np.empty(offsets[-1], dtype=np.int64)
    _bucket_pair_pass(sorted_keys, pos, by_article, offsets, left, right, counts, True)
    return left, right


@njit(cache=True, parallel=True)
def _merge_runs(run_keys, run_docs, active, lanes, out_keys, out_docs):
    """Per band (``lanes`` threads, each taking every lanes-th band): the runs' sorted entries of
    active articles merged in key order; equal keys keep the order of the runs, then their order
    within a run. A band's rows are first copied, active entries only, into one buffer per
    thread, so the merge itself reads one array instead of picking a run out of the tuple per step."""
    k = len(run_keys)
    bands, width = out_keys.shape
    for lane in prange(lanes):
        buf_keys = np.empty(width, dtype=np.uint64)
        buf_docs = np.empty(width, dtype=np.int64)
        start = np.empty(k + 1, dtype=np.int64)
        pos = np.empty(k, dtype=np.int64)
        for b in range(lane, bands, lanes):
            w = 0
            for r in range(k):
                keys, docs = run_keys[r], run_docs[r]
                start[r] = w
                for j in range(keys.shape[1]):
                    d = docs[b, j]
                    if active[d]:
                        buf_keys[w] = keys[b, j]
                        buf_docs[w] = d
                        w += 1
            start[k] = w
            pos[:] = start[:k]
            for o in range(w):
                best = -1
                for r in range(k):
                    if pos[r] < start[r + 1] and (best < 0 or buf_keys[pos[r]] < buf_keys[pos[best]]):
                        best = r
                out_keys[b, o] = buf_keys[pos[best]]
                out_docs[b, o] = buf_docs[pos[best]]
                pos[best] += 1


def merged_run_size(run_docs: list[np.ndarray], active: np.ndarray) -> int:
    """Entries per band of :func:`merge_runs`' result: a band holds each article of a run once."""
    return sum(int(active[docs[0]].sum()) for docs in run_docs if docs.size)


def merge_runs(
    run_keys: list[np.ndarray],
    run_docs: list[np.ndarray],
    active: np.ndarray,
    out_keys: np.ndarray,
    out_docs: np.ndarray,
) -> None:
    """Merge sorted LSH runs (per band: keys sorted, with the article of each) into ``out_keys``
    and ``out_docs`` (``(bands, merged_run_size(...))``, e.g. memory-mapped files), dropping the
    articles ``active`` says are gone (past retention). A k-way merge of each band, in parallel:
    the runs are sorted already, so there is nothing to sort, and no copy of them all is made."""
    kept = [r for r, docs in enumerate(run_docs) if docs.size]
    if not kept or not out_keys.size:
        return
    # tuples (compiled and cached per run count) of one array type: read-only views, as mapped runs are
    # (pending runs are writable arrays; one type also means one compiled kernel, here and in RunMatcher)
    keys = tuple(_read_only(np.asarray(run_keys[r], dtype=np.uint64)) for r in kept)
    docs = tuple(_read_only(np.asarray(run_docs[r], dtype=np.int64)) for r in kept)
    _merge_runs(keys, docs, active, get_num_threads(), out_keys, out_docs)


def _read_only(array: np.ndarray) -> np.ndarray:
    view = np.ascontiguousarray(array).view()
    view.flags.writeable = False
    return view


_THREADED_SORT = 1 << 18  # codes in a half worth a thread of its own


def sorted_bands(keys: np.ndarray, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each band's keys (a row of ``keys``) sorted, and the column each came from: the queries
    :func:`bucket_pairs` and :class:`RunMatcher` take. With ``threads`` > 1 and enough keys, the
    bands are split between threads (numpy's sort lets go of the GIL)."""
    parts = min(threads, len(keys)) if keys.size >= _THREADED_SORT else 1
    if parts <= 1:
        order = np.argsort(keys, axis=1)
        return np.take_along_axis(keys, order, axis=1), order
    cuts = np.linspace(0, len(keys), parts + 1).astype(np.int64)
    order = np.empty(keys.shape, dtype=np.int64)
    queries = np.empty_like(keys)

    def sort(lo: int, hi: int) -> None:
        order[lo:hi] = np.argsort(keys[lo:hi], axis=1)
        queries[lo:hi] = np.take_along_axis(keys[lo:hi], order[lo:hi], axis=1)

    with ThreadPoolExecutor(parts - 1) as pool:
        done = [pool.submit(sort, lo, hi) for lo, hi in zip(cuts[1:-1], cuts[2:], strict=True)]
        sort(cuts[0], cuts[1])
        for d in done:
            d.result()
    return queries, order


@njit(cache=True)
def _count_below(right, split):
    n = 0
    for k in range(len(right)):
        n += right[k] < split
    return n


@njit(cache=True)
def _pack_codes(left, right, split, low, high, n_low, n_high):
    """Append ``right << 32 | left`` of each pair to ``low`` (right below ``split``) or ``high``."""
    for k in range(len(left)):
        code = (np.uint64(right[k]) << np.uint64(32)) | np.uint64(left[k])
        if right[k] < split:
            low[n_low] = code
            n_low += 1
        else:
            high[n_high] = code
            n_high += 1
    return n_low, n_high


@njit(cache=True, parallel=True)
def _unpack_distinct(halves, left, right, counts):
    """The distinct codes of each sorted half, split back into ``left`` and ``right`` from the
    half's start on; ``counts``: how many each half kept."""
    for h in prange(2):
        codes = halves[h]
        w = 0 if h == 0 else len(halves[0])
        start = w
        for k in range(len(codes)):
            if k == 0 or codes[k] != codes[k - 1]:
                left[w] = np.int64(codes[k] & np.uint64(0xFFFFFFFF))
                right[w] = np.int64(codes[k] >> np.uint64(32))
                w += 1
        counts[h] = w - start


def distinct_pairs(
    lefts: list[np.ndarray], rights: list[np.ndarray], split: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs among ``(lefts[i][k], rights[i][k])`` (values below 2**32), ordered by
    right, then left: a batch's candidate pairs from its own buckets and each stored run, where a
    pair can come from both kinds of key and from the batch's buckets once per kind.

    Each pair becomes one 64-bit code, written straight into one of two halves (right below
    ``split`` or not), and the halves are sorted in two threads (numpy's sort lets go of the GIL):
    half the time of concatenating, encoding and sorting them as one array."""
    total = sum(len(r) for r in rights)
    n_low = sum(_count_below(r, split) for r in rights)
    halves = (np.empty(n_low, dtype=np.uint64), np.empty(total - n_low, dtype=np.uint64))
    filled = (0, 0)
    for left, right in zip(lefts, rights, strict=True):
        filled = _pack_codes(left, right, split, halves[0], halves[1], *filled)
    if min(n_low, total - n_low) >= _THREADED_SORT:
        with ThreadPoolExecutor(1) as pool:
            low = pool.submit(halves[0].sort)
            halves[1].sort()
            low.result()
    else:
        halves[0].sort()
        halves[1].sort()
    left = np.empty(total, dtype=np.int64)
    right = np.empty(total, dtype=np.int64)
    counts = np.empty(2, dtype=np.int64)
    _unpack_distinct(halves, left, right, counts)
    end = n_low + counts[1]
    return (
        np.concatenate([left[: counts[0]], left[n_low:end]]),
        np.concatenate([right[: counts[0]], right[n_low:end]]),
    )
