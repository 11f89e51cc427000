"""Tests for dedup.lsh: datasketch's band/row choice, band keys, and candidate pairs from sorted buckets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from datasketch.lsh import _optimal_param
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.groups import union_find
from dedup.lsh import (
    RunMatcher,
    band_keys,
    bucket_pairs,
    candidate_pairs,
    collision_probability,
    lsh_params,
    sorted_bands,
)


@pytest.mark.parametrize(
    ("num_perm", "thresholds"),
    [
        (8, (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)),
        (16, (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)),
        (32, (0.05, 0.15, 0.25, 0.35, 0.45, 0.5, 0.55, 0.65, 0.75, 0.85, 0.95)),
        (64, (0.2, 0.5, 0.85)),
        (128, (0.5, 0.7)),
        (256, (0.8,)),
    ],
)
def test_lsh_params_equal_datasketch(num_perm, thresholds):
    for threshold in thresholds:
        assert lsh_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5), threshold


@pytest.mark.parametrize("weights", [(0.3, 0.7), (0.9, 0.1)])
def test_lsh_params_equal_datasketch_with_weights(weights):
    for threshold in (0.3, 0.5, 0.8):
        assert lsh_params(threshold, 32, *weights) == _optimal_param(threshold, 32, *weights)


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.0, 128), (1.0, 128), (1.5, 128), (0.5, 1)])
def test_lsh_params_rejects_bad_values(threshold, num_perm):
    with pytest.raises(ValueError, match="threshold|num_perm"):
        lsh_params(threshold, num_perm)


def test_collision_probability_is_the_s_curve():
    assert collision_probability(0.0, 20, 5) == 0.0
    assert collision_probability(1.0, 20, 5) == 1.0
    assert collision_probability(0.5, 1, 1) == pytest.approx(0.5)
    assert collision_probability(0.5, 2, 2) == pytest.approx(1 - 0.75**2)


# --- band keys -----------------------------------------------------------------------------------------------


def test_band_keys_equal_iff_band_rows_equal():
    rng = np.random.default_rng(1)
    sig = rng.integers(0, 2**32, size=(4, 12), dtype=np.uint32)
    sig[1, :4] = sig[0, :4]  # band 0 shared by docs 0 and 1
    sig[2, 8:] = sig[0, 8:]  # band 2 shared by docs 0 and 2
    sig[3] = sig[0]
    sig[3, 4:8] = sig[0, [5, 4, 6, 7]]  # same values, different order: a different band
    keys = band_keys(sig, 3, 4)
    assert keys.shape == (3, 4) and keys.dtype == np.uint64
    assert keys[0, 0] == keys[0, 1] and keys[1, 0] != keys[1, 1] and keys[2, 0] != keys[2, 1]
    assert keys[2, 0] == keys[2, 2] and keys[0, 0] != keys[0, 2]
    assert keys[0, 3] == keys[0, 0] and keys[1, 3] != keys[1, 0] and keys[2, 3] == keys[2, 0]


def test_same_rows_in_different_bands_give_different_keys():
    sig = np.zeros((1, 8), dtype=np.uint32)
    keys = band_keys(sig, 2, 4)
    assert keys[0, 0] != keys[1, 0]


def test_band_keys_need_enough_permutations():
    with pytest.raises(ValueError, match="permutations"):
        band_keys(np.zeros((2, 10), dtype=np.uint32), 3, 4)


# --- candidate pairs -----------------------------------------------------------------------------------------


def pair_set(left, right) -> set[tuple[int, int]]:
    return set(zip(left.tolist(), right.tolist(), strict=True))


def brute_force_pairs(keys: np.ndarray, members) -> set[tuple[int, int]]:
    members = sorted(members)
    return {
        (i, j)
        for i, j in itertools.combinations(members, 2)
        if any(keys[b, i] == keys[b, j] for b in range(keys.shape[0]))
    }


def test_candidate_pairs_share_a_band_key():
    keys = np.array(
        [
            [1, 1, 2, 3, 4, 5],  # 0-1
            [7, 8, 9, 9, 9, 6],  # 2-3, 2-4, 3-4
            [1, 1, 0, 3, 0, 5],  # 0-1 again, 2-4 again
        ],
        dtype=np.uint64,
    )
    left, right = candidate_pairs(keys, np.arange(6), np.arange(6, dtype=np.uint64))
    assert left.tolist() == [0, 2, 2, 3]
    assert right.tolist() == [1, 3, 4, 4]
    assert (left < right).all()


def test_only_members_take_part():
    keys = np.zeros((2, 5), dtype=np.uint64)  # everyone shares every key
    left, right = candidate_pairs(keys, np.array([4, 1, 3]), np.arange(5, dtype=np.uint64))
    assert pair_set(left, right) == {(1, 3), (1, 4), (3, 4)}
    left, right = candidate_pairs(keys, np.array([2]), np.arange(5, dtype=np.uint64))
    assert len(left) == len(right) == 0


def test_no_shared_keys_no_pairs():
    keys = np.arange(12, dtype=np.uint64).reshape(3, 4)
    left, right = candidate_pairs(keys, np.arange(4), np.arange(4, dtype=np.uint64))
    assert len(left) == 0 and left.dtype == np.int64


def test_big_bucket_is_a_connected_star_and_chain():
    n, max_bucket = 100, 10
    keys = np.zeros((1, n), dtype=np.uint64)
    tiebreak = np.random.default_rng(3).permutation(n).astype(np.uint64)
    left, right = candidate_pairs(keys, np.arange(n), tiebreak, max_bucket=max_bucket)
    assert len(left) == 2 * n - 3  # star (n - 1) + chain (n - 2), never all n (n - 1) / 2
    assert len(pair_set(left, right)) == len(left)
    assert (left < right).all()
    assert len(set(union_find(n, left, right).tolist())) == 1
    # the star is centred on the member with the smallest tiebreak
    centre = int(np.argmin(tiebreak))
    degree = np.bincount(np.concatenate([left, right]), minlength=n)
    assert degree[centre] == n - 1


def test_bucket_at_max_size_gives_all_pairs():
    keys = np.zeros((1, 10), dtype=np.uint64)
    left, right = candidate_pairs(keys, np.arange(10), np.arange(10, dtype=np.uint64), max_bucket=10)
    assert pair_set(left, right) == set(itertools.combinations(range(10), 2))


bucket_keys = st.integers(0, 5)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n=st.integers(2, 30),
    bands=st.integers(1, 4),
    max_bucket=st.integers(2, 8),
)
def test_candidate_pairs_properties(data, n, bands, max_bucket):
    keys = np.array(
        data.draw(st.lists(st.lists(bucket_keys, min_size=n, max_size=n), min_size=bands, max_size=bands)),
        dtype=np.uint64,
    )
    members = np.array(
        sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=0, max_size=n))), dtype=np.int64
    )
    tiebreak = np.array(data.draw(st.permutations(range(n))), dtype=np.uint64)
    left, right = candidate_pairs(keys, members, tiebreak, max_bucket=max_bucket)
    pairs = pair_set(left, right)
    assert len(pairs) == len(left)  # each pair once
    assert all(i < j for i, j in pairs)
    expected = brute_force_pairs(keys, members.tolist())
    assert pairs <= expected  # only pairs that share a key
    # every bucket's members end up connected
    labels = union_find(n, left, right)
    for i, j in expected:
        assert labels[i] == labels[j]
    if all(len(set(keys[b, members].tolist())) >= len(members) - max_bucket + 1 for b in range(bands)):
        assert pairs == expected  # no bucket can be over max_bucket: all pairs
    # the order of members does not matter
    shuffled = np.array(data.draw(st.permutations(members.tolist())), dtype=np.int64)
    assert pair_set(*candidate_pairs(keys, shuffled, tiebreak, max_bucket=max_bucket)) == pairs
    # relabelling the articles relabels the pairs
    perm = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)  # new index of article i
    inverse = np.argsort(perm)
    l2, r2 = candidate_pairs(keys[:, inverse], perm[members], tiebreak[inverse], max_bucket=max_bucket)
    back = {tuple(sorted((int(inverse[a]), int(inverse[b])))) for a, b in zip(l2, r2, strict=True)}
    assert back == pairs


@pytest.mark.parametrize("fold", [1, 50])
def test_folding_bands_early_gives_the_same_pairs(monkeypatch, fold: int) -> None:
    """Pairs are folded into the distinct set every few bands to bound memory; never changes them."""
    from dedup import lsh

    rng = np.random.default_rng(4)
    keys = rng.integers(0, 30, (12, 400)).astype(np.uint64)  # big buckets, pairs repeated across bands
    members = np.arange(400)
    tiebreak = rng.integers(0, 1 << 62, 400).astype(np.uint64)
    want = candidate_pairs(keys, members, tiebreak, max_bucket=8)
    monkeypatch.setattr(lsh, "FOLD_PAIRS", fold)
    got = candidate_pairs(keys, members, tiebreak, max_bucket=8)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert len(want[0]) > 1000


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 40), st.integers(1, 3), st.integers(1, 30), st.integers(1, 3), st.integers(0, 2**32 - 1)
)
def test_run_matcher_finds_each_new_and_stored_pair_sharing_a_band_key_once(
    n_new, runs, values, threads, seed
):
    """Two kinds of keys (the second for a subset of the new articles), runs of disjoint stored
    articles looked up with one matcher: each pair sharing a key in any band of any kind, once."""
    rng = np.random.default_rng(seed)
    kinds = [(3, np.arange(n_new)), (2, np.flatnonzero(rng.random(n_new) < 0.5))]
    new_keys = [rng.integers(0, values, (bands, n_new)).astype(np.uint64) for bands, _ in kinds]
    queries = []
    for (_, members), k in zip(kinds, new_keys, strict=True):
        sorted_keys, order = sorted_bands(k[:, members])
        queries.append((sorted_keys, order, members))
    sizes = rng.integers(0, 25, runs)
    first = np.concatenate([[0], np.cumsum(sizes)])
    matcher = RunMatcher(queries, n_new, int(first[-1]), threads)
    for r in range(runs):
        run, expected = [], set()
        for (bands, members), k in zip(kinds, new_keys, strict=True):
            stored = np.arange(first[r], first[r + 1])
            stored = stored[rng.random(len(stored)) < 0.8]  # a kind's run holds some of the articles
            keys = rng.integers(0, values + 2, (bands, len(stored))).astype(np.uint64)
            run.append(_sorted_run_of(keys, stored))
            expected |= {
                (int(a), int(stored[j]))
                for b in range(bands)
                for a in members
                for j in range(len(stored))
                if keys[b, j] == k[b, a]
            }
        new, doc = matcher.lookup(run)
        got = list(zip(new.tolist(), doc.tolist(), strict=True))
        assert len(got) == len(set(got)) and set(got) == expected
        assert (np.diff(new) >= 0).all()  # grouped by new article


def _sorted_run_of(keys: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, axis=1, kind="stable")
    return np.take_along_axis(keys, order, axis=1), np.broadcast_to(docs, keys.shape)[
        np.arange(len(keys))[:, None], order
    ]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4), st.integers(0, 50), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_bucket_pairs_gives_the_distinct_pairs_of_candidate_pairs_with_every_pair(bands, n, values, seed):
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, values, (bands, n)).astype(np.uint64)
    members = np.flatnonzero(rng.random(n) < 0.8)
    sub = keys[:, members]
    order = np.argsort(sub, axis=1)
    left, right = bucket_pairs(np.take_along_axis(sub, order, axis=1), order, sub)
    assert (left < right).all()
    got = sorted(zip(members[left].tolist(), members[right].tolist(), strict=True))
    el, er = candidate_pairs(keys, members, np.arange(n, dtype=np.uint64), 0)
    assert got == list(zip(el.tolist(), er.tolist(), strict=True))  # each pair once


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distinct_pairs_is_each_pair_once_ordered_by_right_then_left(monkeypatch, threaded, seed):
    import dedup.lsh as lsh

    if threaded:  # small halves sort in threads too
        monkeypatch.setattr(lsh, "_THREADED_SORT", 1)
    rng = np.random.default_rng(seed)
    parts = [int(k) for k in rng.integers(0, 400, 5)]
    lefts = [rng.integers(0, 2**32 - 1, k).astype(np.int64) // rng.integers(1, 2**20) for k in parts]
    rights = [rng.integers(0, 60, k).astype(np.int64) for k in parts]
    lefts.append(lefts[0][:50].copy())  # repeats across parts, as across bands and runs
    rights.append(rights[0][:50].copy())
    left, right = lsh.distinct_pairs(lefts, rights, split=int(rng.integers(0, 61)))
    expected = sorted(set(zip(np.concatenate(rights).tolist(), np.concatenate(lefts).tolist(), strict=True)))
    assert list(zip(right.tolist(), left.tolist(), strict=True)) == expected
    assert left.dtype == right.dtype == np.int64


def test_distinct_pairs_of_nothing_is_empty():
    from dedup.lsh import distinct_pairs

    e = np.empty(0, dtype=np.int64)
    left, right = distinct_pairs([e, e], [e, e], split=3)
    assert len(left) == len(right) == 0


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_sorted_bands_sorts_each_band_and_says_where_each_key_came_from(monkeypatch, threads):
    import dedup.lsh as lsh

    monkeypatch.setattr(lsh, "_THREADED_SORT", 1)  # small inputs sort in threads too
    keys = np.random.default_rng(threads).integers(0, 50, (5, 300)).astype(np.uint64)
    queries, order = lsh.sorted_bands(keys, threads)
    assert (np.diff(queries.astype(np.int64), axis=1) >= 0).all()
    np.testing.assert_array_equal(queries, np.take_along_axis(keys, order, axis=1))
    assert all(sorted(row) == list(range(300)) for row in order.tolist())  # each column once


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_merge_runs_is_each_band_of_active_articles_sorted_stably(runs, bands, values, seed):
    """Every band of the merged run holds the active articles of all runs in key order (equal keys
    in run order), whatever article sits in the same column of another band."""
    from dedup.lsh import merge_runs, merged_run_size

    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 30, runs)
    first = np.concatenate([[0], np.cumsum(sizes)])
    active = rng.random(int(first[-1])) < 0.7
    run_keys, run_docs = [], []
    for r in range(runs):
        keys = rng.integers(0, values, (bands, int(sizes[r]))).astype(np.uint64)
        k, d = _sorted_run_of(keys, np.arange(first[r], first[r + 1]))
        run_keys.append(k)
        run_docs.append(d)
    size = merged_run_size(run_docs, active)
    assert size == active.sum()
    out_keys, out_docs = np.empty((bands, size), np.uint64), np.empty((bands, size), np.int64)
    merge_runs(run_keys, run_docs, active, out_keys, out_docs)
    for b in range(bands):
        entries = [
            (int(run_keys[r][b, j]), int(run_docs[r][b, j]))
            for r in range(runs)
            for j in range(run_keys[r].shape[1])
            if active[run_docs[r][b, j]]
        ]
        expected = sorted(entries, key=lambda e: e[0])  # stable: run order, then order in the run
        assert list(zip(out_keys[b].tolist(), out_docs[b].tolist(), strict=True)) == expected
