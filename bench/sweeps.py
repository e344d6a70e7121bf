"""Where the sweeps are: the job folders of a sweep, the jobs it planned, and the most recently written sweep.

A sweep folder is what Hydra's multirun writes: ``multirun.yaml`` (Hydra's record of the sweep, with the
overrides it was started with) and one numbered folder per job. A job folder holds ``.hydra/``, ``run.json`` or
``metrics.csv`` (see :mod:`bench.store`). The jobs a sweep plans are split from its overrides by Hydra's own
parser and BasicSweeper (:func:`job_overrides`), the same way the sweep itself and :mod:`bench.plan` split them,
so job number N is the N-th entry of that list.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from bench.store import LOCK_FILE, METRICS_FILE, RUN_FILE

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
        OSError: ``sweep_dir`` cannot be read.
    """
    return _entries(sweep_dir).jobs


@dataclass
class Scan:
    """What a sweep folder holds and what it planned.

    Attributes:
        jobs: the job folders, in job-number order.
        unreadable: numbered entries that cannot be read as job folders (a file, a broken link, no permission),
            each with why.
        planned: each planned job's overrides, by job number, from multirun.yaml; None when it does not say
            (no multirun.yaml, or one without Hydra's record of the overrides).
        in_use_by: who is still writing the sweep (a live holder of its lock on this host), or None.
    """

    jobs: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    planned: list[list[str]] | None = None
    in_use_by: str | None = None


def scan(sweep_dir: Path) -> Scan:
    """Reads a sweep folder's entries, multirun.yaml and lock (see :class:`Scan`); never raises for one entry.

    Raises:
        FileNotFoundError: ``sweep_dir`` is not a folder.
        OSError: ``sweep_dir`` itself cannot be read.
    """
    found = _entries(sweep_dir)
    if found.jobs != [sweep_dir]:
        found.planned, found.in_use_by = planned_jobs(sweep_dir), _live_holder(sweep_dir)
    return found


def _entries(sweep_dir: Path) -> Scan:
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep folder not found: {sweep_dir}")
    if any((sweep_dir / marker).exists() for marker in JOB_MARKERS):
        return Scan(jobs=[sweep_dir])
    found = Scan()
    for child in sorted(sweep_dir.iterdir(), key=_job_sort_key):
        try:
            if is_job_dir(child):
                found.jobs.append(child)
            elif child.name.isdigit():
                found.unreadable.append((child, _not_a_folder(child)))
        except OSError as error:
            found.unreadable.append((child, f"cannot read {error.filename or child}: {error.strerror or error}"))
    return found


def _not_a_folder(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return f"a link to {path.readlink()}, which does not exist, where a job folder should be"
    return "a file where a job folder should be" if path.exists() else "neither a file nor a folder"


def job_overrides(params: Mapping[str, Any], task: Sequence[str], config_loader: Any = None) -> list[list[str]]:
    """Each job's overrides, in job-number order, as Hydra's BasicSweeper splits a sweep.

    Args:
        params: ``hydra.sweeper.params`` (key -> value text), which come before ``task``, as BasicSweeper has it.
        task: the sweep's overrides (``hydra.overrides.task``).
        config_loader: Hydra's config loader, needed only for ``glob()`` sweeps of config groups.
    """
    # private: Hydra has no public way to expand a sweep into jobs, and the sweeper's own split keeps their numbers
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    lines = [*(f"{key}={value}" for key, value in params.items()), *task]
    overrides = OverridesParser.create(config_loader=config_loader).parse_overrides(lines)
    return [list(job) for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def planned_jobs(sweep_dir: Path) -> list[list[str]] | None:
    """The overrides of each job the sweep planned, from its multirun.yaml; None when that does not record them.

    Only sweeps whose job folders are named by job number (Hydra's default ``hydra.sweep.subdir``) are read.
    """
    from omegaconf import OmegaConf

    try:
        hydra = OmegaConf.to_container(OmegaConf.load(sweep_dir / SWEEP_FILE), resolve=False)["hydra"]
        task = hydra["overrides"]["task"]
        if hydra["sweep"]["subdir"] != "${hydra.job.num}":
            return None
        return job_overrides((hydra.get("sweeper") or {}).get("params") or {}, task)
    except Exception:  # a record that cannot be read or split plans nothing the report can check
        return None


def _is_sweep_dir(path: Path) -> bool:
    try:
        has_jobs = any(is_job_dir(child) for child in path.iterdir() if child.is_dir())
        return has_jobs or (path / SWEEP_FILE).is_file()
    except OSError:  # a folder that cannot be read is not the latest sweep
        return False


def _live_holder(sweep_dir: Path) -> str | None:
    """Who holds the sweep folder's lock, when that process runs on this host; None otherwise.

    The lock file names its holder (:func:`bench.store.lock`); a holder whose process has ended, or whose pid now
    belongs to a process started after the lock was taken, holds nothing. Holders on other hosts cannot be
    checked from here and count as ended.
    """
    try:
        holder = json.loads((sweep_dir / LOCK_FILE).read_text(encoding="utf-8"))
        pid, since = holder["pid"], datetime.fromisoformat(holder["started_at"]).timestamp()
        if holder["host"] != socket.gethostname() or psutil.Process(pid).create_time() > since + 1:
            return None
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return None
    return f"pid {pid} since {holder['started_at']}"


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
