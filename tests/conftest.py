"""Shared fixtures: composed configs and a runner for the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from bench.schema import register_configs

CONF = Path(__file__).resolve().parents[1] / "conf"
register_configs()


def make_config(*overrides: str):
    """The composed config for these overrides, as ``python -m bench.run`` would see it."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("config", overrides=list(overrides))


def run_cli(*args: str, cwd: Path, module: str = "bench.run", timeout: float = 600) -> subprocess.CompletedProcess:
    """Runs ``python -m <module> args`` in ``cwd`` and returns the finished process with text output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def small():
    """Overrides for a quick run: 20 epochs, held-out every 10, a small held-out set."""
    return ["train.epochs=20", "train.eval_every=10", "data.heldout_size=64"]
