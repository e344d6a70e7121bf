"""The job folder: every file is written whole or not at all, and one process writes a folder at a time.

A job folder holds ``metrics.csv`` (tidy per-epoch rows), ``heldout_by_length.csv`` (final held-out results by
sequence length) and ``run.json`` (status, resolved config and its hash, versions, timings). ``run.json`` says
``running`` while a job runs and ``completed``, ``failed`` or ``interrupted`` once it ends.
:mod:`bench.completeness` checks that a folder holds every row its config promises.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shlex
import socket
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pandas as pd
import psutil

METRICS_FILE = "metrics.csv"
BY_LENGTH_FILE = "heldout_by_length.csv"
RUN_FILE = "run.json"
RESULT_FILES = (METRICS_FILE, BY_LENGTH_FILE)
# Held by the process writing a run or sweep folder; it says who that is.
LOCK_FILE = ".lock"
# Old job folders moved aside by runtime.archive=true: <folder>/archive/<time>/.
ARCHIVE_DIR = "archive"
# write_atomic's temporary files: .<name>.<random>.tmp
TEMPORARY_GLOB = ".*.tmp"

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
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:
            # a failed write() names no file; the caller's message should
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise


def remove_temporaries(folder: Path) -> list[str]:
    """Deletes temporary files that a killed writer left in ``folder``; returns their names.

    Only the process holding the folder's lock may call this: then no write is under way.
    """
    removed = []
    for path in sorted(folder.glob(TEMPORARY_GLOB)):
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


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
    """Writes run.json whole (atomically); non-finite numbers become null."""
    text = json.dumps(_finite_or_none(record), indent=2, sort_keys=True, default=str, allow_nan=False)
    write_atomic(folder / RUN_FILE, text + "\n")


def write_results(folder: Path, metrics: pd.DataFrame, by_length: pd.DataFrame) -> None:
    """Writes metrics.csv and heldout_by_length.csv, each whole (atomically); a NaN is written as "nan", since an
    empty value would read as a line cut short."""
    write_atomic(folder / METRICS_FILE, metrics.to_csv(index=False, na_rep="nan"))
    write_atomic(folder / BY_LENGTH_FILE, by_length.to_csv(index=False, na_rep="nan"))


def read_run(folder: Path) -> dict[str, Any] | None:
    """The job's run.json, or None when it is missing or not a JSON object."""
    try:
        record = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_completed(folder: Path, config_hash: str) -> bool:
    """True when the folder's run.json records a completed run of exactly this config.

    Whether the folder still holds every row of it is :func:`result_problems`'s question.
    """
    record = read_run(folder)
    return record is not None and record.get("status") == COMPLETED and record.get("config_hash") == config_hash


def holds_results(folder: Path) -> bool:
    """True when the folder holds a results file, whatever state it is in."""
    return any((folder / name).exists() for name in RESULT_FILES)


# ----------------------------------------------------------------------------------------------------------
# One writer per folder


class FolderBusy(RuntimeError):
    """Another live process holds the folder's lock; the message names it."""


def lock(folder: Path) -> IO[str]:
    """Makes this process the only writer of ``folder`` until the returned file is closed or the process ends.

    The lock is an flock on ``folder/.lock``, so the operating system releases it when its holder dies, however
    it dies. The file says who holds it: pid, host, command line and start time (UTC), as JSON.

    Raises:
        FolderBusy: another process holds it; the message names that process.
        OSError: the folder cannot be written.
    """
    handle = open(folder / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = _holder_text(handle.read())
        handle.close()
        raise FolderBusy(f"{folder} is in use by {holder}") from None
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": shlex.join(psutil.Process().cmdline()),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(holder) + "\n")
    handle.flush()
    return handle


def _holder_text(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']} on {holder['host']} since {holder['started_at']} ({holder['command']})"
    except (ValueError, KeyError, TypeError):
        return "another process (it has not said which yet)"


def archive(folder: Path, names: Iterable[str]) -> Path:
    """Moves the entries ``names`` of ``folder`` into ``folder/archive/<UTC time>/`` and returns that folder.

    Entries are renamed, never copied or deleted, so the archive holds the old files exactly as they were.
    """
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    target = folder / ARCHIVE_DIR / stamp
    suffix = 1
    while target.exists():
        suffix += 1
        target = folder / ARCHIVE_DIR / f"{stamp}-{suffix}"
    target.mkdir(parents=True)
    for name in names:
        os.rename(folder / name, target / name)
    return target
