"""Finds the job folders of one or more sweeps and reads their files into tidy, validated tables.

Only CSV and JSON are read, and every value is checked before it is used: a file that cannot be trusted is
skipped with a warning that names it, and the job (or seed) it belongs to is listed in
:attr:`Collection.problems` with the reason, so a report can say what it left out.

A seed enters the analysis (:attr:`Collection.metrics`) only when its job's ``run.json`` is readable, the
seed finished (its entry in ``seed_status`` says ``completed``, or the job says ``completed`` when there is no
such entry), and its rows reach the last epoch of the config on both splits. When the same variant and seed
appear in more than one job folder, the folder read last (sweeps in the order given, jobs in numeric order) is
used and the others are listed as duplicates.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.store import (
    BY_LENGTH_FILE,
    COMPLETED,
    LENGTH_COLUMNS,
    METRIC_COLUMNS,
    METRICS_FILE,
    RUN_FILE,
    STATUSES,
)

log = logging.getLogger(__name__)

SWEEP_FILE = "multirun.yaml"
HYDRA_DIR = ".hydra"

KNOWN_VARIANTS = (
    "forward",
    "backward",
    "backward-unaligned",
    "bidirectional-sum",
    "bidirectional-mul",
    "bidirectional-concat",
    "bidirectional-ave",
)
PROBLEM_COLUMNS = ["run_dir", "seed", "kind", "reason"]

# run.json keys copied into the runs table: (column, path of keys inside the record).
RUN_FIELDS = (
    ("status", ("status",)),
    ("variant", ("variant",)),
    ("engine", ("engine",)),
    ("device", ("device",)),
    ("epochs", ("config", "train", "epochs")),
    ("eval_every", ("config", "train", "eval_every")),
    ("batch_size", ("config", "train", "batch_size")),
    ("learning_rate", ("config", "train", "learning_rate")),
    ("units", ("config", "model", "units")),
    ("n_timesteps", ("config", "data", "n_timesteps")),
    ("min_timesteps", ("config", "data", "min_timesteps")),
    ("max_timesteps", ("config", "data", "max_timesteps")),
    ("threshold", ("config", "data", "threshold")),
    ("heldout_size", ("config", "data", "heldout_size")),
    ("config_hash", ("config_hash",)),
    ("wall_time_s", ("wall_time_s",)),
    ("ms_per_seed_epoch", ("ms_per_seed_epoch",)),
)
RUN_COLUMNS = ["run_dir", *(column for column, _ in RUN_FIELDS), "seeds", "n_seeds_used"]


class DamagedFileError(ValueError):
    """A file that exists but cannot be trusted; the message names the file and says why."""


@dataclass(frozen=True)
class Collection:
    """Everything read from the job folders.

    Attributes:
        results: every row of every readable metrics.csv, usable or not; columns METRIC_COLUMNS + run_dir.
        metrics: the rows of the seeds that enter the analysis, one job folder per (variant, seed); same
            columns.
        by_length: heldout_by_length.csv rows of those seeds; columns LENGTH_COLUMNS + run_dir.
        runs: one row per job folder: run_dir, status, variant, engine, device, epochs, eval_every,
            batch_size, learning_rate, units, n_timesteps, min_timesteps, max_timesteps, threshold,
            heldout_size, config_hash, wall_time_s, ms_per_seed_epoch, seeds (space-separated), n_seeds_used,
            then version_<library> columns.
        problems: one row per left-out job or seed: run_dir, seed (<NA> when the whole job), kind (missing,
            damaged, failed, running, interrupted, partial, duplicate), reason.
    """

    results: pd.DataFrame
    metrics: pd.DataFrame
    by_length: pd.DataFrame
    runs: pd.DataFrame
    problems: pd.DataFrame


def variant_order(variants: Iterable[str]) -> list[str]:
    """The variants present in the usual order of their model (settings labels after it), then the others."""

    def key(name: str) -> tuple[int, str]:
        model = name.split(" [", 1)[0]
        return (KNOWN_VARIANTS.index(model) if model in KNOWN_VARIANTS else len(KNOWN_VARIANTS), name)

    return sorted(set(variants), key=key)


# Settings that make runs of one model differ beyond the seed; how a run executes (engine, device, XLA,
# threads) is left out, since the engines agree to 1e-4.
SETTING_KEYS = (
    ("model", "units"),
    ("data", "n_timesteps"),
    ("data", "min_timesteps"),
    ("data", "max_timesteps"),
    ("data", "threshold"),
    ("data", "heldout_size"),
    ("train", "epochs"),
    ("train", "batch_size"),
    ("train", "learning_rate"),
    ("train", "eval_every"),
)


# ----------------------------------------------------------------------------------------------------------
# Finding job folders


def is_job_dir(path: Path) -> bool:
    """True for a folder Hydra made for one job: it has .hydra/, run.json or metrics.csv, or a number name."""
    if not path.is_dir() or path.name.startswith("."):
        return False
    markers = (HYDRA_DIR, RUN_FILE, METRICS_FILE)
    return path.name.isdigit() or any((path / marker).exists() for marker in markers)


def _job_sort_key(path: Path) -> tuple[int, int, str]:
    # Hydra numbers jobs 0, 1, ..., 10, ...; plain string order would put 10 before 2.
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


def find_job_dirs(sweep_dir: Path) -> list[Path]:
    """The job folders of a sweep, in job-number order; a folder that is itself a job folder is its only job.

    Raises:
        FileNotFoundError: ``sweep_dir`` is not a folder.
    """
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep folder not found: {sweep_dir}")
    if any((sweep_dir / marker).exists() for marker in (HYDRA_DIR, RUN_FILE, METRICS_FILE)):
        return [sweep_dir]
    return sorted((child for child in sweep_dir.iterdir() if is_job_dir(child)), key=_job_sort_key)


def _is_sweep_dir(path: Path) -> bool:
    has_jobs = any(is_job_dir(child) for child in path.iterdir() if child.is_dir())
    return has_jobs or (path / SWEEP_FILE).is_file()


def _last_written(sweep_dir: Path) -> float:
    # The folder's own mtime also changes when a report is written into it, so the time the sweep last wrote
    # a file is taken from multirun.yaml and the job folders' contents instead.
    candidates = [sweep_dir / SWEEP_FILE]
    for job in find_job_dirs(sweep_dir):
        candidates += [job, job / RUN_FILE, job / METRICS_FILE]
    return max((path.stat().st_mtime for path in candidates if path.exists()), default=0.0)


def find_latest_sweep(root: Path, max_depth: int = 3) -> Path | None:
    """The most recently written sweep folder under ``root`` (Hydra nests sweeps as <date>/<time>/), or None.

    A sweep folder holds multirun.yaml or job folders; job folders themselves are not searched.
    """
    if not root.is_dir():
        return None
    sweeps: list[Path] = []
    level = [root]
    for _ in range(max_depth + 1):
        below: list[Path] = []
        for folder in level:
            if _is_sweep_dir(folder):
                sweeps.append(folder)
            else:
                children = (child for child in folder.iterdir() if child.is_dir())
                below += sorted(child for child in children if not is_job_dir(child))
        level = below
    return max(sweeps, key=lambda sweep: (_last_written(sweep), str(sweep)), default=None)


# ----------------------------------------------------------------------------------------------------------
# Reading and validating files

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
        text = raw[column].astype(object).where(raw[column].notna(), "").astype(str).str.strip()
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


def _lookup(record: dict[str, Any], keys: Sequence[str]) -> Any:
    value: Any = record
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    # only plain values go into a table cell
    return value if isinstance(value, str | int | float | bool) or value is None else json.dumps(value)


# ----------------------------------------------------------------------------------------------------------
# Deciding which jobs and seeds are usable


@dataclass
class _Job:
    """What was read from one job folder; ``used_seeds`` are the seeds that pass every check."""

    run_dir: str
    record: dict[str, Any] | None
    metrics: pd.DataFrame | None
    by_length: pd.DataFrame | None
    used_seeds: list[int]
    problems: list[dict[str, Any]]


def _problem(run_dir: str, seed: int | None, kind: str, reason: str) -> dict[str, Any]:
    return {"run_dir": run_dir, "seed": seed, "kind": kind, "reason": reason}


def _seed_problem(
    seed: int, record: dict[str, Any], metrics: pd.DataFrame, epochs: int | None
) -> tuple[str, str] | None:
    """(kind, reason) when a seed of a readable job cannot be used, else None."""
    entry = (record.get("seed_status") or {}).get(str(seed))
    status = entry.get("status") if entry else record["status"]
    if status != COMPLETED:
        where = f" at epoch {entry['epoch']}" if entry and "epoch" in entry else ""
        why = (entry or {}).get("error") or record.get("error") or f"seed status is {status}"
        return "failed", f"failed{where}: {why}"
    rows = metrics.loc[metrics["seed"] == seed]
    if rows.empty:
        return "missing", f"no rows for seed {seed} in {METRICS_FILE}"
    for split in ("heldout", "train"):
        last = rows.loc[rows["split"] == split, "epoch"].max()
        if pd.isna(last):
            return "partial", f"no {split} rows"
        if epochs is not None and last < epochs:
            return "partial", f"{split} rows end at epoch {last} of {epochs}"
    return None


def _read_job(job_dir: Path) -> _Job:
    run_dir = str(job_dir)
    job = _Job(run_dir, None, None, None, [], [])

    def skip(seed: int | None, kind: str, reason: str) -> None:
        job.problems.append(_problem(run_dir, seed, kind, reason))

    def read(reader: Callable[[Path], Any], path: Path) -> tuple[Any, bool]:
        """The file's content (None when missing) and whether the job can still be read."""
        try:
            return reader(path), True
        except FileNotFoundError:
            return None, True
        except DamagedFileError as error:
            log.warning("skipping %s: %s", path, error)
            skip(None, "damaged", str(error))
            return None, False

    job.record, readable = read(read_run_record, job_dir / RUN_FILE)
    if not readable:
        return job
    job.metrics, readable = read(read_metrics, job_dir / METRICS_FILE)
    if not readable:
        return job

    record, metrics = job.record, job.metrics
    if record is None:
        skip(None, "missing", f"{RUN_FILE} missing, so the job's status and settings are unknown")
        return job
    status, error = record["status"], record.get("error")
    if status in ("running", "interrupted") or (status == "failed" and not record.get("seed_status")):
        detail = f": {error}" if error else ""
        skip(None, status, f"job status is {status}{detail}")
        return job
    if metrics is None:
        skip(None, "missing", f"{METRICS_FILE} missing (job status {status})")
        return job
    if record.get("variant") is not None and set(metrics["variant"]) - {record["variant"]}:
        found = ", ".join(sorted(set(metrics["variant"])))
        reason = f"{METRICS_FILE} holds variant(s) {found}, {RUN_FILE} says {record['variant']}"
        log.warning("skipping %s: %s", job_dir / METRICS_FILE, reason)
        skip(None, "damaged", reason)
        return job

    epochs = _lookup(record, ("config", "train", "epochs"))
    epochs = epochs if isinstance(epochs, int) else None
    seeds = sorted(set(record.get("seeds") or []) | set(metrics["seed"].tolist()))
    if not seeds:
        skip(None, "missing", f"{METRICS_FILE} has no rows")
        return job
    verdicts = {seed: _seed_problem(seed, record, metrics, epochs) for seed in seeds}
    job.used_seeds = [seed for seed, verdict in verdicts.items() if verdict is None]
    if len(seeds) > 1 and not job.used_seeds and len(set(verdicts.values())) == 1:
        # packed seeds that all failed for one reason are one line, not one per seed
        skip(None, *verdicts[seeds[0]])
    else:
        for seed, verdict in verdicts.items():
            if verdict is not None:
                skip(seed, *verdict)

    try:
        job.by_length = read_by_length(job_dir / BY_LENGTH_FILE)
    except FileNotFoundError:
        pass
    except DamagedFileError as error:
        # the main metrics stay usable; only the by-length table loses this job
        log.warning("ignoring %s: %s", job_dir / BY_LENGTH_FILE, error)
        skip(None, "damaged", f"{error} (by-length results of this job left out)")
    return job


def _runs_row(job: _Job) -> dict[str, Any]:
    record = job.record or {}
    row: dict[str, Any] = {"run_dir": job.run_dir}
    row.update({column: _lookup(record, keys) for column, keys in RUN_FIELDS})
    row["status"] = row["status"] or "unknown"
    row["seeds"] = " ".join(str(seed) for seed in record.get("seeds") or [])
    row["n_seeds_used"] = len(job.used_seeds)
    versions = record.get("versions") or {}
    row.update({f"version_{library}": str(versions[library]) for library in sorted(versions)})
    return row


def _tagged(frame: pd.DataFrame | None, job: _Job, used_only: bool = False) -> pd.DataFrame:
    """The job's rows (only those of its used seeds if ``used_only``) with a run_dir column."""
    if frame is None:
        return pd.DataFrame()
    if used_only:
        frame = frame.loc[frame["seed"].isin(job.used_seeds)]
    return frame.assign(run_dir=job.run_dir)


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=[*columns, "run_dir"])
    return pd.concat(frames, ignore_index=True)


def collect(sweep_dirs: Sequence[Path]) -> Collection:
    """Reads every job folder of the given sweeps.

    Args:
        sweep_dirs: sweep folders (or single job folders), read in this order.

    Returns:
        The :class:`Collection`; warnings for skipped files go to the ``bench.collect`` logger.

    Raises:
        FileNotFoundError: one of ``sweep_dirs`` is not a folder.
    """
    jobs = [_read_job(job_dir) for sweep_dir in sweep_dirs for job_dir in find_job_dirs(Path(sweep_dir))]
    _label_settings(jobs)

    # Later folders win when a (variant, seed) repeats, e.g. a sweep run again into a second folder.
    owner = {(_variant_of(job), seed): job for job in jobs for seed in job.used_seeds}
    for job in jobs:
        for seed in list(job.used_seeds):
            kept = owner[(_variant_of(job), seed)]
            if kept is not job:
                job.used_seeds.remove(seed)
                reason = f"{_variant_of(job)} seed {seed} is also in {kept.run_dir}, which is used instead"
                job.problems.append(_problem(job.run_dir, seed, "duplicate", reason))

    results = _concat([_tagged(job.metrics, job) for job in jobs], METRIC_COLUMNS)
    used = _concat([_tagged(job.metrics, job, used_only=True) for job in jobs], METRIC_COLUMNS)
    used_by_length = _concat([_tagged(job.by_length, job, used_only=True) for job in jobs], LENGTH_COLUMNS)
    problems = pd.DataFrame([problem for job in jobs for problem in job.problems], columns=PROBLEM_COLUMNS)
    problems["seed"] = problems["seed"].astype("Int64")
    return Collection(
        results=results,
        metrics=used,
        by_length=used_by_length,
        runs=pd.DataFrame([_runs_row(job) for job in jobs], columns=None if jobs else RUN_COLUMNS),
        problems=problems,
    )


def _settings(job: _Job) -> dict[str, Any]:
    config = (job.record or {}).get("config") or {}
    return {keys[-1]: _nested(config, keys) for keys in SETTING_KEYS}


def _nested(mapping: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        mapping = mapping.get(key) if isinstance(mapping, dict) else None
    return mapping


def _label_settings(jobs: list[_Job]) -> None:
    """Names runs of one model with other settings apart: "forward [learning_rate=0.01]".

    Only settings that differ between the usable jobs appear in the label, so a sweep over variants and seeds
    keeps the plain variant names, and a sweep over, say, learning rates compares them like variants.
    """
    usable = [job for job in jobs if job.used_seeds]
    settings = [_settings(job) for job in usable]
    varying = [name for name in (keys[-1] for keys in SETTING_KEYS) if len({repr(s[name]) for s in settings}) > 1]
    if not varying:
        return
    for job, setting in zip(usable, settings, strict=True):
        label = f"{_variant_of(job)} [{', '.join(f'{name}={setting[name]}' for name in varying)}]"
        if job.record is not None:
            job.record = {**job.record, "variant": label}
        for frame in (job.metrics, job.by_length):
            if frame is not None:
                frame["variant"] = label


def _variant_of(job: _Job) -> str:
    """The variant of a job with used seeds (so with a run.json and metrics rows)."""
    # run.json without a variant name: the metrics rows name it
    return (job.record or {}).get("variant") or str(job.metrics["variant"].iloc[0])
