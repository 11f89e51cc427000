"""Choose a stage's thresholds on labelled data, by cross-validation over the gold clusters.

The gold clusters (dup groups for stage 1, stories for stage 2) are split into folds. For each fold
the setting that scores best on the other folds is chosen and then scored on the held-out fold,
clustered on its own: the mean of those held-out scores estimates how the tuning procedure does on
clusters it has never seen. The recommendation is the best setting on all the data, reported with
that estimate and with how much the per-fold choices varied (a wide spread means a knife edge).

The expensive parts run once: stage 1 finds and verifies candidate pairs once per threshold (the
threshold also sets the LSH bands, so it decides which pairs are candidates at all), at the loosest
containment and overlap, and only re-links them per setting; stage 2 embeds once and only re-clusters.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from dedup.evaluate import ClusterScores, score_labels

__all__ = ["TuneResult", "cross_validate", "tune_near_dups", "tune_stories", "story_folds"]

Scorer = Callable[[dict, np.ndarray], np.ndarray]  # (setting, member indices) -> labels for those members


@dataclass
class TuneResult:
    """Best setting on all data, its scores there, and the cross-validated estimate."""

    metric: str
    best: dict
    best_scores: ClusterScores
    cv_mean: float
    cv_std: float
    fold_choices: list[dict]
    curve: list[tuple[dict, float]] = field(default_factory=list)  # every setting's score on all data

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "best": self.best,
            "best_scores": self.best_scores.as_dict(),
            "cv_mean": round(self.cv_mean, 4),
            "cv_std": round(self.cv_std, 4),
            "fold_choices": self.fold_choices,
            "curve": [{"setting": s, "score": round(v, 4)} for s, v in self.curve],
        }


def story_folds(truth: np.ndarray, folds: int, seed: int = 0) -> list[np.ndarray]:
    """Member indices of each fold; every gold cluster lies wholly inside one fold."""
    clusters = np.unique(truth)
    rng = np.random.default_rng(seed)
    parts = np.array_split(rng.permutation(clusters), min(folds, len(clusters)))
    return [np.flatnonzero(np.isin(truth, part)) for part in parts]


def _grid(space: dict[str, Sequence]) -> list[dict]:
    keys = list(space)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(space[k] for k in keys))]


def cross_validate(
    run: Scorer,
    truth: np.ndarray,
    space: dict[str, Sequence],
    metric: str = "bcubed_f1",
    folds: int = 5,
    seed: int = 0,
) -> TuneResult:
    """Grid search with cross-validation over gold clusters (see the module docstring)."""
    settings = _grid(space)
    truth = np.asarray(truth)

    def score(setting: dict, members: np.ndarray) -> ClusterScores:
        return score_labels(run(setting, members), truth[members])

    everyone = np.arange(len(truth))
    held_out, choices = [], []
    for test in story_folds(truth, folds, seed):
        train = np.setdiff1d(everyone, test)
        values = [getattr(score(s, train), metric) for s in settings]
        chosen = settings[int(np.argmax(values))]
        choices.append(chosen)
        held_out.append(getattr(score(chosen, test), metric))
    curve = [(s, getattr(score(s, everyone), metric)) for s in settings]
    best = max(curve, key=lambda c: c[1])[0]
    return TuneResult(
        metric, best, score(best, everyone), float(np.mean(held_out)), float(np.std(held_out)), choices, curve
    )


def tune_near_dups(records, truth: np.ndarray, space: dict[str, Sequence], config=None, **kw) -> TuneResult:
    """Tune ``threshold``/``containment``/``min_overlap`` of stage 1 against gold dup groups."""
    from dataclasses import replace

    from dedup.config import NearDupConfig
    from dedup.groups import link_articles
    from dedup.neardup import find_near_duplicates

    base = config or NearDupConfig()
    loosest = replace(
        base,
        containment=min(space.get("containment", [base.containment])),
        min_overlap=min(space.get("min_overlap", [base.min_overlap])),
    )
    records = list(records)
    # one run per threshold: a looser threshold's LSH proposes pairs a stricter run never verifies,
    # so re-linking one loose run would score strict settings on links they cannot make
    runs = {
        t: find_near_duplicates(records, replace(loosest, threshold=t))
        for t in sorted(set(space.get("threshold", [base.threshold])))
    }
    n = len(records)
    inside = np.zeros(n, dtype=np.bool_)

    def run(setting: dict, members: np.ndarray) -> np.ndarray:
        cfg = replace(base, **setting)
        result = runs[cfg.threshold]
        pairs = result.pairs
        inside[:] = False
        inside[members] = True
        keep = inside[pairs.left] & inside[pairs.right]
        from dedup.groups import PairScores

        sub = PairScores(
            pairs.left[keep],
            pairs.right[keep],
            pairs.shared[keep],
            pairs.jaccard[keep],
            pairs.containment[keep],
        )
        labels = link_articles(
            n,
            sub,
            result.set_sizes,
            result.id_hash,
            jaccard_threshold=cfg.threshold,
            containment_threshold=cfg.containment,
            min_overlap=cfg.min_overlap,
        )
        return labels[members]

    return cross_validate(run, truth, space, **kw)


def tune_stories(
    embeddings: np.ndarray,
    texts: Sequence[str],
    times: np.ndarray,
    truth: np.ndarray,
    space: dict,
    config=None,
    **kw,
) -> TuneResult:
    """Tune stage 2 (``threshold``, ``name_weight``, ``window_days``) against gold stories."""
    from dataclasses import replace

    from dedup.config import StoryConfig
    from dedup.lexical import baseline_similarity, name_vectors, story_threshold, story_vectors
    from dedup.stories import cluster_stories

    base = config or StoryConfig()
    names_cache: dict[bytes, np.ndarray | None] = {}

    def run(setting: dict, members: np.ndarray) -> np.ndarray:
        cfg = replace(base, **setting)
        key = members.tobytes()
        if key not in names_cache:  # name IDF is fitted on the articles being clustered
            names_cache[key] = name_vectors([texts[i] for i in members], cfg.name_dims)
        names = names_cache[key]
        baseline = cfg.baseline if cfg.baseline is not None else baseline_similarity(embeddings[members])
        if cfg.center:
            baseline = 0.0
        vectors = story_vectors(embeddings[members], names, cfg.name_weight, bool(cfg.center), baseline)
        threshold = story_threshold(cfg.threshold, cfg.name_weight, names is not None, baseline)
        return cluster_stories(
            vectors, times[members], threshold=threshold, window_days=cfg.window_days, k=cfg.k
        )

    return cross_validate(run, truth, space, **kw)
