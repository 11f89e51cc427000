"""Tests for dedup.io and dedup.runner: numbered lines, rejects, atomic outputs, the two-pass runner."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import sys
from types import SimpleNamespace

import pytest
from conftest import read_jsonl, write_jsonl

from dedup.io import RejectWriter, atomic_output, dump_record, parse_record, read_lines, spool_stdin
from dedup.neardup import DupFinder, tokenize_texts
from dedup.normalize import shingle_text
from dedup.records import FieldMap
from dedup.runner import InputError, scan_articles, worker_pool, write_annotated

LINES = [
    b'{"id": "a", "text": "first"}\n',
    b"\n",
    b"not json\n",
    b'{"id": "b", "text": "caf\xc3\xa9"}\n',
    b'{"id": "c", "text": "bad \xff byte"}\n',
    b"[1, 2]\r\n",
    b'{"id": "d"}',  # no newline at the end of the file
]


def check_lines(lines):
    assert [line.number for line in lines] == [1, 2, 3, 4, 5, 6, 7]
    assert [line.raw for line in lines] == LINES
    assert lines[0].record == {"id": "a", "text": "first"} and lines[0].error is None
    assert lines[1].error == "blank line" and lines[1].record is None
    assert lines[2].error.startswith("malformed JSON: ")
    assert lines[3].record == {"id": "b", "text": "café"}
    assert lines[4].error == "invalid UTF-8 at byte 25" and lines[4].record is None
    assert lines[5].record == [1, 2]
    assert lines[6].record == {"id": "d"}


def test_read_lines_plain(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(LINES))
    check_lines(list(read_lines(path)))
    check_lines(list(read_lines(str(path))))


def test_read_lines_gz(tmp_path):
    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"".join(LINES))
    check_lines(list(read_lines(path)))


def test_read_lines_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"".join(LINES))))
    check_lines(list(read_lines("-")))


def test_read_lines_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        list(read_lines(tmp_path / "missing.jsonl"))


def test_parse_record_reasons():
    assert parse_record(b'{"n": 1}') == {"n": 1}
    with pytest.raises(ValueError, match=r"^malformed JSON: .*line 1 column \d+"):
        parse_record(b'{"n": 1,}')
    with pytest.raises(ValueError, match="^invalid UTF-8 at byte 1$"):
        parse_record(b'"\xc3("')


def test_parse_record_keeps_big_integers():
    record = parse_record(b'{"n": 18446744073709551617}')
    assert record["n"] == 2**64 + 1 and isinstance(record["n"], int)


def test_parse_record_accepts_byte_order_mark():
    assert parse_record(b'\xef\xbb\xbf{"id": 1}\n') == {"id": 1}


def test_dump_record():
    assert dump_record({"id": "é", "n": [1, 2.5, None]}) == '{"id":"é","n":[1,2.5,null]}\n'.encode()
    assert json.loads(dump_record({"n": 2**70})) == {"n": 2**70}  # beyond orjson: stdlib fallback


# --- atomic_output -------------------------------------------------------------------------------------------


def test_atomic_output_writes_on_success(tmp_path):
    target = tmp_path / "sub" / "out.jsonl"
    with atomic_output(target) as out:
        out.write(b"one\n")
        assert not target.exists()
    assert target.read_bytes() == b"one\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.jsonl"]


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz"])
def test_atomic_output_leaves_nothing_when_the_block_raises(tmp_path, name):
    target = tmp_path / name
    with pytest.raises(RuntimeError, match="boom"), atomic_output(target) as out:
        out.write(b"partial\n" * 1000)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_the_old_file_when_the_block_raises(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"old\n")
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as out:
        out.write(b"new\n")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_output_gz(tmp_path):
    target = tmp_path / "out.jsonl.gz"
    with atomic_output(target) as out:
        out.write(b'{"a": 1}\n')
    assert gzip.decompress(target.read_bytes()) == b'{"a": 1}\n'


def test_atomic_output_stdout(monkeypatch):
    buffer = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", SimpleNamespace(buffer=buffer))
    for path in (None, "-"):
        with atomic_output(path) as out:
            out.write(b"x")
    assert buffer.getvalue() == b"xx"


def scan(path, finder, **kw):
    """Pass 1 of near-dups over a file, as the CLI runs it."""
    kw.setdefault("fields", FieldMap())
    return scan_articles(
        path,
        finder.add_prepared,
        prepare=shingle_text,
        pack=tokenize_texts,
        accept_pack=finder.add_tokens,
        **kw,
    )


def test_reject_writer(tmp_path):
    target = tmp_path / "rejects.jsonl"
    writer = RejectWriter(target)
    scan(
        write_jsonl(tmp_path / "in.jsonl", ['{"id": 1}\n', "oops\n", '{"id": 1}\n', "\n"]),
        DupFinder(),
        on_error="skip",
        rejects=writer,
    )
    assert not target.exists()  # nothing under the real name until closed
    writer.close()
    rejects = read_jsonl(target)
    assert [(r["line"], r["raw"]) for r in rejects] == [(2, "oops"), (3, '{"id": 1}'), (4, "")]
    assert rejects[0]["reason"].startswith("malformed JSON")
    assert rejects[1]["reason"] == "duplicate id 1 (first seen on line 1)"
    assert rejects[2]["reason"] == "blank line"
    assert writer.count == 3
    assert writer.reasons == {"malformed JSON": 1, "duplicate id 1": 1, "blank line": 1}


def test_reject_writer_aborted_leaves_nothing(tmp_path):
    writer = RejectWriter(tmp_path / "rejects.jsonl")
    writer.close(ok=False)
    assert list(tmp_path.iterdir()) == []


def test_reject_raw_keeps_invalid_bytes_visible(tmp_path):
    target = tmp_path / "rejects.jsonl"
    writer = RejectWriter(target)
    (tmp_path / "bad.jsonl").write_bytes(b'{"id": "\xff"}\r\n')
    scan(tmp_path / "bad.jsonl", DupFinder(), on_error="skip", rejects=writer)
    writer.close()
    assert read_jsonl(target) == [{"line": 1, "reason": "invalid UTF-8 at byte 8", "raw": '{"id": "\\xff"}'}]


# --- the two-pass runner -------------------------------------------------------------------------------------


def test_scan_and_write_account_for_every_line(tmp_path):
    records = [
        '{"id": "a", "title": "T", "text": "x", "keep": [1, {"deep": true}]}\n',
        '{"id": "b", "text": ["list"]}\n',
        "\n",
        '{"id": "c", "text": "y"}\n',
        '{"id": "a", "text": "again"}\n',
        "{broken\n",
    ]
    path = write_jsonl(tmp_path / "in.jsonl", records)
    finder = DupFinder()
    writer = RejectWriter(tmp_path / "rejects.jsonl")
    scanned = scan(path, finder, on_error="skip", rejects=writer)
    writer.close()
    assert scanned.lines == 6 and scanned.articles == 2
    assert list(scanned.article_lines) == [1, 4]
    rejects = read_jsonl(tmp_path / "rejects.jsonl")
    assert [r["line"] for r in rejects] == [2, 3, 5, 6]
    assert "is a list" in rejects[0]["reason"]
    assert rejects[2]["reason"] == "duplicate id 'a' (first seen on line 1)"

    written = write_annotated(scanned, tmp_path / "out.jsonl", {"index": [0, 1]})
    assert written == 2
    out = read_jsonl(tmp_path / "out.jsonl")
    assert out == [
        {"id": "a", "title": "T", "text": "x", "keep": [1, {"deep": True}], "index": 0},
        {"id": "c", "text": "y", "index": 1},
    ]
    assert written + writer.count == scanned.lines


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{broken\n", "malformed JSON"),
        ('{"title": "no id"}\n', 'missing id field "id"'),
        ('{"id": "x", "text": 5}\n', 'field "text" is a number'),
    ],
)
def test_scan_fail_mode_names_file_and_line(tmp_path, line, reason):
    path = write_jsonl(tmp_path / "in.jsonl", ['{"id": "ok"}\n', "\n", line])
    with pytest.raises(InputError) as info:
        scan(
            path,
            DupFinder(),
            on_error="fail",
            rejects=RejectWriter(None),
            display_name="in.jsonl",
        )
    assert str(info.value).startswith(f"in.jsonl:3: {reason}")


def test_duplicate_id_reason_keeps_the_whole_id(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": "story (1)"}, {"id": "story (1)"}])
    with pytest.raises(InputError) as info:
        scan(path, DupFinder(), on_error="fail", rejects=RejectWriter(None))
    assert "duplicate id 'story (1)' (first seen on line 1)" in str(info.value)


def test_spool_stdin(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b'{"id": 1}\n')))
    path = spool_stdin(str(tmp_path))
    assert path.parent == tmp_path and path.read_bytes() == b'{"id": 1}\n'


def test_worker_processes_give_the_same_lines_rejects_and_output(tmp_path, monkeypatch):
    import dedup.runner as runner

    monkeypatch.setattr(runner, "_CHUNK_BYTES", 200)  # many small chunks
    monkeypatch.setattr(runner, "_MIN_PARALLEL_BYTES", 0)
    lines = []
    for i in range(60):
        if i % 7 == 3:
            lines.append("{broken\n")
        elif i % 11 == 5:
            lines.append("\n")
        elif i % 13 == 0 and i:
            lines.append(json.dumps({"id": "r0", "text": "repeat"}) + "\n")
        else:
            lines.append(json.dumps({"id": f"r{i}", "title": f"t{i}", "text": f"body {i % 5} words"}) + "\n")
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    results = []
    # one process; workers that tokenise; workers started ahead that only parse (this process tokenises)
    for workers, mode in ((1, "pack"), (2, "pack"), (2, "ahead")):
        writer = RejectWriter(tmp_path / f"rejects{workers}{mode}.jsonl")
        finder = DupFinder()
        with worker_pool(workers) or contextlib.nullcontext() as pool:
            if mode == "pack":
                scanned = scan(path, finder, on_error="skip", rejects=writer, pool=pool)
            else:
                started = runner.read_ahead(path, pool, prepare=shingle_text, fields=FieldMap(), ahead=50)
                scanned = scan_articles(
                    path,
                    finder.add_prepared,
                    prepare=shingle_text,
                    fields=FieldMap(),
                    on_error="skip",
                    rejects=writer,
                    pool=pool,
                    started=started,
                )
            written = write_annotated(
                scanned, tmp_path / f"out{workers}{mode}.jsonl", {"n": list(range(scanned.articles))}, pool
            )
        writer.close()
        assert written + writer.count == scanned.lines == 60
        assert (workers == 1) == (not scanned.chunks)
        results.append(
            (
                list(scanned.article_lines),
                finder._ids,
                finder.finish().canonical.tolist(),  # workers tokenised (repeated ids dropped after)
                (tmp_path / f"rejects{workers}{mode}.jsonl").read_bytes(),
                (tmp_path / f"out{workers}{mode}.jsonl").read_bytes(),
            )
        )
    assert results[0] == results[1] == results[2]


def test_read_ahead_belongs_to_one_file_and_workers_yield_to_this_process(tmp_path, monkeypatch):
    import os

    import dedup.runner as runner

    monkeypatch.setattr(runner, "_MIN_PARALLEL_BYTES", 0)
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    with worker_pool(2) as pool:
        assert runner.pool_size(pool) == 2
        assert pool.submit(os.nice, 0).result() >= os.nice(0) + 1  # lower priority than this process
        started = runner.read_ahead(path, pool, prepare=shingle_text, fields=FieldMap())
        finder = DupFinder()
        with pytest.raises(ValueError, match="prepares or packs it differently"):
            scan(path, finder, on_error="fail", rejects=RejectWriter(None), pool=pool, started=started)
    assert runner.read_ahead(path, None, prepare=shingle_text, fields=FieldMap()) is None


def test_workers_splice_fields_into_records_exactly_as_annotate_line_does(tmp_path):
    from dedup.runner import _annotate_range, _annotated, range_lines

    lines = [
        b'{"id": "a", "text": "x", "price": 1.50 }\r\n',
        b"\n",
        b'{"id":"b","n":18446744073709551617}\n',
        b'  {"id": "c", "text": "z"}\t\n',
        b'{"id":"d","note":"caf\\u00e9"}',
    ]
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(lines))
    valid = bytes([1, 0, 1, 1, 1])
    columns = {"dup_group": ["a", "a", "c", 7], "is_canonical": [True, False, True, True]}
    block = _annotate_range(str(path), 0, path.stat().st_size, valid, columns)
    one_by_one = b"".join(_annotated(path, range_lines(path, 0, path.stat().st_size), valid, columns))
    assert block == one_by_one
    out = block.splitlines()
    assert out[0] == b'{"id": "a", "text": "x", "price": 1.50 ,"dup_group":"a","is_canonical":true}'
    assert json.loads(out[1]) == {
        "id": "b",
        "n": 18446744073709551617,
        "dup_group": "a",
        "is_canonical": False,
    }
    assert json.loads(out[2]) == {"id": "c", "text": "z", "dup_group": "c", "is_canonical": True}
    assert json.loads(out[3]) == {"id": "d", "note": "café", "dup_group": 7, "is_canonical": True}
    # a block that has one of the fields already: each such record gets it replaced, once
    path.write_bytes(b'{"id":"e","dup_group":"old"}\n{"id":"f"}\n')
    block = _annotate_range(str(path), 0, path.stat().st_size, b"\1\1", {"dup_group": ["e", "e"]})
    assert [json.loads(x) for x in block.splitlines()] == [
        {"id": "e", "dup_group": "e"},
        {"id": "f", "dup_group": "e"},
    ]


def test_workers_that_only_encode_give_the_same_groups(tmp_path, monkeypatch):
    # the few-cores mode of near-dups: workers send one UTF-8 buffer per range, this process tokenises
    import dedup.runner as runner
    from dedup.normalize import encode_texts

    monkeypatch.setattr(runner, "_CHUNK_BYTES", 300)
    monkeypatch.setattr(runner, "_MIN_PARALLEL_BYTES", 0)
    records = [
        {"id": f"r{i}", "title": f"Storm {i % 4}", "text": f"The storm hit Café {i % 4} ẞtraße again, twice."}
        for i in range(40)
    ]
    records[7]["id"] = "r3"  # a repeated id: rejected after the worker encoded it
    path = write_jsonl(tmp_path / "in.jsonl", records)
    alone = DupFinder()
    scan(path, alone, on_error="skip", rejects=RejectWriter(None))
    encoded = DupFinder()
    with worker_pool(2) as pool:
        scan_articles(
            path,
            encoded.add_prepared,
            prepare=shingle_text,
            fields=FieldMap(),
            on_error="skip",
            rejects=RejectWriter(None),
            pool=pool,
            pack=encode_texts,
            accept_pack=encoded.add_encoded,
        )
    assert len(encoded) == 39
    assert encoded._ids == alone._ids
    assert encoded.finish().canonical.tolist() == alone.finish().canonical.tolist()


def _nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def test_worker_pool_left_by_an_error_drops_queued_work():
    futures = []
    with pytest.raises(InputError), worker_pool(2) as pool:
        futures = [pool.submit(_nap, 0.05) for _ in range(40)]
        raise InputError("in.jsonl:3: malformed JSON")
    assert any(f.cancelled() for f in futures)
    with worker_pool(2) as pool:  # left normally: everything queued still runs
        futures = [pool.submit(_nap, 0.01) for _ in range(10)]
    assert [f.result() for f in futures] == [0.01] * 10
