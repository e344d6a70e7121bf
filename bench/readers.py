"""Validated reading of a job's files: CSV tables checked value by value, and run.json checked key by key.

Only CSV and JSON are read. A file that exists but cannot be trusted raises :class:`DamagedFileError` with a
message that names the file and says why; the caller decides what to leave out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench.store import RUN_FILE, STATUSES


class DamagedFileError(ValueError):
    """A file that exists but cannot be trusted; the message names the file and says why."""


# A column parser turns the column's raw text into typed values, and also returns the position of the first
# bad value (None if all are good) and what was expected there.
ColumnParser = Callable[[pd.Series], tuple[pd.Series, int | None, str]]


def _first_bad(bad: pd.Series) -> int | None:
    positions = bad.to_numpy().nonzero()[0]
    return int(positions[0]) if len(positions) else None


def _text(allow_empty: bool = False) -> ColumnParser:
    def parse(raw: pd.Series) -> tuple[pd.Series, int | None, str]:
        bad = pd.Series(False, index=raw.index) if allow_empty else raw.eq("")
        return raw.astype(object), _first_bad(bad), "a non-empty text"

    return parse


def _choice(allowed: Sequence[str]) -> ColumnParser:
    def parse(raw: pd.Series) -> tuple[pd.Series, int | None, str]:
        return raw.astype(object), _first_bad(~raw.isin(allowed)), f"one of {', '.join(allowed)}"

    return parse


def _boolean(raw: pd.Series) -> tuple[pd.Series, int | None, str]:
    lowered = raw.str.lower()
    truthy, falsy = lowered.isin(["true", "1"]), lowered.isin(["false", "0"])
    return truthy.astype(bool), _first_bad(~(truthy | falsy)), "True or False"


def _integer(minimum: int) -> ColumnParser:
    def parse(raw: pd.Series) -> tuple[pd.Series, int | None, str]:
        numbers = pd.to_numeric(raw, errors="coerce").astype(float)
        bad = numbers.isna() | (numbers != numbers.round()) | (numbers < minimum)
        return numbers.where(~bad, minimum).astype("int64"), _first_bad(bad), f"a whole number >= {minimum}"

    return parse


def _real(low: float = -math.inf, high: float = math.inf, allow_nan: bool = False) -> ColumnParser:
    def parse(raw: pd.Series) -> tuple[pd.Series, int | None, str]:
        numbers = pd.to_numeric(raw, errors="coerce").astype(float)
        # to_numeric also gives NaN for words, so a NaN is accepted only where the file says "nan".
        written_nan = raw.str.lower().eq("nan")
        in_range = (numbers >= low) & (numbers <= high)
        bad = ~in_range & ~(written_nan & allow_nan)
        expected = "a number" if math.isinf(low) and math.isinf(high) else f"a number in [{low:g}, {high:g}]"
        return numbers, _first_bad(bad), expected

    return parse


IDENTITY_SCHEMA: dict[str, ColumnParser] = {
    "variant": _text(),
    "direction": _text(),
    # empty for variants that are not bidirectional
    "merge": _text(allow_empty=True),
    "aligned": _boolean,
    "seed": _integer(0),
}
METRICS_SCHEMA: dict[str, ColumnParser] = {
    **IDENTITY_SCHEMA,
    "epoch": _integer(0),
    "split": _choice(("train", "heldout")),
    # a diverged model may be scored as nan or inf; that is a result, not damage
    "loss": _real(allow_nan=True),
    "accuracy": _real(0.0, 1.0),
}
BY_LENGTH_SCHEMA: dict[str, ColumnParser] = {
    **IDENTITY_SCHEMA,
    "epoch": _integer(0),
    "length": _integer(1),
    "n_sequences": _integer(1),
    "loss": _real(allow_nan=True),
    "accuracy": _real(0.0, 1.0),
}


def read_table(path: Path, schema: dict[str, ColumnParser], key: Sequence[str]) -> pd.DataFrame:
    """Reads a CSV file and checks every value against ``schema``.

    Args:
        path: the CSV file.
        schema: column name -> parser; these columns must all be present, others are dropped.
        key: columns whose combination must be unique (a repeated key means rows were written twice).

    Returns:
        DataFrame with exactly the schema's columns, typed (str, bool, int64, float64); may have no rows.

    Raises:
        FileNotFoundError: the file does not exist.
        DamagedFileError: unreadable bytes, bad CSV, missing columns, or a value of the wrong kind.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} missing")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except (ValueError, OSError) as error:
        # UnicodeDecodeError, pandas' ParserError and EmptyDataError are all ValueErrors
        raise DamagedFileError(f"{path.name} is not a readable CSV file ({type(error).__name__})") from error
    raw.columns = [str(column).strip() for column in raw.columns]
    missing = [column for column in schema if column not in raw.columns]
    if missing:
        raise DamagedFileError(f"{path.name} lacks column(s) {', '.join(missing)}")
    table = {}
    for column, parse in schema.items():
        # short rows leave NaN even with na_filter off
        text = raw[column].fillna("").str.strip()
        table[column], bad_row, expected = parse(text)
        if bad_row is not None:
            raise DamagedFileError(
                f"{path.name} line {bad_row + 2}: {column} is {text.iloc[bad_row]!r}, expected {expected}"
            )
    frame = pd.DataFrame(table, columns=list(schema))
    repeated = frame.duplicated(subset=list(key))
    if repeated.any():
        row = frame.loc[repeated].iloc[0]
        where = ", ".join(f"{column}={row[column]}" for column in key)
        raise DamagedFileError(f"{path.name} repeats the row for {where}")
    return frame


def read_metrics(path: Path) -> pd.DataFrame:
    """A job's metrics.csv as a validated DataFrame with METRIC_COLUMNS (see :func:`read_table`)."""
    return read_table(path, METRICS_SCHEMA, key=("variant", "seed", "split", "epoch"))


def read_by_length(path: Path) -> pd.DataFrame:
    """A job's heldout_by_length.csv as a validated DataFrame with LENGTH_COLUMNS (see read_table)."""
    return read_table(path, BY_LENGTH_SCHEMA, key=("variant", "seed", "epoch", "length"))


def _check_type(record: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> None:
    if key in record and record[key] is not None and not isinstance(record[key], kind):
        raise DamagedFileError(f"{RUN_FILE}: {key} is not {what}")


def read_run_record(path: Path) -> dict[str, Any]:
    """A job's run.json, checked for the keys the report relies on.

    Returns:
        The JSON object. ``status`` is one of STATUSES; ``seeds`` (if present) is a list of whole numbers;
        ``seed_status``, ``config`` and ``versions`` (if present) are objects.

    Raises:
        FileNotFoundError: the file does not exist.
        DamagedFileError: not JSON, not an object, or a key of the wrong kind.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} missing")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise DamagedFileError(f"{path.name} is not readable JSON ({type(error).__name__})") from error
    if not isinstance(record, dict):
        raise DamagedFileError(f"{path.name} does not hold a JSON object")
    if record.get("status") not in STATUSES:
        allowed = ", ".join(STATUSES)
        raise DamagedFileError(f"{path.name}: status {record.get('status')!r} is not one of {allowed}")
    _check_type(record, "variant", str, "a text")
    _check_type(record, "error", str, "a text")
    _check_type(record, "seeds", list, "a list")
    if not all(isinstance(seed, int) and not isinstance(seed, bool) for seed in record.get("seeds") or []):
        raise DamagedFileError(f"{path.name}: seeds are not all whole numbers")
    for key in ("seed_status", "config", "versions"):
        _check_type(record, key, dict, "an object")
    if not all(isinstance(entry, dict) for entry in (record.get("seed_status") or {}).values()):
        raise DamagedFileError(f"{path.name}: seed_status entries are not objects")
    return record


def value_at(record: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` in nested dicts (``("config", "train", "epochs")``), or None where a key is absent."""
    for key in path:
        record = record.get(key) if isinstance(record, dict) else None
    return record
