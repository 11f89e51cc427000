"""Tests for ``dedup run`` and ``dedup cluster``: through typer's CliRunner, plus one real console-script run.

The CliRunner tests reuse one loaded MiniLM (``shared_model``) and write embeddings under ``tmp_path``.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest
from stage2_helpers import (
    CANONICAL_OF,
    STORY_ID,
    build_events,
    event_partition,
    partition_of,
    read_jsonl,
    shared_model,  # noqa: F401 - a fixture
    spy_encode,
    write_jsonl,
)
from typer.testing import CliRunner

from dedup.cli import app
from dedup.config import StoryConfig
from dedup.pipeline import Pipeline, PipelineConfig

RUN_SUMMARY = re.compile(
    r"^dedup: 14 articles -> 9 dup groups \(5 duplicates\) -> 4 stories \(\d+\.\d s\)\n$"
)
LATER = {
    "id": "dam-later",
    "title": "Ferrow dam repairs finished as Marlow Ridge families return home",
    "text": "Halden Water said on Sunday that repairs to the cracked spillway of the Ferrow Valley dam were "
    "complete, and the last families from Marlow Ridge went home from the Ostby school gym.\n\n"
    "Chief engineer Brigit Solberg said the reservoir would be refilled slowly over the coming month "
    "while inspectors watched the new concrete.",
    "outlet": "Ferrow Valley Echo",
    "published_at": "2024-04-14T09:00:00Z",
}


WIDE = {"COLUMNS": "250"}  # help text on one line per option


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("embeddings"))


@pytest.fixture
def invoke(runner, shared_model, cache):  # noqa: F811
    """Run a dedup command with the shared model and the module's embedding cache."""

    def go(*args, input=None):
        command, *rest = map(str, args)
        return runner.invoke(
            app, [command, "--cache-dir", cache, "--embed-batch-size", "8", *rest], input=input
        )

    return go


@pytest.fixture
def events_path(tmp_path):
    return write_jsonl(tmp_path / "articles.jsonl", build_events())


@pytest.fixture(scope="module")
def expected(tmp_path_factory, static_dir):
    """What the library gives for the corpus: the CLI must give the same."""
    from stage2_helpers import Shared, _load_embedder

    import dedup.embed

    mp = pytest.MonkeyPatch()
    mp.setattr(dedup.embed, "load_embedder", Shared(_load_embedder, static_dir))
    try:
        config = PipelineConfig(stories=StoryConfig(cache_dir=str(tmp_path_factory.mktemp("lib"))))
        return Pipeline(config).run(build_events())
    finally:
        mp.undo()


def expected_records(expected) -> list[dict]:
    return [{**r, **a} for r, a in zip(build_events(), expected.assignments(), strict=True)]


# -- dedup run -------------------------------------------------------------------------------------------


def test_run_writes_every_record_in_order_with_its_dup_group_and_story(
    invoke, events_path, tmp_path, expected
):
    out, stories = tmp_path / "out.jsonl", tmp_path / "stories.jsonl"
    result = invoke("run", events_path, "-o", out, "--stories", stories)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert RUN_SUMMARY.match(result.stderr), result.stderr
    marked = read_jsonl(out)
    records = build_events()
    assert [list(m) for m in marked] == [[*r, "dup_group", "is_canonical", "story"] for r in records]
    assert marked == expected_records(expected)
    by_id = {m["id"]: m for m in marked}
    assert by_id["dam-wire-gazette"]["dup_group"] == "dam-wire"
    assert by_id["dam-wire-gazette"]["is_canonical"] is False
    assert by_id["dam-followup"]["story"] == "dam-wire"
    assert partition_of(by_id, [m["story"] for m in by_id.values()]) == event_partition(by_id)
    assert set(by_id[i]["story"] for i in by_id) == set(STORY_ID.values())
    assert read_jsonl(stories) == expected.stories


def test_run_stories_file_is_consistent_with_the_records(invoke, events_path, tmp_path):
    out, stories = tmp_path / "out.jsonl", tmp_path / "stories.jsonl"
    assert invoke("run", events_path, "-o", out, "--stories", stories, "-q").exit_code == 0
    marked, described = read_jsonl(out), read_jsonl(stories)
    assert sorted(a for s in described for a in s["articles"]) == sorted(m["id"] for m in marked)
    assert sum(s["size"] for s in described) == len(marked)
    for s in described:
        members = [m for m in marked if m["story"] == s["story"]]
        assert [m["id"] for m in members] == s["articles"]
        assert s["dup_groups"] == list(dict.fromkeys(m["dup_group"] for m in members))
        assert s["articles_distinct"] == sum(m["is_canonical"] for m in members)


def test_run_from_stdin_to_stdout(invoke, events_path, tmp_path, expected):
    stories = tmp_path / "stories.jsonl"
    result = invoke("run", "-", "--stories", stories, input=events_path.read_bytes())
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == expected_records(expected)
    assert read_jsonl(stories) == expected.stories
    assert RUN_SUMMARY.match(result.stderr)


def test_run_gz_input_and_output(invoke, tmp_path, expected):
    source = tmp_path / "articles.jsonl.gz"
    source.write_bytes(gzip.compress(write_jsonl(tmp_path / "plain.jsonl", build_events()).read_bytes()))
    out = tmp_path / "out.jsonl.gz"
    result = invoke("run", source, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = gzip.decompress(out.read_bytes()).splitlines()
    assert [json.loads(line) for line in lines] == expected_records(expected)


def test_run_without_stories_file(invoke, events_path, tmp_path):
    result = invoke("run", events_path, "-o", tmp_path / "out.jsonl", "-q")
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.jsonl", "out.jsonl"]


def test_run_bad_line_stops_with_file_and_line_and_writes_nothing(invoke, tmp_path):
    records = build_events()
    source = write_jsonl(tmp_path / "articles.jsonl", [*records[:3], "{not json\n", *records[3:]])
    out, stories = tmp_path / "out.jsonl", tmp_path / "stories.jsonl"
    result = invoke("run", source, "-o", out, "--stories", stories)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"dedup: {source}:4: malformed JSON: ")
    assert "(use --on-error skip --rejects FILE to skip such lines)" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.jsonl"]  # no partial outputs


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"title": "no id"}, 'missing id field "id" (use --id-field to name the id field)'),
        ({"id": "x", "text": ["a"]}, 'field "text" is a list, expected a string (use --text-field'),
        ({"id": "x", "published_at": "soon"}, "field \"published_at\": cannot parse date 'soon'"),
        ({"id": "dam-wire", "text": "again"}, "duplicate id 'dam-wire' (first seen on line 1)"),
    ],
)
def test_run_bad_record_reasons(invoke, tmp_path, line, reason):
    source = write_jsonl(tmp_path / "articles.jsonl", [*build_events()[:2], line])
    result = invoke("run", source)
    assert result.exit_code == 1
    assert f"{source}:3: {reason}" in result.stderr
    assert result.stdout == ""


def test_run_skip_accounts_for_every_line(invoke, tmp_path, expected):
    records = build_events()
    lines = [
        *records[:4],
        "{not json\n",
        "\n",
        {"id": "dam-wire", "text": "same id"},
        {"id": True},
        *records[4:],
    ]
    source = write_jsonl(tmp_path / "articles.jsonl", lines)
    out, rejects, stories = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", tmp_path / "s.jsonl"
    result = invoke(
        "run", source, "-o", out, "--stories", stories, "--on-error", "skip", "--rejects", rejects
    )
    assert result.exit_code == 0, result.output
    assert ", 4 rejected (" in result.stderr
    marked, rejected = read_jsonl(out), read_jsonl(rejects)
    assert len(marked) + len(rejected) == len(lines)
    assert marked == expected_records(expected)
    assert read_jsonl(stories) == expected.stories
    assert [r["line"] for r in rejected] == [5, 6, 7, 8]
    assert [r["reason"].split(":")[0].split(" (")[0] for r in rejected] == [
        "malformed JSON",
        "blank line",
        "duplicate id 'dam-wire'",
        'id field "id" is a boolean, expected a string or an integer',
    ]
    assert rejected[0]["raw"] == "{not json"


def test_run_window_flag(invoke, tmp_path):
    source = write_jsonl(tmp_path / "articles.jsonl", [*build_events(), LATER])
    for window, story in (("3", "dam-later"), ("0", "dam-wire")):
        result = invoke("run", source, "-q", "--window", window)
        assert result.exit_code == 0, result.output
        assert {r["id"]: r["story"] for r in map(json.loads, result.stdout.splitlines())}[
            "dam-later"
        ] == story


def test_run_field_name_flags(invoke, tmp_path, expected):
    renamed = [
        {
            "doc": r["id"],
            "headline": r["title"],
            "body": r["text"],
            "source": r["outlet"],
            "when": r["published_at"],
        }
        for r in build_events()
    ]
    source = write_jsonl(tmp_path / "renamed.jsonl", renamed)
    result = invoke(
        "run", source, "-q", "--id-field", "doc", "--title-field", "headline", "--text-field", "body",
        "--outlet-field", "source", "--date-field", "when",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(g["doc"], g["dup_group"], g["story"]) for g in got] == [
        (a["id"], a["dup_group"], a["story"]) for a in expected.assignments()
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--story-threshold", "1.5"], "dedup: threshold must be between 0 and 1, got 1.5"),
        (["--window", "-1"], "dedup: window_days must not be negative, got -1.0"),
        (["--name-weight", "1"], "dedup: name_weight must be in [0, 1), got 1.0"),
        (["--neighbours", "0"], "dedup: k must be at least 1, got 0"),
        (["--lead-words", "0"], "dedup: lead_words must be at least 1, got 0"),
        (["--threshold", "2"], "dedup: threshold must be between 0 and 1, got 2.0"),
    ],
)
def test_run_bad_option_values_give_a_clear_error(invoke, events_path, tmp_path, args, message):
    result = invoke("run", events_path, "-o", tmp_path / "out.jsonl", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("command", ["run", "cluster"])
def test_missing_model_is_a_clear_error(invoke, events_path, tmp_path, command):
    out, stories = tmp_path / "out.jsonl", tmp_path / "stories.jsonl"
    result = invoke(command, events_path, "-o", out, "--stories", stories, "--model", "/nonexistent")
    assert result.exit_code == 1
    assert result.stderr == (
        "dedup: embedding model '/nonexistent' not found: give a local sentence-transformers model "
        "directory (dedup never downloads models)\n"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists() and not stories.exists()


def test_a_directory_without_a_model_is_a_clear_error(invoke, events_path, tmp_path):
    (tmp_path / "empty-model").mkdir()
    result = invoke("run", events_path, "-o", tmp_path / "out.jsonl", "--model", tmp_path / "empty-model")
    assert result.exit_code == 1
    assert result.stderr.startswith("dedup: ")
    assert not isinstance(result.exception, ValueError)


def test_run_empty_input(invoke, tmp_path):
    source = tmp_path / "empty.jsonl"
    source.write_bytes(b"")
    out, stories = tmp_path / "out.jsonl", tmp_path / "stories.jsonl"
    result = invoke("run", source, "-o", out, "--stories", stories)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == b"" and stories.read_bytes() == b""


def test_missing_input(invoke, tmp_path):
    result = invoke("run", tmp_path / "nope.jsonl")
    assert result.exit_code == 1
    assert result.stderr == f"dedup: {tmp_path / 'nope.jsonl'}: no such file\n"


def capture_story_config(monkeypatch):
    """Replace find_stories by a spy that records the StoryConfig the command built."""
    import dedup.pipeline

    seen: list[StoryConfig] = []
    real = dedup.pipeline.find_stories

    def spy(*args, **kwargs):
        seen.append(args[6])
        return real(*args, **kwargs)

    monkeypatch.setattr(dedup.pipeline, "find_stories", spy)
    return seen


def test_stage2_flags_map_onto_story_config(invoke, events_path, monkeypatch, cache):
    seen = capture_story_config(monkeypatch)
    result = invoke(
        "run", events_path, "-q", "--story-threshold", "0.3", "--window", "2", "--name-weight", "0.1",
        "--name-dims", "16", "--neighbours", "5", "--max-seq-length", "128", "--lead-words", "20",
        "--device", "cpu", "--keywords", "3", "--center",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = dict(
        threshold=0.3, window_days=2.0, name_weight=0.1, name_dims=16, k=5, model="minilm", fast=False,
        max_seq_length=128, lead_words=20, batch_size=8, device="cpu", cache_dir=cache, keywords=3,
        center=True,
    )  # fmt: skip
    assert seen[0] == StoryConfig(**expected)
    result = invoke("run", events_path, "-q", "--no-center")
    assert seen[1] == StoryConfig(batch_size=8, cache_dir=cache, center=False)


@pytest.mark.parametrize("command", ["run", "cluster"])
def test_every_story_config_field_has_a_flag(runner, command):
    help_text = runner.invoke(app, [command, "--help"], env=WIDE).stdout
    flag_of = {"threshold": "--story-threshold", "window_days": "--window", "k": "--neighbours"}
    flag_of["batch_size"] = "--embed-batch-size"
    for f in dataclasses.fields(StoryConfig):
        flag = flag_of.get(f.name, "--" + f.name.replace("_", "-"))
        assert flag in help_text, f.name


def test_outputs_get_the_usual_file_mode(invoke, events_path, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "out.jsonl"
        assert invoke("run", events_path, "-o", out, "-q").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_run_help_shows_an_example(runner):
    result = runner.invoke(app, ["run", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert "dedup run fixtures/articles.jsonl -o out.jsonl --stories stories.jsonl" in result.stdout
    for flag in (
        "--stories",
        "--story-threshold",
        "--window",
        "--model",
        "--fast",
        "--cache-dir",
        "--threshold",
    ):
        assert flag in result.stdout


# -- dedup cluster ---------------------------------------------------------------------------------------


def test_cluster_on_near_dups_output_clusters_canonicals_only(invoke, events_path, tmp_path, monkeypatch):
    marked = tmp_path / "marked.jsonl"
    assert invoke("run", events_path, "-o", marked, "-q").exit_code == 0
    # take the story out and cluster again from the stage-1 fields alone
    write_jsonl(marked, [{k: v for k, v in r.items() if k != "story"} for r in read_jsonl(marked)])
    out, stories = tmp_path / "out.jsonl", tmp_path / "stories.jsonl"
    encoded = spy_encode(monkeypatch)
    result = invoke("cluster", marked, "-o", out, "--stories", stories, "--cache-dir", tmp_path / "fresh")
    assert result.exit_code == 0, result.output
    assert re.match(r"^dedup: 14 articles -> 4 stories \(\d+\.\d s\)\n$", result.stderr)
    assert len(encoded) == 9  # the canonical articles, not the five copies
    clustered = read_jsonl(out)
    assert [list(r) for r in clustered] == [[*r, "story"] for r in read_jsonl(marked)]
    story = {r["id"]: r["story"] for r in clustered}
    for r in clustered:
        assert r["story"] == story[r["dup_group"]]
    assert partition_of(story, story.values()) == event_partition(story)
    for s in read_jsonl(stories):
        assert s["articles_distinct"] == len(s["dup_groups"])
        assert set(s["dup_groups"]) == {
            story_id for story_id in s["dup_groups"] if story_id not in CANONICAL_OF
        }


def test_transformer_length_and_static_weight_reach_the_model(invoke, shared_model, events_path, tmp_path):  # noqa: F811
    out = tmp_path / "out.jsonl"
    assert invoke("cluster", events_path, "-o", out, "-q").exit_code == 0
    assert shared_model.settings[-1] == ("minilm", 16, 0.5)  # the default: MiniLM on the headline + static
    result = invoke("cluster", events_path, "-o", out, "-q", "--static-weight", "0", "--max-seq-length", "64")
    assert result.exit_code == 0, result.output
    assert shared_model.settings[-1] == ("minilm", 64, 0.0)
    result = invoke("cluster", events_path, "-o", out, "-q", "--static-weight", "1")
    assert result.exit_code == 2 and "static_weight must be in [0, 1)" in result.stderr


def test_cluster_on_plain_jsonl_clusters_every_record(invoke, events_path, tmp_path, monkeypatch):
    encoded = spy_encode(monkeypatch)
    out, stories = tmp_path / "out.jsonl", tmp_path / "stories.jsonl"
    result = invoke(
        "cluster", events_path, "-o", out, "--stories", stories, "--cache-dir", tmp_path / "fresh"
    )
    assert result.exit_code == 0, result.output
    assert len(encoded) == 14
    clustered = read_jsonl(out)
    assert [list(r) for r in clustered] == [[*r, "story"] for r in build_events()]
    story = {r["id"]: r["story"] for r in clustered}
    assert partition_of(story, story.values()) == event_partition(story)  # copies land with their source
    for s in read_jsonl(stories):
        assert s["articles_distinct"] == s["size"] and s["dup_groups"] == s["articles"]


def test_cluster_dup_group_field_and_groups_whose_canonical_is_absent(invoke, tmp_path, monkeypatch):
    records = build_events()
    for r in records:
        r["group"] = CANONICAL_OF.get(r["id"], r["id"])
    # drop one canonical article: its copies are then clustered on their own
    records = [r for r in records if r["id"] != "theft-wire"]
    source = write_jsonl(tmp_path / "marked.jsonl", records)
    encoded = spy_encode(monkeypatch)
    result = invoke("cluster", source, "-q", "--dup-group-field", "group", "--cache-dir", tmp_path / "fresh")
    assert result.exit_code == 0, result.output
    assert len(encoded) == 9  # 8 canonicals left, plus the orphaned copy
    story = {r["id"]: r["story"] for r in map(json.loads, result.stdout.splitlines())}
    assert story["dam-wire-gazette"] == story["dam-wire"] == "dam-wire"
    assert story["theft-wire-herald"] == story["theft-local"]


def test_cluster_duplicate_id(invoke, tmp_path):
    source = write_jsonl(tmp_path / "a.jsonl", [*build_events()[:2], {"id": "dam-wire", "text": "again"}])
    result = invoke("cluster", source)
    assert result.exit_code == 1
    assert f"{source}:3: duplicate id 'dam-wire'" in result.stderr


def test_cluster_with_an_unhashable_dup_group_field(invoke, tmp_path):
    records = build_events()[:3]
    records[0]["dup_group"] = ["dam-wire"]
    source = write_jsonl(tmp_path / "a.jsonl", records)
    result = invoke("cluster", source, "-q")
    assert not isinstance(result.exception, TypeError)
    assert result.exit_code in (0, 1)


def test_cluster_skip_and_rejects(invoke, tmp_path):
    records = build_events()
    source = write_jsonl(tmp_path / "a.jsonl", [*records[:3], "oops\n", *records[3:]])
    rejects = tmp_path / "rejects.jsonl"
    result = invoke("cluster", source, "-q", "--on-error", "skip", "--rejects", rejects)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(records)
    assert [r["line"] for r in read_jsonl(rejects)] == [4]
    result = invoke("cluster", source, "-q")
    assert result.exit_code == 1 and f"{source}:4: malformed JSON" in result.stderr


def test_cluster_help_shows_an_example(runner):
    result = runner.invoke(app, ["cluster", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert "dedup cluster marked.jsonl -o stories.out.jsonl --stories stories.jsonl" in result.stdout
    assert "--dup-group-field" in result.stdout


# -- the real console script ------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("dedup") is None, reason="the dedup console script is not installed")
def test_console_script_run_end_to_end(events_path, tmp_path, expected):
    out, stories = tmp_path / "out.jsonl", tmp_path / "stories.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DEDUP_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        ["dedup", "run", "-", "-o", str(out), "--stories", str(stories), "--embed-batch-size", "8"],
        input=events_path.read_bytes(),
        capture_output=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b""
    assert RUN_SUMMARY.match(proc.stderr.decode()), proc.stderr.decode()  # no warnings, no progress bars
    assert read_jsonl(out) == expected_records(expected)
    assert read_jsonl(stories) == expected.stories
    assert (tmp_path / "cache" / "embeddings.sqlite").exists()


def test_help_does_not_load_the_embedding_stack():
    code = (
        "import sys\nfrom dedup.cli import app\n"
        "try:\n    app(['run', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert proc.stderr.strip() == "False False"
