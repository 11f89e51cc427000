"""Readers for public news-clustering benchmarks, yielding our article records with the gold story label.

Each reader streams ``dict`` records with our fields ``id, title, text, outlet, published_at`` (ISO-8601 UTC,
``2014-03-10T16:52:50.698Z``) plus ``story``, the benchmark's gold cluster, so that a benchmark file can go
straight into the pipeline and its labels into :func:`dedup.evaluate.score_clusters`::

    records = list(read_uci_csv("newsCorpora.csv"))
    truth = {r["id"]: r["story"] for r in records}

Both readers take plain or gzip-compressed files (recognised by their magic bytes, so ``.gz`` or not), decode
UTF-8 with invalid bytes replaced by U+FFFD, and raise ``ValueError`` naming the file, the line or document,
and the problem. Being generators, they open the file on the first ``next()``.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain
from typing import IO, Any

import orjson

__all__ = ["UCI_COLUMNS", "read_miranda", "read_uci_csv"]

UCI_COLUMNS = ("ID", "TITLE", "URL", "PUBLISHER", "CATEGORY", "STORY", "HOSTNAME", "TIMESTAMP")
"""Columns of the UCI News Aggregator ``newsCorpora.csv``, in file order."""

_MIRANDA_DATE = "%Y-%m-%d %H:%M:%S"
_MIRANDA_MAPPED = ("id", "cluster", "date", "title", "text")
# The UCI file escapes punctuation regex-style ("Engadget \(blog\)", "\?" in URLs).
_UCI_UNESCAPE = re.compile(r"\\([\W_])")


def read_miranda(path: str | os.PathLike[str], lang: str | None = "eng") -> Iterator[dict[str, Any]]:
    """Read the multilingual news-clustering corpus of Miranda et al. (EMNLP 2018).

    The file is a JSON array of documents (``dataset.test.json``) or JSON lines of the same documents, each
    with ``id``, ``cluster``, ``lang``, ``date`` (``"2014-03-10 16:52:50"``, taken as UTC), ``title`` and
    ``text``. ``cluster`` becomes ``story``, ``date`` becomes ``published_at``; ``outlet`` comes from an
    ``outlet`` or ``source`` field when there is one, else ``""``; every other field (``lang``, ``features``…)
    is kept. Ids become strings.

    ``lang`` keeps only documents in that language (``"eng"``, ``"deu"``, ``"spa"``); ``None`` keeps all.

    >>> english = list(read_miranda("dataset.test.json"))  # doctest: +SKIP
    """
    with _open_text(path) as stream:
        lines = iter(stream)
        first_number = 0
        for line in lines:
            first_number += 1
            if line.strip("\ufeff \t\r\n"):
                break
        else:
            return
        start = line.lstrip("\ufeff \t\r\n")
        if start.startswith("["):
            try:
                documents = orjson.loads(start + "".join(lines))
            except orjson.JSONDecodeError as error:
                raise ValueError(f"{path}: invalid JSON ({error})") from None
            located: Iterable[tuple[str, Any]] = (
                (f"{path}: document {index} of the array", doc) for index, doc in enumerate(documents)
            )
        elif start.startswith("{"):
            located = _json_lines(path, chain([start], lines), first_number)
        else:
            raise ValueError(
                f"{path}: expected a JSON array of documents or one JSON document per line, "
                f"but the file starts with {start[:20]!r}"
            )
        for where, doc in located:
            if not isinstance(doc, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(doc).__name__}")
            if lang is not None:
                if "lang" not in doc:
                    raise ValueError(
                        f'{where}: field "lang" is missing (pass lang=None to keep all documents)'
                    )
                if doc["lang"] != lang:
                    continue
            yield _miranda_record(doc, where)


def read_uci_csv(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Read the UCI News Aggregator corpus (Gasparetti 2016): headlines with the aggregator's story ids.

    Accepts the original ``newsCorpora.csv`` (TAB-separated, no header, columns in :data:`UCI_COLUMNS`
    order) and the common comma-separated copies with a header row (``uci-news-aggregator.csv``; column
    names in any order and case, extra columns ignored); either separator works with or without a header.
    Records are ``id`` (``"uci-<ID>"``), ``title``, ``text`` (always ``""``: the corpus has no bodies),
    ``outlet`` (PUBLISHER), ``url``, ``published_at`` (TIMESTAMP in epoch ms, always with milliseconds),
    ``category`` (b, t, e, m), ``story`` (STORY) and ``hostname``. In ``outlet`` and ``url`` a backslash
    before a non-alphanumeric character is dropped (``Engadget \\(blog\\)`` → ``Engadget (blog)``).

    >>> truth = {r["id"]: r["story"] for r in read_uci_csv("newsCorpora.csv")}  # doctest: +SKIP
    """
    with _open_text(path) as stream:
        first = stream.readline()
        if not first:
            return
        first = first.lstrip("\ufeff")
        tab_separated = "\t" in first
        reader = csv.reader(
            chain([first], stream),
            delimiter="\t" if tab_separated else ",",
            # The original TSV does not quote: a headline starting with a quote mark is just text.
            quoting=csv.QUOTE_NONE if tab_separated else csv.QUOTE_MINIMAL,
        )
        header = next(reader)
        names = [name.strip().upper() for name in header]
        # A data row never has two fields spelled like column names; a header, even a partial one, does.
        if len(set(names) & set(UCI_COLUMNS)) >= 2:
            missing = [name for name in UCI_COLUMNS if name not in names]
            if missing:
                raise ValueError(
                    f"{path}:1: header lacks column(s) {', '.join(missing)}; expected {','.join(UCI_COLUMNS)}"
                )
            columns = [names.index(name) for name in UCI_COLUMNS]
            n_fields = len(names)
            pending: list[list[str]] = []
        else:
            columns = list(range(len(UCI_COLUMNS)))
            n_fields = len(UCI_COLUMNS)
            pending = [header]
        for row in chain(pending, reader):
            if not row:
                continue
            where = f"{path}:{reader.line_num}"
            if len(row) != n_fields:
                raise ValueError(
                    f"{where}: expected {n_fields} fields, got {len(row)} "
                    "(is the file truncated, or not the UCI News Aggregator layout?)"
                )
            yield _uci_record(where, [row[k] for k in columns])


def _open_text(path: str | os.PathLike[str]) -> IO[str]:
    """Open ``path`` as UTF-8 text, decompressing gzip when the file starts with the gzip magic bytes."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    return opener(path, "rt", encoding="utf-8", errors="replace", newline="")  # type: ignore[operator]


def _json_lines(path: str | os.PathLike[str], lines: Iterable[str], start: int) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(lines, start=start):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            yield where, orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"{where}: invalid JSON ({error}); expected one document per line") from None


def _miranda_record(doc: dict[str, Any], where: str) -> dict[str, Any]:
    missing = [field for field in _MIRANDA_MAPPED if field not in doc]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    doc_id = doc["id"]
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int):
        raise ValueError(f'{where}: field "id" is {type(doc_id).__name__}, expected a string or integer')
    record: dict[str, Any] = {"id": str(doc_id)}
    for field in ("title", "text"):
        value = doc[field]
        if value is not None and not isinstance(value, str):
            raise ValueError(f'{where}: field "{field}" is {type(value).__name__}, expected a string')
        record[field] = value or ""
    outlet = doc.get("outlet", doc.get("source"))
    record["outlet"] = outlet if isinstance(outlet, str) else ""
    record["published_at"] = _miranda_date(doc["date"], where)
    record["story"] = doc["cluster"]
    for field, value in doc.items():
        if field not in _MIRANDA_MAPPED and field not in record:
            record[field] = value
    return record


def _miranda_date(value: Any, where: str) -> str:
    """``"2014-03-10 16:52:50"`` (UTC) → ``"2014-03-10T16:52:50Z"``; ISO-8601 with an offset is converted."""
    if isinstance(value, str):
        try:
            stamp = datetime.strptime(value, _MIRANDA_DATE)
        except ValueError:
            try:
                stamp = datetime.fromisoformat(value)
            except ValueError:
                stamp = None
        if stamp is not None:
            if stamp.tzinfo is not None:
                stamp = stamp.astimezone(UTC)
            millis = f".{stamp.microsecond // 1000:03d}" if stamp.microsecond else ""
            return f"{stamp:%Y-%m-%dT%H:%M:%S}{millis}Z"
    raise ValueError(f'{where}: field "date" is {value!r}, expected "YYYY-MM-DD HH:MM:SS" (UTC)')


def _uci_record(where: str, fields: list[str]) -> dict[str, Any]:
    row_id, title, url, publisher, category, story, hostname, timestamp = fields
    if not row_id.strip():
        raise ValueError(f"{where}: ID is empty")
    try:
        millis = int(timestamp)
    except ValueError:
        raise ValueError(f"{where}: TIMESTAMP is {timestamp!r}, expected epoch milliseconds") from None
    seconds, millis = divmod(millis, 1000)
    return {
        "id": f"uci-{row_id.strip()}",
        "title": title,
        "text": "",
        "outlet": _UCI_UNESCAPE.sub(r"\1", publisher),
        "url": _UCI_UNESCAPE.sub(r"\1", url),
        "published_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z",
        "category": category,
        "story": story,
        "hostname": hostname,
    }
