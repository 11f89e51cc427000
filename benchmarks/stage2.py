"""Stage 2 benchmark pieces, each run as its own process by ``bench.py stage2``.

    python benchmarks/stage2.py embed MODE INPUT N        # embedding throughput of one mode
    python benchmarks/stage2.py cluster N                 # dedup's clustering of N generated embeddings
    python benchmarks/stage2.py baseline N                # BERTopic-style baseline on the same embeddings
    python benchmarks/stage2.py quality                   # story quality on the UCI headlines (CV)
    python benchmarks/stage2.py seqlen [N]                # default model: speed vs word pieces read

Each prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent.parent / "shared" / "data"
CACHE = ROOT / "data" / "cache"


def _jsonl(path: Path) -> list[dict]:
    import orjson

    with open(path, "rb") as f:
        return [orjson.loads(line) for line in f]


def _texts(kind: str, n: int) -> list[str]:
    """Headline + lead of BBC articles (or of generated ones), or UCI headlines."""

    from dedup.config import StoryConfig
    from dedup.pipeline import story_text
    from dedup.records import article_from_record

    if kind == "headlines":
        path = SHARED / "uci_stories.jsonl"
        rows = _jsonl(path) if path.exists() else []
        titles = [r["title"] for r in rows] or [
            f"Headline number {i} about a fictional event" for i in range(n)
        ]
        return (titles * (n // len(titles) + 1))[:n]
    path = SHARED / "bbc_articles.jsonl"
    if path.exists():
        rows = _jsonl(path)
    else:
        from dedup.synth import synthetic_bases

        rows = [{"id": i, **b} for i, b in enumerate(synthetic_bases(500, seed=1))]
    arts = [
        article_from_record({"id": i, "title": r["title"], "text": r["text"]}) for i, r in enumerate(rows)
    ]
    lead = StoryConfig().lead_words
    texts = [story_text(a, lead if kind == "lead" else 10_000) for a in arts]
    return (texts * (n // len(texts) + 1))[:n]


def embed(mode: str, kind: str, n: int) -> dict:
    from dedup.config import StoryConfig
    from dedup.embed import load_embedder

    t0 = time.perf_counter()
    model = "static" if mode == "fast" else "minilm"
    seq = StoryConfig().max_seq_length
    embedder = load_embedder(model, max_seq_length=seq, cache_dir=str(CACHE))
    load = time.perf_counter() - t0
    texts = _texts(kind, n)
    embedder.encode(texts[:32])  # warm-up
    t1 = time.perf_counter()
    embedder.encode(texts)
    secs = time.perf_counter() - t1
    return {"mode": mode, "input": kind, "n": n, "docs_per_s": n / secs, "load_s": load, "seconds": secs}


def generated(n: int, dim: int = 384, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors around story centres (sizes heavy-tailed), times within a few days of the story."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.zipf(1.8, size=n), 300)
    sizes = sizes[np.cumsum(sizes) <= n]
    sizes = np.append(sizes, n - sizes.sum()) if sizes.sum() < n else sizes
    labels = np.repeat(np.arange(len(sizes)), sizes)[:n]
    centres = rng.standard_normal((len(sizes), dim)).astype(np.float32)
    vectors = centres[labels] + 0.9 * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim) * 12
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = rng.uniform(0, 30 * 86400, len(sizes))
    times = start[labels] + rng.exponential(12 * 3600, n)
    perm = rng.permutation(n)
    return vectors[perm], times[perm], labels[perm]


def cluster(n: int) -> dict:
    from dedup.evaluate import score_labels
    from dedup.stories import cluster_stories

    vectors, times, truth = generated(n)
    t0 = time.perf_counter()
    labels = cluster_stories(vectors, times, threshold=0.5, window_days=3.0)
    secs = time.perf_counter() - t0
    s = score_labels(labels, truth)
    return {
        "tool": "dedup",
        "n": n,
        "seconds": secs,
        "bcubed_f1": s.bcubed_f1,
        "ari": s.ari,
        "stories": int(labels.max() + 1),
    }


def baseline(n: int) -> dict:
    """BERTopic's recipe without its topic layer: reduce dimensions, then HDBSCAN (scikit-learn's)."""
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA

    from dedup.evaluate import score_labels

    vectors, _, truth = generated(n)
    t0 = time.perf_counter()
    reduced = PCA(5, random_state=0).fit_transform(
        vectors
    )  # UMAP's role in BERTopic (umap-learn not installed)
    labels = HDBSCAN(min_cluster_size=2).fit_predict(reduced)
    secs = time.perf_counter() - t0
    labels = np.where(labels < 0, np.arange(n) + labels.max() + 1, labels)  # noise points are singletons
    s = score_labels(labels, truth)
    return {"tool": "pca+hdbscan", "n": n, "seconds": secs, "bcubed_f1": s.bcubed_f1, "ari": s.ari}


def quality() -> dict:
    """Cross-validated story quality on the UCI headlines: dedup default, fast, and the plain baselines."""

    from dedup.config import StoryConfig
    from dedup.embed import EmbeddingCache, embed_all, load_embedder
    from dedup.pipeline import story_text
    from dedup.records import article_from_record
    from dedup.tune import tune_stories

    path = SHARED / "uci_stories.jsonl"
    rows = _jsonl(path)
    arts = [article_from_record(r) for r in rows]
    truth = np.array([r["story"] for r in rows])
    times = np.full(len(rows), np.nan)  # this file's times carry no signal
    out = {}
    defaults = StoryConfig()
    grid = [round(x, 2) for x in np.arange(0.06, 0.62, 0.02)]
    for label, model, space in (
        # the shipped defaults, untouched: each fold's stories clustered alone and scored
        ("dedup defaults as shipped (MiniLM + names)", "minilm", {"threshold": [defaults.threshold]}),
        ("dedup --fast defaults as shipped (static + names)", "static", {"threshold": [defaults.threshold]}),
        ("dedup, threshold tuned on the other folds", "minilm", {"threshold": grid}),
        ("dedup --fast, threshold tuned on the other folds", "static", {"threshold": grid}),
        # the plain recipe: raw MiniLM cosines, average linkage, threshold tuned on the other folds
        (
            "plain: MiniLM + average linkage",
            "minilm",
            {"threshold": grid, "name_weight": [0.0], "baseline": [0.0]},
        ),
    ):
        config = StoryConfig(model=model)
        texts = [story_text(a, config.lead_words) for a in arts]
        embedder = load_embedder(model, max_seq_length=config.max_seq_length, cache_dir=str(CACHE))
        cache = EmbeddingCache(CACHE, embedder.name)
        embeddings = embed_all(embedder, texts, cache)
        cache.close()
        result = tune_stories(embeddings, texts, times, truth, space, config, folds=5)
        out[label] = {
            "cv_bcubed_f1": result.cv_mean,
            "cv_std": result.cv_std,
            "best": result.best,
            "all_data": result.best_scores.as_dict(),
        }
    return out


def seqlen(n: int = 800) -> dict:
    """What the default model's input length buys: docs/s per ``max_seq_length`` on BBC headline +
    lead texts, and how much of the neighbourhood each length keeps.

    Two proxies of quality (no story labels exist for full articles): the overlap of each article's
    10 nearest neighbours with those at 128 word pieces, and category purity@10 (the share of those
    neighbours in the article's own BBC category). The fast mode's static model is the reference
    row: a default setting that does no better than it has no reason to exist.
    """
    from dedup.config import StoryConfig
    from dedup.embed import load_embedder
    from dedup.pipeline import story_text
    from dedup.records import article_from_record

    path = SHARED / "bbc_articles.jsonl"
    if not path.exists():
        return {"rows": [], "note": "needs ../shared/data/bbc_articles.jsonl"}
    rows = _jsonl(path)
    rows = [rows[i] for i in np.random.default_rng(0).choice(len(rows), min(n, len(rows)), replace=False)]
    category = np.array([r["id"].split("-")[1] for r in rows])
    lead = StoryConfig().lead_words
    texts = [
        story_text(article_from_record({"id": i, "title": r["title"], "text": r["text"]}), lead)
        for i, r in enumerate(rows)
    ]

    def neighbours(v: np.ndarray) -> np.ndarray:
        s = v @ v.T
        np.fill_diagonal(s, -np.inf)
        return np.argsort(-s, axis=1)[:, :10]

    out, reference = [], None
    for length in (128, 64, 48, 32, 24, "static"):
        model = "static" if length == "static" else "minilm"
        kwargs = {} if length == "static" else {"max_seq_length": length}
        embedder = load_embedder(model, cache_dir=str(CACHE), **kwargs)
        embedder.encode(texts[:32])  # warm-up
        t = time.perf_counter()
        vectors = embedder.encode(texts)
        secs = time.perf_counter() - t
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        near = neighbours(vectors)
        if reference is None:
            reference = near
        overlap = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(reference, near, strict=True)]))
        purity = float(np.mean(category[near] == category[:, None]))
        out.append(
            {"max_seq_length": length, "docs_per_s": n / secs, "overlap_128": overlap, "purity_10": purity}
        )
    return {"n": len(texts), "rows": out}


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    what = sys.argv[1]
    if what == "embed":
        result = embed(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif what == "cluster":
        result = cluster(int(sys.argv[2]))
    elif what == "baseline":
        result = baseline(int(sys.argv[2]))
    elif what == "seqlen":
        result = seqlen(*(int(a) for a in sys.argv[2:3]))
    else:
        result = quality()
    print(json.dumps(result))
