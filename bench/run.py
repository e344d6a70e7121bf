"""Run one configuration, or sweep many with ``-m``: ``python -m bench.run [-m] [overrides...]``.

Each job trains ``n_seeds`` seeds of one variant and writes its job folder (see :mod:`bench.store`). A job whose
folder already holds a completed run of the same config is skipped, so repeating a sweep resumes it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
import socket
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.loading import end_at_once_on_signals, interrupted

if __name__ == "__main__":
    # loading Hydra, pandas and the engines takes a second or two: a Ctrl-C then ends with one line, not a traceback
    end_at_once_on_signals(lambda name: f"bench.run: {interrupted(name)}")

# TensorFlow's C++ start-up chatter would bury the progress lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from bench import completeness, display, exits, plan, signals, store, sweeps, tracking  # noqa: E402
from bench.engines import Recorder, Timings, train  # noqa: E402
from bench.schema import ConfigError, config_hash, register_configs, seeds_of, to_plain, validate  # noqa: E402
from bench.variants import variant_name  # noqa: E402

log = logging.getLogger("bench.run")
register_configs()


def library_versions() -> dict[str, str]:
    """Python, the platform and the versions of the libraries that shape a run's numbers."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in (
        "tensorflow",
        "tensorflow-cpu",
        "keras",
        "numpy",
        "pandas",
        "scipy",
        "seaborn",
        "hydra-core",
        "omegaconf",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    versions["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "")
    return versions


class Progress:
    """A progress bar on a terminal (:mod:`bench.display`), redrawn at most every 0.1 s; elsewhere a log line at
    most every ``every_s`` seconds. Both show the last values when training ends."""

    def __init__(self, every_s: float, recorder: Recorder, prefix: str, epochs: int):
        self.recorder, self.prefix = recorder, prefix
        self.started = self.last = time.perf_counter()
        in_sweep = HydraConfig.get().mode == RunMode.MULTIRUN
        self.bar = display.job_bar(prefix.removesuffix(" | "), epochs, in_sweep)
        self.every_s = 0.1 if self.bar is not None else every_s

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.every_s and done < total:
            return
        self.last = now
        train_loss, accuracy = self.recorder.latest("train", "loss"), self.recorder.latest("heldout", "accuracy")
        if self.bar is not None:
            self.bar.update(done, total, f"train loss {train_loss:.4f} | held-out accuracy {accuracy:.4f}")
            return
        elapsed = now - self.started
        log.info(
            "%sepoch %d/%d | train loss %.4f | held-out accuracy %.4f | %.1f s elapsed, %.1f s left",
            self.prefix,
            done,
            total,
            train_loss,
            accuracy,
            elapsed,
            elapsed / done * (total - done),
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _job_prefix() -> str:
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return ""
    # the plan sets the total in the process that started the sweep, whose workers inherit it; Ray's workers do
    # not, and read it from the sweep's multirun.yaml, which Hydra's sweeper writes before any job starts
    total = os.environ.get(plan.JOBS_ENV)
    if total is None:
        planned = sweeps.planned_jobs(Path(hydra_cfg.sweep.dir))
        total = str(len(planned)) if planned else "?"
    return f"job {hydra_cfg.job.num + 1}/{total} | "


def run_job(cfg: DictConfig, folder: Path) -> dict[str, Any]:
    """Trains one job into ``folder`` and returns its run.json record.

    A job whose folder holds a completed run of the same config, with every file its config promises
    (:func:`bench.completeness.result_problems`), is skipped; one with damaged or missing files runs again.

    Raises:
        ConfigError: a bad value; nothing is written.
        KeyboardInterrupt: after recording the job as interrupted with the rows it had.
        StorageError: a file could not be written; the job is recorded as failed where run.json can be.
    """
    signals.raise_if_stopping()
    validate(cfg)
    digest = config_hash(cfg)
    variant = variant_name(cfg.model)
    seeds = seeds_of(cfg)
    prefix = _job_prefix() + f"{variant} seed{'s' if len(seeds) > 1 else ''} {_span(seeds)} | "
    removed = store.remove_temporaries(folder)
    if removed:
        log.info("%sremoved %d temporary file(s) that a stopped run left behind", prefix, len(removed))
    if not cfg.runtime.rerun and store.is_completed(folder, digest):
        problems = completeness.result_problems(folder, to_plain(cfg))
        if not problems:
            log.info("%scompleted earlier with the same config, skipped (runtime.rerun=true runs it again)", prefix)
            tracking.log_job(cfg.tracking, folder, _sweep_dir())
            return store.read_run(folder) or {}
        log.warning("%scompleted earlier, but %s; running it again", prefix, problems[0])
    record: dict[str, Any] = {
        "status": store.RUNNING,
        "error": None,
        "variant": variant,
        "seeds": seeds,
        "config": to_plain(cfg),
        "config_hash": digest,
        "engine": cfg.engine.name,
        "device": cfg.device.name,
        "overrides": list(HydraConfig.get().overrides.task),
        "versions": library_versions(),
        "cpu_count": os.cpu_count(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    recorder, timings = Recorder(cfg, seeds), Timings()
    started = time.perf_counter()
    trained_to_end = False
    try:
        store.write_run(folder, record)
    except OSError as error:
        raise exits.StorageError(exits.cannot_write(error, folder)) from None
    progress = Progress(cfg.runtime.progress_every_s, recorder, prefix, cfg.train.epochs)
    with signals.JobSignals() as job_signals:
        try:
            record["device"] = train(cfg, recorder, timings, job_signals.watching(progress))
            trained_to_end = True
            record["status"] = store.FAILED if recorder.failures else store.COMPLETED
            if recorder.failures:
                record["error"] = "; ".join(f"seed {s}: {f['error']}" for s, f in sorted(recorder.failures.items()))
        except ConfigError:
            (folder / store.RUN_FILE).unlink(missing_ok=True)
            raise
        except KeyboardInterrupt as interruption:
            record.update(status=store.INTERRUPTED, error=f"interrupted ({str(interruption) or 'SIGINT'})")
            raise
        except Exception as error:
            _record_failure(error, job_signals, record, prefix)
        finally:
            # From here on signals wait: the rows and the record are written whole.
            job_signals.hold()
            progress.close()
            if record["status"] != store.RUNNING:
                _finish(folder, record, recorder, timings, started, trained_to_end)
    _summarise(prefix, recorder, record)
    tracking.log_job(cfg.tracking, folder, _sweep_dir())
    return record


def _record_failure(error: Exception, job_signals: signals.JobSignals, record: dict[str, Any], prefix: str) -> None:
    """Records an error of training in ``record``: the job failed and the sweep goes on (a run that breaks must
    not take the sweep or its results with it), unless a signal came first, which a library turned into this
    error: then the job is interrupted and the signal raised."""
    if job_signals.received:
        interruption = signals.interruption(job_signals.received)
        record.update(status=store.INTERRUPTED, error=f"interrupted ({str(interruption) or 'SIGINT'})")
        raise interruption from error
    log.exception("%sfailed", prefix)
    record.update(status=store.FAILED, error=f"{type(error).__name__}: {error}")


def _sweep_dir() -> Path | None:
    hydra_cfg = HydraConfig.get()
    return Path(hydra_cfg.sweep.dir) if hydra_cfg.mode == RunMode.MULTIRUN else None


def _finish(
    folder: Path, record: dict[str, Any], recorder: Recorder, timings: Timings, started: float, trained_to_end: bool
) -> None:
    """Writes the job's rows and its final record; a write that fails marks the job failed where it can."""
    cfg, seeds = recorder.cfg, recorder.seeds
    # Seeds that did not diverge finished whenever training itself ran to the end.
    finished = store.COMPLETED if trained_to_end else record["status"]
    record["seed_status"] = {str(s): recorder.failures.get(s, {"status": finished}) for s in seeds}
    wall = time.perf_counter() - started
    record.update(
        wall_time_s=round(wall, 3),
        startup_s=round(timings.startup_s, 3),
        eval_s=round(timings.eval_s, 3),
        ms_per_epoch=timings.ms_per_epoch,
        ms_per_seed_epoch=timings.ms_per_seed_epoch,
        epochs_per_s=len(seeds) * cfg.train.epochs / wall if wall else None,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    try:
        store.write_results(folder, recorder.metrics(), recorder.by_length())
        store.write_run(folder, record)
    except OSError as error:
        reason = exits.cannot_write(error, folder)
        record.update(status=store.FAILED, error=reason)
        with contextlib.suppress(OSError):
            store.write_run(folder, record)
        raise exits.StorageError(reason) from None


def _span(seeds: list[int]) -> str:
    return str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"


def _summarise(prefix: str, recorder: Recorder, record: dict[str, Any]) -> None:
    final = recorder.metrics().query("split == 'heldout'").groupby("seed").tail(1)
    loss, accuracy = final["loss"], final["accuracy"]
    spread = f" (seeds range {accuracy.min():.4f}-{accuracy.max():.4f})" if len(final) > 1 else ""
    speed = record["ms_per_epoch"]
    # The first chunk of epochs includes building and compiling, so a run of one chunk has no steady epoch.
    pace = f"{speed:.3f} ms/epoch" if speed is not None and math.isfinite(speed) else "too short to time an epoch"
    log.info(
        "%s%s | final held-out loss %.4f, accuracy %.4f%s | wall %.1f s (startup %.1f s, %s)",
        prefix,
        record["status"],
        loss.mean(),
        accuracy.mean(),
        spread,
        record["wall_time_s"],
        record["startup_s"],
        pace,
    )
    if record["error"]:
        log.error("%s%s", prefix, record["error"])


def share_cores_between_workers(cfg: DictConfig, hydra_cfg: DictConfig) -> None:
    """With runtime.threads=0, gives each job its share of the cores when the launcher runs jobs side by side.

    joblib: cores // workers, the workers being those that run side by side (:func:`bench.plan.side_by_side`).
    submitit and Ray: the cores each job was given (launcher.cpus_per_task, launcher.ray.remote.num_cpus).
    TensorFlow sizes its thread pools to every core by default, so parallel workers would oversubscribe them.
    """
    if cfg.runtime.threads != 0:
        return
    cores = os.cpu_count() or 1
    n_jobs = OmegaConf.select(hydra_cfg, "launcher.n_jobs", default=None)
    given = OmegaConf.select(hydra_cfg, "launcher.cpus_per_task", default=None) or OmegaConf.select(
        hydra_cfg, "launcher.ray.remote.num_cpus", default=None
    )
    if n_jobs:
        planned = int(os.environ.get(plan.JOBS_ENV) or sys.maxsize)
        cfg.runtime.threads = max(1, cores // plan.side_by_side(hydra_cfg.launcher, planned))
    elif given:
        cfg.runtime.threads = max(1, int(given))


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict[str, Any]:
    """One job: the Hydra task that trains ``cfg`` into the job folder and returns its status."""
    hydra_cfg = HydraConfig.get()
    share_cores_between_workers(cfg, hydra_cfg)
    if plan.in_worker():
        signals.prepare_worker(Path(hydra_cfg.sweep.dir))
    try:
        record = run_job(cfg, Path(hydra_cfg.runtime.output_dir))
    except ConfigError as error:
        # SystemExit passes through Hydra's job runner untouched, so a sweep stops here with this one line.
        print(f"bench.run: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except tracking.TrackingError as error:
        print(f"bench.run: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    except exits.StorageError as error:
        # Stopped is no Exception, so Hydra's launchers do not go on to the next job.
        raise plan.Stopped(error) from None
    except KeyboardInterrupt as interruption:
        if plan.in_worker():
            # A joblib worker would go on to the next job: it ends here, its job recorded as interrupted.
            signals.end_worker(signals.exit_code(interruption), Path(hydra_cfg.sweep.dir))
        raise
    failed = record.get("status") == store.FAILED
    if failed and (hydra_cfg.mode != RunMode.MULTIRUN or cfg.runtime.fail_fast):
        raise SystemExit(1)
    return {"status": record.get("status")}


def cli() -> None:
    """Entry point: Hydra's own error printing is replaced by one line and a non-zero exit (:mod:`bench.exits`)."""
    signals.stop_on_signals()
    if os.environ.get("HYDRA_FULL_ERROR"):
        main()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"
    # A full disk fails every log line written to run.log; the one line below says why, without tracebacks.
    logging.raiseExceptions = False
    try:
        main()
    except SystemExit as done:
        if done.code == 1:  # runtime.fail_fast stopped the sweep at a failed job
            plan.summarise()
        raise
    except BaseException as error:
        ending = exits.ending(error)
        if ending is None:
            raise
        code, line = ending
        with signals.ending():
            if code != 2:
                plan.settle()
                plan.summarise()
            print(f"bench.run: {line}", file=sys.stderr)
        sys.exit(code)


if __name__ == "__main__":
    cli()
