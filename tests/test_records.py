"""Tests for dedup.records: date parsing, field validation with messages that say what to do, FieldMap."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dedup.records import Article, FieldMap, RecordError, article_from_record, format_date, parse_date

T = datetime(2024, 3, 10, 16, 52, 50, tzinfo=UTC).timestamp()  # 1710089570


# --- parse_date ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-10T16:52:50Z", T),
        ("2024-03-10T16:52:50+00:00", T),
        ("2024-03-10T18:52:50+02:00", T),
        ("2024-03-10T11:52:50-05:00", T),
        ("2024-03-10T16:52:50", T),  # naive: UTC
        ("2024-03-10 16:52:50", T),
        ("2024-03-10T16:52:50.250Z", T + 0.25),
        ("2024-03-10", T - (16 * 3600 + 52 * 60 + 50)),
        ("  2024-03-10T16:52:50Z ", T),
        (1710089570, T),  # epoch seconds
        (1710089570.5, T + 0.5),
        (1710089570123, T + 0.123),  # epoch milliseconds
        (1710089570123456, T + 0.123456),  # epoch microseconds
        ("1710089570", T),
        ("1710089570123", T + 0.123),
        (0, 0.0),
        ("Sun, 10 Mar 2024 16:52:50 +0000", T),  # RFC 2822
        ("Sun, 10 Mar 2024 16:52:50 GMT", T),
        ("Sun, 10 Mar 2024 11:52:50 -0500", T),
        ("10 Mar 2024 16:52:50 +0000", T),
        (None, None),
        ("", None),
    ],
)
def test_parse_date(value, expected):
    got = parse_date(value)
    assert got == (pytest.approx(expected, abs=1e-6) if expected is not None else None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "cannot parse date 'yesterday'"),
        ("2024-13-45", "cannot parse date"),
        ("10/03/2024", "cannot parse date"),
        (True, "boolean"),
        ([2024, 3, 10], "a list is not a date"),
        ({"y": 2024}, "a dict is not a date"),
        (float("nan"), "not a date"),
        (float("inf"), "not a date"),
    ],
)
def test_parse_date_rejects_with_a_reason(value, message):
    with pytest.raises(ValueError, match=message):
        parse_date(value)


def test_parse_date_lowercase_z():
    assert parse_date("2024-03-10t16:52:50z") == T


def test_format_date_round_trips():
    assert format_date(T) == "2024-03-10T16:52:50Z"
    assert format_date(T + 0.25) == "2024-03-10T16:52:50.250Z"
    assert format_date(None) is None and format_date(float("nan")) is None
    assert parse_date(format_date(T + 0.25)) == pytest.approx(T + 0.25)


# --- article_from_record -------------------------------------------------------------------------------------


def test_full_record():
    record = {
        "id": "a-1",
        "title": "Storm hits coast",
        "text": "The storm hit.",
        "outlet": "Northern Herald",
        "published_at": "2024-03-10T16:52:50Z",
        "extra": [1, 2],
    }
    assert article_from_record(record) == Article(
        "a-1", "Storm hits coast", "The storm hit.", "Northern Herald", T
    )


def test_minimal_record_and_nulls():
    assert article_from_record({"id": 7}) == Article(7)
    assert article_from_record(
        {"id": 7, "title": None, "text": None, "outlet": None, "published_at": None}
    ) == Article(7)
    assert article_from_record({"id": 7, "outlet": ""}).outlet is None


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": "x"}, 'missing id field "id" (use --id-field to name the id field)'),
        ({"id": True}, 'id field "id" is a boolean, expected a string or an integer'),
        ({"id": 1.5}, 'id field "id" is a number, expected a string or an integer'),
        ({"id": ["a"]}, 'id field "id" is a list, expected a string or an integer'),
        ({"id": "  "}, 'id field "id" is empty'),
        (
            {"id": "a", "text": ["para one", "para two"]},
            'field "text" is a list, expected a string (use --text-field to pick another field, or --on-error skip)',
        ),
        (
            {"id": "a", "text": {"body": "x"}},
            'field "text" is an object, expected a string (use --text-field',
        ),
        ({"id": "a", "title": 3}, 'field "title" is a number, expected a string (use --title-field'),
        ({"id": "a", "outlet": 5}, 'field "outlet" is a number, expected a string (use --outlet-field)'),
        (
            {"id": "a", "published_at": "soon"},
            "field \"published_at\": cannot parse date 'soon' (use ISO-8601 like 2024-03-10T16:52:50Z, or epoch "
            "seconds or milliseconds; --date-field picks another field)",
        ),
        (["id", "a"], "line is a list, expected a JSON object"),
        (42, "line is a number, expected a JSON object"),
    ],
)
def test_validation_messages(record, message):
    with pytest.raises(RecordError) as info:
        article_from_record(record)
    assert message in str(info.value)


@pytest.mark.parametrize("record", [{"id": None}, None, "just a string"])
def test_validation_messages_use_json_names(record):
    with pytest.raises(RecordError) as info:
        article_from_record(record)
    assert "NoneType" not in str(info.value) and "a str," not in str(info.value)


def test_field_map():
    fields = FieldMap(id="doc_id", title="headline", text="body", outlet="source", date="time")
    record = {"doc_id": 3, "headline": "H", "body": "B", "source": "S", "time": 1710089570, "id": "ignored"}
    assert article_from_record(record, fields) == Article(3, "H", "B", "S", T)
    with pytest.raises(RecordError, match='missing id field "doc_id"'):
        article_from_record({"id": 1}, fields)
    with pytest.raises(RecordError, match='field "body" is a list'):
        article_from_record({"doc_id": 1, "body": []}, fields)
    assert FieldMap() == FieldMap("id", "title", "text", "outlet", "published_at")
