"""The Ray engine on a local Ray cluster (2 CPUs): same dup groups as the local engine, stories
that agree with it, every line accounted for, and workers killed mid-run losing nothing."""

from __future__ import annotations

import gzip
import io
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest

ray = pytest.importorskip("ray")

from typer.testing import CliRunner  # noqa: E402

from dedup.cli import app  # noqa: E402
from dedup.config import NearDupConfig, StoryConfig  # noqa: E402
from dedup.evaluate import score_labels  # noqa: E402
from dedup.ray_engine import FAULT_ENV, RayOptions, connect, reject_records, run_ray, write_output  # noqa: E402
from dedup.runner import InputError  # noqa: E402
from dedup.synth import SynthConfig, generate_corpus  # noqa: E402

SMALL_CHUNKS = RayOptions(chunk_bytes=150_000)  # several input ranges per shard


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    faults = tmp_path_factory.mktemp("faults")
    os.environ[FAULT_ENV] = str(faults)  # workers inherit it: see ray_engine.connect
    connect(RayOptions(num_cpus=2))
    yield faults
    ray.shutdown()
    del os.environ[FAULT_ENV]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> tuple[Path, Path]:
    """A generated wire corpus in three shards (the last gzipped) with bad lines, and the same lines
    concatenated into one file for the local engine."""
    records = list(generate_corpus(None, SynthConfig(n_articles=1800, n_outlets=50, seed=7)))
    lines = [orjson.dumps(r) for r in records]
    parts = [lines[:600], lines[600:1200], lines[1200:]]
    parts[1][10:10] = [b'{"id": "broken", "title": ', b""]  # malformed JSON, blank line
    parts[2][5:5] = [lines[3]]  # an id seen in the first shard
    parts[2][20:20] = [b'{"id": 5, "title": "text is a number", "text": 12}']
    directory = tmp_path_factory.mktemp("shards")
    for k, part in enumerate(parts):
        data = b"\n".join(part) + b"\n"
        if k == 2:
            (directory / f"part-{k}.jsonl.gz").write_bytes(gzip.compress(data))
        else:
            (directory / f"part-{k}.jsonl").write_bytes(data)
    whole = tmp_path_factory.mktemp("whole") / "all.jsonl"
    whole.write_bytes(b"".join(b"\n".join(p) + b"\n" for p in parts))
    return directory, whole


@pytest.fixture(scope="module")
def story_cache(static_dir, tmp_path_factory) -> Path:
    """A cache directory of our own holding the distilled model: runs write embedding caches there,
    and the shared ``static_dir`` must keep only the model."""
    cache = tmp_path_factory.mktemp("ray-cache")
    for model in static_dir.iterdir():
        shutil.copytree(model, cache / model.name)
    return cache


def _paths(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith("part-"))


def _local(whole: Path, tmp_path: Path, *args: str) -> tuple[list[dict], list[dict]]:
    out, rejects = tmp_path / "local.jsonl", tmp_path / "local-rejects.jsonl"
    result = CliRunner().invoke(
        app, [*args, str(whole), "-o", str(out), "--on-error", "skip", "--rejects", str(rejects), "-q"]
    )
    assert result.exit_code == 0, result.output
    return [orjson.loads(x) for x in out.read_bytes().splitlines()], [
        orjson.loads(x) for x in rejects.read_bytes().splitlines()
    ]


def _ray_output(run) -> list[dict]:
    buf = io.BytesIO()
    written = write_output(run, buf)
    records = [orjson.loads(x) for x in buf.getvalue().splitlines()]
    assert written == len(records)
    return records


def test_stage1_identical_to_local_engine(cluster, shards, tmp_path) -> None:
    directory, whole = shards
    local, local_rejects = _local(whole, tmp_path, "near-dups")
    run = run_ray(_paths(directory), NearDupConfig(), on_error="skip", options=SMALL_CHUNKS)
    assert len(run.jobs) > 3  # the plain shards were cut into several ranges
    records = _ray_output(run)
    assert [r["id"] for r in records] == [r["id"] for r in local]
    assert [(r["dup_group"], r["is_canonical"]) for r in records] == [
        (r["dup_group"], r["is_canonical"]) for r in local
    ]
    assert sum(not r["is_canonical"] for r in records) > 300  # a corpus with real wire copies
    # every line is accounted for, and each reject points at its own line in its own file
    assert (
        len(records) + len(run.rejects)
        == run.lines_read
        == sum(
            len((gzip.open if p.suffix == ".gz" else open)(p, "rb").read().splitlines())
            for p in _paths(directory)
        )
    )
    reasons = Counter(r.reason.split(" (")[0].split(":")[0] for _, r in reject_records(run))
    assert reasons == Counter(r["reason"].split(" (")[0].split(":")[0] for r in local_rejects)
    for path, reject in reject_records(run):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            assert f.read().splitlines()[reject.line - 1] == reject.raw.rstrip(b"\n")


def test_fail_mode_names_the_first_bad_line(cluster, shards) -> None:
    directory, _ = shards
    with pytest.raises(InputError, match=r"part-1\.jsonl:11: "):
        run_ray(_paths(directory), NearDupConfig(), on_error="fail", options=SMALL_CHUNKS)


def test_killed_workers_lose_nothing(cluster, shards) -> None:
    directory, _ = shards
    want = _ray_output(run_ray(_paths(directory), NearDupConfig(), on_error="skip"))
    steps = ("read", "shuffle", "signatures", "verify", "write")
    for step in steps:
        (cluster / f"{step}.armed").touch()
    try:
        run = run_ray(_paths(directory), NearDupConfig(), on_error="skip")
        got = _ray_output(run)
    finally:
        for step in steps:
            (cluster / f"{step}.armed").unlink()
    assert sorted(p.name for p in cluster.glob("*.fired")) == sorted(f"{s}.fired" for s in steps)
    assert got == want


def test_stories_agree_with_local_engine(cluster, shards, tmp_path, story_cache) -> None:
    directory, whole = shards
    local, _ = _local(whole, tmp_path, "run", "--fast", "--cache-dir", str(story_cache))
    config = StoryConfig(fast=True, cache_dir=str(story_cache))
    run = run_ray(_paths(directory), NearDupConfig(), on_error="skip", stories=config, options=SMALL_CHUNKS)
    records = _ray_output(run)
    assert [r["dup_group"] for r in records] == [r["dup_group"] for r in local]
    ari = score_labels([r["story"] for r in local], [r["story"] for r in records]).ari
    assert ari >= 0.95
    # duplicates share their canonical article's story; story records cover every article once
    story_of = {r["id"]: r["story"] for r in records}
    assert all(story_of[r["dup_group"]] == r["story"] for r in records)
    members = [a for s in run.stories for a in s["articles"]]
    assert sorted(members, key=str) == sorted(story_of, key=str)
    assert all(story_of[a] == s["story"] for s in run.stories for a in s["articles"])


def test_cli_engine_ray_runs_both_stages(cluster, shards, tmp_path, story_cache) -> None:
    directory, _ = shards
    out, stories, rejects = tmp_path / "out.jsonl", tmp_path / "stories.jsonl", tmp_path / "rejects.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(directory),
            "--engine",
            "ray",
            "-o",
            str(out),
            "--stories",
            str(stories),
            "--on-error",
            "skip",
            "--rejects",
            str(rejects),
            "--fast",
            "--cache-dir",
            str(story_cache),
        ],
    )
    assert result.exit_code == 0, result.output
    records = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    bad = [orjson.loads(x) for x in rejects.read_bytes().splitlines()]
    assert len(records) == 1800 and len(bad) == 4
    assert {"dup_group", "is_canonical", "story"} <= set(records[0])
    assert all(r["reason"].startswith(str(directory)) for r in bad)  # several shards: file named
    sizes = [orjson.loads(x)["size"] for x in stories.read_bytes().splitlines()]
    assert sum(sizes) == len(records)
    assert "dedup (ray): 1,800 articles" in result.output


def test_cli_engine_ray_refuses_stdin(cluster) -> None:
    result = CliRunner().invoke(app, ["near-dups", "-", "--engine", "ray"], input="{}\n")
    assert result.exit_code == 2
    assert "not stdin" in result.output


def test_empty_directory_is_a_clear_error(cluster, tmp_path) -> None:
    result = CliRunner().invoke(app, ["near-dups", str(tmp_path), "--engine", "ray"])
    assert result.exit_code == 2
    assert "no *.jsonl" in result.output


def test_story_keys_are_sorted_and_complete(cluster, shards, story_cache) -> None:
    directory, _ = shards
    config = StoryConfig(fast=True, cache_dir=str(story_cache), window_days=1.0)
    run = run_ray(_paths(directory)[:1], NearDupConfig(), on_error="skip", stories=config)
    keys = run.story_keys
    assert np.all(np.diff(keys) > 0)
    assert len(keys) == run.articles - run.duplicates
