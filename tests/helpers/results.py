"""Hand-made job folders with chosen numbers, laid out as the training side writes them.

A job folder gets ``.hydra/``, ``metrics.csv``, ``run.json`` and optionally ``heldout_by_length.csv``.
Curves are straight lines from a start value to a chosen final value, so a test knows every number the
report should find.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.store import LENGTH_COLUMNS, METRIC_COLUMNS
from bench.variants import VARIANT_MODELS


def identity(variant: str, seed: int) -> dict[str, Any]:
    """The identity columns of a variant's rows, from the schema's model of the variant.

    bidirectional-sum has direction bidirectional and merge sum. A name the schema does not know (a made-up
    variant such as "custom") is a one-direction model whose direction is that name.
    """
    model = VARIANT_MODELS.get(variant)
    if model is None:
        return {"variant": variant, "direction": variant, "merge": "", "aligned": True, "seed": seed}
    merge = "" if model.merge is None else model.merge.name
    return {
        "variant": variant,
        "direction": model.direction.name,
        "merge": merge,
        "aligned": model.aligned,
        "seed": seed,
    }


def outcome_rows(values: Mapping[str, Sequence[float]], metric: str = "final_accuracy") -> pd.DataFrame:
    """Per-seed outcomes as the statistics take them: variant -> one value per seed 0, 1, ... (NaN: no such seed).

    Returns:
        Columns variant, seed and ``metric``.
    """
    rows = [
        {"variant": variant, "seed": seed, metric: value}
        for variant, per_seed in values.items()
        for seed, value in enumerate(per_seed)
        if not np.isnan(value)
    ]
    return pd.DataFrame(rows)


def heldout_epochs(epochs: int, eval_every: int) -> list[int]:
    """Epoch 0, every eval_every epochs, and the last epoch."""
    return sorted({0, *range(eval_every, epochs + 1, eval_every), epochs})


def curve_rows(
    variant: str,
    seed: int,
    *,
    epochs: int = 20,
    eval_every: int = 5,
    final_accuracy: float = 0.9,
    final_loss: float = 0.3,
    start_accuracy: float = 0.6,
    start_loss: float = 0.7,
    last_epoch: int | None = None,
) -> pd.DataFrame:
    """metrics.csv rows of one seed: straight held-out curves from start to final values, noisy training rows.

    Args:
        variant: variant name.
        seed: the seed.
        epochs: the configured number of epochs (the held-out curve reaches its final values here).
        eval_every: held-out evaluation interval.
        final_accuracy, final_loss: held-out values at ``epochs``.
        start_accuracy, start_loss: held-out values at epoch 0.
        last_epoch: stop the rows here, as a seed that failed or was interrupted would.

    Returns:
        DataFrame with METRIC_COLUMNS: train rows for epochs 1..last_epoch, held-out rows at
        :func:`heldout_epochs` up to last_epoch.
    """
    stop = epochs if last_epoch is None else last_epoch
    rows = []
    for epoch in heldout_epochs(epochs, eval_every):
        if epoch > stop:
            break
        progress = epoch / epochs
        rows.append(
            {
                **identity(variant, seed),
                "epoch": epoch,
                "split": "heldout",
                "loss": start_loss + (final_loss - start_loss) * progress,
                "accuracy": start_accuracy + (final_accuracy - start_accuracy) * progress,
            }
        )
    noise = np.random.default_rng([seed, len(variant)]).uniform(-0.05, 0.05, size=stop)
    for epoch in range(1, stop + 1):
        progress = epoch / epochs
        rows.append(
            {
                **identity(variant, seed),
                "epoch": epoch,
                "split": "train",
                "loss": start_loss + (final_loss - start_loss) * progress + noise[epoch - 1],
                "accuracy": start_accuracy + (final_accuracy - start_accuracy) * progress,
            }
        )
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def by_length_rows(variant: str, seed: int, epoch: int, by_length: Mapping[int, float]) -> pd.DataFrame:
    """heldout_by_length.csv rows of one seed: length -> accuracy, 10 sequences each."""
    rows = [
        {
            **identity(variant, seed),
            "epoch": epoch,
            "length": length,
            "n_sequences": 10,
            "loss": 1 - accuracy,
            "accuracy": accuracy,
        }
        for length, accuracy in by_length.items()
    ]
    return pd.DataFrame(rows, columns=LENGTH_COLUMNS)


def run_record(
    variant: str,
    seeds: Sequence[int],
    *,
    epochs: int = 20,
    eval_every: int = 5,
    status: str = "completed",
    error: str | None = None,
    seed_status: Mapping[int, Mapping[str, Any]] | None = None,
    n_timesteps: int = 10,
    min_timesteps: int | None = None,
    max_timesteps: int | None = None,
    threshold: float = 0.25,
    heldout_size: int = 10,
) -> dict[str, Any]:
    """A run.json record; seed_status defaults to every seed having the job's status."""
    model = identity(variant, 0)
    statuses = {str(seed): {"status": status} for seed in seeds}
    statuses.update({str(seed): dict(entry) for seed, entry in (seed_status or {}).items()})
    return {
        "status": status,
        "error": error,
        "variant": variant,
        "seeds": list(seeds),
        "seed_status": statuses,
        "config": {
            "model": {
                "direction": model["direction"],
                "merge": model["merge"] or None,
                "aligned": model["aligned"],
                "units": 20,
            },
            "data": {
                "n_timesteps": n_timesteps,
                "min_timesteps": n_timesteps if min_timesteps is None else min_timesteps,
                "max_timesteps": n_timesteps if max_timesteps is None else max_timesteps,
                "threshold": threshold,
                "heldout_size": heldout_size,
            },
            "train": {"epochs": epochs, "batch_size": 1, "learning_rate": 0.001, "eval_every": eval_every},
            "seed": min(seeds) if seeds else 0,
            "n_seeds": len(seeds),
            "engine": "fast",
            "device": "cpu",
        },
        "config_hash": f"hash-{variant}",
        "engine": "fast",
        "device": "cpu",
        "versions": {"python": "3.11.9", "tensorflow": "2.21.0", "keras": "3.12.0", "numpy": "2.1.0"},
        "wall_time_s": 12.5,
        "startup_s": 3.0,
        "eval_s": 0.5,
        "ms_per_epoch": 1.25,
        "ms_per_seed_epoch": 1.25 / max(len(seeds), 1),
    }


def write_job(
    job_dir: Path,
    metrics: pd.DataFrame | None,
    record: Mapping[str, Any] | None,
    by_length: pd.DataFrame | None = None,
) -> Path:
    """Writes a job folder; a None part is left out, as when a job dies before writing it."""
    (job_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    (job_dir / ".hydra" / "config.yaml").write_text("seed: 0\n")
    if metrics is not None:
        metrics.to_csv(job_dir / "metrics.csv", index=False)
    if record is not None:
        (job_dir / "run.json").write_text(json.dumps(record, indent=2))
    if by_length is not None:
        by_length.to_csv(job_dir / "heldout_by_length.csv", index=False)
    return job_dir


def write_variant_job(
    job_dir: Path,
    variant: str,
    final_accuracy: Mapping[int, float],
    *,
    epochs: int = 20,
    eval_every: int = 5,
    lengths: Sequence[int] | None = None,
    **record_options: Any,
) -> pd.DataFrame:
    """One completed job with packed seeds: seed -> final held-out accuracy (final loss is 1 - accuracy).

    heldout_by_length.csv holds one row per length (10 sequences each) at every held-out epoch, with accuracy
    falling by 0.01 per step of length from the seed's final accuracy; with ``lengths``, the data has variable
    lengths over that range, otherwise its one length is ``n_timesteps`` (default 10).

    Returns:
        The metrics rows written.
    """
    metrics = pd.concat(
        [
            curve_rows(
                variant,
                seed,
                epochs=epochs,
                eval_every=eval_every,
                final_accuracy=accuracy,
                final_loss=1 - accuracy,
            )
            for seed, accuracy in final_accuracy.items()
        ],
        ignore_index=True,
    )
    if lengths is not None:
        record_options.update(min_timesteps=min(lengths), max_timesteps=max(lengths))
    else:
        lengths = [record_options.get("n_timesteps", 10)]
    record_options.setdefault("heldout_size", 10 * len(lengths))
    by_length = pd.concat(
        [
            by_length_rows(
                variant,
                seed,
                epoch,
                {length: accuracy - 0.01 * (length - min(lengths)) for length in lengths},
            )
            for seed, accuracy in final_accuracy.items()
            for epoch in heldout_epochs(epochs, eval_every)
        ],
        ignore_index=True,
    )
    record = run_record(variant, list(final_accuracy), epochs=epochs, eval_every=eval_every, **record_options)
    write_job(job_dir, metrics, record, by_length)
    return metrics


def write_sweep(
    sweep_dir: Path, final_accuracy: Mapping[str, Mapping[int, float]], **options: Any
) -> dict[str, pd.DataFrame]:
    """A sweep folder with multirun.yaml and one job per variant (jobs 0, 1, ...), see write_variant_job.

    Returns:
        variant -> the metrics rows written for it.
    """
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / "multirun.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
    return {
        variant: write_variant_job(sweep_dir / str(number), variant, finals, **options)
        for number, (variant, finals) in enumerate(final_accuracy.items())
    }


def add_other_lengths(sweep: Path, accuracy: Mapping[str, Mapping[int, float]]) -> None:
    """Adds held-out lengths never trained on to each job of a sweep written with lengths=[10] (epochs 20, every 5):
    variant -> length -> accuracy at the last epoch, 0.01 lower at every earlier evaluation, each plus 0.002 per
    seed; run.json's config then lists them in data.heldout_lengths."""
    for job in sorted(path for path in sweep.iterdir() if path.is_dir()):
        by_length = pd.read_csv(job / "heldout_by_length.csv")
        variant, last = by_length["variant"].iloc[0], by_length.iloc[[-1]]
        epochs = sorted(by_length["epoch"].unique())
        rows = [
            last.assign(
                seed=seed, epoch=epoch, length=length, accuracy=value - 0.01 * (epoch != epochs[-1]) + 0.002 * seed
            )
            for seed in by_length["seed"].unique()
            for length, value in accuracy[variant].items()
            for epoch in epochs
        ]
        pd.concat([by_length, *rows]).to_csv(job / "heldout_by_length.csv", index=False)
        record = json.loads((job / "run.json").read_text())
        record["config"]["data"]["heldout_lengths"] = sorted({*by_length["length"].tolist(), *accuracy[variant]})
        (job / "run.json").write_text(json.dumps(record))
