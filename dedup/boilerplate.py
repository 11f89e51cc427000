"""Outlet boilerplate learned from the corpus: lines an outlet repeats across different articles.

Headers, footers, newsletter prompts and related-link lists are the same text under many of one
outlet's articles. Left in, they make two unrelated short articles from that outlet look alike and
hide a wire copy's similarity to the same story elsewhere. A body line counts as boilerplate of its
outlet when it appears (as the same token sequence) in at least ``min_articles`` of that outlet's
articles *with different headlines* — counting headlines rather than articles keeps the paragraphs
of one story that an outlet published several times from being mistaken for boilerplate.

Everything is array code over line hashes; no text is kept.
"""

from __future__ import annotations

import numpy as np

__all__ = ["boilerplate_lines"]

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = (a ^ (b * _MIX)) * np.uint64(0xFF51AFD7ED558CCD)
        return h ^ (h >> np.uint64(31))


def boilerplate_lines(
    line_outlet: np.ndarray, line_hash: np.ndarray, line_headline: np.ndarray, min_articles: int = 3
) -> np.ndarray:
    """Which lines are boilerplate of their outlet.

    Args:
        line_outlet: int64 outlet code of each line's article; negative when the outlet is unknown
            (such lines are never boilerplate) or for headline lines (pass -1 to exclude them).
        line_hash: uint64 hash of each line's tokens.
        line_headline: uint64 identity of each line's article for counting: its headline hash, or a
            per-article value when it has no headline.
        min_articles: distinct headlines of the same outlet a line must appear under; 0 disables.
    """
    n = len(line_hash)
    result = np.zeros(n, dtype=np.bool_)
    if min_articles <= 0 or n == 0:
        return result
    valid = np.flatnonzero(line_outlet >= 0)
    if len(valid) == 0:
        return result
    key = _mix(line_hash[valid], line_outlet[valid].astype(np.uint64))
    # count each (outlet, line) once per distinct headline
    _, first = np.unique(_mix(key, line_headline[valid]), return_index=True)
    keys, counts = np.unique(key[first], return_counts=True)
    frequent = keys[counts >= min_articles]
    if len(frequent):
        result[valid] = np.isin(key, frequent)
    return result
