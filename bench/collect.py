"""The rules of a report's input: which jobs and seeds of the sweeps enter the analysis, and under what name.

Files are found by :mod:`bench.sweeps`, read by :mod:`bench.readers` and cross-checked by :mod:`bench.jobs`: a
file that cannot be trusted is skipped with a warning that names it, and the job (or seed) it belongs to is
listed in :attr:`Collection.problems` with the reason, so a report can say what it left out. So is every job
the sweep planned (its multirun.yaml) that has no folder: missing, or pending while the sweep still runs.

A seed enters the analysis (:attr:`Collection.metrics`) only when its job's ``run.json`` is readable, the
seed finished (its entry in ``seed_status`` says ``completed``, or the job says ``completed`` when there is no
such entry), and its rows are every row its config promises, with finite losses (:mod:`bench.jobs`). When the
same variant and seed appear in more than one job folder, the folder read last (sweeps in the order given, jobs
in numeric order) is used and the others are listed as duplicates. Runs of one variant with other settings are
named apart (:func:`bench.variants.labelled_variant`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.jobs import Job, problem, read_job
from bench.readers import value_at
from bench.store import LENGTH_COLUMNS, METRIC_COLUMNS
from bench.sweeps import SWEEP_FILE, scan
from bench.variants import labelled_variant

log = logging.getLogger(__name__)

PROBLEM_COLUMNS = ["run_dir", "seed", "kind", "reason"]

# Settings that make runs of one model differ beyond the seed, as paths in the resolved config, in the order a
# run's label names them; how a run executes (engine, device, XLA, threads) is left out, since the engines
# agree to 1e-4.
SETTING_PATHS = (
    ("model", "units"),
    ("data", "n_timesteps"),
    ("data", "min_timesteps"),
    ("data", "max_timesteps"),
    ("data", "threshold"),
    ("data", "heldout_size"),
    ("data", "evaluation_set"),
    ("train", "epochs"),
    ("train", "batch_size"),
    ("train", "learning_rate"),
    ("train", "eval_every"),
)
# setting name (the last key of its path) -> its path
SETTINGS = {path[-1]: path for path in SETTING_PATHS}

# Columns of the runs table taken from run.json: a setting from its path under config, any other from the
# top level. The settings keep the table's own order (training settings first), not their label order.
RECORD_COLUMNS = (
    "status",
    "variant",
    "engine",
    "device",
    "epochs",
    "eval_every",
    "batch_size",
    "learning_rate",
    "units",
    "n_timesteps",
    "min_timesteps",
    "max_timesteps",
    "threshold",
    "heldout_size",
    "evaluation_set",
    "config_hash",
    "wall_time_s",
    "ms_per_seed_epoch",
)
RUN_COLUMNS = ["run_dir", *RECORD_COLUMNS, "seeds", "n_seeds_used"]


@dataclass(frozen=True)
class Collection:
    """Everything read from the job folders.

    Attributes:
        results: every row of every readable metrics.csv, usable or not; columns METRIC_COLUMNS + run_dir.
        metrics: the rows of the seeds that enter the analysis, one job folder per (variant, seed); same
            columns.
        by_length: heldout_by_length.csv rows of those seeds; columns LENGTH_COLUMNS + run_dir.
        runs: one row per job folder: RUN_COLUMNS (run_dir, the RECORD_COLUMNS, seeds as space-separated
            text, n_seeds_used), then version_<library> columns.
        problems: one row per left-out job or seed: run_dir, seed (<NA> when the whole job), kind (missing,
            damaged, unreadable, failed, running, pending, interrupted, partial, duplicate), reason.
    """

    results: pd.DataFrame
    metrics: pd.DataFrame
    by_length: pd.DataFrame
    runs: pd.DataFrame
    problems: pd.DataFrame


def _record_path(column: str) -> tuple[str, ...]:
    return ("config", *SETTINGS[column]) if column in SETTINGS else (column,)


def _cell(value: Any) -> Any:
    # only plain values go into a table cell
    return value if isinstance(value, str | int | float | bool) or value is None else json.dumps(value)


def _runs_row(job: Job) -> dict[str, Any]:
    record = job.record or {}
    row: dict[str, Any] = {"run_dir": job.run_dir}
    row.update({column: _cell(value_at(record, _record_path(column))) for column in RECORD_COLUMNS})
    row["status"] = row["status"] or "unknown"
    row["seeds"] = " ".join(str(seed) for seed in record.get("seeds") or [])
    row["n_seeds_used"] = len(job.used_seeds)
    versions = record.get("versions") or {}
    row.update({f"version_{library}": str(versions[library]) for library in sorted(versions)})
    return row


def _tagged(frame: pd.DataFrame | None, job: Job, used_only: bool = False) -> pd.DataFrame:
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
    jobs: list[Job] = []
    unwritten: list[dict[str, Any]] = []
    for sweep_dir in sweep_dirs:
        sweep_jobs, sweep_unwritten = _read_sweep(Path(sweep_dir))
        jobs += sweep_jobs
        unwritten += sweep_unwritten
    _label_settings(jobs)

    # Later folders win when a (variant, seed) repeats, e.g. a sweep run again into a second folder.
    owner = {(_variant_of(job), seed): job for job in jobs for seed in job.used_seeds}
    for job in jobs:
        for seed in list(job.used_seeds):
            kept = owner[(_variant_of(job), seed)]
            if kept is not job:
                job.used_seeds.remove(seed)
                reason = f"{_variant_of(job)} seed {seed} is also in {kept.run_dir}, which is used instead"
                job.problems.append(problem(job.run_dir, seed, "duplicate", reason))

    results = _concat([_tagged(job.metrics, job) for job in jobs], METRIC_COLUMNS)
    used = _concat([_tagged(job.metrics, job, used_only=True) for job in jobs], METRIC_COLUMNS)
    used_by_length = _concat([_tagged(job.by_length, job, used_only=True) for job in jobs], LENGTH_COLUMNS)
    listed = [problem for job in jobs for problem in job.problems] + unwritten
    problems = pd.DataFrame(listed, columns=PROBLEM_COLUMNS)
    problems["seed"] = problems["seed"].astype("Int64")
    return Collection(
        results=results,
        metrics=used,
        by_length=used_by_length,
        runs=pd.DataFrame([_runs_row(job) for job in jobs], columns=None if jobs else RUN_COLUMNS),
        problems=problems,
    )


def _read_sweep(sweep_dir: Path) -> tuple[list[Job], list[dict[str, Any]]]:
    """The sweep's job folders as read, and a problem for each planned job that has no folder (yet).

    While the sweep still runs, jobs without results are "running" and jobs without a folder "pending".
    """
    found = scan(sweep_dir)
    jobs = [read_job(job_dir) for job_dir in found.jobs]
    unwritten = []
    present = {int(path.name) for path in [*found.jobs, *(path for path, _ in found.unreadable)] if path.name.isdigit()}
    for path, reason in found.unreadable:
        log.warning("skipping %s: %s", path, reason)
        unwritten.append(problem(str(path), None, "unreadable", reason))
    if found.planned is not None:
        planned = {num: f"job {num} ({' '.join(overrides)})" for num, overrides in enumerate(found.planned)}
        source = f"planned in {SWEEP_FILE}"
    else:  # without Hydra's record, a gap in the job numbers is all that shows a job is missing
        planned = {num: f"job {num}" for num in range(max(present, default=-1) + 1)}
        source = f"numbered below job {max(present, default=0)}"
    absent = [num for num in planned if num not in present]
    if found.in_use_by:
        for job in jobs:
            if job.record is None and all(listed["kind"] == "missing" for listed in job.problems):
                reason = f"no results yet: the sweep is still running ({found.in_use_by})"
                job.problems = [problem(job.run_dir, None, "running", reason)]
        running = sum(any(listed["kind"] == "running" for listed in job.problems) for job in jobs)
        log.warning(
            "%s is still being written by %s: %d job(s) still to come",
            sweep_dir,
            found.in_use_by,
            len(absent) + running,
        )
    for num in absent:
        if found.in_use_by:
            kind, reason = (
                "pending",
                f"{planned[num]} has not started yet: the sweep is still running ({found.in_use_by})",
            )
        else:
            kind, reason = (
                "missing",
                f"{planned[num]} is {source} but has no folder: it never ran, or its folder was deleted",
            )
        unwritten.append(problem(str(sweep_dir / str(num)), None, kind, reason))
    return jobs, unwritten


def _settings(job: Job) -> dict[str, Any]:
    return {name: value_at(job.record, _record_path(name)) for name in SETTINGS}


def _label_settings(jobs: list[Job]) -> None:
    """Names runs of one model with other settings apart: "forward [learning_rate=0.01]".

    Only settings that differ between the usable jobs appear in the label, so a sweep over variants and seeds
    keeps the plain variant names, and a sweep over, say, learning rates compares them like variants.
    """
    usable = [job for job in jobs if job.used_seeds]
    settings = [_settings(job) for job in usable]
    varying = [name for name in SETTINGS if len({repr(setting[name]) for setting in settings}) > 1]
    if not varying:
        return
    for job, setting in zip(usable, settings, strict=True):
        label = labelled_variant(_variant_of(job), {name: setting[name] for name in varying})
        if job.record is not None:
            job.record = {**job.record, "variant": label}
        for frame in (job.metrics, job.by_length):
            if frame is not None:
                frame["variant"] = label


def _variant_of(job: Job) -> str:
    """The variant of a job with used seeds (so with a run.json and metrics rows)."""
    # run.json without a variant name: the metrics rows name it
    return (job.record or {}).get("variant") or str(job.metrics["variant"].iloc[0])
