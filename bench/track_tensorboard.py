"""TensorBoard: event files in each job folder, one scalar series per seed and split, and the HParams table.

A job folder gets ``tensorboard/seed-<seed>/`` per seed: an HParams session (the resolved config, the variant
and the seed) with ``train/`` and ``heldout/`` beneath it, each holding the scalars ``loss`` and ``accuracy`` with
the epoch as step, one value per row of metrics.csv. ``tensorboard --logdir <sweep folder>`` then overlays every
seed of every job, and the HParams tab has one row per seed with its final held-out values.

The folder is written beside its place and renamed into it, with ``logged_from.json`` naming the results it
holds, so a job logged already is not written again and a job run again replaces it whole. TensorBoard's own
writer is used, without TensorFlow.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from bench.tracking import Job, flatten

FOLDER = "tensorboard"
MARKER = "logged_from.json"


def _wall_time(iso_time: str | None) -> float:
    return datetime.fromisoformat(iso_time).timestamp() if iso_time else 0.0


def _write(folder: Path, events: list[event_pb2.Event]) -> None:
    writer = EventFileWriter(str(folder))
    for event in events:
        writer.add_event(event)
    writer.close()


def _scalars(rows: Any, wall_time: float) -> list[event_pb2.Event]:
    return [
        event_pb2.Event(
            wall_time=wall_time,
            step=int(epoch),
            summary=summary_pb2.Summary(
                value=[
                    summary_pb2.Summary.Value(tag="loss", simple_value=float(loss)),
                    summary_pb2.Summary.Value(tag="accuracy", simple_value=float(accuracy)),
                ]
            ),
        )
        for epoch, loss, accuracy in rows[["epoch", "loss", "accuracy"]].itertuples(index=False)
    ]


def _hparams(config: dict[str, Any], variant: str, seed: int) -> dict[str, Any]:
    """The session's hyperparameters: variant and seed first, then every config value that names the run."""
    values: dict[str, Any] = {"variant": variant, "seed": seed}
    for name, value in flatten(config).items():
        if name.split(".")[0] not in ("runtime", "tracking") and name not in ("seed", "n_seeds"):
            values.setdefault(name, "null" if value is None else value)
    return values


def log_job(settings: Any, job: Job) -> None:
    """Writes the job's event files (a folder per seed and split, and HParams), once per run."""
    record = job.record
    target = job.folder / FOLDER
    source = {"config_hash": record.get("config_hash"), "started_at": record.get("started_at")}
    marker = target / MARKER
    if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == source:
        return
    staging = job.folder / f".{FOLDER}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    wall_time = _wall_time(record.get("finished_at"))
    for seed, rows in job.metrics.groupby("seed"):
        session = staging / f"seed-{seed}"
        values = _hparams(record["config"], record["variant"], int(seed))
        start = _wall_time(record.get("started_at"))
        summary = hparams.hparams_pb(values, trial_id=f"{job.folder.name}/seed-{seed}", start_time_secs=start)
        _write(session, [event_pb2.Event(wall_time=start, summary=summary)])
        for split, split_rows in rows.groupby("split"):
            _write(session / split, _scalars(split_rows.sort_values("epoch"), wall_time))
    (staging / MARKER).write_text(json.dumps(source) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
