"""Experiment tracking: copies what a job wrote into MLflow and TensorBoard (``tracking=mlflow|tensorboard``).

Trackers read the finished job folder (``run.json`` and ``metrics.csv``, see :mod:`bench.store`) after the job has
written it, so they can never change a result and cost nothing while a job trains. A tracker that cannot log
raises :class:`TrackingError` with one line, or with ``tracking.on_error=warn`` logs that line and lets the job
go on; the job folder is complete either way, and running the same command again logs what is missing (a
completed job is skipped, then logged; a job already logged is not logged twice).

The MLflow side lives in :mod:`bench.track_mlflow`, the TensorBoard side in :mod:`bench.track_tensorboard`;
neither imports TensorFlow.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench import store
from bench.schema import OnError

log = logging.getLogger(__name__)

# Trackers by their key in the tracking config, and the package each needs.
PACKAGES = {"mlflow": "mlflow", "tensorboard": "tensorboard"}


class TrackingError(RuntimeError):
    """A tracker could not log; the message is one line that names the tracker and why."""


@dataclass
class Job:
    """What a tracker reads from a finished job folder.

    ``record`` is run.json; ``metrics`` is metrics.csv (columns :data:`bench.store.METRIC_COLUMNS`);
    ``sweep_dir`` is the sweep folder the job belongs to, or None for a single run.
    """

    folder: Path
    record: dict[str, Any]
    metrics: pd.DataFrame
    sweep_dir: Path | None

    @property
    def key(self) -> str:
        """Names this job's results: the same folder, config and start time are the same rows."""
        return f"{self.folder.resolve()}|{self.record.get('config_hash')}|{self.record.get('started_at')}"


def enabled(settings: Any) -> list[str]:
    """The trackers switched on in the tracking config, e.g. ``["mlflow", "tensorboard"]``."""
    return [name for name in PACKAGES if settings[name]]


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as dotted keys: ``{"model": {"units": 20}}`` -> ``{"model.units": 20}``."""
    flat: dict[str, Any] = {}
    for name, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def read_job(folder: Path, sweep_dir: Path | None) -> Job | None:
    """The job folder's record and rows, or None when the job left no finished record to log."""
    record = store.read_run(folder)
    metrics_file = folder / store.METRICS_FILE
    if not record or record.get("status") not in (store.COMPLETED, store.FAILED) or not metrics_file.is_file():
        return None
    return Job(folder, record, pd.read_csv(metrics_file), sweep_dir)


def log_job(settings: Any, folder: Path, sweep_dir: Path | None = None) -> None:
    """Logs a completed or failed job folder to every enabled tracker (each at most once)."""
    names = enabled(settings)
    job = read_job(folder, sweep_dir) if names else None
    if job is None:
        return
    for name in names:
        _guarded(settings, name, lambda name=name: _module(name).log_job(settings, job))


def start_sweep(settings: Any, sweep_dir: Path, description: str) -> None:
    """Opens (or, when the sweep runs again, reopens) the sweep's parent run."""
    if settings.mlflow:
        _guarded(settings, "mlflow", lambda: _module("mlflow").start_sweep(settings, sweep_dir, description))


def end_sweep(settings: Any, sweep_dir: Path, failed: bool) -> None:
    """Closes the sweep's parent run as finished, or failed when a job failed."""
    if settings.mlflow:
        _guarded(settings, "mlflow", lambda: _module("mlflow").end_sweep(settings, sweep_dir, failed))


def _module(name: str) -> Any:
    if name == "mlflow":
        from bench import track_mlflow

        return track_mlflow
    from bench import track_tensorboard

    return track_tensorboard


def _guarded(settings: Any, name: str, action: Callable[[], None]) -> None:
    where = f" at {settings.uri}" if name == "mlflow" else ""
    try:
        action()
    except Exception as error:  # any failure of a tracker is reported the same way, in one line
        # SQLAlchemy appends the statement and a link to its message; the first sentence says what went wrong
        reason = re.split(r" \[SQL: | \(Background on this error", " ".join(str(error).split()))[0]
        message = f"tracking.{name}: could not log{where}: {type(error).__name__}: {reason[:300]}"
        if OnError(settings.on_error) is OnError.warn:
            log.warning("%s (tracking.on_error=warn: going on)", message)
            return
        raise TrackingError(
            f"{message} (the job folder is complete; run the same command again to log it, "
            "or pass tracking.on_error=warn)"
        ) from error
