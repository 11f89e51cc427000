"""Tests for dedup.evaluate: hand-computed scores, scikit-learn agreement, invariants, edge cases, real data."""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from dedup.evaluate import ClusterScores, format_scores, score_clusters, score_labels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SCORE_FIELDS = (
    "pairwise_precision",
    "pairwise_recall",
    "pairwise_f1",
    "bcubed_precision",
    "bcubed_recall",
    "bcubed_f1",
    "ari",
    "nmi",
)


def brute_force(pred: dict, truth: dict) -> dict[str, float]:
    """Pairwise and B-cubed scores by explicit pair loops and cluster sets, with the same conventions.

    Ids on one side only are their own cluster on the other side.
    """
    ids = list(dict.fromkeys([*truth, *pred]))
    # A fresh object is equal only to itself: a singleton cluster.
    pred_label = {i: pred[i] if i in pred else object() for i in ids}
    true_label = {i: truth[i] if i in truth else object() for i in ids}
    tp = pred_pairs = true_pairs = 0
    for a, b in itertools.combinations(ids, 2):
        same_pred = pred_label[a] == pred_label[b]
        same_true = true_label[a] == true_label[b]
        pred_pairs += same_pred
        true_pairs += same_true
        tp += same_pred and same_true
    pred_members = defaultdict(set)
    true_members = defaultdict(set)
    for i in ids:
        pred_members[pred_label[i]].add(i)
        true_members[true_label[i]].add(i)
    bcubed_p = bcubed_r = 0.0
    for i in ids:
        overlap = len(pred_members[pred_label[i]] & true_members[true_label[i]])
        bcubed_p += overlap / len(pred_members[pred_label[i]])
        bcubed_r += overlap / len(true_members[true_label[i]])
    return {
        "pairwise_precision": tp / pred_pairs if pred_pairs else 1.0,
        "pairwise_recall": tp / true_pairs if true_pairs else 1.0,
        "bcubed_precision": bcubed_p / len(ids) if ids else 1.0,
        "bcubed_recall": bcubed_r / len(ids) if ids else 1.0,
    }


def assert_scores_close(a: ClusterScores, b: ClusterScores) -> None:
    for field in SCORE_FIELDS:
        assert getattr(a, field) == pytest.approx(getattr(b, field), abs=1e-12), field


# --- hand-computed -------------------------------------------------------------------------------------------


def test_hand_computed_example():
    # items 0..5; pred P0={0,1,2,3} P1={4,5}; truth T0={0,1} T1={2,3,4} T2={5}
    # contingency n_ij: P0T0=2, P0T1=2, P1T1=1, P1T2=1; a=(4,2); b=(2,3,1); n=6
    s = score_labels([0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 1, 2])
    # TP = C(2)+C(2)+C(1)+C(1) = 1+1 = 2; predicted pairs C(4)+C(2) = 7; true pairs C(2)+C(3)+C(1) = 4
    assert s.pairwise_precision == pytest.approx(2 / 7)
    assert s.pairwise_recall == pytest.approx(2 / 4)
    # F1 = 2 (2/7)(1/2) / (2/7 + 1/2) = (2/7) / (11/14) = 4/11
    assert s.pairwise_f1 == pytest.approx(4 / 11)
    # B-cubed P = (2*2/4 + 2*2/4 + 1/2 + 1/2) / 6 = 3/6; R = (2*2/2 + 2*2/3 + 1/3 + 1/1) / 6 = (14/3)/6 = 7/9
    assert s.bcubed_precision == pytest.approx(1 / 2)
    assert s.bcubed_recall == pytest.approx(7 / 9)
    # F1 = 2 (1/2)(7/9) / (1/2 + 7/9) = (7/9) / (23/18) = 14/23
    assert s.bcubed_f1 == pytest.approx(14 / 23)
    # pairs of 15: tp=2, fp=7-2=5, fn=4-2=2, tn=15-9=6
    # ARI = 2 (2*6 - 2*5) / ((2+2)(2+6) + (2+5)(5+6)) = 4 / (32 + 77) = 4/109
    # (check: (index - expected) / (max - expected) = (2 - 28/15) / (11/2 - 28/15) = (2/15) / (109/30) = 4/109)
    assert s.ari == pytest.approx(4 / 109)
    # MI = sum n_ij/n log(n n_ij / (a_i b_j)) = 2/6 log(12/8) + 2/6 log(12/12) + 1/6 log(6/6) + 1/6 log(6/2)
    mi = (1 / 3) * math.log(1.5) + (1 / 6) * math.log(3)
    h_pred = -(4 / 6 * math.log(4 / 6) + 2 / 6 * math.log(2 / 6))
    h_true = -(2 / 6 * math.log(2 / 6) + 3 / 6 * math.log(3 / 6) + 1 / 6 * math.log(1 / 6))
    assert s.nmi == pytest.approx(mi / ((h_pred + h_true) / 2))
    assert (s.n_items, s.n_pred_clusters, s.n_true_clusters) == (6, 2, 3)
    assert (s.n_missing_in_pred, s.n_missing_in_truth) == (0, 0)


def test_zero_precision_and_recall_give_zero_f1():
    # pred {0,1} {2,3}; truth {0,2} {1,3}: no predicted pair is a true pair, so P = R = 0 and F1 = 0
    # B-cubed: every item shares only itself: P = R = mean(1/2) = 0.5
    s = score_labels([0, 0, 1, 1], [0, 1, 0, 1])
    assert (s.pairwise_precision, s.pairwise_recall, s.pairwise_f1) == (0.0, 0.0, 0.0)
    assert s.bcubed_precision == s.bcubed_recall == s.bcubed_f1 == pytest.approx(0.5)


# --- edge cases ------------------------------------------------------------------------------------------------


def test_empty_scores_one_everywhere():
    for s in (score_labels([], []), score_clusters({}, {}), score_labels(np.array([]), np.array([]))):
        assert all(getattr(s, field) == 1.0 for field in SCORE_FIELDS)
        assert (s.n_items, s.n_true_clusters, s.n_pred_clusters) == (0, 0, 0)


def test_single_item():
    s = score_labels(["a"], ["b"])
    assert all(getattr(s, field) == 1.0 for field in SCORE_FIELDS)


def test_all_singletons_on_both_sides_is_perfect():
    # No pairs anywhere: precision and recall are 1.0 by convention, and sklearn gives ARI = NMI = 1.0.
    s = score_labels([0, 1, 2], [7, 8, 9])
    assert all(getattr(s, field) == pytest.approx(1.0) for field in SCORE_FIELDS)
    assert s.ari == adjusted_rand_score([7, 8, 9], [0, 1, 2])
    assert s.nmi == pytest.approx(normalized_mutual_info_score([7, 8, 9], [0, 1, 2]))


def test_predicted_singletons_against_one_true_cluster():
    # No predicted pairs: precision 1.0; 0 of C(3)=3 true pairs found: recall 0, F1 0.
    # B-cubed recall: each item finds 1 of its 3 cluster-mates (itself): 1/3.
    s = score_labels([0, 1, 2], [5, 5, 5])
    assert (s.pairwise_precision, s.pairwise_recall, s.pairwise_f1) == (1.0, 0.0, 0.0)
    assert (s.bcubed_precision, s.bcubed_recall) == (1.0, pytest.approx(1 / 3))
    assert s.ari == adjusted_rand_score([5, 5, 5], [0, 1, 2]) == 0.0
    assert s.nmi == normalized_mutual_info_score([5, 5, 5], [0, 1, 2]) == 0.0


def test_one_predicted_cluster_against_true_singletons():
    # 3 predicted pairs, none true: precision 0; no true pairs: recall 1.0
    s = score_labels([5, 5, 5], [0, 1, 2])
    assert (s.pairwise_precision, s.pairwise_recall, s.pairwise_f1) == (0.0, 1.0, 0.0)
    assert (s.bcubed_precision, s.bcubed_recall) == (pytest.approx(1 / 3), 1.0)


def test_one_cluster_on_both_sides_is_perfect():
    s = score_labels(["x"] * 4, ["y"] * 4)
    assert all(getattr(s, field) == 1.0 for field in SCORE_FIELDS)
    assert (s.n_pred_clusters, s.n_true_clusters) == (1, 1)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="pred has 2 labels but truth has 3"):
        score_labels([0, 1], [0, 1, 2])


def test_two_dimensional_array_is_an_error():
    with pytest.raises(ValueError, match="1-D"):
        score_labels(np.zeros((2, 2), dtype=int), np.zeros(4, dtype=int))


def test_labels_of_any_hashable_type_stay_distinct():
    # 1 and "1" are different clusters (np.asarray would merge them into the string "1").
    s = score_labels([1, "1"], [0, 0])
    assert s.n_pred_clusters == 2
    assert s.pairwise_recall == 0.0
    tuples = score_labels([("a", 1), ("a", 1), ("b", 2)], [None, None, 3])
    assert tuples.n_pred_clusters == 2 and tuples.pairwise_f1 == 1.0


def test_array_fast_paths_match_python_labels():
    rng = np.random.default_rng(7)
    pred = rng.integers(0, 30, 500)
    truth = rng.integers(0, 20, 500)
    reference = score_labels(pred.tolist(), truth.tolist())
    variants = [
        (pred, truth),  # compact ints: lookup table
        (pred * 10**12 - 5, truth),  # sparse ints: np.unique
        (pred.astype(np.uint32), truth.astype(np.int8)),
        (pred.astype(str), truth.astype(str)),
        (pred.astype(float), truth),
        (pred.astype(object), truth.astype(object)),
    ]
    for variant_pred, variant_truth in variants:
        # Codes come out in another order, so float sums may differ in the last bit.
        variant = score_labels(variant_pred, variant_truth)
        assert_scores_close(variant, reference)
        assert (variant.n_pred_clusters, variant.n_true_clusters) == (30, 20)
    assert score_labels(np.array([True, True, False]), np.array([0, 0, 1])).pairwise_f1 == 1.0


def test_missing_in_prediction_become_singletons():
    # truth: {a, b, c} one story; the prediction dropped c, so c is its own predicted cluster.
    # TP = 1 (a-b); predicted pairs 1; true pairs 3: precision 1, recall 1/3
    s = score_clusters({"a": "x", "b": "x"}, {"a": 1, "b": 1, "c": 1})
    assert (s.pairwise_precision, s.pairwise_recall) == (1.0, pytest.approx(1 / 3))
    assert (s.n_items, s.n_pred_clusters, s.n_true_clusters) == (3, 2, 1)
    assert (s.n_missing_in_pred, s.n_missing_in_truth) == (1, 0)


def test_missing_in_truth_become_singletons():
    # d is unlabelled but merged into the story: predicted pairs 3 (a-b, a-d, b-d), only a-b true
    s = score_clusters({"a": "x", "b": "x", "d": "x"}, {"a": 1, "b": 1})
    assert (s.pairwise_precision, s.pairwise_recall) == (pytest.approx(1 / 3), 1.0)
    assert (s.n_items, s.n_pred_clusters, s.n_true_clusters) == (3, 1, 2)
    assert (s.n_missing_in_pred, s.n_missing_in_truth) == (0, 1)


def test_missing_ids_are_separate_singletons_not_a_cluster():
    # An empty prediction is all singletons (3 clusters, not one "missing" cluster), even next to label 0.
    s = score_clusters({}, {"a": 0, "b": 0, "c": 0})
    assert (s.n_pred_clusters, s.n_missing_in_pred) == (3, 3)
    assert (s.pairwise_precision, s.pairwise_recall) == (1.0, 0.0)
    s = score_clusters({"z": 0}, {"a": 0, "b": 0})
    assert (s.n_items, s.n_pred_clusters, s.n_true_clusters) == (3, 3, 2)
    assert s.pairwise_recall == 0.0


def test_score_clusters_equals_score_labels_when_aligned():
    rng = np.random.default_rng(3)
    pred = rng.integers(0, 8, 200)
    truth = rng.integers(0, 5, 200)
    ids = [f"id-{k}" for k in range(200)]
    by_id = score_clusters(dict(zip(ids[::-1], pred[::-1], strict=True)), dict(zip(ids, truth, strict=True)))
    assert_scores_close(by_id, score_labels(pred, truth))


def test_large_counts_do_not_overflow():
    # C(n) ~ 5e9 pairs, so ARI's products (~1e19) pass int64: they must be exact Python ints.
    rng = np.random.default_rng(11)
    n = 100_000
    truth = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.9, truth, rng.integers(0, 3, n))
    s = score_labels(pred, truth)
    assert s.ari == pytest.approx(adjusted_rand_score(truth, pred), abs=1e-12)
    assert s.nmi == pytest.approx(normalized_mutual_info_score(truth, pred), abs=1e-12)


def test_as_dict_is_plain_json():
    s = score_labels([0, 0, 1], [0, 1, 1])
    as_dict = s.as_dict()
    assert list(as_dict) == list(ClusterScores.__dataclass_fields__)
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert all(type(as_dict[field]) is float for field in SCORE_FIELDS)
    assert type(as_dict["n_items"]) is int


def test_format_scores_table():
    # pred {a,b,c,d} {e,f} {x}; truth {a,b} {c,d,e} {f}, x unlabelled (a singleton): n = 7, 21 pairs
    # pairwise: TP 2 of 7 predicted, of 4 true; B-cubed P = (1+1+1+1+1/2+1/2+1)/7 = 4/7,
    # R = (1+1+2/3+2/3+1/3+1+1)/7 = 17/21; ARI: fp 5, fn 2, tn 12 -> 2(24-10)/(4*14 + 7*17) = 28/175
    pred = {"a": 0, "b": 0, "c": 0, "d": 0, "e": 1, "f": 1, "x": 2}
    truth = dict(zip("abcdef", [0, 0, 1, 1, 1, 2], strict=True))
    expected = """\
            precision     recall         F1
pairwise       0.2857     0.5000     0.3636
B-cubed        0.5714     0.8095     0.6700

ARI            0.1600
NMI            0.6117

items                                     7
true clusters                             4
predicted clusters                        3
missing in prediction                     0
missing in truth                          1"""
    assert format_scores(score_clusters(pred, truth)) == expected


# --- properties ----------------------------------------------------------------------------------------------

labelings = st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 6), min_size=n, max_size=n),
        st.lists(st.integers(0, 6), min_size=n, max_size=n),
    )
)


@settings(deadline=None, max_examples=150)
@given(labelings)
def test_matches_sklearn_and_brute_force(pair):
    pred, truth = pair
    s = score_labels(pred, truth)
    assert s.ari == pytest.approx(adjusted_rand_score(truth, pred), abs=1e-12)
    assert s.nmi == pytest.approx(normalized_mutual_info_score(truth, pred), abs=1e-12)
    expected = brute_force(dict(enumerate(pred)), dict(enumerate(truth)))
    for field, value in expected.items():
        assert getattr(s, field) == pytest.approx(value, abs=1e-12), field


@settings(deadline=None)
@given(labelings, st.randoms(use_true_random=False))
def test_permuting_items_changes_nothing(pair, random):
    pred, truth = pair
    order = list(range(len(pred)))
    random.shuffle(order)
    permuted = score_labels([pred[k] for k in order], [truth[k] for k in order])
    assert_scores_close(permuted, score_labels(pred, truth))


@settings(deadline=None)
@given(labelings)
def test_renaming_clusters_changes_nothing(pair):
    pred, truth = pair
    renamed = score_labels([f"story-{label * 7 + 3}" for label in pred], [-label for label in truth])
    assert_scores_close(renamed, score_labels(pred, truth))


@settings(deadline=None)
@given(labelings)
def test_swapping_pred_and_truth_swaps_precision_and_recall(pair):
    pred, truth = pair
    s = score_labels(pred, truth)
    swapped = score_labels(truth, pred)
    assert swapped.pairwise_precision == s.pairwise_recall
    assert swapped.pairwise_recall == s.pairwise_precision
    assert swapped.bcubed_precision == pytest.approx(s.bcubed_recall, abs=1e-12)
    assert swapped.bcubed_recall == pytest.approx(s.bcubed_precision, abs=1e-12)
    assert swapped.pairwise_f1 == pytest.approx(s.pairwise_f1, abs=1e-12)
    assert swapped.ari == pytest.approx(s.ari, abs=1e-12)
    assert swapped.nmi == pytest.approx(s.nmi, abs=1e-12)
    assert (swapped.n_pred_clusters, swapped.n_true_clusters) == (s.n_true_clusters, s.n_pred_clusters)


@settings(deadline=None)
@given(st.lists(st.integers(0, 10), max_size=40))
def test_identical_labelings_score_one(labels):
    s = score_labels(labels, labels)
    for field in SCORE_FIELDS:
        assert getattr(s, field) == pytest.approx(1.0, abs=1e-12), field


@settings(deadline=None)
@given(
    st.dictionaries(st.integers(0, 30), st.integers(0, 4), max_size=25),
    st.dictionaries(st.integers(0, 30), st.integers(0, 4), max_size=25),
)
def test_score_clusters_with_missing_ids_matches_brute_force(pred, truth):
    s = score_clusters(pred, truth)
    assert s.n_items == len(pred.keys() | truth.keys())
    assert s.n_missing_in_pred == len(truth.keys() - pred.keys())
    assert s.n_missing_in_truth == len(pred.keys() - truth.keys())
    for field, value in brute_force(pred, truth).items():
        assert getattr(s, field) == pytest.approx(value, abs=1e-12), field


# --- real data -----------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("field", ["category", "outlet"])
def test_uci_stories_against_brute_force(field):
    path = DATA / "uci_stories.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with path.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    truth = {r["id"]: r["story"] for r in records}
    pred = {r["id"]: r[field] for r in records}
    # Exercise alignment too: the prediction drops every 10th article and adds two unknown ones.
    for r in records[::10]:
        del pred[r["id"]]
    pred.update({"extra-1": records[0][field], "extra-2": "unseen"})

    s = score_clusters(pred, truth)
    assert s.n_items == len(records) + 2
    assert s.n_missing_in_pred == len(records[::10])
    assert s.n_missing_in_truth == 2
    for name, value in brute_force(pred, truth).items():
        assert getattr(s, name) == pytest.approx(value, abs=1e-12), name
    # ARI/NMI on the aligned labels, missing ids as singletons (a unique string per id)
    ids = list(truth) + ["extra-1", "extra-2"]
    aligned_pred = [str(pred.get(i, f"missing:{i}")) for i in ids]
    aligned_truth = [truth.get(i, f"missing:{i}") for i in ids]
    assert s.ari == pytest.approx(adjusted_rand_score(aligned_truth, aligned_pred), abs=1e-12)
    assert s.nmi == pytest.approx(normalized_mutual_info_score(aligned_truth, aligned_pred), abs=1e-12)
