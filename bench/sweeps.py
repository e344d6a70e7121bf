"""Where the sweeps are: the job folders of a sweep, and the most recently written sweep under a folder.

A sweep folder is what Hydra's multirun writes: ``multirun.yaml`` and one numbered folder per job. A job
folder holds ``.hydra/``, ``run.json`` or ``metrics.csv`` (see :mod:`bench.store`).
"""

from __future__ import annotations

from pathlib import Path

from bench.store import METRICS_FILE, RUN_FILE

SWEEP_FILE = "multirun.yaml"
HYDRA_DIR = ".hydra"
# any of these makes a folder a job folder
JOB_MARKERS = (HYDRA_DIR, RUN_FILE, METRICS_FILE)


def is_job_dir(path: Path) -> bool:
    """True for a folder Hydra made for one job: it has .hydra/, run.json or metrics.csv, or a number name."""
    if not path.is_dir() or path.name.startswith("."):
        return False
    return path.name.isdigit() or any((path / marker).exists() for marker in JOB_MARKERS)


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
    if any((sweep_dir / marker).exists() for marker in JOB_MARKERS):
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
