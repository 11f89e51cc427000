"""Clustering quality: score predicted stories (or dup groups) against gold labels.

Every score comes from one contingency table between the predicted and the true clustering, so scoring is a
couple of sorts over the items, whatever the number of clusters: a million items score in well under a second.

Notation, used once here and by every function below: ``n`` items; ``n_ij`` items in predicted cluster ``i``
and true cluster ``j``; ``a_i = sum_j n_ij`` (predicted cluster sizes); ``b_j = sum_i n_ij`` (true cluster
sizes); ``C(k) = k (k - 1) / 2`` unordered pairs.

- **Pairwise** (the news-clustering standard, e.g. Miranda et al. 2018): a pair of items is a positive when
  both sit in one cluster. ``TP = sum C(n_ij)``, predicted pairs ``sum C(a_i)``, true pairs ``sum C(b_j)``.
  precision = TP / predicted pairs, recall = TP / true pairs.
- **B-cubed** (Bagga & Baldwin 1998; Amigó et al. 2009): per-item precision ``|pred(e) & true(e)| / |pred(e)|``
  averaged over items, i.e. ``sum n_ij^2 / a_i / n``; recall ``sum n_ij^2 / b_j / n``. Unlike pairwise
  scores it is not dominated by the largest clusters, and singletons count.
- **ARI** (Hubert & Arabie 1985), from the pair counts TP, FP, FN, TN:
  ``2 (TP TN - FN FP) / ((TP + FN)(FN + TN) + (TP + FP)(FP + TN))``, computed in exact integers.
- **NMI** with arithmetic averaging: ``MI / ((H(pred) + H(true)) / 2)``, natural logs,
  ``MI = sum n_ij / n * log(n n_ij / (a_i b_j))``.

ARI and NMI equal scikit-learn's ``adjusted_rand_score`` and ``normalized_mutual_info_score`` (up to float
rounding), including its special cases: ARI is 1.0 when there are no disagreeing pairs; NMI is 1.0 when both
sides are one cluster (or empty) and 0.0 when the mutual information is zero otherwise.

Conventions where a ratio would be 0/0 (never NaN):
- no predicted pairs (all predicted singletons): pairwise precision 1.0, nothing was wrongly merged;
- no true pairs (all true singletons): pairwise recall 1.0, nothing was missed;
- F1 is ``2 P R / (P + R)``, and 0.0 when ``P + R == 0``;
- no items at all: every score is 1.0 (nothing to get wrong, as scikit-learn does for ARI and NMI).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import repeat

import numpy as np

__all__ = ["ClusterScores", "format_scores", "score_clusters", "score_labels"]


@dataclass(frozen=True)
class ClusterScores:
    """Scores of a predicted clustering against the truth (see the module docstring for the maths).

    >>> score_labels(["a", "a", "b"], [1, 1, 1]).pairwise_precision
    1.0
    """

    pairwise_precision: float
    """Share of predicted same-cluster pairs that are true pairs."""
    pairwise_recall: float
    """Share of true same-cluster pairs that were predicted."""
    pairwise_f1: float
    bcubed_precision: float
    """Mean over items of the share of the item's predicted cluster that shares its true cluster."""
    bcubed_recall: float
    """Mean over items of the share of the item's true cluster that shares its predicted cluster."""
    bcubed_f1: float
    ari: float
    """Adjusted Rand index: 1.0 identical, about 0.0 for random labels, can be negative."""
    nmi: float
    """Normalised mutual information, arithmetic mean of the entropies."""
    n_items: int
    """Items scored: the union of ids in ``score_clusters``."""
    n_true_clusters: int
    """Clusters in the truth after alignment (ids missing from the truth count as singletons)."""
    n_pred_clusters: int
    """Clusters in the prediction after alignment (ids missing from the prediction count as singletons)."""
    n_missing_in_pred: int = 0
    """Ids in the truth that the prediction lacks."""
    n_missing_in_truth: int = 0
    """Ids in the prediction that the truth lacks."""

    def as_dict(self) -> dict[str, float | int]:
        """The scores as a plain dict of Python floats and ints, ready for JSON."""
        return asdict(self)


def score_labels(
    pred: Sequence[Hashable] | np.ndarray, truth: Sequence[Hashable] | np.ndarray
) -> ClusterScores:
    """Score two aligned label arrays: ``pred[k]`` and ``truth[k]`` are the clusters of item ``k``.

    Labels may be any hashable values (ints, strings, tuples...); only equality matters, and each distinct
    value, ``None`` included, is one cluster. A numpy array of numbers or strings is the fast path.

    >>> s = score_labels([0, 0, 1, 1], ["x", "x", "x", "y"])
    >>> round(s.pairwise_precision, 3), round(s.pairwise_recall, 3)
    (0.5, 0.333)
    """
    pred_codes = _encode(pred, "pred")
    truth_codes = _encode(truth, "truth")
    if len(pred_codes) != len(truth_codes):
        raise ValueError(
            f"pred has {len(pred_codes)} labels but truth has {len(truth_codes)}: "
            "score_labels needs one label per item on both sides (use score_clusters to align by id)"
        )
    return _score_codes(pred_codes, truth_codes)


def score_clusters(pred: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> ClusterScores:
    """Score ``{item id: cluster label}`` mappings against each other, aligned by id.

    An id present on one side only is still scored: on the side that lacks it, it becomes a singleton (its
    own cluster). So an article the pipeline dropped costs recall but not precision, and an unlabelled
    article the pipeline merged into a story costs precision. The counts are reported in
    ``n_missing_in_pred`` and ``n_missing_in_truth``.

    >>> s = score_clusters({"a1": "s1", "a2": "s1"}, {"a1": "x", "a2": "x", "a3": "x"})
    >>> s.n_missing_in_pred, round(s.pairwise_recall, 3)
    (1, 0.333)
    """
    extra = pred.keys() - truth.keys()  # a set difference in C; usually empty
    only_in_pred = [item_id for item_id in pred if item_id in extra] if extra else []
    ids = [*truth, *only_in_pred]
    pred_codes, n_missing_in_pred = _encode_mapping(pred, ids)
    truth_codes, _ = _encode_mapping(truth, ids)
    return _score_codes(
        pred_codes, truth_codes, n_missing_in_pred=n_missing_in_pred, n_missing_in_truth=len(only_in_pred)
    )


def format_scores(scores: ClusterScores) -> str:
    """Render scores as an aligned text table (what ``dedup eval`` prints)."""
    rows = [
        f"{'':<10}{'precision':>11}{'recall':>11}{'F1':>11}",
        f"{'pairwise':<10}{scores.pairwise_precision:>11.4f}{scores.pairwise_recall:>11.4f}"
        f"{scores.pairwise_f1:>11.4f}",
        f"{'B-cubed':<10}{scores.bcubed_precision:>11.4f}{scores.bcubed_recall:>11.4f}{scores.bcubed_f1:>11.4f}",
        "",
        f"{'ARI':<10}{scores.ari:>11.4f}",
        f"{'NMI':<10}{scores.nmi:>11.4f}",
        "",
    ]
    counts = [
        ("items", scores.n_items),
        ("true clusters", scores.n_true_clusters),
        ("predicted clusters", scores.n_pred_clusters),
        ("missing in prediction", scores.n_missing_in_pred),
        ("missing in truth", scores.n_missing_in_truth),
    ]
    rows += [f"{name:<22}{value:>21,}" for name, value in counts]
    return "\n".join(rows)


def _encode(labels: Iterable[Hashable] | np.ndarray, name: str) -> np.ndarray:
    """Map labels to dense int64 codes 0..k-1 (equal labels, equal codes)."""
    if isinstance(labels, np.ndarray) and labels.dtype != object:
        if labels.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of labels, got shape {labels.shape}")
        if labels.dtype.kind in "biu" and len(labels):
            # Compact integer ids (cluster numbers, union-find roots): a lookup table is O(n), no sort.
            values = labels.astype(np.int64) if labels.dtype.kind == "b" else labels
            low, high = values.min(), values.max()
            span = int(high) - int(low) + 1
            if span <= 4 * len(values) + 1024:
                offsets = (values - low).astype(np.intp, copy=False)
                present = np.zeros(span, dtype=bool)
                present[offsets] = True
                return (np.cumsum(present, dtype=np.int64) - 1)[offsets]
        return np.unique(labels, return_inverse=True)[1].astype(np.int64, copy=False).reshape(-1)
    # Python objects: a dict keeps any hashable label distinct (np.asarray would turn 1 and "1" into one
    # string, and tuples into a 2-D array). One pass; faster than np.unique on strings.
    index: dict[Hashable, int] = {}
    return np.fromiter((index.setdefault(label, len(index)) for label in labels), dtype=np.int64)


_MISSING = object()


def _encode_mapping(mapping: Mapping[Hashable, Hashable], ids: list[Hashable]) -> tuple[np.ndarray, int]:
    """Codes for ``mapping[id]`` over ``ids``; ids absent from the mapping get fresh singleton codes."""
    index: dict[Hashable, int] = {_MISSING: -1}  # so labels get codes 1..k and absent ids -1
    labels = map(mapping.get, ids, repeat(_MISSING))
    codes = np.fromiter((index.setdefault(label, len(index)) for label in labels), np.int64, len(ids))
    missing = codes < 0
    n_missing = int(missing.sum())
    codes[missing] = np.arange(len(index), len(index) + n_missing)
    codes -= 1
    return codes, n_missing


def _pairs(sizes: np.ndarray) -> int:
    """Unordered same-cluster pairs, ``sum C(size)``, as an exact Python int."""
    return int((sizes * (sizes - 1) // 2).sum())


def _entropy(sizes: np.ndarray, n: int) -> float:
    p = sizes / n
    return float(-(p * np.log(p)).sum())


def _safe_ratio(num: float, den: float) -> float:
    return 1.0 if den == 0 else num / den


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return 0.0 if total == 0 else 2.0 * precision * recall / total


def _score_codes(
    pred: np.ndarray, truth: np.ndarray, *, n_missing_in_pred: int = 0, n_missing_in_truth: int = 0
) -> ClusterScores:
    """All scores from dense codes, through the sparse contingency table (nonzero cells only)."""
    n = len(pred)
    n_pred = int(pred.max()) + 1 if n else 0
    n_true = int(truth.max()) + 1 if n else 0
    pred_sizes = np.bincount(pred, minlength=n_pred)  # a_i
    true_sizes = np.bincount(truth, minlength=n_true)  # b_j
    # Codes are dense, so cell = i * n_true + j < n^2 fits int64 for any n up to 3e9.
    cells, cell_sizes = np.unique(pred * n_true + truth, return_counts=True)  # n_ij > 0
    cell_pred, cell_true = np.divmod(cells, n_true) if n else (cells, cells)

    tp = _pairs(cell_sizes)
    pred_pairs = _pairs(pred_sizes)
    true_pairs = _pairs(true_sizes)
    pairwise_precision = _safe_ratio(tp, pred_pairs)
    pairwise_recall = _safe_ratio(tp, true_pairs)

    squares = cell_sizes.astype(np.float64) ** 2
    bcubed_precision = _safe_ratio(float((squares / pred_sizes[cell_pred]).sum()), n)
    bcubed_recall = _safe_ratio(float((squares / true_sizes[cell_true]).sum()), n)

    fp = pred_pairs - tp
    fn = true_pairs - tp
    tn = n * (n - 1) // 2 - tp - fp - fn
    if fp == 0 and fn == 0:
        ari = 1.0
    else:
        ari = 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))

    if n_pred == n_true and n_pred <= 1:
        nmi = 1.0
    elif n_pred == 1 or n_true == 1:
        nmi = 0.0
    else:
        # Terms below machine epsilon are rounding noise (scikit-learn drops them the same way).
        log_cell = np.log(cell_sizes) + math.log(n)
        terms = (cell_sizes / n) * (log_cell - np.log(pred_sizes)[cell_pred] - np.log(true_sizes)[cell_true])
        terms[np.abs(terms) < np.finfo(np.float64).eps] = 0.0
        mi = max(float(terms.sum()), 0.0)
        nmi = 0.0 if mi == 0.0 else mi / ((_entropy(pred_sizes, n) + _entropy(true_sizes, n)) / 2.0)

    return ClusterScores(
        pairwise_precision=float(pairwise_precision),
        pairwise_recall=float(pairwise_recall),
        pairwise_f1=_f1(pairwise_precision, pairwise_recall),
        bcubed_precision=float(bcubed_precision),
        bcubed_recall=float(bcubed_recall),
        bcubed_f1=_f1(bcubed_precision, bcubed_recall),
        ari=float(ari),
        nmi=float(nmi),
        n_items=n,
        n_true_clusters=n_true,
        n_pred_clusters=n_pred,
        n_missing_in_pred=n_missing_in_pred,
        n_missing_in_truth=n_missing_in_truth,
    )
