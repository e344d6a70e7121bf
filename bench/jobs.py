"""Reading one job folder for a report: which of its seeds can be used, and why the others cannot.

Files are read by :mod:`bench.readers` (every value typed and checked), then cross-checked against the job's
``run.json`` with :func:`bench.completeness.shortfalls`, the same check that decides on resume whether a completed job
is whole: the seeds ``run.json`` lists must be the seeds its config trains, every completed seed must have every
row its config promises (epochs, evaluation epochs, lengths) and finite losses, and no rows of other seeds. A job
whose ``run.json`` says ``running`` is named as still running, or as interrupted when its process has ended.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from bench import completeness, store
from bench.readers import DamagedFileError, read_by_length, read_metrics, read_run_record
from bench.store import BY_LENGTH_FILE, COMPLETED, METRICS_FILE, RUN_FILE

log = logging.getLogger("bench.collect")


@dataclass
class Job:
    """What was read from one job folder; ``used_seeds`` are the seeds that pass every check.

    ``metrics`` and ``by_length`` have METRIC_COLUMNS and LENGTH_COLUMNS (None when unread); ``problems`` are
    rows of the report's problems table (run_dir, seed, kind, reason).
    """

    run_dir: str
    record: dict[str, Any] | None = None
    metrics: pd.DataFrame | None = None
    by_length: pd.DataFrame | None = None
    used_seeds: list[int] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, seed: int | None, kind: str, reason: str) -> None:
        self.problems.append(problem(self.run_dir, seed, kind, reason))


def problem(run_dir: str, seed: int | None, kind: str, reason: str) -> dict[str, Any]:
    """A row of the problems table."""
    return {"run_dir": run_dir, "seed": seed, "kind": kind, "reason": reason}


def read_job(job_dir: Path) -> Job:
    """Reads a job folder; a folder that cannot be read at all is one problem, never an error."""
    try:
        return _read_job(job_dir)
    except OSError as error:
        job = Job(str(job_dir))
        job.skip(None, "unreadable", f"cannot read {error.filename or job_dir}: {error.strerror or error}")
        log.warning("skipping %s: %s", job_dir, job.problems[-1]["reason"])
        return job


def _read(job: Job, reader: Callable[[Path], Any], path: Path) -> tuple[Any, bool]:
    """The file's content (None when missing) and whether the job can still be read."""
    try:
        return reader(path), True
    except FileNotFoundError:
        return None, True
    except DamagedFileError as error:
        log.warning("skipping %s: %s", path, error)
        job.skip(None, "damaged", str(error))
        return None, False


def _read_job(job_dir: Path) -> Job:
    job = Job(str(job_dir))
    job.record, readable = _read(job, read_run_record, job_dir / RUN_FILE)
    if not readable:
        return job
    job.metrics, readable = _read(job, read_metrics, job_dir / METRICS_FILE)
    if not readable:
        return job
    record, metrics = job.record, job.metrics
    if record is None:
        job.skip(None, "missing", f"{RUN_FILE} missing, so the job's status and settings are unknown")
        return job
    status, error = record["status"], record.get("error")
    if status == store.RUNNING:
        job.skip(None, *_running(record))
        return job
    if status == store.INTERRUPTED or (status == store.FAILED and not record.get("seed_status")):
        job.skip(None, status, f"job status is {status}{f': {error}' if error else ''}")
        return job
    if metrics is None:
        job.skip(None, "missing", f"{METRICS_FILE} missing (job status {status})")
        return job
    if metrics.empty:
        job.skip(None, "missing", f"{METRICS_FILE} has no rows")
        return job
    damage = _contradiction(record, metrics)
    if damage:
        log.warning("skipping %s: %s", job_dir, damage)
        job.skip(None, "damaged", damage)
        return job
    _choose_seeds(job, job_dir)
    return job


def _running(record: dict[str, Any]) -> tuple[str, str]:
    """(kind, reason) of a job whose run.json says running: still running, or interrupted when its process ended."""
    pid, host = record.get("pid"), record.get("host")
    if host == socket.gethostname() and isinstance(pid, int) and not psutil.pid_exists(pid):
        return "interrupted", f"job status is running, but its process (pid {pid}) has ended without recording why"
    where = f" (pid {pid} on {host})" if isinstance(pid, int) and isinstance(host, str) else ""
    return "running", f"job status is running{where}: its results are still to come"


def _contradiction(record: dict[str, Any], metrics: pd.DataFrame) -> str | None:
    """Why run.json and metrics.csv contradict each other (variant, seeds, config), or None."""
    variant = record.get("variant")
    if variant is not None and set(metrics["variant"]) - {variant}:
        found = ", ".join(sorted(set(metrics["variant"])))
        return f"{METRICS_FILE} holds variant(s) {found}, {RUN_FILE} says {variant}"
    config = record.get("config")
    if config is None:
        return f"{RUN_FILE} has no config, so its rows cannot be checked"
    first, count = config.get("seed"), config.get("n_seeds")
    if isinstance(first, int) and isinstance(count, int) and record.get("seeds") is not None:
        trained = list(range(first, first + count))
        if sorted(record["seeds"]) != trained:
            return f"{RUN_FILE} lists seeds {record['seeds']}, but its config trains seeds {trained}"
    return None


def _seed_statuses(record: dict[str, Any], seeds: list[int]) -> dict[int, tuple[str, dict[str, Any] | None]]:
    """seed -> (its status, its seed_status entry); a seed without an entry has the job's status."""
    entries = record.get("seed_status") or {}
    statuses = {}
    for seed in seeds:
        entry = entries.get(str(seed))
        statuses[seed] = ((entry or {}).get("status", record["status"]), entry)
    return statuses


def _choose_seeds(job: Job, job_dir: Path) -> None:
    """Uses the completed seeds whose rows are whole; lists the others with the reason."""
    record, metrics = job.record, job.metrics
    config = record["config"]
    seeds = sorted(set(record.get("seeds") or []) | set(metrics["seed"].tolist()))
    statuses = _seed_statuses(record, seeds)
    completed = [seed for seed, (status, _) in statuses.items() if status == COMPLETED]
    shortfalls = completeness.shortfalls(job_dir, config, completed)
    whole = [s for s in shortfalls if s.seed is None and s.file != BY_LENGTH_FILE]
    if whole:
        reason = str(whole[0]) if whole[0].file else f"{RUN_FILE}: {whole[0]}"
        log.warning("skipping %s: %s", job_dir, reason)
        job.skip(None, "damaged", reason)
        return
    short = {s.seed: s for s in shortfalls if s.file == METRICS_FILE}
    verdicts = {}
    for seed, (status, entry) in statuses.items():
        if status != COMPLETED:
            where = f" at epoch {entry['epoch']}" if entry and "epoch" in entry else ""
            why = (entry or {}).get("error") or record.get("error") or f"seed status is {status}"
            verdicts[seed] = ("failed", f"failed{where}: {why}")
        elif seed in short:
            verdicts[seed] = _short_seed(seed, metrics, config, str(short[seed]))
        else:
            verdicts[seed] = None
    job.used_seeds = [seed for seed, verdict in verdicts.items() if verdict is None]
    if len(seeds) > 1 and not job.used_seeds and len(set(verdicts.values())) == 1:
        # packed seeds that all failed for one reason are one line, not one per seed
        job.skip(None, *verdicts[seeds[0]])
    else:
        for seed, verdict in verdicts.items():
            if verdict is not None:
                job.skip(seed, *verdict)
    _read_by_length(job, job_dir, [s for s in shortfalls if s.file == BY_LENGTH_FILE])


def _short_seed(seed: int, metrics: pd.DataFrame, config: dict[str, Any], shortfall: str) -> tuple[str, str]:
    """(kind, reason) of a completed seed whose rows fall short: missing, cut short (partial) or damaged."""
    rows = metrics.loc[metrics["seed"] == seed]
    if rows.empty:
        return "missing", f"no rows for seed {seed} in {METRICS_FILE}"
    epochs = (config.get("train") or {}).get("epochs")
    for split in ("heldout", "train"):
        last = rows.loc[rows["split"] == split, "epoch"].max()
        if pd.isna(last):
            return "partial", f"no {split} rows"
        if last < epochs:
            return "partial", f"{split} rows end at epoch {last} of {epochs}"
    return "damaged", shortfall


def _read_by_length(job: Job, job_dir: Path, shortfalls: list[completeness.Shortfall]) -> None:
    """The by-length rows of the used seeds; when they fall short only the by-length table loses this job."""
    reasons = [str(shortfall) for shortfall in shortfalls if shortfall.seed in (None, *job.used_seeds)]
    try:
        job.by_length = read_by_length(job_dir / BY_LENGTH_FILE)
    except FileNotFoundError:
        pass
    except DamagedFileError as error:
        reasons = [str(error)]
    if reasons and job.used_seeds:
        reason = f"{reasons[0]} (by-length results of this job left out)"
        log.warning("ignoring %s: %s", job_dir / BY_LENGTH_FILE, reason)
        job.skip(None, "damaged" if (job_dir / BY_LENGTH_FILE).exists() else "missing", reason)
        job.by_length = None
