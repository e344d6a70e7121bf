"""MLflow: a parent run per sweep, a run per job, a nested run per seed with its per-epoch metric histories.

- Sweep run: tags ``bench.kind=sweep`` and ``bench.sweep_dir``; a sweep run again into its folder reopens it.
- Job run (child of the sweep run): the resolved config as parameters; the variant, seeds, config hash, status,
  sweep and job folders as tags; the mean final held-out loss and accuracy over seeds and the timings as
  metrics; metrics.csv, heldout_by_length.csv and run.json as artifacts.
- Seed run (child of the job run): the same parameters with its own seed, and the metric histories
  ``train_loss``, ``train_accuracy``, ``heldout_loss`` and ``heldout_accuracy`` with the epoch as step, one
  value per row of metrics.csv.

Runs are found again by the tag ``bench.key`` (a digest of the job folder, config hash and start time), so a job
that is logged already is not logged again, and one whose logging broke off is replaced.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlflow.entities import Metric, Param, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from bench import store
from bench.tracking import Job, flatten

KIND, KEY = "bench.kind", "bench.key"
SWEEP, JOB, SEED = "sweep", "job", "seed"
# Artifacts beside an SQLite store, so that everything a sweep logs stays under one folder.
ARTIFACTS_FOLDER = "mlflow-artifacts"
STATUSES = {store.COMPLETED: "FINISHED", store.FAILED: "FAILED", store.INTERRUPTED: "KILLED"}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _client(settings: Any) -> tuple[MlflowClient, str]:
    """The client for ``tracking.uri`` and the id of ``tracking.experiment``, created when missing."""
    client = MlflowClient(tracking_uri=settings.uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    if experiment is not None:
        return client, experiment.experiment_id
    location = None
    parsed = urlparse(settings.uri)
    if parsed.scheme == "sqlite":
        database = Path(settings.uri.removeprefix("sqlite:///"))
        location = (database.resolve().parent / ARTIFACTS_FOLDER).as_uri()
    try:
        return client, client.create_experiment(settings.experiment, artifact_location=location)
    except MlflowException:  # another job of a parallel sweep created it first
        return client, client.get_experiment_by_name(settings.experiment).experiment_id


def _find(client: MlflowClient, experiment_id: str, **tags: str) -> list[Any]:
    query = " and ".join(f"tags.`{name}` = '{value}'" for name, value in tags.items())
    return client.search_runs([experiment_id], query, run_view_type=ViewType.ACTIVE_ONLY, max_results=1000)


def _sweep_run(client: MlflowClient, experiment_id: str, sweep_dir: Path) -> Any | None:
    runs = _find(client, experiment_id, **{KIND: SWEEP, KEY: _digest(str(sweep_dir.resolve()))})
    return runs[0] if runs else None


def start_sweep(settings: Any, sweep_dir: Path, description: str) -> None:
    """Opens the sweep's parent run, or marks the one a resumed sweep already has running."""
    client, experiment_id = _client(settings)
    existing = _sweep_run(client, experiment_id, sweep_dir)
    if existing is not None:
        client.update_run(existing.info.run_id, status="RUNNING")
        return
    tags = {
        KIND: SWEEP,
        KEY: _digest(str(sweep_dir.resolve())),
        "bench.sweep_dir": str(sweep_dir.resolve()),
        "bench.sweep": description,
    }
    client.create_run(experiment_id, tags=tags, run_name=sweep_dir.name)


def end_sweep(settings: Any, sweep_dir: Path, failed: bool) -> None:
    """Ends the sweep's parent run as finished, or failed when a job failed."""
    client, experiment_id = _client(settings)
    run = _sweep_run(client, experiment_id, sweep_dir)
    if run is not None:
        client.set_terminated(run.info.run_id, status="FAILED" if failed else "FINISHED")


def _milliseconds(iso_time: str | None) -> int | None:
    return int(datetime.fromisoformat(iso_time).timestamp() * 1000) if iso_time else None


def log_job(settings: Any, job: Job) -> None:
    """Copies a finished job folder into MLflow: one run per job, a nested run per seed."""
    client, experiment_id = _client(settings)
    key = _digest(job.key)
    earlier = _find(client, experiment_id, **{KEY: key})
    if any(run.data.tags.get(KIND) == JOB and run.info.status != "RUNNING" for run in earlier):
        return
    for run in earlier:  # logging that broke off part way: replace it whole
        client.delete_run(run.info.run_id)
    record = job.record
    variant, status = record["variant"], record["status"]
    params = {name: "null" if value is None else str(value) for name, value in flatten(record["config"]).items()}
    tags = {
        KIND: JOB,
        KEY: key,
        "bench.variant": variant,
        "bench.seeds": ",".join(map(str, record["seeds"])),
        "bench.config_hash": record["config_hash"],
        "bench.status": status,
        "bench.job_dir": str(job.folder.resolve()),
    }
    if job.sweep_dir is not None:
        tags["bench.sweep_dir"] = str(job.sweep_dir.resolve())
        parent = _sweep_run(client, experiment_id, job.sweep_dir)
        if parent is not None:
            tags[MLFLOW_PARENT_RUN_ID] = parent.info.run_id
    started, finished = _milliseconds(record.get("started_at")), _milliseconds(record.get("finished_at"))
    job_name = f"{job.folder.name} {variant}" if job.sweep_dir is not None else variant
    run_id = client.create_run(experiment_id, start_time=started, tags=tags, run_name=job_name).info.run_id
    final = job.metrics.query("split == 'heldout'").groupby("seed").tail(1)
    summary = {
        "final_heldout_loss": final["loss"].mean(),
        "final_heldout_accuracy": final["accuracy"].mean(),
        **{name: record.get(name) for name in ("wall_time_s", "ms_per_seed_epoch", "epochs_per_s")},
    }
    client.log_batch(
        run_id,
        metrics=[Metric(name, float(value), finished or 0, 0) for name, value in summary.items() if value is not None],
        params=[Param(name, value) for name, value in params.items()],
    )
    seed_status = record.get("seed_status") or {}
    for seed, rows in job.metrics.groupby("seed"):
        seed_tags = {**tags, KIND: SEED, MLFLOW_PARENT_RUN_ID: run_id, "bench.seed": str(seed)}
        seed_tags["bench.status"] = seed_status.get(str(seed), {}).get("status", status)
        seed_run = client.create_run(
            experiment_id, start_time=started, tags=seed_tags, run_name=f"{variant} seed {seed}"
        ).info.run_id
        histories = [
            Metric(f"{split}_{column}", float(value), finished or 0, int(epoch))
            for split, epoch, column, value in _long(rows)
        ]
        seed_params = [Param(name, value) for name, value in {**params, "seed": str(seed)}.items()]
        client.log_batch(seed_run, metrics=histories, params=seed_params)
        client.set_terminated(seed_run, status=STATUSES.get(seed_tags["bench.status"], "FAILED"), end_time=finished)
    for name in (store.METRICS_FILE, store.BY_LENGTH_FILE, store.RUN_FILE):
        if (job.folder / name).is_file():
            client.log_artifact(run_id, str(job.folder / name))
    client.set_terminated(run_id, status=STATUSES.get(status, "FAILED"), end_time=finished)


def _long(rows: Any) -> list[tuple[str, int, str, float]]:
    """metrics.csv rows of one seed as (split, epoch, loss|accuracy, value), in the file's order."""
    return [
        (split, epoch, column, value)
        for split, epoch, loss, accuracy in rows[["split", "epoch", "loss", "accuracy"]].itertuples(index=False)
        for column, value in (("loss", loss), ("accuracy", accuracy))
    ]
