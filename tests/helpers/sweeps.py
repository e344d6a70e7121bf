"""Running a sweep through the command line and reading its job folders back, for the launcher tests.

The sweeps train in graph mode (train.jit_compile=false): the launchers are what is tested, and XLA's compile would
add seconds to every job.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from helpers.cli import run_cli

# Each line of a job's log file (<job>/run.log) starts with the id of the process that ran the job.
LOG_PID = "hydra.job_logging.formatters.file.format='%(process)d %(message)s'"


def sweep(folder: Path, *overrides: str, timeout: float = 300) -> dict[int, dict]:
    """Runs ``python -m bench.run -m`` into ``folder``; returns each job's metrics, run.json and log pids by job num."""
    finished = run_cli("-m", *overrides, LOG_PID, f"hydra.sweep.dir={folder}", cwd=folder.parent, timeout=timeout)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return {int(job.name): read_job(job) for job in folder.iterdir() if job.name.isdigit()}


def read_job(folder: Path) -> dict:
    """A job folder's metrics (as a table and as bytes), run.json, log lines and the pids that logged them."""
    log_lines = (folder / "run.log").read_text().splitlines()
    return {
        "metrics": pd.read_csv(folder / "metrics.csv"),
        "metrics_bytes": (folder / "metrics.csv").read_bytes(),
        "run": json.loads((folder / "run.json").read_text()),
        "pids": {int(line.split(" ", 1)[0]) for line in log_lines if line[:1].isdigit()},
        "log": log_lines,
    }


def by_variant_and_seed(jobs: dict[int, dict]) -> pd.DataFrame:
    """Every job's metrics rows in one table, sorted by variant, seed, split and epoch."""
    metrics = pd.concat([job["metrics"] for job in jobs.values()])
    return metrics.sort_values(["variant", "seed", "split", "epoch"]).reset_index(drop=True)


def pid(job: dict) -> int:
    """The one process id that logged a job's lines."""
    (only,) = job["pids"]
    return only


def status(job: Path) -> str | None:
    """The status in a job folder's run.json, or None while it has none that can be read."""
    try:
        return json.loads((job / "run.json").read_text())["status"]
    except (OSError, ValueError):
        return None
