"""The plan of a run or sweep, from before its first write to its summary.

Before anything is written, every planned job is composed and checked (keys, ranges, memory with
:mod:`bench.memory`, device), the folder is locked for this process, and job folders that hold results of other
settings stop the sweep unless ``runtime.archive=true`` moves them aside. At the end a summary names what each job
came to. Hydra calls :class:`Guard` (``hydra.callbacks.guard`` in conf/config.yaml) in the process that starts the
run or sweep. ``python -m bench.plan OVERRIDES`` prints the folder ``python -m bench.run -m OVERRIDES`` writes to.
"""

# ruff: noqa: E402 - as a command, the libraries are imported after the signal handlers that cover their loading
from __future__ import annotations

from bench.loading import end_at_once_on_signals

if __name__ == "__main__":
    # the command only prints a folder: a signal at any moment ends it with one line
    end_at_once_on_signals(lambda name: f"bench.plan: interrupted by {name}")

import contextlib
import copy
import logging
import multiprocessing
import os
import socket
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from bench import display, memory, store, sweeps, tracking
from bench.schema import EXECUTION_ONLY, ConfigError, Device, config_hash, to_plain, validate
from bench.variants import variant_name

log = logging.getLogger("bench.run")

JOBS_ENV = "BENCH_SWEEP_JOBS"
SWEEP_FILE = sweeps.SWEEP_FILE


class OtherResults(Exception):
    """Job folders hold results of other settings that the run or sweep would overwrite; the message says which."""


class Stopped(BaseException):
    """Carries an error of :class:`Guard` to the command line: Hydra turns a callback's Exceptions into warnings."""


@dataclass
class Job:
    """One planned job: its number, folder and composed config (``hydra`` included)."""

    num: int
    folder: Path
    cfg: DictConfig

    @property
    def task(self) -> DictConfig:
        """The config the job itself sees: ``hydra`` left out, as Hydra hands it to the task."""
        task = copy.deepcopy(self.cfg)
        with read_write(task), open_dict(task):
            task.pop("hydra", None)
        return task


@dataclass
class Plan:
    """The run or sweep this process writes: its folder, jobs and lock."""

    folder: Path
    jobs: list[Job]
    multirun: bool
    lock: IO[str] | None = None
    summarised: bool = False


# The plan of this process; kept out of Guard, which Hydra hands to every worker.
_plan: Plan | None = None


def side_by_side(launcher: DictConfig, n_jobs_planned: int) -> int:
    """How many jobs the launcher ``hydra.launcher`` runs at once on this machine: joblib's n_jobs (-1 one per core,
    -2 all but one, as in joblib), at most one per job; all of them for submitit's local one; else 1."""
    target = str(OmegaConf.select(launcher, "_target_", default=""))
    if target.endswith("submitit_launcher.LocalLauncher"):
        return n_jobs_planned  # submitit runs every job at once on this machine
    n_jobs = OmegaConf.select(launcher, "n_jobs", default=None)
    if not n_jobs or "joblib" not in target:
        return 1
    if n_jobs < 0:
        # the cores this process may use (affinity, a container's limit), as joblib counts them for n_jobs < 0
        from joblib import cpu_count

        n_jobs = max(1, cpu_count() + 1 + n_jobs)
    return max(1, min(n_jobs, n_jobs_planned))


def _no_more_workers_than_jobs(config: DictConfig, workers: int) -> None:
    """joblib starts all of its workers at once: it gets as many as run side by side, no more.

    A worker that never gets a job costs memory, and it dies at once on a Ctrl-C, upon which loky kills the workers
    still recording their jobs (see :mod:`bench.signals`).
    """
    launcher = config.hydra.launcher
    if "joblib" in str(OmegaConf.select(launcher, "_target_", default="")) and launcher.get("n_jobs"):
        with read_write(launcher), open_dict(launcher):
            launcher.n_jobs = workers


def plan_jobs(config: DictConfig) -> list[Job]:
    """Every job of the sweep ``config`` describes, composed as the launcher will compose it."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().hydra.config_loader
    params = config.hydra.sweeper.get("params") or {}
    jobs = []
    for overrides in sweeps.job_overrides(params, list(config.hydra.overrides.task), loader):
        cfg = loader.load_sweep_config(config, overrides)
        with open_dict(cfg):
            cfg.hydra.job.num = len(jobs)
        jobs.append(Job(len(jobs), Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir), cfg))
    return jobs


def _check_folder_setting(key: str, value: Any) -> Path:
    text = str(value)
    if not text.strip():
        raise ConfigError(key, repr(text), "a folder to write to; an empty value would write into the current folder")
    folder = Path(text)
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise ConfigError(key, text, f"a folder; {existing} is a file")
    return folder


def _check_device(jobs: list[Job]) -> None:
    """device=gpu on a machine without a GPU is refused before anything is written (this imports TensorFlow)."""
    wants_gpu = [job for job in jobs if Device(job.cfg.device) is Device.gpu]
    if wants_gpu:
        from bench.engines import configure_tensorflow

        configure_tensorflow(wants_gpu[0].task)


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every setting that differs; how jobs run (runtime, tracking) is left out."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted((set(old) | set(new)) - (set(EXECUTION_ONLY) if not prefix else set()))
        return [line for key in keys for line in _differences(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old} -> {new}"]


def _foreign(job: Job) -> str | None:
    """Why ``job``'s folder holds results that this job would overwrite, or None."""
    if not job.folder.is_dir():
        return None
    record = store.read_run(job.folder)
    if record is None:
        return (
            "results whose settings are unknown (run.json is missing or unreadable)"
            if store.holds_results(job.folder)
            else None
        )
    task = job.task
    if record.get("config_hash") == config_hash(task) or not store.holds_results(job.folder):
        return None
    changed = _differences(record.get("config") or {}, to_plain(task)) or ["its config hash"]
    more = f"; {len(changed) - 3} more" if len(changed) > 3 else ""
    status = record.get("status")
    return f"a {f'{status} ' if isinstance(status, str) else ''}run of other settings ({'; '.join(changed[:3])}{more})"


def _unplanned(folder: Path, jobs: list[Job]) -> list[Path]:
    """Numbered job folders with a record or results that this sweep does not plan (an earlier sweep's)."""
    planned = {job.folder.name for job in jobs}
    unplanned = [child for child in folder.iterdir() if child.name.isdigit() and child.name not in planned]
    kept = [child for child in unplanned if (child / store.RUN_FILE).exists() or store.holds_results(child)]
    return sorted(kept, key=lambda child: int(child.name))


def _refuse_or_archive(plan: Plan, archive: bool) -> None:
    """Stops before training when job folders hold results of other settings, or archives them."""
    foreign = [(job.folder, why) for job in plan.jobs if (why := _foreign(job))]
    if plan.multirun:
        foreign += [
            (child, "results of a job this sweep does not plan") for child in _unplanned(plan.folder, plan.jobs)
        ]
    if not foreign:
        return
    if not archive:
        first, why = foreign[0]
        others = f", as do {len(foreign) - 1} more job folder(s)" if len(foreign) > 1 else ""
        setting = "hydra.sweep.dir" if plan.multirun else "hydra.run.dir"
        raise OtherResults(
            f"{first} holds {why}{others}; run into another folder ({setting}=...) or move the old results to "
            f"{plan.folder / store.ARCHIVE_DIR}/ with runtime.archive=true"
        )
    if plan.multirun:
        names = [folder.name for folder, _ in foreign]
        names += [name for name in (SWEEP_FILE, "report") if (plan.folder / name).exists()]
    else:
        names = [p.name for p in plan.folder.iterdir() if p.name not in (store.LOCK_FILE, store.ARCHIVE_DIR)]
    target = store.archive(plan.folder, names)
    log.warning("moved %s (results of other settings) to %s", ", ".join(names), target)


def start(config: DictConfig, multirun: bool) -> Plan:
    """Checks everything a run or sweep needs, then locks and prepares its folder.

    Raises:
        ConfigError: a bad value or too little memory; nothing written.
        OtherResults: results of other settings in the way (without runtime.archive=true); nothing written.
        FolderBusy: another process writes the folder; nothing written.
        OSError: the folder cannot be made or written.
    """
    global _plan
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    folder = _check_folder_setting(key, OmegaConf.select(config, key))
    if multirun:
        jobs = plan_jobs(config)
        folders: dict[Path, int] = {}
        for job in jobs:
            validate(job.cfg)
            other = folders.setdefault(job.folder, job.num)
            if other != job.num:
                raise ConfigError(
                    "hydra.sweep.subdir",
                    job.folder.name,
                    f"a folder of its own for each job; jobs {other} and {job.num} would both write to {job.folder}",
                )
            if job.folder.parent != folder:
                raise ConfigError(
                    key,
                    folder,
                    f"one folder for the whole sweep; job {job.num} would write to "
                    f"{job.folder.parent} (the folder must not depend on a swept setting)",
                )
    else:
        jobs = [Job(0, folder, config)]
        validate(config)
    workers = side_by_side(config.hydra.launcher, len(jobs))
    memory.check([job.cfg for job in jobs], workers)
    _check_device(jobs)
    _no_more_workers_than_jobs(config, workers)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        handle = store.lock(folder)
    except store.FolderBusy as busy:
        raise store.FolderBusy(f"{busy}; wait for it to end or choose another {key}") from None
    _plan = Plan(folder, jobs, multirun, handle)
    _refuse_or_archive(_plan, bool(config.runtime.archive))
    os.environ[JOBS_ENV] = str(len(jobs))
    return _plan


def in_worker() -> bool:
    """True in a joblib worker process (a loky process), which runs jobs for the process that owns the plan."""
    return multiprocessing.current_process().name.startswith("LokyProcess")


def settle() -> None:
    """Marks the plan's jobs that say ``running`` but whose process has ended as interrupted.

    Called when the run or sweep ends early; the lock guarantees that no other process runs these jobs.
    """
    for job in _plan.jobs if _plan else []:
        record = store.read_run(job.folder)
        if not running_here(record):
            continue
        pid = record.get("pid")
        # this process's own job has ended with the exception that brought it here
        if isinstance(pid, int) and pid != os.getpid() and psutil.pid_exists(pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.wait_procs([psutil.Process(pid)], timeout=5)
            if psutil.pid_exists(pid):
                continue
        # The job may have recorded its end after the first read, up to the moment its process ended: that
        # record, not the one read before, is the one to keep.
        record = store.read_run(job.folder)
        if not running_here(record):
            continue
        record.update(status=store.INTERRUPTED, error="its process ended before the job recorded its end")
        try:
            store.write_run(job.folder, record)
        except OSError:
            continue


def running_here(record: dict[str, Any] | None) -> bool:
    """True when ``record`` says its job is running, in a process of this machine."""
    return bool(record) and record.get("status") == store.RUNNING and record.get("host") == socket.gethostname()


def summarise() -> list[str]:
    """Logs what each job of the sweep came to, once; returns the failed jobs as 'num (variant: error)'."""
    if _plan is None or not _plan.multirun or _plan.summarised:
        return []
    _plan.summarised = True
    statuses: Counter[str] = Counter()
    failed = []
    for job in _plan.jobs:
        record = store.read_run(job.folder) or {}
        status = record.get("status") or "not run"
        statuses[status] += 1
        if status == store.FAILED:
            failed.append(f"{job.num} ({record.get('variant') or variant_name(job.cfg.model)}: {record.get('error')})")
    order = [*store.STATUSES, "not run"]
    counts = ", ".join(f"{statuses[s]} {s}" for s in order if statuses[s])
    log.info("sweep %s: %d job(s): %s", _plan.folder, len(_plan.jobs), counts)
    if failed:
        log.error("%d job(s) failed: %s", len(failed), "; ".join(failed))
    return failed


def current() -> Plan | None:
    """The plan of this process's run or sweep, once :func:`start` has made it."""
    return _plan


def folder() -> Path:
    """The folder of this process's run or sweep (the current folder before one starts)."""
    return _plan.folder if _plan else Path.cwd()


class Guard(Callback):
    """Hydra callback: :func:`start` before a run or sweep writes anything, the summary when a sweep ends."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._start(config, multirun=False)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        plan = self._start(config, multirun=True)
        if config.hydra.launcher._target_.endswith(".BasicLauncher"):  # jobs run in this process
            display.start_sweep(len(plan.jobs))
        params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
        try:
            tracking.start_sweep(config.tracking, plan.folder, " ".join([*params, *config.hydra.overrides.task]))
        except tracking.TrackingError as error:
            display.end_sweep()
            raise Stopped(error) from error

    @staticmethod
    def _start(config: DictConfig, multirun: bool) -> Plan:
        try:
            return start(config, multirun)
        except Exception as error:
            raise Stopped(error) from error

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        display.end_sweep()
        failed = summarise()
        try:
            tracking.end_sweep(config.tracking, Path(config.hydra.sweep.dir), failed=bool(failed))
        except tracking.TrackingError as error:
            print(f"bench.run: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        if failed:
            raise SystemExit(1)


def sweep_folder(overrides: list[str]) -> Path:
    """The folder ``python -m bench.run -m <overrides>`` writes to, composed the same way (nothing is run)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from bench.schema import register_configs

    register_configs()
    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(version_base="1.3", config_dir=str(conf)):
        cfg = GlobalHydra.instance().hydra.compose_config(
            "config", overrides, run_mode=RunMode.MULTIRUN, with_log_configuration=False
        )
        return Path(cfg.hydra.sweep.dir)


if __name__ == "__main__":
    # `python -m bench.plan <overrides>` prints the sweep's folder; the Makefile reports it after the sweep.
    print(sweep_folder(sys.argv[1:]))
