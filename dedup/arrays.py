"""Array helpers where numpy's general routine is slow for the shapes stage 1 produces.

``np.unique(a)`` without ``return_*`` flags takes a hash-table path in numpy ≥ 2.3, which on
millions of uint64 pair codes with many repeats runs about ten times slower than sorting: LSH
bands repeat the same candidate pairs many times over, so this matters.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sorted_unique", "unique_pairs", "concat_ranges"]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D array, sorted (what ``np.unique`` returns), by sort and compare."""
    out = np.sort(values, kind="quicksort")
    if len(out) < 2:
        return out
    keep = np.empty(len(out), dtype=np.bool_)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``starts[k], starts[k] + 1, ..., starts[k] + counts[k] - 1`` for every k, back to back."""
    counts = np.asarray(counts, dtype=np.int64)
    before = np.cumsum(counts) - counts  # items ahead of each range
    return np.repeat(np.asarray(starts, dtype=np.int64) - before, counts) + np.arange(
        int(counts.sum()), dtype=np.int64
    )


def unique_pairs(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``(lo, hi)`` pairs, sorted."""
    if len(lo) == 0:
        return lo, hi
    order = np.lexsort((hi, lo))  # much faster than np.unique(axis=0), which sorts structured rows
    lo, hi = lo[order], hi[order]
    first = np.ones(len(lo), dtype=np.bool_)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return lo[first], hi[first]
