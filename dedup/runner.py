"""Run a stage over a JSONL file: pass 1 feeds valid articles in, pass 2 writes every record back.

The stages hold no text, so the input is read twice: once to collect articles, once to write each
record (all its fields, in input order) with the stage's fields added. Every line ends up in the
output or in the rejects, and the two counts are checked against the number of lines.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dedup.io import Reject, RejectWriter, atomic_output, dump_record, read_lines
from dedup.records import Article, FieldMap, RecordError, article_from_record

__all__ = ["InputError", "Scan", "scan_articles", "write_annotated"]

OnError = Literal["fail", "skip"]


class InputError(Exception):
    """Bad input in ``fail`` mode: ``file:line: reason``."""


@dataclass
class Scan:
    """What pass 1 saw: how many lines, which of them became articles (in order)."""

    path: Path
    lines: int = 0
    valid: bytearray = field(default_factory=bytearray)  # 1 per line that became an article
    article_lines: array = field(default_factory=lambda: array("q"))  # line number of each article

    @property
    def articles(self) -> int:
        return self.valid.count(1)


def scan_articles(
    path: Path,
    accept: Callable[[Article], Any],
    *,
    fields: FieldMap,
    on_error: OnError,
    rejects: RejectWriter,
    display_name: str | None = None,
    on_line: Callable[[int], None] | None = None,
) -> Scan:
    """Pass 1: parse and validate each line, hand articles to ``accept``.

    ``accept`` may raise :class:`RecordError` (e.g. a duplicate id); that line is then rejected too.
    """
    name = display_name or str(path)
    scan = Scan(path)
    for line in read_lines(path):
        scan.lines = line.number
        reason = line.error
        if reason is None:
            try:
                accept(article_from_record(line.record, fields))
            except RecordError as err:
                first = getattr(err, "first_index", None)
                if first is not None:  # a duplicate id: say on which line it was first seen
                    reason = (
                        f"duplicate id {err.article_id!r} (first seen on line {scan.article_lines[first]})"
                    )
                else:
                    reason = str(err)
        if reason is None:
            scan.valid.append(1)
            scan.article_lines.append(line.number)
        else:
            if on_error == "fail" and reason != "blank line":
                raise InputError(f"{name}:{line.number}: {reason}")
            scan.valid.append(0)
            rejects.write(Reject(line.number, reason, line.raw))
        if on_line is not None and line.number % 8192 == 0:
            on_line(line.number)
    return scan


def write_annotated(
    scan: Scan,
    output: str | Path | None,
    annotate: Callable[[int, dict], None],
) -> int:
    """Pass 2: write every valid record, in input order, after ``annotate(article_index, record)``."""
    written = 0
    with atomic_output(output) as out:
        for written, record in enumerate(_valid_records(scan.path, scan.valid), start=1):
            annotate(written - 1, record)
            out.write(dump_record(record))
    return written


def _valid_records(path: Path, valid: bytearray) -> Iterator[dict]:
    for line in read_lines(path):
        if line.number <= len(valid) and valid[line.number - 1]:
            if line.record is None:  # the file changed between the passes
                raise InputError(f"{path}:{line.number}: changed while dedup was reading it")
            yield line.record
