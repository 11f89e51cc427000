"""Tests for dedup.formats: the Miranda et al. 2018 JSON reader and the UCI News Aggregator CSV reader."""

from __future__ import annotations

import gzip
import inspect
import json
from pathlib import Path

import pytest

from dedup.formats import UCI_COLUMNS, read_miranda, read_uci_csv

# Invented documents: never real article text.
MIRANDA_DOCS = [
    {
        "id": "doc-1",
        "cluster": 7,
        "lang": "eng",
        "date": "2014-03-10 16:52:50",
        "title": "Harbour bridge reopens",
        "text": "The bridge reopened on Monday.",
        "features": {"tokens": 5},
    },
    {
        "id": 2,
        "cluster": 7,
        "lang": "eng",
        "date": "2014-03-10 17:00:00",
        "title": "Bridge open again",
        "text": "Traffic is moving.",
    },
    {
        "id": "doc-3",
        "cluster": 9,
        "lang": "spa",
        "date": "2014-03-11 08:15:00",
        "title": "Puente abierto",
        "text": "El puente abrió.",
    },
]


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def write_jsonl(path: Path, docs: list) -> Path:
    path.write_text("".join(json.dumps(doc) + "\n" for doc in docs), encoding="utf-8")
    return path


# --- Miranda -------------------------------------------------------------------------------------------------


def test_miranda_array_maps_fields_and_keeps_the_rest(tmp_path):
    records = list(read_miranda(write_json(tmp_path / "dataset.test.json", MIRANDA_DOCS)))
    assert records == [
        {
            "id": "doc-1",
            "title": "Harbour bridge reopens",
            "text": "The bridge reopened on Monday.",
            "outlet": "",
            "published_at": "2014-03-10T16:52:50Z",
            "story": 7,
            "lang": "eng",
            "features": {"tokens": 5},
        },
        {
            "id": "2",
            "title": "Bridge open again",
            "text": "Traffic is moving.",
            "outlet": "",
            "published_at": "2014-03-10T17:00:00Z",
            "story": 7,
            "lang": "eng",
        },
    ]


def test_miranda_lang_filter(tmp_path):
    path = write_json(tmp_path / "docs.json", MIRANDA_DOCS)
    assert [r["id"] for r in read_miranda(path, lang=None)] == ["doc-1", "2", "doc-3"]
    assert [r["id"] for r in read_miranda(path, lang="spa")] == ["doc-3"]
    assert list(read_miranda(path, lang="deu")) == []


def test_miranda_json_lines_and_gzip_read_the_same(tmp_path):
    expected = list(read_miranda(write_json(tmp_path / "docs.json", MIRANDA_DOCS), lang=None))
    jsonl = write_jsonl(tmp_path / "docs.jsonl", MIRANDA_DOCS)
    assert list(read_miranda(jsonl, lang=None)) == expected
    for name, payload in [("docs.json.gz", json.dumps(MIRANDA_DOCS)), ("docs.jsonl.gz", jsonl.read_text())]:
        with gzip.open(tmp_path / name, "wt", encoding="utf-8") as out:
            out.write(payload)
        assert list(read_miranda(tmp_path / name, lang=None)) == expected
    # gzip is recognised by content, not by name
    (tmp_path / "docs.bin").write_bytes((tmp_path / "docs.json.gz").read_bytes())
    assert list(read_miranda(str(tmp_path / "docs.bin"), lang=None)) == expected


def test_miranda_pretty_printed_array_with_bom(tmp_path):
    path = tmp_path / "docs.json"
    path.write_text("\ufeff\n" + json.dumps(MIRANDA_DOCS, indent=2), encoding="utf-8")
    assert [r["id"] for r in read_miranda(path)] == ["doc-1", "2"]


def test_miranda_empty_file_yields_nothing(tmp_path):
    (tmp_path / "empty.json").write_text("\n\n", encoding="utf-8")
    assert list(read_miranda(tmp_path / "empty.json")) == []
    assert list(read_miranda(write_json(tmp_path / "none.json", []))) == []


def test_miranda_dates_with_offset_are_converted_to_utc(tmp_path):
    doc = dict(MIRANDA_DOCS[0], date="2014-03-10T18:52:50.250+02:00")
    (record,) = read_miranda(write_json(tmp_path / "docs.json", [doc]))
    assert record["published_at"] == "2014-03-10T16:52:50.250Z"


def test_miranda_source_becomes_outlet_and_null_text_is_empty(tmp_path):
    doc = dict(MIRANDA_DOCS[0], source="Example Gazette", text=None)
    (record,) = read_miranda(write_json(tmp_path / "docs.json", [doc]))
    assert (record["outlet"], record["text"], record["source"]) == ("Example Gazette", "", "Example Gazette")


def test_miranda_is_a_lazy_generator(tmp_path):
    stream = read_miranda(tmp_path / "does-not-exist.json")
    assert inspect.isgenerator(stream)
    with pytest.raises(FileNotFoundError):
        next(stream)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"id": 1,', r"docs\.json: invalid JSON"),
        ("<html>", r"docs\.json: expected a JSON array of documents or one JSON document per line"),
        ("[1, 2]", r"docs\.json: document 0 of the array: expected a JSON object, got int"),
        (
            json.dumps([{k: v for k, v in MIRANDA_DOCS[0].items() if k not in ("cluster", "title")}]),
            r"docs\.json: document 0 of the array: missing field\(s\) cluster, title",
        ),
        (
            json.dumps([dict(MIRANDA_DOCS[0], date="10/03/2014")]),
            r"document 0 of the array: field \"date\" is '10/03/2014', expected \"YYYY-MM-DD HH:MM:SS\"",
        ),
        (json.dumps([dict(MIRANDA_DOCS[0], id=True)]), r'field "id" is bool, expected a string or integer'),
        (json.dumps([dict(MIRANDA_DOCS[0], title=["a"])]), r'field "title" is list, expected a string'),
        (
            json.dumps([{k: v for k, v in MIRANDA_DOCS[0].items() if k != "lang"}]),
            r'field "lang" is missing \(pass lang=None to keep all documents\)',
        ),
    ],
)
def test_miranda_malformed_input_names_file_and_problem(tmp_path, content, message):
    path = tmp_path / "docs.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        list(read_miranda(path))


def test_miranda_json_lines_errors_give_the_line(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("\n" + json.dumps(MIRANDA_DOCS[0]) + "\n\n{not json}\n", encoding="utf-8")
    records = read_miranda(path)
    assert next(records)["id"] == "doc-1"  # streamed: the good line comes before the error
    with pytest.raises(ValueError, match=r"docs\.jsonl:4: invalid JSON .*expected one document per line"):
        next(records)


# --- UCI News Aggregator -------------------------------------------------------------------------------------

# Invented rows in the UCI layout, with its regex-style escapes in PUBLISHER and URL.
UCI_ROWS = [
    [
        "1",
        "Harbour bridge reopens, traffic flows",
        r"http://example.com/news\?id=1",
        r"Example Times \(blog\)",
        "b",
        "dStoryA",
        "example.com",
        "1394470370698",
    ],
    [
        "22",
        '"Quoted" headline',
        "http://example.org/a_b",
        r"Smith \& Sons",
        "t",
        "dStoryB",
        "example.org",
        "1394470371000",
    ],
]

EXPECTED_UCI = [
    {
        "id": "uci-1",
        "title": "Harbour bridge reopens, traffic flows",
        "text": "",
        "outlet": "Example Times (blog)",
        "url": "http://example.com/news?id=1",
        "published_at": "2014-03-10T16:52:50.698Z",
        "category": "b",
        "story": "dStoryA",
        "hostname": "example.com",
    },
    {
        "id": "uci-22",
        "title": '"Quoted" headline',
        "text": "",
        "outlet": "Smith & Sons",
        "url": "http://example.org/a_b",
        "published_at": "2014-03-10T16:52:51.000Z",
        "category": "t",
        "story": "dStoryB",
        "hostname": "example.org",
    },
]


def write_tsv(path: Path, rows: list[list[str]], newline: str = "\n") -> Path:
    path.write_text("".join("\t".join(row) + newline for row in rows), encoding="utf-8", newline="")
    return path


def csv_line(row: list[str]) -> str:
    return ",".join(
        '"' + field.replace('"', '""') + '"' if ("," in field or '"' in field) else field for field in row
    )


def test_uci_tab_separated_without_header(tmp_path):
    records = list(read_uci_csv(write_tsv(tmp_path / "newsCorpora.csv", UCI_ROWS)))
    assert records == EXPECTED_UCI
    # same fields, in the same order, as shared/data/uci_stories.jsonl
    assert list(records[0]) == [
        "id",
        "title",
        "text",
        "outlet",
        "url",
        "published_at",
        "category",
        "story",
        "hostname",
    ]


def test_uci_comma_separated_with_header(tmp_path):
    path = tmp_path / "uci-news-aggregator.csv"
    path.write_text(
        "\n".join(csv_line(row) for row in [list(UCI_COLUMNS), *UCI_ROWS]) + "\n", encoding="utf-8"
    )
    assert list(read_uci_csv(path)) == EXPECTED_UCI


def test_uci_header_columns_in_any_order_and_crlf(tmp_path):
    order = [7, 0, 3, 1, 2, 4, 5, 6]
    rows = [[list(UCI_COLUMNS)[k].lower() for k in order]] + [[row[k] for k in order] for row in UCI_ROWS]
    path = tmp_path / "reordered.csv"
    path.write_text("\r\n".join(csv_line(row) for row in rows) + "\r\n", encoding="utf-8", newline="")
    assert list(read_uci_csv(path)) == EXPECTED_UCI
    assert list(read_uci_csv(write_tsv(tmp_path / "crlf.csv", UCI_ROWS, newline="\r\n"))) == EXPECTED_UCI


def test_uci_comma_separated_without_header(tmp_path):
    path = tmp_path / "noheader.csv"
    path.write_text("\n".join(csv_line(row) for row in UCI_ROWS) + "\n", encoding="utf-8")
    assert list(read_uci_csv(path)) == EXPECTED_UCI


def test_uci_gzip(tmp_path):
    with gzip.open(tmp_path / "newsCorpora.csv.gz", "wt", encoding="utf-8", newline="") as out:
        out.write("".join("\t".join(row) + "\n" for row in UCI_ROWS))
    assert list(read_uci_csv(tmp_path / "newsCorpora.csv.gz")) == EXPECTED_UCI


def test_uci_unescaping_only_before_non_alphanumerics(tmp_path):
    row = list(UCI_ROWS[0])
    row[3] = r"A\_B \\ C\d \é"
    (record,) = read_uci_csv(write_tsv(tmp_path / "news.csv", [row]))
    # \_ -> _, \\ -> \, \d stays (a letter), \é stays (Unicode letters are alphanumeric)
    assert record["outlet"] == "A_B \\ C\\d \\é"


def test_uci_empty_file_and_blank_lines(tmp_path):
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    assert list(read_uci_csv(tmp_path / "empty.csv")) == []
    path = tmp_path / "blank.csv"
    path.write_text("\t".join(UCI_ROWS[0]) + "\n\n" + "\t".join(UCI_ROWS[1]) + "\n", encoding="utf-8")
    assert list(read_uci_csv(path)) == EXPECTED_UCI


def test_uci_streams_until_a_truncated_row(tmp_path):
    # The public prefixes of the corpus end in a cut-off row.
    path = write_tsv(tmp_path / "news.csv", [UCI_ROWS[0], UCI_ROWS[1][:3]])
    records = read_uci_csv(path)
    assert inspect.isgenerator(records)
    assert next(records)["id"] == "uci-1"
    with pytest.raises(ValueError, match=r"news\.csv:2: expected 8 fields, got 3 \(is the file truncated"):
        next(records)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (7, "yesterday", r"news\.csv:1: TIMESTAMP is 'yesterday', expected epoch milliseconds"),
        (0, " ", r"news\.csv:1: ID is empty"),
    ],
)
def test_uci_bad_values_name_file_and_line(tmp_path, column, value, message):
    row = list(UCI_ROWS[0])
    row[column] = value
    with pytest.raises(ValueError, match=message):
        list(read_uci_csv(write_tsv(tmp_path / "news.csv", [row])))


def test_uci_header_missing_columns(tmp_path):
    path = tmp_path / "news.csv"
    path.write_text("ID,TITLE,URL,PUBLISHER,CATEGORY,TIMESTAMP\n1,a,b,c,d,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"news\.csv:1: header lacks column\(s\) STORY, HOSTNAME"):
        list(read_uci_csv(path))
