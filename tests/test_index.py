"""Tests for dedup.index: incremental ingest with stable ids, crash safety, retention and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import orjson
import pytest
from stage2_helpers import build_events, event_partition, partition_of, read_jsonl, write_jsonl
from typer.testing import CliRunner

from dedup.cli import app
from dedup.config import NearDupConfig, StoryConfig
from dedup.evaluate import score_labels
from dedup.index import Index, IndexConfig, IndexLocked, IndexMismatch
from dedup.neardup import DuplicateIdError, find_near_duplicates
from dedup.synth import SynthConfig, generate_corpus

DUPS_ONLY = IndexConfig(stories=None)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    """A labelled wire-copy corpus from the built-in generator (copies, briefs, respins, digests)."""
    return list(generate_corpus(None, SynthConfig(n_articles=900, n_outlets=40, seed=11)))


def batch_partition(records: list[dict], config: NearDupConfig) -> frozenset:
    result = find_near_duplicates(records, config)
    return partition_of(result.ids, [group for _, group, _ in result.assignments()])


def ingest(path: Path, records: list[dict], batches: int, config: IndexConfig = DUPS_ONLY) -> list[dict]:
    rows: list[dict] = []
    with Index.open(path, config) as index:
        for part in np.array_split(np.arange(len(records)), batches):
            rows += index.add([records[i] for i in part])
            index.commit()
    return rows


def final_assignments(path: Path, records: list[dict]) -> list[dict]:
    with Index.open(path) as index:
        found = index.lookup([r["id"] for r in records])
    return [found[r["id"]] for r in records]


# -- equivalence with one batch run ------------------------------------------------------------------


@pytest.mark.parametrize("batches", [1, 3, 8])
def test_k_batches_give_exactly_the_groups_of_one_batch_run(corpus, tmp_path, batches):
    ingest(tmp_path / "idx", corpus, batches)
    final = final_assignments(tmp_path / "idx", corpus)
    groups = [a["dup_group"] for a in final]
    expected = batch_partition(corpus, DUPS_ONLY.near_dup)
    assert partition_of([r["id"] for r in corpus], groups) == expected
    assert len(expected) < len(corpus) * 0.8  # the corpus really has copies to find
    # and the same canonical article in each group, though the groups grew batch by batch
    batch = find_near_duplicates(corpus, DUPS_ONLY.near_dup)
    assert [a["is_canonical"] for a in final] == [canonical for _, _, canonical in batch.assignments()]


def test_an_index_with_lsh_runs_in_the_older_npz_layout_opens_and_goes_on(corpus, tmp_path):
    third = len(corpus) // 3
    ingest(tmp_path / "idx", corpus[: 2 * third], 2)
    runs = sorted({p.name.split(".")[0] for p in (tmp_path / "idx").glob("run-*.npy")})
    assert runs  # (the next commit merges them with its own run)
    for run in runs:  # the layout indexes were written in before runs became memory-mapped .npy files
        arrays = {p.name.split(".")[1]: np.load(p) for p in (tmp_path / "idx").glob(f"{run}.*.npy")}
        np.savez(tmp_path / "idx" / f"{run}.npz", **arrays)
        for p in (tmp_path / "idx").glob(f"{run}.*.npy"):
            p.unlink()
    with Index.open(tmp_path / "idx") as index:
        index.add(corpus[2 * third :])
        index.commit()
    groups = [a["dup_group"] for a in final_assignments(tmp_path / "idx", corpus)]
    assert partition_of([r["id"] for r in corpus], groups) == batch_partition(corpus, DUPS_ONLY.near_dup)


def test_an_index_without_its_containment_links_or_jaccard_groups_kept_apart_opens_and_goes_on(
    corpus, tmp_path
):
    third = len(corpus) // 3
    idx = tmp_path / "idx"
    ingest(idx, corpus[: 2 * third], 2)
    links = {name: (idx / f"{name}.col").read_bytes() for name in ("link_left", "link_right", "link_shared")}
    assert 0 < len(links["link_left"]) < (idx / "edges.col").stat().st_size / 2  # some pairs, not all
    # the layout written before the containment links and the Jaccard groups were kept
    for name in links:
        (idx / f"{name}.col").unlink()
    db = sqlite3.connect(idx / "index.sqlite")
    state = json.loads(db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()[0])
    del state["links"], state["links_of_edges"]
    db.execute("UPDATE meta SET value = ? WHERE key = 'state'", (json.dumps(state),))
    db.commit()
    db.close()
    (npz,) = idx.glob("state-*.npz")
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files if k != "strong"}
    np.savez(npz, **arrays)
    with Index.open(idx) as index:
        for name, data in links.items():  # found again on open
            assert (idx / f"{name}.col").read_bytes() == data
        index.add(corpus[2 * third :])
        index.commit()
    groups = [a["dup_group"] for a in final_assignments(idx, corpus)]
    assert partition_of([r["id"] for r in corpus], groups) == batch_partition(corpus, DUPS_ONLY.near_dup)


def test_pairs_added_by_a_dedup_that_did_not_keep_the_containment_links_are_picked_up(corpus, tmp_path):
    third = len(corpus) // 3
    idx = tmp_path / "idx"
    ingest(idx, corpus[:third], 1)
    db = sqlite3.connect(idx / "index.sqlite")
    first = json.loads(db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()[0])
    db.close()
    ingest(idx, corpus[third : 2 * third], 1)
    # as an older dedup leaves it: the second batch's pairs appended, its containment links not
    db = sqlite3.connect(idx / "index.sqlite")
    state = json.loads(db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()[0])
    assert state["links"] > first["links"]  # the second batch did bring containment links
    state["links"], state["links_of_edges"] = first["links"], first["edges"]
    db.execute("UPDATE meta SET value = ? WHERE key = 'state'", (json.dumps(state),))
    db.commit()
    db.close()
    with Index.open(idx) as index:
        assert index.state["links"] > first["links"]  # found again from the pairs
        index.add(corpus[2 * third :])
        index.commit()
    groups = [a["dup_group"] for a in final_assignments(idx, corpus)]
    assert partition_of([r["id"] for r in corpus], groups) == batch_partition(corpus, DUPS_ONLY.near_dup)


def test_a_pair_exactly_at_the_containment_threshold_links_as_in_a_batch_run(tmp_path):
    words = [f"w{k}x" for k in range(60)]
    full = {"id": "long", "title": "", "text": " ".join(words) + "."}
    # 21 of the brief's 30 shingles are the long article's: containment exactly 0.7, Jaccard 0.31
    brief = {"id": "brief", "title": "", "text": " ".join(words[:23] + [f"q{k}z" for k in range(9)]) + "."}
    batch = find_near_duplicates([full, brief], DUPS_ONLY.near_dup)
    assert batch.pairs.containment.tolist() == [0.7]
    assert [a.dup_group for a in batch.assignments()] == ["long", "long"]
    with Index.open(tmp_path / "idx", DUPS_ONLY) as index:
        index.add([full])
        index.commit()
        assert index.add([brief])[0]["dup_group"] == "long"


def test_each_group_has_one_canonical_article_and_is_named_after_its_first_member(corpus, tmp_path):
    ingest(tmp_path / "idx", corpus, 4)
    final = final_assignments(tmp_path / "idx", corpus)
    position = {r["id"]: k for k, r in enumerate(corpus)}
    members: dict = {}
    for record, a in zip(corpus, final, strict=True):
        members.setdefault(a["dup_group"], []).append((record["id"], a["is_canonical"]))
    for group, items in members.items():
        assert sum(canonical for _, canonical in items) == 1
        assert position[group] == min(position[i] for i, _ in items)


def test_add_times_stage1_step_by_step(corpus, tmp_path):
    with Index.open(tmp_path / "idx", DUPS_ONLY) as index:
        index.add(corpus[:300])
        steps = ("tokenize", "shingle", "minhash", "candidates", "verify", "groups")
        assert set(index.timings) == {"stage1", "stories", *steps}
        assert all(index.timings[s] >= 0 for s in steps)
        assert sum(index.timings[s] for s in steps) == pytest.approx(index.timings["stage1"], abs=1e-3)


def test_texts_cleaned_by_the_caller_give_the_same_groups(corpus, tmp_path):
    from dedup.normalize import article_text

    half = len(corpus) // 2
    texts = [article_text(r["title"], r["text"]) for r in corpus]
    rows = {}
    encoded = [t.encode() for t in texts]
    for name, given in (("own", None), ("given", texts), ("encoded", encoded)):
        with Index.open(tmp_path / name, DUPS_ONLY) as index:
            rows[name] = index.add(corpus[:half], texts=given and given[:half])
            index.commit()
            rows[name] += index.add(corpus[half:], texts=given and given[half:])
    assert rows["given"] == rows["own"] and rows["encoded"] == rows["own"]
    # the index shingles the texts it is given: make one article's text another's
    a, b = next(
        (i, j)
        for i in range(half)
        for j in range(i + 1, half)
        if rows["own"][i]["dup_group"] != rows["own"][j]["dup_group"] and len(texts[i]) > 1000
    )
    swapped = texts[:half]
    swapped[b] = texts[a]
    with Index.open(tmp_path / "swapped", DUPS_ONLY) as index:
        out = index.add(corpus[:half], texts=swapped)
    assert out[b]["dup_group"] == out[a]["dup_group"]
    with Index.open(tmp_path / "own", DUPS_ONLY) as index, pytest.raises(ValueError, match="one per record"):
        index.add([dict(corpus[0], id="another")], texts=[])


def test_group_ids_are_stable_when_a_later_batch_adds_copies(corpus, tmp_path):
    half = len(corpus) // 2
    with Index.open(tmp_path / "idx", DUPS_ONLY) as index:
        first = index.add(corpus[:half])
        index.commit()
        index.add(corpus[half:])
        index.commit()
        later = index.lookup([r["id"] for r in corpus[:half]])
    moved = [row["id"] for row in first if later[row["id"]]["dup_group"] != row["dup_group"]]
    # a group only changes its id when it merges into an older one, which keeps the older id
    for aid in moved:
        assert corpus.index(next(r for r in corpus if r["id"] == later[aid]["dup_group"])) < half


def test_a_repeated_id_is_refused_and_leaves_the_index_as_it_was(corpus, tmp_path):
    with Index.open(tmp_path / "idx", DUPS_ONLY) as index:
        index.add(corpus[:50])
        index.commit()
        with pytest.raises(DuplicateIdError):
            index.add(corpus[50:60] + corpus[:1])
        assert len(index) == 50
        with pytest.raises(DuplicateIdError):
            index.add([corpus[70], corpus[70]])
        assert index.stats()["articles"] == 50


def test_rollback_and_close_forget_uncommitted_articles(corpus, tmp_path):
    with Index.open(tmp_path / "idx", DUPS_ONLY) as index:
        index.add(corpus[:40])
        index.commit()
        index.add(corpus[40:80])
        index.rollback()
        assert len(index) == 40
        index.add(corpus[40:80])
    index.close()
    index = Index.open(tmp_path / "idx")
    index.add(corpus[80:90])
    index.close()  # closed without commit
    with Index.open(tmp_path / "idx") as again:
        assert again.stats()["articles"] == 80  # the context manager committed the second batch
        assert again.lookup([corpus[85]["id"]]) == {}


# -- crash safety ------------------------------------------------------------------------------------

CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    import orjson
    import dedup.index as ix

    path, data, target, after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    records = [orjson.loads(line) for line in open(data, "rb")]
    calls = {"n": 0}
    real = getattr(ix, target)

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    with ix.Index.open(path, ix.IndexConfig(stories=None)) as index:
        index.add(records[:300])
        index.commit()
        setattr(ix, target, dying)
        index.add(records[300:])
        index.commit()
    """
)


@pytest.mark.parametrize(
    ("target", "after"),
    [
        ("attach_contained", 0),  # killed while adding (before any commit work)
        ("_append", 0),  # killed on the first file append of the commit
        ("_append", 4),  # ... in the middle of the appends
        ("_transaction", 0),  # ... with every file written, before the SQLite commit point
    ],
)
def test_sigkill_during_add_or_commit_leaves_exactly_the_committed_batches(corpus, tmp_path, target, after):
    data = write_jsonl(tmp_path / "corpus.jsonl", corpus[:600])
    script = tmp_path / "crash.py"
    script.write_text(CRASHER)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "idx"), str(data), target, str(after)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Index.open(tmp_path / "idx") as index:
        assert index.stats()["articles"] == 300
        assert index.lookup([corpus[300]["id"], corpus[599]["id"]]) == {}
        assert len(index.lookup([corpus[0]["id"], corpus[299]["id"]])) == 2
        index.add(corpus[300:600])  # the lost batch goes in again
        index.commit()
    groups = [a["dup_group"] for a in final_assignments(tmp_path / "idx", corpus[:600])]
    expected = batch_partition(corpus[:600], DUPS_ONLY.near_dup)
    assert partition_of([r["id"] for r in corpus[:600]], groups) == expected


def test_a_second_writer_gets_a_clear_error(tmp_path):
    with Index.open(tmp_path / "idx", DUPS_ONLY), pytest.raises(IndexLocked, match="one writer at a time"):
        Index.open(tmp_path / "idx")
    with Index.open(tmp_path / "idx"):  # released on close
        pass


def test_a_writer_in_another_process_holds_the_lock(tmp_path):
    Index.open(tmp_path / "idx", DUPS_ONLY).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from dedup.index import Index; i = Index.open(sys.argv[1]); "
            "print('open', flush=True); time.sleep(60)",
            str(tmp_path / "idx"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(IndexLocked, match=str(holder.pid)):
            Index.open(tmp_path / "idx")
    finally:
        holder.kill()
        holder.wait()
    Index.open(tmp_path / "idx").close()  # a killed writer leaves no stale lock


def test_stage1_settings_are_fixed_when_the_index_is_created(tmp_path):
    Index.open(tmp_path / "idx", DUPS_ONLY).close()
    other = IndexConfig(NearDupConfig(threshold=0.6), stories=None)
    with pytest.raises(IndexMismatch, match="stage-1"):
        Index.open(tmp_path / "idx", other)
    with Index.open(tmp_path / "idx", other, keep_stage1=True) as index:
        assert index.config.near_dup.threshold == DUPS_ONLY.near_dup.threshold


# -- retention ---------------------------------------------------------------------------------------


def test_retention_drops_old_articles_from_matching_but_keeps_their_assignments(corpus, tmp_path):
    source = next(r for r in corpus if len(r["text"]) > 1500)
    old = dict(source, id="old", published_at="2024-01-01T08:00:00Z")
    filler = dict(corpus[1], id="filler", published_at="2024-03-15T08:00:00Z")
    copy_in_window = dict(source, id="copy-1", published_at="2024-01-20T08:00:00Z")
    copy_late = dict(source, id="copy-2", published_at="2024-03-16T08:00:00Z")
    config = IndexConfig(stories=None, retain_days=30)
    with Index.open(tmp_path / "idx", config) as index:
        index.add([old])
        index.commit()
        assert index.add([copy_in_window])[0]["dup_group"] == "old"
        index.commit()
        index.add([filler])  # the newest article moves the retention window past January
        index.commit()
        row = index.add([copy_late])[0]
        index.commit()
        assert row["dup_group"] == "copy-2" and row["is_canonical"]
        assert index.lookup(["old"])["old"]["dup_group"] == "old"
        assert index.stats()["active_articles"] == 2


def test_merged_lsh_runs_hold_every_active_article_in_every_band(corpus, tmp_path):
    """Runs merge as the index grows (the newer ones once they are many or a quarter of the
    oldest); a merge drops the articles past retention from every band and keeps all others."""
    from dedup.index import _MAX_RUNS, _merge_from

    assert _merge_from([100]) is None and _merge_from([100, 20, 5]) is None
    assert _merge_from([100, 20, 6]) == 0  # the newer runs hold more than a quarter of the oldest
    assert _merge_from([100] + [1] * _MAX_RUNS) == 1  # too many runs: the newer ones merge
    records = [
        dict(r, published_at=f"2024-{1 + k * 6 // len(corpus):02d}-{1 + k % 28:02d}T08:00:00Z")
        for k, r in enumerate(corpus)
    ]
    full_merges = 0
    with Index.open(tmp_path / "idx", IndexConfig(stories=None, retain_days=45)) as index:
        for part in np.array_split(np.arange(len(records)), 12):
            index.add([records[i] for i in part])
            index.commit()
            assert len(index.runs) <= _MAX_RUNS
            active = index._active(len(index))
            for run in index.runs:
                for kind in ("main", "lead"):
                    members = set(run[f"{kind}_docs"][0].tolist())
                    assert all(set(band.tolist()) == members for band in run[f"{kind}_docs"])
                    assert all((band[1:] >= band[:-1]).all() for band in run[f"{kind}_keys"])
            if len(index.runs) == 1 and len(index) > len(part):  # all runs merged by this commit
                assert active[index.runs[0]["main_docs"]].all()  # past retention: gone from every band
                full_merges += not active.all()
        assert full_merges >= 1  # one at least that dropped some
    # and the groups are still exactly those of one batch run where retention drops nothing
    ingest(tmp_path / "plain", corpus, 12)
    groups = [a["dup_group"] for a in final_assignments(tmp_path / "plain", corpus)]
    assert partition_of([r["id"] for r in corpus], groups) == batch_partition(corpus, DUPS_ONLY.near_dup)


# -- stories -----------------------------------------------------------------------------------------


def fast_config(static_dir, tmp_path, **settings) -> IndexConfig:
    cache = tmp_path / "cache"
    if not cache.exists():
        shutil.copytree(static_dir, cache)
    return IndexConfig(stories=StoryConfig(fast=True, cache_dir=str(cache), **settings))


def test_stories_in_two_batches_match_the_events_and_keep_their_ids(static_dir, tmp_path):
    records = build_events()
    ids = [r["id"] for r in records]
    config = fast_config(static_dir, tmp_path, threshold=0.3)
    with Index.open(tmp_path / "idx", config) as index:
        first = index.add(records[: len(records) // 2])
        index.commit()
        index.add(records[len(records) // 2 :])
        index.commit()
        final = index.lookup(ids)
    assert partition_of(ids, [final[i]["story"] for i in ids]) == event_partition(ids)
    for row in first:  # the stories of the first batch keep their ids
        assert final[row["id"]]["story"] == row["story"]
    for i in ids:  # copies share their canonical article's story
        assert final[i]["story"] == final[final[i]["dup_group"]]["story"]


def test_a_later_article_joins_stored_stories_and_merges_them_under_the_older_id(
    corpus, tmp_path, monkeypatch
):
    # story vectors are set by hand (by headline), so the test is about the bookkeeping, not a model
    texts = [r for r in corpus if len(r["text"]) > 1500][:3]
    a, b = np.eye(2, dtype=np.float32)
    vector = {"A": a, "B": b, "far": -a, "bridge": (a + b) / np.sqrt(2)}

    def fake_story_vectors(self, story_texts):
        return np.stack([vector[t.split(".")[0]] for t in story_texts]), 0.3

    monkeypatch.setattr(Index, "_story_vectors", fake_story_vectors)
    day = "2024-05-0{}T08:00:00Z"
    first = [
        dict(texts[0], id="a", title="A", published_at=day.format(1)),
        dict(texts[1], id="b", title="B", published_at=day.format(2)),
        dict(texts[1], id="b-copy", title="B", published_at=day.format(3)),
    ]
    config = IndexConfig(stories=StoryConfig(fast=True, cache_dir=str(tmp_path)))
    with Index.open(tmp_path / "idx", config) as index:
        rows = index.add(first)
        index.commit()
        assert [r["story"] for r in rows] == ["a", "b", "b"]
        far = index.add([dict(texts[2], id="c", title="far", published_at=day.format(3))])
        index.commit()
        assert far[0]["story"] == "c"  # nothing near: a story of its own
        bridge = dict(
            texts[2], id="d", title="bridge", text=texts[2]["text"][::-1], published_at=day.format(3)
        )
        assert index.add([bridge])[0]["story"] == "a"  # close to both stored stories: they merge
        index.commit()
        final = index.lookup(["a", "b", "b-copy", "c", "d"])
    assert {k: v["story"] for k, v in final.items()} == {
        "a": "a",
        "b": "a",
        "b-copy": "a",
        "c": "c",
        "d": "a",
    }


def test_an_index_with_name_features_in_the_older_pickle_layout_assigns_the_same_stories(
    corpus, static_dir, tmp_path
):
    import pickle

    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    from dedup.lexical import NameSpace, name_tokens

    config = fast_config(static_dir, tmp_path)
    ingest(tmp_path / "new", corpus[:300], 1, config)
    shutil.copytree(tmp_path / "new", tmp_path / "old")
    # what earlier versions stored: the fitted scikit-learn objects themselves
    space = NameSpace.load(tmp_path / "old" / "names.npz")
    tfidf = TfidfVectorizer(analyzer=name_tokens, min_df=2, sublinear_tf=True, dtype=np.float32)
    tfidf.vocabulary_ = {term: j for j, term in enumerate(space.terms)}
    tfidf.idf_ = space.idf
    svd = TruncatedSVD(len(space.components))
    svd.components_ = space.components
    with open(tmp_path / "old" / "names.pkl", "wb") as f:
        pickle.dump({"vectorizer": tfidf, "svd": svd, "dims": config.stories.name_dims}, f)
    (tmp_path / "old" / "names.npz").unlink()
    rows = {}
    for name in ("new", "old"):
        with Index.open(tmp_path / name) as index:
            rows[name] = index.add(corpus[300:600])
    assert rows["old"] == rows["new"]
    assert len({r["story"] for r in rows["new"]}) > 10


def test_story_model_settings_are_fixed_when_the_index_is_created(static_dir, tmp_path):
    Index.open(tmp_path / "idx", fast_config(static_dir, tmp_path)).close()
    with pytest.raises(IndexMismatch, match="story features"):
        Index.open(tmp_path / "idx", IndexConfig())
    with Index.open(tmp_path / "idx", fast_config(static_dir, tmp_path, threshold=0.2)) as index:
        assert index.config.stories.threshold == 0.2  # the threshold may change between runs


def test_an_index_from_before_the_static_blend_keeps_embedding_with_the_transformer_alone(tmp_path):
    # indexes written before static_weight existed stored no such field: their vectors are MiniLM's
    config = IndexConfig(stories=StoryConfig(max_seq_length=64, static_weight=0.0, cache_dir=str(tmp_path)))
    Index.open(tmp_path / "idx", config).close()
    db = sqlite3.connect(tmp_path / "idx" / "index.sqlite")
    stored = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    assert stored["stories"].pop("static_weight") == 0.0
    with db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(stored),))
    db.close()
    assert Index.stored_config(tmp_path / "idx").stories.static_weight == 0.0
    with Index.open(tmp_path / "idx") as index:
        assert index.config.stories.blend_weight == 0.0
    with pytest.raises(IndexMismatch, match="story features"):  # today's default blends: not comparable
        Index.open(tmp_path / "idx", IndexConfig(stories=StoryConfig(max_seq_length=64)))


@pytest.mark.skipif(not (SHARED_DATA / "uci_stories.jsonl").exists(), reason="needs ../shared/data")
def test_story_assignments_agree_with_a_batch_run_on_real_headlines(static_dir, tmp_path):
    from dedup.pipeline import Pipeline, PipelineConfig

    records = [orjson.loads(line) for line in (SHARED_DATA / "uci_stories.jsonl").read_bytes().splitlines()]
    config = fast_config(static_dir, tmp_path)
    batch = Pipeline(PipelineConfig(near_dup=config.near_dup, stories=config.stories)).run(records)
    ingest(tmp_path / "idx", records, 3, config)
    final = final_assignments(tmp_path / "idx", records)
    assert score_labels([a["story"] for a in final], batch.story).ari >= 0.95


# -- the command line --------------------------------------------------------------------------------


def test_cli_ingest_twice_then_rejects_known_ids(corpus, tmp_path, static_dir):
    runner = CliRunner()
    first = write_jsonl(tmp_path / "a.jsonl", corpus[:200])
    second = write_jsonl(tmp_path / "b.jsonl", corpus[200:400])
    index = tmp_path / "idx"
    cache = tmp_path / "cache"
    shutil.copytree(static_dir, cache)
    args = ["ingest", "--index", str(index), "-q"]
    result = runner.invoke(
        app, [*args, str(first), "-o", str(tmp_path / "a.out"), "--fast", "--cache-dir", str(cache)]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*args, str(second), "-o", str(tmp_path / "b.out"), "--retain", "30d"])
    assert result.exit_code == 0, result.output
    out = read_jsonl(tmp_path / "b.out")
    assert [r["id"] for r in out] == [r["id"] for r in corpus[200:400]]
    assert all({"dup_group", "is_canonical", "story"} <= set(r) for r in out)
    assert Index.stored_config(index).stories.fast  # the model chosen at creation is kept
    # the same batch again: every line is a known id
    result = runner.invoke(app, [*args, str(second), "-o", str(tmp_path / "c.out")])
    assert result.exit_code == 1
    assert f"{second}:1: id {corpus[200]['id']!r} is already in the index" in result.stderr
    result = runner.invoke(
        app,
        [
            *args,
            str(second),
            "-o",
            str(tmp_path / "c.out"),
            "--on-error",
            "skip",
            "--rejects",
            str(tmp_path / "r.jsonl"),
        ],
    )
    assert result.exit_code == 0
    assert read_jsonl(tmp_path / "c.out") == []
    assert len(read_jsonl(tmp_path / "r.jsonl")) == 200
    with Index.open(index) as idx:
        assert idx.stats()["articles"] == 400


def test_cli_ingest_with_worker_processes_gives_the_same_output_and_rejects(corpus, tmp_path, monkeypatch):
    import dedup.runner as runner_module

    monkeypatch.setattr(runner_module, "_CHUNK_BYTES", 20_000)  # many ranges
    monkeypatch.setattr(runner_module, "_MIN_PARALLEL_BYTES", 0)  # workers even for a small file
    lines = [orjson.dumps(r).decode() + "\n" for r in corpus[:300]]
    lines[40] = "{broken\n"
    lines[90] = orjson.dumps(corpus[10]).decode() + "\n"  # an id seen before in this input
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    results = []
    for workers in ("1", "2"):
        out, rejects = tmp_path / f"out{workers}.jsonl", tmp_path / f"rejects{workers}.jsonl"
        args = ["ingest", "--index", str(tmp_path / f"idx{workers}"), str(path), "-o", str(out), "-q"]
        args += ["--no-stories", "--workers", workers, "--on-error", "skip", "--rejects", str(rejects)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        results.append((out.read_bytes(), [(r["line"], r["reason"]) for r in read_jsonl(rejects)]))
    assert results[0] == results[1]
    assert [line for line, _ in results[0][1]] == [41, 91]
    assert len(read_jsonl(tmp_path / "out2.jsonl")) == 298


def test_cli_ingest_errors_are_clear(tmp_path):
    runner = CliRunner()
    data = write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "title": "t", "text": "short"}])
    result = runner.invoke(app, ["ingest", "--index", str(tmp_path / "idx"), str(data), "--retain", "soon"])
    assert result.exit_code == 2 and "30d" in result.stderr
    with Index.open(tmp_path / "idx", DUPS_ONLY):
        result = runner.invoke(app, ["ingest", "--index", str(tmp_path / "idx"), str(data)])
    assert result.exit_code == 1 and "one writer at a time" in result.stderr
    assert os.listdir(tmp_path).count("idx") == 1


@pytest.mark.parametrize("rule", ["earliest", "longest"])
def test_canonical_flags_ask_only_for_the_ids_of_tied_articles(rule):
    from dedup.groups import choose_canonical
    from dedup.index import _canonical_flags
    from dedup.neardup import _id_rank

    rng = np.random.default_rng(5)
    n = 400
    labels = np.sort(rng.integers(0, 60, n))
    labels = np.searchsorted(np.unique(labels), labels)
    dates = rng.choice([1.0, 2.0, np.nan], n)  # few values: many ties
    lengths = rng.integers(5, 8, n)
    ids = [f"a{k}" if k % 3 else k for k in rng.permutation(n).tolist()]  # strings and integers
    asked: list[int] = []

    def ids_of(subset):
        asked.extend(subset.tolist())
        return [ids[i] for i in subset]

    got = _canonical_flags(labels, dates, lengths, ids_of, rule)
    winner = choose_canonical(labels, dates, lengths, _id_rank(ids, np.arange(n)), rule)
    assert got.tolist() == (winner == np.arange(n)).tolist()
    assert 0 < len(asked) < n / 2
