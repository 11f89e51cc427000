"""Stage 2 clustering: articles (as unit vectors) and their times in; story labels out.

Average linkage is what works for news stories (a story is a group whose members are on average
similar, not a chain of pairwise lookalikes), but exact average linkage is quadratic. So:

1. a k-nearest-neighbour graph (exact block products for small inputs, a faiss HNSW index for
   large ones), keeping only pairs inside the time window;
2. its connected components over edges with similarity >= the cut. Two articles in different
   components have no similar pair at all between them, so average linkage would never join them:
   splitting here loses nothing (up to the kNN approximation);
3. exact average linkage inside each component, cut at the similarity threshold. Pairs more than
   the window apart get an overwhelming distance, so no story ever spans more than the window.
   A component too large for exact linkage is split first by raising its edge threshold.

Articles without a date have no time constraint. Deterministic for a given input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedup.groups import union_find

__all__ = ["StoryGraph", "knn_graph", "cluster_stories"]

_FORBIDDEN = 1e12  # distance of a pair that may not share a story; dwarfs any sum of real distances


@dataclass(slots=True)
class StoryGraph:
    """Undirected similarity edges ``(left[k], right[k], similarity[k])``, ``left < right``."""

    left: np.ndarray
    right: np.ndarray
    similarity: np.ndarray


def _within_window(times: np.ndarray, i: np.ndarray, j: np.ndarray, window: float) -> np.ndarray:
    ti, tj = times[i], times[j]
    return np.isnan(ti) | np.isnan(tj) | (np.abs(ti - tj) <= window)


def _exact_neighbours(vectors: np.ndarray, k: int, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    n = len(vectors)
    k = min(k, n - 1)
    idx = np.empty((n, k), dtype=np.int64)
    sim = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        stop = min(n, start + block)
        s = vectors[start:stop] @ vectors.T
        s[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        part = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < n else np.argsort(-s, axis=1)[:, :k]
        idx[start:stop] = part
        sim[start:stop] = np.take_along_axis(s, part, axis=1)
    return idx, sim


def _ann_neighbours(vectors: np.ndarray, k: int, threads: int | None) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    if threads:
        faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(vectors.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 64
    index.add(vectors)
    index.hnsw.efSearch = max(64, 2 * k)
    sim, idx = index.search(vectors, k + 1)
    return idx.astype(np.int64), sim


def knn_graph(
    vectors: np.ndarray,
    times: np.ndarray,
    *,
    k: int = 20,
    min_similarity: float = 0.0,
    window: float = np.inf,
    exact_limit: int = 20_000,
    threads: int | None = None,
) -> StoryGraph:
    """Each article's ``k`` most similar others, as deduplicated edges above ``min_similarity``
    and inside the time ``window`` (seconds)."""
    n = len(vectors)
    if n < 2:
        e = np.empty(0, dtype=np.int64)
        return StoryGraph(e, e, np.empty(0, dtype=np.float32))
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= exact_limit:
        idx, sim = _exact_neighbours(vectors, k)
    else:
        # ask for more neighbours than needed: some fall outside the time window
        idx, sim = _ann_neighbours(vectors, 2 * k if np.isfinite(window) else k, threads)
    rows = np.repeat(np.arange(n), idx.shape[1])
    cols = idx.ravel()
    sims = sim.ravel()
    keep = (cols >= 0) & (cols != rows) & (sims >= min_similarity)
    rows, cols, sims = rows[keep], cols[keep], sims[keep]
    if np.isfinite(window):
        ok = _within_window(times, rows, cols, window)
        rows, cols, sims = rows[ok], cols[ok], sims[ok]
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    code = lo.astype(np.uint64) << np.uint64(32) | hi.astype(np.uint64)
    code, first = np.unique(code, return_index=True)
    return StoryGraph(
        (code >> np.uint64(32)).astype(np.int64), (code & np.uint64(0xFFFFFFFF)).astype(np.int64), sims[first]
    )


def _average_linkage(vectors: np.ndarray, times: np.ndarray, threshold: float, window: float) -> np.ndarray:
    """Exact average-linkage labels of a small set, cut at similarity ``threshold``."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    m = len(vectors)
    if m == 1:
        return np.zeros(1, dtype=np.int64)
    v = vectors.astype(np.float64)
    dist = 1.0 - v @ v.T
    np.clip(dist, 0.0, 2.0, out=dist)
    if np.isfinite(window):
        t = times
        dated = ~np.isnan(t)
        far = np.abs(t[:, None] - t[None, :]) > window
        far &= dated[:, None] & dated[None, :]
        dist[far] = _FORBIDDEN
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    return fcluster(tree, t=1.0 - threshold, criterion="distance").astype(np.int64) - 1


def _split_large(
    members: np.ndarray, graph: StoryGraph, threshold: float, max_size: int, step: float = 0.02
) -> list[np.ndarray]:
    """Cut a component too large for exact linkage into pieces by raising its edge threshold."""
    pieces = [members]
    level = threshold
    out: list[np.ndarray] = []
    while pieces:
        level += step
        nxt = []
        for piece in pieces:
            if len(piece) <= max_size or level >= 1.0:
                out.append(piece)
                continue
            inside = np.isin(graph.left, piece) & np.isin(graph.right, piece) & (graph.similarity >= level)
            local = {int(x): i for i, x in enumerate(piece)}
            left = np.fromiter(
                (local[int(x)] for x in graph.left[inside]), dtype=np.int64, count=int(inside.sum())
            )
            right = np.fromiter(
                (local[int(x)] for x in graph.right[inside]), dtype=np.int64, count=int(inside.sum())
            )
            labels = union_find(len(piece), left, right)
            for lab in np.unique(labels):
                nxt.append(piece[labels == lab])
        pieces = nxt
    return out


def cluster_stories(
    vectors: np.ndarray,
    times: np.ndarray | None = None,
    *,
    threshold: float = 0.5,
    window_days: float = 3.0,
    k: int = 20,
    max_exact: int = 4000,
    exact_limit: int = 20_000,
    threads: int | None = None,
) -> np.ndarray:
    """Story labels ``0..n_stories-1`` for L2-normalised ``vectors`` (dot product = similarity).

    ``times`` are epoch seconds (NaN: undated); two dated articles more than ``window_days`` apart
    never share a story. Labels are numbered in order of each story's first article.
    """
    n = len(vectors)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    times = np.full(n, np.nan) if times is None else np.asarray(times, dtype=np.float64)
    window = window_days * 86400.0 if window_days and window_days > 0 else np.inf
    graph = knn_graph(
        vectors, times, k=k, min_similarity=threshold, window=window, exact_limit=exact_limit, threads=threads
    )
    component = union_find(n, graph.left, graph.right)
    labels = np.arange(n, dtype=np.int64)
    order = np.argsort(component, kind="stable")
    bounds = np.flatnonzero(np.diff(component[order])) + 1
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        pieces = (
            [members] if len(members) <= max_exact else _split_large(members, graph, threshold, max_exact)
        )
        for piece in pieces:
            sub = _average_linkage(vectors[piece], times[piece], threshold, window)
            # label each story by its first member's index: stable and order-free
            first = np.full(sub.max() + 1, n, dtype=np.int64)
            np.minimum.at(first, sub, piece)
            labels[piece] = first[sub]
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)
