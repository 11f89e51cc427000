"""Input records (JSON objects) to validated :class:`Article` values, with errors that say what to do."""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["Article", "FieldMap", "RecordError", "article_from_record", "parse_date", "format_date"]

ArticleId = str | int


class RecordError(ValueError):
    """A record that cannot be used; the message says why and how to fix or skip it."""


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Which record fields hold the article's parts (CLI: ``--id-field`` and friends)."""

    id: str = "id"
    title: str = "title"
    text: str = "text"
    outlet: str = "outlet"
    date: str = "published_at"


@dataclass(frozen=True, slots=True)
class Article:
    """One news article as the stages see it. ``published_at`` is epoch seconds (UTC) or None."""

    id: ArticleId
    title: str = ""
    text: str = ""
    outlet: str | None = None
    published_at: float | None = None


_DEFAULT_FIELDS = FieldMap()
_EPOCH_MS = 1e11  # larger epoch numbers are milliseconds (1e11 s is the year 5138)
_EPOCH_US = 1e14


def parse_date(value: Any) -> float | None:
    """Epoch seconds from an ISO-8601 string, an RFC 2822 string, or epoch seconds/milliseconds.

    Naive times are taken as UTC. Raises ``ValueError`` for anything else.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"a boolean ({value}) is not a date")
    if isinstance(value, int | float):
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"{value!r} is not a date")
        return x / 1e6 if abs(x) >= _EPOCH_US else x / 1e3 if abs(x) >= _EPOCH_MS else x
    if not isinstance(value, str):
        raise ValueError(f"a {type(value).__name__} is not a date")
    s = value.strip()
    if s.lstrip("-").replace(".", "", 1).isdigit():
        return parse_date(float(s))
    try:
        dt = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
    except ValueError:
        try:
            dt = email.utils.parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"cannot parse date {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def format_date(epoch: float | None) -> str | None:
    """ISO-8601 UTC with a trailing Z (seconds, or milliseconds when present)."""
    if epoch is None or math.isnan(epoch):
        return None
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _string_field(record: Mapping[str, Any], name: str, flag: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise RecordError(
        f'field "{name}" is {_kind(value)}, expected a string (use {flag} to pick another field, '
        "or --on-error skip)"
    )


def _kind(value: Any) -> str:
    names = {
        list: "a list",
        dict: "an object",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        type(None): "null",
    }
    return names.get(type(value), f"a {type(value).__name__}")


def article_from_record(record: Any, fields: FieldMap | None = None) -> Article:
    """Validate one decoded JSON value and pick out the article fields; raise :class:`RecordError`."""
    fields = fields or _DEFAULT_FIELDS
    if not isinstance(record, Mapping):
        raise RecordError(f"line is {_kind(record)}, expected a JSON object")
    if fields.id not in record:
        raise RecordError(f'missing id field "{fields.id}" (use --id-field to name the id field)')
    ident = record[fields.id]
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        raise RecordError(f'id field "{fields.id}" is {_kind(ident)}, expected a string or an integer')
    if isinstance(ident, str) and not ident.strip():
        raise RecordError(f'id field "{fields.id}" is empty')
    title = _string_field(record, fields.title, "--title-field")
    text = _string_field(record, fields.text, "--text-field")
    outlet_value = record.get(fields.outlet)
    if outlet_value is not None and not isinstance(outlet_value, str):
        raise RecordError(
            f'field "{fields.outlet}" is {_kind(outlet_value)}, expected a string (use --outlet-field)'
        )
    try:
        date = parse_date(record.get(fields.date))
    except ValueError as err:
        raise RecordError(
            f'field "{fields.date}": {err} (use ISO-8601 like 2024-03-10T16:52:50Z, or epoch seconds or '
            "milliseconds; --date-field picks another field)"
        ) from None
    return Article(ident, title, text, outlet_value or None, date)
