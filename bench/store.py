"""The job folder: every file is written whole or not at all.

A job folder holds ``metrics.csv`` (tidy per-epoch rows), ``heldout_by_length.csv`` (final held-out results by
sequence length) and ``run.json`` (status, resolved config and its hash, versions, timings). ``run.json`` says
``running`` while a job runs and ``completed``, ``failed`` or ``interrupted`` once it ends.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

METRICS_FILE = "metrics.csv"
BY_LENGTH_FILE = "heldout_by_length.csv"
RUN_FILE = "run.json"

# The process umask, read once (os.umask can only be read by setting it).
_UMASK = os.umask(0)
os.umask(_UMASK)

RUNNING, COMPLETED, FAILED, INTERRUPTED = "running", "completed", "failed", "interrupted"
STATUSES = (COMPLETED, RUNNING, FAILED, INTERRUPTED)

# Columns of metrics.csv and heldout_by_length.csv: a run's identity first, then one row per epoch and split
# (or per held-out sequence length).
IDENTITY_COLUMNS = ["variant", "direction", "merge", "aligned", "seed"]
METRIC_COLUMNS = [*IDENTITY_COLUMNS, "epoch", "split", "loss", "accuracy"]
LENGTH_COLUMNS = [*IDENTITY_COLUMNS, "epoch", "length", "n_sequences", "loss", "accuracy"]


def write_atomic(path: Path, text: str) -> None:
    """Writes ``text`` to a temporary file beside ``path`` and renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private; results are shared like any other file the user writes
        os.chmod(temporary, 0o666 & ~_UMASK)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _finite_or_none(value: Any) -> Any:
    """NaN and infinities as None, so run.json stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    return value


def write_run(folder: Path, record: dict[str, Any]) -> None:
    text = json.dumps(_finite_or_none(record), indent=2, sort_keys=True, default=str, allow_nan=False)
    write_atomic(folder / RUN_FILE, text + "\n")


def write_results(folder: Path, metrics: pd.DataFrame, by_length: pd.DataFrame) -> None:
    write_atomic(folder / METRICS_FILE, metrics.to_csv(index=False))
    write_atomic(folder / BY_LENGTH_FILE, by_length.to_csv(index=False))


def read_run(folder: Path) -> dict[str, Any] | None:
    """The job's run.json, or None when it is missing or not a JSON object."""
    try:
        record = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_completed(folder: Path, config_hash: str) -> bool:
    """True when the folder holds a completed run of exactly this config, with its metrics file."""
    record = read_run(folder)
    return (
        record is not None
        and record.get("status") == COMPLETED
        and record.get("config_hash") == config_hash
        and (folder / METRICS_FILE).is_file()
    )
