"""Incremental ingest: a persistent index with stable dup groups and story ids.

>>> with Index.open("news.idx") as index:                     # doctest: +SKIP
...     for row in index.add(records):                         # dicts or Articles
...         row["dup_group"], row["is_canonical"], row["story"]
...     index.commit()                                         # one atomic batch

Each new article is matched against everything kept before, without re-running the corpus.

**Same groups as one batch run.** A dup group is a function of the set of verified candidate pairs:
their Jaccard links make Jaccard groups, and their containment links attach articles across groups
(:func:`dedup.groups.link_articles`). The index keeps each article's Jaccard group, which only ever
grows, and the containment links apart from the other pairs; for each batch it joins groups along
the new Jaccard links and re-links the containment links of the connected regions the batch
touched with :func:`dedup.groups.attach_contained`, the second half of what a batch run does. A
new article's pairs with a stored Jaccard group stop being counted once it has a Jaccard link into
the group, and two new articles that joined the same group are not compared: such pairs fall
inside one group, where no link changes anything. Two settings
make a batch run's pairs independent of batching, and the index always uses them: every pair in
an LSH bucket (``max_bucket=0``), and no learned outlet boilerplate (``boilerplate_min_articles=0``:
learning needs the whole corpus; the universal junk rules and the prose filter still apply).
Ingesting a corpus in k batches then gives exactly the partition of one batch run with those
settings.

**Stable ids.** A dup group's id is the id of its first ingested article and a story's id that of
its first ingested canonical article; they change only when a group or story merges into an older
one. ``is_canonical`` follows the canonical rule (earliest, then longest, then smallest id) as
copies arrive.

**Stories.** A new group's canonical article is embedded, and average linkage continues from the
stored stories (:func:`dedup.stories.extend_stories`): each open story enters as one cluster
(the sum of its members' vectors keeps the average similarity exact), the new articles as single
ones. A story never splits; a merged story keeps the id of the oldest. The name features and
the similarity baseline (see :class:`dedup.config.StoryConfig`) are fitted on the first batch and
then frozen, so vectors and scores stay comparable across batches.

**Storage** (one directory, no server): ``index.sqlite`` holds ids, article metadata and the
committed state (with each article's dup group, Jaccard group and component); flat append-only
files hold per-article numbers, shingle sets, verified pairs (the containment links once more, on
their own) and story vectors; LSH buckets are sorted runs written per batch, merged (a k-way merge
of each band, straight into the new run's mapped files) when there are many or the newer ones
hold a quarter of the oldest, so a batch searches a few runs and an article is rewritten a few times.
Opening maps the flat files (no rebuild); an index written before the Jaccard groups and
containment links were kept is brought up to date once, on open. **Crash safety**: the only commit point is one SQLite
transaction; bytes past the committed lengths and files of uncommitted generations are discarded
on open, so an index killed at any moment opens holding exactly the committed batches. One writer
at a time (an exclusive lock; a second writer gets :class:`IndexLocked`). **Retention**: articles
older than ``retain_days`` before the newest one leave the LSH and story structures (their stories
close); their assignments stay queryable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numba import get_num_threads

from dedup.arrays import sorted_unique
from dedup.config import NearDupConfig, StoryConfig
from dedup.groups import (
    attach_contained,
    choose_canonical,
    link_kinds,
    links_in_region,
    merge_labels,
    pair_scores,
    union_find,
    verify_joining,
    verify_within,
)
from dedup.lexical import NameSpace
from dedup.lsh import (
    RunMatcher,
    band_keys,
    bucket_pairs,
    distinct_pairs,
    lsh_params,
    merge_runs,
    merged_run_size,
    sorted_bands,
)
from dedup.minhash import signatures
from dedup.neardup import DuplicateIdError, _id_rank, stable_hashes
from dedup.normalize import article_text
from dedup.records import Article, ArticleId, FieldMap, article_from_record
from dedup.shingle import shingle_sets, tokenize

__all__ = ["Index", "IndexConfig", "IndexLocked", "IndexMismatch"]

FORMAT_VERSION = 1
_MAX_RUNS = 4  # LSH runs kept before the newer ones are merged into one
_TAIL_SHARE = 0.25  # the newer runs' articles, as a share of the oldest run's, that merges them all
_MIN_NAME_FIT = 20  # canonical articles needed in the first batch to fit the name features


class IndexLocked(RuntimeError):
    """Another process is writing this index."""


class IndexMismatch(ValueError):
    """The index was built with other settings (or another format) than the ones given."""


@dataclass(frozen=True)
class IndexConfig:
    """Settings fixed when an index is created (stage 1 must match to reopen it)."""

    near_dup: NearDupConfig = field(default_factory=NearDupConfig)
    stories: StoryConfig | None = field(default_factory=StoryConfig)
    """Story settings; None keeps dup groups only (no model is loaded, ``story`` is None)."""
    retain_days: float | None = None
    """Articles older than this many days before the newest one leave the active structures."""

    def __post_init__(self) -> None:
        # batching-independent pairs: all pairs per bucket, no corpus-learned boilerplate
        object.__setattr__(self, "near_dup", replace(self.near_dup, boilerplate_min_articles=0, max_bucket=0))
        if self.retain_days is not None and self.retain_days <= 0:
            raise ValueError(f"retain_days must be positive, got {self.retain_days}")
        if self.stories is not None and self.stories.center:
            raise ValueError("center is not available in an index: a corpus mean changes as articles arrive")

    def stage1(self) -> dict:
        d = self.near_dup.as_dict()
        d.pop("batch_size", None)
        return d


# per-article columns, appended each batch: name -> (dtype, width)
_ARTICLE_COLUMNS = {
    "id_hash": (np.uint64, 1),
    "dates": (np.float64, 1),
    "tokens": (np.int32, 1),
    "set_end": (np.int64, 1),
    "embedded": (np.uint8, 1),
}
# verified pairs; their Jaccard and containment are recomputed exactly from ``shared`` and the set sizes
_EDGE_COLUMNS = {"edges": (np.int64, 2), "shared": (np.int64, 1)}
# the containment links among them, kept apart too: a batch re-links only these (the Jaccard links
# are summed up by the stored Jaccard groups), so it scans only these
_LINK_COLUMNS = {"link_left": (np.int64, 1), "link_right": (np.int64, 1), "link_shared": (np.int64, 1)}
# an LSH run: per band, the sorted band keys and the article each came from
_RUN_ARRAYS = ("main_keys", "main_docs", "lead_keys", "lead_docs")


def _cut(path: Path, size: int) -> None:
    """Cut an append-only file to its committed ``size`` in bytes (what an unfinished commit wrote
    past it goes); create it if missing."""
    if not path.exists():
        path.write_bytes(b"")
    if path.stat().st_size != size:
        with open(path, "r+b") as f:
            f.truncate(size)


def _read_column(path: Path, dtype, width: int, rows: int) -> np.ndarray:
    """The first ``rows`` committed rows of an append-only file, read into memory."""
    _cut(path, rows * np.dtype(dtype).itemsize * width)
    data = np.fromfile(path, dtype=dtype, count=rows * width)
    return data.reshape(rows, width) if width > 1 else data


def _map_column(path: Path, dtype, width: int, rows: int) -> np.ndarray:
    """The first ``rows`` committed rows of an append-only file, memory-mapped (not read now)."""
    _cut(path, rows * np.dtype(dtype).itemsize * width)
    shape = (rows, width) if width > 1 else (rows,)
    if not rows:
        return np.zeros(shape, dtype)
    # a plain array over the mapping: np.memmap's own indexing costs microseconds a call
    return np.asarray(np.memmap(path, dtype=dtype, mode="r", shape=shape))


def _load_run(directory: Path, name: str) -> dict:
    """One LSH run, memory-mapped (indexes written before runs were .npy files: read from .npz)."""
    old = directory / f"{name}.npz"
    if old.exists():
        with np.load(old) as z:
            return {k: z[k] for k in z.files}
    return {key: np.asarray(np.load(directory / f"{name}.{key}.npy", mmap_mode="r")) for key in _RUN_ARRAYS}


def _append(path: Path, values: np.ndarray) -> Path:
    with open(path, "ab") as f:
        f.write(np.ascontiguousarray(values).tobytes())
    return path


def _fsync_all(paths: Iterable[Path], directory: Path) -> None:
    """Flush files (and the directory's entries) to disk, all at once: fsync waits on the device,
    and concurrent flushes let it write them together instead of one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    def flush(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    targets = [*dict.fromkeys(paths), directory]
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        list(pool.map(flush, targets))


def _merge_from(sizes: list[int]) -> int | None:
    """Which LSH runs a commit merges into one (``runs[start:]``), given each run's articles, oldest
    first; None: none. Every run costs each later batch one search per key, so the newer runs are
    merged once there are more than ``_MAX_RUNS``, and all of them once the newer ones hold
    ``_TAIL_SHARE`` of the oldest: each article is rewritten a few times as the index grows,
    not once every few batches."""
    if len(sizes) > 1 and sum(sizes[1:]) > _TAIL_SHARE * sizes[0]:
        return 0
    if len(sizes) > _MAX_RUNS:
        return 1
    return None


def _write_merged_run(directory: Path, name: str, runs: list[dict], active: np.ndarray) -> list[Path]:
    """:func:`~dedup.lsh.merge_runs` of ``runs`` straight into the new run's memory-mapped files."""
    paths = []
    for kind in ("main", "lead"):
        keys = [r[f"{kind}_keys"] for r in runs]
        docs = [r[f"{kind}_docs"] for r in runs]
        shape = (keys[0].shape[0], merged_run_size(docs, active))
        key_path, doc_path = directory / f"{name}.{kind}_keys.npy", directory / f"{name}.{kind}_docs.npy"
        if shape[1] == 0:  # nothing to map
            np.save(key_path, np.zeros(shape, np.uint64))
            np.save(doc_path, np.zeros(shape, np.int64))
        else:
            out_keys = np.lib.format.open_memmap(key_path, mode="w+", dtype=np.uint64, shape=shape)
            out_docs = np.lib.format.open_memmap(doc_path, mode="w+", dtype=np.int64, shape=shape)
            merge_runs(keys, docs, active, out_keys, out_docs)
            out_keys.flush()
            out_docs.flush()
            del out_keys, out_docs
        paths += [key_path, doc_path]
    return paths


def _sorted_run(keys: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per band, keys sorted with the article each came from: shape (bands, len(docs))."""
    k = keys[:, docs] if len(docs) else np.zeros((keys.shape[0], 0), np.uint64)
    order = np.argsort(k, axis=1, kind="stable")
    return np.take_along_axis(k, order, axis=1), docs[order]


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection):
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class Index:
    """A persistent, incrementally updated dedup and story index in one directory."""

    def __init__(self, path: Path, config: IndexConfig, lock, stored: dict | None) -> None:
        self.path = path
        self.config = config
        self._lock = lock
        self._embedder = None
        self.timings: dict[str, float] = {}
        """Seconds of the last :meth:`add`: ``stage1`` (dup groups) and ``stories``, and stage 1 by
        step: ``tokenize``, ``shingle``, ``minhash`` (signatures and band keys), ``candidates`` (LSH
        lookups), ``verify`` (exact shingle counts) and ``groups`` (linking, canonical articles)."""
        self._names = None
        self.db = sqlite3.connect(path / "index.sqlite", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS articles (i INTEGER PRIMARY KEY, id TEXT NOT NULL, id_int INTEGER NOT NULL, "
            "outlet TEXT, published_at REAL, batch INTEGER NOT NULL)"
        )
        self.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS articles_id ON articles (id, id_int)")
        if stored is None:
            self.state = {
                "generation": 0,
                "articles": 0,
                "edges": 0,
                "links": 0,
                "links_of_edges": 0,
                "shingles": 0,
                "runs": [],
                "batches": 0,
            }
            with _transaction(self.db):
                self.db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('config', ?)", (json.dumps(self._config_json()),)
                )
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('state', ?)", (json.dumps(self.state),))
        else:
            self.state = json.loads(
                self.db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()[0]
            )
        self._load_committed()

    def _config_json(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "near_dup": self.config.near_dup.as_dict(),
            "stories": self.config.stories.as_dict() if self.config.stories else None,
            "retain_days": self.config.retain_days,
        }

    # ---- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, config: IndexConfig | None = None, *, keep_stage1: bool = False) -> Index:
        """Open (or create) the index in directory ``path`` for writing.

        ``config`` is used to create an index (default settings when omitted). When reopening,
        stage-1 settings must match the stored ones (signatures of different settings are not
        comparable) unless ``keep_stage1`` says to keep the stored ones; story settings and
        retention may change between runs (omit ``config`` to keep them all).
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        lock = open(path / "lock", "a+")  # noqa: SIM115 - held while the index is open
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise IndexLocked(
                f"{path} is being written by process {holder}; one writer at a time: wait for it to finish"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        stored = _stored_config(path)
        try:
            if stored is not None:
                if stored.get("format") != FORMAT_VERSION:
                    raise IndexMismatch(
                        f"{path}: index format {stored.get('format')}; this dedup reads {FORMAT_VERSION}"
                    )
                stories = _stored_stories(stored["stories"])
                saved = IndexConfig(NearDupConfig(**stored["near_dup"]), stories, stored.get("retain_days"))
                if config is not None and not keep_stage1 and config.stage1() != saved.stage1():
                    raise IndexMismatch(
                        f"{path} was built with other stage-1 settings; reopen it without them or with the same ones"
                    )
                if config is not None:
                    fixed = (
                        "model",
                        "fast",
                        "max_seq_length",
                        "blend_weight",
                        "lead_words",
                        "name_weight",
                        "name_dims",
                        "baseline",
                    )
                    was, now = saved.stories, config.stories
                    if (was is None) != (now is None) or (
                        was is not None and any(getattr(was, f) != getattr(now, f) for f in fixed)
                    ):
                        raise IndexMismatch(
                            f"{path} was built with other story features (model, text, names or stories "
                            "on/off); stored story vectors would not compare: keep its settings"
                        )
                    saved = replace(saved, stories=config.stories, retain_days=config.retain_days)
                config = saved
            return cls(path, config or IndexConfig(), lock, stored)
        except BaseException:
            lock.close()
            raise

    @staticmethod
    def stored_config(path: str | Path) -> IndexConfig | None:
        """The settings an existing index was created with (None if there is no index at ``path``)."""
        stored = _stored_config(Path(path))
        if stored is None or stored.get("format") != FORMAT_VERSION:
            return None
        stories = _stored_stories(stored["stories"])
        return IndexConfig(NearDupConfig(**stored["near_dup"]), stories, stored.get("retain_days"))

    def _load_committed(self) -> None:
        """In-memory state = the committed state on disk; leftovers of unfinished commits go."""
        st = self.state
        n = st["articles"]
        self.a = {
            name: _read_column(self.path / f"{name}.col", dt, w, n)
            for name, (dt, w) in _ARTICLE_COLUMNS.items()
        }
        self._map_files()
        if st["generation"]:
            with np.load(self.path / f"state-{st['generation']}.npz") as z:
                self.group, self.story = z["group"].astype(np.int64), z["story"].astype(np.int64)
                self.canonical, self.component = z["canonical"], z["component"].astype(np.int64)
                # indexes written before the Jaccard groups were kept: made from the pairs once
                self.strong = z["strong"].astype(np.int64) if "strong" in z.files else self._strong_groups()
        else:
            self.group = self.story = self.component = self.strong = np.zeros(0, np.int64)
            self.canonical = np.zeros(0, np.bool_)
        self.runs = [_load_run(self.path, name) for name in st["runs"]]
        self._names = _load_names(self.path) if st.get("names") else None
        self._reset_pending()

    def _map_files(self) -> None:
        """Map the verified pairs, shingle sets and story vectors (cut to the committed length);
        drop stale files."""
        st = self.state
        n = st["articles"]
        self.e = {
            name: _map_column(self.path / f"{name}.col", dt, w, st["edges"])
            for name, (dt, w) in _EDGE_COLUMNS.items()
        }
        # written before the containment links were kept apart, or since then by a dedup that did
        # not keep them (it left the pair count past the one the links were written for)
        if st.get("links_of_edges") != st["edges"]:
            self._keep_links_apart()
        self.links = {
            name: _map_column(self.path / f"{name}.col", dt, w, self.state["links"])
            for name, (dt, w) in _LINK_COLUMNS.items()
        }
        self.shingles_path = self.path / "shingles.col"
        self.shingles = _map_column(self.shingles_path, np.uint32, 1, st["shingles"])
        dim = st.get("vector_dim") or 0
        if dim:
            self.vectors = _map_column(self.path / "vectors.col", np.float16, dim, n)
        else:
            (self.path / "vectors.col").unlink(missing_ok=True)
            self.vectors = np.zeros((n, 0), np.float16)
        keep = {"names.npz", f"state-{st['generation']}.npz", *(f"{r}.npz" for r in st["runs"])}
        keep |= {f"{r}.{key}.npy" for r in st["runs"] for key in _RUN_ARRAYS}
        for p in [*self.path.glob("*.npz"), *self.path.glob("*.npy")]:
            if p.name not in keep:
                p.unlink()

    def _link_kinds(
        self, left: np.ndarray, right: np.ndarray, shared: np.ndarray, sizes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(Jaccard link, containment link) masks of counted pairs, exactly as a batch run makes them
        (a pair may be neither: it does not link)."""
        cfg = self.config.near_dup
        return link_kinds(
            pair_scores(left, right, shared, sizes[left], sizes[right]),
            sizes,
            jaccard_threshold=cfg.threshold,
            containment_threshold=cfg.containment,
            min_overlap=cfg.min_overlap,
        )

    def _pair_kinds(self) -> tuple[np.ndarray, np.ndarray]:
        """(Jaccard link, containment link) masks of the committed pairs."""
        sizes = np.diff(np.concatenate([[0], self.a["set_end"][: self.state["articles"]]]))
        return self._link_kinds(self.e["edges"][:, 0], self.e["edges"][:, 1], self.e["shared"], sizes)

    def _keep_links_apart(self) -> None:
        """Write the containment links of an index from before they were kept apart (once)."""
        _, contained = self._pair_kinds()
        columns = {
            "link_left": self.e["edges"][contained, 0],
            "link_right": self.e["edges"][contained, 1],
            "link_shared": self.e["shared"][contained],
        }
        tmp = []
        for name, values in columns.items():
            tmp.append(self.path / f"{name}.col.tmp")
            tmp[-1].unlink(missing_ok=True)  # left by a crash here
            _append(tmp[-1], values.astype(np.int64))
        _fsync_all(tmp, self.path)
        for t in tmp:
            os.replace(t, t.with_suffix(""))
        st = {**self.state, "links": int(contained.sum()), "links_of_edges": self.state["edges"]}
        with _transaction(self.db):
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'state'", (json.dumps(st),))
        self.state = st

    def _strong_groups(self) -> np.ndarray:
        """Jaccard groups (smallest member index) of the committed articles, from their pairs."""
        strong, _ = self._pair_kinds()
        return union_find(self.state["articles"], self.e["edges"][strong, 0], self.e["edges"][strong, 1])

    def _reset_pending(self) -> None:
        self._pending: list[Article] = []
        self._pending_ids: dict[ArticleId, int] = {}
        self._pending_sets: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_runs: list[dict] = []
        self._pending_edges: list[dict] = []
        self._pending_vectors: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_names = None  # a model fitted in this transaction, or False: decided without one
        self._pending_baseline: float | None = None  # the embedding baseline measured in this transaction

    # ---- context manager and closing --------------------------------------------------------

    def __enter__(self) -> Index:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self._pending:
            self.commit()
        self.close()

    def close(self) -> None:
        """Drop uncommitted articles and release the index."""
        if self._lock is not None:
            self.db.close()
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def rollback(self) -> None:
        """Forget the articles added since the last commit."""
        self._load_committed()

    # ---- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.a["id_hash"])

    def stats(self) -> dict:
        """Counts and size on disk of the committed index."""
        n = self.state["articles"]
        disk = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        stories = self.story[:n]
        return {
            "articles": n,
            "dup_groups": int(np.count_nonzero(self.canonical[:n])),
            "stories": int(len(np.unique(stories[stories >= 0]))),
            "verified_pairs": self.state["edges"],
            "batches": self.state["batches"],
            "lsh_runs": len(self.state["runs"]),
            "active_articles": int(self._active(n).sum()),
            "bytes_on_disk": disk,
            "bytes_per_article": round(disk / n, 1) if n else None,
            "retain_days": self.config.retain_days,
        }

    def lookup(self, ids: Iterable[ArticleId]) -> dict[ArticleId, dict]:
        """Current ``dup_group``, ``is_canonical`` and ``story`` of stored (or pending) articles."""
        out = {}
        for aid in ids:
            i = self._index_of(aid)
            if i is not None:
                out[aid] = self._assignment(i)
        return out

    def _index_of(self, aid: ArticleId) -> int | None:
        if aid in self._pending_ids:
            return self._pending_ids[aid]
        row = self.db.execute(
            "SELECT i FROM articles WHERE id = ? AND id_int = ?", (str(aid), int(isinstance(aid, int)))
        ).fetchone()
        return None if row is None else int(row[0])

    def _stored_indices(self, ids: list[ArticleId]) -> dict[ArticleId, int]:
        """The committed articles among ``ids``, with their index."""
        wanted = set(ids)
        out: dict[ArticleId, int] = {}
        for i, aid in self._articles_where("id", [str(a) for a in wanted]):
            if aid in wanted:  # the same text as an id of the other type is another id
                out[aid] = i
        return out

    def _ids_of(self, indices: np.ndarray) -> dict[int, ArticleId]:
        committed = self.state["articles"]
        out = dict(self._articles_where("i", sorted({int(i) for i in indices if i < committed})))
        for i in indices:
            if i >= committed:
                out[int(i)] = self._pending[int(i) - committed].id
        return out

    def _articles_where(self, column: str, values: list) -> Iterable[tuple[int, ArticleId]]:
        """(index, id) of the committed articles whose ``column`` is one of ``values`` (asked 500
        at a time: SQLite bounds the parameters of one statement)."""
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for i, aid, is_int in self.db.execute(
                f"SELECT i, id, id_int FROM articles WHERE {column} IN ({marks})", chunk
            ):
                yield int(i), int(aid) if is_int else aid

    def _assignment(self, i: int) -> dict:
        ids = self._ids_of(np.array([i, self.group[i], max(self.story[i], 0)]))
        return {
            "dup_group": ids[int(self.group[i])],
            "is_canonical": bool(self.canonical[i]),
            "story": ids[int(self.story[i])] if self.story[i] >= 0 else None,
        }

    def _active(self, n: int) -> np.ndarray:
        dates = self.a["dates"][:n]
        if self.config.retain_days is None or n == 0 or np.all(np.isnan(dates)):
            return np.ones(n, dtype=np.bool_)
        newest = np.nanmax(dates)
        return np.isnan(dates) | (dates >= newest - self.config.retain_days * 86400.0)

    # ---- adding -------------------------------------------------------------------------------

    def add(
        self,
        records: Iterable[Mapping | Article],
        fields: FieldMap | None = None,
        *,
        texts: list[str] | list[bytes] | None = None,
    ) -> list[dict]:
        """Add a batch. Returns, for each new record in order, its ``id``, ``dup_group``,
        ``is_canonical`` and ``story``. Nothing is durable until :meth:`commit`. A record that fails
        validation or repeats an id raises :class:`~dedup.records.RecordError` (a
        :class:`~dedup.neardup.DuplicateIdError` for ids) and the index is left as it was.

        ``texts``: each record's :func:`~dedup.normalize.article_text`, when the caller made them
        already, as str or UTF-8 bytes (the ``ingest`` command cleans and encodes them in worker
        processes while it reads: bytes cross processes and reach the tokeniser without a copy)."""
        articles: list[Article] = []
        seen: dict[ArticleId, int] = {}
        for number, record in enumerate(records, start=1):
            article = record if isinstance(record, Article) else article_from_record(record, fields)
            earlier = seen.get(article.id, self._pending_ids.get(article.id))
            if earlier is not None:
                raise DuplicateIdError(article.id, earlier)
            seen[article.id] = number
            articles.append(article)
        if texts is not None and len(texts) != len(articles):
            raise ValueError(f"{len(texts)} texts for {len(articles)} records: give one per record")
        if not articles:
            return []
        stored = self._stored_indices([a.id for a in articles])
        if stored:
            first = next(a.id for a in articles if a.id in stored)
            raise DuplicateIdError(first, stored[first])
        return self._add_batch(articles, texts)

    def _add_batch(self, articles: list[Article], texts: list[str] | list[bytes] | None) -> list[dict]:
        started = time.perf_counter()
        laps: dict[str, float] = {}
        last = started

        def lap(step: str) -> None:
            nonlocal last
            now = time.perf_counter()
            laps[step], last = now - last, now

        cfg = self.config.near_dup
        n_old, m = len(self), len(articles)
        n = n_old + m
        # -- shingle sets, signatures and band keys of the new articles
        tb = tokenize(
            texts if texts is not None else [article_text(a.title, a.text) for a in articles],
            threads=get_num_threads(),
        )
        lap("tokenize")
        keep = np.ones(len(tb.line_hashes), dtype=np.bool_)
        if cfg.prose_only:
            from dedup.boilerplate import never_below, non_prose_lines

            line_doc = np.repeat(np.arange(m), np.diff(tb.doc_line_offsets))
            head = np.zeros(len(tb.line_hashes), dtype=np.bool_)
            head[tb.doc_line_offsets[:-1]] = True
            tokens = np.diff(tb.line_offsets)
            keep = ~never_below(
                non_prose_lines(tokens, tb.line_sentence, line_doc, head, m),
                line_doc,
                tokens,
                m,
                cfg.min_tokens,
            )
        sets = shingle_sets(tb, keep, shingle_size=cfg.shingle_size, lead_shingles=cfg.lead_shingles)
        lap("shingle")
        bands, rows = lsh_params(cfg.threshold, cfg.num_perm)
        lead_bands, lead_rows = lsh_params(cfg.lead_threshold, cfg.lead_perm)
        keys = {
            "main": band_keys(signatures(sets.shingles, sets.offsets, cfg.num_perm, cfg.seed), bands, rows),
            "lead": band_keys(
                signatures(sets.lead, sets.lead_offsets, cfg.lead_perm, cfg.seed), lead_bands, lead_rows
            ),
        }
        long_enough = sets.n_tokens >= cfg.min_tokens
        members = {
            "main": np.flatnonzero(long_enough),
            "lead": np.flatnonzero(long_enough & (np.diff(sets.lead_offsets) > 0)),
        }
        lap("minhash")
        id_hash = stable_hashes([a.id for a in articles])
        dates = np.array([np.nan if a.published_at is None else a.published_at for a in articles])
        # -- candidate pairs: new x new (every pair of a bucket) and new x stored (every run)
        all_hash = np.concatenate([self.a["id_hash"], id_hash])
        pairs_l, pairs_r = [], []
        kinds = ("main", "lead")
        sorted_queries = []
        for kind in kinds:
            mem = members[kind]
            unsorted = keys[kind][:, mem]
            queries, order = sorted_bands(unsorted, get_num_threads())  # each search goes on from the last
            left, right = bucket_pairs(queries, order, unsorted)
            pairs_l.append(mem[left] + n_old)
            pairs_r.append(mem[right] + n_old)
            sorted_queries.append((queries, order, mem))
        runs = self.runs + self._pending_runs
        if runs:
            matcher = RunMatcher(sorted_queries, m, n_old, get_num_threads())
            for run in runs:
                new, stored = matcher.lookup([(run[f"{k}_keys"], run[f"{k}_docs"]) for k in kinds])
                pairs_l.append(stored)
                pairs_r.append(new + n_old)
        # pairs by new article (then the other one), each once
        left, right = distinct_pairs(pairs_l, pairs_r, split=n_old + m // 2)
        if n_old and self.config.retain_days is not None:  # stored articles past retention are not matched
            old_active = self._active(n_old)
            ok = (left >= n_old) | old_active[np.minimum(left, n_old - 1)]
            left, right = left[ok], right[ok]
        lap("candidates")
        # -- verify on exact shingle sets (stored ones memory-mapped)
        old_sets, old_off = self._stored_sets(n_old)
        shared = np.empty(len(left), dtype=np.int64)
        new_new = left >= n_old
        joined = np.full(m, -1, dtype=np.int64)  # the stored Jaccard group a new article joined
        old_new = np.flatnonzero(~new_new)
        if len(old_new):  # a new article's pairs with a stored group stop counting once it joins the group
            out = np.empty(len(old_new), np.int64)
            b_start = np.searchsorted(right[old_new] - n_old, np.arange(m + 1))
            a_of = left[old_new]
            verify_joining(
                old_sets,
                old_off,
                sets.shingles,
                sets.offsets,
                a_of,
                b_start,
                self.strong[a_of],
                cfg.threshold,
                cfg.containment,
                cfg.min_overlap,
                out,
                joined,
            )
            shared[old_new] = out
        if new_new.any():  # and two new articles that joined the same group need no count
            out = np.empty(int(new_new.sum()), np.int64)
            verify_within(
                sets.shingles,
                sets.offsets,
                left[new_new] - n_old,
                right[new_new] - n_old,
                joined,
                cfg.threshold,
                cfg.containment,
                cfg.min_overlap,
                out,
            )
            shared[new_new] = out
        lap("verify")
        counted = shared >= 0
        left, right, shared = left[counted], right[counted], shared[counted]
        sizes = np.concatenate([np.diff(old_off), np.diff(sets.offsets)])
        strong, contained = self._link_kinds(left, right, shared, sizes)
        linked = strong | contained
        new_e = {
            "edges": np.stack([left[linked], right[linked]], axis=1),
            "shared": shared[linked],
            "link_left": left[contained],
            "link_right": right[contained],
            "link_shared": shared[contained],
        }
        # -- Jaccard groups only grow: the new Jaccard links join them
        strong_label = merge_labels(
            np.concatenate([self.strong, np.arange(n_old, n)]), left[strong], right[strong], in_place=True
        )
        # -- re-link every region (connected set of verified pairs) the batch touched
        component = merge_labels(
            np.concatenate([self.component, np.arange(n_old, n)]),
            new_e["edges"][:, 0],
            new_e["edges"][:, 1],
            in_place=True,
        )
        touched = np.zeros(n, dtype=np.bool_)  # marks, not np.isin or an int64 map: 1 byte per article
        touched[component[n_old:]] = True
        in_region = touched[component]
        region = np.flatnonzero(in_region)
        local = np.full(n, -1, dtype=np.int64)
        local[region] = np.arange(len(region))
        el, er, containment, jaccard = links_in_region(  # the containment links inside the region
            [
                (p["link_left"], p["link_right"], p["link_shared"])
                for p in (self.links, *self._pending_edges, new_e)
            ],
            in_region,
            local,
            sizes,
        )
        # the region's Jaccard groups are whole inside it; its labels are its smallest members
        labels = attach_contained(
            local[strong_label[region]], el, er, containment, jaccard, sizes[region], all_hash[region]
        )
        # a group is named after its first ingested member: the label, its smallest (local) index
        group = np.concatenate([self.group, np.arange(n_old, n)])
        old_group_of_region = group[region].copy()
        group[region] = region[labels]
        all_dates = np.concatenate([self.a["dates"], dates])
        all_tokens = np.concatenate([self.a["tokens"], sets.n_tokens.astype(np.int32)])
        self._pending.extend(articles)
        for k, a in enumerate(articles):
            self._pending_ids[a.id] = n_old + k
        canonical = np.concatenate([self.canonical, np.zeros(m, np.bool_)])
        # the canonical article is chosen again only in groups whose members changed
        changed = region[_changed_groups(labels, old_group_of_region, region >= n_old)[labels]]

        def ids_of(subset: np.ndarray) -> list[ArticleId]:
            ids = self._ids_of(changed[subset])
            return [ids[int(i)] for i in changed[subset]]

        canonical[changed] = _canonical_flags(
            np.searchsorted(np.unique(group[changed]), group[changed]),
            all_dates[changed],
            all_tokens[changed].astype(np.int64),
            ids_of,
            cfg.canonical,
        )
        # -- stories: merged groups keep their founder's story; new groups get one
        story = np.concatenate([self.story, np.full(m, -1, np.int64)])
        founder_story = story[group[region]]
        moved = region[(group[region] != old_group_of_region) & (founder_story >= 0)]
        story[moved] = story[group[moved]]
        lap("groups")
        self.timings = {"stage1": time.perf_counter() - started, **laps}
        if self.config.stories is not None:
            self._assign_stories(articles, n_old, group, canonical, story, all_dates)
        self.timings["stories"] = time.perf_counter() - started - self.timings["stage1"]
        # -- stage everything (in memory until commit)
        set_end = np.concatenate([self.a["set_end"], (old_off[-1] if len(old_off) else 0) + sets.offsets[1:]])
        embedded = np.concatenate([self.a["embedded"], np.zeros(m, np.uint8)])
        for idx, _ in self._pending_vectors:
            embedded[idx] = 1
        self.a = {
            "id_hash": all_hash,
            "dates": all_dates,
            "tokens": all_tokens,
            "set_end": set_end,
            "embedded": embedded,
        }
        self._pending_sets.append((sets.shingles, sets.offsets))
        self._pending_edges.append(new_e)
        self.group, self.canonical, self.story, self.component = group, canonical, story, component
        self.strong = strong_label
        run = {}
        for kind in ("main", "lead"):
            run[f"{kind}_keys"], run[f"{kind}_docs"] = _sorted_run(keys[kind], members[kind])
            run[f"{kind}_docs"] = run[f"{kind}_docs"] + n_old
        self._pending_runs.append(run)
        out_ids = self._ids_of(np.concatenate([group[n_old:], np.maximum(story[n_old:], 0)]))
        return [
            {
                "id": a.id,
                "dup_group": out_ids[int(group[n_old + k])],
                "is_canonical": bool(canonical[n_old + k]),
                "story": out_ids[int(story[n_old + k])] if story[n_old + k] >= 0 else None,
            }
            for k, a in enumerate(articles)
        ]

    def _stored_sets(self, n_old: int) -> tuple[np.ndarray, np.ndarray]:
        """Shingle sets of all articles before this batch: committed (mapped) and pending."""
        committed = self.state["articles"]
        off = np.concatenate([[0], self.a["set_end"][:n_old]]).astype(np.int64)
        if n_old == committed:
            return self.shingles, off
        pending = np.concatenate([s for s, _ in self._pending_sets])
        return np.concatenate([np.asarray(self.shingles), pending]), off

    # ---- stories ------------------------------------------------------------------------------

    def _story_vectors(self, texts: list[str]) -> tuple[np.ndarray, float]:
        """Story vectors of new canonical articles, and the dot-product threshold that goes with them."""
        from dedup.embed import EmbeddingCache, embed_all, resolve_cache_dir, story_embedder
        from dedup.lexical import story_threshold, story_vectors

        sc = self.config.stories
        if self._embedder is None:
            self._embedder = story_embedder(sc)
        cache = EmbeddingCache(resolve_cache_dir(sc.cache_dir), self._embedder.name)
        try:
            emb = embed_all(self._embedder, texts, cache)
        finally:
            cache.close()
        names = None
        if sc.name_weight > 0:
            if "names" not in self.state and self._pending_names is None:  # decided once, on the first batch
                fitted = NameSpace.fit(texts, sc.name_dims) if len(texts) >= _MIN_NAME_FIT else None
                self._pending_names = fitted[0] if fitted else False
            space = self._names or self._pending_names
            if space:
                names = np.zeros((len(texts), sc.name_dims), dtype=np.float32)
                names[:, : len(space.components)] = space.transform(texts)
        baseline = self.state.get("baseline", self._pending_baseline)
        if baseline is None:  # measured once, on the first batch, then frozen: scores stay comparable
            from dedup.lexical import baseline_similarity, shrunk_baseline
            from dedup.pipeline import reference_baseline

            baseline = sc.baseline
            if baseline is None:
                reference = reference_baseline(self._embedder, sc)
                baseline = shrunk_baseline(baseline_similarity(emb), len(emb), reference)
            self._pending_baseline = baseline
        threshold = story_threshold(sc.threshold, sc.name_weight, names is not None, baseline)
        return story_vectors(emb, names, sc.name_weight, baseline=baseline).astype(np.float32), threshold

    def _assign_stories(self, articles, n_old, group, canonical, story, dates) -> None:
        """Stories for the batch's new groups: average linkage continued from the stored stories.

        The stored stories the new articles could join (alive, with a member inside the time
        window around the batch) enter :func:`dedup.stories.extend_stories` as clusters (their
        members' vector sum, size and span) and the new groups' canonical articles as single
        ones. So a story never splits: a new article joins one, starts one with other new
        articles, or brings two together, and a merged story keeps the id of the oldest.
        """
        from dedup.pipeline import story_text
        from dedup.stories import extend_stories

        sc = self.config.stories
        self._fill_story(group, story)
        fresh = np.flatnonzero((story == -1) & canonical)  # canonical articles of groups without a story
        fresh = fresh[fresh >= n_old]
        if len(fresh) == 0:
            return
        vectors, threshold = self._story_vectors(
            [story_text(articles[i - n_old], sc.lead_words) for i in fresh]
        )
        self._pending_vectors.append((fresh, vectors))
        ids, sums, sizes, first, last = self._open_stories(
            n_old, story, dates, dates[fresh], vectors.shape[1]
        )
        labels = extend_stories(
            sums,
            sizes,
            first,
            last,
            vectors,
            dates[fresh],
            threshold=threshold,
            window_days=sc.window_days,
            k=sc.k,
        )
        old_labels, new_labels = labels[: len(ids)], labels[len(ids) :]
        # each story is named after the oldest stored story in it, else after its first new article
        unnamed = np.iinfo(np.int64).max
        names = np.full(int(labels.max()) + 1, unnamed, dtype=np.int64)
        np.minimum.at(names, old_labels, ids)
        first_new = np.full(len(names), unnamed, dtype=np.int64)
        np.minimum.at(first_new, new_labels, fresh)
        names = np.where(names == unnamed, first_new, names)
        absorbed = names[old_labels] != ids  # stored stories that new articles joined to an older one
        if absorbed.any():
            gone, heir = ids[absorbed], names[old_labels[absorbed]]
            moved = np.flatnonzero(np.isin(story, gone))
            story[moved] = heir[np.searchsorted(gone, story[moved])]
        story[fresh] = names[new_labels]
        self._fill_story(group, story)  # copies follow their canonical article

    def _open_stories(self, n_old, story, dates, new_dates, dim):
        """Stored stories new articles dated ``new_dates`` could join: ids (sorted), and per story
        its members' vector sum, member count, first and last date (NaN when none is dated)."""
        members = np.flatnonzero(self.a["embedded"][:n_old].astype(np.bool_))
        members = members[story[members] >= 0]
        if self.config.retain_days is not None and len(members):  # past retention: closed
            members = members[self._active(n_old)[members]]
        window = self.config.stories.window_days * 86400.0 if self.config.stories.window_days > 0 else np.inf
        if len(members) and np.isfinite(window) and not np.all(np.isnan(new_dates)):
            lo, hi = np.nanmin(new_dates) - window, np.nanmax(new_dates) + window
            t = dates[members]
            reach = sorted_unique(story[members[np.isnan(t) | ((t >= lo) & (t <= hi))]])
            members = members[np.isin(story[members], reach)]
        members = members[np.argsort(story[members], kind="stable")]  # grouped by story
        ids, heads, sizes = np.unique(story[members], return_index=True, return_counts=True)
        member_story = np.repeat(np.arange(len(ids)), sizes)
        sums = np.zeros((len(ids), dim), dtype=np.float32)
        for start in range(0, len(members), 65_536):  # vectors read a slice at a time
            part = member_story[start : start + 65_536]
            starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
            sums[part[starts]] += np.add.reduceat(
                self._vectors_of(members[start : start + 65_536], dim), starts
            )
        t = dates[members]
        first, last = np.fmin.reduceat(t, heads), np.fmax.reduceat(t, heads)
        return ids, sums, sizes, first, last

    def _vectors_of(self, indices: np.ndarray, dim: int) -> np.ndarray:
        """Stored story vectors (committed rows memory-mapped, pending ones in memory)."""
        out = np.zeros((len(indices), dim), dtype=np.float32)
        committed = indices < len(self.vectors)
        if committed.any() and self.vectors.shape[1] == dim:
            out[committed] = self.vectors[indices[committed]]
        for idx, vec in self._pending_vectors:
            pos = np.searchsorted(idx, indices)
            hit = (pos < len(idx)) & (idx[np.minimum(pos, len(idx) - 1)] == indices)
            out[hit] = vec[pos[hit]]
        return out

    @staticmethod
    def _fill_story(group: np.ndarray, story: np.ndarray) -> None:
        """Every article takes its group's story: the founder's, else any member's."""
        has = story >= 0
        by_group = np.full(len(group), -1, dtype=np.int64)
        by_group[group[has]] = story[has]
        founders = sorted_unique(group)
        with_story = founders[story[founders] >= 0]
        by_group[with_story] = story[with_story]
        story[:] = by_group[group]

    # ---- committing ---------------------------------------------------------------------------

    def commit(self) -> None:
        """Make everything added since the last commit durable, atomically."""
        if not self._pending:
            return
        st = dict(self.state)
        n_old, n = st["articles"], len(self)
        gen = st["generation"] + 1
        written = [
            _append(self.path / f"{name}.col", self.a[name][n_old:].astype(dt))
            for name, (dt, _) in _ARTICLE_COLUMNS.items()
        ]
        written += [
            _append(
                self.path / f"{name}.col", np.concatenate([p[name] for p in self._pending_edges]).astype(dt)
            )
            for name, (dt, _) in {**_EDGE_COLUMNS, **_LINK_COLUMNS}.items()
        ]
        new_sets = (
            np.concatenate([s for s, _ in self._pending_sets])
            if self._pending_sets
            else np.zeros(0, np.uint32)
        )
        written.append(_append(self.shingles_path, new_sets))
        if self._pending_vectors:
            dim = self._pending_vectors[0][1].shape[1]
            if st.get("vector_dim") not in (None, 0, dim):
                raise IndexMismatch(
                    "story vectors changed size: the story model settings differ from the index's"
                )
            rows = np.zeros((n - n_old, dim), dtype=np.float16)
            if not st.get("vector_dim") and n_old:
                written.append(_append(self.path / "vectors.col", np.zeros((n_old, dim), np.float16)))
            for idx, vec in self._pending_vectors:
                rows[idx - n_old] = vec.astype(np.float16)
            written.append(_append(self.path / "vectors.col", rows))
            st["vector_dim"] = dim
        elif st.get("vector_dim"):
            written.append(
                _append(self.path / "vectors.col", np.zeros((n - n_old, st["vector_dim"]), np.float16))
            )
        if self._pending_names is not None and "names" not in st:
            if self._pending_names:
                with open(self.path / "names.npz.tmp", "wb") as f:
                    self._pending_names.save(f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(self.path / "names.npz.tmp", self.path / "names.npz")
            st["names"] = bool(self._pending_names)
        if self._pending_baseline is not None and "baseline" not in st:
            st["baseline"] = self._pending_baseline
        written.append(self.path / f"state-{gen}.npz")
        # article indices fit 32 bits (ids past 2**31 articles would not): half the bytes to flush
        small = np.int32 if n < 2**31 else np.int64
        np.savez(
            written[-1],
            group=self.group.astype(small),
            story=self.story.astype(small),
            canonical=self.canonical,
            component=self.component.astype(small),
            strong=self.strong.astype(small),
        )
        runs = self.runs + self._pending_runs
        start = _merge_from([r["main_docs"].shape[1] for r in runs])
        kept = len(runs) if start is None else start
        run_names = list(st["runs"][: min(kept, len(self.runs))])
        for i, run in enumerate(runs[len(run_names) : kept]):  # new runs not merged
            name = f"run-{gen}-{i}"
            for key in _RUN_ARRAYS:
                np.save(self.path / f"{name}.{key}.npy", run[key])
                written.append(self.path / f"{name}.{key}.npy")
            run_names.append(name)
        if start is not None:  # the rest into one run, dropping articles past retention
            name = f"run-{gen}-{len(run_names)}"
            written += _write_merged_run(self.path, name, runs[start:], self._active(n))
            run_names.append(name)
        _fsync_all(written, self.path)  # everything the state names is on disk before it is committed
        st.update(
            generation=gen,
            articles=n,
            edges=st["edges"] + sum(len(p["shared"]) for p in self._pending_edges),
            links=st["links"] + sum(len(p["link_shared"]) for p in self._pending_edges),
            links_of_edges=st["edges"] + sum(len(p["shared"]) for p in self._pending_edges),
            shingles=st["shingles"] + len(new_sets),
            runs=run_names,
            batches=st["batches"] + 1,
        )
        with _transaction(self.db):
            self.db.executemany(
                "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (n_old + k, str(a.id), int(isinstance(a.id, int)), a.outlet, a.published_at, gen)
                    for k, a in enumerate(self._pending)
                ),
            )
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'state'", (json.dumps(st),))
        self.state = st
        # memory already holds what was just written: map the grown files, keep the rest
        self.runs = [_load_run(self.path, name) for name in run_names]
        if self._pending_names is not None and self._names is None:
            self._names = self._pending_names or None
        self._map_files()
        self._reset_pending()


def _changed_groups(labels: np.ndarray, old_group: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Per label of a re-linked region, whether its members differ from every group before the
    batch: it holds a new article, or members of two groups, or not all of its old group."""
    n_labels = int(labels.max()) + 1 if len(labels) else 0
    lo = np.full(n_labels, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n_labels, -1, dtype=np.int64)
    np.minimum.at(lo, labels, old_group)
    np.maximum.at(hi, labels, old_group)
    groups, sizes = np.unique(old_group, return_counts=True)
    used = hi >= 0  # labels need not be dense
    was = np.zeros(n_labels, dtype=np.int64)
    was[used] = sizes[np.searchsorted(groups, lo[used])]
    changed = (lo != hi) | (was != np.bincount(labels, minlength=n_labels))
    changed[labels[new]] = True
    return changed


def _canonical_flags(labels, dates, lengths, ids_of, rule: str) -> np.ndarray:
    """Whether each article is its group's canonical one (:func:`~dedup.groups.choose_canonical`).

    Ids break ties of date and length only, so only the tied articles' ids are asked for
    (``ids_of(positions)``; reading every member's id from SQLite took longer than the rest)."""
    position = np.arange(len(labels))
    provisional = choose_canonical(labels, dates, lengths, np.zeros(len(labels), np.int64), rule)
    canonical = provisional == position
    date_key = np.where(np.isnan(dates), np.inf, dates)
    tied = (date_key == date_key[provisional]) & (lengths == lengths[provisional])
    ask = np.flatnonzero(tied & (np.bincount(labels[tied], minlength=len(labels))[labels] >= 2))
    if len(ask):
        rank = _id_rank(ids_of(ask), np.arange(len(ask)))
        dense = np.unique(labels[ask], return_inverse=True)[1]
        winner = choose_canonical(dense, dates[ask], lengths[ask], rank, rule)
        canonical[ask] = winner == np.arange(len(ask))
    return canonical


def _stored_stories(values: dict | None) -> StoryConfig | None:
    """The story settings an index stored; those written before ``static_weight`` existed embedded
    with the transformer alone."""
    return StoryConfig(**{"static_weight": 0.0, **values}) if values else None


def _stored_config(path: Path) -> dict | None:
    if not (path / "index.sqlite").exists():
        return None
    db = sqlite3.connect(path / "index.sqlite")
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        return json.loads(row[0]) if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def _load_names(path: Path) -> NameSpace:
    """The name features fitted on the first batch (indexes written before they were stored as
    arrays in ``names.npz`` hold scikit-learn objects in ``names.pkl``)."""
    if (path / "names.npz").exists():
        return NameSpace.load(path / "names.npz")
    with open(path / "names.pkl", "rb") as f:
        model = pickle.load(f)  # noqa: S301 - written by this class
    vocabulary = model["vectorizer"].vocabulary_
    terms = sorted(vocabulary, key=vocabulary.get)
    return NameSpace(
        terms, model["vectorizer"].idf_.astype(np.float32), model["svd"].components_.astype(np.float32)
    )
