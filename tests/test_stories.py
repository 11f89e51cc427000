"""Tests for dedup.stories: the candidate graph and time-windowed average linkage, on synthetic unit vectors.

The data are fixed-seed clusters: ``size`` points around each of ``n`` random centres in 128 dimensions
(noise 0.04 per axis: members have cosine above 0.7 with one another, while points of different
clusters and unrelated random points stay below 0.35). At threshold 0.5 every cluster is one story and
every unrelated point its own, with a wide margin on both sides.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from stage2_helpers import partition_of, unit

from dedup.stories import cluster_stories, extend_stories, knn_graph

DAY = 86400.0
DIM = 128


def clustered(n_clusters: int, size: int, noise_points: int = 0, seed: int = 0, spread: float = 0.04):
    """(vectors, true labels); unrelated points get labels -1, -2, ..."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(n_clusters, DIM)))
    points = [unit(c + spread * rng.normal(size=(size, DIM))) for c in centres]
    labels = [np.full(size, k) for k in range(n_clusters)]
    if noise_points:
        points.append(unit(rng.normal(size=(noise_points, DIM))))
        labels.append(-1 - np.arange(noise_points))
    vectors = np.concatenate(points)
    truth = np.concatenate(labels)
    order = rng.permutation(len(vectors))  # interleave, so clusters are not contiguous runs
    return np.ascontiguousarray(vectors[order]), truth[order]


def stories_of(labels: np.ndarray) -> frozenset:
    return partition_of(range(len(labels)), labels.tolist())


def test_recovers_well_separated_clusters_and_keeps_noise_apart():
    vectors, truth = clustered(5, 8, noise_points=10, seed=1)
    labels = cluster_stories(vectors, threshold=0.5)
    assert labels.dtype == np.int64 and labels.shape == (50,)
    assert stories_of(labels) == stories_of(truth)
    assert labels.max() + 1 == 15


def test_labels_are_numbered_in_order_of_first_article():
    vectors, _ = clustered(4, 6, noise_points=5, seed=2)
    labels = cluster_stories(vectors, threshold=0.5)
    _, first = np.unique(labels, return_index=True)
    assert labels[0] == 0
    assert np.all(np.diff(first) > 0)  # label k first appears before label k + 1
    assert set(labels.tolist()) == set(range(labels.max() + 1))


def test_deterministic():
    vectors, _ = clustered(6, 7, noise_points=8, seed=3)
    times = np.random.default_rng(3).uniform(0, 5 * DAY, len(vectors))
    a = cluster_stories(vectors, times, threshold=0.5, window_days=3)
    b = cluster_stories(vectors.copy(), times.copy(), threshold=0.5, window_days=3)
    np.testing.assert_array_equal(a, b)


def test_input_order_does_not_change_the_partition():
    vectors, _ = clustered(6, 7, noise_points=8, seed=4)
    times = np.random.default_rng(4).uniform(0, 2 * DAY, len(vectors))
    labels = cluster_stories(vectors, times, threshold=0.5)
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(len(vectors))
        shuffled = cluster_stories(vectors[perm], times[perm], threshold=0.5)
        back = np.empty_like(shuffled)
        back[perm] = shuffled
        assert stories_of(back) == stories_of(labels)


def test_input_order_does_not_change_the_partition_with_a_tight_window():
    vectors, _ = clustered(6, 7, noise_points=8, seed=4)
    times = np.random.default_rng(4).uniform(0, 5 * DAY, len(vectors))
    labels = cluster_stories(vectors, times, threshold=0.5, window_days=1)
    assert labels.max() + 1 > 14  # the window splits clusters
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(len(vectors))
        shuffled = cluster_stories(vectors[perm], times[perm], threshold=0.5, window_days=1)
        back = np.empty_like(shuffled)
        back[perm] = shuffled
        assert stories_of(back) == stories_of(labels)


def test_input_vectors_are_not_modified():
    vectors, _ = clustered(3, 5, seed=5)
    times = np.arange(15) * 3600.0
    before, times_before = vectors.copy(), times.copy()
    cluster_stories(vectors, times, threshold=0.5)
    np.testing.assert_array_equal(vectors, before)
    np.testing.assert_array_equal(times, times_before)


def test_average_linkage_does_not_chain():
    # a and b are similar, b and c are similar, a and c are not: single linkage would make one story
    a, b, c = np.array([[1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)], [0.0, 1.0]], dtype=np.float32)
    labels = cluster_stories(np.stack([a, b, c]), threshold=0.6)
    assert labels.max() + 1 == 2
    assert labels[0] != labels[2]


def test_matches_exact_average_linkage_when_the_graph_is_complete():
    # noisier clusters, so that merges happen at many levels and near the cut
    vectors, _ = clustered(6, 6, noise_points=6, seed=6, spread=0.08)
    n = len(vectors)
    for threshold in (0.3, 0.5, 0.55, 0.6):
        dist = np.clip(1.0 - vectors.astype(np.float64) @ vectors.T.astype(np.float64), 0, 2)
        np.fill_diagonal(dist, 0.0)
        tree = linkage(squareform(dist, checks=False), method="average")
        expected = fcluster(tree, t=1.0 - threshold, criterion="distance")
        labels = cluster_stories(vectors, threshold=threshold, k=n - 1)
        assert stories_of(labels) == stories_of(expected), threshold


# -- the time window ------------------------------------------------------------------------------------


def twins(times):
    v = unit(np.ones((len(times), DIM)))
    return v, np.array(times, dtype=np.float64)


def test_identical_articles_further_apart_than_the_window_are_different_stories():
    v, t = twins([0.0, 10 * DAY])
    assert cluster_stories(v, t, threshold=0.5, window_days=3).tolist() == [0, 1]


def test_identical_articles_inside_the_window_are_one_story():
    v, t = twins([0.0, 1 * DAY])
    assert cluster_stories(v, t, threshold=0.5, window_days=3).tolist() == [0, 0]
    v, t = twins([0.0, 3 * DAY])  # exactly the window: still allowed
    assert cluster_stories(v, t, threshold=0.5, window_days=3).tolist() == [0, 0]


def test_window_zero_means_no_limit():
    v, t = twins([0.0, 100 * DAY])
    assert cluster_stories(v, t, threshold=0.5, window_days=0).tolist() == [0, 0]


def test_undated_articles_join_a_dated_story():
    v, t = twins([0.0, np.nan, 1 * DAY])
    assert cluster_stories(v, t, threshold=0.5, window_days=3).tolist() == [0, 0, 0]
    v, t = twins([np.nan, np.nan])
    assert cluster_stories(v, t, threshold=0.5, window_days=3).tolist() == [0, 0]
    assert cluster_stories(v, None, threshold=0.5).tolist() == [0, 0]


def test_an_undated_article_does_not_bridge_two_dates_outside_the_window():
    v, t = twins([0.0, np.nan, 10 * DAY])
    labels = cluster_stories(v, t, threshold=0.5, window_days=3)
    assert labels[0] != labels[2]
    assert labels.max() + 1 == 2  # the undated one joins one of them


def test_a_story_never_spans_more_than_the_window():
    # identical articles a day apart for ten days: a chain, every neighbour within the window
    v, t = twins(np.arange(10) * DAY)
    labels = cluster_stories(v, t, threshold=0.5, window_days=3)
    for lab in np.unique(labels):
        span = np.ptp(t[labels == lab])
        assert span <= 3 * DAY
    assert labels.max() + 1 >= 3  # ten days do not fit in fewer than three 3-day stories


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    window=st.sampled_from([0.5, 1.0, 3.0]),
    undated=st.floats(0.0, 0.5),
)
def test_property_span_within_window(seed, window, undated):
    rng = np.random.default_rng(seed)
    vectors, _ = clustered(3, 8, noise_points=3, seed=seed, spread=0.06)
    times = rng.uniform(0, 6 * DAY, len(vectors))
    times[rng.random(len(vectors)) < undated] = np.nan
    labels = cluster_stories(vectors, times, threshold=0.5, window_days=window)
    assert len(labels) == len(vectors)
    for lab in np.unique(labels):
        dated = times[labels == lab]
        dated = dated[~np.isnan(dated)]
        if len(dated):
            assert np.ptp(dated) <= window * DAY


# -- the candidate graph ---------------------------------------------------------------------------------


def test_knn_graph_edges_are_unique_above_the_cut_and_inside_the_window():
    vectors, _ = clustered(3, 6, seed=7)
    times = np.arange(18) * 0.5 * DAY
    g = knn_graph(vectors, times, k=5, min_similarity=0.25, window=2 * DAY)
    assert len(g.left) > 0
    assert np.all(g.left < g.right)
    assert len(set(zip(g.left.tolist(), g.right.tolist(), strict=True))) == len(g.left)
    assert np.all(g.similarity >= 0.25)
    np.testing.assert_allclose(
        g.similarity, np.einsum("ij,ij->i", vectors[g.left], vectors[g.right]), atol=1e-5
    )
    assert np.all(np.abs(times[g.left] - times[g.right]) <= 2 * DAY)
    # each article keeps at most k of its own neighbours (so at most 2k edges touch it)
    assert np.bincount(np.concatenate([g.left, g.right]), minlength=18).max() <= 10


def test_knn_graph_of_fewer_than_two_articles_is_empty():
    for n in (0, 1):
        g = knn_graph(np.ones((n, 4), dtype=np.float32), np.zeros(n))
        assert len(g.left) == len(g.right) == len(g.similarity) == 0


def test_approximate_neighbours_give_the_same_stories_on_easy_data():
    vectors, truth = clustered(12, 25, noise_points=30, seed=8)
    times = np.random.default_rng(8).uniform(0, 2 * DAY, len(vectors))
    exact = cluster_stories(vectors, times, threshold=0.5, k=10)
    approximate = cluster_stories(vectors, times, threshold=0.5, k=10, exact_limit=50)
    assert stories_of(approximate) == stories_of(exact) == stories_of(truth)
    # and the approximate graph itself is made of true similarities
    g = knn_graph(vectors, times, k=10, min_similarity=0.25, window=3 * DAY, exact_limit=50)
    np.testing.assert_allclose(
        g.similarity, np.einsum("ij,ij->i", vectors[g.left], vectors[g.right]), atol=1e-5
    )


def test_one_large_story():
    # every article similar to every other: one component far larger than k
    rng = np.random.default_rng(9)
    centre = unit(rng.normal(size=DIM))
    vectors = unit(centre + 0.05 * rng.normal(size=(300, DIM)))
    labels = cluster_stories(vectors, threshold=0.5, k=5)
    assert labels.tolist() == [0] * 300


# -- edges of the input ----------------------------------------------------------------------------------


def test_empty_and_single_inputs():
    empty = cluster_stories(np.zeros((0, DIM), dtype=np.float32))
    assert empty.dtype == np.int64 and empty.shape == (0,)
    assert cluster_stories(unit(np.ones((1, DIM)))).tolist() == [0]
    assert cluster_stories(unit(np.ones((1, DIM))), np.array([np.nan])).tolist() == [0]


def test_nothing_similar_means_all_singletons():
    vectors = np.eye(DIM, dtype=np.float32)[:10]
    assert cluster_stories(vectors, threshold=0.1).tolist() == list(range(10))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accepts_float32_and_float64(dtype):
    vectors, truth = clustered(3, 5, seed=10)
    labels = cluster_stories(vectors.astype(dtype), threshold=0.5)
    assert stories_of(labels) == stories_of(truth)


# -- continuing from stored stories (the index's incremental step) -----------------------------------


def story_table(vectors: np.ndarray, labels: np.ndarray, times: np.ndarray | None = None):
    """Per story: its members' vector sum, count, first and last date (what an index keeps)."""
    n = int(labels.max()) + 1
    sums = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, labels, vectors)
    t = np.full(len(labels), np.nan) if times is None else times
    first = np.array(
        [np.nanmin(t[labels == s]) if np.any(~np.isnan(t[labels == s])) else np.nan for s in range(n)]
    )
    last = np.array(
        [np.nanmax(t[labels == s]) if np.any(~np.isnan(t[labels == s])) else np.nan for s in range(n)]
    )
    return sums, np.bincount(labels, minlength=n), first, last


def test_extending_no_stories_is_clustering_the_new_articles():
    vectors, _ = clustered(5, 6, noise_points=6, seed=11)
    times = np.random.default_rng(11).uniform(0, 4 * DAY, len(vectors))
    empty = np.zeros((0, DIM), np.float32), np.zeros(0), np.zeros(0), np.zeros(0)
    np.testing.assert_array_equal(
        extend_stories(*empty, vectors, times, threshold=0.5, window_days=3),
        cluster_stories(vectors, times, threshold=0.5, window_days=3),
    )


def test_new_articles_join_the_story_they_belong_to_and_the_rest_start_their_own():
    vectors, truth = clustered(6, 8, noise_points=6, seed=12)
    old = np.arange(len(vectors)) % 2 == 0  # half of every cluster is stored, half arrives now
    old_labels = cluster_stories(vectors[old], threshold=0.5)
    labels = extend_stories(*story_table(vectors[old], old_labels), vectors[~old], threshold=0.5)
    n_s = old_labels.max() + 1
    assert len(labels) == n_s + np.count_nonzero(~old)
    assert len(np.unique(labels[:n_s])) == n_s  # stored stories stay apart (nothing bridges them)
    combined = np.empty(len(vectors), np.int64)
    combined[old] = labels[:n_s][old_labels]
    combined[~old] = labels[n_s:]
    assert stories_of(combined) == stories_of(truth)  # the batch result over all articles


def test_an_article_close_to_two_stories_merges_them_only_when_the_average_allows():
    a, b = np.eye(2, dtype=np.float32)
    bridge = (a + b) / np.linalg.norm(a + b)  # cosine 0.707 with each of a and b
    stories = np.stack([a, b]), np.array([1.0, 1.0]), np.full(2, np.nan), np.full(2, np.nan)
    # joining a gives (a+bridge)/2; its average similarity to b is (0 + 0.707) / 2 = 0.35
    assert extend_stories(*stories, bridge[None], threshold=0.3).tolist() == [0, 0, 0]
    assert extend_stories(*stories, bridge[None], threshold=0.4).tolist() == [0, 1, 0]
    # a stored story is never split: two far-apart members stay one story
    spread = np.stack([a + 0.0, b]).sum(0, keepdims=True)
    assert extend_stories(
        spread, np.array([2.0]), np.full(1, np.nan), np.full(1, np.nan), a[None], threshold=0.9
    ).tolist() == [0, 1]


def test_a_new_article_does_not_join_a_story_it_would_stretch_past_the_window():
    vectors, _ = clustered(1, 4, seed=13)
    times = np.array([0.0, 1.0, 2.0, 2.5]) * DAY
    stories = vectors[:3].sum(0, keepdims=True), np.array([3.0]), np.array([0.0]), np.array([2.0 * DAY])
    assert extend_stories(*stories, vectors[3:], times[3:], threshold=0.5, window_days=3).tolist() == [0, 0]
    assert extend_stories(*stories, vectors[3:], times[3:] + DAY, threshold=0.5, window_days=3).tolist() == [
        0,
        1,
    ]
