"""Stage 1 as map and reduce steps over hash partitions: the pieces a distributed engine runs.

Each function here works on one partition (numpy arrays keyed by a global *article key*, any int64
that grows with input order) and gives exactly what the in-process :class:`~dedup.neardup.DupFinder`
computes for the articles of that partition. Nothing here knows about Ray; :mod:`dedup.ray_engine`
moves the arrays between workers.

Why the results are identical to one process:

* boilerplate: a line's fate depends only on counts per line hash, so partitioning lines by hash
  and counting there gives every count;
* LSH: all rows of one band key land in one partition, ordered as ``candidate_pairs`` orders them
  (by id hash, then input order), so each bucket emits the same pairs;
* linking: :func:`~dedup.groups.link_articles` never looks across connected components of the
  verified links, so running it per component (found by large-star/small-star) changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dedup.arrays import unique_pairs
from dedup.boilerplate import _mix
from dedup.groups import PairScores, choose_canonical, link_articles
from dedup.lsh import _count_pairs, _emit_pairs

__all__ = [
    "partition_of",
    "split_by",
    "concat_parts",
    "boilerplate_keys",
    "line_verdicts",
    "bucket_pairs",
    "exact_reps",
    "large_star",
    "small_star",
    "link_components",
]

Part = dict[str, np.ndarray]
_SPREAD = np.uint64(0xD6E8FEB86659FD93)


def partition_of(keys: np.ndarray, parts: int) -> np.ndarray:
    """Partition number of each key: a mixed hash, so runs of nearby keys spread evenly."""
    k = np.asarray(keys).astype(np.uint64, copy=False)
    with np.errstate(over="ignore"):
        h = k * _SPREAD
        h ^= h >> np.uint64(32)
    return (h % np.uint64(parts)).astype(np.int64)


def split_by(columns: Part, by: str, parts: int) -> list[Part]:
    """Rows of ``columns`` split into ``parts`` dicts by the hash of column ``by`` (order kept)."""
    part = partition_of(columns[by], parts)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(parts + 1))
    return [
        {name: col[order[bounds[p] : bounds[p + 1]]] for name, col in columns.items()} for p in range(parts)
    ]


def concat_parts(parts: Sequence[Mapping[str, np.ndarray]]) -> Part:
    """Rows of several partitions (same columns) joined; empty input gives no columns."""
    parts = [p for p in parts if p]
    if not parts:
        return {}
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


# -- boilerplate ------------------------------------------------------------------------------------


def boilerplate_keys(lines: Part, *, min_articles: int, frequent_articles: int) -> np.ndarray:
    """Reduce: the (line hash, outlet) keys to strip among lines partitioned by line hash.

    ``lines`` holds one row per body line: ``hash`` (uint64), ``outlet`` (int64 code, -1 unknown)
    and ``headline`` (uint64 identity of the article's headline). The rule is
    :func:`~dedup.boilerplate.boilerplate_mask`'s before its per-article ``never_below`` step.
    """
    if not lines or len(lines["hash"]) == 0 or min_articles <= 0:
        return np.empty(0, dtype=np.uint64)
    line_hash, outlet, headline = lines["hash"], lines["outlet"], lines["headline"]
    known = outlet >= 0
    key = _mix(line_hash[known], outlet[known].astype(np.uint64))
    # recurrence: distinct headlines per (line, outlet)
    _, first = np.unique(_mix(key, headline[known]), return_index=True)
    keys, at_key, recurrence = np.unique(key[first], return_index=True, return_counts=True)
    key_hash = line_hash[known][first][at_key]
    # outlets per line hash: distinct known outlets plus every line of an unknown outlet
    pairs = np.unique(np.stack([line_hash[known].view(np.int64), outlet[known]]), axis=1)
    hashes, known_outlets = np.unique(pairs[0], return_counts=True)
    unknown_hashes, unknown_count = np.unique(line_hash[~known].view(np.int64), return_counts=True)
    outlets = known_outlets.copy()
    at = np.searchsorted(unknown_hashes, hashes)
    hit = at < len(unknown_hashes)
    hit[hit] = unknown_hashes[at[hit]] == hashes[hit]
    outlets[hit] += unknown_count[at[hit]]
    outlets_of_key = outlets[np.searchsorted(hashes, key_hash.view(np.int64))]
    strip = (recurrence >= max(frequent_articles, min_articles)) | (
        (recurrence >= min_articles) & (outlets_of_key == 1)
    )
    return keys[strip]


def line_verdicts(line_hash: np.ndarray, line_outlet: np.ndarray, strip_keys: np.ndarray) -> np.ndarray:
    """Map side: which lines the learned ``strip_keys`` (sorted) mark as boilerplate.

    ``line_outlet`` follows :func:`~dedup.boilerplate.line_recurrence`: negative for lines never
    stripped (unknown outlet, headlines).
    """
    out = np.zeros(len(line_hash), dtype=np.bool_)
    known = np.flatnonzero(line_outlet >= 0)
    if len(known) == 0 or len(strip_keys) == 0:
        return out
    key = _mix(line_hash[known], line_outlet[known].astype(np.uint64))
    at = np.minimum(np.searchsorted(strip_keys, key), len(strip_keys) - 1)
    out[known] = strip_keys[at] == key
    return out


# -- candidates -------------------------------------------------------------------------------------


def bucket_pairs(rows: Part, max_bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce: candidate pairs ``(lo, hi)`` of article keys from band rows partitioned by band key.

    ``rows``: ``band`` (int64, which band table), ``bucket`` (uint64 band key), ``tiebreak`` (uint64
    id hash) and ``key`` (int64 article key). Inside a bucket, articles are ordered by id hash then
    input order, as :func:`~dedup.lsh.candidate_pairs` orders them, so capped buckets emit the same
    star and chain.
    """
    empty = np.empty(0, dtype=np.int64)
    if not rows or len(rows["key"]) < 2:
        return empty, empty
    if max_bucket <= 0:
        max_bucket = np.iinfo(np.int64).max
    order = np.lexsort((rows["key"], rows["tiebreak"], rows["bucket"], rows["band"]))
    band = rows["band"][order]
    bucket = rows["bucket"][order]
    keys = rows["key"][order]
    bounds = np.flatnonzero(np.diff(band)) + 1
    lefts, rights = [], []
    for s, e in zip(np.r_[0, bounds], np.r_[bounds, len(band)], strict=True):
        count = _count_pairs(bucket[s:e], max_bucket)
        if count == 0:
            continue
        left = np.empty(count, dtype=np.int64)
        right = np.empty(count, dtype=np.int64)
        _emit_pairs(bucket[s:e], keys[s:e], max_bucket, left, right)
        lefts.append(left)
        rights.append(right)
    if not lefts:
        return empty, empty
    left, right = np.concatenate(lefts), np.concatenate(rights)
    return np.minimum(left, right), np.maximum(left, right)


def exact_reps(rows: Part) -> tuple[np.ndarray, np.ndarray]:
    """Reduce: ``(copy key, representative key)`` of articles with equal shingle sets.

    ``rows`` (partitioned by ``content``): ``content`` (uint64 hash), ``tiebreak``, ``key``. The
    representative is the smallest id hash, then the earliest in input order, as in one process.
    """
    empty = np.empty(0, dtype=np.int64)
    if not rows or len(rows["key"]) < 2:
        return empty, empty
    order = np.lexsort((rows["key"], rows["tiebreak"], rows["content"]))
    h = rows["content"][order]
    keys = rows["key"][order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = h[1:] != h[:-1]
    rep = keys[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
    return keys[~first], rep[~first]


# -- connected components (large-star / small-star, Kiveris et al. 2014) ---------------------------


def _neighbourhood_min(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges sorted by ``u`` and, per edge, the minimum of ``u`` and all of ``u``'s neighbours."""
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    starts = np.r_[0, np.flatnonzero(np.diff(u)) + 1]
    group_min = np.minimum.reduceat(v, starts) if len(u) else v
    counts = np.diff(np.r_[starts, len(u)])
    m = np.minimum(np.repeat(group_min, counts), u)
    return u, v, m


def large_star(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One large-star step on directed edges grouped by ``u`` (each undirected edge both ways).

    Every neighbour larger than ``u`` is re-linked to the smallest node of ``u``'s neighbourhood.
    Returns undirected edges ``(a, b)``, ``a > b``, deduplicated.
    """
    if len(u) == 0:
        return u, v
    u, v, m = _neighbourhood_min(u, v)
    keep = v > u
    a, b = v[keep], m[keep]
    return _undirected_unique(a, b)


def small_star(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One small-star step on directed edges ``u -> v`` with ``v < u`` (grouped by ``u``).

    ``u`` and its smaller neighbours are all linked to the smallest of them.
    """
    if len(u) == 0:
        return u, v
    u, v, m = _neighbourhood_min(u, v)
    a = np.concatenate([v, u])
    b = np.concatenate([m, m])
    keep = a != b
    return _undirected_unique(a[keep], b[keep])


def _undirected_unique(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    keep = hi != lo
    return unique_pairs(hi[keep], lo[keep])


# -- linking inside components ----------------------------------------------------------------------


def link_components(
    edges: Part,
    *,
    jaccard_threshold: float,
    containment_threshold: float,
    min_overlap: int,
    canonical_rule: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduce: ``(member key, canonical key, canonical id)`` for every article in the components of ``edges``.

    ``edges`` holds whole components (partitioned by component): per verified link ``lo``/``hi``
    keys, ``shared``, ``jaccard``, ``containment``, and for each end (``_lo``/``_hi`` suffixes) its
    shingle-set ``size``, id hash ``tb``, ``date``, token count ``length`` and id ``ident`` (objects).
    """
    if not edges or len(edges["lo"]) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=object)
    lo, hi = edges["lo"], edges["hi"]
    nodes, inverse = np.unique(np.concatenate([lo, hi]), return_inverse=True)
    n, e = len(nodes), len(lo)
    left, right = inverse[:e], inverse[e:]

    def node_attr(name: str, dtype) -> np.ndarray:
        out = np.empty(n, dtype=dtype)
        out[left] = edges[f"{name}_lo"]
        out[right] = edges[f"{name}_hi"]
        return out

    sizes = node_attr("size", np.int64)
    scores = PairScores(left, right, edges["shared"], edges["jaccard"], edges["containment"])
    labels = link_articles(
        n,
        scores,
        sizes,
        node_attr("tb", np.uint64),
        jaccard_threshold=jaccard_threshold,
        containment_threshold=containment_threshold,
        min_overlap=min_overlap,
    )
    idents = node_attr("ident", object)
    ranked = sorted(range(n), key=lambda i: (isinstance(idents[i], str), idents[i]))
    rank = np.empty(n, dtype=np.int64)
    rank[np.asarray(ranked, dtype=np.int64)] = np.arange(1, n + 1)
    canonical = choose_canonical(
        labels, node_attr("date", np.float64), node_attr("length", np.int64), rank, canonical_rule
    )
    return nodes, nodes[canonical], idents[canonical]
