"""Run a stage over a JSONL file: pass 1 feeds valid articles in, pass 2 writes every record back.

The stages hold no text, so the input is read twice: once to collect articles, once to write each
record (all its fields, in input order) with the stage's fields added. Every line ends up in the
output or in the rejects, and the two counts are checked against the number of lines.

Parsing, validating and cleaning articles is Python work, so for a plain file both passes split it
into byte ranges handled by worker processes (which may also pack a range's results, e.g. tokenise
them), while this process consumes their results in order; line numbers, rejects and output order
are exactly those of one process.
"""

from __future__ import annotations

import contextlib
import gzip
import multiprocessing
import os
import sys
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson

from dedup.io import Reject, RejectWriter, annotate_line, atomic_output, dump_value, parse_record, read_lines
from dedup.records import Article, FieldMap, RecordError, article_from_record

__all__ = [
    "InputError",
    "Scan",
    "ReadAhead",
    "read_ahead",
    "scan_articles",
    "write_annotated",
    "worker_pool",
    "pool_size",
]

OnError = Literal["fail", "skip"]
Prepare = Callable[[Article, Mapping], Any]  # (article, its JSON record) -> what accept() receives
# A worker's whole range at once: (payloads of its valid lines) -> (packed, payloads to send instead)
Pack = Callable[[list[Any]], tuple[Any, list[Any]]]

_CHUNK_BYTES = 8 << 20  # a worker's unit of work
_MIN_PARALLEL_BYTES = 4 << 20  # below this, one process is faster than starting workers


class InputError(Exception):
    """Bad input in ``fail`` mode: ``file:line: reason``."""


@dataclass
class Scan:
    """What pass 1 saw: how many lines, which of them became articles (in order)."""

    path: Path
    lines: int = 0
    valid: bytearray = field(default_factory=bytearray)  # 1 per line that became an article
    article_lines: array = field(default_factory=lambda: array("q"))  # line number of each article
    chunks: list[tuple[int, int, int]] = field(default_factory=list)  # (start byte, end byte, first line)

    @property
    def articles(self) -> int:
        return len(self.article_lines)


_WORKER_NICENESS = 5


def worker_pool(workers: int | None) -> Executor | None:
    """A process pool for the passes (``None`` for one process). Create it before any compiled
    parallel kernel runs: on Linux it forks, which is only safe while this process has one thread.

    The workers run at a lower priority: this process is the serial part of every pass (it
    consumes their results in order), and on a machine with few cores it must not wait for a
    core behind them.
    """
    workers = os.cpu_count() or 1 if workers is None else workers
    if workers <= 1:
        return None
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return _WorkerPool(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_lower_priority,
    )


class _WorkerPool(ProcessPoolExecutor):
    """A process pool that, left by an error (e.g. a bad line in ``fail`` mode), drops the ranges
    still queued instead of parsing them all before the error reaches the user."""

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.shutdown(wait=True, cancel_futures=exc_type is not None)
        return False


def pool_size(pool: Executor | None) -> int:
    """Worker processes of a pool from :func:`worker_pool` (0 for none)."""
    return 0 if pool is None else getattr(pool, "_max_workers", 2)


def _lower_priority() -> None:
    with contextlib.suppress(OSError):
        os.nice(_WORKER_NICENESS)


# -- per-line work (shared by one process and the workers) ----------------------------------------


def _slim(article: Article) -> Article:
    """The article without its text, which the prepared payload already carries."""
    return Article(article.id, "", "", article.outlet, article.published_at)


def _prepare_line(raw: bytes, fields: FieldMap, prepare: Prepare) -> tuple[str | None, Any, Any]:
    """(error, article, payload) for one raw line."""
    if not raw.strip():
        return "blank line", None, None
    try:
        record = parse_record(raw)
        article = article_from_record(record, fields)
    except (ValueError, RecordError) as err:
        return str(err), None, None
    return None, _slim(article), prepare(article, record)


def _prepare_range(
    path: str, start: int, end: int, fields: FieldMap, prepare: Prepare, pack: Pack | None = None
) -> tuple[list[tuple], Any]:
    """Worker: ``(error, article, payload, raw line or its byte offset)`` for every line of a range,
    and what ``pack`` made of the valid lines' payloads (``None`` without ``pack``).

    Valid lines send their offset instead of their bytes: the raw line is only needed if this
    process rejects it later (a duplicate id), and then it is read back from the file.
    """
    out = []
    for pos, raw in range_lines(path, start, end):
        error, article, payload = _prepare_line(raw, fields, prepare)
        out.append((error, article, payload, raw if error else pos))
    if pack is None:
        return out, None
    valid = [k for k, entry in enumerate(out) if entry[0] is None]
    packed, payloads = pack([out[k][2] for k in valid])
    for k, payload in zip(valid, payloads, strict=True):
        error, article, _, pos = out[k]
        out[k] = (error, article, payload, pos)
    return out, packed


def range_lines(path: str | Path, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """``(byte offset, raw line)`` of the lines in ``[start, end)`` of a file; ``end`` -1: all lines
    of a ``.gz`` file (offsets then count uncompressed bytes)."""
    if end < 0:
        with gzip.open(path, "rb") as f:
            pos = 0
            for raw in f:
                yield pos, raw
                pos += len(raw)
        return
    with open(path, "rb") as f:
        f.seek(start)
        pos = start
        while pos < end:
            raw = f.readline()
            if not raw:
                return
            yield pos, raw
            pos += len(raw)


def _line_at(path: Path, offset: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.readline()


def _byte_ranges(path: Path, chunk: int) -> list[tuple[int, int]]:
    """Split a file into ranges of about ``chunk`` bytes that start and end on line boundaries."""
    size = path.stat().st_size
    cuts = [0]
    with open(path, "rb") as f:
        while cuts[-1] + chunk < size:
            f.seek(cuts[-1] + chunk)
            f.readline()
            pos = f.tell()
            if pos >= size:
                break
            cuts.append(pos)
    cuts.append(size)
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def _ordered(pool: Executor, fn, jobs: list[tuple], ahead: int) -> Iterator:
    """Results of ``fn(*job)`` in job order, keeping at most ``ahead`` jobs in flight.

    The first ``ahead`` jobs are submitted at once, before the first result is asked for.
    """
    pending: deque[Future] = deque()
    jobs_iter = iter(jobs)
    for job in jobs_iter:
        pending.append(pool.submit(fn, *job))
        if len(pending) >= ahead:
            break
    return _drain(pool, fn, pending, jobs_iter)


def _drain(pool: Executor, fn, pending: deque[Future], jobs_iter: Iterator) -> Iterator:
    while pending:
        result = pending.popleft().result()
        nxt = next(jobs_iter, None)
        if nxt is not None:
            pending.append(pool.submit(fn, *nxt))
        yield result


@dataclass
class ReadAhead:
    """Pass 1 already running on worker processes (:func:`read_ahead`), for :func:`scan_articles`."""

    path: Path
    ranges: list[tuple[int, int]]
    results: Iterator
    prepare: Prepare
    pack: Pack | None


def read_ahead(
    path: Path,
    pool: Executor | None,
    *,
    prepare: Prepare,
    fields: FieldMap,
    pack: Pack | None = None,
    ahead: int | None = None,
) -> ReadAhead | None:
    """Start the workers on pass 1 now, so they parse while this process does something else
    (e.g. loads the compiled core); ``None`` when the input is read without workers.

    ``ahead``: ranges in flight (submitted, or done and waiting for :func:`scan_articles`);
    default two per worker. More lets the workers run on while this process is busy elsewhere,
    at the cost of holding their results (about the size of the ranges' text).
    """
    if not _parallel(path, pool):
        return None
    ranges = _byte_ranges(path, _CHUNK_BYTES)
    jobs = [(str(path), start, end, fields, prepare, pack) for start, end in ranges]
    ahead = ahead or 2 * pool_size(pool)
    return ReadAhead(path, ranges, _ordered(pool, _prepare_range, jobs, ahead), prepare, pack)


def _parallel(path: Path, pool: Executor | None) -> bool:
    return pool is not None and path.suffix != ".gz" and path.stat().st_size >= _MIN_PARALLEL_BYTES


# -- pass 1 ---------------------------------------------------------------------------------------


def scan_articles(
    path: Path,
    accept: Callable[[Article, Any], Any],
    *,
    prepare: Prepare,
    fields: FieldMap,
    on_error: OnError,
    rejects: RejectWriter,
    display_name: str | None = None,
    pool: Executor | None = None,
    on_line: Callable[[int], None] | None = None,
    pack: Pack | None = None,
    accept_pack: Callable[[Any, np.ndarray], None] | None = None,
    started: ReadAhead | None = None,
) -> Scan:
    """Pass 1: parse and validate each line, then ``accept(article, prepare(article, record))``.

    ``accept`` receives the article without its text (``prepare`` has taken what is needed) and may
    raise :class:`RecordError` (e.g. a duplicate id); that line is then rejected too.

    With worker processes, ``pack`` (if given) runs in the worker over the payloads of a range's
    valid lines and returns ``(packed, payloads)``: ``accept`` then receives the new payloads, and
    after the range ``accept_pack(packed, accepted)`` is called with which of those lines
    ``accept`` took. This moves compiled per-batch work (tokenising) out of this process. Without
    workers ``pack`` is not used and ``accept`` gets the payloads of ``prepare``.

    ``started``: the workers' results from :func:`read_ahead` (same file, ``prepare`` and ``pack``).
    """
    name = display_name or str(path)
    scan = Scan(path)

    def consume(error: str | None, article: Article | None, payload: Any, raw: bytes | int) -> bool:
        number = scan.lines = scan.lines + 1
        if error is None:
            try:
                accept(article, payload)
            except RecordError as err:
                first = getattr(err, "first_index", None)
                if first is not None:  # a duplicate id: say on which line it was first seen
                    error = (
                        f"duplicate id {err.article_id!r} (first seen on line {scan.article_lines[first]})"
                    )
                else:
                    error = str(err)
        if error is None:
            scan.valid.append(1)
            scan.article_lines.append(number)
        else:
            if on_error == "fail" and error != "blank line":
                raise InputError(f"{name}:{number}: {error}")
            scan.valid.append(0)
            rejects.write(Reject(number, error, raw if isinstance(raw, bytes) else _line_at(path, raw)))
        if on_line is not None and number % 8192 == 0:
            on_line(number)
        return error is None

    if started is not None and (
        started.path != path or started.prepare is not prepare or started.pack is not pack
    ):
        raise ValueError("started reads another file, or prepares or packs it differently")
    if started is None and not _parallel(path, pool):
        for line in read_lines(path):
            if line.error is not None:
                consume(line.error, None, None, line.raw)
                continue
            try:
                article = article_from_record(line.record, fields)
            except RecordError as err:
                consume(str(err), None, None, line.raw)
                continue
            consume(None, _slim(article), prepare(article, line.record), line.raw)
        return scan
    if pack is not None and accept_pack is None:
        raise ValueError("pack needs accept_pack")
    started = started or read_ahead(path, pool, prepare=prepare, fields=fields, pack=pack)
    for (start, end), (entries, packed) in zip(started.ranges, started.results, strict=True):
        scan.chunks.append((start, end, scan.lines))
        accepted = []
        for error, article, payload, raw in entries:
            took = consume(error, article, payload, raw)
            if error is None:  # a line the worker prepared (and packed): did accept() take it?
                accepted.append(took)
        if pack is not None:
            accept_pack(packed, np.array(accepted, dtype=np.bool_))
    return scan


# -- pass 2 ---------------------------------------------------------------------------------------


def _annotate_range(path: str, start: int, end: int, valid: bytes, columns: dict[str, list]) -> bytes:
    """Worker: the output lines of a byte range (valid lines only, fields added).

    Reads the range as one block and splices the new fields in before each record's closing
    brace, without parsing it again; a block that mentions one of the field names already (or a
    line that is not a plain ``{...}``) goes through :func:`~dedup.io.annotate_line`.
    """
    if end < 0:
        return b"".join(_annotated(path, range_lines(path, start, end), valid, columns))
    with open(path, "rb") as f:
        f.seek(start)
        block = f.read(end - start)
    keys = [orjson.dumps(name) for name in columns]
    if any(key in block for key in keys):
        return b"".join(_annotated(path, _block_lines(block, start), valid, columns))
    prefixes = [(b"," if j else b"") + key + b":" for j, key in enumerate(keys)]
    encoded = [[dump_value(v) for v in column] for column in columns.values()]
    view = memoryview(block)
    parts: list = []
    pos, k = 0, 0
    size = len(block)
    for is_valid in valid:
        nl = block.find(b"\n", pos)
        nxt = size if nl < 0 else nl + 1
        if is_valid:
            if pos >= size:
                raise InputError(f"{path}: changed while dedup was reading it")
            close = nxt - 1 if nl >= 0 else size
            while close > pos and block[close - 1] in _SPACE_BYTES:
                close -= 1
            if block[pos] == 123 and block[close - 1] == 125:  # { ... }
                parts.append(view[pos : close - 1])
                parts.append(b",")
                for prefix, values in zip(prefixes, encoded, strict=True):
                    parts.append(prefix)
                    parts.append(values[k])
                parts.append(b"}\n")
            else:
                raw = block[pos:nxt]
                try:
                    parts.append(annotate_line(raw, {name: columns[name][k] for name in columns}))
                except ValueError:
                    raise InputError(f"{path}: changed while dedup was reading it") from None
            k += 1
        pos = nxt
    return b"".join(parts)


_SPACE_BYTES = frozenset(b" \t\r\n")


def _block_lines(block: bytes, start: int) -> Iterator[tuple[int, bytes]]:
    """``(byte offset, line)`` of each line of a block read from ``start``, as :func:`range_lines`."""
    pos = 0
    while pos < len(block):
        nl = block.find(b"\n", pos)
        nxt = len(block) if nl < 0 else nl + 1
        yield start + pos, block[pos:nxt]
        pos = nxt


def _annotated(
    path: str | Path, lines: Iterator[tuple[int, bytes]], valid, columns: Mapping
) -> Iterator[bytes]:
    """The output line of each valid line of ``lines``: its record with ``columns[name][k]`` added."""
    names = list(columns)
    k = 0
    for i, (_, raw) in enumerate(lines):
        if i < len(valid) and valid[i]:
            try:
                yield annotate_line(raw, {name: columns[name][k] for name in names})
            except ValueError:  # the line parsed in pass 1
                raise InputError(f"{path}: changed while dedup was reading it") from None
            k += 1


def write_annotated(
    scan: Scan, output: str | Path | None, columns: Mapping[str, Sequence], pool: Executor | None = None
) -> int:
    """Pass 2: write every valid record, in input order, with ``columns[name][article_index]`` added."""
    names = list(columns)
    with atomic_output(output) as out:
        if pool is None or not scan.chunks:
            end = -1 if scan.path.suffix == ".gz" else scan.path.stat().st_size
            written = 0
            for line in _annotated(scan.path, range_lines(scan.path, 0, end), scan.valid, columns):
                out.write(line)
                written += 1
            return written
        jobs = []
        article = 0
        bounds = [c[2] for c in scan.chunks[1:]] + [scan.lines]
        for (start, end, first_line), last_line in zip(scan.chunks, bounds, strict=True):
            valid = bytes(scan.valid[first_line:last_line])
            n = valid.count(1)
            jobs.append(
                (
                    str(scan.path),
                    start,
                    end,
                    valid,
                    {k: list(columns[k][article : article + n]) for k in names},
                )
            )
            article += n
        ahead = 2 * pool_size(pool)
        for block in _ordered(pool, _annotate_range, jobs, ahead):
            out.write(block)
        return article
