"""Both stages on a Ray cluster: for archives that outgrow one machine (``pip install dedup-news[ray]``).

The data flow, and where each piece runs:

1. **Read** (Ray Data): every input shard is cut into byte ranges on line boundaries; one
   ``map_batches`` call per range parses, validates, normalises and tokenises its lines.
2. **Duplicate ids, boilerplate, exact copies, LSH buckets** (hash shuffles): map tasks split
   numpy rows by a key's hash into ``partitions`` parts, reduce tasks handle one part each (the
   reducers are in :mod:`dedup.partitioned`). Only the small results -- the boilerplate line keys,
   the duplicate ids -- come back to the driver.
3. **Signatures** (Ray Data ``map_batches``): boilerplate stripped, shingle sets, MinHash and band
   keys per block; blocks stay in the object store.
4. **Verification**, a join: each candidate pair goes to its second article's block, which
   attaches that article's shingle set; a verification actor per partition holds the first
   articles' blocks and counts the shared shingles. Pairs flow a wave of blocks at a time, so the
   shingle sets in flight stay a fraction of the corpus.
5. **Components**: large-star/small-star rounds over the verified links (no node holds all
   edges), then each component is linked and given its canonical article by one reducer.
6. **Stories** (:mod:`dedup.ray_stories`): embeddings in a Ray Data actor pool (each actor loads the
   model once), clustering per time window in parallel, stitched at the window borders.
7. **Write**: one task per byte range adds the fields to its lines; the driver appends the parts
   in input order to the output file.

Article keys are ``range number << 32 | line number``: they grow with input order, so every
ordering the one-process engine uses (input order, id hash then input order) is kept, and stage 1
gives exactly the same groups and canonical articles.

Ray retries a task whose worker dies (``max_retries``), and every step is a pure function of its
inputs, so a killed worker neither loses nor duplicates records.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from dedup.arrays import concat_ranges, sorted_unique, unique_pairs
from dedup.config import NearDupConfig, StoryConfig
from dedup.io import Reject, dump_record, parse_record
from dedup.neardup import _stable_hash
from dedup.partitioned import (
    boilerplate_keys,
    bucket_pairs,
    concat_parts,
    exact_reps,
    large_star,
    line_verdicts,
    link_components,
    partition_of,
    small_star,
    split_by,
)
from dedup.records import FieldMap
from dedup.runner import InputError, _byte_ranges, _prepare_line, range_lines

__all__ = ["RayOptions", "RayRun", "run_ray", "connect", "input_shards", "write_output", "reject_records"]

_KEY_SHIFT = 32
_CHUNK_BYTES = 16 << 20
_MAX_STAR_ROUNDS = 64
_TASK_RETRIES = 3
_WAVE_BLOCKS = 16  # input blocks whose candidate pairs are verified together
FAULT_ENV = "DEDUP_RAY_FAULT_DIR"  # tests: a worker dies once per step named in this directory


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run.

    ``address``: an existing cluster (``"auto"``, ``"ray://host:10001"``); None starts a local one
    with ``num_cpus``. ``partitions``: hash partitions per shuffle (default: twice the cluster's CPUs).
    ``chunk_bytes``: input split size; a ``.gz`` shard is one split.
    """

    address: str | None = None
    num_cpus: int | None = None
    partitions: int | None = None
    chunk_bytes: int = _CHUNK_BYTES
    progress: bool = False


@dataclass
class RayRun:
    """What a Ray run produced, for the writer and the summary."""

    jobs: list[tuple[str, int, int]]  # (path, start byte, end byte; -1 for a whole .gz shard)
    lines: np.ndarray  # lines per job
    rejects: list[tuple[int, int, str, bytes]]  # (job, line in job, reason, raw)
    members: np.ndarray  # keys of articles in a dup group of two or more
    canonical: np.ndarray  # their canonical article's key
    canonical_id: list  # and its id
    articles: int = 0
    story_keys: np.ndarray | None = None  # canonical keys, with story_ids
    story_ids: list | None = None
    stories: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def lines_read(self) -> int:
        return int(self.lines.sum())

    @property
    def duplicates(self) -> int:
        return int(np.count_nonzero(self.members != self.canonical))

    def reject_line(self, job: int, line: int) -> int:
        """The 1-based line number in its file of ``line`` of range ``job``."""
        path = self.jobs[job][0]
        before = sum(int(self.lines[j]) for j in range(job) if self.jobs[j][0] == path)
        return before + line


def connect(options: RayOptions) -> None:
    """Join the cluster at ``options.address`` or start a local one (once per process)."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    for name in (FAULT_ENV, "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DEDUP_CACHE_DIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "runtime_env": {"env_vars": env},
    }
    if options.address is None:
        kwargs["num_cpus"] = options.num_cpus or os.cpu_count() or 1
    ray.init(address=options.address, **kwargs)
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = options.progress
    ctx.print_on_execution_start = False


def _maybe_fail(step: str) -> None:
    """Fault injection for the tests: with ``<step>.armed`` in the :data:`FAULT_ENV` directory, the
    first worker to reach ``step`` dies (once: it leaves ``<step>.fired``)."""
    directory = os.environ.get(FAULT_ENV)
    if not directory or not (Path(directory) / f"{step}.armed").exists():
        return
    try:
        fd = os.open(Path(directory) / f"{step}.fired", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(1)


# -- reading -----------------------------------------------------------------------------------------


def _jobs(paths: Sequence[Path], chunk_bytes: int) -> list[tuple[str, int, int]]:
    jobs = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        if path.suffix == ".gz":
            jobs.append((str(path), 0, -1))
        elif path.stat().st_size:
            jobs.extend((str(path), s, e) for s, e in _byte_ranges(path, chunk_bytes))
    if len(jobs) >= 1 << 31:
        raise ValueError("too many input ranges; raise chunk_bytes")
    return jobs


def _job_lines(path: str, start: int, end: int) -> Iterator[bytes]:
    """The raw lines of one input range (a whole ``.gz`` file when ``end`` is -1)."""
    for _, raw in range_lines(path, start, end):
        yield raw


def _outlet_code(outlet: str | None) -> int:
    if not outlet:
        return -1
    digest = hashlib.blake2b(outlet.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


def _list_column(values: np.ndarray, counts: np.ndarray):
    import pyarrow as pa

    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))


def _read_ranges(batch: dict, *, fields: FieldMap, lead_words: int | None) -> Any:
    """Ray Data map: parse, validate, normalise and tokenise every line of the batch's ranges."""
    import pyarrow as pa

    from dedup.normalize import shingle_text
    from dedup.pipeline import StageTexts
    from dedup.shingle import tokenize

    _maybe_fail("read")
    prepare: Callable = StageTexts(lead_words) if lead_words is not None else shingle_text
    cols: dict[str, list] = {
        k: []
        for k in ("key", "job", "line", "error", "raw", "id", "id_hash", "outlet", "outlet_code", "date")
    }
    stage2: dict[str, list] = {"title": [], "story": []}
    texts: list[str] = []
    valid: list[bool] = []
    for job, path, start, end in zip(batch["job"], batch["path"], batch["start"], batch["end"], strict=True):
        for line, raw in enumerate(_job_lines(str(path), int(start), int(end)), start=1):
            error, article, payload = _prepare_line(raw, fields, prepare)
            cols["key"].append((int(job) << _KEY_SHIFT) | line)
            cols["job"].append(int(job))
            cols["line"].append(line)
            cols["error"].append(error)
            cols["raw"].append(raw if error else None)
            valid.append(error is None)
            if error:
                for k in ("id", "outlet"):
                    cols[k].append(None)
                cols["id_hash"].append(0)
                cols["outlet_code"].append(-1)
                cols["date"].append(math.nan)
                stage2["title"].append("")
                stage2["story"].append("")
                continue
            cols["id"].append(orjson.dumps(article.id))
            cols["id_hash"].append(_stable_hash(article.id))
            cols["outlet"].append(article.outlet)
            cols["outlet_code"].append(_outlet_code(article.outlet))
            cols["date"].append(math.nan if article.published_at is None else article.published_at)
            if lead_words is None:
                texts.append(payload)
                stage2["title"].append("")
                stage2["story"].append("")
            else:
                shingle, story, title = payload
                texts.append(shingle)
                stage2["title"].append(title)
                stage2["story"].append(story)
    tokens = tokenize(texts)
    ok = np.asarray(valid, dtype=np.bool_)
    doc_lines = np.zeros(len(ok), dtype=np.int64)
    doc_lines[ok] = np.diff(tokens.doc_line_offsets)
    doc_tokens = np.zeros(len(ok), dtype=np.int64)
    starts = tokens.line_offsets[tokens.doc_line_offsets]
    doc_tokens[ok] = np.diff(starts)
    table = {
        "key": pa.array(cols["key"], pa.int64()),
        "job": pa.array(cols["job"], pa.int32()),
        "line": pa.array(cols["line"], pa.int64()),
        "error": pa.array(cols["error"], pa.string()),
        "raw": pa.array(cols["raw"], pa.binary()),
        "id": pa.array(cols["id"], pa.binary()),
        "id_hash": pa.array(cols["id_hash"], pa.uint64()),
        "outlet": pa.array(cols["outlet"], pa.string()),
        "outlet_code": pa.array(cols["outlet_code"], pa.int64()),
        "date": pa.array(cols["date"], pa.float64()),
        "title": pa.array(stage2["title"], pa.string()),
        "story": pa.array(stage2["story"], pa.string()),
        "tokens": _list_column(tokens.tokens, doc_tokens),
        "line_len": _list_column(np.diff(tokens.line_offsets), doc_lines),
        "line_hash": _list_column(tokens.line_hashes, doc_lines),
        "line_sentence": _list_column(tokens.line_sentence, doc_lines),
    }
    return pa.table(table)


# -- block helpers ---------------------------------------------------------------------------------


def _np(column) -> np.ndarray:
    return (
        column.combine_chunks().to_numpy(zero_copy_only=False)
        if column.num_chunks != 1
        else (column.chunk(0).to_numpy(zero_copy_only=False))
    )


def _csr(column) -> tuple[np.ndarray, np.ndarray]:
    """Values and offsets of a list column (respecting slices)."""
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    counts = arr.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return arr.flatten().to_numpy(zero_copy_only=False), offsets


def _articles(table, dup_keys: np.ndarray | None = None):
    """The rows of a read block that are articles: valid lines whose id was not seen before."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = table.filter(pc.is_null(table["error"]))
    if dup_keys is not None and len(dup_keys) and table.num_rows:
        table = table.filter(pa.array(~np.isin(_np(table["key"]), dup_keys)))
    return table


def _token_batch(table):
    from dedup.shingle import TokenBatch

    tokens, _ = _csr(table["tokens"])
    line_len, doc_line_offsets = _csr(table["line_len"])
    line_hash, _ = _csr(table["line_hash"])
    line_sentence, _ = _csr(table["line_sentence"])
    line_offsets = np.zeros(len(line_len) + 1, dtype=np.int64)
    np.cumsum(line_len, out=line_offsets[1:])
    return TokenBatch(
        tokens.astype(np.uint32, copy=False),
        line_offsets,
        line_hash.astype(np.uint64, copy=False),
        line_sentence.astype(np.bool_, copy=False),
        doc_line_offsets,
    )


def _line_table(table, batch) -> dict[str, np.ndarray]:
    """Per line of a block: its article, token count, headline flag and outlet code as the
    boilerplate rule reads them (-2 headline, -1 unknown outlet)."""
    n = batch.n_docs
    per_doc = np.diff(batch.doc_line_offsets)
    line_doc = np.repeat(np.arange(n), per_doc)
    head = np.zeros(len(batch.line_hashes), dtype=np.bool_)
    head[batch.doc_line_offsets[:-1]] = True
    line_tokens = np.diff(batch.line_offsets)
    outlet = _np(table["outlet_code"]).astype(np.int64)
    id_hash = _np(table["id_hash"]).astype(np.uint64)
    headline_key = np.where(line_tokens[head] == 0, id_hash, batch.line_hashes[head])
    return {
        "doc": line_doc,
        "head": head,
        "tokens": line_tokens,
        "outlet": np.where(head, -2, outlet[line_doc]),
        "headline": headline_key[line_doc],
    }


# -- map sides of the shuffles ----------------------------------------------------------------------


def _ids_part(table, dup_keys=None) -> dict[str, np.ndarray]:
    table = _articles(table)
    return {
        "key": _np(table["key"]).astype(np.int64),
        "id_hash": _np(table["id_hash"]).astype(np.uint64),
        "id": np.asarray(table["id"].to_pylist(), dtype=object),
    }


def _lines_part(table, dup_keys=None) -> dict[str, np.ndarray]:
    table = _articles(table, dup_keys)
    batch = _token_batch(table)
    lines = _line_table(table, batch)
    body = lines["outlet"] >= -1
    return {
        "hash": batch.line_hashes[body],
        "outlet": lines["outlet"][body],
        "headline": lines["headline"][body],
    }


def _content_part(table, min_tokens: int) -> dict[str, np.ndarray]:
    active = _np(table["n_tokens"]) >= min_tokens
    return {
        "content": _np(table["content"])[active].astype(np.uint64),
        "tiebreak": _np(table["id_hash"])[active].astype(np.uint64),
        "key": _np(table["key"])[active].astype(np.int64),
    }


def _fixed(column, width: int) -> np.ndarray:
    values, _ = _csr(column)
    return values.astype(np.uint64, copy=False).reshape(-1, width)


def _band_part(table, copies: np.ndarray, min_tokens: int, bands: int, lead_bands: int) -> dict:
    keys = _np(table["key"]).astype(np.int64)
    rep = (_np(table["n_tokens"]) >= min_tokens) & ~np.isin(keys, copies)
    lead = rep & _np(table["has_lead"])
    tiebreak = _np(table["id_hash"]).astype(np.uint64)
    main = _fixed(table["bands"], bands)[rep]
    lead_keys = _fixed(table["lead_bands"], lead_bands)[lead]
    n_rep, n_lead = int(rep.sum()), int(lead.sum())
    return {
        "band": np.concatenate(
            [np.repeat(np.arange(bands), n_rep), bands + np.repeat(np.arange(lead_bands), n_lead)]
        ).astype(np.int64),
        "bucket": np.concatenate([main.T.ravel(), lead_keys.T.ravel()]),
        "tiebreak": np.concatenate([np.tile(tiebreak[rep], bands), np.tile(tiebreak[lead], lead_bands)]),
        "key": np.concatenate([np.tile(keys[rep], bands), np.tile(keys[lead], lead_bands)]),
    }


# -- generic shuffle on Ray tasks ------------------------------------------------------------------


def _remote(fn, **options):
    """``fn`` as a Ray task, retried if its worker dies (every task here is a pure function)."""
    import ray

    return ray.remote(max_retries=_TASK_RETRIES, **options)(fn)


def _map_split(extract, kwargs: dict, block, by: str, parts: int):
    import ray

    _maybe_fail("shuffle")
    kwargs = {k: ray.get(v) if isinstance(v, ray.ObjectRef) else v for k, v in kwargs.items()}
    columns = extract(block, **kwargs)
    pieces = split_by(columns, by, parts) if columns else [{} for _ in range(parts)]
    return pieces[0] if parts == 1 else tuple(pieces)


def _reduce(fn, kwargs: dict, *parts):
    return fn(concat_parts(parts), **kwargs)


def shuffle(blocks: list, extract, by: str, parts: int, reduce, extract_kwargs=None, reduce_kwargs=None):
    """Hash shuffle: ``extract(block)`` rows split by column ``by``; ``reduce(rows)`` per part."""
    split = _remote(_map_split, num_returns=parts)
    red = _remote(_reduce)
    pieces = [split.remote(extract, extract_kwargs or {}, b, by, parts) for b in blocks]
    if parts == 1:
        pieces = [[p] for p in pieces]
    return [red.remote(reduce, reduce_kwargs or {}, *[p[i] for p in pieces]) for i in range(parts)]


def _duplicate_ids(rows: dict) -> dict[str, np.ndarray]:
    """Reduce: keys of articles whose id appeared earlier in the input, with the first one's key."""
    if not rows:
        return {"key": np.empty(0, np.int64), "first": np.empty(0, np.int64), "id": np.empty(0, object)}
    order = np.lexsort((rows["key"], rows["id_hash"]))
    h = rows["id_hash"][order]
    same_hash = np.flatnonzero(h[1:] == h[:-1])
    dup, first, ids = [], [], []
    if len(same_hash):
        seen: dict[bytes, int] = {}
        for i in np.unique(np.concatenate([same_hash, same_hash + 1])):
            k, ident = int(rows["key"][order[i]]), rows["id"][order[i]]
            if ident in seen:
                dup.append(k)
                first.append(seen[ident])
                ids.append(ident)
            else:
                seen[ident] = k
    return {
        "key": np.asarray(dup, np.int64),
        "first": np.asarray(first, np.int64),
        "id": np.asarray(ids, object),
    }


def _boilerplate_reduce(rows: dict, min_articles: int, frequent_articles: int) -> np.ndarray:
    return boilerplate_keys(rows, min_articles=min_articles, frequent_articles=frequent_articles)


def _exact_reduce(rows: dict) -> dict[str, np.ndarray]:
    copy, rep = exact_reps(rows)
    return {
        "lo": np.minimum(copy, rep),
        "hi": np.maximum(copy, rep),
        "exact": np.ones(len(copy), np.bool_),
        "copy": copy,
    }


def _bucket_reduce(rows: dict, max_bucket: int) -> dict[str, np.ndarray]:
    lo, hi = bucket_pairs(rows, max_bucket)
    return {"lo": lo, "hi": hi, "exact": np.zeros(len(lo), np.bool_)}


# -- signatures (Ray Data map) ------------------------------------------------------------------------


def _signatures(table, *, config: NearDupConfig, strip_keys: np.ndarray, dup_keys: np.ndarray) -> Any:
    """Ray Data map: stripped lines, shingle sets, MinHash and band keys of a block's articles."""
    import pyarrow as pa

    from dedup.boilerplate import never_below, stripped_lines
    from dedup.lsh import band_keys, lsh_params
    from dedup.minhash import signatures
    from dedup.shingle import shingle_sets

    _maybe_fail("signatures")
    cfg = config
    table = _articles(table, dup_keys)
    batch = _token_batch(table)
    lines = _line_table(table, batch)
    n = batch.n_docs
    learned = line_verdicts(batch.line_hashes, lines["outlet"], strip_keys)
    learned = never_below(learned, lines["doc"], lines["tokens"], n, cfg.min_tokens)
    boiler = stripped_lines(
        learned,
        lines["tokens"],
        batch.line_sentence,
        lines["doc"],
        lines["head"],
        n,
        min_tokens=cfg.min_tokens,
        prose_only=cfg.prose_only,
    )
    sets = shingle_sets(batch, ~boiler, shingle_size=cfg.shingle_size, lead_shingles=cfg.lead_shingles)
    bands, rows = lsh_params(cfg.threshold, cfg.num_perm)
    lead_bands, lead_rows = lsh_params(cfg.lead_threshold, cfg.lead_perm)
    keys = band_keys(signatures(sets.shingles, sets.offsets, cfg.num_perm, cfg.seed), bands, rows)
    lead_keys = band_keys(
        signatures(sets.lead, sets.lead_offsets, cfg.lead_perm, cfg.seed), lead_bands, lead_rows
    )
    sizes = np.diff(sets.offsets)
    width = np.full(n, bands, dtype=np.int64)
    lead_width = np.full(n, lead_bands, dtype=np.int64)
    out = table.select(["key", "id", "id_hash", "outlet", "date", "title", "story"])
    return (
        out.append_column("n_tokens", pa.array(sets.n_tokens.astype(np.int64)))
        .append_column("size", pa.array(sizes))
        .append_column("content", pa.array(sets.content_hash))
        .append_column("has_lead", pa.array(np.diff(sets.lead_offsets) > 0))
        .append_column(
            "learned", pa.array(np.bincount(lines["doc"], weights=learned, minlength=n).astype(np.int64))
        )
        .append_column(
            "stripped", pa.array(np.bincount(lines["doc"], weights=boiler, minlength=n).astype(np.int64))
        )
        .append_column("shingles", _list_column(sets.shingles, sizes))
        .append_column("bands", _list_column(np.ascontiguousarray(keys.T).ravel(), width))
        .append_column("lead_bands", _list_column(np.ascontiguousarray(lead_keys.T).ravel(), lead_width))
    )


# -- verification ------------------------------------------------------------------------------------


def _split_blocks(pairs: dict, first_keys: np.ndarray):
    """Candidate pairs split by the input block of their second article."""
    parts = len(first_keys)
    pairs = {k: pairs[k] for k in ("lo", "hi", "exact")} if pairs else pairs
    if not pairs or len(pairs["lo"]) == 0:
        pieces = [{} for _ in range(parts)]
    else:
        block = np.searchsorted(first_keys, pairs["hi"], side="right") - 1
        order = np.argsort(block, kind="stable")
        bounds = np.searchsorted(block[order], np.arange(parts + 1))
        pieces = [{k: v[order[bounds[p] : bounds[p + 1]]] for k, v in pairs.items()} for p in range(parts)]
    return pieces[0] if parts == 1 else tuple(pieces)


def _node_columns(table) -> dict[str, Any]:
    shingles, offsets = _csr(table["shingles"])
    return {
        "key": _np(table["key"]).astype(np.int64),
        "shingles": shingles.astype(np.uint32, copy=False),
        "offsets": offsets,
        "size": _np(table["size"]).astype(np.int64),
        "tb": _np(table["id_hash"]).astype(np.uint64),
        "date": _np(table["date"]).astype(np.float64),
        "length": _np(table["n_tokens"]).astype(np.int64),
        "ident": _Idents(table["id"]),
    }


class _Idents:
    """Article ids of a block, decoded from JSON only for the rows asked for."""

    def __init__(self, column) -> None:
        self.column = column.combine_chunks()

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        taken = self.column.take(np.asarray(rows, dtype=np.int64)).to_pylist()
        return np.asarray([orjson.loads(x) for x in taken] + [None], dtype=object)[:-1]


_NODE_ATTRS = ("size", "tb", "date", "length", "ident")


def _gather_csr(values: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CSR rows ``rows`` (in that order, repeats allowed) as a new CSR."""
    starts = offsets[rows]
    counts = offsets[rows + 1] - starts
    out_off = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_off[1:])
    return values[concat_ranges(starts, counts)], out_off


def _serve(table, first_keys: np.ndarray, parts: int, *pair_parts):
    """Join step 1: the candidate pairs whose second article is in this block get that article's
    shingle set and attributes attached, and go to the partition of their first article's block.
    (Each block is read once here and once in :func:`_verify`, however its pairs spread.)"""
    _maybe_fail("verify")
    pairs = concat_parts(pair_parts)
    empty = tuple({} for _ in range(parts))
    if not pairs or len(pairs["lo"]) == 0:
        return (*empty, 0)
    exact = pairs["exact"]
    lsh_lo, lsh_hi = unique_pairs(pairs["lo"][~exact], pairs["hi"][~exact])  # a pair's copies meet here
    lo = np.concatenate([lsh_lo, pairs["lo"][exact]])
    hi = np.concatenate([lsh_hi, pairs["hi"][exact]])
    own = _node_columns(table)
    at = np.searchsorted(own["key"], hi)
    dest = partition_of(np.searchsorted(first_keys, lo, side="right") - 1, parts)
    out = []
    for p in range(parts):
        sel = np.flatnonzero(dest == p)
        rows, row_of_pair = np.unique(at[sel], return_inverse=True)  # each set shipped once per partition
        values, offsets = _gather_csr(own["shingles"], own["offsets"], rows)
        piece = {
            "lo": lo[sel],
            "hi": hi[sel],
            "hi_row": row_of_pair,
            "sh_values": values,
            "sh_offsets": offsets,
        }
        for name in _NODE_ATTRS:
            piece[f"{name}_hi"] = own[name][at[sel]]
        out.append(piece)
    return (*out, len(lsh_lo))


def _join_served(parts: Sequence[dict]) -> dict:
    """Concatenate served pieces, shifting their CSR offsets."""
    parts = [p for p in parts if p and len(p["lo"])]
    if not parts:
        return {}
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k not in ("sh_values", "sh_offsets")}
    rows_before = np.cumsum([0] + [len(p["sh_offsets"]) - 1 for p in parts[:-1]])
    out["hi_row"] = np.concatenate([p["hi_row"] + r for p, r in zip(parts, rows_before, strict=True)])
    out["sh_values"] = np.concatenate([p["sh_values"] for p in parts])
    shift = np.cumsum([0] + [len(p["sh_values"]) for p in parts[:-1]])
    out["sh_offsets"] = np.concatenate(
        [np.zeros(1, np.int64)] + [p["sh_offsets"][1:] + s for p, s in zip(parts, shift, strict=True)]
    )
    return out


class _Verifier:
    """Join step 2, a Ray actor per partition: exact overlap of the pairs whose first article's block
    belongs to the partition. It keeps those blocks' columns once read (a cache only: a restarted
    actor reads them again), so each block is read once however many waves of pairs arrive."""

    def __init__(self, first_keys: np.ndarray, blocks: list, config: NearDupConfig) -> None:
        self.first_keys, self.blocks, self.config = first_keys, blocks, config
        self.columns: dict[int, dict] = {}

    def _block(self, b: int) -> dict:
        import ray

        if b not in self.columns:
            self.columns[b] = _node_columns(ray.get(self.blocks[b]))
        return self.columns[b]

    def verify(self, *served) -> tuple[dict, int]:
        from dedup.groups import intersect_pairs, pair_scores

        _maybe_fail("verify")
        config = self.config
        pairs = _join_served(served)
        if not pairs:
            return {}, 0
        lo = pairs["lo"]
        lo_block = np.searchsorted(self.first_keys, lo, side="right") - 1
        shared = np.empty(len(lo), dtype=np.int64)
        dtypes = {"size": np.int64, "tb": np.uint64, "date": np.float64, "length": np.int64, "ident": object}
        lo_cols = {name: np.empty(len(lo), dtype=dtypes[name]) for name in _NODE_ATTRS}
        for b in np.unique(lo_block):
            sel = np.flatnonzero(lo_block == b)
            own = self._block(int(b))
            at = np.searchsorted(own["key"], lo[sel])
            out = np.empty(len(sel), dtype=np.int64)
            rows = pairs["hi_row"][sel]
            intersect_pairs(
                own["shingles"], own["offsets"], pairs["sh_values"], pairs["sh_offsets"], at, rows, out
            )
            shared[sel] = out
            for name in _NODE_ATTRS:
                lo_cols[name][sel] = own[name][at]
        scores = pair_scores(lo, pairs["hi"], shared, lo_cols["size"], pairs["size_hi"])
        linked = (scores.jaccard >= config.threshold) | (
            (scores.containment >= config.containment) & (scores.shared >= config.min_overlap)
        )
        edges = {
            "lo": lo[linked],
            "hi": pairs["hi"][linked],
            "shared": shared[linked],
            "jaccard": scores.jaccard[linked],
            "containment": scores.containment[linked],
        }
        for name in _NODE_ATTRS:
            edges[f"{name}_lo"] = lo_cols[name][linked]
            edges[f"{name}_hi"] = pairs[f"{name}_hi"][linked]
        return edges, int(linked.sum())


def _verify_in_waves(
    pieces: list, sig_blocks: list, first_keys: np.ndarray, config: NearDupConfig, parts: int
):
    """Serve and verify the candidate pairs a wave of blocks at a time, so the shingle sets in flight
    (each pair carries its second article's set) stay a fraction of the corpus. Returns the link
    refs and the counts of candidate and linked pairs."""
    import ray

    n_blocks = len(sig_blocks)
    serve = _remote(_serve, num_returns=parts + 1)
    verifier = ray.remote(num_cpus=0, max_restarts=_TASK_RETRIES, max_task_retries=_TASK_RETRIES)(_Verifier)
    actors = [verifier.remote(first_keys, sig_blocks, config) for _ in range(parts)]
    edge_refs, count_refs, candidate_refs = [], [], []
    previous: list = []
    for start in range(0, n_blocks, _WAVE_BLOCKS):
        wave = range(start, min(start + _WAVE_BLOCKS, n_blocks))
        served = [serve.remote(sig_blocks[b], first_keys, parts, *[p[b] for p in pieces]) for b in wave]
        candidate_refs += [s[parts] for s in served]
        outs = [a.verify.options(num_returns=2).remote(*[s[p] for s in served]) for p, a in enumerate(actors)]
        edge_refs += [o[0] for o in outs]
        ray.get(previous)  # at most two waves in flight
        previous = [o[1] for o in outs]
        count_refs += previous
    linked = sum(ray.get(count_refs))
    candidates = sum(ray.get(candidate_refs))
    for a in actors:
        ray.kill(a)
    return edge_refs, candidates, linked


# -- connected components ----------------------------------------------------------------------------


def _star_split(kind: str, edges: dict, parts: int):
    """Undirected links ``a > b`` as directed rows for the next star step, split by their source."""
    if not edges or len(edges["a"]) == 0:
        pieces = [{} for _ in range(parts)]
    else:
        a, b = edges["a"], edges["b"]
        if kind == "large":
            u, v = np.concatenate([a, b]), np.concatenate([b, a])
        else:
            u, v = a, b
        pieces = split_by({"u": u, "v": v}, "u", parts)
    return pieces[0] if parts == 1 else tuple(pieces)


def _star_reduce(kind: str, *parts):
    rows = concat_parts(parts)
    if not rows:
        return {"a": np.empty(0, np.int64), "b": np.empty(0, np.int64)}, (0, 0)
    u, v = rows["u"], rows["v"]
    owned_a, owned_b = unique_pairs(u[u > v], v[u > v])
    with np.errstate(over="ignore"):
        mixed = (owned_a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ owned_b.astype(np.uint64)
        mixed *= np.uint64(0xBF58476D1CE4E5B9)
    checksum = (len(owned_a), int(np.bitwise_xor.reduce(mixed)) if len(mixed) else 0)
    a, b = large_star(u, v) if kind == "large" else small_star(u, v)
    return {"a": a, "b": b}, checksum


def _components(edge_refs: list, parts: int) -> list:
    """Large-star/small-star rounds until neither changes the graph: links ``child -> root``."""
    import ray

    to_star = _remote(lambda e: {"a": e["hi"], "b": e["lo"]} if e and len(e["lo"]) else {})
    state = [to_star.remote(r) for r in edge_refs]
    split = _remote(_star_split, num_returns=parts)
    reduce = _remote(_star_reduce, num_returns=2)
    history: list[tuple] = []
    for step in range(_MAX_STAR_ROUNDS):
        kind = "large" if step % 2 == 0 else "small"
        pieces = [split.remote(kind, s, parts) for s in state]
        if parts == 1:
            pieces = [[p] for p in pieces]
        outs = [reduce.remote(kind, *[p[i] for p in pieces]) for i in range(parts)]
        state = [o[0] for o in outs]
        sums = ray.get([o[1] for o in outs])
        history.append((sum(s[0] for s in sums), sorted(s[1] for s in sums)))
        if len(history) >= 3 and history[-1] == history[-2] == history[-3]:
            return state
    raise RuntimeError("connected components did not converge")


def _attach_roots(n_edge_parts: int, *parts):
    """Join links (split by ``lo``) with the star (split by child): each link gets its component."""
    edges = concat_parts(parts[:n_edge_parts])
    star = concat_parts(parts[n_edge_parts:])
    if not edges:
        return {}
    root = edges["lo"].copy()
    if star:
        order = np.argsort(star["a"])
        children, roots = star["a"][order], star["b"][order]
        at = np.minimum(np.searchsorted(children, root), max(len(children) - 1, 0))
        hit = (children[at] == root) if len(children) else np.zeros(len(root), np.bool_)
        root[hit] = roots[at[hit]]
    edges["root"] = root
    return edges


def _split_column(rows: dict, by: str, parts: int):
    pieces = split_by(rows, by, parts) if rows else [{} for _ in range(parts)]
    return pieces[0] if parts == 1 else tuple(pieces)


def _link_reduce(config: NearDupConfig, *parts):
    edges = concat_parts(parts)
    if not edges:
        return np.empty(0, np.int64), np.empty(0, np.int64), []
    nodes, canonical, ident = link_components(
        edges,
        jaccard_threshold=config.threshold,
        containment_threshold=config.containment,
        min_overlap=config.min_overlap,
        canonical_rule=config.canonical,
    )
    return nodes, canonical, ident


# -- the run -----------------------------------------------------------------------------------------


def run_ray(
    paths: Sequence[Path],
    config: NearDupConfig,
    *,
    fields: FieldMap | None = None,
    on_error: str = "fail",
    stories: StoryConfig | None = None,
    options: RayOptions | None = None,
) -> RayRun:
    """Stage 1 (and stage 2 with ``stories``) over JSONL shards on Ray; see the module docstring.

    ``on_error="fail"`` raises :class:`~dedup.runner.InputError` naming the first bad line in
    input order; ``"skip"`` lists bad lines in ``RayRun.rejects``.
    """
    import ray
    import ray.data

    options = options or RayOptions()
    fields = fields or FieldMap()
    connect(options)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    parts = options.partitions or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    jobs = _jobs([Path(p) for p in paths], options.chunk_bytes)
    items = [{"job": k, "path": p, "start": s, "end": e} for k, (p, s, e) in enumerate(jobs)]
    if not items:
        return RayRun(jobs, np.zeros(0, np.int64), [], np.empty(0, np.int64), np.empty(0, np.int64), [])
    read = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        _read_ranges,
        batch_size=1,
        batch_format="numpy",
        fn_kwargs={"fields": fields, "lead_words": stories.lead_words if stories else None},
    )
    read = read.materialize()
    blocks = read.to_arrow_refs()
    line_counts = _remote(_line_counts)
    counts_and_errors = ray.get([line_counts.remote(b) for b in blocks])
    lines = np.zeros(len(jobs), dtype=np.int64)
    rejects: list[tuple[int, int, str, bytes]] = []
    for per_job, errors in counts_and_errors:
        for job, n in per_job.items():
            lines[job] = max(lines[job], n)
        rejects.extend(errors)
    seconds["read"] = time.perf_counter() - started

    t = time.perf_counter()
    dup_parts = ray.get(shuffle(blocks, _ids_part, "id_hash", parts, _duplicate_ids))
    dups = concat_parts(dup_parts)
    run = RayRun(jobs, lines, rejects, np.empty(0, np.int64), np.empty(0, np.int64), [])
    for key, first, ident in zip(dups.get("key", []), dups.get("first", []), dups.get("id", []), strict=True):
        job, line = int(key) >> _KEY_SHIFT, int(key) & 0xFFFFFFFF
        first_job, first_line = int(first) >> _KEY_SHIFT, int(first) & 0xFFFFFFFF
        where = run.reject_line(first_job, first_line)
        if jobs[first_job][0] != jobs[job][0]:
            where = f"{where} of {jobs[first_job][0]}"
        rejects.append((job, line, f"duplicate id {orjson.loads(ident)!r} (first seen on line {where})", b""))
    rejects.sort(key=lambda r: (r[0], r[1]))
    run.rejects = _with_raw(run, rejects)
    if on_error == "fail":
        bad = next((r for r in run.rejects if r[2] != "blank line"), None)
        if bad is not None:
            raise InputError(f"{jobs[bad[0]][0]}:{run.reject_line(bad[0], bad[1])}: {bad[2]}")
    dup_keys = np.sort(dups["key"]) if dups else np.empty(0, np.int64)
    dup_ref = ray.put(dup_keys)

    cfg = config
    strip_parts = ray.get(
        shuffle(
            blocks,
            _lines_part,
            "hash",
            parts,
            _boilerplate_reduce,
            extract_kwargs={"dup_keys": dup_ref},
            reduce_kwargs={
                "min_articles": cfg.boilerplate_min_articles,
                "frequent_articles": cfg.boilerplate_frequent_articles,
            },
        )
    )
    strip_keys = sorted_unique(np.concatenate([np.empty(0, np.uint64), *strip_parts]))
    seconds["boilerplate"] = time.perf_counter() - t

    t = time.perf_counter()
    sig = read.map_batches(
        _signatures,
        batch_size=None,
        batch_format="pyarrow",
        fn_kwargs={"config": cfg, "strip_keys": strip_keys, "dup_keys": dup_keys},
    ).materialize()
    del read, blocks
    sig_blocks = sig.to_arrow_refs()
    first_key = _remote(_block_first_key)
    firsts = ray.get([first_key.remote(b) for b in sig_blocks])
    nonempty = [i for i, f in enumerate(firsts) if f is not None]
    sig_blocks = [sig_blocks[i] for i in nonempty]
    first_keys = np.asarray([firsts[i] for i in nonempty], dtype=np.int64)
    articles = int(sig.count())
    run.articles = articles
    seconds["signatures"] = time.perf_counter() - t

    t = time.perf_counter()
    exact_refs = shuffle(
        sig_blocks,
        _content_part,
        "content",
        parts,
        _exact_reduce,
        extract_kwargs={"min_tokens": cfg.min_tokens},
    )
    copy_keys = _copy_keys(ray.get(exact_refs))
    from dedup.lsh import lsh_params

    bands, _ = lsh_params(cfg.threshold, cfg.num_perm)
    lead_bands, _ = lsh_params(cfg.lead_threshold, cfg.lead_perm)
    pair_refs = shuffle(
        sig_blocks,
        _band_part,
        "bucket",
        parts,
        _bucket_reduce,
        extract_kwargs={
            "copies": ray.put(copy_keys),
            "min_tokens": cfg.min_tokens,
            "bands": bands,
            "lead_bands": lead_bands,
        },
        reduce_kwargs={"max_bucket": cfg.max_bucket},
    )
    seconds["lsh"] = time.perf_counter() - t

    t = time.perf_counter()
    n_blocks = len(sig_blocks)
    split = _remote(_split_blocks, num_returns=n_blocks)
    pieces = [split.remote(r, first_keys) for r in [*pair_refs, *exact_refs]]
    if n_blocks == 1:
        pieces = [[p] for p in pieces]
    edge_refs, candidates, linked = _verify_in_waves(pieces, sig_blocks, first_keys, cfg, parts)
    run.counts["candidate_pairs"], run.counts["linked_pairs"] = candidates, linked
    seconds["verify"] = time.perf_counter() - t

    t = time.perf_counter()
    star = _components(edge_refs, parts)
    split_col = _remote(_split_column, num_returns=parts)
    edge_pieces = [split_col.remote(e, "lo", parts) for e in edge_refs]
    star_pieces = [_remote(_star_split_child, num_returns=parts).remote(s, parts) for s in star]
    if parts == 1:
        edge_pieces, star_pieces = [[p] for p in edge_pieces], [[p] for p in star_pieces]
    attach = _remote(_attach_roots)
    rooted = [
        attach.remote(len(edge_pieces), *[p[i] for p in edge_pieces], *[p[i] for p in star_pieces])
        for i in range(parts)
    ]
    by_root = [split_col.remote(r, "root", parts) for r in rooted]
    if parts == 1:
        by_root = [[p] for p in by_root]
    link = _remote(_link_reduce, num_returns=3)
    linked = [link.remote(cfg, *[p[i] for p in by_root]) for i in range(parts)]
    results = ray.get([x for trio in linked for x in trio])
    members = [results[3 * i] for i in range(parts)]
    canon = [results[3 * i + 1] for i in range(parts)]
    idents = [results[3 * i + 2] for i in range(parts)]
    run.members = np.concatenate([np.empty(0, np.int64), *members])
    run.canonical = np.concatenate([np.empty(0, np.int64), *canon])
    run.canonical_id = [x for part in idents for x in part]
    order = np.argsort(run.members)
    run.members, run.canonical = run.members[order], run.canonical[order]
    run.canonical_id = [run.canonical_id[i] for i in order]
    seconds["components"] = time.perf_counter() - t

    if stories is not None:
        from dedup.ray_stories import stories_on_ray

        t = time.perf_counter()
        stories_on_ray(run, sig, stories, parts)
        seconds["stories"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - started
    run.seconds.update({k: round(v, 3) for k, v in seconds.items()})
    return run


def _line_counts(table) -> tuple[dict[int, int], list[tuple[int, int, str, bytes]]]:
    import pyarrow.compute as pc

    jobs = _np(table["job"])
    line = _np(table["line"])
    per_job: dict[int, int] = {}
    for j in np.unique(jobs):
        per_job[int(j)] = int(line[jobs == j].max())
    bad = table.filter(pc.is_valid(table["error"]))
    errors = [
        (int(j), int(n), e, r)
        for j, n, e, r in zip(
            bad["job"].to_pylist(),
            bad["line"].to_pylist(),
            bad["error"].to_pylist(),
            bad["raw"].to_pylist(),
            strict=True,
        )
    ]
    return per_job, errors


def _block_first_key(table):
    if table.num_rows == 0:
        return None
    return int(table["key"][0].as_py())


def _star_split_child(star: dict, parts: int):
    rows = star if star and len(star["a"]) else {}
    pieces = split_by(rows, "a", parts) if rows else [{} for _ in range(parts)]
    return pieces[0] if parts == 1 else tuple(pieces)


def _copy_keys(exact_parts: list[dict]) -> np.ndarray:
    """Keys of exact copies (not their representatives)."""
    copies = [p["copy"] for p in exact_parts if p and "copy" in p]
    return np.sort(np.concatenate([np.empty(0, np.int64), *copies]))


def _with_raw(run: RayRun, rejects: list[tuple[int, int, str, bytes]]) -> list[tuple[int, int, str, bytes]]:
    """Rejects with their raw line (duplicate ids come without it): each range read at most once."""
    wanted: dict[int, set[int]] = {}
    for job, line, _, raw in rejects:
        if not raw:
            wanted.setdefault(job, set()).add(line)
    found: dict[tuple[int, int], bytes] = {}
    for job, lines in wanted.items():
        last = max(lines)
        for n, text in enumerate(_job_lines(*run.jobs[job]), start=1):
            if n in lines:
                found[job, n] = text
            if n == last:
                break
    return [(j, n, reason, raw or found.get((j, n), b"")) for j, n, reason, raw in rejects]


# -- writing -----------------------------------------------------------------------------------------


def _annotate(
    job: int,
    path: str,
    start: int,
    end: int,
    skip: np.ndarray,
    members: np.ndarray,
    canonical: np.ndarray,
    canonical_id: list,
    story_keys: np.ndarray | None,
    story_ids: list | None,
    id_field: str,
) -> bytes:
    """The output lines of one range: valid records with ``dup_group``, ``is_canonical`` (``story``)."""
    _maybe_fail("write")
    out = []
    for line, raw in enumerate(_job_lines(path, start, end), start=1):
        if line in skip or not raw.strip():
            continue
        record = parse_record(raw)
        key = (job << _KEY_SHIFT) | line
        at = int(np.searchsorted(members, key))
        if at < len(members) and members[at] == key:
            group, canon_key = canonical_id[at], int(canonical[at])
        else:
            group, canon_key = record[id_field], key
        record["dup_group"] = group
        record["is_canonical"] = canon_key == key
        if story_keys is not None:
            s = int(np.searchsorted(story_keys, canon_key))
            record["story"] = story_ids[s]
        out.append(dump_record(record))
    return b"".join(out)


def write_output(run: RayRun, out, id_field: str = "id") -> int:
    """Write every article of ``run`` to the binary stream ``out`` in input order; returns the count."""
    import ray

    annotate = _remote(_annotate)
    refs = []
    job_of_member = run.members >> _KEY_SHIFT
    for job, (path, start, end) in enumerate(run.jobs):
        lo, hi = np.searchsorted(job_of_member, [job, job + 1])
        skip = {line for j, line, _, _ in run.rejects if j == job}
        refs.append(
            annotate.remote(
                job,
                path,
                start,
                end,
                skip,
                run.members[lo:hi],
                run.canonical[lo:hi],
                run.canonical_id[lo:hi],
                run.story_keys,
                run.story_ids,
                id_field,
            )
        )
    written = 0
    for ref in refs:  # in input order, at most a few ranges held at once
        block = ray.get(ref)
        written += block.count(b"\n")
        out.write(block)
    return written


def reject_records(run: RayRun, name_files: bool = False) -> Iterator[tuple[str, Reject]]:
    """Each reject as (its file, :class:`~dedup.io.Reject` with its line number in that file);
    ``name_files`` puts the file name in front of the reason (for several shards)."""
    for job, line, reason, raw in run.rejects:
        path = run.jobs[job][0]
        yield path, Reject(run.reject_line(job, line), f"{path}: {reason}" if name_files else reason, raw)


def input_shards(source: str) -> list[Path]:
    """The shards of an input: one file, or every ``*.jsonl``/``*.jsonl.gz`` of a directory by name."""
    if source == "-":
        raise ValueError("--engine ray reads files, not stdin: save the input to a file or directory first")
    path = Path(source)
    if path.is_dir():
        shards = sorted(p for p in path.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")) and p.is_file())
        if not shards:
            raise ValueError(f"{source}: no *.jsonl or *.jsonl.gz files in this directory")
        return shards
    if not path.exists():
        raise FileNotFoundError(f"{source}: no such file")
    return [path]
