"""Configs as ``python -m bench.run`` composes them, and the settings of a quick run."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from bench.schema import register_configs
from bench.variants import CONFIG_VARIANTS, VARIANTS, variant_overrides

CONF = Path(__file__).resolve().parents[2] / "conf"
register_configs()

# The settings of a quick run: 20 epochs, held-out every 10, a small held-out set.
QUICK = ["train.epochs=20", "train.eval_every=10", "data.heldout_size=64"]
# Graph mode instead of XLA: for tests of what surrounds training, where XLA's compile would add seconds per job.
NO_XLA = "train.jit_compile=false"
# variant name -> the override that selects it, in report order: forward -> model=forward, ...
MODEL_OVERRIDES = {variant: f"model={config}" for config, variant in CONFIG_VARIANTS.items()}
# every variant of every cell -> the overrides that select it: bidirectional-sum-gru -> [model=bidirectional_sum,
# model.cell=gru]
CELL_OVERRIDES = {variant: variant_overrides(variant) for variant in VARIANTS}


def make_config(*overrides: str) -> DictConfig:
    """The composed config for these overrides, as ``python -m bench.run`` would see it."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("config", overrides=list(overrides))
