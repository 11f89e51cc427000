"""Tests for ``dedup near-dups``: driven through typer's CliRunner, plus real runs of the console script."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys

import pytest
from conftest import FLOOD_BARRIER, article, build_corpus, read_jsonl, write_jsonl
from typer.testing import CliRunner

from dedup.cli import app
from dedup.neardup import find_near_duplicates

SUMMARY = re.compile(r"^dedup: 17 articles -> 5 dup groups, 12 duplicates removed \(\d+\.\d s\)\n$")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def corpus_path(tmp_path):
    return write_jsonl(tmp_path / "articles.jsonl", build_corpus())


def expected_marks(records: list[dict]) -> list[dict]:
    result = find_near_duplicates(records)
    return [
        {**record, "dup_group": a.dup_group, "is_canonical": a.is_canonical}
        for record, a in zip(records, result.assignments(), strict=True)
    ]


def test_near_dups_writes_every_record_in_order_with_marks(runner, corpus_path, tmp_path):
    out = tmp_path / "marked.jsonl"
    result = runner.invoke(app, ["near-dups", str(corpus_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert SUMMARY.match(result.stderr), result.stderr
    marked = read_jsonl(out)
    corpus = build_corpus()
    assert marked == expected_marks(corpus)
    assert [list(m) for m in marked] == [
        [*r, "dup_group", "is_canonical"] for r in corpus
    ]  # field order kept
    by_id = {m["id"]: m for m in marked}
    assert by_id["flood-brief"]["dup_group"] == "flood-wire" and by_id["flood-brief"]["is_canonical"] is False
    assert by_id["flood-wire"]["is_canonical"] is True
    assert by_id["analysis"]["dup_group"] == "analysis"


def test_stdin_and_stdout(runner, corpus_path, tmp_path):
    result = runner.invoke(app, ["near-dups", "-"], input=corpus_path.read_bytes())
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == expected_marks(build_corpus())
    assert SUMMARY.match(result.stderr)


def test_gz_input_and_output(runner, tmp_path):
    records = build_corpus()
    source = write_jsonl(tmp_path / "articles.jsonl.gz", records, gz=True)
    out = tmp_path / "marked.jsonl.gz"
    result = runner.invoke(app, ["near-dups", str(source), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in gzip.decompress(out.read_bytes()).splitlines()] == expected_marks(
        records
    )


def test_on_error_fail_names_file_and_line(runner, tmp_path):
    records = [*build_corpus()[:3], "{not json\n", *build_corpus()[3:5]]
    source = write_jsonl(tmp_path / "articles.jsonl", records)
    out = tmp_path / "marked.jsonl"
    result = runner.invoke(app, ["near-dups", str(source), "-o", str(out)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"dedup: {source}:4: malformed JSON: ")
    assert "--on-error skip" in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.jsonl"]  # no partial output


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"title": "no id"}, 'missing id field "id" (use --id-field to name the id field)'),
        ({"id": "x", "text": ["a", "b"]}, 'field "text" is a list, expected a string (use --text-field'),
        ({"id": "flood-wire", "text": "again"}, "duplicate id 'flood-wire' (first seen on line 1)"),
    ],
)
def test_on_error_fail_reasons(runner, tmp_path, line, reason):
    source = write_jsonl(tmp_path / "articles.jsonl", [*build_corpus()[:2], line])
    result = runner.invoke(app, ["near-dups", str(source)])
    assert result.exit_code == 1
    assert f"{source}:3: {reason}" in result.stderr


def test_on_error_skip_writes_rejects_and_accounts_for_every_line(runner, tmp_path):
    corpus = build_corpus()
    lines = [
        *corpus[:5],
        "{not json\n",
        "\n",
        {"id": "flood-wire", "text": "a second article with the same id"},
        b'{"id": "bad-utf8", "text": "\xff"}\n',
        {"id": True, "text": "boolean id"},
        *corpus[5:],
    ]
    source = tmp_path / "articles.jsonl"
    source.write_bytes(
        b"".join(
            x if isinstance(x, bytes) else (x if isinstance(x, str) else json.dumps(x) + "\n").encode()
            for x in lines
        )
    )
    out, rejects = tmp_path / "marked.jsonl", tmp_path / "rejects.jsonl"
    result = runner.invoke(
        app, ["near-dups", str(source), "-o", str(out), "--on-error", "skip", "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    assert "5 rejected" in result.stderr
    marked, rejected = read_jsonl(out), read_jsonl(rejects)
    assert len(marked) + len(rejected) == len(lines)
    assert [m["id"] for m in marked] == [r["id"] for r in corpus]
    assert marked == expected_marks(corpus)
    assert [r["line"] for r in rejected] == [6, 7, 8, 9, 10]
    reasons = [r["reason"] for r in rejected]
    assert reasons[0].startswith("malformed JSON")
    assert reasons[1:] == [
        "blank line",
        "duplicate id 'flood-wire' (first seen on line 1)",
        "invalid UTF-8 at byte 28",
        'id field "id" is a boolean, expected a string or an integer',
    ]
    assert rejected[0]["raw"] == "{not json"
    assert rejected[3]["raw"] == '{"id": "bad-utf8", "text": "\\xff"}'


def test_skip_without_rejects_file(runner, tmp_path):
    source = write_jsonl(tmp_path / "articles.jsonl", [*build_corpus()[:2], "oops\n"])
    result = runner.invoke(app, ["near-dups", str(source), "--on-error", "skip"])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2
    assert "1 rejected" in result.stderr


def test_quiet_prints_nothing_on_stderr(runner, corpus_path, tmp_path):
    result = runner.invoke(app, ["near-dups", str(corpus_path), "-o", str(tmp_path / "o.jsonl"), "--quiet"])
    assert result.exit_code == 0
    assert result.stderr == "" and result.stdout == ""
    result = runner.invoke(app, ["near-dups", str(corpus_path), "-q"])
    assert result.stderr == "" and len(result.stdout.splitlines()) == 17


def test_field_name_flags(runner, tmp_path):
    corpus = build_corpus()
    renamed = [
        {
            "doc": r["id"],
            "headline": r["title"],
            "body": r["text"],
            "source": r.get("outlet"),
            "when": r.get("published_at"),
        }
        for r in corpus
    ]
    source = write_jsonl(tmp_path / "renamed.jsonl", renamed)
    args = [
        "near-dups",
        str(source),
        "-q",
        "--id-field",
        "doc",
        "--title-field",
        "headline",
        "--text-field",
        "body",
    ]
    args += ["--outlet-field", "source", "--date-field", "when"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    marked = [json.loads(line) for line in result.stdout.splitlines()]
    expected = expected_marks(corpus)
    assert [(m["doc"], m["dup_group"], m["is_canonical"]) for m in marked] == [
        (e["id"], e["dup_group"], e["is_canonical"]) for e in expected
    ]
    # without the flags the records have no "id" field
    result = runner.invoke(app, ["near-dups", str(source)])
    assert result.exit_code == 1 and 'missing id field "id" (use --id-field' in result.stderr


def test_canonical_flag(runner, tmp_path):
    records = [
        article(
            "early",
            FLOOD_BARRIER,
            paragraphs=FLOOD_BARRIER.paragraphs[:-1],
            published_at="2024-03-05T06:00:00Z",
        ),
        article("long", FLOOD_BARRIER, published_at="2024-03-05T09:00:00Z"),
    ]
    source = write_jsonl(tmp_path / "a.jsonl", records)
    for rule, winner in (("earliest", "early"), ("longest", "long")):
        result = runner.invoke(app, ["near-dups", str(source), "-q", "--canonical", rule])
        assert result.exit_code == 0
        assert {json.loads(line)["dup_group"] for line in result.stdout.splitlines()} == {winner}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "1.5"], "dedup: threshold must be between 0 and 1, got 1.5"),
        (["--threshold", "0"], "dedup: threshold must be between 0 and 1, got 0.0"),
        (["--containment", "-0.2"], "dedup: containment must be between 0 and 1, got -0.2"),
        (["--shingle-size", "0"], "dedup: shingle_size must be at least 1, got 0"),
        (["--num-perm", "1"], "num_perm and lead_perm must be at least 2"),
    ],
)
def test_bad_option_values_give_a_clear_error(runner, corpus_path, args, message):
    result = runner.invoke(app, ["near-dups", str(corpus_path), *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_bad_seed_gives_a_clear_error(runner, corpus_path):
    result = runner.invoke(app, ["near-dups", str(corpus_path), "--seed", "-1"])
    assert result.exit_code == 2
    assert result.stderr.startswith("dedup: ") and "seed" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--on-error", "maybe"], "--on-error"),
        (["--canonical", "newest"], "--canonical"),
        (["--threshold", "x"], "--threshold"),
    ],
)
def test_bad_option_types_are_usage_errors(runner, corpus_path, args, message):
    result = runner.invoke(app, ["near-dups", str(corpus_path), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_input(runner, tmp_path):
    result = runner.invoke(app, ["near-dups", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1
    assert result.stderr == f"dedup: {tmp_path / 'nope.jsonl'}: no such file\n"


def test_empty_input(runner, tmp_path):
    source = tmp_path / "empty.jsonl"
    source.write_bytes(b"")
    result = runner.invoke(app, ["near-dups", str(source), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0
    assert (tmp_path / "out.jsonl").read_bytes() == b""


def test_help_shows_an_example(runner):
    result = runner.invoke(app, ["near-dups", "--help"])
    assert result.exit_code == 0
    assert "dedup near-dups fixtures/articles.jsonl -o marked.jsonl" in result.stdout
    for flag in ("--threshold", "--on-error", "--rejects", "--id-field", "--canonical", "--quiet"):
        assert flag in result.stdout


def test_version(runner):
    from dedup import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"dedup {__version__}\n"


def test_big_integers_in_other_fields_come_back_unchanged(runner, tmp_path):
    source = tmp_path / "a.jsonl"
    source.write_bytes(b'{"id": "a", "text": "x", "tweet_id": 18446744073709551617}\n')
    result = runner.invoke(app, ["near-dups", str(source), "-q"])
    assert '"tweet_id": 18446744073709551617,' in result.stdout  # the record's own bytes
    assert json.loads(result.stdout)["tweet_id"] == 18446744073709551617


def test_output_keeps_each_record_as_written_and_replaces_fields_it_already_has(runner, tmp_path):
    source = tmp_path / "a.jsonl"
    source.write_bytes(
        b'\xef\xbb\xbf{"id": "a", "text": "x", "price": 1.50 }\r\n'
        b'{"id":"b","text":"y","dup_group":"old","is_canonical":false}\n'
        b'  {"id": "c", "text": "z"}\n'
        b'{"id":"d","text":"w","note":"\\u00e9t\\u00e9"}'
    )
    for workers in ("1", "2"):
        result = runner.invoke(app, ["near-dups", str(source), "-q", "--workers", workers])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == '{"id": "a", "text": "x", "price": 1.50 ,"dup_group":"a","is_canonical":true}'
        assert json.loads(lines[1]) == {"id": "b", "text": "y", "dup_group": "b", "is_canonical": True}
        assert lines[1].count("dup_group") == 1
        assert json.loads(lines[2]) == {"id": "c", "text": "z", "dup_group": "c", "is_canonical": True}
        assert (
            lines[3] == '{"id":"d","text":"w","note":"\\u00e9t\\u00e9","dup_group":"d","is_canonical":true}'
        )


# --- the real console script ---------------------------------------------------------------------------------


def test_help_does_not_load_the_compiled_core():
    # --help must answer at once: the numba kernels are imported inside the command only
    code = (
        "import sys\nfrom dedup.cli import app\n"
        "try:\n    app(['near-dups', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('numba' in sys.modules, 'dedup.neardup' in sys.modules, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "Usage:" in proc.stdout
    assert proc.stderr.strip() == "False False"


@pytest.mark.skipif(shutil.which("dedup") is None, reason="the dedup console script is not installed")
def test_console_script_end_to_end(corpus_path, tmp_path):
    out = tmp_path / "marked.jsonl"
    proc = subprocess.run(
        ["dedup", "near-dups", "-", "-o", str(out)],
        input=corpus_path.read_bytes(),
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    assert SUMMARY.match(proc.stderr.decode())
    assert read_jsonl(out) == expected_marks(build_corpus())


def _console(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """The console entry point (``dedup.cli:main``) in a fresh interpreter, as the script runs it."""
    code = "import sys\nfrom dedup.cli import main\nsys.argv = ['dedup', *sys.argv[1:]]\nmain()\n"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, timeout=300, **kwargs)


def test_console_entry_point_streams_output_and_exit_statuses(corpus_path, tmp_path):
    # main() leaves through os._exit: what it printed must be flushed and the status kept
    proc = _console(["near-dups", "-", "-q"], input=corpus_path.read_bytes())
    assert proc.returncode == 0, proc.stderr
    marks = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [{k: v for k, v in m.items() if k in ("dup_group", "is_canonical")} for m in marks] == [
        {k: v for k, v in m.items() if k in ("dup_group", "is_canonical")}
        for m in expected_marks(build_corpus())
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": "a", "text": "fine"}\n{not json\n')
    proc = _console(["near-dups", str(bad), "-o", str(tmp_path / "out.jsonl")])
    assert proc.returncode != 0
    assert f"{bad}:2: malformed JSON".encode() in proc.stderr
    assert not (tmp_path / "out.jsonl").exists()
    proc = _console(["near-dups", "--no-such-option"])
    assert proc.returncode == 2
    assert b"No such option" in proc.stderr


@pytest.mark.parametrize("before", ["", "import dedup.index\n"])  # ingest has numba imported already
def test_compiled_core_loads_with_scipy_hidden_only_while_numba_starts(before):
    code = (
        f"import sys\n{before}from dedup.cli import _load_compiled_core\n_load_compiled_core()\n"
        "assert 'numba' in sys.modules and sys.modules.get('scipy', 0) is not None\n"
        "assert 'scipy.linalg' not in sys.modules\n"
        "import scipy.linalg\nprint(scipy.linalg.norm([3.0, 4.0]))\n"
        "from dedup.shingle import tokenize\nprint(tokenize(['Storm hits\\nThe storm hit.']).tokens.size)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["5.0", "5"]
