"""Outlet boilerplate learned from the corpus: lines an outlet repeats across different articles.

Headers, footers, newsletter prompts and related-link lists are the same text under many of one
outlet's articles. Left in, they make two unrelated short articles from that outlet look alike and
hide a wire copy's similarity to the same story elsewhere.

A body line *recurs* in an outlet when the same token sequence appears under several of that
outlet's articles with different headlines (counting headlines, not articles, keeps one story that
an outlet filed twice under the same headline from counting twice). But an outlet that re-files a
developing story under new headlines repeats lines too -- the story's paragraphs. What tells them
apart is where else the line appears: a template belongs to its outlet, while a story's paragraphs
also turn up in other outlets' copies of the wire story. So:

* a line recurring under ``frequent_articles`` or more headlines of an outlet is boilerplate
  (templates recur across dozens of articles; a story is rarely re-filed that often);
* a line recurring under ``min_articles`` or more is boilerplate if no other outlet has it.

And no article is stripped below ``min_tokens``. Everything is array code over line hashes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "line_recurrence",
    "line_outlets",
    "boilerplate_mask",
    "non_prose_lines",
    "never_below",
    "stripped_lines",
]

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = (a ^ (b * _MIX)) * np.uint64(0xFF51AFD7ED558CCD)
        return h ^ (h >> np.uint64(31))


def line_recurrence(line_outlet: np.ndarray, line_hash: np.ndarray, line_headline: np.ndarray) -> np.ndarray:
    """For each line, under how many distinct headlines of its outlet the same line appears.

    Args:
        line_outlet: int64 outlet code of each line's article; negative for lines never to count
            (unknown outlet, headline lines).
        line_hash: uint64 hash of each line's tokens.
        line_headline: uint64 identity of each line's article: its headline hash, or a per-article
            value when it has none.
    """
    counts = np.zeros(len(line_hash), dtype=np.int64)
    valid = np.flatnonzero(line_outlet >= 0)
    if len(valid) == 0:
        return counts
    key = _mix(line_hash[valid], line_outlet[valid].astype(np.uint64))
    counts[valid] = _distinct_per_key(key, line_headline[valid])
    return counts


def line_outlets(line_outlet: np.ndarray, line_hash: np.ndarray) -> np.ndarray:
    """For each body line, how many outlets have the same line (unknown outlets count one each).

    Headline lines (``line_outlet`` below -1) are ignored; -1 marks an article of unknown outlet.
    """
    counts = np.zeros(len(line_hash), dtype=np.int64)
    body = np.flatnonzero(line_outlet >= -1)
    if len(body) == 0:
        return counts
    outlet = line_outlet[body]
    # an article of unknown outlet is an outlet of its own: give each such line a unique code
    code = np.where(outlet >= 0, outlet, -1 - np.arange(len(body))).astype(np.int64)
    counts[body] = _distinct_per_key(line_hash[body], code)
    return counts


def _distinct_per_key(key: np.ndarray, value: np.ndarray) -> np.ndarray:
    """For each position, how many distinct ``value``s occur under its ``key``."""
    order = np.argsort(key, kind="quicksort")
    per_sorted = _count_distinct_runs(key[order], value[order])
    out = np.empty(len(key), dtype=np.int64)
    out[order] = per_sorted
    return out


@njit(cache=True)
def _count_distinct_runs(sorted_key, value):
    """Per run of one key in ``sorted_key``, the number of distinct values in the run (for each row)."""
    n = len(sorted_key)
    out = np.empty(n, dtype=np.int64)
    i = 0
    while i < n:
        j = i + 1
        while j < n and sorted_key[j] == sorted_key[i]:
            j += 1
        distinct = 1
        if j - i > 1:
            run = np.sort(value[i:j])
            for r in range(1, j - i):
                if run[r] != run[r - 1]:
                    distinct += 1
        out[i:j] = distinct
        i = j
    return out


def boilerplate_mask(
    recurrence: np.ndarray,
    outlets: np.ndarray,
    line_doc: np.ndarray,
    line_tokens: np.ndarray,
    n_docs: int,
    *,
    min_articles: int = 3,
    frequent_articles: int = 10,
    min_tokens: int = 8,
) -> np.ndarray:
    """Which lines to strip as learned boilerplate (see the module docstring for the rule)."""
    if min_articles <= 0 or len(recurrence) == 0:
        return np.zeros(len(recurrence), dtype=np.bool_)
    frequent = recurrence >= max(frequent_articles, min_articles)
    strip = frequent | ((recurrence >= min_articles) & (outlets == 1))
    return never_below(strip, line_doc, line_tokens, n_docs, min_tokens)


def non_prose_lines(
    line_tokens: np.ndarray,
    line_sentence: np.ndarray,
    line_doc: np.ndarray,
    is_headline: np.ndarray,
    n_docs: int,
    *,
    min_tokens: int = 6,
    min_share: float = 0.5,
) -> np.ndarray:
    """Body lines that are not prose, in articles whose body is mostly prose.

    Menus, link lists, captions, tags and bylines are short or do not end like a sentence; the
    story is written in sentences. This needs no corpus, so it works for an outlet seen once. An
    article whose lines mostly do not end like sentences (hard-wrapped text, OCR, unpunctuated
    scripts) is left alone.
    """
    body = ~is_headline
    prose = body & line_sentence & (line_tokens >= min_tokens)
    tokens = line_tokens.astype(np.float64)
    body_total = np.bincount(line_doc, weights=np.where(body, tokens, 0.0), minlength=n_docs)
    prose_total = np.bincount(line_doc, weights=np.where(prose, tokens, 0.0), minlength=n_docs)
    written_in_prose = (prose_total >= min_share * body_total) & (prose_total > 0)
    return body & ~prose & written_in_prose[line_doc]


def never_below(
    strip: np.ndarray, line_doc: np.ndarray, line_tokens: np.ndarray, n_docs: int, min_tokens: int
) -> np.ndarray:
    """Drop ``strip`` for articles it would leave with fewer than ``min_tokens`` words.

    All of an article "boilerplate" means the outlet ran the same short text again (a copy, not a
    template), or that the article is nothing but a short note: either way, keep it whole.
    """
    tokens = line_tokens.astype(np.float64)
    total = np.bincount(line_doc, weights=tokens, minlength=n_docs)
    kept = np.bincount(line_doc, weights=np.where(strip, 0.0, tokens), minlength=n_docs)
    restore = (kept < min_tokens) & (total >= min_tokens)
    return strip & ~restore[line_doc]


def stripped_lines(
    learned: np.ndarray,
    line_tokens: np.ndarray,
    line_sentence: np.ndarray,
    line_doc: np.ndarray,
    is_headline: np.ndarray,
    n_docs: int,
    *,
    min_tokens: int,
    prose_only: bool,
) -> np.ndarray:
    """The lines to drop before shingling: ``learned`` boilerplate and, with ``prose_only``, the
    non-prose lines of prose articles -- never leaving an article below ``min_tokens`` words."""
    if not prose_only:
        return learned
    strip = learned | non_prose_lines(line_tokens, line_sentence, line_doc, is_headline, n_docs)
    return never_below(strip, line_doc, line_tokens, n_docs, min_tokens)
