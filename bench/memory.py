"""How much memory a job needs, estimated from its sizes, so that settings that would not fit are refused up front.

A job that runs out of memory takes the machine's other work with it and ignores signals while NumPy allocates,
so the run or sweep checks every job before anything is written (see :mod:`bench.plan`).
"""

from __future__ import annotations

import psutil
from omegaconf import DictConfig, OmegaConf

from bench.data import extra_heldout_lengths
from bench.schema import ConfigError, Direction

# Memory a job needs besides its arrays: Python, TensorFlow and Keras once loaded (measured: about 0.7 GB).
BASE_BYTES = 800 * 2**20
# Bytes per value, measured as peak memory over sizes on CPU (see estimated_bytes).
HELDOUT_BYTES_PER_STEP = 24  # per seed, sequence and step of the held-out set: the set, its copy, predictions
SCORING_BYTES_PER_STEP = 44  # per sequence and step, once: float64 scoring of one seed's predictions
BATCH_BYTES_PER_STEP = 40  # per seed, epoch of a chunk, sequence and step: a chunk's training batches
ACTIVATION_BYTES = 160  # per seed, sequence, step, unit and direction: what the gradient keeps of one update


def estimated_bytes(cfg: DictConfig) -> dict[str, int]:
    """Peak memory of one job by part, estimated from its sizes (the constants above, measured on CPU).

    Returns:
        {"held-out set": ..., "training batches": ..., "activations": ..., "runtime": ...} in bytes.
    """
    seeds, steps = cfg.n_seeds, cfg.data.max_timesteps
    directions = 2 if Direction(cfg.model.direction) is Direction.bidirectional else 1
    chunk = min(cfg.train.eval_every, cfg.train.epochs)
    # each held-out length outside the training range has a set of its own
    other_steps = sum(extra_heldout_lengths(cfg.data.min_timesteps, cfg.data.max_timesteps, cfg.data.heldout_lengths))
    heldout = cfg.data.heldout_size * (steps + other_steps)
    batch = cfg.train.batch_size * steps
    return {
        "held-out set": heldout * (HELDOUT_BYTES_PER_STEP * seeds + SCORING_BYTES_PER_STEP),
        "training batches": BATCH_BYTES_PER_STEP * seeds * chunk * batch,
        "activations": ACTIVATION_BYTES * seeds * batch * cfg.model.units * directions,
        "runtime": BASE_BYTES,
    }


# The setting to name for each part of the estimate, and what else lowers it.
_REMEDIES = {
    "held-out set": ("data.heldout_size", ", data.heldout_lengths or n_seeds"),
    "training batches": ("train.batch_size", ", train.eval_every or n_seeds"),
    "activations": ("train.batch_size", ", model.units or n_seeds"),
    "runtime": ("n_seeds", ""),
}


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GB"


def check(configs: list[DictConfig], side_by_side: int) -> None:
    """Refuses jobs of which one, times the jobs run side by side, would not fit in the memory available now.

    Raises:
        ConfigError: naming the setting that takes most of the memory, the estimate and what is available.
    """
    available = psutil.virtual_memory().available
    for cfg in configs:
        parts = estimated_bytes(cfg)
        needed = sum(parts.values()) * side_by_side
        if needed > available:
            largest = max(parts, key=parts.get)
            key, others = _REMEDIES[largest]
            together = f" for {side_by_side} jobs side by side" if side_by_side > 1 else ""
            raise ConfigError(
                key,
                OmegaConf.select(cfg, key),
                f"the job would need about {_gb(needed)} of memory{together} ({largest} {_gb(parts[largest])}), "
                f"and {_gb(available)} is available; lower {key}{others}",
            )
