"""Tests for dedup.static: the ``--fast`` model, distilled from the packaged MiniLM once per test session.

Distilling takes a minute or two on two cores; every test shares the one result (``static_dir``, conftest).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from stage2_helpers import build_events, event_partition, partition_of, read_jsonl, write_jsonl

import dedup.static
from dedup.static import STATIC_VERSION, static_model

pytestmark = pytest.mark.slow


@pytest.fixture
def no_distilling(monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("distilled again")

    monkeypatch.setattr(dedup.static, "distill_static", refuse)
    return calls


def test_distilled_model_is_saved_with_its_version(static_dir):
    model_dir = static_dir / f"static-{STATIC_VERSION}"
    meta = json.loads((model_dir / "dedup_static.json").read_text())
    assert meta["version"] == STATIC_VERSION
    assert (model_dir / "modules.json").exists()
    # written atomically: no temporary directories left beside it
    assert sorted(p.name for p in static_dir.iterdir()) == [f"static-{STATIC_VERSION}"]


def test_second_load_comes_from_the_cache(static_dir, no_distilling):
    model = static_model(static_dir)
    assert no_distilling == []
    assert model.dedup_fingerprint == STATIC_VERSION


def test_a_model_directory_without_its_marker_is_distilled_again(static_dir, tmp_path, no_distilling):
    # an interrupted distillation leaves no marker: the next use must redo it, not load a broken model
    partial = tmp_path / f"static-{STATIC_VERSION}"
    shutil.copytree(static_dir / f"static-{STATIC_VERSION}", partial)
    (partial / "dedup_static.json").unlink()
    with pytest.raises(AssertionError, match="distilled again"):
        static_model(tmp_path)
    assert len(no_distilling) == 1


def test_static_embeddings_are_unit_vectors_of_256_dimensions(static_dir, no_distilling):
    from dedup.embed import load_embedder

    embedder = load_embedder("static", cache_dir=static_dir, batch_size=8)
    assert embedder.dim == 256
    assert embedder.name == f"static:{STATIC_VERSION}"
    assert embedder.batch_size >= 1024  # a static model takes large batches
    vectors = embedder.encode(
        ["Dam spillway crack forces evacuation.", "Cup final won in stoppage time.", "x"]
    )
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_static_similar_headlines_are_closer_than_unrelated_ones(static_dir):
    from dedup.embed import load_embedder

    embedder = load_embedder("static", cache_dir=static_dir)
    v = embedder.encode(
        [
            "Storm surge floods harbour town after tidal barrier fails to close",
            "Flood barrier fails as storm surge hits the harbour",
            "Laptop maker recalls 90,000 batteries after reports of fires",
            "Battery recall: laptop maker says packs may catch fire",
        ]
    )
    sim = v @ v.T
    assert sim[0, 1] > max(sim[0, 2], sim[0, 3], sim[1, 2], sim[1, 3]) + 0.1
    assert sim[2, 3] > max(sim[0, 2], sim[0, 3], sim[1, 2], sim[1, 3]) + 0.1


def test_static_embeddings_are_deterministic(static_dir):
    from dedup.embed import load_embedder

    texts = ["Dam spillway crack forces evacuation of Marlow Ridge."]
    a = load_embedder("static", cache_dir=static_dir).encode(texts)
    b = load_embedder("static", cache_dir=static_dir).encode(texts)
    np.testing.assert_array_equal(a, b)


def run_fast(static_dir, tmp_path, **settings):
    from dedup.config import StoryConfig
    from dedup.pipeline import Pipeline, PipelineConfig

    # the distilled model lives in the cache directory: give this run a copy of the one made already
    shutil.copytree(static_dir / f"static-{STATIC_VERSION}", tmp_path / f"static-{STATIC_VERSION}")
    config = PipelineConfig(stories=StoryConfig(fast=True, cache_dir=str(tmp_path), **settings))
    return Pipeline(config).run(build_events())


def test_pipeline_fast_with_centred_embeddings(static_dir, tmp_path, no_distilling):
    result = run_fast(static_dir, tmp_path, center=True)
    assert no_distilling == []
    assert partition_of(result.ids, result.story) == event_partition(result.ids)


def test_pipeline_fast_with_default_settings(static_dir, tmp_path):
    result = run_fast(static_dir, tmp_path)
    assert partition_of(result.ids, result.story) == event_partition(result.ids)


def test_cli_run_fast(static_dir, tmp_path, no_distilling):
    from typer.testing import CliRunner

    from dedup.cli import app

    source = write_jsonl(tmp_path / "articles.jsonl", build_events())
    out, cache = tmp_path / "out.jsonl", tmp_path / "cache"
    shutil.copytree(static_dir / f"static-{STATIC_VERSION}", cache / f"static-{STATIC_VERSION}")
    args = ["run", str(source), "-o", str(out), "--fast", "--center", "--cache-dir", str(cache), "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert [r["id"] for r in records] == [r["id"] for r in build_events()]
    assert partition_of([r["id"] for r in records], [r["story"] for r in records]) == event_partition(
        r["id"] for r in records
    )


def test_numpy_encoder_matches_sentence_transformers(static_dir):
    from dedup.static import StaticEncoder, static_model_path

    texts = [
        "Dam spillway crack forces evacuation of Marlow Ridge.",
        "",
        "   ",
        "Cup final won in stoppage time " * 40,
    ]
    ours = StaticEncoder(static_model_path(static_dir)).encode(texts, batch_size=2)
    theirs = static_model(static_dir).encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert not ours[1].any() and not ours[2].any()  # no word pieces: the zero vector, as in torch


def test_fast_embedder_does_not_import_torch(static_dir):
    import subprocess
    import sys

    code = (
        "import sys; from dedup.embed import load_embedder; "
        f"e = load_embedder('static', cache_dir={str(static_dir)!r}); e.encode(['Harbour flood']); "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
