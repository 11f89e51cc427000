"""Tests for dedup.tune and ``dedup tune``: folds over gold clusters, cross-validation, and tuning each
stage against gold labels (the generator's dup groups; stories around known centres)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from stage2_helpers import unit, write_jsonl
from typer.testing import CliRunner

from dedup.cli import app
from dedup.config import NearDupConfig, StoryConfig
from dedup.evaluate import score_labels
from dedup.neardup import find_near_duplicates
from dedup.synth import SynthConfig, generate_corpus
from dedup.tune import cross_validate, story_folds, tune_near_dups, tune_stories


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return list(generate_corpus(None, SynthConfig(n_articles=500, n_outlets=30, seed=5)))


# -- folds and cross-validation -------------------------------------------------------------------------


def test_story_folds_keep_every_gold_cluster_whole_and_cover_everyone():
    truth = np.repeat(np.arange(12), [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6, 7])
    folds = story_folds(truth, 5, seed=3)
    assert len(folds) == 5
    members = np.sort(np.concatenate(folds))
    np.testing.assert_array_equal(members, np.arange(len(truth)))  # a partition of the items
    for fold in folds:
        rest = np.setdiff1d(np.arange(len(truth)), fold)
        assert not set(truth[fold]) & set(truth[rest])  # no gold cluster is cut by a fold
    assert [f.tolist() for f in story_folds(truth, 5, seed=3)] == [f.tolist() for f in folds]
    assert [f.tolist() for f in story_folds(truth, 5, seed=4)] != [f.tolist() for f in folds]
    assert len(story_folds(np.array([0, 0, 1]), 5)) == 2  # never more folds than gold clusters


def gap_clusters(values: np.ndarray):
    """A scorer for cross_validate: 1-D points cut into clusters wherever two neighbours are more
    than ``gap`` apart (so only the right gap recovers the gold clusters)."""

    def run(setting: dict, members: np.ndarray) -> np.ndarray:
        order = np.argsort(values[members])
        cuts = np.diff(values[members][order]) > setting["gap"]
        labels = np.empty(len(members), dtype=np.int64)
        labels[order] = np.concatenate([[0], np.cumsum(cuts)])
        return labels

    return run


def test_cross_validate_picks_the_setting_that_recovers_the_gold_clusters():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(20), 5)
    values = truth * 10.0 + rng.uniform(0, 2, len(truth))  # clusters 2 wide, 8 apart
    run = gap_clusters(values)
    space = {"gap": [0.5, 5.0, 20.0]}
    result = cross_validate(run, truth, space, folds=4)
    assert result.best == {"gap": 5.0}
    assert result.best_scores.bcubed_f1 == 1.0
    assert result.fold_choices == [{"gap": 5.0}] * 4
    assert result.cv_mean == 1.0 and result.cv_std == 0.0
    curve = dict((s["gap"], v) for s, v in result.curve)
    assert curve[5.0] == 1.0 and curve[0.5] < 1.0 and curve[20.0] < 1.0  # too fine, too coarse
    assert result.as_dict()["best"] == {"gap": 5.0}


def test_cross_validate_scores_each_fold_with_the_choice_of_the_others():
    rng = np.random.default_rng(1)
    truth = np.repeat(np.arange(15), 4)
    values = truth * 10.0 + rng.uniform(0, 6, len(truth))
    run = gap_clusters(values)
    space = {"gap": [1.0, 3.0, 5.0]}
    result = cross_validate(run, truth, space, folds=3, metric="pairwise_f1")
    held_out = []
    for fold in story_folds(truth, 3):
        train = np.setdiff1d(np.arange(len(truth)), fold)
        scores = [
            score_labels(run(s, train), truth[train]).pairwise_f1 for s in [{"gap": g} for g in space["gap"]]
        ]
        chosen = {"gap": space["gap"][int(np.argmax(scores))]}
        held_out.append(score_labels(run(chosen, fold), truth[fold]).pairwise_f1)
    assert result.cv_mean == pytest.approx(np.mean(held_out))
    assert result.cv_std == pytest.approx(np.std(held_out))


# -- stage 1 ---------------------------------------------------------------------------------------------


def test_tuning_stage1_scores_each_setting_as_a_run_with_it_would(corpus):
    truth = np.array([r["truth_dup"] for r in corpus])
    space = {"threshold": [0.3, 0.5, 0.8]}
    result = tune_near_dups(iter(corpus), truth, space, folds=3)  # any iterable of records
    curve = {s["threshold"]: v for s, v in result.curve}
    for threshold, score in curve.items():
        run = find_near_duplicates(corpus, NearDupConfig(threshold=threshold))
        assert score == pytest.approx(score_labels(run.canonical, truth).bcubed_f1)
    assert result.best["threshold"] in (0.3, 0.5)  # 0.8 splits edited copies from their group
    assert curve[0.8] < max(curve.values())
    assert result.cv_mean > 0.9
    # containment is re-linked from the loosest verification: the same scores as runs with it
    both = tune_near_dups(corpus, truth, {"threshold": [0.5], "containment": [0.6, 0.95]}, folds=3)
    for setting, score in both.curve:
        run = find_near_duplicates(corpus, NearDupConfig(**setting))
        assert score == pytest.approx(score_labels(run.canonical, truth).bcubed_f1)


# -- stage 2 ---------------------------------------------------------------------------------------------


def stories_around_centres(n_stories: int = 30, per_story: int = 6, seed: int = 0):
    """Unit vectors around story centres (cosine ~0.8 inside a story, ~0 across), texts naming each story."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(n_stories), per_story)
    centres = rng.standard_normal((n_stories, 64))
    vectors = unit(centres[truth] + 0.5 * rng.standard_normal((len(truth), 64)))
    texts = [f"Report {k} on event {s}" for k, s in enumerate(truth)]
    return vectors, texts, truth


def test_tuning_stage2_finds_a_threshold_that_separates_the_stories():
    vectors, texts, truth = stories_around_centres()
    times = np.full(len(truth), np.nan)
    space = {"threshold": [0.02, 0.3, 0.95]}
    config = StoryConfig(name_weight=0.0)
    result = tune_stories(vectors, texts, times, truth, space, config, folds=3)
    curve = {s["threshold"]: v for s, v in result.curve}
    assert result.best == {"threshold": 0.3}
    assert curve[0.3] > 0.95 > max(curve[0.02], curve[0.95])  # one giant story / every article alone
    assert result.cv_mean > 0.95
    # the window is honoured: the same articles a month apart each never join
    spread = np.arange(len(truth)) * 30 * 86400.0
    apart = tune_stories(vectors, texts, spread, truth, {"threshold": [0.3]}, config, folds=3)
    assert apart.best_scores.bcubed_recall < 0.3


def test_tuning_stage2_takes_other_settings_and_refuses_unknown_ones():
    vectors, texts, truth = stories_around_centres(12, 4, seed=2)
    times = np.full(len(truth), np.nan)
    space = {"threshold": [0.3], "name_weight": [0.0, 0.2]}
    result = tune_stories(vectors, texts, times, truth, space, StoryConfig(), folds=3)
    assert len(result.curve) == 2 and set(result.best) == {"threshold", "name_weight"}
    with pytest.raises(TypeError):
        tune_stories(vectors, texts, times, truth, {"treshold": [0.3]}, StoryConfig(), folds=3)


# -- the command ------------------------------------------------------------------------------------------


def test_cli_tune_stage1_prints_the_choice_and_its_estimate(corpus, tmp_path):
    path = write_jsonl(tmp_path / "gold.jsonl", corpus)
    runner = CliRunner()
    args = ["tune", str(path), "--stage", "1", "--truth-field", "truth_dup", "--folds", "3"]
    result = runner.invoke(
        app, [*args, "--grid", "threshold=0.3:0.8:0.25", "--grid", "containment=0.7", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [c["setting"] for c in report["curve"]] == [
        {"threshold": t, "containment": 0.7} for t in (0.3, 0.55, 0.8)
    ]
    assert report["best"]["threshold"] in (0.3, 0.55) and report["cv_mean"] > 0.9
    assert len(report["fold_choices"]) == 3
    plain = runner.invoke(app, [*args, "--grid", "threshold=0.3,0.5", "--grid", "containment=0.7"])
    assert plain.exit_code == 0, plain.output
    assert "best setting on all data: threshold=" in plain.stdout
    assert "cross-validated bcubed_f1 (3 folds over gold clusters)" in plain.stdout


def test_cli_tune_stage2_with_the_fast_model(static_dir, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(static_dir, cache)
    path = Path(__file__).resolve().parents[1] / "fixtures" / "articles.jsonl"  # with truth_story
    result = CliRunner().invoke(
        app,
        [
            "tune",
            str(path),
            "--truth-field",
            "truth_story",
            "--fast",
            "--cache-dir",
            str(cache),
            "--folds",
            "3",
        ]
        + ["--grid", "threshold=0.1,0.3,0.9", "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {c["setting"]["threshold"] for c in report["curve"]} == {0.1, 0.3, 0.9}
    assert report["best"]["threshold"] != 0.9  # nearly every article alone
    assert report["best_scores"]["bcubed_f1"] > 0.8


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metric", "accuracy"], "--metric 'accuracy': use bcubed_f1"),
        (["--stage", "3"], "--stage is 1 or 2"),
        (["--grid", "threshold"], "expected NAME=LO:HI:STEP or NAME=A,B,C"),
        (["--grid", "threshold=low:high:step"], "not numbers"),
        (["--grid", "treshold=0.5"], "--grid:"),
        (["--truth-field", "gold"], 'no gold field "gold" (use --truth-field)'),
    ],
)
def test_cli_tune_refuses_bad_requests_with_a_message(corpus, tmp_path, extra, message):
    path = write_jsonl(tmp_path / "gold.jsonl", corpus[:60])
    result = CliRunner().invoke(
        app, ["tune", str(path), "--stage", "1", "--truth-field", "truth_dup", *extra]
    )
    assert result.exit_code != 0
    assert message in result.stderr
