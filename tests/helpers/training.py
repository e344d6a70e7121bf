"""Training in this process, for tests of the engines' numbers."""

from __future__ import annotations

import pandas as pd

from bench.engines import Recorder, Timings, train
from bench.schema import seeds_of
from helpers.configs import make_config


def train_metrics(*overrides: str) -> tuple[pd.DataFrame, Recorder]:
    """Trains the config these overrides compose; returns its metrics rows and the recorder that holds them."""
    cfg = make_config(*overrides)
    recorder = Recorder(cfg, seeds_of(cfg))
    train(cfg, recorder, Timings(), lambda done, total: None)
    return recorder.metrics(), recorder


def train_losses(metrics: pd.DataFrame) -> pd.DataFrame:
    """Training loss by epoch (rows) and seed (columns)."""
    return metrics.query("split == 'train'").pivot(index="epoch", columns="seed", values="loss")
