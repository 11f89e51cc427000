"""Stage 2 on Ray: embeddings in an actor pool, stories clustered per time window, stitched.

* The canonical articles are embedded by a Ray Data actor pool: each actor loads the model once
  (on a GPU when the cluster has one and ``device`` allows it).
* The name space (TF-IDF + LSA) is fitted on the driver on up to ``NAME_SAMPLE`` canonical
  articles (all of them when there are fewer: then it equals the one-process engine) and applied
  by the actors.
* The calibration baseline (mean cosine of all pairs) is exact: it only needs the vector sum and
  the sum of squared norms, a reduction.
* Time is cut into windows of ``span`` seconds (many times the story window); each window also
  holds the first ``window_days`` of the next one. Windows are clustered in parallel (one
  ``map_groups`` call each) with :func:`~dedup.stories.cluster_stories`. A story belongs to the
  window it starts in; since stories span at most the story window, that window (with its
  overlap) saw all of it. Undated articles are clustered among themselves.
* Story records are assembled on the driver (ids, outlets, dates of every article; texts of
  canonical articles for the keywords).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import orjson

from dedup.config import StoryConfig

__all__ = ["stories_on_ray", "NAME_SAMPLE"]

NAME_SAMPLE = 50_000
SPAN_WINDOWS = 8  # a time window covers at least this many story windows
_UNDATED = -1


class _NameTable:
    """Name vectors computed on the driver, looked up by article key."""

    def __init__(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.keys, self.vectors = keys, vectors

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        return self.vectors[np.searchsorted(self.keys, keys)]


class _Embed:
    """Ray Data actor: the story vectors' inputs (embedding, name vector) of a batch."""

    def __init__(self, config: StoryConfig, names: Any) -> None:
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:  # the static model needs no torch
            pass
        from dedup.embed import story_embedder

        self.embedder = story_embedder(config)
        self.names = names

    def __call__(self, table):
        import pyarrow as pa

        from dedup.ray_engine import _maybe_fail

        _maybe_fail("embed")
        texts = table["story"].to_pylist()
        vectors = self.embedder.encode(texts)
        table = table.append_column("embedding", _matrix_column(vectors))
        if isinstance(self.names, _NameTable):
            keys = table["key"].to_numpy()
            table = table.append_column("names", _matrix_column(self.names.lookup(keys)))
        elif self.names is not None:
            table = table.append_column("names", _matrix_column(self.names.transform(texts)))
        return table.append_column("dim", pa.array(np.full(len(texts), vectors.shape[1], np.int64)))


def _matrix_column(matrix: np.ndarray):
    import pyarrow as pa

    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).ravel())
    return (
        pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])
        if len(matrix)
        else pa.nulls(0, pa.list_(pa.float32(), max(matrix.shape[1], 1)))
    )


def _matrix(column) -> np.ndarray:
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    width = arr.type.list_size
    return arr.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)


def _sums(table) -> Any:
    """Reduction input: vector sum, sum of squared norms, count, date range of a batch."""
    import pyarrow as pa

    emb = _matrix(table["embedding"]).astype(np.float64)
    dates = table["date"].to_numpy()
    dated = dates[~np.isnan(dates)]
    return pa.table(
        {
            "sum": _matrix_column(emb.sum(axis=0, keepdims=True)),
            "sq": [float(np.einsum("ij,ij->", emb, emb))],
            "n": [len(emb)],
            "tmin": [float(dated.min()) if len(dated) else math.inf],
            "tmax": [float(dated.max()) if len(dated) else -math.inf],
        }
    )


def _with_chunks(
    table,
    *,
    t0: float,
    span: float,
    overlap: float,
    config: StoryConfig,
    baseline: float,
    mean: np.ndarray | None,
):
    """Story vectors of a batch, each row placed in its window (and a copy in the previous one when
    it lies in that window's overlap)."""
    import pyarrow as pa

    from dedup.lexical import story_vectors

    emb = _matrix(table["embedding"])
    if mean is not None:  # centring with the corpus mean, as lexical.centred does
        shifted = emb - mean.astype(np.float32)
        emb = (shifted / np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    names = _matrix(table["names"]) if "names" in table.column_names else None
    vectors = story_vectors(emb, names, config.name_weight, False, baseline)
    dates = table["date"].to_numpy()
    chunk = np.full(len(dates), _UNDATED, dtype=np.int64)
    dated = ~np.isnan(dates)
    chunk[dated] = np.floor((dates[dated] - t0) / span).astype(np.int64)
    offset = dates - (t0 + chunk * span)
    # context: the previous window reads 2 story windows past its end, the next one 1 before its start
    into_previous = dated & (chunk > 0) & (offset < 2 * overlap)
    into_next = dated & (offset >= span - overlap)
    rows = np.concatenate([np.arange(len(dates)), np.flatnonzero(into_previous), np.flatnonzero(into_next)])
    home = np.zeros(len(rows), np.bool_)
    home[: len(dates)] = True
    chunks = np.concatenate([chunk, chunk[into_previous] - 1, chunk[into_next] + 1])
    taken = table.select(["key", "date"]).take(pa.array(rows))
    return (
        taken.append_column("chunk", pa.array(chunks))
        .append_column("home", pa.array(home))
        .append_column("vector", _matrix_column(vectors[rows]))
        .append_column("embedding", _matrix_column(emb[rows]))
    )


def _cluster_window(batch: dict, *, threshold: float, window_days: float, k: int) -> dict:
    """map_groups: cluster one window; per row its label and closeness to its story's centre."""
    from dedup.ray_engine import _maybe_fail
    from dedup.stories import cluster_stories

    _maybe_fail("cluster")
    order = np.argsort(batch["key"], kind="stable")  # input order, whatever the shuffle did
    batch = {name: col[order] for name, col in batch.items()}
    vectors = (
        np.stack(batch["vector"]).astype(np.float32) if batch["vector"].dtype == object else batch["vector"]
    )
    emb = (
        np.stack(batch["embedding"]).astype(np.float32)
        if batch["embedding"].dtype == object
        else batch["embedding"]
    )
    labels = cluster_stories(vectors, batch["date"], threshold=threshold, window_days=window_days, k=k)
    n = int(labels.max()) + 1 if len(labels) else 0
    centroid = np.zeros((n, emb.shape[1]), dtype=np.float64)
    np.add.at(centroid, labels, emb)
    centroid /= np.maximum(np.linalg.norm(centroid, axis=1, keepdims=True), 1e-12)
    closeness = np.einsum("ij,ij->i", emb, centroid[labels])
    return {
        "key": batch["key"],
        "chunk": batch["chunk"],
        "home": batch["home"],
        "date": batch["date"],
        "label": labels,
        "closeness": closeness,
    }


def _stitch(rows: dict, t0: float, span: float) -> tuple[np.ndarray, np.ndarray]:
    """Canonical keys (sorted) and a story number for each.

    A window's story *owns* its articles when it starts inside the window (not in the overlap it
    shares with the previous window). Stories span at most the story window, so a story that
    starts in a window lies wholly inside it and its overlap: that window saw every article it
    can hold. An article in an overlap takes the previous window's story if that story is owned
    there, and its own window's story otherwise.
    """
    piece = rows["chunk"] * (1 << 31) + rows["label"]
    pieces, inverse = np.unique(piece, return_inverse=True)
    dates = np.where(np.isnan(rows["date"]), np.inf, rows["date"])
    start = np.full(len(pieces), np.inf)
    np.minimum.at(start, inverse, dates)
    chunk_of_piece = pieces >> 31
    core_start = t0 + chunk_of_piece * span
    owned = (chunk_of_piece == _UNDATED) | ((start >= core_start) & (start < core_start + span))
    # per article: a story owned by the window that holds it (the earliest), else its home story
    prefer = np.where(owned[inverse], 0, np.where(rows["home"], 1, 2))
    order = np.lexsort((rows["chunk"], prefer, rows["key"]))
    keys = rows["key"][order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = keys[1:] != keys[:-1]
    chosen = inverse[order][first]
    _, story = np.unique(chosen, return_inverse=True)
    return keys[first], story.astype(np.int64)


def stories_on_ray(run, sig, config: StoryConfig, parts: int) -> None:
    """Stage 2 for a :class:`~dedup.ray_engine.RayRun`: fills ``story_keys``, ``story_ids``, ``stories``."""
    import pyarrow as pa
    import ray
    import ray.data

    from dedup.describe import StoryMember, story_keywords, story_records
    from dedup.lexical import NameSpace, shrunk_baseline, story_threshold
    from dedup.neardup import _id_rank
    from dedup.pipeline import reference_baseline

    clock = [time.perf_counter()]

    def _lap(name: str) -> None:
        now = time.perf_counter()
        run.seconds[f"stories_{name}"] = round(now - clock[0], 3)
        clock[0] = now

    not_canonical = np.sort(run.members[run.members != run.canonical])

    def canonical_only(table):
        keys = table["key"].to_numpy()
        return table.filter(pa.array(~np.isin(keys, not_canonical)))

    canon = sig.select_columns(["key", "id", "date", "title", "story"]).map_batches(
        canonical_only, batch_format="pyarrow", batch_size=None
    )
    n_canon = run.articles - len(not_canonical)
    names = None
    if config.name_weight > 0 and n_canon >= 3:
        sample = canon if n_canon <= NAME_SAMPLE else canon.random_sample(NAME_SAMPLE / n_canon, seed=0)
        rows = sample.select_columns(["key", "story"]).take_all()
        _lap("names")
        fitted = NameSpace.fit([row["story"] for row in rows], config.name_dims)
        if fitted is not None and n_canon <= NAME_SAMPLE:
            # every canonical article is in the fit: use its vectors as fitted, as one process does
            keys = np.asarray([row["key"] for row in rows], dtype=np.int64)
            order = np.argsort(keys)
            names = _NameTable(keys[order], fitted[1][order])
        elif fitted is not None:
            names = fitted[0]
    gpus = int(ray.cluster_resources().get("GPU", 0))
    use_gpu = gpus > 0 and config.device in ("auto", "cuda")
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    embedded = canon.map_batches(
        _Embed,
        fn_constructor_kwargs={"config": config, "names": names},
        batch_size=max(config.batch_size, 256),
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=gpus if use_gpu else cpus),
        num_gpus=1 if use_gpu else 0,
    ).materialize()
    _lap("embed")

    sums = embedded.map_batches(_sums, batch_format="pyarrow", batch_size=None).take_all()
    total = np.sum([np.asarray(r["sum"], dtype=np.float64) for r in sums], axis=0) if sums else None
    n = int(sum(r["n"] for r in sums))
    squares = float(sum(r["sq"] for r in sums))
    tmin = min((r["tmin"] for r in sums), default=math.inf)
    tmax = max((r["tmax"] for r in sums), default=-math.inf)
    mean = None
    baseline = config.baseline
    if config.center:
        mean = total / max(n, 1) if total is not None else None
        baseline = 0.0
    elif baseline is None:
        from dedup.embed import story_embedder

        corpus = float((total @ total - squares) / (n * (n - 1))) if n >= 2 else 0.0
        embedder = story_embedder(config, device="cpu")
        baseline = shrunk_baseline(corpus, n, reference_baseline(embedder, config))

    window = config.window_days * 86400.0 if config.window_days and config.window_days > 0 else math.inf
    if math.isfinite(tmin) and math.isfinite(window):
        span = max(SPAN_WINDOWS * window, (tmax - tmin) / (2 * parts))
        t0, overlap = tmin, window
    else:  # no dates, or no window: one piece
        span, t0, overlap = math.inf, tmin if math.isfinite(tmin) else 0.0, 0.0
    threshold = story_threshold(config.threshold, config.name_weight, names is not None, baseline)
    placed = embedded.map_batches(
        _with_chunks,
        batch_format="pyarrow",
        batch_size=None,
        fn_kwargs={
            "t0": t0,
            "span": span,
            "overlap": overlap,
            "config": config,
            "baseline": baseline,
            "mean": mean,
        },
    )
    clustered = placed.groupby("chunk").map_groups(
        _cluster_window,
        batch_format="numpy",
        fn_kwargs={"threshold": threshold, "window_days": config.window_days, "k": config.k},
    )
    rows = {name: [] for name in ("key", "chunk", "home", "date", "label", "closeness")}
    for batch in clustered.iter_batches(batch_format="numpy", batch_size=None):
        for name in rows:
            rows[name].append(batch[name])
    cols = {name: np.concatenate(v) if v else np.empty(0) for name, v in rows.items()}
    cols["key"] = cols["key"].astype(np.int64)
    cols["chunk"] = cols["chunk"].astype(np.int64)
    cols["label"] = cols["label"].astype(np.int64)
    cols["home"] = cols["home"].astype(np.bool_)
    keys, story = _stitch(cols, t0, span)
    _lap("cluster")

    # every article's id, outlet and date (duplicates too), in input order; texts of canonical ones
    everything = {"key": [], "id": [], "outlet": [], "date": []}
    for batch in sig.select_columns(list(everything)).iter_batches(batch_format="pyarrow", batch_size=None):
        for name in everything:
            everything[name].extend(batch[name].to_pylist())
    canon_text = {"key": [], "title": [], "story": []}
    for batch in canon.select_columns(list(canon_text)).iter_batches(batch_format="pyarrow", batch_size=None):
        for name in canon_text:
            canon_text[name].extend(batch[name].to_pylist())
    text_order = np.argsort(np.asarray(canon_text["key"], dtype=np.int64), kind="stable")  # aligned with keys
    all_keys = np.asarray(everything["key"], dtype=np.int64)
    order = np.argsort(all_keys, kind="stable")
    ids = [orjson.loads(everything["id"][i]) for i in order]
    all_keys = all_keys[order]
    pos = np.searchsorted(all_keys, keys)
    dates = np.asarray(everything["date"], dtype=np.float64)[order]
    # story id: its earliest canonical article (undated last), then the smallest id
    date_key = np.where(np.isnan(dates[pos]), np.inf, dates[pos])
    rank = _id_rank(ids, pos)[pos]
    first_order = np.lexsort((rank, date_key, story))
    first = np.ones(len(first_order), dtype=np.bool_)
    first[1:] = story[first_order[1:]] != story[first_order[:-1]]
    n_stories = int(story.max()) + 1 if len(story) else 0
    story_ids: list = [None] * n_stories
    for p in first_order[first]:
        story_ids[story[p]] = ids[pos[p]]
    run.story_keys = keys
    run.story_ids = [story_ids[s] for s in story.tolist()]

    # records: members in input order, medoid = closest to its window story's centre
    canon_of = np.arange(len(all_keys))
    if len(run.members):
        at = np.searchsorted(all_keys, run.members)
        canon_of[at] = np.searchsorted(all_keys, run.canonical)
    story_of_canon = np.full(len(all_keys), -1, dtype=np.int64)
    story_of_canon[pos] = story
    members: list[list[StoryMember]] = [[] for _ in range(n_stories)]
    outlets = [everything["outlet"][i] for i in order]
    for i in range(len(all_keys)):
        c = canon_of[i]
        d = dates[i]
        members[story_of_canon[c]].append(
            StoryMember(ids[i], ids[c], outlets[i], None if np.isnan(d) else float(d))
        )
    home = cols["home"]
    close = np.full(len(all_keys), -np.inf)
    close[np.searchsorted(all_keys, cols["key"][home])] = cols["closeness"][home]
    medoid = np.full(n_stories, -1, dtype=np.int64)
    best = np.full(n_stories, -np.inf)
    for p, s in zip(pos.tolist(), story.tolist(), strict=True):
        if close[p] > best[s]:
            best[s], medoid[s] = close[p], p
    titles = [canon_text["title"][i] for i in text_order]  # one per canonical article, as keys
    texts = [canon_text["story"][i] for i in text_order]
    at_canon = {p: k for k, p in enumerate(pos.tolist())}
    headlines = [titles[at_canon[m]] if m >= 0 else "" for m in medoid.tolist()]
    words = story_keywords(texts, story, n_stories, config.keywords)
    run.stories = story_records(story_ids, members, headlines, words)
    _lap("describe")
