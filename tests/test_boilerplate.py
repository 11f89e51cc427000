"""Tests for dedup.boilerplate: lines an outlet repeats under different headlines, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BATTERY_RECALL, COURIER_FOOTER, CYCLING_RACE, MOTH_SPECIES, article

from dedup.boilerplate import boilerplate_mask, line_outlets, line_recurrence
from dedup.neardup import find_near_duplicates

FOOTER, PARA_A, PARA_B, PARA_C, PARA_D = 101, 201, 202, 203, 204


def boilerplate_lines(outlet, line_hash, headline, min_articles=3):
    """Lines that recur under at least min_articles headlines of their outlet (0: none)."""
    if min_articles <= 0:
        return np.zeros(len(line_hash), dtype=bool)
    return line_recurrence(outlet, line_hash, headline) >= min_articles


def lines(articles: list[tuple[int, int, list[int]]]):
    """Flatten (outlet, headline, [line hashes]) articles into the three per-line arrays."""
    outlet = np.array([o for o, _, ls in articles for _ in ls], dtype=np.int64)
    headline = np.array([h for _, h, ls in articles for _ in ls], dtype=np.uint64)
    line_hash = np.array([x for _, _, ls in articles for x in ls], dtype=np.uint64)
    return outlet, line_hash, headline


def test_line_under_three_headlines_of_one_outlet_is_boilerplate():
    outlet, line_hash, headline = lines(
        [(0, 1, [PARA_A, FOOTER]), (0, 2, [PARA_B, FOOTER]), (0, 3, [PARA_C, FOOTER])]
    )
    assert boilerplate_lines(outlet, line_hash, headline).tolist() == [False, True] * 3


def test_line_under_two_headlines_is_not():
    outlet, line_hash, headline = lines(
        [(0, 1, [PARA_A, FOOTER]), (0, 2, [PARA_B, FOOTER]), (0, 3, [PARA_C])]
    )
    assert not boilerplate_lines(outlet, line_hash, headline).any()


def test_min_articles_is_the_threshold():
    arts = [(0, h, [PARA_A + h, FOOTER]) for h in range(1, 5)]
    assert boilerplate_lines(*lines(arts), min_articles=4).sum() == 4
    assert not boilerplate_lines(*lines(arts), min_articles=5).any()
    assert not boilerplate_lines(*lines(arts), min_articles=0).any()  # 0 switches it off


def test_same_line_at_different_outlets_is_not_boilerplate():
    outlet, line_hash, headline = lines(
        [(0, 1, [PARA_A, FOOTER]), (1, 2, [PARA_B, FOOTER]), (2, 3, [PARA_C, FOOTER])]
    )
    assert not boilerplate_lines(outlet, line_hash, headline).any()


def test_one_story_published_three_times_under_one_headline_is_not_boilerplate():
    story = [PARA_A, PARA_B, PARA_C]
    outlet, line_hash, headline = lines([(0, 7, story), (0, 7, story), (0, 7, story), (0, 8, [PARA_D])])
    assert not boilerplate_lines(outlet, line_hash, headline).any()


def test_repeats_inside_one_article_count_once():
    outlet, line_hash, headline = lines([(0, 1, [FOOTER, FOOTER, FOOTER]), (0, 2, [FOOTER])])
    assert not boilerplate_lines(outlet, line_hash, headline).any()


def test_unknown_outlet_is_never_boilerplate():
    arts = [(-1, h, [PARA_A, FOOTER]) for h in range(1, 6)]
    assert not boilerplate_lines(*lines(arts)).any()
    mixed = [*arts, (0, 1, [FOOTER]), (0, 2, [FOOTER])]  # outlet 0 has it under two headlines only
    assert not boilerplate_lines(*lines(mixed)).any()


def test_outlets_are_counted_separately():
    arts = [(0, 1, [FOOTER]), (0, 2, [FOOTER]), (1, 3, [FOOTER]), (0, 4, [FOOTER]), (1, 5, [FOOTER])]
    assert boilerplate_lines(*lines(arts)).tolist() == [True, True, False, True, False]


def test_no_lines():
    empty = np.empty(0, dtype=np.int64)
    assert len(boilerplate_lines(empty, empty.astype(np.uint64), empty.astype(np.uint64))) == 0


# --- learned in the pipeline ---------------------------------------------------------------------------------


@pytest.mark.parametrize("outlet", ["Lakeside Courier", None])
def test_pipeline_learns_outlet_footer(outlet):
    records = [
        article(i, story, outlet=outlet, footer=COURIER_FOOTER)
        for i, story in enumerate([BATTERY_RECALL, MOTH_SPECIES, CYCLING_RACE])
    ]
    stats = find_near_duplicates(records).stats
    assert stats.boilerplate_lines == (9 if outlet else 0)


# --- the stripping policy ---------------------------------------------------------------------------------------


def mask(recurrence, outlets, line_doc, tokens, **kw):
    return boilerplate_mask(
        np.array(recurrence), np.array(outlets), np.array(line_doc), np.array(tokens), max(line_doc) + 1, **kw
    ).tolist()


def test_recurring_line_only_one_outlet_has_is_stripped():
    assert mask([0, 3], [1, 1], [0, 0], [40, 10]) == [False, True]


def test_recurring_line_other_outlets_also_have_is_story_content():
    # an outlet re-filing a wire story: its paragraphs recur, but the wire service has them too
    assert mask([0, 3, 3], [1, 2, 2], [0, 0, 0], [10, 20, 20]) == [False, False, False]


def test_frequent_lines_are_stripped_even_if_other_outlets_have_them():
    assert mask([0, 12, 12], [1, 3, 3], [0, 0, 0], [10, 20, 20], frequent_articles=10) == [False, True, True]


def test_never_strips_an_article_below_min_tokens():
    assert mask([12, 12], [1, 1], [0, 0], [4, 6], min_tokens=8) == [False, False]
    assert mask([0, 12], [1, 1], [0, 0], [8, 6], min_tokens=8) == [False, True]


def test_min_articles_zero_switches_stripping_off():
    assert mask([50, 50], [1, 1], [0, 0], [10, 10], min_articles=0) == [False, False]


def test_line_outlets_counts_distinct_outlets_and_unknown_ones_each():
    outlet = np.array([0, 0, 1, -1, -1, -2, 2], dtype=np.int64)  # -2: headline line, ignored
    line_hash = np.array([5, 5, 5, 5, 7, 5, 7], dtype=np.uint64)
    assert line_outlets(outlet, line_hash).tolist() == [3, 3, 3, 3, 2, 0, 2]


@pytest.mark.parametrize("seed", range(5))
def test_line_counts_match_a_plain_count(seed):
    """Distinct headlines per (line, outlet) and distinct outlets per line, against dict counting."""
    rng = np.random.default_rng(seed)
    n = 2000
    line_hash = rng.integers(0, 40, n).astype(np.uint64)  # few distinct lines: long runs
    line_outlet = rng.integers(-2, 5, n)
    headline = rng.integers(0, 30, n).astype(np.uint64)
    headlines: dict[tuple, set] = {}
    outlets: dict[int, set] = {}
    for k in range(n):
        if line_outlet[k] >= 0:
            headlines.setdefault((line_hash[k], line_outlet[k]), set()).add(headline[k])
        if line_outlet[k] >= -1:
            outlets.setdefault(line_hash[k], set()).add(line_outlet[k] if line_outlet[k] >= 0 else -1 - k)
    recurrence = line_recurrence(line_outlet, line_hash, headline)
    per_line = line_outlets(line_outlet, line_hash)
    for k in range(n):
        want = len(headlines[(line_hash[k], line_outlet[k])]) if line_outlet[k] >= 0 else 0
        assert recurrence[k] == want
        assert per_line[k] == (len(outlets[line_hash[k]]) if line_outlet[k] >= -1 else 0)
