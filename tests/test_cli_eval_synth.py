"""Tests for ``dedup eval`` (scores against hand-computed values) and ``dedup synth`` (the labelled corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stage2_helpers import read_jsonl, write_jsonl
from typer.testing import CliRunner

from dedup.cli import app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# -- dedup eval ------------------------------------------------------------------------------------------
#
# pred:  {a, b} {c, d, e}        truth: {a, b, c} {d, e}
# pairs: predicted ab cd ce de (4), true ab ac bc de (4), both ab de (2): P = R = F1 = 0.5
# B-cubed precision: a 2/2, b 2/2, c 1/3, d 2/3, e 2/3 -> 11/15; recall: a 2/3, b 2/3, c 1/3, d 2/2,
# e 2/2 -> 11/15 too. ARI: TP 2, FP 2, FN 2, TN 10 - 6 = 4: 2 (2*4 - 2*2) / (4*6 + 4*6) = 1/6.

PRED = [{"id": "a", "story": 1}, {"id": "b", "story": 1}, *({"id": i, "story": 2} for i in "cde")]
TRUTH = [*({"id": i, "gold": "x"} for i in "abc"), {"id": "d", "gold": "y"}, {"id": "e", "gold": "y"}]
B3_P = B3_R = 11 / 15


def scores(result) -> dict:
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1  # one JSON object
    return json.loads(result.stdout)


def test_eval_json_against_hand_computed_scores(runner, tmp_path):
    pred = write_jsonl(tmp_path / "pred.jsonl", PRED)
    truth = write_jsonl(tmp_path / "truth.jsonl", TRUTH)
    s = scores(
        runner.invoke(app, ["eval", str(pred), "--truth", str(truth), "--truth-field", "gold", "--json"])
    )
    assert s["pairwise_precision"] == s["pairwise_recall"] == s["pairwise_f1"] == 0.5
    assert s["bcubed_precision"] == pytest.approx(B3_P)
    assert s["bcubed_recall"] == pytest.approx(B3_R)
    assert s["bcubed_f1"] == pytest.approx(2 * B3_P * B3_R / (B3_P + B3_R))
    assert s["ari"] == pytest.approx(1 / 6)
    assert 0 < s["nmi"] < 1
    assert (s["n_items"], s["n_true_clusters"], s["n_pred_clusters"]) == (5, 2, 2)
    assert s["n_missing_in_pred"] == s["n_missing_in_truth"] == 0


def test_eval_text_table(runner, tmp_path):
    pred = write_jsonl(tmp_path / "pred.jsonl", PRED)
    truth = write_jsonl(tmp_path / "truth.jsonl", TRUTH)
    result = runner.invoke(app, ["eval", str(pred), "--truth", str(truth), "--truth-field", "gold"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["pairwise", "0.5000", "0.5000", "0.5000"]
    assert lines[2].split() == ["B-cubed", "0.7333", "0.7333", "0.7333"]
    assert "ARI" in lines[4] and "0.1667" in lines[4]
    assert lines[-5].split()[-1] == "5" and lines[-5].startswith("items")


def test_eval_pred_field_and_id_field(runner, tmp_path):
    pred = write_jsonl(tmp_path / "pred.jsonl", [{"doc": r["id"], "dup_group": r["story"]} for r in PRED])
    truth = write_jsonl(tmp_path / "truth.jsonl", [{"doc": r["id"], "gold": r["gold"]} for r in TRUTH])
    args = ["eval", str(pred), "--truth", str(truth), "--id-field", "doc", "--json"]
    s = scores(runner.invoke(app, [*args, "--pred-field", "dup_group", "--truth-field", "gold"]))
    assert s["pairwise_f1"] == 0.5
    # the same file scored against itself is perfect
    s = scores(runner.invoke(app, ["eval", str(pred), "--truth", str(pred), "--id-field", "doc", "--pred-field",
                                   "dup_group", "--truth-field", "dup_group", "--json"]))  # fmt: skip
    assert s["bcubed_f1"] == s["pairwise_f1"] == s["ari"] == 1.0


def test_eval_ids_on_one_side_only_are_singletons_and_counted(runner, tmp_path):
    # e is missing from the prediction, f from the truth
    pred = write_jsonl(tmp_path / "pred.jsonl", [*PRED[:4], {"id": "f", "story": 2}])
    truth = write_jsonl(tmp_path / "truth.jsonl", TRUTH)
    s = scores(
        runner.invoke(app, ["eval", str(pred), "--truth", str(truth), "--truth-field", "gold", "--json"])
    )
    assert s["n_missing_in_pred"] == 1 and s["n_missing_in_truth"] == 1
    assert s["n_items"] == 6
    # pred {a,b} {c,d,f} {e}; truth {a,b,c} {d,e} {f}: predicted pairs ab cd cf df, true ab ac bc de
    assert s["pairwise_precision"] == 0.25 and s["pairwise_recall"] == 0.25


def test_eval_blank_lines_are_skipped(runner, tmp_path):
    pred = write_jsonl(tmp_path / "pred.jsonl", [PRED[0], "\n", *PRED[1:]])
    truth = write_jsonl(tmp_path / "truth.jsonl", TRUTH)
    s = scores(
        runner.invoke(app, ["eval", str(pred), "--truth", str(truth), "--truth-field", "gold", "--json"])
    )
    assert s["n_items"] == 5


def test_eval_uci_csv_truth(runner, tmp_path):
    truth = tmp_path / "newsCorpora.csv"
    truth.write_text(
        "ID,TITLE,URL,PUBLISHER,CATEGORY,STORY,HOSTNAME,TIMESTAMP\n"
        "1,Dam cracks,http://a.example/1,Echo,b,s1,a.example,1394470370698\n"
        "2,Dam evacuated,http://b.example/2,Herald,b,s1,b.example,1394470370698\n"
        "3,Cup won,http://c.example/3,Sports,e,s2,c.example,1394470370698\n"
    )
    pred = write_jsonl(
        tmp_path / "pred.jsonl",
        [{"id": "uci-1", "story": "x"}, *({"id": f"uci-{i}", "story": "y"} for i in (2, 3))],
    )
    s = scores(runner.invoke(app, ["eval", str(pred), "--truth", str(truth), "--json"]))
    # pred {1} {2,3}; truth {1,2} {3}: no shared pair; B-cubed 2/3 both ways
    assert s["pairwise_precision"] == s["pairwise_recall"] == 0.0
    assert s["bcubed_precision"] == pytest.approx(2 / 3) and s["bcubed_recall"] == pytest.approx(2 / 3)
    assert s["ari"] == pytest.approx(-0.5)
    assert s["n_missing_in_pred"] == s["n_missing_in_truth"] == 0


def test_eval_miranda_json_truth(runner, tmp_path):
    truth = tmp_path / "dataset.test.json"
    docs = [
        {"id": 1, "cluster": 10, "lang": "eng", "date": "2014-03-10 16:52:50", "title": "a", "text": "b"},
        {"id": 2, "cluster": 10, "lang": "deu", "date": "2014-03-10 16:52:50", "title": "a", "text": "b"},
        {"id": 3, "cluster": 11, "lang": "eng", "date": "2014-03-11 10:00:00", "title": "c", "text": "d"},
    ]
    truth.write_text(json.dumps(docs))
    # Miranda ids become strings; every language is kept
    pred = write_jsonl(tmp_path / "pred.jsonl", [{"id": str(i), "story": "all"} for i in (1, 2, 3)])
    s = scores(runner.invoke(app, ["eval", str(pred), "--truth", str(truth), "--json"]))
    assert s["n_missing_in_truth"] == 0 and s["n_true_clusters"] == 2
    assert s["pairwise_precision"] == pytest.approx(1 / 3) and s["pairwise_recall"] == 1.0
    assert s["bcubed_precision"] == pytest.approx(5 / 9) and s["bcubed_recall"] == 1.0


def test_eval_unknown_truth_field_in_a_benchmark_file_is_an_error(runner, tmp_path):
    truth = tmp_path / "dataset.test.json"
    truth.write_text(
        json.dumps(
            [
                {
                    "id": 1,
                    "cluster": 10,
                    "lang": "eng",
                    "date": "2014-03-10 16:52:50",
                    "title": "t",
                    "text": "x",
                }
            ]
        )
    )
    pred = write_jsonl(tmp_path / "pred.jsonl", [{"id": "1", "story": "x"}])
    result = runner.invoke(app, ["eval", str(pred), "--truth", str(truth), "--truth-field", "cluster"])
    assert result.exit_code != 0
    assert "cluster" in result.stderr


@pytest.mark.parametrize(
    ("pred_lines", "truth_lines", "args", "message"),
    [
        ([{"id": "a"}], TRUTH, [], 'pred.jsonl:1: no field "story" in the pred (use --pred-field)'),
        (PRED, TRUTH, [], 'truth.jsonl:1: no field "story" in the truth (use --truth-field)'),
        ([{"story": 1}], TRUTH, [], 'pred.jsonl:1: no id field "id" in the pred (use --id-field)'),
        ([PRED[0], "{oops\n"], TRUTH, ["--truth-field", "gold"], "pred.jsonl:2: malformed JSON"),
        (["[1, 2]\n"], TRUTH, ["--truth-field", "gold"], "pred.jsonl:1: not a JSON object"),
    ],
)
def test_eval_bad_input_says_where(runner, tmp_path, pred_lines, truth_lines, args, message):
    pred = write_jsonl(tmp_path / "pred.jsonl", pred_lines)
    truth = write_jsonl(tmp_path / "truth.jsonl", truth_lines)
    result = runner.invoke(app, ["eval", str(pred), "--truth", str(truth), *args])
    assert result.exit_code == 1
    assert result.stderr.startswith("dedup: ") and message in result.stderr
    assert result.stdout == ""


def test_eval_missing_files(runner, tmp_path):
    pred = write_jsonl(tmp_path / "pred.jsonl", PRED)
    result = runner.invoke(app, ["eval", str(pred), "--truth", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1 and result.stderr == f"dedup: {tmp_path / 'nope.jsonl'}: no such file\n"
    result = runner.invoke(app, ["eval", str(tmp_path / "nope.jsonl"), "--truth", str(pred)])
    assert result.exit_code == 1 and "no such file" in result.stderr


def test_eval_on_the_fixture_truth_is_perfect(runner):
    articles = str(FIXTURES / "articles.jsonl")
    args = [
        "eval",
        articles,
        "--truth",
        articles,
        "--pred-field",
        "truth_story",
        "--truth-field",
        "truth_story",
    ]
    s = scores(runner.invoke(app, [*args, "--json"]))
    assert s["bcubed_f1"] == 1.0 and s["n_items"] == 80


# -- dedup synth -----------------------------------------------------------------------------------------


def synth(runner, tmp_path, name, *args):
    out = tmp_path / name
    result = runner.invoke(app, ["synth", str(out), *map(str, args)])
    assert result.exit_code == 0, result.output
    return out, result


def test_synth_same_seed_same_bytes(runner, tmp_path):
    a, result = synth(runner, tmp_path, "a.jsonl", "-n", 60, "--seed", 3)
    b, _ = synth(runner, tmp_path, "b.jsonl", "-n", 60, "--seed", 3)
    c, _ = synth(runner, tmp_path, "c.jsonl", "-n", 60, "--seed", 4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert result.stderr == f"dedup: wrote 60 labelled articles to {a}\n"
    records = read_jsonl(a)
    assert len(records) == 60 and len({r["id"] for r in records}) == 60
    for r in records:
        assert {
            "id",
            "title",
            "text",
            "outlet",
            "published_at",
            "truth_dup",
            "truth_story",
            "variant",
        } <= set(r)


def test_synth_to_stdout_matches_the_file(runner, tmp_path):
    a, _ = synth(runner, tmp_path, "a.jsonl", "-n", 20, "--seed", 1)
    result = runner.invoke(app, ["synth", "-", "-n", "20", "--seed", "1", "-q"])
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout_bytes == a.read_bytes()


def test_synth_set_overrides(runner, tmp_path):
    out, _ = synth(runner, tmp_path, "a.jsonl", "-n", 80, "--seed", 2, "--set", "n_outlets=3",
                   "--set", "id_prefix=x-", "--set", "single_share=0.0", "--set", "p_brief=0")  # fmt: skip
    records = read_jsonl(out)
    assert all(r["id"].startswith("x-") for r in records)
    assert len({r["outlet"] for r in records}) <= 3
    assert not any("brief" in r["variant"] for r in records)
    default, _ = synth(runner, tmp_path, "b.jsonl", "-n", 80, "--seed", 2)
    assert len({r["outlet"] for r in read_jsonl(default)}) > 3


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("nope=1", "--set 'nope=1': expected NAME=VALUE with NAME one of copies_alpha, "),
        ("p_brief", "--set 'p_brief': expected NAME=VALUE"),
        ("p_brief=abc", "--set 'p_brief=abc': 'abc' is not a float"),
        ("n_outlets=1.5", "--set 'n_outlets=1.5': '1.5' is not a"),
        ("p_brief=2", "invalid SynthConfig: p_brief is 2.0, expected a share between 0 and 1"),
        ("n_outlets=1", "invalid SynthConfig: n_outlets is 1, expected >= 2"),
    ],
)
def test_synth_bad_set_values_give_a_clear_error(runner, tmp_path, setting, message):
    out = tmp_path / "a.jsonl"
    result = runner.invoke(app, ["synth", str(out), "-n", "10", "--set", setting])
    assert result.exit_code == 2
    assert result.stderr.startswith("dedup: ") and message in result.stderr
    assert not out.exists()


def test_synth_bad_options(runner, tmp_path):
    result = runner.invoke(app, ["synth", str(tmp_path / "a.jsonl"), "-n", "-1"])
    assert result.exit_code == 2 and "n_articles is -1, expected >= 0" in result.stderr
    result = runner.invoke(app, ["synth", str(tmp_path / "a.jsonl"), "--bases", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1 and result.stderr == f"dedup: {tmp_path / 'nope.jsonl'}: no such file\n"
    assert not (tmp_path / "a.jsonl").exists()


def test_synth_set_seed_twice_is_an_error_not_a_crash(runner, tmp_path):
    result = runner.invoke(app, ["synth", str(tmp_path / "a.jsonl"), "--set", "seed=3"])
    assert result.exit_code == 2
    assert result.stderr.startswith("dedup: ") and "seed" in result.stderr


@pytest.fixture
def bases(tmp_path):
    """The fixture's ten wire stories, and the same plus an outlet's copy of the first one."""
    stories = read_jsonl(FIXTURES / "wire_stories.jsonl")
    first = stories[0]
    copy = {
        **first,
        "id": "wire-01a-copy",
        "title": "Bridge shut: what we know",
        "text": "Share this article\n\n"
        + first["text"]
        + "\n\n(c) 2024 Northern Herald. All rights reserved.",
    }
    return write_jsonl(tmp_path / "clean.jsonl", stories), write_jsonl(
        tmp_path / "with_copy.jsonl", [*stories, copy]
    )


def test_synth_drops_bases_that_copy_another_base(runner, tmp_path, bases):
    clean, with_copy = bases
    deduped, result = synth(runner, tmp_path, "a.jsonl", "--bases", with_copy, "-n", 40, "--seed", 2)
    assert result.stderr.startswith("dedup: dropped 1 bases that copy another base\n")
    reference, result = synth(runner, tmp_path, "b.jsonl", "--bases", clean, "-n", 40, "--seed", 2)
    assert "dropped" not in result.stderr
    assert deduped.read_bytes() == reference.read_bytes()  # as if the copy had never been there
    kept, result = synth(
        runner, tmp_path, "c.jsonl", "--bases", with_copy, "-n", 40, "--seed", 2, "--keep-bases"
    )
    assert "dropped" not in result.stderr
    assert kept.read_bytes() != reference.read_bytes()


def test_synth_bases_with_a_pairs_file(runner, tmp_path, bases):
    clean, with_copy = bases
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [{"a": "wire-01a", "b": "wire-01a-copy"}])
    out, result = synth(runner, tmp_path, "a.jsonl", "--bases", with_copy, "--pairs", pairs, "-n", 40,
                        "--seed", 2, "--keep-bases")  # fmt: skip
    reference, _ = synth(runner, tmp_path, "b.jsonl", "--bases", clean, "-n", 40, "--seed", 2)
    assert out.read_bytes() == reference.read_bytes()


def test_synth_bad_bases_file(runner, tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"title": "t", "text": ["not", "a", "string"]}])
    result = runner.invoke(app, ["synth", str(tmp_path / "a.jsonl"), "--bases", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"dedup: {bad}:1: field 'text' is a list, expected a string")
