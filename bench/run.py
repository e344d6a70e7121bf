"""Run one configuration, or sweep many with ``-m``: ``python -m bench.run [-m] [overrides...]``.

Each job trains ``n_seeds`` seeds of one variant and writes its job folder (see :mod:`bench.store`). A job whose
folder already holds a completed run of the same config is skipped, so repeating a sweep resumes it.
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

# TensorFlow's C++ start-up chatter would bury the progress lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.experimental.callback import Callback  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from bench import display, store, tracking  # noqa: E402
from bench.engines import Recorder, Timings, train  # noqa: E402
from bench.schema import ConfigError, config_hash, register_configs, seeds_of, to_plain, validate, variant_name  # noqa: E402
from bench.slurm import SweepError  # noqa: E402

log = logging.getLogger("bench.run")
register_configs()

JOBS_ENV = "BENCH_SWEEP_JOBS"


class Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into an exception so the job can record itself as interrupted."""


def _raise_interrupted(signum: int, _frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


def library_versions() -> dict[str, str]:
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
    total = os.environ.get(JOBS_ENV, "?")
    return f"job {hydra_cfg.job.num + 1}/{total} | "


def run_job(cfg: DictConfig, folder: Path) -> dict[str, Any]:
    """Trains one job into ``folder`` and returns its run.json record.

    Raises:
        ConfigError: a bad value; nothing is written.
        KeyboardInterrupt: after recording the job as interrupted with the rows it had.
    """
    validate(cfg)
    digest = config_hash(cfg)
    variant = variant_name(cfg.model)
    seeds = seeds_of(cfg)
    prefix = _job_prefix() + f"{variant} seed{'s' if len(seeds) > 1 else ''} {_span(seeds)} | "
    if not cfg.runtime.rerun and store.is_completed(folder, digest):
        log.info("%scompleted earlier with the same config, skipped (runtime.rerun=true runs it again)", prefix)
        tracking.log_job(cfg.tracking, folder, _sweep_dir())
        return store.read_run(folder) or {}
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
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store.write_run(folder, record)
    recorder, timings = Recorder(cfg, seeds), Timings()
    started = time.perf_counter()
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupted)
    trained_to_end = False
    progress = Progress(cfg.runtime.progress_every_s, recorder, prefix, cfg.train.epochs)
    try:
        record["device"] = train(cfg, recorder, timings, progress)
        trained_to_end = True
        record["status"] = store.FAILED if recorder.failures else store.COMPLETED
        if recorder.failures:
            record["error"] = "; ".join(f"seed {s}: {f['error']}" for s, f in sorted(recorder.failures.items()))
    except ConfigError:
        (folder / store.RUN_FILE).unlink(missing_ok=True)
        raise
    except KeyboardInterrupt as interruption:
        record.update(status=store.INTERRUPTED, error=f"interrupted ({interruption or 'SIGINT'})")
        raise
    except Exception as error:  # a run that breaks must not take the sweep or its results with it
        log.exception("%sfailed", prefix)
        record.update(status=store.FAILED, error=f"{type(error).__name__}: {error}")
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        progress.close()
        if record["status"] != store.RUNNING:
            # Seeds that did not diverge finished whenever training itself ran to the end.
            finished = store.COMPLETED if trained_to_end else record["status"]
            record["seed_status"] = {str(s): recorder.failures.get(s, {"status": finished}) for s in seeds}
            wall = time.perf_counter() - started
            epochs = cfg.train.epochs
            record.update(
                wall_time_s=round(wall, 3),
                startup_s=round(timings.startup_s, 3),
                eval_s=round(timings.eval_s, 3),
                ms_per_epoch=timings.ms_per_epoch,
                ms_per_seed_epoch=timings.ms_per_seed_epoch,
                epochs_per_s=len(seeds) * epochs / wall if wall else None,
                finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            store.write_results(folder, recorder.metrics(), recorder.by_length())
            store.write_run(folder, record)
    _summarise(prefix, recorder, record)
    tracking.log_job(cfg.tracking, folder, _sweep_dir())
    return record


def _sweep_dir() -> Path | None:
    hydra_cfg = HydraConfig.get()
    return Path(hydra_cfg.sweep.dir) if hydra_cfg.mode == RunMode.MULTIRUN else None


def _span(seeds: list[int]) -> str:
    return str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"


def _summarise(prefix: str, recorder: Recorder, record: dict[str, Any]) -> None:
    final = recorder.metrics().query("split == 'heldout'").groupby("seed").tail(1)
    loss, accuracy = final["loss"], final["accuracy"]
    spread = f" (seeds range {accuracy.min():.4f}-{accuracy.max():.4f})" if len(final) > 1 else ""
    log.info(
        "%s%s | final held-out loss %.4f, accuracy %.4f%s | wall %.1f s (startup %.1f s, %.3f ms/epoch)",
        prefix,
        record["status"],
        loss.mean(),
        accuracy.mean(),
        spread,
        record["wall_time_s"],
        record["startup_s"],
        record["ms_per_epoch"],
    )
    if record["error"]:
        log.error("%s%s", prefix, record["error"])


def share_cores_between_workers(cfg: DictConfig, hydra_cfg: DictConfig) -> None:
    """With runtime.threads=0, gives each job its share of the cores when the launcher runs jobs side by side.

    joblib: cores // workers, n_jobs=-1 meaning one worker per core and -2 all but one (as in joblib).
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
        workers = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
        cfg.runtime.threads = max(1, cores // workers)
    elif given:
        cfg.runtime.threads = max(1, int(given))


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict[str, Any]:
    hydra_cfg = HydraConfig.get()
    share_cores_between_workers(cfg, hydra_cfg)
    try:
        record = run_job(cfg, Path(hydra_cfg.runtime.output_dir))
    except ConfigError as error:
        # SystemExit passes through Hydra's job runner untouched, so a sweep stops here with this one line.
        print(f"bench.run: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except tracking.TrackingError as error:
        print(f"bench.run: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    failed = record.get("status") == store.FAILED
    if failed and (hydra_cfg.mode != RunMode.MULTIRUN or cfg.runtime.fail_fast):
        raise SystemExit(1)
    return {"status": record.get("status")}


class SweepCallback(Callback):
    """Counts a sweep's jobs for the progress lines and, at the end, names failed jobs and exits non-zero."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
        overrides = OverridesParser.create().parse_overrides([*params, *config.hydra.overrides.task])
        batches = BasicSweeper.split_arguments(overrides, None)
        total = sum(len(batch) for batch in batches)
        os.environ[JOBS_ENV] = str(total)
        sweep_dir = Path(config.hydra.sweep.dir)
        if config.hydra.launcher._target_.endswith(".BasicLauncher"):  # jobs run in this process
            display.start_sweep(total)
        try:
            tracking.start_sweep(config.tracking, sweep_dir, " ".join([*params, *config.hydra.overrides.task]))
        except tracking.TrackingError as error:
            display.end_sweep()
            print(f"bench.run: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        stale = sorted(p.name for p in sweep_dir.glob("*") if p.name.isdigit() and int(p.name) >= total)
        if stale:
            log.warning(
                "%s holds job folders %s from an earlier, larger sweep; a report of this folder includes them",
                sweep_dir,
                ", ".join(stale),
            )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        display.end_sweep()
        sweep_dir = Path(config.hydra.sweep.dir)
        total = int(os.environ.get(JOBS_ENV, "0"))
        failed = []
        for run_file in sorted(sweep_dir.glob(f"*/{store.RUN_FILE}")):
            if not run_file.parent.name.isdigit() or int(run_file.parent.name) >= total:
                continue  # not a job of this sweep
            record = store.read_run(run_file.parent)
            if record and record.get("status") == store.FAILED:
                failed.append(f"{run_file.parent.name} ({record.get('variant')}: {record.get('error')})")
        try:
            tracking.end_sweep(config.tracking, sweep_dir, failed=bool(failed))
        except tracking.TrackingError as error:
            print(f"bench.run: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        if failed:
            log.error("%d job(s) failed: %s", len(failed), "; ".join(failed))
            raise SystemExit(1)


def _one_line(error: BaseException) -> str:
    """A composition or validation error as one line that names the key and what is allowed."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    cause = error.__cause__
    if isinstance(error, MissingConfigException) and error.options:
        group = (error.missing_cfg_file or "").split("/")[0]
        return f"{error.missing_cfg_file}: no such option; {group} is one of {', '.join(sorted(error.options))}"
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        return f"{cause.full_key}: {str(cause.msg).splitlines()[0]}"
    if isinstance(error, OmegaConfBaseException) and getattr(error, "full_key", None):
        return f"{error.full_key}: {str(error.msg).splitlines()[0]}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:3])


def cli() -> None:
    """Entry point: Hydra's own error printing is replaced by one line and a non-zero exit."""
    if os.environ.get("HYDRA_FULL_ERROR"):
        main()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Interrupted as interruption:
        print(f"bench.run: interrupted by {interruption}", file=sys.stderr)
        sys.exit(143)
    except KeyboardInterrupt:
        print("bench.run: interrupted", file=sys.stderr)
        sys.exit(130)
    except SweepError as error:  # jobs that a cluster ended without a result
        print(f"bench.run: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        if isinstance(error, ValueError) and str(error).startswith("Only one of --run, --multirun"):
            print(f"bench.run: {error} (leave out -m to print a sweep's config)", file=sys.stderr)
            sys.exit(2)
        if not isinstance(error, HydraException | OmegaConfBaseException):
            raise
        print(f"bench.run: {_one_line(error)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
